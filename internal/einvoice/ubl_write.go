package einvoice

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"strings"
)

// UBL namespaces and the identifiers of Peppol BIS Billing 3.0.
const (
	nsInvoice = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
	nsCAC     = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
	nsCBC     = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"

	// CustomizationID is BT-24, the specification identifier.
	CustomizationID = "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
	// ProfileID is BT-23, the business process: Peppol billing (P1).
	ProfileID = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
)

// ToUBL validates inv (as Validate does) and returns it as a Peppol BIS
// Billing 3.0 UBL 2.1 Invoice, UTF-8, indented, with its elements in the
// order the UBL schema requires. The output is deterministic: the same
// Invoice always gives the same bytes. An empty TypeCode is written as 380.
func ToUBL(inv Invoice) ([]byte, error) {
	if err := inv.Validate(); err != nil {
		return nil, err
	}
	w := &writer{cur: inv.Currency}
	w.buf.Grow(4096 + 1500*len(inv.Lines))
	w.buf.WriteString(xml.Header)
	w.buf.WriteString(`<Invoice xmlns="` + nsInvoice + `" xmlns:cac="` + nsCAC + `" xmlns:cbc="` + nsCBC + `">` + "\n")
	w.depth = 1
	w.invoice(&inv)
	w.buf.WriteString("</Invoice>\n")
	return w.buf.Bytes(), nil
}

// writer writes UBL elements in order, indented by two spaces.
type writer struct {
	buf     bytes.Buffer
	depth   int
	cur     string // the invoice currency, for currencyID
	scratch []byte // for formatting numbers and dates
}

func (w *writer) indent() {
	for i := 0; i < w.depth; i++ {
		w.buf.WriteString("  ")
	}
}

func (w *writer) open(name string) {
	w.indent()
	w.buf.WriteByte('<')
	w.buf.WriteString(name)
	w.buf.WriteString(">\n")
	w.depth++
}

func (w *writer) close(name string) {
	w.depth--
	w.indent()
	w.buf.WriteString("</")
	w.buf.WriteString(name)
	w.buf.WriteString(">\n")
}

// leaf writes <name attrs...>text</name>; attrs are name, value pairs and
// an attribute with an empty value is left out. Text is trimmed.
func (w *writer) leaf(name, text string, attrs ...string) {
	w.start(name, attrs)
	escape(&w.buf, strings.TrimSpace(text))
	w.end(name)
}

// num writes a leaf holding a decimal.
func (w *writer) num(name string, d Decimal, attrs ...string) {
	w.start(name, attrs)
	w.scratch = d.appendTo(w.scratch[:0])
	w.buf.Write(w.scratch)
	w.end(name)
}

func (w *writer) start(name string, attrs []string) {
	w.indent()
	w.buf.WriteByte('<')
	w.buf.WriteString(name)
	for i := 0; i+1 < len(attrs); i += 2 {
		if v := strings.TrimSpace(attrs[i+1]); v != "" {
			w.buf.WriteByte(' ')
			w.buf.WriteString(attrs[i])
			w.buf.WriteString(`="`)
			escape(&w.buf, v)
			w.buf.WriteByte('"')
		}
	}
	w.buf.WriteByte('>')
}

func (w *writer) end(name string) {
	w.buf.WriteString("</")
	w.buf.WriteString(name)
	w.buf.WriteString(">\n")
}

// escape writes s with the characters XML text and attribute values
// cannot hold literally written as references, as xml.EscapeText does.
// Validation has made sure s holds only characters XML allows.
func escape(b *bytes.Buffer, s string) {
	last := 0
	for i := 0; i < len(s); i++ {
		var esc string
		switch s[i] {
		case '"':
			esc = "&#34;"
		case '\'':
			esc = "&#39;"
		case '&':
			esc = "&amp;"
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '\t':
			esc = "&#x9;"
		case '\n':
			esc = "&#xA;"
		case '\r':
			esc = "&#xD;"
		default:
			continue
		}
		b.WriteString(s[last:i])
		b.WriteString(esc)
		last = i + 1
	}
	b.WriteString(s[last:])
}

// opt writes a leaf only when text is not blank.
func (w *writer) opt(name, text string, attrs ...string) {
	if !blank(text) {
		w.leaf(name, text, attrs...)
	}
}

