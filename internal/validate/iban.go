package validate

// maxIBANLength is the longest IBAN ISO 13616 allows (the registry's longest,
// Russia's, is 33).
const maxIBANLength = 34

// IBAN validates an International Bank Account Number (ISO 13616) and returns
// it in electronic format: upper case, no spaces ("SE4550000000058398257466").
// It checks, in order: the characters, the country (it must be in the SWIFT
// IBAN registry), the country's length, the structure of the BBAN, and the
// ISO 7064 mod-97-10 check digits. The print format with spaces is accepted.
func IBAN(s string) (string, error) {
	iban, ascii := upperASCII(removeSeparators(trimSpace(s), " "))
	if !ascii {
		return "", invalid(CodeIBANFormat, "An IBAN has only letters A–Z and digits, optionally grouped by spaces.")
	}
	if iban == "" {
		return "", invalid(CodeIBANFormat, "The IBAN is empty.")
	}
	if len(iban) > maxIBANLength {
		return "", invalid(CodeIBANLength, "An IBAN has at most 34 characters.")
	}
	for i := 0; i < len(iban); i++ {
		if !isDigit(iban[i]) && !isUpper(iban[i]) {
			return "", invalid(CodeIBANFormat, "An IBAN has only letters A–Z and digits, optionally grouped by spaces.")
		}
	}
	if len(iban) < 4 || !isUpper(iban[0]) || !isUpper(iban[1]) || !isDigit(iban[2]) || !isDigit(iban[3]) {
		return "", invalid(CodeIBANFormat, "An IBAN starts with a two-letter country code and two check digits.")
	}
	f, ok := ibanRegistry[iban[:2]]
	if !ok {
		return "", invalid(CodeIBANCountry, "The country code of the IBAN is not one that issues IBANs.")
	}
	if len(iban) != f.length {
		return "", invalid(CodeIBANLength, "The IBAN does not have the length its country uses; check for a missing or extra character.")
	}
	if !matchBBAN(iban[4:], f.bban) {
		return "", invalid(CodeIBANStructure, "The account part of the IBAN does not have its country's format.")
	}
	// Check digits 00, 01 and 99 are never issued (ISO 13616 computes 02–98),
	// but 01 and 98 (and 00 and 97) pass the mod-97 test alike, so they must
	// be refused explicitly.
	if cd := iban[2:4]; cd == "00" || cd == "01" || cd == "99" {
		return "", invalid(CodeIBANChecksum, "The check digits of the IBAN are not valid.")
	}
	if ibanMod97(iban) != 1 {
		return "", invalid(CodeIBANChecksum, "The check digits of the IBAN do not match; check for a mistyped character.")
	}
	return iban, nil
}

// ibanMod97 returns the ISO 7064 mod-97-10 remainder of iban with its first
// four characters moved to the end and each letter replaced by its value
// (A=10 ... Z=35), computed digit by digit so no big number is needed.
// iban MUST be upper-case letters and digits only.
func ibanMod97(iban string) int {
	r := 0
	add := func(c byte) {
		if isDigit(c) {
			r = (r*10 + int(c-'0')) % 97
		} else {
			r = (r*100 + int(c-'A') + 10) % 97
		}
	}
	for i := 4; i < len(iban); i++ {
		add(iban[i])
	}
	for i := 0; i < 4; i++ {
		add(iban[i])
	}
	return r
}

// matchBBAN reports whether bban has the structure pattern describes (see
// ibanFormat). bban MUST be upper-case letters and digits only.
func matchBBAN(bban, pattern string) bool {
	pos := 0
	for pattern != "" {
		n := 0
		for pattern != "" && isDigit(pattern[0]) {
			n = n*10 + int(pattern[0]-'0')
			pattern = pattern[1:]
		}
		if pattern == "" || n == 0 || pos+n > len(bban) {
			return false
		}
		class := pattern[0]
		pattern = pattern[1:]
		for _, c := range []byte(bban[pos : pos+n]) {
			if !inClass(c, class) {
				return false
			}
		}
		pos += n
	}
	return pos == len(bban)
}

func inClass(c, class byte) bool {
	switch class {
	case 'n':
		return isDigit(c)
	case 'a':
		return isUpper(c)
	case 'c':
		return isDigit(c) || isUpper(c)
	}
	return false
}
