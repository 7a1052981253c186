package einvoice

import (
	"encoding/json"
	"math/big"
	"testing"
)

func TestParseDecimal(t *testing.T) {
	tests := []struct {
		in, out string
		scale   int
	}{
		{"0", "0", 0},
		{"1250.00", "1250.00", 2},
		{"-1500", "-1500", 0},
		{"+007.50", "7.50", 2},
		{".5", "0.5", 1},
		{"5.", "5", 0},
		{"-0.00", "0.00", 2},
		{"0.000000000000000001", "0.000000000000000001", 18},
		{"999999999999999999", "999999999999999999", 0},
		{"-99999999999999999.9", "-99999999999999999.9", 1},
		{"000000000000000000001", "1", 0}, // leading zeros are not significant
	}
	for _, tt := range tests {
		d, err := ParseDecimal(tt.in)
		if err != nil {
			t.Errorf("ParseDecimal(%q): %v", tt.in, err)
			continue
		}
		if d.String() != tt.out || d.Scale() != tt.scale || !d.IsSet() {
			t.Errorf("ParseDecimal(%q) = %q scale %d, want %q scale %d", tt.in, d.String(), d.Scale(), tt.out, tt.scale)
		}
		if again, err := ParseDecimal(d.String()); err != nil || again != d {
			t.Errorf("ParseDecimal(%q).String() does not read back: %v", tt.in, err)
		}
	}
	for _, bad := range []string{"", "-", "+", ".", "1.2.3", "1,5", "1e3", " 1", "1 ", "0x10", "NaN", "Inf", "١", "1_000",
		"1234567890123456789", "0.0000000000000000001", "--1"} {
		if _, err := ParseDecimal(bad); err == nil {
			t.Errorf("ParseDecimal(%q) accepted", bad)
		}
	}
}

func TestDecimalCmp(t *testing.T) {
	d := MustParseDecimal
	if d("25").Cmp(d("25.000")) != 0 || d("25") == d("25.000") {
		t.Error("25 and 25.000 are equal numbers but differently written")
	}
	if d("-1").Cmp(d("0.5")) != -1 || d("0.51").Cmp(d("0.5")) != 1 || (Decimal{}).Cmp(d("0.00")) != 0 {
		t.Error("Cmp")
	}
	if d("999999999999999999").Cmp(d("0.000000000000000001")) != 1 {
		t.Error("Cmp across scales")
	}
	if got := d("-12.345").Rat(); got.Cmp(big.NewRat(-12345, 1000)) != 0 {
		t.Errorf("Rat = %v", got)
	}
}

func TestDecimalJSON(t *testing.T) {
	var v struct {
		A Decimal `json:"a"`
		B Decimal `json:"b,omitzero"`
	}
	if err := json.Unmarshal([]byte(`{"a":"1250.00"}`), &v); err != nil || v.A.String() != "1250.00" || v.B.IsSet() {
		t.Fatalf("%v %+v", err, v)
	}
	out, _ := json.Marshal(v)
	if string(out) != `{"a":"1250.00"}` {
		t.Errorf("Marshal = %s", out)
	}
	for _, bad := range []string{`{"a":1250.00}`, `{"a":"1,5"}`, `{"a":true}`} {
		if err := json.Unmarshal([]byte(bad), &v); err == nil {
			t.Errorf("Unmarshal(%s) accepted", bad)
		}
	}
}

func TestRound2(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"0.005", "0.01"}, {"-0.005", "-0.01"}, {"0.0049", "0.00"}, {"331.25", "331.25"}, {"45.5256", "45.53"}, {"-2.675", "-2.68"},
	} {
		r, _ := new(big.Rat).SetString(tt.in)
		w, _ := new(big.Rat).SetString(tt.want)
		if got := round2(r); got.Cmp(w) != 0 {
			t.Errorf("round2(%s) = %s, want %s", tt.in, got.FloatString(2), tt.want)
		}
	}
}

func TestParseDate(t *testing.T) {
	for _, ok := range []string{"2024-02-29", "0001-01-01", "9999-12-31"} {
		d, err := ParseDate(ok)
		if err != nil || d.String() != ok {
			t.Errorf("ParseDate(%q) = %v, %v", ok, d, err)
		}
	}
	for _, bad := range []string{"", "2023-02-29", "2024-13-01", "2024-1-01", "24-01-01", "2024/01/01", "20240101", "2024-01-01Z",
		"2024-01-01T00:00:00", "0000-01-01", "+2024-01-01", "2024-00-10"} {
		if _, err := ParseDate(bad); err == nil {
			t.Errorf("ParseDate(%q) accepted", bad)
		}
	}
	a, b := MustParseDate("2024-01-31"), MustParseDate("2024-02-01")
	if a.Compare(b) != -1 || b.Compare(a) != 1 || a.Compare(a) != 0 || (Date{}).IsSet() {
		t.Error("Compare")
	}
}

func TestCheckDigits(t *testing.T) {
	for _, tt := range []struct {
		scheme, id string
		ok         bool
	}{
		{"0007", "5591234561", true}, {"0007", "5591234562", false}, {"0007", "559123456", false},
		{"0088", "7350000000009", true}, {"0088", "7300010000001", true}, {"0088", "7350000000008", false}, {"0088", "73500000000x9", false},
		{"0192", "923456783", true}, {"0192", "923456784", false}, {"0192", "000000000", false},
		{"0184", "DK12345678", true}, {"0184", "12345678", false},
		{"0208", "0412345614", true}, {"0208", "0412345615", false},
		{"9999", "anything", true},
	} {
		if got := validSchemeID(tt.scheme, tt.id) == ""; got != tt.ok {
			t.Errorf("validSchemeID(%s, %s) ok = %v, want %v", tt.scheme, tt.id, got, tt.ok)
		}
	}
}