// wrap writes <outer><inner>text</inner></outer> when text is not blank.
func (w *writer) wrap(outer, inner, text string, attrs ...string) {
	if blank(text) {
		return
	}
	w.open(outer)
	w.leaf(inner, text, attrs...)
	w.close(outer)
}

func (w *writer) amount(name string, d Decimal) {
	if d.IsSet() {
		w.num(name, d, "currencyID", w.cur)
	}
}

func (w *writer) date(name string, d Date) {
	if d.IsSet() {
		w.start(name, nil)
		w.scratch = d.appendTo(w.scratch[:0])
		w.buf.Write(w.scratch)
		w.end(name)
	}
}

func (w *writer) invoice(inv *Invoice) {
	w.leaf("cbc:CustomizationID", CustomizationID)
	w.leaf("cbc:ProfileID", ProfileID)
	w.leaf("cbc:ID", inv.Number)
	w.date("cbc:IssueDate", inv.IssueDate)
	w.date("cbc:DueDate", inv.DueDate)
	typeCode := inv.TypeCode
	if blank(typeCode) {
		typeCode = "380"
	}
	w.leaf("cbc:InvoiceTypeCode", typeCode)
	w.opt("cbc:Note", inv.Note)
	w.date("cbc:TaxPointDate", inv.TaxPointDate)
	w.leaf("cbc:DocumentCurrencyCode", inv.Currency)
	w.opt("cbc:TaxCurrencyCode", inv.TaxCurrency)
	w.opt("cbc:AccountingCost", inv.BuyerAccountingReference)
	w.opt("cbc:BuyerReference", inv.BuyerReference)
	w.period(inv.Period)
	if !blank(inv.OrderReference) || !blank(inv.SalesOrderReference) {
		w.open("cac:OrderReference")
		w.leaf("cbc:ID", inv.OrderReference)
		w.opt("cbc:SalesOrderID", inv.SalesOrderReference)
		w.close("cac:OrderReference")
	}
	for _, p := range inv.PrecedingInvoices {
		w.open("cac:BillingReference")
		w.open("cac:InvoiceDocumentReference")
		w.leaf("cbc:ID", p.Number)
		w.date("cbc:IssueDate", p.IssueDate)
		w.close("cac:InvoiceDocumentReference")
		w.close("cac:BillingReference")
	}
	w.wrap("cac:DespatchDocumentReference", "cbc:ID", inv.DespatchAdviceReference)
	w.wrap("cac:ReceiptDocumentReference", "cbc:ID", inv.ReceivingAdviceReference)
	w.wrap("cac:OriginatorDocumentReference", "cbc:ID", inv.TenderReference)
	w.wrap("cac:ContractDocumentReference", "cbc:ID", inv.ContractReference)
	if !blank(inv.InvoicedObject.ID) {
		w.open("cac:AdditionalDocumentReference")
		w.leaf("cbc:ID", inv.InvoicedObject.ID, "schemeID", inv.InvoicedObject.Scheme)
		w.leaf("cbc:DocumentTypeCode", "130")
		w.close("cac:AdditionalDocumentReference")
	}
	for _, d := range inv.SupportingDocuments {
		w.supportingDocument(d)
	}
	w.wrap("cac:ProjectReference", "cbc:ID", inv.ProjectReference)
	w.open("cac:AccountingSupplierParty")
	w.party(&inv.Seller, true)
	w.close("cac:AccountingSupplierParty")
	w.open("cac:AccountingCustomerParty")
	w.party(&inv.Buyer, false)
	w.close("cac:AccountingCustomerParty")
	w.payee(inv.Payee)
	w.taxRepresentative(inv.TaxRepresentative)
	w.delivery(inv.Delivery)
	for _, pm := range inv.PaymentMeans {
		w.paymentMeans(pm)
	}
	w.wrap("cac:PaymentTerms", "cbc:Note", inv.PaymentTerms)
	for _, ac := range inv.AllowancesCharges {
		w.allowanceCharge(ac, true)
	}
	w.taxTotal(inv)
	w.monetaryTotal(inv.Totals)
	for i := range inv.Lines {
		w.line(&inv.Lines[i])
	}
}

