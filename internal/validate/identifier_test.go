package validate

import (
	"slices"
	"testing"
)

func TestIdentifier(t *testing.T) {
	tests := []struct {
		kind Kind
		ins  []string // ways of writing one identifier
		want string
	}{
		{KindPersonnummer, []string{"19811218-9876", "811218-9876", "198112189876", "8112189876"}, "198112189876"},
		{KindSamordningsnummer, []string{"701063-2391", "19701063-2391", "197010632391"}, "197010632391"},
		{KindOrganisationsnummer, []string{"556036-0793", "5560360793", "16556036-0793"}, "5560360793"},
		{KindEmail, []string{"anna@example.se", "anna@EXAMPLE.SE", " anna@Example.se "}, "anna@example.se"},
		{KindPhone, []string{"070-123 45 67", "+46 70 123 45 67", "0046701234567"}, "+46701234567"},
		{KindCustomerNumber, []string{"K-1001", " K-1001 ", "K-1001\n"}, "K-1001"},
	}
	for _, tt := range tests {
		for _, in := range tt.ins {
			got, err := Identifier(tt.kind, in, refDate)
			if err != nil || got != tt.want {
				t.Errorf("%s %q: got %q, %v; want %q", tt.kind, in, got, err, tt.want)
			}
		}
	}
	_, err := Identifier("passport", "AB123456", refDate)
	assertProblem(t, "AB123456", err, CodeUnknownKind)
	_, err = Identifier(KindPersonnummer, "701063-2391", refDate)
	assertProblem(t, "701063-2391", err, CodePersonnummerDate)
}

func TestKinds(t *testing.T) {
	kinds := Kinds()
	want := []Kind{"personnummer", "samordningsnummer", "email", "phone", "customer_number", "organisationsnummer"}
	if !slices.Equal(kinds, want) {
		t.Fatalf("Kinds() = %v", kinds)
	}
	kinds[0] = "changed"
	if Kinds()[0] != KindPersonnummer {
		t.Fatal("Kinds shares its slice")
	}
	for _, k := range want {
		if !k.Valid() {
			t.Errorf("%s not valid", k)
		}
	}
	if Kind("Personnummer").Valid() || Kind("").Valid() {
		t.Error("an unknown kind is valid")
	}
}

func TestCustomerNumber(t *testing.T) {
	checkVectors(t, CustomerNumber, []vector{
		{in: "K-1001", want: "K-1001"},
		{in: "  kund 42 / avd. 7 ", want: "kund 42 / avd. 7"},
		{in: "Ärende-Ö", want: "Ärende-Ö"},
		{in: "A\u030arende", want: "Årende"}, // NFC
		{in: string(make([]rune, 0)) + "x", want: "x"},
		{in: "ÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅ", want: "ÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅ"}, // 64 characters, 128 bytes

		{in: "", code: CodeCustomerNum},
		{in: "   ", code: CodeCustomerNum},
		{in: "ÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅ", code: CodeCustomerNum}, // 65
		{in: "K-1001\u00a0x", code: CodeCustomerNum},   // no-break space
		{in: "K-1001\tx", code: CodeInvalidCharacters}, // tab
		{in: "K-\u202e1001", code: CodeInvalidCharacters},
		{in: "K-10\u200c01", code: CodeInvalidCharacters},
		{in: "K-\ue0001001", code: CodeInvalidCharacters}, // private use
	})
}

// TestField checks the field-error helper, and that an error not from this
// package does not pass its text through.
func TestField(t *testing.T) {
	_, err := IBAN("SE4550000000058398257467")
	f := Field("/payer/iban", err)
	if f.Field != "/payer/iban" || f.Code != CodeIBANChecksum || f.Message == "" {
		t.Fatalf("Field = %+v", f)
	}
	f = Field("/x", errString("secret 19811218-9876"))
	if f.Code != CodeInvalidValue || f.Message != "The value is not valid." {
		t.Fatalf("Field of a plain error = %+v", f)
	}
}

type errString string

func (e errString) Error() string { return string(e) }
