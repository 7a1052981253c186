package einvoice

import (
	"bytes"
	"errors"
	"math/big"
	"reflect"
	"testing"

	"github.com/valvhq/valv/internal/problem"
)

// mustBeProblem fails unless err is a *problem.Error.
func mustBeProblem(t *testing.T, err error) {
	t.Helper()
	var p *problem.Error
	if !errors.As(err, &p) {
		t.Fatalf("error is %T, not a *problem.Error: %v", err, err)
	}
}

// FuzzFromUBL: FromUBL never panics and fails only with problems; what it
// accepts, ToUBL either refuses (it is stricter) or writes so that FromUBL
// reads back the same Invoice and ToUBL writes the same bytes again.
func FuzzFromUBL(f *testing.F) {
	for _, file := range fixtures(f, "*.xml") {
		f.Add(mustRead(f, file))
	}
	f.Add([]byte(`<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"/>`))
	f.Add([]byte(`<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		inv, err := FromUBL(data)
		if err != nil {
			mustBeProblem(t, err)
			return
		}
		x1, err := ToUBL(inv)
		if err != nil {
			mustBeProblem(t, err)
			return
		}
		inv2, err := FromUBL(x1)
		if err != nil {
			t.Fatalf("FromUBL(ToUBL(FromUBL(x))): %v\n%s", err, x1)
		}
		if !reflect.DeepEqual(inv, inv2) {
			t.Fatalf("round trip changed the invoice:\n%s", firstDiff(indentJSON(t, inv2), indentJSON(t, inv)))
		}
		x2, err := ToUBL(inv2)
		if err != nil || !bytes.Equal(x1, x2) {
			t.Fatalf("ToUBL is not stable: %v", err)
		}
	})
}

// FuzzDecodeJSON: DecodeJSON and Validate never panic and fail only with
// problems; an invoice they accept converts to UBL and back, and the UBL
// is a fixed point of ToUBL∘FromUBL.
func FuzzDecodeJSON(f *testing.F) {
	for _, file := range fixtures(f, "*.json") {
		f.Add(mustRead(f, file))
	}
	f.Add([]byte(`{"number":"1","lines":[{"quantity":"1e3"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		inv, err := DecodeJSON(data)
		if err != nil {
			mustBeProblem(t, err)
			return
		}
		if err := inv.Validate(); err != nil {
			mustBeProblem(t, err)
			return
		}
		x1, err := ToUBL(inv)
		if err != nil {
			t.Fatalf("Validate accepted what ToUBL refuses: %v", err)
		}
		inv2, err := FromUBL(x1)
		if err != nil {
			t.Fatalf("FromUBL(ToUBL(x)): %v\n%s", err, x1)
		}
		x2, err := ToUBL(inv2)
		if err != nil || !bytes.Equal(x1, x2) {
			t.Fatalf("ToUBL(FromUBL(ToUBL(x))) != ToUBL(x): %v", err)
		}
	})
}

// FuzzParseDecimal: a decimal that parses prints as a decimal that parses
// to the same value and scale, and equals the number big.Rat reads.
func FuzzParseDecimal(f *testing.F) {
	for _, s := range []string{"0", "1250.00", "-1500", "+007.50", ".5", "5.", "999999999999999999", "0.000000000000000001", "1e3", "--1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDecimal(s)
		if err != nil {
			return
		}
		again, err := ParseDecimal(d.String())
		if err != nil || again != d {
			t.Fatalf("%q → %q does not read back: %v", s, d.String(), err)
		}
		want, ok := new(big.Rat).SetString(s)
		if !ok || want.Cmp(d.Rat()) != 0 {
			t.Fatalf("%q: Rat() = %v, big.Rat reads %v", s, d.Rat(), want)
		}
	})
}

// FuzzParseDate: a date that parses prints exactly as it was written.
func FuzzParseDate(f *testing.F) {
	for _, s := range []string{"2024-02-29", "2023-02-29", "0001-01-01", "9999-12-31", "2024-1-01"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDate(s)
		if err != nil {
			return
		}
		if d.String() != s {
			t.Fatalf("%q prints as %q", s, d.String())
		}
	})
}