func (w *writer) period(p Period) {
	if p == (Period{}) {
		return
	}
	w.open("cac:InvoicePeriod")
	w.date("cbc:StartDate", p.Start)
	w.date("cbc:EndDate", p.End)
	w.opt("cbc:DescriptionCode", p.Code)
	w.close("cac:InvoicePeriod")
}

func (w *writer) supportingDocument(d SupportingDocument) {
	w.open("cac:AdditionalDocumentReference")
	w.leaf("cbc:ID", d.ID)
	w.opt("cbc:DocumentDescription", d.Description)
	a := d.Attachment
	if len(a.Content) > 0 || !blank(d.URI) {
		w.open("cac:Attachment")
		if len(a.Content) > 0 {
			w.leaf("cbc:EmbeddedDocumentBinaryObject", base64.StdEncoding.EncodeToString(a.Content),
				"mimeCode", a.MIMECode, "filename", a.Filename)
		}
		if !blank(d.URI) {
			w.wrap("cac:ExternalReference", "cbc:URI", d.URI)
		}
		w.close("cac:Attachment")
	}
	w.close("cac:AdditionalDocumentReference")
}

func (w *writer) party(p *Party, seller bool) {
	w.open("cac:Party")
	w.leaf("cbc:EndpointID", p.EndpointID.ID, "schemeID", p.EndpointID.Scheme)
	for _, id := range p.Identifiers {
		w.wrap("cac:PartyIdentification", "cbc:ID", id.ID, "schemeID", id.Scheme)
	}
	w.wrap("cac:PartyName", "cbc:Name", p.TradingName)
	w.address("cac:PostalAddress", p.Address)
	if !blank(p.VATID) {
		w.partyTaxScheme(p.VATID, "VAT")
	}
	if seller && !blank(p.TaxRegistrationID) {
		w.partyTaxScheme(p.TaxRegistrationID, "TAX")
	}
	w.open("cac:PartyLegalEntity")
	w.leaf("cbc:RegistrationName", p.Name)
	w.opt("cbc:CompanyID", p.LegalID.ID, "schemeID", p.LegalID.Scheme)
	if seller {
		w.opt("cbc:CompanyLegalForm", p.LegalForm)
	}
	w.close("cac:PartyLegalEntity")
	if c := p.Contact; c != (Contact{}) {
		w.open("cac:Contact")
		w.opt("cbc:Name", c.Name)
		w.opt("cbc:Telephone", c.Phone)
		w.opt("cbc:ElectronicMail", c.Email)
		w.close("cac:Contact")
	}
	w.close("cac:Party")
}

func (w *writer) partyTaxScheme(id, scheme string) {
	w.open("cac:PartyTaxScheme")
	w.leaf("cbc:CompanyID", id)
	w.wrap("cac:TaxScheme", "cbc:ID", scheme)
	w.close("cac:PartyTaxScheme")
}

func (w *writer) address(name string, a Address) {
	w.open(name)
	w.opt("cbc:StreetName", a.Street)
	w.opt("cbc:AdditionalStreetName", a.AdditionalStreet)
	w.opt("cbc:CityName", a.City)
	w.opt("cbc:PostalZone", a.PostalCode)
	w.opt("cbc:CountrySubentity", a.Subdivision)
	w.wrap("cac:AddressLine", "cbc:Line", a.Line)
	w.wrap("cac:Country", "cbc:IdentificationCode", a.Country)
	w.close(name)
}

func (w *writer) payee(p Payee) {
	if blank(p.Name) && p.Identifier == (Identifier{}) && p.LegalID == (Identifier{}) {
		return
	}
	w.open("cac:PayeeParty")
	w.wrap("cac:PartyIdentification", "cbc:ID", p.Identifier.ID, "schemeID", p.Identifier.Scheme)
	w.wrap("cac:PartyName", "cbc:Name", p.Name)
	w.wrap("cac:PartyLegalEntity", "cbc:CompanyID", p.LegalID.ID, "schemeID", p.LegalID.Scheme)
	w.close("cac:PayeeParty")
}

