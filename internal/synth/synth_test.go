package synth

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/valvhq/valv/internal/einvoice"
	"github.com/valvhq/valv/internal/validate"
)

// n is how many of each kind the property tests generate.
const n = 2000

// now is the clock of the tests: a fixed instant, in Stockholm.
var now = time.Date(2026, time.March, 14, 9, 30, 0, 0, mustZone("Europe/Stockholm"))

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		return time.FixedZone("CET", 3600)
	}
	return loc
}

var postalCode = regexp.MustCompile(`^[1-9][0-9]{2} [0-9]{2}$`)

// reservedDomain reports whether the address is at a domain reserved for
// documentation by RFC 2606, or at a subdomain of one.
func reservedDomain(addr string) bool {
	_, domain, ok := strings.Cut(addr, "@")
	if !ok {
		return false
	}
	for _, d := range []string{"example.com", "example.org", "example.net"} {
		if domain == d || strings.HasSuffix(domain, "."+d) {
			return true
		}
	}
	return false
}

// inWindow reports whether t's date is within the five years before now's
// date (both ends included).
func inWindow(t time.Time) bool {
	return !t.Before(today(now).AddDate(-windowYears, 0, 0)) && !t.After(today(now))
}

func TestPerson(t *testing.T) {
	g := New(1)
	pnrs := map[string]bool{}
	emails := map[string]bool{}
	for range n {
		p := g.Person()
		norm, err := validate.Personnummer(p.Personnummer, now)
		if err != nil {
			t.Fatalf("%s: validate.Personnummer: %v", p.Personnummer, err)
		}
		if want := strings.Replace(p.Personnummer, "-", "", 1); norm != want || len(p.Personnummer) != 13 {
			t.Errorf("%s: normalised to %s, want %s (YYYYMMDD-NNNC)", p.Personnummer, norm, want)
		}
		if !IsTestPersonnummer(p.Personnummer) {
			t.Errorf("%s: IsTestPersonnummer is false", p.Personnummer)
		}
		if pnrs[p.Personnummer] {
			t.Errorf("%s: given twice within the first %d people", p.Personnummer, testPoolSize)
		}
		pnrs[p.Personnummer] = true
		if got := p.BirthDate.Format("20060102"); got != p.Personnummer[:8] {
			t.Errorf("%s: birth date %s", p.Personnummer, got)
		}
		// Birth number 238 is a woman's, 239 a man's.
		female := p.Personnummer[9:12] == testSerialFemale
		if names := maleNames; female && contains(names, p.GivenName) || !female && contains(femaleNames, p.GivenName) {
			t.Errorf("%s: given name %s is of the other sex", p.Personnummer, p.GivenName)
		}

		if norm, err := validate.Email(p.Email); err != nil || norm != p.Email {
			t.Errorf("%s: validate.Email gives %q, %v", p.Email, norm, err)
		}
		if !reservedDomain(p.Email) {
			t.Errorf("%s: not at a reserved example domain", p.Email)
		}
		if emails[p.Email] {
			t.Errorf("%s: given twice", p.Email)
		}
		emails[p.Email] = true

		e164, err := validate.Phone(p.Phone)
		if err != nil {
			t.Errorf("%s: validate.Phone: %v", p.Phone, err)
		}
		if !isFictionMobile(e164) {
			t.Errorf("%s: not in the PTS fiction series", p.Phone)
		}
		checkAddress(t, p.Address)
	}
}

// isFictionMobile reports whether e164 is in 070-174 06 05 to 070-174 06 99.
func isFictionMobile(e164 string) bool {
	rest, ok := strings.CutPrefix(e164, "+46701740")
	if !ok || len(rest) != 3 {
		return false
	}
	v, err := strconv.Atoi(rest)
	return err == nil && v >= 605 && v <= 699
}

