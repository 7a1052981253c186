package validate

// Lengths of bankgiro and plusgiro numbers, check digit included.
const (
	minBankgiroDigits = 7
	maxBankgiroDigits = 8
	minPlusgiroDigits = 2
	maxPlusgiroDigits = 8
)

// giroSeparators are what people and invoices put between the digit groups
// of a bankgiro or plusgiro number ("5050-1055", "90 91 02-6"); they carry no
// meaning and are removed.
const giroSeparators = " -"

// Bankgiro validates a Swedish bankgiro number: 7 or 8 digits, the last a
// Luhn check digit. It is returned in its printed form, with a hyphen before
// the last four digits: "NNN-NNNN" or "NNNN-NNNN" ("5050-1055").
func Bankgiro(s string) (string, error) {
	d := removeSeparators(trimSpace(s), giroSeparators)
	if len(d) < minBankgiroDigits || len(d) > maxBankgiroDigits || !allDigits(d) {
		return "", invalid(CodeBankgiroFormat, "A bankgiro number has 7 or 8 digits, written NNN-NNNN or NNNN-NNNN.")
	}
	if !luhnValid(d) {
		return "", invalid(CodeInvalidLuhn,
			"The check digit (the last digit) of the bankgiro number does not match; check for a mistyped digit.")
	}
	return d[:len(d)-4] + "-" + d[len(d)-4:], nil
}

// Plusgiro validates a Swedish plusgiro number: 2 to 8 digits, the last a
// Luhn check digit. It is returned as its digits with a hyphen before the
// check digit ("90 91 02-6" gives "909102-6").
func Plusgiro(s string) (string, error) {
	d := removeSeparators(trimSpace(s), giroSeparators)
	if len(d) < minPlusgiroDigits || len(d) > maxPlusgiroDigits || !allDigits(d) {
		return "", invalid(CodePlusgiroFormat, "A plusgiro number has 2 to 8 digits, the last one after a hyphen.")
	}
	if !luhnValid(d) {
		return "", invalid(CodeInvalidLuhn,
			"The check digit (the last digit) of the plusgiro number does not match; check for a mistyped digit.")
	}
	return d[:len(d)-1] + "-" + d[len(d)-1:], nil
}
