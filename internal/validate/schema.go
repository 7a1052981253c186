package validate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/valvhq/valv/internal/problem"
)

// Limits on tenant schemas and the documents checked against them.
const (
	// maxSchemaSize is the largest schema accepted, in bytes of JSON.
	maxSchemaSize = 256 << 10
	// maxSchemaDepth is how deeply objects and arrays may nest in a schema.
	maxSchemaDepth = 64
	// maxDocumentDepth is how deeply objects and arrays may nest in a
	// document. It bounds the validator's recursion, which follows the
	// document.
	maxDocumentDepth = 128
	// maxFieldErrors is the most field errors reported for one document; a
	// document that is wrong everywhere gets a long enough list with this.
	maxFieldErrors = 100
)

// schemaURL is where a tenant schema is placed for compiling, and relative
// references resolve against schemaBase. Nothing is ever fetched from them
// (see noRemoteLoader); the .invalid top-level domain (RFC 2606) cannot
// resolve, so they cannot be mistaken for a real location. Messages strip
// them.
const (
	schemaBase = "https://schema.valv.invalid/"
	schemaURL  = schemaBase + "document.json"
)

// Schema is a compiled tenant schema for one document type. It is safe for
// concurrent use.
type Schema struct {
	compiled *jsonschema.Schema
}

// CompileSchema compiles a JSON Schema that a tenant registered for a
// document type. A schema without "$schema" is read as draft 2020-12;
// drafts 4, 6, 7 and 2019-09 may be named. Formats are asserted, and besides
// the standard ones a schema can use "personnummer", "samordningsnummer",
// "organisationsnummer", "iban", "bic", "bankgiro", "plusgiro" and "e164"
// (a phone number exactly as Phone returns it); "email" and "idn-email" are
// checked by Email.
//
// Compiling never reads a file or the network: a $ref or $schema that
// points outside the schema (other than to the standard meta-schemas, which
// are built into the library) is refused, so a schema cannot make the
// server fetch anything. Schemas larger than maxSchemaSize, nested deeper
// than maxSchemaDepth, or built so that one value would be checked more
// than maxEvaluationsPerValue times are refused too: a tenant's schema runs
// on every document it sends.
//
// Errors are *problem.Error values that say what is wrong with the schema.
func CompileSchema(raw []byte) (*Schema, error) {
	if len(raw) > maxSchemaSize {
		return nil, problem.New(problem.KindTooLarge, CodeSchemaTooLarge,
			fmt.Sprintf("A schema has at most %d KiB of JSON.", maxSchemaSize>>10))
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		msg := "The schema is not valid JSON."
		var syntax *json.SyntaxError
		if errors.As(err, &syntax) {
			msg = fmt.Sprintf("The schema is not valid JSON: %s at byte %d.", syntax, syntax.Offset)
		}
		return nil, problem.Wrap(err, problem.KindInvalid, CodeInvalidSchema, msg)
	}
	if jsonDepth(doc) > maxSchemaDepth {
		return nil, invalid(CodeInvalidSchema, fmt.Sprintf("A schema nests objects and arrays at most %d levels deep.", maxSchemaDepth))
	}
	c := newCompiler()
	if err := c.AddResource(schemaURL, doc); err != nil {
		return nil, compileProblem(err)
	}
	compiled, err := c.Compile(schemaURL)
	if err != nil {
		return nil, compileProblem(err)
	}
	if !withinEvaluationBudget(compiled) {
		return nil, invalid(CodeSchemaTooComplex, fmt.Sprintf(
			"The schema could check one value more than %d times: allOf, anyOf, oneOf or $ref fan out too much, "+
				"a $ref refers back to itself, or a recursive schema applies itself more than once to the same part "+
				"of a document. To choose between recursive alternatives, use if/then/else rather than oneOf or anyOf.",
			maxEvaluationsPerValue))
	}
	return &Schema{compiled: compiled}, nil
}

// newCompiler returns a compiler set up for tenant schemas. A compiler keeps
// the resources it loaded, so each schema gets its own.
func newCompiler() *jsonschema.Compiler {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.UseLoader(noRemoteLoader{})
	// Draft 2020-12 makes "format" an annotation only; tenants write it to
	// have it checked.
	c.AssertFormat()
	for _, f := range formats() {
		c.RegisterFormat(f)
	}
	return c
}

// errRemoteRef is what noRemoteLoader answers.
var errRemoteRef = errors.New("references outside the schema are not allowed")

// noRemoteLoader refuses every URL. The library's default loader reads
// file:// URLs, and others could be set up to fetch http(s): a tenant's
// schema must do neither. The standard meta-schemas are built into the
// library and do not reach the loader.
type noRemoteLoader struct{}

func (noRemoteLoader) Load(string) (any, error) { return nil, errRemoteRef }

// maxQuotedRef is how much of a refused reference is quoted back.
const maxQuotedRef = 200

