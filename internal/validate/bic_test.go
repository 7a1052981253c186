package validate

import "testing"

func TestBIC(t *testing.T) {
	checkVectors(t, BIC, []vector{
		{in: "ESSESESS", want: "ESSESESS"},       // SEB
		{in: "HANDSESS", want: "HANDSESS"},       // Handelsbanken
		{in: "swedsess", want: "SWEDSESS"},       // Swedbank, lower case
		{in: "DEUTDEFF500", want: "DEUTDEFF500"}, // Deutsche Bank, a branch
		{in: "NDEA SE SS XXX", want: "NDEASESSXXX"},
		{in: "1234SESS", want: "1234SESS"}, // ISO 9362:2014 allows digits in the party prefix

		{in: "ESSESES", code: CodeBICFormat},
		{in: "ESSESESSX", code: CodeBICFormat},
		{in: "ESSE5ESS", code: CodeBICFormat},       // digit in the country code
		{in: "ESSESE-S", code: CodeBICFormat},       //
		{in: "ESSESEſS", code: CodeBICFormat},       // long s
		{in: "ESSESESS\u200b", code: CodeBICFormat}, // zero-width space
		{in: "", code: CodeBICFormat},
	})
}
