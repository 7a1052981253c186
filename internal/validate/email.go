package validate

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/text/unicode/norm"
)

// Length limits of an address, in bytes (octets), from RFC 5321 4.5.3.1
// and its erratum 1690 for the whole path.
const (
	maxEmailLocal  = 64
	maxEmailDomain = 253 // in its ASCII (punycode) form
	maxEmailLength = 254
	maxDNSLabel    = 63
)

// emailSpecials are the ASCII characters other than letters and digits that
// RFC 5322 allows in an unquoted local part (atext).
const emailSpecials = "!#$%&'*+-/=?^_`{|}~"

// Email validates an email address as people type one into a form: a dot-atom
// local part, "@", and a domain name. It returns the address with the domain
// in lower case and its Unicode form ("Anna@Exämple.SE" gives
// "Anna@exämple.se") and the local part in Unicode normalisation form C. The
// local part keeps its case: RFC 5321 lets the receiving server tell
// "Anna" from "anna", even though few do.
//
// On purpose it refuses legal but rare forms that are mostly seen in abuse:
// display names ("Anna <anna@example.se>"), quoted local parts, comments, IP
// address literals, domains without a dot, and any invisible or control
// character (bidi overrides, zero-width characters). Non-ASCII letters are
// allowed in the local part (RFC 6531) and in the domain (IDNA 2008 with the
// UTS #46 lookup mapping, including its bidi and joiner rules).
func Email(s string) (string, error) {
	s = trimSpace(s)
	if err := checkVisible(s); err != nil {
		return "", err
	}
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return "", invalid(CodeEmailFormat, "An email address has the form name@example.se.")
	}
	local, err := emailLocal(s[:at])
	if err != nil {
		return "", err
	}
	ascii, unicodeDomain, err := emailDomain(s[at+1:])
	if err != nil {
		return "", err
	}
	if len(local)+1+len(ascii) > maxEmailLength {
		return "", invalid(CodeEmailLength, "An email address has at most 254 characters.")
	}
	return local + "@" + unicodeDomain, nil
}

// emailLocal checks the part before the "@" and returns it in NFC.
func emailLocal(local string) (string, error) {
	local = norm.NFC.String(local)
	if local == "" {
		return "", invalid(CodeEmailFormat, "The part before the @ is missing.")
	}
	if len(local) > maxEmailLocal {
		return "", invalid(CodeEmailLength, "The part before the @ has at most 64 characters.")
	}
	if local[0] == '.' || local[len(local)-1] == '.' || strings.Contains(local, "..") {
		return "", invalid(CodeEmailFormat, "The part before the @ cannot start or end with a dot or have two dots in a row.")
	}
	for _, r := range local {
		if !emailLocalRune(r) {
			return "", invalid(CodeEmailFormat,
				"The part before the @ may have letters, digits and . ! # $ % & ' * + - / = ? ^ _ ` { | } ~ only.")
		}
	}
	return local, nil
}

func emailLocalRune(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' ||
			r == '.' || strings.ContainsRune(emailSpecials, r)
	}
	// Of non-ASCII, only letters, marks and digits: no punctuation that
	// looks like "@" or ".", no spaces.
	return unicode.In(r, unicode.L, unicode.M, unicode.N)
}

// emailDomain checks the part after the "@" and returns it in ASCII
// (punycode) form, for the length checks, and in lower-case Unicode form,
// which is what Email returns.
func emailDomain(domain string) (ascii, unicodeForm string, err error) {
	errDomain := invalid(CodeEmailDomain, "The part after the @ is not a valid domain name, such as example.se.")
	if domain == "" {
		return "", "", invalid(CodeEmailFormat, "The part after the @ is missing.")
	}
	ascii, err = idna.Lookup.ToASCII(domain)
	if err != nil {
		return "", "", errDomain
	}
	if len(ascii) > maxEmailDomain {
		return "", "", invalid(CodeEmailLength, "The part after the @ has at most 253 characters.")
	}
	labels := strings.Split(ascii, ".")
	if len(labels) < 2 {
		return "", "", invalid(CodeEmailDomain, "The part after the @ needs a dot, as in example.se.")
	}
	for _, l := range labels {
		if l == "" || len(l) > maxDNSLabel || !isLDH(l) {
			return "", "", errDomain
		}
	}
	if allDigits(labels[len(labels)-1]) {
		return "", "", errDomain // a top-level domain is never numeric; this is an IP address
	}
	unicodeForm, err = idna.Lookup.ToUnicode(ascii)
	if err != nil {
		return "", "", errDomain
	}
	return ascii, unicodeForm, nil
}

// isLDH reports whether label is letters, digits and hyphens, not starting
// or ending with a hyphen (RFC 1123 2.1).
func isLDH(label string) bool {
	if label[0] == '-' || label[len(label)-1] == '-' {
		return false
	}
	for i := 0; i < len(label); i++ {
		c := label[i]
		if !('a' <= c && c <= 'z' || isDigit(c) || c == '-') {
			return false
		}
	}
	return true
}