// isFictionLandline reports whether e164 is in one of the fixed-line
// series PTS reserves for fiction.
func isFictionLandline(e164 string) bool {
	for _, p := range []string{"+46846500", "+46313900", "+46406280"} {
		rest, ok := strings.CutPrefix(e164, p)
		if !ok || len(rest) != 3 {
			continue
		}
		v, err := strconv.Atoi(rest)
		if err != nil {
			return false
		}
		switch p {
		case "+46846500", "+46406280":
			return v >= 400 && v <= 499
		default:
			return v >= 600 && v <= 699
		}
	}
	return false
}

func checkAddress(t *testing.T, a Address) {
	t.Helper()
	if a.Street == "" || a.City == "" || a.Country != "SE" || !postalCode.MatchString(a.PostalCode) {
		t.Errorf("bad address %+v", a)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestPersonnummerPool checks the whole block: every number passes Valv's
// validator and IsTestPersonnummer, none twice, and a Generator hands out
// all of them before any repeats.
func TestPersonnummerPool(t *testing.T) {
	if testPoolSize != 2904 {
		t.Fatalf("block has %d numbers, want 2904 (1990-01-10 to 1993-12-31, two a day)", testPoolSize)
	}
	seen := map[string]bool{}
	for i := range testPoolSize {
		pnr, _, _ := testPersonnummer(i)
		if _, err := validate.Personnummer(pnr, now); err != nil || !IsTestPersonnummer(pnr) || seen[pnr] {
			t.Fatalf("%d: %s: %v, IsTestPersonnummer %v, seen %v", i, pnr, err, IsTestPersonnummer(pnr), seen[pnr])
		}
		seen[pnr] = true
	}
	g := New(7)
	got := map[string]bool{}
	for range testPoolSize {
		got[g.Person().Personnummer] = true
	}
	if len(got) != testPoolSize {
		t.Errorf("%d distinct personnummer in the first %d people", len(got), testPoolSize)
	}
	if p := g.Person(); !got[p.Personnummer] {
		t.Errorf("after the block, %s is new", p.Personnummer)
	}
}

func TestIsTestPersonnummer(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		// In Skatteverket's published list, and in the block.
		{"19900110-2384", true},
		{"199001102392", true},
		{"19920229-2380", true}, // a leap day
		{"19920229-2398", true},
		{"19931231-2383", true},
		{"199312312391", true},
		// In the published list, but outside the block.
		{"19900101-2385", false},
		{"19940101-2399", false},
		{"18900101-9802", false},
		// Not test numbers, or not written as the generator writes them.
		{"19811218-9876", false}, // the example in validate's documentation
		{"19900110-2385", false}, // wrong check digit
		{"19900110-2408", false}, // birth number 240
		{"900110-2384", false},   // 10 digits: the century is ambiguous
		{"9001102384", false},
		{"19900110+2384", false},
		{"1990011-02384", false},
		{"19900230-2383", false}, // no such date
		{"19901310-2386", false},
		{"19900100-2384", false},
		{"19900110-238", false},
		{" 19900110-2384", false},
		{"19900110-2384 ", false},
		{"19900110-23８4", false}, // a full-width digit
		{"", false},
		{"-------------", false},
	}
	for _, tt := range tests {
		if got := IsTestPersonnummer(tt.in); got != tt.want {
			t.Errorf("IsTestPersonnummer(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestCompany(t *testing.T) {
	bics := map[string]string{"500": "ESSESESS", "300": "NDEASESS", "800": "SWEDSESS", "600": "HANDSESS"}
	g := New(2)
	orgnrs := map[string]bool{}
	for range n {
		c := g.Company()
		norm, err := validate.Organisationsnummer(c.Organisationsnummer)
		if err != nil || norm != strings.Replace(c.Organisationsnummer, "-", "", 1) || len(c.Organisationsnummer) != 11 || c.Organisationsnummer[6] != '-' {
			t.Errorf("%s: validate.Organisationsnummer gives %q, %v", c.Organisationsnummer, norm, err)
			continue
		}
		if norm[0] != '5' || norm[2] < '2' {
			t.Errorf("%s: not an aktiebolag's number (group 5, third digit 2 or more)", c.Organisationsnummer)
		}
		if orgnrs[norm] {
			t.Errorf("%s: given twice", c.Organisationsnummer)
		}
		orgnrs[norm] = true
		if c.VATNumber != "SE"+norm+"01" {
			t.Errorf("VAT number %s for %s", c.VATNumber, c.Organisationsnummer)
		}
		if bg, err := validate.Bankgiro(c.Bankgiro); err != nil || bg != c.Bankgiro {
			t.Errorf("%s: validate.Bankgiro gives %q, %v", c.Bankgiro, bg, err)
		}
		if iban, err := validate.IBAN(c.IBAN); err != nil || iban != c.IBAN {
			t.Errorf("%s: validate.IBAN gives %q, %v", c.IBAN, iban, err)
		}
		if bic, err := validate.BIC(c.BIC); err != nil || bic != c.BIC {
			t.Errorf("%s: validate.BIC gives %q, %v", c.BIC, bic, err)
		}
		if want := bics[c.IBAN[4:7]]; c.BIC != want {
			t.Errorf("%s: BIC %s, want %s for bank code %s", c.IBAN, c.BIC, want, c.IBAN[4:7])
		}
		if !bankAccountValid(c.IBAN) {
			t.Errorf("%s: the account's own check digit is wrong", c.IBAN)
		}
		if e, err := validate.Email(c.Email); err != nil || e != c.Email || !reservedDomain(c.Email) {
			t.Errorf("%s: validate.Email gives %q, %v, or not at a reserved domain", c.Email, e, err)
		}
		e164, err := validate.Phone(c.Phone)
		if err != nil || !isFictionMobile(e164) && !isFictionLandline(e164) {
			t.Errorf("%s: %v, or not in a PTS fiction series", c.Phone, err)
		}
		if !strings.HasSuffix(c.Name, " AB") {
			t.Errorf("name %q", c.Name)
		}
		checkAddress(t, c.Address)
	}
}

// bankAccountValid checks the modulus 11 check digit of the account inside
// a Swedish IBAN, for the banks synth uses.
func bankAccountValid(iban string) bool {
	digits := strings.TrimLeft(iban[7:], "0")
	if iban[4:7] != "600" {
		digits = digits[1:] // type 1, comment 1: without the clearing number's first digit
	}
	sum := 0
	for i := len(digits) - 1; i >= 0; i-- {
		sum += int(digits[i]-'0') * (len(digits) - i)
	}
	return sum%11 == 0
}

// TestKnownAnswers checks the check-digit helpers against published
// numbers: the IBAN in validate's documentation and the SWIFT registry
// (SEB, clearing 5839, account 825 746 6), the bankgiro 5050-1055, and a
// published test personnummer.
func TestKnownAnswers(t *testing.T) {
	if cd := ibanCheckDigits("SE", "50000000058398257466"); cd != "45" {
		t.Errorf("IBAN check digits %s, want 45", cd)
	}
	if !bankAccountValid("SE4550000000058398257466") {
		t.Error("SEB account 5839 825 746 6 fails modulus 11")
	}
	if d := luhnDigit("5050105"); d != '5' {
		t.Errorf("bankgiro check digit %c, want 5", d)
	}
	if pnr, born, female := testPersonnummer(0); pnr != "19900110-2384" || born.Format(time.DateOnly) != "1990-01-10" || !female {
		t.Errorf("first of the block: %s %s %v", pnr, born, female)
	}
	if pnr, _, female := testPersonnummer(testPoolSize - 1); pnr != "19931231-2391" || female {
		t.Errorf("last of the block: %s %v", pnr, female)
	}
	if got := percentOf(1999, 25); got != 500 { // 499.75 rounds up
		t.Errorf("25%% of 1999 öre = %d", got)
	}
	if got := percentOf(2, 25); got != 1 { // 0.5 rounds away from zero
		t.Errorf("25%% of 2 öre = %d", got)
	}
}

func TestInvoice(t *testing.T) {
	g := New(3)
	numbers := map[string]bool{}
	for range n {
		inv := g.Invoice(now)
		if numbers[inv.Number] {
			t.Errorf("invoice number %s twice", inv.Number)
		}
		numbers[inv.Number] = true
		if !inWindow(inv.IssueDate) || !inWindow(inv.DueDate) || !inv.DueDate.Equal(inv.IssueDate.AddDate(0, 0, 30)) {
			t.Errorf("%s: issued %s, due %s", inv.Number, inv.IssueDate, inv.DueDate)
		}
		if inv.Currency != "SEK" || inv.Bankgiro != inv.Seller.Bankgiro || inv.Seller.Organisationsnummer == inv.Buyer.Organisationsnummer {
			t.Errorf("%s: currency %s, bankgiro %s, seller %s, buyer %s", inv.Number, inv.Currency, inv.Bankgiro,
				inv.Seller.Organisationsnummer, inv.Buyer.Organisationsnummer)
		}
		if len(inv.OCR) < 10 || len(inv.OCR) > 15 || !luhnValid(inv.OCR) {
			t.Errorf("%s: OCR %s", inv.Number, inv.OCR)
		}
		if len(inv.Lines) < 1 || len(inv.Lines) > 5 {
			t.Errorf("%s: %d lines", inv.Number, len(inv.Lines))
		}
		var net int64
		taxable := map[int64]int64{}
		for _, l := range inv.Lines {
			if l.NetOre != l.Quantity*l.UnitPriceOre || l.Quantity < 1 || l.UnitPriceOre <= 0 {
				t.Errorf("%s: line %+v", inv.Number, l)
			}
			if l.VATRate != 25 && l.VATRate != 12 && l.VATRate != 6 {
				t.Errorf("%s: VAT rate %d", inv.Number, l.VATRate)
			}
			net += l.NetOre
			taxable[l.VATRate] += l.NetOre
		}
		var vat int64
		for i, v := range inv.VAT {
			if i > 0 && v.Rate >= inv.VAT[i-1].Rate {
				t.Errorf("%s: VAT breakdown not by falling rate", inv.Number)
			}
			// VAT = taxable × rate / 100, rounded half up (amounts are positive).
			want := (v.TaxableOre*v.Rate*2 + 100) / 200
			if v.TaxableOre != taxable[v.Rate] || v.VATOre != want {
				t.Errorf("%s: VAT %+v, want taxable %d, VAT %d", inv.Number, v, taxable[v.Rate], want)
			}
			delete(taxable, v.Rate)
			vat += v.VATOre
		}
		if len(taxable) != 0 {
			t.Errorf("%s: rates %v missing from the breakdown", inv.Number, taxable)
		}
		if inv.NetOre != net || inv.VATOre != vat || inv.TotalOre != net+vat {
			t.Errorf("%s: net %d VAT %d total %d, want %d %d %d", inv.Number, inv.NetOre, inv.VATOre, inv.TotalOre, net, vat, net+vat)
		}
	}
}

// TestEInvoice checks that einvoice's own strict validation accepts the
// invoices, also after a trip through their JSON form, and that the
// amounts are the invoice's.
func TestEInvoice(t *testing.T) {
	g := New(4)
	for i := range n {
		inv := g.Invoice(now)
		e := inv.ToEInvoice()
		if err := e.Validate(); err != nil {
			t.Fatalf("%s: einvoice rejects it: %v", inv.Number, err)
		}
		if want := fmt.Sprintf("%d.%02d", inv.TotalOre/100, inv.TotalOre%100); e.Totals.Payable.String() != want {
			t.Errorf("%s: payable %s, want %s", inv.Number, e.Totals.Payable, want)
		}
		if i%20 != 0 {
			continue // the JSON and UBL round trips are slower; a sample will do
		}
		data, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		back, err := einvoice.DecodeJSON(data)
		if err != nil {
			t.Fatalf("%s: DecodeJSON: %v", inv.Number, err)
		}
		if err := back.Validate(); err != nil {
			t.Fatalf("%s: rejected after JSON: %v", inv.Number, err)
		}
		if _, err := einvoice.ToUBL(e); err != nil {
			t.Fatalf("%s: ToUBL: %v", inv.Number, err)
		}
	}
	if e := New(4).EInvoice(now); e.Validate() != nil {
		t.Errorf("Generator.EInvoice: %v", e.Validate())
	}
}

func TestMember(t *testing.T) {
	g := New(5)
	numbers := map[string]bool{}
	for range n {
		m := g.Member(now)
		if numbers[m.MemberNumber] || m.MemberNumber == "" {
			t.Errorf("member number %q repeated or empty", m.MemberNumber)
		}
		numbers[m.MemberNumber] = true
		if !inWindow(m.JoinedAt) || m.Shares < 1 || !IsTestPersonnummer(m.Person.Personnummer) {
			t.Errorf("member %s: joined %s, %d shares, %s", m.MemberNumber, m.JoinedAt, m.Shares, m.Person.Personnummer)
		}
	}
}

func TestMessage(t *testing.T) {
	g := New(6)
	for range n {
		m := g.Message(now)
		if !inWindow(m.SentAt) || !m.SentAt.Before(now) {
			t.Errorf("sent at %s", m.SentAt)
		}
		if m.Subject == "" || m.Body == "" || strings.Contains(m.Subject+m.Body, "{") {
			t.Errorf("message %q: %q", m.Subject, m.Body)
		}
		for _, s := range []string{m.Subject, m.Body} {
			if !utf8.ValidString(s) {
				t.Errorf("not UTF-8: %q", s)
			}
			for _, r := range s {
				if r < ' ' && r != '\n' {
					t.Errorf("control character %U in %q", r, s)
				}
			}
		}
		if !IsTestPersonnummer(m.Sender.Personnummer) || !reservedDomain(m.Sender.Email) || !reservedDomain(m.Recipient.Email) {
			t.Errorf("sender %s %s, recipient %s", m.Sender.Personnummer, m.Sender.Email, m.Recipient.Email)
		}
	}
}

// sample makes some of everything, in a fixed order, as JSON.
func sample(t *testing.T, seed uint64) []byte {
	t.Helper()
	g := New(seed)
	var v []any
	for range 20 {
		v = append(v, g.Person(), g.Company(), g.Invoice(now), g.Member(now), g.Message(now))
	}
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestDeterministic(t *testing.T) {
	a, b := sample(t, 42), sample(t, 42)
	if !bytes.Equal(a, b) {
		t.Error("the same seed gave different data")
	}
	if c := sample(t, 43); bytes.Equal(a, c) {
		t.Error("seeds 42 and 43 gave the same data")
	}
	if p, q := New(1).Person(), New(2).Person(); p == q {
		t.Error("seeds 1 and 2 gave the same first person")
	}
}

// FuzzIsTestPersonnummer checks that IsTestPersonnummer never panics and
// never says yes to anything Valv's own validator refuses, or to anything
// outside the block.
func FuzzIsTestPersonnummer(f *testing.F) {
	for _, s := range []string{"19900110-2384", "199312312391", "19920229-2398", "19900110-2385", "900110-2384", "19940101-2399"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !IsTestPersonnummer(s) {
			return
		}
		norm, err := validate.Personnummer(s, now)
		if err != nil {
			t.Fatalf("%q: IsTestPersonnummer, but validate.Personnummer: %v", s, err)
		}
		born, err := time.Parse("20060102", norm[:8])
		if err != nil || born.Before(testFirst) || born.After(testLast) || (norm[8:11] != "238" && norm[8:11] != "239") {
			t.Fatalf("%q: outside the block", s)
		}
		if pnr, _, _ := testPersonnummer(int(born.Sub(testFirst).Hours()/24)*2 + int(norm[10]-'8')); strings.Replace(pnr, "-", "", 1) != norm {
			t.Fatalf("%q: not the block's number %s", s, pnr)
		}
	})
}