func (w *writer) taxRepresentative(t TaxRepresentative) {
	if blank(t.Name) && blank(t.VATID) && t.Address == (Address{}) {
		return
	}
	w.open("cac:TaxRepresentativeParty")
	w.wrap("cac:PartyName", "cbc:Name", t.Name)
	w.address("cac:PostalAddress", t.Address)
	w.partyTaxScheme(t.VATID, "VAT")
	w.close("cac:TaxRepresentativeParty")
}

func (w *writer) delivery(d Delivery) {
	if blank(d.PartyName) && d.LocationID == (Identifier{}) && !d.Date.IsSet() && d.Address == (Address{}) {
		return
	}
	w.open("cac:Delivery")
	w.date("cbc:ActualDeliveryDate", d.Date)
	if !blank(d.LocationID.ID) || d.Address != (Address{}) {
		w.open("cac:DeliveryLocation")
		w.opt("cbc:ID", d.LocationID.ID, "schemeID", d.LocationID.Scheme)
		if d.Address != (Address{}) {
			w.address("cac:Address", d.Address)
		}
		w.close("cac:DeliveryLocation")
	}
	if !blank(d.PartyName) {
		w.open("cac:DeliveryParty")
		w.wrap("cac:PartyName", "cbc:Name", d.PartyName)
		w.close("cac:DeliveryParty")
	}
	w.close("cac:Delivery")
}

func (w *writer) paymentMeans(pm PaymentMeans) {
	w.open("cac:PaymentMeans")
	w.leaf("cbc:PaymentMeansCode", pm.Code, "name", pm.Text)
	w.opt("cbc:PaymentID", pm.RemittanceInfo)
	if c := pm.Card; c != (Card{}) {
		w.open("cac:CardAccount")
		w.leaf("cbc:PrimaryAccountNumberID", c.PrimaryAccountNumber)
		w.leaf("cbc:NetworkID", c.NetworkID)
		w.opt("cbc:HolderName", c.HolderName)
		w.close("cac:CardAccount")
	}
	if a := pm.Account; a != (Account{}) {
		w.open("cac:PayeeFinancialAccount")
		w.leaf("cbc:ID", a.ID)
		w.opt("cbc:Name", a.Name)
		w.wrap("cac:FinancialInstitutionBranch", "cbc:ID", a.ProviderID)
		w.close("cac:PayeeFinancialAccount")
	}
	if m := pm.Mandate; m != (Mandate{}) {
		w.open("cac:PaymentMandate")
		w.opt("cbc:ID", m.ID)
		w.wrap("cac:PayerFinancialAccount", "cbc:ID", m.DebitedAccount)
		w.close("cac:PaymentMandate")
	}
	w.close("cac:PaymentMeans")
}

func (w *writer) allowanceCharge(ac AllowanceCharge, doc bool) {
	w.open("cac:AllowanceCharge")
	if ac.Charge {
		w.leaf("cbc:ChargeIndicator", "true")
	} else {
		w.leaf("cbc:ChargeIndicator", "false")
	}
	w.opt("cbc:AllowanceChargeReasonCode", ac.ReasonCode)
	w.opt("cbc:AllowanceChargeReason", ac.Reason)
	if ac.Percentage.IsSet() {
		w.num("cbc:MultiplierFactorNumeric", ac.Percentage)
	}
	w.amount("cbc:Amount", ac.Amount)
	w.amount("cbc:BaseAmount", ac.BaseAmount)
	if doc {
		w.taxCategory("cac:TaxCategory", ac.VAT, "", "")
	}
	w.close("cac:AllowanceCharge")
}

func (w *writer) taxCategory(name string, v VAT, reasonCode, reason string) {
	w.open(name)
	w.leaf("cbc:ID", v.Category)
	if v.Rate.IsSet() {
		w.num("cbc:Percent", v.Rate)
	}
	w.opt("cbc:TaxExemptionReasonCode", reasonCode)
	w.opt("cbc:TaxExemptionReason", reason)
	w.wrap("cac:TaxScheme", "cbc:ID", "VAT")
	w.close(name)
}

