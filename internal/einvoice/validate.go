package einvoice

import (
	"math/big"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Validate checks the invoice against the rules of EN 16931 and Peppol BIS
// Billing 3.0 that this package implements (docs/einvoice.md lists them),
// strictly, as for an invoice we are about to send. It returns nil, or a
// *problem.Error whose field errors name every problem found by JSON
// pointer (e.g. /lines/2/quantity) with a stable code and a message that
// cites the rule. Messages never contain values from the invoice.
func (inv *Invoice) Validate() error {
	c := checker{inv: inv, strict: true}
	c.run()
	return c.errs.err()
}

// checker applies the rules to one invoice.
//
// Strict mode is for invoices we send: it requires VAT amounts to be the
// exactly rounded product (BR-CO-17 without the validator's tolerance of
// one currency unit) and turns the Swedish rules Peppol only warns about
// (SE-R-003, -004, -007 to -013) into errors. Lenient mode is for invoices
// we receive, which the Peppol network has already validated: it accepts
// what the official validation accepts.
type checker struct {
	inv    *Invoice
	strict bool
	errs   fieldErrors
}

func (c *checker) add(l loc, code, msg string) { c.errs.add(l, code, msg) }

func (c *checker) run() {
	r := rootLoc()
	if !c.errs.xml && !c.text(reflect.ValueOf(c.inv).Elem(), "", false) {
		// Text from FromUBL is well-formed by construction; text from
		// JSON or Go may hold what XML cannot carry. Look again, this
		// time building the paths to report.
		c.text(reflect.ValueOf(c.inv).Elem(), "", true)
	}
	c.document(r)
	c.party(r.at("seller", "cac:AccountingSupplierParty/cac:Party"), &c.inv.Seller, true)
	c.party(r.at("buyer", "cac:AccountingCustomerParty/cac:Party"), &c.inv.Buyer, false)
	c.payee(r.at("payee", "cac:PayeeParty"))
	c.taxRepresentative(r.at("tax_representative", "cac:TaxRepresentativeParty"))
	c.delivery(r.at("delivery", "cac:Delivery"))
	c.payment(r)
	for i := range c.inv.AllowancesCharges {
		c.allowanceCharge(r.idx("allowances_charges", "cac:AllowanceCharge", i), &c.inv.AllowancesCharges[i], true)
	}
	c.lines(r)
	c.vatBreakdown(r)
	c.totals(r)
	c.sweden(r)
}

func blank(s string) bool { return strings.TrimSpace(s) == "" }

func (c *checker) required(l loc, s, msg string) bool {
	if blank(s) {
		c.add(l, "required", msg)
		return false
	}
	return true
}

func (c *checker) requiredDecimal(l loc, d Decimal, msg string) bool {
	if !d.IsSet() {
		c.add(l, "required", msg)
		return false
	}
	return true
}

// amount checks that an amount has at most two decimals.
func (c *checker) amount(l loc, d Decimal, what, rule string) {
	if d.IsSet() && d.Scale() > 2 {
		c.add(l, "too_many_decimals", what+" may have at most two decimals ["+rule+"].")
	}
}

func (c *checker) code(l loc, list, s, msg string) {
	if !blank(s) && !isCode(list, s) {
		c.add(l, "unknown_code", msg)
	}
}

func (c *checker) document(r loc) {
	inv := c.inv
	c.required(r.at("number", "cbc:ID"), inv.Number, "The invoice number (BT-1) is required [BR-02].")
	if !inv.IssueDate.IsSet() {
		c.add(r.at("issue_date", "cbc:IssueDate"), "required", "The invoice issue date (BT-2) is required [BR-03].")
	}
	c.code(r.at("type_code", "cbc:InvoiceTypeCode"), invoiceTypeCodes, inv.TypeCode,
		"The invoice type code (BT-3) must be one Peppol allows for an invoice, such as 380 [PEPPOL-EN16931-P0100]; credit notes are not supported.")
	if c.required(r.at("currency", "cbc:DocumentCurrencyCode"), inv.Currency, "The invoice currency code (BT-5) is required [BR-05].") {
		c.code(r.at("currency", "cbc:DocumentCurrencyCode"), iso4217, inv.Currency,
			"The invoice currency code (BT-5) must be an ISO 4217 code in capitals, such as SEK or EUR [BR-CL-04].")
	}
	tc := r.at("tax_currency", "cbc:TaxCurrencyCode")
	vatTC := r.at("totals/vat_amount_tax_currency", "cac:TaxTotal[not(cac:TaxSubtotal)]/cbc:TaxAmount")
	if !blank(inv.TaxCurrency) {
		c.code(tc, iso4217, inv.TaxCurrency, "The VAT accounting currency code (BT-6) must be an ISO 4217 code in capitals [BR-CL-05].")
		if inv.TaxCurrency == inv.Currency {
			c.add(tc, "not_allowed", "The VAT accounting currency (BT-6) must differ from the invoice currency; leave it out when they are the same [PEPPOL-EN16931-R005].")
		}
		if !inv.Totals.VATInTaxCurrency.IsSet() {
			c.add(vatTC, "required", "With a VAT accounting currency (BT-6), the total VAT in that currency (BT-111) is required [BR-53].")
		}
	} else if inv.Totals.VATInTaxCurrency.IsSet() {
		c.add(tc, "required", "The total VAT in accounting currency (BT-111) needs the VAT accounting currency code (BT-6) [PEPPOL-EN16931-R054].")
	}
	if blank(inv.BuyerReference) && blank(inv.OrderReference) {
		c.add(r.at("buyer_reference", "cbc:BuyerReference"), "required",
			"A buyer reference (BT-10) or a purchase order reference (BT-13) is required [PEPPOL-EN16931-R003].")
	}
	if !blank(inv.SalesOrderReference) && blank(inv.OrderReference) {
		c.add(r.at("order_reference", "cac:OrderReference/cbc:ID"), "required",
			"With a sales order reference (BT-14) the purchase order reference (BT-13) is required too; write NA if there is none.")
	}
	c.period(r.at("period", "cac:InvoicePeriod"), inv.Period, true)
	if inv.TaxPointDate.IsSet() && inv.Period.Code != "" {
		c.add(r.at("tax_point_date", "cbc:TaxPointDate"), "not_allowed",
			"Give either the VAT point date (BT-7) or the VAT point date code (BT-8), not both [BR-CO-03].")
	}
	for i, p := range inv.PrecedingInvoices {
		l := r.idx("preceding_invoices", "cac:BillingReference", i).at("number", "cac:InvoiceDocumentReference/cbc:ID")
		c.required(l, p.Number, "Each preceding invoice reference needs the preceding invoice number (BT-25) [BR-55].")
	}
	if inv.InvoicedObject != (Identifier{}) {
		l := r.at("invoiced_object", "cac:AdditionalDocumentReference[cbc:DocumentTypeCode='130']/cbc:ID")
		c.required(l.at("id", ""), inv.InvoicedObject.ID, "The invoiced object identifier (BT-18) is empty.")
		if s := inv.InvoicedObject.Scheme; s != "" && !isUpperCode(s, 2, 3) {
			c.add(l.at("scheme", "@schemeID"), "invalid_format", "The invoiced object identifier scheme must be a UNCL1153 code such as AUN [BR-CL-07].")
		}
	}
	for i := range inv.SupportingDocuments {
		d := &inv.SupportingDocuments[i]
		l := r.idx("supporting_documents", "cac:AdditionalDocumentReference", i)
		c.required(l.at("id", "cbc:ID"), d.ID, "Each supporting document needs a reference (BT-122) [BR-52].")
		a := d.Attachment
		if a.Content == nil && a.MIMECode == "" && a.Filename == "" {
			continue
		}
		al := l.at("attachment", "cac:Attachment/cbc:EmbeddedDocumentBinaryObject")
		if len(a.Content) == 0 {
			c.add(al.at("content", ""), "required", "An attached document (BT-125) must not be empty.")
		}
		if c.required(al.at("mime_code", "@mimeCode"), a.MIMECode, "An attached document needs its MIME code (BT-125-1).") {
			c.code(al.at("mime_code", "@mimeCode"), mimeCodes, a.MIMECode,
				"An attached document must be PDF, PNG, JPEG, CSV, XLSX or ODS [PEPPOL-EN16931-CL001].")
		}
		c.required(al.at("filename", "@filename"), a.Filename, "An attached document needs a file name (BT-125-2).")
	}
}

func (c *checker) period(l loc, p Period, document bool) {
	if p == (Period{}) {
		return
	}
	if !p.Start.IsSet() && !p.End.IsSet() {
		c.add(l, "required", "A period needs a start date, an end date or both [BR-CO-19, BR-CO-20].")
	}
	if p.Start.IsSet() && p.End.IsSet() && p.End.Compare(p.Start) < 0 {
		c.add(l.at("end", "cbc:EndDate"), "invalid_range", "A period must not end before it starts [BR-29, BR-30].")
	}
	if p.Code != "" {
		cl := l.at("description_code", "cbc:DescriptionCode")
		if !document {
			c.add(cl, "not_allowed", "An invoice line period has no VAT point date code.")
		} else {
			c.code(cl, vatPointDateCodes, p.Code, "The VAT point date code (BT-8) must be 3, 35 or 432 [PEPPOL-EN16931-CL006].")
		}
	}
}

// identifier checks an identifier's scheme and, for the schemes Peppol
// checks, its check digits. kind is "eas", "icd", "icd-sepa" or "".
func (c *checker) identifier(l loc, id Identifier, kind, what string) {
	if id == (Identifier{}) {
		return
	}
	c.required(l.at("id", ""), id.ID, what+" is empty.")
	sl := l.at("scheme", "@schemeID")
	switch {
	case id.Scheme == "":
		return
	case kind == "icd-sepa" && id.Scheme == "SEPA":
		return
	case (kind == "eas" || kind == "icd" || kind == "icd-sepa") && !isSchemeCode(id.Scheme):
		list, rule := "ISO 6523 ICD", "BR-CL-10"
		if kind == "eas" {
			list, rule = "EAS", "PEPPOL-EN16931-CL008"
		}
		c.add(sl, "invalid_format", "The scheme of the "+lower(what)+" must be a four-digit "+list+" code, such as 0007 or 0088 ["+rule+"].")
		return
	}
	if rule := validSchemeID(id.Scheme, id.ID); rule != "" && !blank(id.ID) {
		c.add(l.at("id", ""), "invalid_checksum", what+" is not valid for scheme "+id.Scheme+" (wrong length, characters or check digit) ["+rule+"].")
	}
}

func lower(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// partyTerms are the business terms and rules of the seller or the buyer.
type partyTerms struct {
	role, group                        string
	name, endpoint, id, legal, vat     string // business terms
	nameRule, endpointRule, schemeRule string
	addressRule, countryRule           string
}

func termsOf(seller bool) partyTerms {
	if seller {
		return partyTerms{"seller", "BG-4", "BT-27", "BT-34", "BT-29", "BT-30", "BT-31",
			"BR-06", "PEPPOL-EN16931-R020", "BR-62", "BR-08", "BR-09"}
	}
	return partyTerms{"buyer", "BG-7", "BT-44", "BT-49", "BT-46", "BT-47", "BT-48",
		"BR-07", "PEPPOL-EN16931-R010", "BR-63", "BR-10", "BR-11"}
}

func (c *checker) party(l loc, p *Party, seller bool) {
	t := termsOf(seller)
	role := t.role
	Role := strings.ToUpper(role[:1]) + role[1:]
	if reflect.ValueOf(*p).IsZero() {
		c.add(l, "required", "The "+role+" ("+t.group+") is required ["+t.nameRule+", "+t.addressRule+"].")
		return
	}
	c.required(l.at("name", "cac:PartyLegalEntity/cbc:RegistrationName"), p.Name,
		"The "+role+" name ("+t.name+") is required ["+t.nameRule+"].")
	ep := l.at("endpoint_id", "cbc:EndpointID")
	if c.required(ep.at("id", ""), p.EndpointID.ID, "The "+role+" electronic address ("+t.endpoint+") is required ["+t.endpointRule+"].") {
		if c.required(ep.at("scheme", "@schemeID"), p.EndpointID.Scheme,
			"The "+role+" electronic address needs its scheme, e.g. 0007 (Swedish organisation number) or 0088 (GLN) ["+t.schemeRule+"].") {
			c.identifier(ep, p.EndpointID, "eas", Role+" electronic address")
		}
	}
	if !seller && len(p.Identifiers) > 1 {
		c.add(l.at("identifiers", "cac:PartyIdentification"), "too_many", "The buyer has at most one identifier (BT-46).")
	}
	for i, id := range p.Identifiers {
		kind := "icd"
		if seller {
			kind = "icd-sepa"
		}
		c.identifier(l.idx("identifiers", "cac:PartyIdentification", i).at("", "cbc:ID"), id, kind, Role+" identifier ("+t.id+")")
	}
	legal := l.at("legal_id", "cac:PartyLegalEntity/cbc:CompanyID")
	c.identifier(legal, p.LegalID, "icd", Role+" legal registration identifier ("+t.legal+")")
	if !seller && p.LegalForm != "" {
		c.add(l.at("legal_form", "cac:PartyLegalEntity/cbc:CompanyLegalForm"), "not_allowed", "Additional legal information (BT-33) exists only for the seller.")
	}
	if !seller && p.TaxRegistrationID != "" {
		c.add(l.at("tax_registration_id", "cac:PartyTaxScheme/cbc:CompanyID"), "not_allowed", "A tax registration identifier (BT-32) exists only for the seller.")
	}
	if !blank(p.VATID) && !vatPrefixOK(p.VATID) {
		c.add(l.at("vat_id", "cac:PartyTaxScheme[cac:TaxScheme/cbc:ID='VAT']/cbc:CompanyID"), "invalid_format",
			"The "+role+" VAT identifier ("+t.vat+") must start with the ISO 3166 country code of the issuing state (EL for Greece) [BR-CO-09].")
	}
	c.address(l.at("address", "cac:PostalAddress"), p.Address, "The "+role, t.addressRule, t.countryRule)
	if seller && len(p.Identifiers) == 0 && blank(p.LegalID.ID) && blank(p.VATID) {
		c.add(l.at("legal_id", "cac:PartyLegalEntity/cbc:CompanyID"), "required",
			"The seller needs an identifier (BT-29), a legal registration identifier (BT-30) or a VAT identifier (BT-31) [BR-CO-26].")
	}
}

func (c *checker) address(l loc, a Address, who, rule, countryRule string) {
	if a == (Address{}) {
		c.add(l, "required", who+" postal address is required ["+rule+"].")
		return
	}
	cl := l.at("country", "cac:Country/cbc:IdentificationCode")
	if c.required(cl, a.Country, who+" country code is required ["+countryRule+"].") {
		c.code(cl, iso3166, a.Country, "A country code must be ISO 3166-1 alpha-2 in capitals, such as SE [BR-CL-14].")
	}
}

func (c *checker) payee(l loc) {
	p := c.inv.Payee
	if reflect.ValueOf(p).IsZero() {
		return
	}
	c.required(l.at("name", "cac:PartyName/cbc:Name"), p.Name, "The payee name (BT-59) is required [BR-17].")
	c.identifier(l.at("identifier", "cac:PartyIdentification/cbc:ID"), p.Identifier, "icd-sepa", "Payee identifier (BT-60)")
	c.identifier(l.at("legal_id", "cac:PartyLegalEntity/cbc:CompanyID"), p.LegalID, "icd", "Payee legal registration identifier (BT-61)")
}

func (c *checker) taxRepresentative(l loc) {
	t := c.inv.TaxRepresentative
	if reflect.ValueOf(t).IsZero() {
		return
	}
	c.required(l.at("name", "cac:PartyName/cbc:Name"), t.Name, "The tax representative name (BT-62) is required [BR-18].")
	vl := l.at("vat_id", "cac:PartyTaxScheme/cbc:CompanyID")
	if c.required(vl, t.VATID, "The tax representative VAT identifier (BT-63) is required [BR-56].") && !vatPrefixOK(t.VATID) {
		c.add(vl, "invalid_format", "The tax representative VAT identifier must start with the ISO 3166 country code of the issuing state [BR-CO-09].")
	}
	c.address(l.at("address", "cac:PostalAddress"), t.Address, "The tax representative", "BR-19", "BR-20")
}

func (c *checker) delivery(l loc) {
	d := c.inv.Delivery
	if reflect.ValueOf(d).IsZero() {
		return
	}
	c.identifier(l.at("location_id", "cac:DeliveryLocation/cbc:ID"), d.LocationID, "icd", "Deliver to location identifier (BT-71)")
	if d.Address != (Address{}) {
		c.address(l.at("address", "cac:DeliveryLocation/cac:Address"), d.Address, "The deliver to", "BR-57", "BR-57")
	}
}

func (c *checker) payment(r loc) {
	inv := c.inv
	cards, mandates := 0, 0
	for i, pm := range inv.PaymentMeans {
		l := r.idx("payment_means", "cac:PaymentMeans", i)
		if c.required(l.at("code", "cbc:PaymentMeansCode"), pm.Code, "Each payment instruction needs a payment means code (BT-81) [BR-49].") {
			c.code(l.at("code", "cbc:PaymentMeansCode"), paymentMeansCodes, pm.Code,
				"The payment means code (BT-81) must be from UNCL4461, such as 30 (credit transfer) or 58 (SEPA credit transfer) [BR-CL-16].")
		}
		al := l.at("account", "cac:PayeeFinancialAccount")
		switch {
		case (pm.Code == "30" || pm.Code == "58") && blank(pm.Account.ID):
			c.add(al.at("id", "cbc:ID"), "required", "A credit transfer (code 30 or 58) needs the payment account identifier (BT-84) [BR-61].")
		case pm.Account != (Account{}) && blank(pm.Account.ID):
			c.add(al.at("id", "cbc:ID"), "required", "A payment account needs its identifier (BT-84) [BR-50].")
		}
		if pm.Card != (Card{}) {
			cards++
			cl := l.at("card", "cac:CardAccount")
			if n := len(strings.TrimSpace(pm.Card.PrimaryAccountNumber)); n < 4 || n > 6 {
				c.add(cl.at("primary_account_number", "cbc:PrimaryAccountNumberID"), "invalid_format",
					"Give only the last 4 to 6 digits of the card number (BT-87), never the whole number [BR-51].")
			}
			c.required(cl.at("network_id", "cbc:NetworkID"), pm.Card.NetworkID, "A payment card needs its network, such as VISA.")
		}
		if pm.Mandate != (Mandate{}) {
			mandates++
		}
		if (pm.Code == "49" || pm.Code == "59") && blank(pm.Mandate.ID) {
			c.add(l.at("mandate", "cac:PaymentMandate").at("id", "cbc:ID"), "required",
				"A direct debit (code 49 or 59) needs the mandate reference (BT-89) [PEPPOL-EN16931-R061].")
		}
	}
	if cards > 1 {
		c.add(r.at("payment_means", "cac:PaymentMeans"), "too_many", "An invoice may carry at most one payment card (BG-18) [BR-66].")
	}
	if mandates > 1 {
		c.add(r.at("payment_means", "cac:PaymentMeans"), "too_many", "An invoice may carry at most one direct debit mandate (BG-19) [BR-67].")
	}
	if inv.Totals.Payable.Sign() > 0 && !inv.DueDate.IsSet() && blank(inv.PaymentTerms) {
		c.add(r.at("due_date", "cbc:DueDate"), "required",
			"An invoice with a positive amount due needs a payment due date (BT-9) or payment terms (BT-20) [BR-CO-25].")
	}
}

// allowanceCharge checks a document level (doc) or line level allowance or charge.
func (c *checker) allowanceCharge(l loc, ac *AllowanceCharge, doc bool) {
	what, amountRule, reasonRule, decA, decB := "allowance", "BR-41", "BR-42", "BR-DEC-24", "BR-DEC-25"
	switch {
	case doc && !ac.Charge:
		amountRule, reasonRule, decA, decB = "BR-31", "BR-33", "BR-DEC-01", "BR-DEC-02"
	case doc && ac.Charge:
		what, amountRule, reasonRule, decA, decB = "charge", "BR-36", "BR-38", "BR-DEC-05", "BR-DEC-06"
	case ac.Charge:
		what, amountRule, reasonRule, decA, decB = "charge", "BR-43", "BR-44", "BR-DEC-27", "BR-DEC-28"
	}
	Level := "A document level "
	if !doc {
		Level = "An invoice line "
	}
	amt := l.at("amount", "cbc:Amount")
	if c.requiredDecimal(amt, ac.Amount, Level+what+" needs an amount ["+amountRule+"].") {
		c.amount(amt, ac.Amount, "An "+what+" amount", decA)
	}
	c.amount(l.at("base_amount", "cbc:BaseAmount"), ac.BaseAmount, "An "+what+" base amount", decB)
	if blank(ac.Reason) && blank(ac.ReasonCode) {
		c.add(l.at("reason", "cbc:AllowanceChargeReason"), "required", Level+what+" needs a reason or a reason code ["+reasonRule+"].")
	}
	if ac.Charge {
		c.code(l.at("reason_code", "cbc:AllowanceChargeReasonCode"), chargeReasonCodes, ac.ReasonCode,
			"A charge reason code must be from UNCL7161, such as FC (freight) [PEPPOL-EN16931-CL003].")
	} else {
		c.code(l.at("reason_code", "cbc:AllowanceChargeReasonCode"), allowanceReasonCodes, ac.ReasonCode,
			"An allowance reason code must be from the Peppol subset of UNCL5189, such as 95 (discount) [PEPPOL-EN16931-CL002].")
	}
	switch {
	case ac.Percentage.IsSet() && !ac.BaseAmount.IsSet():
		c.add(l.at("base_amount", "cbc:BaseAmount"), "required", "With a percentage, the base amount is required too [PEPPOL-EN16931-R041].")
	case !ac.Percentage.IsSet() && ac.BaseAmount.IsSet():
		c.add(l.at("percentage", "cbc:MultiplierFactorNumeric"), "required", "With a base amount, the percentage is required too [PEPPOL-EN16931-R042].")
	case ac.Percentage.IsSet() && ac.Amount.IsSet():
		ok := false
		if want, fits := mulDecimal(ac.BaseAmount, ac.Percentage, 2); fits {
			var diff exact
			diff.add(ac.Amount)
			diff.sub(want)
			ok = diff.within(cent2)
		} else {
			want := new(big.Rat).Mul(ac.BaseAmount.Rat(), ac.Percentage.Rat())
			want.Quo(want, big.NewRat(100, 1))
			ok = within(ac.Amount.Rat(), want, big.NewRat(2, 100))
		}
		if !ok {
			c.add(amt, "mismatch", "The amount must equal the base amount × percentage / 100 [PEPPOL-EN16931-R040].")
		}
	}
	if doc {
		rule := "BR-32"
		if ac.Charge {
			rule = "BR-37"
		}
		suffix := "06"
		if ac.Charge {
			suffix = "07"
		}
		c.vat(l.at("vat", "cac:TaxCategory"), ac.VAT, rule, suffix)
	} else if ac.VAT != (VAT{}) {
		c.add(l.at("vat", "cac:TaxCategory"), "not_allowed", "An invoice line allowance or charge has no VAT of its own; the line's VAT applies.")
	}
}

// categoryRule is the prefix of the EN 16931 rules for a VAT category.
func categoryRule(cat string) string {
	switch cat {
	case "K":
		return "BR-IC"
	case "L":
		return "BR-AF"
	case "M":
		return "BR-AG"
	}
	return "BR-" + cat
}

// vat checks a VAT category and rate. requiredRule is cited when the
// category is missing; suffix picks the category rule (05 line, 06
// allowance, 07 charge, "" breakdown).
func (c *checker) vat(l loc, v VAT, requiredRule, suffix string) {
	cl := l.at("category", "cbc:ID")
	rl := l.at("rate", "cbc:Percent")
	if !c.required(cl, v.Category, "The VAT category code is required ["+requiredRule+"].") {
		return
	}
	if !isCode(vatCategories, v.Category) {
		c.add(cl, "unknown_code", "The VAT category code must be one of S, Z, E, AE, K, G, O, L or M [BR-CL-17, BR-CL-18].")
		return
	}
	// The category rules (BR-S-05, BR-Z-06, ...) are about lines,
	// allowances and charges; a breakdown's rate must match theirs, which
	// vatBreakdown checks, and is required by BR-48.
	cite, required := ".", " [BR-48]."
	if suffix != "" {
		cite = " [" + categoryRule(v.Category) + "-" + suffix + "]."
		required = cite
	}
	if v.Category == "O" {
		if v.Rate.IsSet() {
			c.add(rl, "not_allowed", "VAT category O (outside the scope of VAT) has no VAT rate"+cite)
		}
		return
	}
	if !v.Rate.IsSet() {
		c.add(rl, "required", "VAT category "+v.Category+" needs a VAT rate"+required)
		return
	}
	switch v.Category {
	case "S":
		if v.Rate.Sign() <= 0 {
			c.add(rl, "must_be_positive", "The VAT rate of category S (standard rate) must be greater than zero"+cite)
		}
	case "Z", "E", "AE", "K", "G":
		if v.Rate.Sign() != 0 {
			c.add(rl, "must_be_zero", "The VAT rate of category "+v.Category+" must be 0"+cite)
		}
	case "L", "M":
		if v.Rate.Sign() < 0 {
			c.add(rl, "must_not_be_negative", "The VAT rate of category "+v.Category+" must not be negative"+cite)
		}
	}
	if v.Category == "S" && c.swedishSeller() && v.Rate.Sign() > 0 {
		if r := v.Rate.normal(); r != (Decimal{coef: 25, set: true}) && r != (Decimal{coef: 12, set: true}) && r != (Decimal{coef: 6, set: true}) {
			c.add(rl, "unknown_rate", "A Swedish seller's standard rate is 25, 12 or 6 percent [SE-R-006].")
		}
	}
}

// swedishSeller reports whether the Swedish national rules apply: the
// seller's address is in Sweden and its VAT identifier is Swedish.
func (c *checker) swedishSeller() bool {
	s := c.inv.Seller
	return s.Address.Country == "SE" && strings.HasPrefix(s.VATID, "SE")
}

// cent2 is 0.02, the tolerance Peppol allows on computed line and
// allowance amounts (PEPPOL-EN16931-R040, R120).
const cent2 = 2 // hundredths

// within reports whether |a - b| ≤ tol.
func within(a, b, tol *big.Rat) bool {
	d := new(big.Rat).Sub(a, b)
	return d.Abs(d).Cmp(tol) <= 0
}

// round2 rounds r to two decimals, half away from zero (the EN 16931
// validation rounds the absolute value, which is the same).
func round2(r *big.Rat) *big.Rat {
	n := new(big.Int).Mul(r.Num(), big.NewInt(100))
	d := r.Denom()
	neg := n.Sign() < 0
	n.Abs(n)
	// q = floor((2n + d) / 2d)
	n.Mul(n, big.NewInt(2)).Add(n, d)
	q := n.Quo(n, new(big.Int).Mul(d, big.NewInt(2)))
	if neg {
		q.Neg(q)
	}
	return new(big.Rat).SetFrac(q, big.NewInt(100))
}

func (c *checker) lines(r loc) {
	inv := c.inv
	if len(inv.Lines) == 0 {
		c.add(r.at("lines", "cac:InvoiceLine"), "required", "An invoice needs at least one line (BG-25) [BR-16].")
	}
	for i := range inv.Lines {
		ln := &inv.Lines[i]
		l := r.idx("lines", "cac:InvoiceLine", i)
		c.required(l.at("id", "cbc:ID"), ln.ID, "Each line needs an identifier (BT-126) [BR-21].")
		c.requiredDecimal(l.at("quantity", "cbc:InvoicedQuantity"), ln.Quantity, "Each line needs an invoiced quantity (BT-129) [BR-22].")
		ul := l.at("unit_code", "cbc:InvoicedQuantity/@unitCode")
		if c.required(ul, ln.UnitCode, "Each line needs the unit of its quantity (BT-130), a UN/ECE Recommendation 20 code such as C62, H87 or HUR [BR-23].") && !isUnitCode(ln.UnitCode) {
			c.add(ul, "invalid_format", "The unit code must be a UN/ECE Recommendation 20 or 21 code: one to three capital letters or digits, such as C62 [BR-CL-23].")
		}
		nl := l.at("net_amount", "cbc:LineExtensionAmount")
		if c.requiredDecimal(nl, ln.NetAmount, "Each line needs its net amount (BT-131) [BR-24].") {
			c.amount(nl, ln.NetAmount, "The line net amount", "BR-DEC-23")
		}
		if ln.ObjectIdentifier != (Identifier{}) {
			ol := l.at("object_identifier", "cac:DocumentReference/cbc:ID")
			c.required(ol.at("id", ""), ln.ObjectIdentifier.ID, "The invoice line object identifier (BT-128) is empty.")
			if s := ln.ObjectIdentifier.Scheme; s != "" && !isUpperCode(s, 2, 3) {
				c.add(ol.at("scheme", "@schemeID"), "invalid_format", "The line object identifier scheme must be a UNCL1153 code such as ABZ [BR-CL-07].")
			}
		}
		pl := l.at("period", "cac:InvoicePeriod")
		c.period(pl, ln.Period, false)
		if ip := inv.Period; ln.Period.Start.IsSet() && ip.Start.IsSet() && ln.Period.Start.Compare(ip.Start) < 0 {
			c.add(pl.at("start", "cbc:StartDate"), "invalid_range", "A line period must start within the invoicing period [PEPPOL-EN16931-R110].")
		}
		if ip := inv.Period; ln.Period.End.IsSet() && ip.End.IsSet() && ln.Period.End.Compare(ip.End) > 0 {
			c.add(pl.at("end", "cbc:EndDate"), "invalid_range", "A line period must end within the invoicing period [PEPPOL-EN16931-R111].")
		}
		for j := range ln.AllowancesCharges {
			c.allowanceCharge(l.idx("allowances_charges", "cac:AllowanceCharge", j), &ln.AllowancesCharges[j], false)
		}
		c.item(l.at("item", "cac:Item"), &ln.Item)
		c.vat(l.at("vat", "cac:Item/cac:ClassifiedTaxCategory"), ln.VAT, "BR-CO-04", "05")
		c.price(l, ln)
	}
}

func (c *checker) item(l loc, it *Item) {
	c.required(l.at("name", "cbc:Name"), it.Name, "Each line needs an item name (BT-153) [BR-25].")
	sl := l.at("standard_id", "cac:StandardItemIdentification/cbc:ID")
	if it.StandardID != (Identifier{}) && c.required(sl.at("scheme", "@schemeID"), it.StandardID.Scheme,
		"An item standard identifier (BT-157) needs its scheme, such as 0160 (GTIN) [BR-64].") {
		c.identifier(sl, it.StandardID, "icd", "Item standard identifier (BT-157)")
	}
	for i, cl := range it.Classifications {
		ll := l.idx("classifications", "cac:CommodityClassification", i).at("", "cbc:ItemClassificationCode")
		c.required(ll.at("code", ""), cl.Code, "An item classification (BT-158) needs its code.")
		if c.required(ll.at("list_id", "@listID"), cl.ListID, "An item classification needs its list identifier, a UNCL7143 code such as STI [BR-65].") && !isUpperCode(cl.ListID, 1, 3) {
			c.add(ll.at("list_id", "@listID"), "invalid_format", "The item classification list identifier must be a UNCL7143 code such as STI [BR-CL-13].")
		}
	}
	c.code(l.at("origin_country", "cac:OriginCountry/cbc:IdentificationCode"), iso3166, it.OriginCountry,
		"The item country of origin (BT-159) must be ISO 3166-1 alpha-2 in capitals [BR-CL-15].")
	for i, a := range it.Attributes {
		al := l.idx("attributes", "cac:AdditionalItemProperty", i)
		c.required(al.at("name", "cbc:Name"), a.Name, "Each item attribute needs a name (BT-160) [BR-54].")
		c.required(al.at("value", "cbc:Value"), a.Value, "Each item attribute needs a value (BT-161) [BR-54].")
	}
}

func (c *checker) price(l loc, ln *Line) {
	p := ln.Price
	pl := l.at("price", "cac:Price")
	al := pl.at("amount", "cbc:PriceAmount")
	if c.requiredDecimal(al, p.Amount, "Each line needs the item net price (BT-146) [BR-26].") && p.Amount.Sign() < 0 {
		c.add(al, "must_not_be_negative", "The item net price must not be negative [BR-27].")
	}
	if p.GrossAmount.Sign() < 0 {
		c.add(pl.at("gross_amount", "cac:AllowanceCharge/cbc:BaseAmount"), "must_not_be_negative", "The item gross price must not be negative [BR-28].")
	}
	if c.strict && p.Discount.Sign() < 0 {
		c.add(pl.at("discount", "cac:AllowanceCharge/cbc:Amount"), "must_not_be_negative", "The item price discount must not be negative; a price may only be reduced.")
	}
	bl := pl.at("base_quantity", "cbc:BaseQuantity")
	if p.BaseQuantity.IsSet() && p.BaseQuantity.Sign() <= 0 {
		c.add(bl, "must_be_positive", "The item price base quantity must be greater than zero [PEPPOL-EN16931-R121].")
	}
	if p.GrossAmount.IsSet() && !p.Discount.IsSet() {
		c.add(pl.at("discount", "cac:AllowanceCharge/cbc:Amount"), "required",
			"With an item gross price (BT-148) the price discount (BT-147) is required too; write 0 if there is none.")
	}
	if p.GrossAmount.IsSet() && p.Amount.IsSet() {
		want := new(big.Rat).Sub(p.GrossAmount.Rat(), p.Discount.Rat())
		if p.Amount.Rat().Cmp(want) != 0 { // exact: R046 has no tolerance
			c.add(al, "mismatch", "The item net price must equal the gross price less the price discount [PEPPOL-EN16931-R046].")
		}
	}
	// PEPPOL-EN16931-R120: net = quantity × price / base quantity + charges - allowances, to 0.02.
	if !ln.Quantity.IsSet() || !ln.NetAmount.IsSet() || !p.Amount.IsSet() || (p.BaseQuantity.IsSet() && p.BaseQuantity.Sign() <= 0) {
		return
	}
	for _, ac := range ln.AllowancesCharges {
		if !ac.Amount.IsSet() {
			return
		}
	}
	ok := false
	if product, fits := mulDecimal(ln.Quantity, p.Amount, 0); fits && !p.BaseQuantity.IsSet() {
		// diff = net - (quantity × price + charges - allowances), exactly in an int64
		var diff exact
		diff.add(ln.NetAmount)
		diff.sub(product)
		for _, ac := range ln.AllowancesCharges {
			if ac.Charge {
				diff.sub(ac.Amount)
			} else {
				diff.add(ac.Amount)
			}
		}
		ok = diff.within(cent2)
	} else {
		want := new(big.Rat).Mul(ln.Quantity.Rat(), p.Amount.Rat())
		if p.BaseQuantity.IsSet() {
			want.Quo(want, p.BaseQuantity.Rat())
		}
		for _, ac := range ln.AllowancesCharges {
			if ac.Charge {
				want.Add(want, ac.Amount.Rat())
			} else {
				want.Sub(want, ac.Amount.Rat())
			}
		}
		ok = within(ln.NetAmount.Rat(), want, big.NewRat(2, 100))
	}
	if !ok {
		c.add(l.at("net_amount", "cbc:LineExtensionAmount"), "mismatch",
			"The line net amount must equal quantity × net price / base quantity, plus line charges, less line allowances [PEPPOL-EN16931-R120].")
	}
}

// vatKey identifies a VAT breakdown: category and rate (as an exact number).
type vatKey struct{ cat, rate string }

func keyOf(v VAT) vatKey {
	if !v.Rate.IsSet() {
		return vatKey{cat: v.Category}
	}
	return vatKey{cat: v.Category, rate: v.Rate.normal().String()}
}

func (k vatKey) describe() string {
	if k.rate == "" {
		return "VAT category " + k.cat
	}
	return "VAT category " + k.cat + " at " + k.rate + "%"
}

func (c *checker) vatBreakdown(r loc) {
	inv := c.inv
	// What lines, allowances and charges say the taxable amounts are.
	sums := map[vatKey]*exact{}
	var order []vatKey
	use := func(v VAT, amount Decimal, sign int) {
		if !isCode(vatCategories, v.Category) {
			return
		}
		k := keyOf(v)
		s, ok := sums[k]
		if !ok {
			s = new(exact)
			sums[k] = s
			order = append(order, k)
		}
		if sign < 0 {
			s.sub(amount)
		} else {
			s.add(amount)
		}
	}
	for _, ln := range inv.Lines {
		use(ln.VAT, ln.NetAmount, 1)
	}
	for _, ac := range inv.AllowancesCharges {
		if ac.Charge {
			use(ac.VAT, ac.Amount, 1)
		} else {
			use(ac.VAT, ac.Amount, -1)
		}
	}

	bl := r.at("vat_breakdown", "cac:TaxTotal[cac:TaxSubtotal]/cac:TaxSubtotal")
	if len(inv.VATBreakdown) == 0 {
		c.add(bl, "required", "The VAT breakdown (BG-23) needs at least one entry [BR-CO-18].")
	}
	seen := map[vatKey]bool{}
	cats := map[string]bool{}
	for i := range inv.VATBreakdown {
		b := &inv.VATBreakdown[i]
		l := r.idx("vat_breakdown", "cac:TaxTotal[cac:TaxSubtotal]/cac:TaxSubtotal", i)
		tl := l.at("taxable_amount", "cbc:TaxableAmount")
		xl := l.at("tax_amount", "cbc:TaxAmount")
		if c.requiredDecimal(tl, b.TaxableAmount, "Each VAT breakdown needs the taxable amount (BT-116) [BR-45].") {
			c.amount(tl, b.TaxableAmount, "The VAT category taxable amount", "BR-DEC-19")
		}
		if c.requiredDecimal(xl, b.TaxAmount, "Each VAT breakdown needs the tax amount (BT-117) [BR-46].") {
			c.amount(xl, b.TaxAmount, "The VAT category tax amount", "BR-DEC-20")
		}
		v := VAT{Category: b.Category, Rate: b.Rate}
		c.vat(l.at("", "cac:TaxCategory"), v, "BR-47", "")
		if !isCode(vatCategories, b.Category) {
			continue
		}
		cats[b.Category] = true
		c.exemption(l, b)
		k := keyOf(v)
		if seen[k] {
			c.add(l, "duplicate", "The VAT breakdown has "+k.describe()+" twice; give each category and rate once.")
			continue
		}
		seen[k] = true
		want, used := sums[k]
		switch {
		case !used:
			c.add(l, "not_used", "No line, allowance or charge uses "+k.describe()+"; remove this VAT breakdown.")
		case b.TaxableAmount.IsSet() && want.cmp(b.TaxableAmount) != 0:
			c.add(tl, "mismatch", "The taxable amount must equal the sum of line net amounts plus charges less allowances with "+
				k.describe()+" ["+categoryRule(b.Category)+"-08].")
		}
		if b.TaxableAmount.IsSet() && b.TaxAmount.IsSet() {
			exp := new(big.Rat)
			if b.Rate.IsSet() {
				exp.Mul(b.TaxableAmount.Rat(), b.Rate.Rat())
				exp.Quo(exp, big.NewRat(100, 1))
				exp = round2(exp)
			}
			ok := b.TaxAmount.Rat().Cmp(exp) == 0
			if !c.strict {
				// The official validation allows VAT amounts off by less than
				// one currency unit (rounding per line is common).
				d := new(big.Rat).Sub(b.TaxAmount.Rat(), exp)
				ok = d.Abs(d).Cmp(big.NewRat(1, 1)) < 0
			}
			if !ok {
				c.add(xl, "mismatch", "The tax amount must equal the taxable amount × VAT rate / 100, rounded to two decimals [BR-CO-17].")
			}
		}
	}
	for _, k := range order {
		if !seen[k] {
			c.add(bl, "missing", "The VAT breakdown has no entry for "+k.describe()+", which lines, allowances or charges use ["+categoryRule(k.cat)+"-01].")
		}
		cats[k.cat] = true
	}
	if cats["O"] && len(cats) > 1 {
		c.add(bl, "not_allowed", "An invoice with VAT category O (outside the scope of VAT) may not have any other VAT category [BR-O-11].")
	}
	c.vatParties(r, cats)
}

// exemption checks the VAT exemption reason of one breakdown.
func (c *checker) exemption(l loc, b *VATBreakdown) {
	rl := l.at("exemption_reason", "cac:TaxCategory/cbc:TaxExemptionReason")
	cl := l.at("exemption_reason_code", "cac:TaxCategory/cbc:TaxExemptionReasonCode")
	has := !blank(b.ExemptionReason) || !blank(b.ExemptionReasonCode)
	switch b.Category {
	case "E", "AE", "K", "G", "O":
		if !has {
			c.add(rl, "required", "VAT category "+b.Category+" needs an exemption reason (BT-120) or code (BT-121) ["+categoryRule(b.Category)+"-10].")
		}
	default:
		if has {
			c.add(rl, "not_allowed", "VAT category "+b.Category+" has no exemption reason ["+categoryRule(b.Category)+"-10].")
		}
	}
	code := strings.ToUpper(strings.TrimSpace(b.ExemptionReasonCode))
	if code == "" {
		return
	}
	if !strings.HasPrefix(code, "VATEX-") {
		c.add(cl, "invalid_format", "The exemption reason code must be a VATEX code, such as VATEX-EU-IC [BR-CL-22].")
		return
	}
	want := ""
	switch code {
	case "VATEX-EU-G":
		want = "G"
	case "VATEX-EU-O":
		want = "O"
	case "VATEX-EU-IC":
		want = "K"
	case "VATEX-EU-AE":
		want = "AE"
	case "VATEX-EU-D", "VATEX-EU-F", "VATEX-EU-I", "VATEX-EU-J":
		want = "E"
	}
	if want != "" && want != b.Category {
		c.add(cl, "mismatch", "This exemption reason code belongs with VAT category "+want+" [PEPPOL-EN16931-P0104 to P0111].")
	}
}

// vatParties checks the identifiers each VAT category in use requires.
func (c *checker) vatParties(r loc, cats map[string]bool) {
	inv := c.inv
	if reflect.ValueOf(inv.Seller).IsZero() || reflect.ValueOf(inv.Buyer).IsZero() {
		return // reported as missing already
	}
	sellerVAT := !blank(inv.Seller.VATID)
	repVAT := !blank(inv.TaxRepresentative.VATID)
	buyerVAT := !blank(inv.Buyer.VATID)
	sv := r.at("seller", "cac:AccountingSupplierParty/cac:Party").at("vat_id", "cac:PartyTaxScheme[cac:TaxScheme/cbc:ID='VAT']/cbc:CompanyID")
	bv := r.at("buyer", "cac:AccountingCustomerParty/cac:Party").at("vat_id", "cac:PartyTaxScheme[cac:TaxScheme/cbc:ID='VAT']/cbc:CompanyID")
	for _, cat := range []string{"S", "Z", "E", "L", "M", "AE", "K", "G", "O"} {
		if !cats[cat] {
			continue
		}
		rule := categoryRule(cat) + "-02"
		switch cat {
		case "S", "Z", "E", "L", "M":
			if !sellerVAT && !repVAT && blank(inv.Seller.TaxRegistrationID) {
				c.add(sv, "required", "VAT category "+cat+" needs the seller VAT identifier (BT-31), tax registration identifier (BT-32) or tax representative VAT identifier (BT-63) ["+rule+"].")
			}
		case "AE", "K", "G":
			if !sellerVAT && !repVAT {
				c.add(sv, "required", "VAT category "+cat+" needs the seller VAT identifier (BT-31) or the tax representative VAT identifier (BT-63) ["+rule+"].")
			}
			if cat == "AE" && !buyerVAT && blank(inv.Buyer.LegalID.ID) {
				c.add(bv, "required", "VAT category AE (reverse charge) needs the buyer VAT identifier (BT-48) or legal registration identifier (BT-47) [BR-AE-02].")
			}
			if cat == "K" {
				if !buyerVAT {
					c.add(bv, "required", "VAT category K (intra-community supply) needs the buyer VAT identifier (BT-48) [BR-IC-02].")
				}
				if !inv.Delivery.Date.IsSet() && !inv.Period.Start.IsSet() && !inv.Period.End.IsSet() {
					c.add(r.at("delivery", "cac:Delivery").at("date", "cbc:ActualDeliveryDate"), "required",
						"VAT category K (intra-community supply) needs the actual delivery date (BT-72) or the invoicing period (BG-14) [BR-IC-11].")
				}
				if blank(inv.Delivery.Address.Country) {
					c.add(r.at("delivery", "cac:Delivery").at("address", "cac:DeliveryLocation/cac:Address").at("country", "cac:Country/cbc:IdentificationCode"), "required",
						"VAT category K (intra-community supply) needs the deliver to country code (BT-80) [BR-IC-12].")
				}
			}
		case "O":
			if sellerVAT {
				c.add(sv, "not_allowed", "With VAT category O (outside the scope of VAT) the seller VAT identifier must be left out [BR-O-02].")
			}
			if repVAT {
				c.add(r.at("tax_representative", "cac:TaxRepresentativeParty").at("vat_id", "cac:PartyTaxScheme/cbc:CompanyID"), "not_allowed",
					"With VAT category O (outside the scope of VAT) the tax representative VAT identifier must be left out [BR-O-04].")
			}
			if buyerVAT {
				c.add(bv, "not_allowed", "With VAT category O (outside the scope of VAT) the buyer VAT identifier must be left out [BR-O-03].")
			}
		}
	}
}

func (c *checker) totals(r loc) {
	inv := c.inv
	t := inv.Totals
	l := r.at("totals", "cac:LegalMonetaryTotal")
	le := l.at("line_extension_amount", "cbc:LineExtensionAmount")
	at := l.at("allowance_total_amount", "cbc:AllowanceTotalAmount")
	ct := l.at("charge_total_amount", "cbc:ChargeTotalAmount")
	te := l.at("tax_exclusive_amount", "cbc:TaxExclusiveAmount")
	ti := l.at("tax_inclusive_amount", "cbc:TaxInclusiveAmount")
	pp := l.at("prepaid_amount", "cbc:PrepaidAmount")
	ro := l.at("rounding_amount", "cbc:PayableRoundingAmount")
	pa := l.at("payable_amount", "cbc:PayableAmount")
	va := r.at("totals/vat_amount", "cac:TaxTotal[cac:TaxSubtotal]/cbc:TaxAmount")
	vt := r.at("totals/vat_amount_tax_currency", "cac:TaxTotal[not(cac:TaxSubtotal)]/cbc:TaxAmount")
	if t == (Totals{}) {
		c.add(l, "required", "The document totals (BG-22) are required [BR-12 to BR-15].")
		return
	}
	c.requiredDecimal(le, t.LineExtension, "The sum of line net amounts (BT-106) is required [BR-12].")
	c.requiredDecimal(te, t.TaxExclusive, "The total without VAT (BT-109) is required [BR-13].")
	c.requiredDecimal(ti, t.TaxInclusive, "The total with VAT (BT-112) is required [BR-14].")
	c.requiredDecimal(pa, t.Payable, "The amount due for payment (BT-115) is required [BR-15].")
	c.requiredDecimal(va, t.VAT, "The total VAT amount (BT-110) is required [PEPPOL-EN16931-R053].")
	for _, a := range []struct {
		l         loc
		d         Decimal
		what, dec string
	}{
		{le, t.LineExtension, "The sum of line net amounts", "BR-DEC-09"},
		{at, t.AllowanceTotal, "The sum of allowances", "BR-DEC-10"},
		{ct, t.ChargeTotal, "The sum of charges", "BR-DEC-11"},
		{te, t.TaxExclusive, "The total without VAT", "BR-DEC-12"},
		{va, t.VAT, "The total VAT amount", "BR-DEC-13"},
		{vt, t.VATInTaxCurrency, "The total VAT in accounting currency", "BR-DEC-15"},
		{ti, t.TaxInclusive, "The total with VAT", "BR-DEC-14"},
		{pp, t.Prepaid, "The paid amount", "BR-DEC-16"},
		{ro, t.Rounding, "The rounding amount", "BR-DEC-17"},
		{pa, t.Payable, "The amount due for payment", "BR-DEC-18"},
	} {
		c.amount(a.l, a.d, a.what, a.dec)
	}

	// BR-CO-10: the sum of line net amounts.
	if sum, ok := sumLines(inv.Lines); ok && t.LineExtension.IsSet() && sum.cmp(t.LineExtension) != 0 {
		c.add(le, "mismatch", "The sum of line net amounts (BT-106) must equal the sum of the lines' net amounts (BT-131) [BR-CO-10].")
	}
	// BR-CO-11, BR-CO-12: the sums of document level allowances and charges.
	allowances, charges, n, m, ok := sumAllowancesCharges(inv.AllowancesCharges)
	if ok {
		c.sumOf(at, t.AllowanceTotal, allowances, n, "The sum of allowances (BT-107)", "allowances (BT-92)", "BR-CO-11")
		c.sumOf(ct, t.ChargeTotal, charges, m, "The sum of charges (BT-108)", "charges (BT-99)", "BR-CO-12")
	}
	// BR-CO-13: total without VAT.
	if t.LineExtension.IsSet() && t.TaxExclusive.IsSet() {
		var want exact
		want.add(t.LineExtension)
		want.sub(t.AllowanceTotal)
		want.add(t.ChargeTotal)
		if want.cmp(t.TaxExclusive) != 0 {
			c.add(te, "mismatch", "The total without VAT (BT-109) must equal the sum of line net amounts less allowances plus charges [BR-CO-13].")
		}
	}
	// BR-CO-14: total VAT.
	if sum, ok := sumTax(inv.VATBreakdown); ok && t.VAT.IsSet() && sum.cmp(t.VAT) != 0 {
		c.add(va, "mismatch", "The total VAT amount (BT-110) must equal the sum of the VAT breakdown tax amounts (BT-117) [BR-CO-14].")
	}
	if t.VAT.IsSet() && t.VATInTaxCurrency.IsSet() && t.VAT.Sign()*t.VATInTaxCurrency.Sign() < 0 {
		c.add(vt, "mismatch", "The total VAT in accounting currency (BT-111) must have the same sign as the total VAT (BT-110) [PEPPOL-EN16931-R055].")
	}
	// BR-CO-15: total with VAT.
	if t.TaxExclusive.IsSet() && t.VAT.IsSet() && t.TaxInclusive.IsSet() {
		var want exact
		want.add(t.TaxExclusive)
		want.add(t.VAT)
		if want.cmp(t.TaxInclusive) != 0 {
			c.add(ti, "mismatch", "The total with VAT (BT-112) must equal the total without VAT plus the total VAT [BR-CO-15].")
		}
	}
	// BR-CO-16: amount due.
	if t.TaxInclusive.IsSet() && t.Payable.IsSet() {
		var want exact
		want.add(t.TaxInclusive)
		want.sub(t.Prepaid)
		want.add(t.Rounding)
		if want.cmp(t.Payable) != 0 {
			c.add(pa, "mismatch", "The amount due (BT-115) must equal the total with VAT less the paid amount plus the rounding amount [BR-CO-16].")
		}
	}
}

// sumOf checks a document level sum of allowances or charges.
func (c *checker) sumOf(l loc, total Decimal, sum *exact, count int, what, parts, rule string) {
	switch {
	case !total.IsSet() && count > 0:
		c.add(l, "required", what+" is required when the invoice has document level "+parts+" ["+rule+"].")
	case total.IsSet() && sum.cmp(total) != 0:
		c.add(l, "mismatch", what+" must equal the sum of the document level "+parts+" ["+rule+"].")
	}
}

func sumLines(lines []Line) (*exact, bool) {
	s := new(exact)
	for _, ln := range lines {
		if !ln.NetAmount.IsSet() {
			return nil, false
		}
		s.add(ln.NetAmount)
	}
	return s, true
}

func sumAllowancesCharges(acs []AllowanceCharge) (allowances, charges *exact, n, m int, ok bool) {
	allowances, charges = new(exact), new(exact)
	for _, ac := range acs {
		if !ac.Amount.IsSet() {
			return nil, nil, 0, 0, false
		}
		if ac.Charge {
			charges.add(ac.Amount)
			m++
		} else {
			allowances.add(ac.Amount)
			n++
		}
	}
	return allowances, charges, n, m, true
}

func sumTax(bs []VATBreakdown) (*exact, bool) {
	s := new(exact)
	for _, b := range bs {
		if !b.TaxAmount.IsSet() {
			return nil, false
		}
		s.add(b.TaxAmount)
	}
	return s, true
}

// sweden applies the Swedish national rules of Peppol BIS Billing 3.0 to
// sellers in Sweden. SE-R-006 (rates) is checked with the VAT categories.
func (c *checker) sweden(r loc) {
	inv := c.inv
	s := inv.Seller
	if s.Address.Country != "SE" {
		return
	}
	sl := r.at("seller", "cac:AccountingSupplierParty/cac:Party")
	if strings.HasPrefix(s.VATID, "SE") && (len(s.VATID) != 14 || !allDigits(s.VATID[2:])) {
		c.add(sl.at("vat_id", "cac:PartyTaxScheme[cac:TaxScheme/cbc:ID='VAT']/cbc:CompanyID"), "invalid_format",
			"A Swedish VAT identifier is SE followed by twelve digits [SE-R-001, SE-R-002].")
	}
	if !blank(s.LegalID.ID) && !blank(s.TaxRegistrationID) && !strings.EqualFold(strings.TrimSpace(s.TaxRegistrationID), "Godkänd för F-skatt") {
		c.add(sl.at("tax_registration_id", "cac:PartyTaxScheme[cac:TaxScheme/cbc:ID!='VAT']/cbc:CompanyID"), "invalid_value",
			"A Swedish seller's tax registration identifier must read \"Godkänd för F-skatt\" [SE-R-005].")
	}
	if !c.strict {
		return // the rest are warnings in Peppol
	}
	if id := s.LegalID.ID; !blank(id) && (len(id) != 10 || !luhn(id)) {
		c.add(sl.at("legal_id", "cac:PartyLegalEntity/cbc:CompanyID").at("id", ""), "invalid_format",
			"A Swedish organisation number is ten digits with a valid check digit [SE-R-003, SE-R-004, SE-R-013].")
	}
	buyerSE := inv.Buyer.Address.Country == "SE"
	for i, pm := range inv.PaymentMeans {
		l := r.idx("payment_means", "cac:PaymentMeans", i)
		id := strings.TrimSpace(pm.Account.ID)
		il := l.at("account", "cac:PayeeFinancialAccount").at("id", "cbc:ID")
		switch pm.Account.ProviderID {
		case "SE:BANKGIRO":
			if !allDigits(id) || len(id) < 7 || len(id) > 8 {
				c.add(il, "invalid_format", "A bankgiro number is 7 or 8 digits, without a hyphen [SE-R-008, SE-R-009].")
			}
		case "SE:PLUSGIRO":
			if !allDigits(id) || len(id) < 2 || len(id) > 8 {
				c.add(il, "invalid_format", "A plusgiro number is 2 to 8 digits, without a hyphen [SE-R-007, SE-R-010].")
			}
		}
		switch {
		case pm.Code == "50" || pm.Code == "56":
			c.add(l.at("code", "cbc:PaymentMeansCode"), "invalid_value",
				"For bankgiro or plusgiro use code 30 with the provider SE:BANKGIRO or SE:PLUSGIRO [SE-R-011].")
		case pm.Code == "31" && buyerSE:
			c.add(l.at("code", "cbc:PaymentMeansCode"), "invalid_value", "Between Swedish parties a credit transfer is code 30 [SE-R-012].")
		}
	}
}

// text reports whether every string in v is one an XML document can
// carry: valid UTF-8 without control characters other than tab, line feed
// and carriage return. With report, it records each one that is not.
func (c *checker) text(v reflect.Value, ptr string, report bool) bool {
	ok := true
	switch v.Kind() {
	case reflect.String:
		if !xmlText(v.String()) {
			if report {
				c.errs.addPath(ptr, "invalid_characters", "The text holds characters an XML document cannot carry (control characters or invalid UTF-8).")
			}
			return false
		}
	case reflect.Struct:
		t := v.Type()
		if t == reflect.TypeFor[Decimal]() || t == reflect.TypeFor[Date]() {
			return true
		}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			if report {
				name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
				ok = c.text(v.Field(i), ptr+"/"+name, true) && ok
			} else if !c.text(v.Field(i), "", false) {
				return false
			}
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return true // []byte is base64 in both forms
		}
		for i := 0; i < v.Len(); i++ {
			if report {
				ok = c.text(v.Index(i), ptr+"/"+strconv.Itoa(i), true) && ok
			} else if !c.text(v.Index(i), "", false) {
				return false
			}
		}
	}
	return ok
}

// xmlText reports whether s is valid UTF-8 made of XML 1.0 characters.
func xmlText(s string) bool {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n <= 1 {
			return false
		}
		if !(r == 0x09 || r == 0x0A || r == 0x0D || (r >= 0x20 && r <= 0xD7FF) || (r >= 0xE000 && r <= 0xFFFD) || r >= 0x10000) {
			return false
		}
		i += n
	}
	return true
}
