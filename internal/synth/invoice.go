package synth

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/valvhq/valv/internal/einvoice"
)

// paymentDays is the invoice term: due this many days after issue.
const paymentDays = 30

// Invoice is a synthetic Swedish invoice in SEK. Amounts are in öre, so
// they are exact: NetOre is the sum of the lines' NetOre, VATOre the sum of
// the VAT breakdown, TotalOre their sum.
type Invoice struct {
	Number         string        `json:"number"`
	IssueDate      time.Time     `json:"issue_date"` // midnight UTC
	DueDate        time.Time     `json:"due_date"`   // IssueDate + 30 days
	Currency       string        `json:"currency"`   // always "SEK"
	Seller         Company       `json:"seller"`
	Buyer          Company       `json:"buyer"`
	BuyerReference string        `json:"buyer_reference"`
	Lines          []InvoiceLine `json:"lines"`
	VAT            []VATAmount   `json:"vat"` // one per rate used, highest rate first
	NetOre         int64         `json:"net_ore"`
	VATOre         int64         `json:"vat_ore"`
	TotalOre       int64         `json:"total_ore"`
	OCR            string        `json:"ocr"`      // payment reference, Luhn checked
	Bankgiro       string        `json:"bankgiro"` // the seller's, to pay to
}

// InvoiceLine is one line of an Invoice. NetOre is Quantity × UnitPriceOre.
type InvoiceLine struct {
	Description  string `json:"description"`
	Quantity     int64  `json:"quantity"`
	UnitCode     string `json:"unit_code"` // UN/ECE Rec 20: HUR, C62, DAY, MON
	UnitPriceOre int64  `json:"unit_price_ore"`
	VATRate      int64  `json:"vat_rate"` // percent: 25, 12 or 6
	NetOre       int64  `json:"net_ore"`
}

// VATAmount is the VAT at one rate: TaxableOre is the sum of the net
// amounts of the lines at Rate, and VATOre is TaxableOre × Rate / 100
// rounded to whole öre, half away from zero (as EN 16931 rounds).
type VATAmount struct {
	Rate       int64 `json:"rate"`
	TaxableOre int64 `json:"taxable_ore"`
	VATOre     int64 `json:"vat_ore"`
}

// article is something a company invoices for, with its unit, VAT rate
// and a range of unit prices in whole kronor.
type article struct {
	description string
	unit        string
	rate        int64
	lo, hi      int
	maxQty      int
}

var articles = []article{
	{"Konsulttjänster, systemutveckling", "HUR", 25, 850, 1450, 40},
	{"Projektledning", "HUR", 25, 900, 1600, 30},
	{"Städning av kontorslokaler", "HUR", 25, 350, 550, 20},
	{"Målning och tapetsering", "HUR", 25, 450, 650, 40},
	{"Elinstallation", "HUR", 25, 550, 850, 24},
	{"Byggmaterial, diverse", "C62", 25, 50, 5000, 10},
	{"Programvarulicens", "MON", 25, 199, 4999, 12},
	{"Frakt och emballage", "C62", 25, 95, 1500, 3},
	{"Kontorsmaterial", "C62", 25, 20, 800, 15},
	{"Hotellövernattning", "DAY", 12, 900, 2200, 5},
	{"Konferenslunch", "C62", 12, 125, 245, 30},
	{"Kaffe och fikabröd", "C62", 12, 35, 95, 40},
	{"Facklitteratur", "C62", 6, 199, 890, 10},
	{"Tidningsprenumeration", "MON", 6, 149, 599, 12},
	{"Persontransport, taxi", "C62", 6, 250, 1200, 4},
}

// Invoice returns a new invoice between two new companies, issued within
// the five years before now and due 30 days later, no later than now.
func (g *Generator) Invoice(now time.Time) Invoice {
	seller, buyer := g.Company(), g.Company()
	issue := g.dateWithin(now, paymentDays)
	g.invoiceSeq++
	inv := Invoice{
		Number:         fmt.Sprintf("%d-%05d", issue.Year(), g.invoiceSeq),
		IssueDate:      issue,
		DueDate:        issue.AddDate(0, 0, paymentDays),
		Currency:       "SEK",
		Seller:         seller,
		Buyer:          buyer,
		BuyerReference: g.buyerReference(),
		OCR:            g.ocr(),
		Bankgiro:       seller.Bankgiro,
	}
	for range g.between(1, 5) {
		a := pick(g, articles)
		price := int64(g.between(a.lo, a.hi)) * 100
		if g.intn(4) == 0 {
			price += int64(g.intn(100)) // now and then a price with öre
		}
		qty := int64(g.between(1, a.maxQty))
		inv.Lines = append(inv.Lines, InvoiceLine{
			Description:  a.description,
			Quantity:     qty,
			UnitCode:     a.unit,
			UnitPriceOre: price,
			VATRate:      a.rate,
			NetOre:       qty * price,
		})
	}
	inv.VAT = vatBreakdown(inv.Lines)
	for _, l := range inv.Lines {
		inv.NetOre += l.NetOre
	}
	for _, v := range inv.VAT {
		inv.VATOre += v.VATOre
	}
	inv.TotalOre = inv.NetOre + inv.VATOre
	return inv
}

