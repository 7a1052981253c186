package validate

import "testing"

func TestBankgiro(t *testing.T) {
	checkVectors(t, Bankgiro, []vector{
		{in: "5050-1055", want: "5050-1055"},
		{in: "50501055", want: "5050-1055"},
		{in: "5050 1055", want: "5050-1055"},
		{in: "900-8004", want: "900-8004"}, // a 7-digit 90-account
		{in: "9008004", want: "900-8004"},

		{in: "5050-1056", code: CodeInvalidLuhn},
		{in: "5050-1505", code: CodeInvalidLuhn},
		{in: "505-105", code: CodeBankgiroFormat},
		{in: "505010551", code: CodeBankgiroFormat},
		{in: "5050/1055", code: CodeBankgiroFormat},
		{in: "", code: CodeBankgiroFormat},
	})
}

func TestPlusgiro(t *testing.T) {
	checkVectors(t, Plusgiro, []vector{
		// Hjärt-Lungfonden's two 90-accounts, as printed.
		{in: "909102-6", want: "909102-6"},
		{in: "90 91 92-7", want: "909192-7"},
		{in: "9091026", want: "909102-6"},
		{in: "1-8", want: "1-8"}, // the shortest: 2 digits

		{in: "909102-7", code: CodeInvalidLuhn},
		{in: "8", code: CodePlusgiroFormat},
		{in: "123456789", code: CodePlusgiroFormat},
		{in: "90 91 02_6", code: CodePlusgiroFormat},
	})
}
