package validate

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/valvhq/valv/internal/problem"
)

const invoiceSchema = `{
	"type": "object",
	"required": ["customer", "lines"],
	"additionalProperties": false,
	"properties": {
		"customer": {
			"type": "object",
			"required": ["personnummer"],
			"properties": {
				"personnummer": {"type": "string", "format": "personnummer"},
				"email": {"type": "string", "format": "email"},
				"phone": {"type": "string", "format": "e164"}
			}
		},
		"payee": {
			"type": "object",
			"properties": {
				"orgnr": {"type": "string", "format": "organisationsnummer"},
				"iban": {"type": "string", "format": "iban"},
				"bic": {"type": "string", "format": "bic"},
				"bankgiro": {"type": "string", "format": "bankgiro"},
				"plusgiro": {"type": "string", "format": "plusgiro"}
			}
		},
		"due": {"type": "string", "format": "date"},
		"status": {"enum": ["draft", "sent", "paid"]},
		"lines": {
			"type": "array",
			"minItems": 1,
			"items": {
				"type": "object",
				"required": ["amount"],
				"additionalProperties": false,
				"properties": {
					"amount": {"type": "number", "minimum": 0},
					"text": {"type": "string", "maxLength": 10, "pattern": "^[A-Z]"}
				}
			}
		}
	}
}`

func mustCompile(t *testing.T, raw string) *Schema {
	t.Helper()
	s, err := CompileSchema([]byte(raw))
	if err != nil {
		t.Fatalf("CompileSchema: %v", err)
	}
	return s
}

// decode decodes a document as the API would, numbers kept exact.
func decode(t testing.TB, raw string) any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("decode: %v", err)
	}
	return v
}

func TestSchemaValid(t *testing.T) {
	s := mustCompile(t, invoiceSchema)
	doc := decode(t, `{
		"customer": {"personnummer": "19811218-9876", "email": "anna@example.se", "phone": "+46701234567"},
		"payee": {"orgnr": "556036-0793", "iban": "SE45 5000 0000 0583 9825 7466", "bic": "ESSESESS",
			"bankgiro": "5050-1055", "plusgiro": "909102-6"},
		"due": "2025-06-30",
		"status": "sent",
		"lines": [{"amount": 100, "text": "Hyra"}, {"amount": 0.5}]
	}`)
	if errs := s.Validate(doc); errs != nil {
		t.Fatalf("Validate: %v", errs)
	}
	if err := s.Check(doc); err != nil {
		t.Fatalf("Check: %v", err)
	}
}

func TestSchemaFieldErrors(t *testing.T) {
	s := mustCompile(t, invoiceSchema)
	doc := decode(t, `{
		"customer": {"personnummer": "19811218-9875", "email": "Anna <anna@example.se>", "phone": "070-123 45 67"},
		"payee": {"orgnr": "811218-9876", "iban": "SE4550000000058398257467", "bic": "ESSE5ESS",
			"bankgiro": "5050-1056", "plusgiro": "909102-7"},
		"due": "2025-02-30",
		"status": "SECRETSTATUS",
		"colour": "SECRETCOLOUR",
		"lines": [
			{"amount": -5, "text": "SECRET TEXT THAT IS LONG"},
			{"text": "lowercasesecret"},
			{"amount": "SECRETAMOUNT", "note": "x"}
		]
	}`)
	got := s.Validate(doc)
	want := []problem.FieldError{
		{Field: "/colour", Code: "not_allowed"},
		{Field: "/customer/email", Code: CodeEmailFormat},
		{Field: "/customer/personnummer", Code: CodeInvalidLuhn},
		{Field: "/customer/phone", Code: CodePhoneFormat},
		{Field: "/due", Code: "invalid_format"},
		{Field: "/lines/0/amount", Code: "too_small"},
		{Field: "/lines/0/text", Code: "too_long"},
		{Field: "/lines/1/amount", Code: "required"},
		{Field: "/lines/1/text", Code: "pattern_mismatch"},
		{Field: "/lines/1/text", Code: "too_long"},
		{Field: "/lines/2/amount", Code: "wrong_type"},
		{Field: "/lines/2/note", Code: "not_allowed"},
		{Field: "/payee/bankgiro", Code: CodeInvalidLuhn},
		{Field: "/payee/bic", Code: CodeBICFormat},
		{Field: "/payee/iban", Code: CodeIBANChecksum},
		{Field: "/payee/orgnr", Code: CodeOrganisationsnummer},
		{Field: "/payee/plusgiro", Code: CodeInvalidLuhn},
		{Field: "/status", Code: "not_allowed_value"},
	}
	ignoreMessages := func(fs []problem.FieldError) []problem.FieldError {
		out := make([]problem.FieldError, len(fs))
		for i, f := range fs {
			out[i] = problem.FieldError{Field: f.Field, Code: f.Code}
		}
		return out
	}
	if diff := cmp.Diff(want, ignoreMessages(got)); diff != "" {
		t.Errorf("field errors (-want +got):\n%s", diff)
	}
	for _, f := range got {
		if f.Message == "" {
			t.Errorf("%s: empty message", f.Field)
		}
		for _, secret := range []string{"9875", "SECRET", "lowercasesecret", "Anna", "-5", "070-123", "2025-02-30", "ESSE5ESS", "811218"} {
			if strings.Contains(f.Message, secret) {
				t.Errorf("%s: message %q echoes the value %q", f.Field, f.Message, secret)
			}
		}
	}
	byField := map[string]string{}
	for _, f := range got {
		byField[f.Field+" "+f.Code] = f.Message
	}
	if m := byField["/lines/0/text too_long"]; m != "This must have at most 10 characters." {
		t.Errorf("maxLength message %q", m)
	}
	if m := byField["/lines/2/amount wrong_type"]; m != "This must be a number." {
		t.Errorf("type message %q", m)
	}

	err := s.Check(doc)
	p, ok := problem.As(err)
	if !ok || p.Kind != problem.KindUnprocessable || p.Code != CodeDocumentInvalid || len(p.Fields) != len(got) {
		t.Fatalf("Check = %v", err)
	}
	if p.Kind.Status() != 422 {
		t.Fatalf("status %d", p.Kind.Status())
	}
}

