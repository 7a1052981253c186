package validate

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/valvhq/valv/internal/problem"
)

// fuzzNormaliser checks the invariants every validator keeps, whatever the
// input: no panic; an error is an invalid-kind problem with a code and a
// message that does not echo the input; and a normalised value normalises
// to itself.
//
// The echo check needs care: messages show examples ("+46 70 123 45 67"),
// and the fuzzer soon finds an input that is a piece of one. It is applied
// to inputs with six digits in a row, which no message has and which the
// identifiers worth protecting (personnummer, account and phone numbers) do.
func fuzzNormaliser(f *testing.F, fn func(string) (string, error), seeds ...string) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := fn(in)
		if err != nil {
			p, ok := err.(*problem.Error)
			if !ok || p.Kind != problem.KindInvalid || p.Code == "" || p.Message == "" {
				t.Fatalf("%q: error %#v is not an invalid-kind problem", in, err)
			}
			if hasDigitRun(in, 6) && strings.Contains(p.Message, strings.TrimSpace(in)) {
				t.Fatalf("%q: message echoes the input: %s", in, p.Message)
			}
			return
		}
		again, err := fn(got)
		if err != nil || again != got {
			t.Fatalf("%q: normalised %q gives %q, %v", in, got, again, err)
		}
	})
}

// hasDigitRun reports whether s has n ASCII digits in a row.
func hasDigitRun(s string, n int) bool {
	run := 0
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			run = 0
			continue
		}
		if run++; run >= n {
			return true
		}
	}
	return false
}

func FuzzIBAN(f *testing.F) {
	fuzzNormaliser(f, IBAN, append(ibanRegistryExamples[:10:10],
		"SE45 5000 0000 0583 9825 7466", "gb82west12345698765432", "GB82WEST12345698765431", "IQ01NBIQ850123456789012", "ſE45")...)
}

func FuzzBIC(f *testing.F) {
	fuzzNormaliser(f, BIC, "ESSESESS", "deutdeff500", "NDEA SE SS XXX", "ESSE5ESS")
}

func FuzzPersonnummer(f *testing.F) {
	fuzzNormaliser(f, personnummerAt(refDate),
		"19811218-9876", "811218-9876", "198112189876", "121212+1212", "000229-1230", "701063-2391", "19811218+9876")
}

func FuzzSamordningsnummer(f *testing.F) {
	fuzzNormaliser(f, samordningsnummerAt(refDate), "701063-2391", "19701063-2391", "7010632391", "811218-9876")
}

func FuzzOrganisationsnummer(f *testing.F) {
	fuzzNormaliser(f, Organisationsnummer, "556036-0793", "16556036-0793", "165560360793", "811218-9876")
}

func FuzzBankgiro(f *testing.F) {
	fuzzNormaliser(f, Bankgiro, "5050-1055", "50501055", "900-8004", "5050 1056")
}

func FuzzPlusgiro(f *testing.F) {
	fuzzNormaliser(f, Plusgiro, "909102-6", "90 91 92-7", "1-8", "123456789")
}

func FuzzEmail(f *testing.F) {
	fuzzNormaliser(f, Email,
		"anna@example.se", "Anna@EXÄMPLE.se", "anna@xn--exmple-cua.se", "a\u030asa@example.se", "用户@例子.广告",
		"Anna <anna@example.se>", "anna@example.se\u202e", "anna@[192.0.2.1]", "anna@exam\u00adple.se")
}

func FuzzPhone(f *testing.F) {
	fuzzNormaliser(f, Phone,
		"+46 70 123 45 67", "070-123 45 67", "0046 70 123 45 67", "+46 (0)70-123 45 67", "+1 (202) 555-0123", "+46 070")
}

func FuzzCustomerNumber(f *testing.F) {
	fuzzNormaliser(f, CustomerNumber, "K-1001", " kund 42 ", "A\u030arende", "K-\u202e1001", "a \u0301")
}

// FuzzCompileSchema checks that any bytes either compile or give a problem,
// never a panic, and that a compiled schema validates documents of every
// shape without panicking.
func FuzzCompileSchema(f *testing.F) {
	for _, s := range []string{
		invoiceSchema,
		`{}`, `true`, `false`, `{"type": 5}`, `{"pattern": "(a"}`,
		`{"$ref": "https://example.com/s.json"}`, `{"$ref": "#/$defs/a", "$defs": {"a": {"allOf": [{"$ref": "#/$defs/a"}]}}}`,
		`{"$schema": "http://json-schema.org/draft-07/schema#", "items": [{"format": "iban"}], "additionalItems": false}`,
		`{"$dynamicAnchor": "n", "properties": {"c": {"items": {"$dynamicRef": "#n"}}}}`,
		`{"if": {"required": ["a"]}, "then": {"properties": {"a": {"format": "personnummer"}}}, "else": {"minProperties": 2}}`,
		bombSchema(12),
	} {
		f.Add([]byte(s))
	}
	docs := []any{nil, true, 1.5, "19811218-9876", []any{1.0, "x", nil}, map[string]any{"a": map[string]any{"b": []any{}}}}
	f.Fuzz(func(t *testing.T, raw []byte) {
		s, err := CompileSchema(raw)
		if err != nil {
			p, ok := err.(*problem.Error)
			if !ok || p.Code == "" || p.Message == "" {
				t.Fatalf("error %#v is not a problem", err)
			}
			return
		}
		for _, doc := range docs {
			for _, fe := range s.Validate(doc) {
				if fe.Code == "" || fe.Message == "" || fe.Field != "" && !strings.HasPrefix(fe.Field, "/") {
					t.Fatalf("bad field error %+v", fe)
				}
			}
		}
	})
}

// FuzzValidate checks validation of any JSON document against a schema
// that uses every custom format.
func FuzzValidate(f *testing.F) {
	for _, s := range []string{
		`{"customer": {"personnummer": "19811218-9876"}, "lines": [{"amount": 1}]}`,
		`{"customer": {"personnummer": "19811218-9875", "email": "x"}, "payee": {"iban": "SE45"}, "lines": [{"amount": -1, "text": "a"}]}`,
		`[]`, `null`, `{"lines": [[[[]]]]}`,
	} {
		f.Add([]byte(s))
	}
	s, err := CompileSchema([]byte(invoiceSchema))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var doc any
		if json.Unmarshal(raw, &doc) != nil {
			return
		}
		for _, fe := range s.Validate(doc) {
			if fe.Code == "" || fe.Message == "" || fe.Field != "" && !strings.HasPrefix(fe.Field, "/") {
				t.Fatalf("bad field error %+v", fe)
			}
		}
	})
}