// vatBreakdown sums the lines per VAT rate and computes the VAT of each
// sum, highest rate first.
func vatBreakdown(lines []InvoiceLine) []VATAmount {
	var out []VATAmount
	for _, l := range lines {
		i := sort.Search(len(out), func(i int) bool { return out[i].Rate <= l.VATRate })
		if i == len(out) || out[i].Rate != l.VATRate {
			out = append(out[:i], append([]VATAmount{{Rate: l.VATRate}}, out[i:]...)...)
		}
		out[i].TaxableOre += l.NetOre
	}
	for i := range out {
		out[i].VATOre = percentOf(out[i].TaxableOre, out[i].Rate)
	}
	return out
}

// percentOf returns ore × rate / 100 rounded to a whole number, half away
// from zero.
func percentOf(ore, rate int64) int64 {
	p := ore * rate
	if p < 0 {
		return -((-p + 50) / 100)
	}
	return (p + 50) / 100
}

// buyerReference returns a cost-centre style reference such as "KST4821".
func (g *Generator) buyerReference() string {
	return pick(g, []string{"KST", "PRJ", "AVD", "REF"}) + strconv.Itoa(g.between(1000, 9999))
}

// EInvoice returns a new invoice (as Invoice would) as a Peppol BIS
// Billing 3.0 invoice.
func (g *Generator) EInvoice(now time.Time) einvoice.Invoice {
	return g.Invoice(now).ToEInvoice()
}

// ToEInvoice returns inv as a Peppol BIS Billing 3.0 invoice, which passes
// the strict rules of einvoice (Invoice.Validate): the parties are
// identified by organisationsnummer (ICD 0007), the seller is approved for
// F-skatt, and payment is by bankgiro with the OCR reference.
func (inv Invoice) ToEInvoice() einvoice.Invoice {
	out := einvoice.Invoice{
		Number:         inv.Number,
		IssueDate:      einvoice.DateOf(inv.IssueDate),
		DueDate:        einvoice.DateOf(inv.DueDate),
		Currency:       inv.Currency,
		BuyerReference: inv.BuyerReference,
		Seller:         party(inv.Seller),
		Buyer:          party(inv.Buyer),
		PaymentMeans: []einvoice.PaymentMeans{{
			Code:           "30", // credit transfer; to a bankgiro by the provider below
			RemittanceInfo: inv.OCR,
			Account: einvoice.Account{
				ID:         strings.Replace(inv.Bankgiro, "-", "", 1),
				Name:       inv.Seller.Name,
				ProviderID: "SE:BANKGIRO",
			},
		}},
		PaymentTerms: strconv.Itoa(paymentDays) + " dagar netto",
		Totals: einvoice.Totals{
			LineExtension: kronor(inv.NetOre),
			TaxExclusive:  kronor(inv.NetOre),
			VAT:           kronor(inv.VATOre),
			TaxInclusive:  kronor(inv.TotalOre),
			Payable:       kronor(inv.TotalOre),
		},
	}
	out.Seller.TaxRegistrationID = "Godkänd för F-skatt"
	for _, v := range inv.VAT {
		out.VATBreakdown = append(out.VATBreakdown, einvoice.VATBreakdown{
			Category:      "S",
			Rate:          integer(v.Rate),
			TaxableAmount: kronor(v.TaxableOre),
			TaxAmount:     kronor(v.VATOre),
		})
	}
	for i, l := range inv.Lines {
		out.Lines = append(out.Lines, einvoice.Line{
			ID:        strconv.Itoa(i + 1),
			Quantity:  integer(l.Quantity),
			UnitCode:  l.UnitCode,
			NetAmount: kronor(l.NetOre),
			Item:      einvoice.Item{Name: l.Description},
			VAT:       einvoice.VAT{Category: "S", Rate: integer(l.VATRate)},
			Price:     einvoice.Price{Amount: kronor(l.UnitPriceOre)},
		})
	}
	return out
}

// party returns c as an invoice party identified by its
// organisationsnummer, both as electronic address and as legal
// registration (ICD 0007).
func party(c Company) einvoice.Party {
	orgnr := strings.Replace(c.Organisationsnummer, "-", "", 1)
	return einvoice.Party{
		Name:       c.Name,
		EndpointID: einvoice.Identifier{ID: orgnr, Scheme: "0007"},
		LegalID:    einvoice.Identifier{ID: orgnr, Scheme: "0007"},
		VATID:      c.VATNumber,
		Address: einvoice.Address{
			Street:     c.Address.Street,
			City:       c.Address.City,
			PostalCode: c.Address.PostalCode,
			Country:    c.Address.Country,
		},
		Contact: einvoice.Contact{Email: c.Email, Phone: c.Phone},
	}
}

// kronor returns an amount in öre as a decimal number of kronor with two
// decimals ("1250.00").
func kronor(ore int64) einvoice.Decimal {
	sign := ""
	if ore < 0 {
		sign, ore = "-", -ore
	}
	return einvoice.MustParseDecimal(fmt.Sprintf("%s%d.%02d", sign, ore/100, ore%100))
}

// integer returns n as a decimal without fraction digits.
func integer(n int64) einvoice.Decimal {
	return einvoice.MustParseDecimal(strconv.FormatInt(n, 10))
}
