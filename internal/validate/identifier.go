package validate

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Kind is the kind of a subject identifier: how a data subject is known to
// a tenant. The string values are stable; they are stored and sent by
// clients.
type Kind string

const (
	KindPersonnummer        Kind = "personnummer"
	KindSamordningsnummer   Kind = "samordningsnummer"
	KindEmail               Kind = "email"
	KindPhone               Kind = "phone"
	KindCustomerNumber      Kind = "customer_number"
	KindOrganisationsnummer Kind = "organisationsnummer"
)

// Kinds returns every subject-identifier kind, in a fixed order. The slice
// is new on each call, so callers may keep or change it.
func Kinds() []Kind {
	return []Kind{
		KindPersonnummer,
		KindSamordningsnummer,
		KindEmail,
		KindPhone,
		KindCustomerNumber,
		KindOrganisationsnummer,
	}
}

// Valid reports whether k is one of Kinds.
func (k Kind) Valid() bool {
	switch k {
	case KindPersonnummer, KindSamordningsnummer, KindEmail, KindPhone, KindCustomerNumber, KindOrganisationsnummer:
		return true
	}
	return false
}

// Identifier validates value as a subject identifier of kind and returns its
// normalised form. Two ways of writing the same identifier normalise to the
// same string, and normalising a normalised value returns it unchanged, so
// the result can be the input of a blind index. now is used only for the
// century of 10-digit personnummer and samordningsnummer.
func Identifier(kind Kind, value string, now time.Time) (string, error) {
	switch kind {
	case KindPersonnummer:
		return Personnummer(value, now)
	case KindSamordningsnummer:
		return Samordningsnummer(value, now)
	case KindEmail:
		// As a subject identifier an address is matched without regard to
		// case: mail systems treat local parts case-insensitively in
		// practice, and two spellings of one person's address must meet.
		v, err := Email(value)
		return strings.ToLower(v), err
	case KindPhone:
		return Phone(value)
	case KindCustomerNumber:
		return CustomerNumber(value)
	case KindOrganisationsnummer:
		return Organisationsnummer(value)
	}
	return "", invalid(CodeUnknownKind,
		"The identifier kind is not one of personnummer, samordningsnummer, email, phone, customer_number, organisationsnummer.")
}

// maxCustomerNumber is the longest customer number, in characters.
const maxCustomerNumber = 64

// CustomerNumber validates a tenant's own customer number: free text of 1 to
// 64 printable characters. It is returned without surrounding white space
// and in Unicode normalisation form C, so that the same characters typed on
// different keyboards give the same value. Case and inner spaces are kept.
func CustomerNumber(s string) (string, error) {
	s = trimSpace(s)
	if err := checkVisible(s); err != nil {
		return "", err
	}
	s = norm.NFC.String(s)
	if n := utf8.RuneCountInString(s); n == 0 || n > maxCustomerNumber {
		return "", invalid(CodeCustomerNum, "A customer number has 1 to 64 characters.")
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return "", invalid(CodeCustomerNum, "A customer number has only letters, digits, punctuation, symbols and spaces.")
		}
	}
	return s, nil
}
