package validate

// organisationsnummerPrefix is the century-like "16" some systems (the tax
// agency's among them) put before an organisationsnummer to make it 12
// digits long like a personnummer.
const organisationsnummerPrefix = "16"

// Organisationsnummer validates a Swedish organisation number and returns
// its 10 digits without the hyphen ("5560360793"). It accepts NNNNNN-NNNN,
// NNNNNNNNNN and both with the prefix 16. The third digit is at least 2 (so
// that the number cannot be read as a date of birth) and the last digit is
// the Luhn check digit.
//
// A sole trader's business uses the owner's personnummer instead; that is a
// personnummer and is refused here by the third-digit rule.
func Organisationsnummer(s string) (string, error) {
	const form = "An organisationsnummer is written NNNNNN-NNNN (the hyphen is optional)."
	s = trimSpace(s)
	if len(s) == 12 || len(s) == 13 {
		if s[:2] != organisationsnummerPrefix {
			return "", invalid(CodeOrganisationsnummer, form)
		}
		s = s[2:]
	}
	if len(s) == 11 {
		if s[6] != '-' {
			return "", invalid(CodeOrganisationsnummer, form)
		}
		s = s[:6] + s[7:]
	}
	if len(s) != 10 || !allDigits(s) {
		return "", invalid(CodeOrganisationsnummer, form)
	}
	if s[2] < '2' {
		return "", invalid(CodeOrganisationsnummer,
			"The third digit of an organisationsnummer is 2 or more; this looks like a personnummer.")
	}
	if !luhnValid(s) {
		return "", invalid(CodeInvalidLuhn,
			"The check digit (the last digit) of the organisationsnummer does not match; check for a mistyped digit.")
	}
	return s, nil
}
