package validate

import "strings"

// Limits of an E.164 number, in digits after the "+" (country code
// included). E.164 allows at most 15; fewer than 8 is no real subscriber
// number with its country code.
const (
	minPhoneDigits = 8
	maxPhoneDigits = 15
)

const (
	swedenCountryCode = "46"
	// trunkPrefix is dialled before a national number inside a country
	// (Sweden: 070-123 45 67), and dropped after the country code.
	trunkPrefix = "0"
	// internationalPrefix is what Sweden and most of Europe dial before a
	// country code; "0046 ..." means "+46 ...".
	internationalPrefix = "00"
	// phoneSeparators group the digits for people and carry no meaning.
	phoneSeparators = " -()"
)

// Phone validates a phone number and returns it in E.164 form: "+" and 8 to
// 15 digits, the first of them not 0 ("+46701234567"). Spaces, hyphens and
// parentheses are removed, and "(0)" after a country code ("+46 (0)70 ...")
// is dropped as the trunk prefix it is. A number with "00" before the
// country code is read as international, and any other number starting with
// a single 0 as a Swedish national number ("070-123 45 67").
func Phone(s string) (string, error) {
	const form = "A phone number is written +46 70 123 45 67 or, within Sweden, 070-123 45 67."
	s = trimSpace(s)
	if strings.HasPrefix(s, "+") || strings.HasPrefix(s, internationalPrefix) {
		s = strings.Replace(s, "(0)", "", 1)
	}
	s = removeSeparators(s, phoneSeparators)
	var digits string
	switch {
	case strings.HasPrefix(s, "+"):
		digits = s[1:]
	case strings.HasPrefix(s, internationalPrefix):
		digits = s[len(internationalPrefix):]
	case strings.HasPrefix(s, trunkPrefix):
		digits = swedenCountryCode + s[len(trunkPrefix):]
	default:
		return "", invalid(CodePhoneFormat, form)
	}
	if !allDigits(digits) || digits[0] == '0' {
		return "", invalid(CodePhoneFormat, form)
	}
	if len(digits) < minPhoneDigits || len(digits) > maxPhoneDigits {
		return "", invalid(CodePhoneLength, "A phone number has 8 to 15 digits with its country code.")
	}
	if strings.HasPrefix(digits, swedenCountryCode+trunkPrefix) {
		return "", invalid(CodePhoneFormat, "After +46, leave out the 0 that starts the number within Sweden.")
	}
	return "+" + digits, nil
}