func (w *writer) taxTotal(inv *Invoice) {
	w.open("cac:TaxTotal")
	w.amount("cbc:TaxAmount", inv.Totals.VAT)
	for _, b := range inv.VATBreakdown {
		w.open("cac:TaxSubtotal")
		w.amount("cbc:TaxableAmount", b.TaxableAmount)
		w.amount("cbc:TaxAmount", b.TaxAmount)
		w.taxCategory("cac:TaxCategory", VAT{Category: b.Category, Rate: b.Rate}, b.ExemptionReasonCode, b.ExemptionReason)
		w.close("cac:TaxSubtotal")
	}
	w.close("cac:TaxTotal")
	if inv.Totals.VATInTaxCurrency.IsSet() {
		w.open("cac:TaxTotal")
		w.num("cbc:TaxAmount", inv.Totals.VATInTaxCurrency, "currencyID", inv.TaxCurrency)
		w.close("cac:TaxTotal")
	}
}

func (w *writer) monetaryTotal(t Totals) {
	w.open("cac:LegalMonetaryTotal")
	w.amount("cbc:LineExtensionAmount", t.LineExtension)
	w.amount("cbc:TaxExclusiveAmount", t.TaxExclusive)
	w.amount("cbc:TaxInclusiveAmount", t.TaxInclusive)
	w.amount("cbc:AllowanceTotalAmount", t.AllowanceTotal)
	w.amount("cbc:ChargeTotalAmount", t.ChargeTotal)
	w.amount("cbc:PrepaidAmount", t.Prepaid)
	w.amount("cbc:PayableRoundingAmount", t.Rounding)
	w.amount("cbc:PayableAmount", t.Payable)
	w.close("cac:LegalMonetaryTotal")
}

func (w *writer) line(ln *Line) {
	w.open("cac:InvoiceLine")
	w.leaf("cbc:ID", ln.ID)
	w.opt("cbc:Note", ln.Note)
	w.num("cbc:InvoicedQuantity", ln.Quantity, "unitCode", ln.UnitCode)
	w.amount("cbc:LineExtensionAmount", ln.NetAmount)
	w.opt("cbc:AccountingCost", ln.AccountingReference)
	w.period(ln.Period)
	w.wrap("cac:OrderLineReference", "cbc:LineID", ln.OrderLineReference)
	if !blank(ln.ObjectIdentifier.ID) {
		w.open("cac:DocumentReference")
		w.leaf("cbc:ID", ln.ObjectIdentifier.ID, "schemeID", ln.ObjectIdentifier.Scheme)
		w.leaf("cbc:DocumentTypeCode", "130")
		w.close("cac:DocumentReference")
	}
	for _, ac := range ln.AllowancesCharges {
		w.allowanceCharge(ac, false)
	}
	it := &ln.Item
	w.open("cac:Item")
	w.opt("cbc:Description", it.Description)
	w.leaf("cbc:Name", it.Name)
	w.wrap("cac:BuyersItemIdentification", "cbc:ID", it.BuyerID)
	w.wrap("cac:SellersItemIdentification", "cbc:ID", it.SellerID)
	w.wrap("cac:StandardItemIdentification", "cbc:ID", it.StandardID.ID, "schemeID", it.StandardID.Scheme)
	w.wrap("cac:OriginCountry", "cbc:IdentificationCode", it.OriginCountry)
	for _, c := range it.Classifications {
		w.wrap("cac:CommodityClassification", "cbc:ItemClassificationCode", c.Code, "listID", c.ListID, "listVersionID", c.ListVersion)
	}
	w.taxCategory("cac:ClassifiedTaxCategory", ln.VAT, "", "")
	for _, a := range it.Attributes {
		w.open("cac:AdditionalItemProperty")
		w.leaf("cbc:Name", a.Name)
		w.leaf("cbc:Value", a.Value)
		w.close("cac:AdditionalItemProperty")
	}
	w.close("cac:Item")
	p := ln.Price
	w.open("cac:Price")
	w.amount("cbc:PriceAmount", p.Amount)
	if p.BaseQuantity.IsSet() {
		w.num("cbc:BaseQuantity", p.BaseQuantity, "unitCode", ln.UnitCode)
	}
	if p.Discount.IsSet() || p.GrossAmount.IsSet() {
		w.open("cac:AllowanceCharge")
		w.leaf("cbc:ChargeIndicator", "false")
		w.amount("cbc:Amount", p.Discount)
		w.amount("cbc:BaseAmount", p.GrossAmount)
		w.close("cac:AllowanceCharge")
	}
	w.close("cac:Price")
	w.close("cac:InvoiceLine")
}
