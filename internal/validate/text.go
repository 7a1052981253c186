package validate

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// checkVisible reports an error if s is not valid UTF-8 or contains a
// character that does not show, or shows as something else: controls,
// format characters (the bidi overrides U+202A–U+202E and U+2066–U+2069, the
// zero-width space, joiners and the BOM are all in category Cf), line and
// paragraph separators, private-use and surrogate code points, non-characters,
// and U+FFFD, which is what a lossy decoder leaves behind. Such characters let
// two identifiers that look the same differ, or reorder what a reviewer sees.
func checkVisible(s string) error {
	if !utf8.ValidString(s) {
		return invalid(CodeInvalidCharacters, "The value is not valid UTF-8 text.")
	}
	for _, r := range s {
		if r == utf8.RuneError || unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Cs,
			unicode.Zl, unicode.Zp, unicode.Noncharacter_Code_Point) {
			return invalid(CodeInvalidCharacters,
				"The value contains invisible or control characters; type it again without copying formatting.")
		}
	}
	return nil
}

// trimSpace removes Unicode white space around s. Validators trim because
// pasted values often carry a stray space or newline, which never changes
// what the value means.
func trimSpace(s string) string { return strings.TrimSpace(s) }

// allDigits reports whether s is non-empty and only ASCII digits.
func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// upperASCII returns s with a–z upper-cased, and false if s has a byte
// outside ASCII. strings.ToUpper is not used for identifiers because it maps
// some non-ASCII letters to ASCII ones (U+017F long s becomes S), which would
// let a look-alike pass as a real code.
func upperASCII(s string) (string, bool) {
	b := []byte(s)
	for i, c := range b {
		if c >= utf8.RuneSelf {
			return "", false
		}
		if 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b), true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isUpper(c byte) bool { return 'A' <= c && c <= 'Z' }

// removeSeparators returns s without the bytes in seps. It is for the
// numeric identifiers (bankgiro, plusgiro), where grouping is only for people.
func removeSeparators(s, seps string) string {
	return strings.Map(func(r rune) rune {
		if strings.ContainsRune(seps, r) {
			return -1
		}
		return r
	}, s)
}

// luhnValid reports whether the last digit of digits is the Luhn (modulus
// 10, weights 2-1 from the right) check digit of the digits before it. This
// is the check of personnummer, samordningsnummer, organisationsnummer,
// bankgiro and plusgiro. digits MUST be ASCII digits only.
func luhnValid(digits string) bool {
	sum := 0
	double := false // the check digit itself is not doubled
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}
