package validate

// BIC validates a Business Identifier Code (ISO 9362, "SWIFT code") and
// returns it upper-cased without spaces: 8 characters (party prefix,
// country code, location) or 11 (with a branch). ISO 9362:2014 allows digits
// in the 4-character party prefix, so they are accepted. An 11-character BIC
// ending in XXX (the primary office) is kept as given, not shortened to 8.
func BIC(s string) (string, error) {
	const form = "A BIC is 4 letters or digits, a 2-letter country code, 2 letters or digits, and optionally 3 more."
	bic, ascii := upperASCII(removeSeparators(trimSpace(s), " "))
	if !ascii {
		return "", invalid(CodeBICFormat, form)
	}
	if len(bic) != 8 && len(bic) != 11 {
		return "", invalid(CodeBICFormat, "A BIC has 8 or 11 characters.")
	}
	for i := 0; i < len(bic); i++ {
		c := bic[i]
		ok := isDigit(c) || isUpper(c)
		if i == 4 || i == 5 { // the country code
			ok = isUpper(c)
		}
		if !ok {
			return "", invalid(CodeBICFormat, form)
		}
	}
	return bic, nil
}