func TestSchemaRequiredAtRoot(t *testing.T) {
	s := mustCompile(t, invoiceSchema)
	got := s.Validate(decode(t, `{"lines": []}`))
	want := []problem.FieldError{
		{Field: "/customer", Code: "required", Message: "This field is required."},
		{Field: "/lines", Code: "too_few_items", Message: "This must have at least 1 items."},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if got := s.Validate(decode(t, `[]`)); len(got) != 1 || got[0].Field != "" || got[0].Code != "wrong_type" {
		t.Errorf("array document: %v", got)
	}
}

func TestSchemaPointerEscaping(t *testing.T) {
	s := mustCompile(t, `{"additionalProperties": {"type": "integer"}}`)
	got := s.Validate(decode(t, `{"a/b~c": "x"}`))
	if len(got) != 1 || got[0].Field != "/a~1b~0c" {
		t.Fatalf("got %v", got)
	}
}

func TestSchemaAlternatives(t *testing.T) {
	s := mustCompile(t, `{"properties": {
		"id": {"oneOf": [{"type": "string", "format": "personnummer"}, {"type": "string", "format": "organisationsnummer"}]},
		"n": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
		"x": {"not": {"const": "forbidden"}}
	}}`)
	got := s.Validate(decode(t, `{"id": "19811218-9875", "n": "1", "x": "forbidden"}`))
	want := []problem.FieldError{
		{Field: "/id", Code: "no_match", Message: "This does not match any of the forms the schema allows."},
		{Field: "/n", Code: "no_match", Message: "This does not match any of the forms the schema allows."},
		{Field: "/x", Code: "forbidden_match", Message: "This has a form the schema forbids."},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestSchemaTooManyErrors(t *testing.T) {
	s := mustCompile(t, `{"items": {"type": "string"}}`)
	doc := make([]any, 500)
	for i := range doc {
		doc[i] = float64(i)
	}
	got := s.Validate(doc)
	if len(got) != maxFieldErrors || got[len(got)-1].Code != CodeTooManyFieldErrors {
		t.Fatalf("got %d errors, last %v", len(got), got[len(got)-1])
	}
}

func TestSchemaDocumentDepth(t *testing.T) {
	s := mustCompile(t, `{}`)
	deep := strings.Repeat("[", maxDocumentDepth+1) + strings.Repeat("]", maxDocumentDepth+1)
	got := s.Validate(decode(t, deep))
	if len(got) != 1 || got[0].Code != CodeDocumentTooDeep {
		t.Fatalf("got %v", got)
	}
	ok := strings.Repeat("[", maxDocumentDepth) + strings.Repeat("]", maxDocumentDepth)
	if got := s.Validate(decode(t, ok)); got != nil {
		t.Fatalf("depth %d: %v", maxDocumentDepth, got)
	}
}

func TestSchemaDrafts(t *testing.T) {
	// Without $schema the draft is 2020-12: prefixItems is a keyword.
	s := mustCompile(t, `{"prefixItems": [{"type": "string"}]}`)
	if got := s.Validate([]any{1.0}); len(got) != 1 || got[0].Field != "/0" {
		t.Errorf("2020-12 prefixItems: %v", got)
	}
	// A schema may name an older draft, and formats are asserted there too.
	s = mustCompile(t, `{"$schema": "http://json-schema.org/draft-07/schema#", "items": [{"format": "iban"}]}`)
	if got := s.Validate([]any{"SE4550000000058398257467"}); len(got) != 1 || got[0].Code != CodeIBANChecksum {
		t.Errorf("draft-07 tuple items: %v", got)
	}
}

func TestCompileSchemaErrors(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		kind problem.Kind
		code string
	}{
		{"not JSON", `{"type": `, problem.KindInvalid, CodeInvalidSchema},
		{"bad JSON", `{"type": x}`, problem.KindInvalid, CodeInvalidSchema},
		{"trailing data", `{} {}`, problem.KindInvalid, CodeInvalidSchema},
		{"not a schema", `{"type": 5}`, problem.KindInvalid, CodeInvalidSchema},
		{"bad regex", `{"pattern": "(a"}`, problem.KindInvalid, CodeInvalidSchema},
		{"dangling ref", `{"$ref": "#/$defs/nothing"}`, problem.KindInvalid, CodeInvalidSchema},
		{"remote ref", `{"$ref": "https://example.com/schema.json"}`, problem.KindInvalid, CodeSchemaRemoteRef},
		{"file ref", `{"$ref": "file:///etc/passwd"}`, problem.KindInvalid, CodeSchemaRemoteRef},
		{"relative ref", `{"$ref": "other.json"}`, problem.KindInvalid, CodeSchemaRemoteRef},
		{"nested remote ref", `{"properties": {"a": {"$ref": "http://169.254.169.254/latest"}}}`, problem.KindInvalid, CodeSchemaRemoteRef},
		{"id then relative ref", `{"$id": "https://example.com/a/", "$ref": "b.json"}`, problem.KindInvalid, CodeSchemaRemoteRef},
		{"unknown $schema", `{"$schema": "https://example.com/my-meta"}`, problem.KindInvalid, CodeSchemaRemoteRef},
		{"too large", `{"description": "` + strings.Repeat("x", maxSchemaSize) + `"}`, problem.KindTooLarge, CodeSchemaTooLarge},
		{"too deep", strings.Repeat(`{"items": `, maxSchemaDepth) + `{}` + strings.Repeat(`}`, maxSchemaDepth), problem.KindInvalid, CodeInvalidSchema},
		{"self loop", `{"$defs": {"a": {"allOf": [{"$ref": "#/$defs/a"}]}}, "$ref": "#/$defs/a"}`, problem.KindInvalid, CodeSchemaTooComplex},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := CompileSchema([]byte(tt.raw))
			p, ok := problem.As(err)
			if s != nil || !ok || p.Kind != tt.kind || p.Code != tt.code {
				t.Fatalf("got %v, %v; want %s/%s", s, err, tt.kind, tt.code)
			}
			if strings.Contains(p.Message, "valv.invalid") {
				t.Errorf("message shows the internal URL: %s", p.Message)
			}
		})
	}
}

