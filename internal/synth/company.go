package synth

import (
	"strconv"
	"strings"
)

// Company is a synthetic Swedish aktiebolag.
type Company struct {
	Name                string  `json:"name"`
	Organisationsnummer string  `json:"organisationsnummer"` // NNNNNN-NNNN
	VATNumber           string  `json:"vat_number"`          // SE, the 10 digits, 01
	Bankgiro            string  `json:"bankgiro"`            // NNN-NNNN or NNNN-NNNN
	Bank                string  `json:"bank"`
	IBAN                string  `json:"iban"` // electronic format, no spaces
	BIC                 string  `json:"bic"`
	Email               string  `json:"email"` // at a subdomain of a reserved example domain
	Phone               string  `json:"phone"` // PTS fiction series
	Address             Address `json:"address"`
}

// Company returns a new synthetic company with an organisationsnummer not
// yet given by g.
func (g *Generator) Company() Company {
	short := pick(g, companyPlaces) + " " + pick(g, companyTrades) // "Norrbro Bygg"
	orgnr := g.organisationsnummer()
	c := pick(g, cities)
	b := pick(g, banks)
	return Company{
		Name:                short + " AB",
		Organisationsnummer: orgnr,
		VATNumber:           "SE" + strings.Replace(orgnr, "-", "", 1) + "01",
		Bankgiro:            g.bankgiro(),
		Bank:                b.name,
		IBAN:                b.iban(g),
		BIC:                 b.bic,
		Email:               pick(g, companyMailboxes) + "@" + asciiFold(short, '-') + "." + pick(g, personDomains),
		Phone:               g.companyPhone(c.name),
		Address:             g.addressIn(c),
	}
}

// organisationsnummer returns a new aktiebolag number: group number 5,
// then 0 to 4 (away from the 556 to 559 in use, package doc), a third
// digit of 2 or more so it cannot be read as a date of birth, six random
// digits and the Luhn check digit.
func (g *Generator) organisationsnummer() string {
	for {
		payload := "5" + strconv.Itoa(g.intn(5)) + strconv.Itoa(g.between(2, 9)) + g.digits(6)
		n := payload + string(luhnDigit(payload))
		n = n[:6] + "-" + n[6:]
		if !g.orgnrs[n] {
			g.orgnrs[n] = true
			return n
		}
	}
}

// bankgiro returns a bankgiro number of 7 or 8 digits, the last a Luhn
// check digit, printed with a hyphen before the last four.
func (g *Generator) bankgiro() string {
	payload := strconv.Itoa(g.between(1, 9)) + g.digits(5+g.intn(2))
	n := payload + string(luhnDigit(payload))
	return n[:len(n)-4] + "-" + n[len(n)-4:]
}

// ocr returns a payment reference of 10 to 15 digits whose last digit is
// the Luhn check digit of the others (Bankgirot's OCR check, without the
// optional length digit).
func (g *Generator) ocr() string {
	payload := strconv.Itoa(g.between(1, 9)) + g.digits(8+g.intn(6))
	return payload + string(luhnDigit(payload))
}

// bank is a Swedish bank and how its account numbers are built, from
// Bankgirot's "Bankernas kontonummeruppbyggnad".
type bank struct {
	name     string
	bic      string
	ibanCode string // the 3-digit bank code of the IBAN
	// Clearing numbers are lo to hi. Type 1 accounts are 7 digits after a
	// 4-digit clearing number, checked modulus 11 over the last three
	// digits of the clearing number and the account (comment 1), and the
	// IBAN includes the clearing number. Type 2 accounts (Handelsbanken)
	// are 9 digits checked modulus 11 on their own (comment 2), and the
	// IBAN leaves the clearing number out.
	lo, hi int
	type2  bool
}

var banks = []bank{
	{name: "SEB", bic: "ESSESESS", ibanCode: "500", lo: 5000, hi: 5999},
	{name: "Nordea", bic: "NDEASESS", ibanCode: "300", lo: 3000, hi: 3299},
	{name: "Swedbank", bic: "SWEDSESS", ibanCode: "800", lo: 7000, hi: 7999},
	{name: "Handelsbanken", bic: "HANDSESS", ibanCode: "600", lo: 6000, hi: 6999, type2: true},
}

// iban returns a random account at b as an IBAN: SE, check digits, the
// bank code and 17 digits of account (zero-padded on the left).
func (b bank) iban(g *Generator) string {
	var account string
	if b.type2 {
		account = mod11Account(g, "", 9)
	} else {
		clearing := strconv.Itoa(g.between(b.lo, b.hi))
		account = clearing + mod11Account(g, clearing[1:], 7)
	}
	bban := b.ibanCode + strings.Repeat("0", 17-len(account)) + account
	return "SE" + ibanCheckDigits("SE", bban) + bban
}

// mod11Account returns n random digits, the last a check digit such that
// prefix and the digits, weighted 1, 2, 3, ... from the right, sum to a
// multiple of 11. It draws again when no digit would do.
func mod11Account(g *Generator, prefix string, n int) string {
	for {
		body := g.digits(n - 1)
		s := prefix + body
		sum := 0
		for i := len(s) - 1; i >= 0; i-- {
			sum += int(s[i]-'0') * (len(s) - i + 1) // the check digit has weight 1
		}
		if c := (11 - sum%11) % 11; c < 10 {
			return body + strconv.Itoa(c)
		}
	}
}

// ibanCheckDigits returns the ISO 13616 check digits for country and bban
// (ASCII digits): 98 minus the remainder mod 97 of bban, the country as
// numbers (A=10) and 00.
func ibanCheckDigits(country, bban string) string {
	r := 0
	for i := 0; i < len(bban); i++ {
		r = (r*10 + int(bban[i]-'0')) % 97
	}
	for i := 0; i < len(country); i++ {
		r = (r*100 + int(country[i]-'A') + 10) % 97
	}
	r = r * 100 % 97 // the "00"
	cd := strconv.Itoa(98 - r)
	if len(cd) == 1 {
		cd = "0" + cd
	}
	return cd
}

var companyMailboxes = []string{"info", "kontakt", "faktura", "ekonomi", "order"}

var companyPlaces = []string{
	"Norrbro", "Söderport", "Älvkant", "Granlund", "Björkdal", "Ekeby",
	"Sjövik", "Lindhagen", "Fjällsta", "Hamnvik", "Stenbacka", "Åsklint",
	"Kvarnby", "Mälarstrand", "Östanvind", "Västerhav", "Solberga", "Strömsborg",
	"Tallbacka", "Ängsmark", "Lövholmen", "Brovik", "Ljungdal", "Rosendal",
	"Havsnäs", "Furulund", "Bergsjö", "Dalby", "Norrsken", "Skärgårds",
}

var companyTrades = []string{
	"Bygg", "Konsult", "Redovisning", "Transport", "Fastigheter", "Data",
	"El", "Måleri", "VVS", "Design", "Logistik", "Trädgård", "Städ",
	"Media", "Plåt", "Snickeri", "Revision", "Juridik", "Event", "Teknik",
}