// compileProblem turns an error from compiling into a problem for the
// schema's author. The schema is the tenant's configuration, not personal
// data, so its own text (a reference, a pattern) may be quoted back.
func compileProblem(err error) error {
	var load *jsonschema.LoadURLError
	if errors.As(err, &load) {
		ref := strings.TrimPrefix(load.URL, schemaBase) // a relative reference, as written
		if len(ref) > maxQuotedRef {
			ref = ref[:maxQuotedRef] + "..."
		}
		return problem.Wrap(err, problem.KindInvalid, CodeSchemaRemoteRef, fmt.Sprintf(
			"The schema refers to %q, outside itself. References must point inside the schema (for example #/$defs/name), "+
				"and $schema must name a standard draft.", ref))
	}
	var meta *jsonschema.SchemaValidationError
	if errors.As(err, &meta) {
		p := problem.Wrap(err, problem.KindInvalid, CodeInvalidSchema,
			"The schema does not follow the JSON Schema specification; the fields are locations in the schema.")
		var verr *jsonschema.ValidationError
		if errors.As(meta.Err, &verr) {
			p.Fields = fieldErrors(verr)
		}
		return p
	}
	msg := strings.ReplaceAll(strings.ReplaceAll(err.Error(), schemaURL, ""), schemaBase, "")
	return problem.Wrap(err, problem.KindInvalid, CodeInvalidSchema, "The schema is not valid: "+msg)
}

// Validate checks doc against the schema and returns what is wrong with it,
// one field error per problem (nil if doc is valid), sorted by field and
// capped at maxFieldErrors. doc MUST be a JSON value as decoded into an
// interface: map[string]any, []any, string, float64 or json.Number, bool or
// nil; decode with json.Decoder.UseNumber to keep large numbers exact.
//
// A field is a JSON pointer to the wrong value ("/lines/0/amount"; "" for
// the whole document). Messages never contain the value, only what the
// schema wants; field paths do contain the document's object keys.
func (s *Schema) Validate(doc any) []problem.FieldError {
	if jsonDepth(doc) > maxDocumentDepth {
		return []problem.FieldError{problem.Field("", CodeDocumentTooDeep,
			fmt.Sprintf("The document nests objects and arrays more than %d levels deep.", maxDocumentDepth))}
	}
	err := s.compiled.Validate(doc)
	if err == nil {
		return nil
	}
	var verr *jsonschema.ValidationError
	if !errors.As(err, &verr) {
		return []problem.FieldError{problem.Field("", CodeInvalidValue, "The document could not be checked.")}
	}
	return fieldErrors(verr)
}

// Check is Validate as an error: nil for a valid document, otherwise a
// problem of kind unprocessable (422) with code document_invalid and the
// field errors, which is how a refused document is reported to a client.
func (s *Schema) Check(doc any) error {
	fields := s.Validate(doc)
	if len(fields) == 0 {
		return nil
	}
	return &problem.Error{
		Kind:    problem.KindUnprocessable,
		Code:    CodeDocumentInvalid,
		Message: "The document does not match the schema of its type; see the fields.",
		Fields:  fields,
	}
}

// jsonDepth returns how deeply objects and arrays nest in v (0 for a
// scalar), or any number over maxDocumentDepth if they nest deeper: it does
// not descend further, so its own recursion stays bounded.
func jsonDepth(v any) int {
	return depthFrom(v, 0)
}

func depthFrom(v any, depth int) int {
	if depth > maxDocumentDepth {
		return depth
	}
	deepest := depth
	switch v := v.(type) {
	case map[string]any:
		for _, e := range v {
			deepest = max(deepest, depthFrom(e, depth+1))
		}
		deepest = max(deepest, depth+1)
	case []any:
		for _, e := range v {
			deepest = max(deepest, depthFrom(e, depth+1))
		}
		deepest = max(deepest, depth+1)
	}
	return deepest
}

// e164 accepts a phone number only in its E.164 form, "+46701234567": a
// schema that names the format wants the canonical form in the document.
func e164(s string) (string, error) {
	n, err := Phone(s)
	if err != nil {
		return "", err
	}
	if n != s {
		return "", invalid(CodePhoneFormat, "Write the phone number in E.164 form, + and digits only, as in +46701234567.")
	}
	return n, nil
}

// formats are the formats schemas can use beyond the standard ones. Each
// ignores values that are not strings, as JSON Schema requires, and returns
// the validator's *problem.Error, which fieldErrors passes on with its code.
func formats() []*jsonschema.Format {
	str := func(name string, check func(string) (string, error)) *jsonschema.Format {
		return &jsonschema.Format{Name: name, Validate: func(v any) error {
			s, ok := v.(string)
			if !ok {
				return nil
			}
			_, err := check(s)
			return err
		}}
	}
	// A format cannot be given a clock, so the century of a 10-digit
	// personnummer in a document is inferred from the time of the check.
	dated := func(check func(string, time.Time) (string, error)) func(string) (string, error) {
		return func(s string) (string, error) { return check(s, time.Now()) }
	}
	return []*jsonschema.Format{
		str("personnummer", dated(Personnummer)),
		str("samordningsnummer", dated(Samordningsnummer)),
		str("organisationsnummer", Organisationsnummer),
		str("iban", IBAN),
		str("bic", BIC),
		str("bankgiro", Bankgiro),
		str("plusgiro", Plusgiro),
		str("e164", e164),
		str("email", Email),
		str("idn-email", Email),
	}
}