func TestCompileSchemaMetaErrorsHaveFields(t *testing.T) {
	_, err := CompileSchema([]byte(`{"properties": {"a": {"type": "strin"}}}`))
	p, _ := problem.As(err)
	if p == nil || len(p.Fields) == 0 || p.Fields[0].Field != "/properties/a/type" {
		t.Fatalf("got %v", err)
	}
}

// bombSchema returns a small schema whose $defs each apply the next twice to
// the same value: 2^n evaluations of one value.
func bombSchema(n int) string {
	var b strings.Builder
	b.WriteString(`{"$ref": "#/$defs/d0", "$defs": {`)
	for i := range n {
		fmt.Fprintf(&b, `"d%d": {"anyOf": [{"$ref": "#/$defs/d%d"}, {"$ref": "#/$defs/d%d", "type": "string"}]}, `, i, i+1, i+1)
	}
	fmt.Fprintf(&b, `"d%d": {"type": "string"}}}`, n)
	return b.String()
}

func TestCompileSchemaRefusesBombs(t *testing.T) {
	start := time.Now()
	for _, raw := range []string{
		bombSchema(40),
		// The same with a recursive schema: each level of the document
		// triples the evaluations of the level below.
		`{"$defs": {
			"node": {"properties": {"a": {"$ref": "#/$defs/node"}}, "allOf": [{"$ref": "#/$defs/e"}, {"$ref": "#/$defs/e"}]},
			"e": {"properties": {"a": {"$ref": "#/$defs/node"}}}
		}, "$ref": "#/$defs/node"}`,
	} {
		_, err := CompileSchema([]byte(raw))
		if p, ok := problem.As(err); !ok || p.Code != CodeSchemaTooComplex {
			t.Errorf("got %v, want %s", err, CodeSchemaTooComplex)
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("refusing took %v", d)
	}
	// A small fan-out is fine.
	mustCompile(t, bombSchema(5))
}

// TestCompileSchemaRecursiveUnions checks the line between a recursive union
// whose cost doubles with every level of the document (oneOf evaluates
// both alternatives, and both recurse: measured, 4 s at depth 18) and the
// same union written with if/then/else, where one branch runs.
func TestCompileSchemaRecursiveUnions(t *testing.T) {
	const withOneOf = `{"$ref": "#/$defs/node", "$defs": {"node": {"oneOf": [
		{"properties": {"kind": {"const": "a"}, "children": {"items": {"$ref": "#/$defs/node"}}}},
		{"properties": {"kind": {"const": "b"}, "children": {"items": {"$ref": "#/$defs/node"}}}}
	]}}}`
	const withIf = `{"$ref": "#/$defs/node", "$defs": {"node": {
		"if": {"properties": {"kind": {"const": "a"}}},
		"then": {"properties": {"kind": {"const": "a"}, "children": {"items": {"$ref": "#/$defs/node"}}}},
		"else": {"properties": {"kind": {"const": "b"}, "children": {"items": {"$ref": "#/$defs/node"}}}}
	}}}`
	if _, err := CompileSchema([]byte(withOneOf)); err == nil || err.(*problem.Error).Code != CodeSchemaTooComplex {
		t.Errorf("oneOf union: %v", err)
	}
	s := mustCompile(t, withIf)
	depth := 60
	doc := decode(t, strings.Repeat(`{"kind": "b", "children": [`, depth)+`{"kind": "c"}`+strings.Repeat(`]}`, depth))
	start := time.Now()
	got := s.Validate(doc)
	if time.Since(start) > time.Second {
		t.Errorf("validating took %v", time.Since(start))
	}
	if len(got) != 1 || got[0].Code != "not_allowed_value" || !strings.HasSuffix(got[0].Field, "/children/0/kind") {
		t.Errorf("got %v", got)
	}
}

// TestCompileSchemaStandardMetaSchemas checks that a schema may refer to the
// standard meta-schemas (built in, not fetched), for a field that holds a
// schema.
func TestCompileSchemaStandardMetaSchemas(t *testing.T) {
	for _, ref := range []string{"https://json-schema.org/draft/2020-12/schema", "http://json-schema.org/draft-07/schema#"} {
		s := mustCompile(t, `{"properties": {"schema": {"$ref": "`+ref+`"}}}`)
		if got := s.Validate(decode(t, `{"schema": {"type": 5}}`)); len(got) == 0 {
			t.Errorf("%s: invalid schema accepted", ref)
		}
	}
}

func TestSchemaRecursive(t *testing.T) {
	// A document tree: sections hold paragraphs and sections.
	s := mustCompile(t, `{
		"$ref": "#/$defs/section",
		"$defs": {
			"section": {
				"type": "object",
				"required": ["title"],
				"properties": {
					"title": {"type": "string"},
					"children": {"type": "array", "items": {"oneOf": [{"$ref": "#/$defs/section"}, {"$ref": "#/$defs/paragraph"}]}}
				}
			},
			"paragraph": {"type": "object", "required": ["text"], "properties": {"text": {"type": "string"}}, "additionalProperties": false}
		}
	}`)
	doc := decode(t, `{"title": "1", "children": [{"text": "a"}, {"title": "1.1", "children": [{"text": "b"}, {"text": 2}]}]}`)
	got := s.Validate(doc)
	// Only the section alternative fits /children/1, and only the paragraph
	// fits /children/1/children/1, so the error is reported where it is.
	if len(got) != 1 || got[0].Field != "/children/1/children/1/text" || got[0].Code != "wrong_type" {
		t.Fatalf("got %v", got)
	}
}

func TestSchemaConcurrent(t *testing.T) {
	s := mustCompile(t, invoiceSchema)
	doc := decode(t, `{"customer": {"personnummer": "811218-9876"}, "lines": [{"amount": 1}]}`)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				if errs := s.Validate(doc); errs != nil {
					t.Errorf("Validate: %v", errs)
					return
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkSchemaValidate(b *testing.B) {
	s, err := CompileSchema([]byte(invoiceSchema))
	if err != nil {
		b.Fatal(err)
	}
	doc := decode(b, `{"customer": {"personnummer": "811218-9876", "email": "anna@example.se"},
		"payee": {"iban": "SE4550000000058398257466"}, "lines": [{"amount": 100, "text": "Hyra"}, {"amount": 1}]}`)
	for b.Loop() {
		if errs := s.Validate(doc); errs != nil {
			b.Fatal(errs)
		}
	}
}
