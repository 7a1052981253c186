package einvoice

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"io"
	"strconv"
	"strings"

	"github.com/valvhq/valv/internal/problem"
)

// Limits on UBL input, checked before and while parsing. A Peppol invoice
// with embedded attachments is typically well under a few megabytes; the
// deepest element this package reads is six levels down (an address line
// in a delivery location, a tax scheme in a subtotal).
const (
	MaxUBLSize     = 16 << 20 // bytes
	MaxUBLDepth    = 16       // nested elements, the root included
	MaxUBLElements = 250_000  // elements in one document
)

const nsExt = "urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2"

// FromUBL reads a Peppol BIS Billing 3.0 UBL 2.1 Invoice and returns it as
// an Invoice, checked against the same rules as Validate but as the
// Peppol validation checks a received document (a VAT amount may be off by
// less than one currency unit; the Swedish warnings stay warnings).
//
// Parsing is safe for untrusted input: documents over MaxUBLSize, deeper
// than MaxUBLDepth or with more than MaxUBLElements elements are refused,
// and so is any DTD (<!DOCTYPE ...>, <!ENTITY ...>): encoding/xml never
// fetches external entities, but a document that declares any is refused
// rather than read with its declarations ignored. Only UTF-8 is read.
//
// Every element the mapping does not know is reported as an unsupported
// element rather than dropped, so nothing in a received invoice is lost
// silently. Errors are *problem.Error values whose field errors carry
// XPath-like paths such as /Invoice/cac:InvoiceLine[2]/cbc:InvoicedQuantity.
func FromUBL(data []byte) (Invoice, error) {
	if len(data) > MaxUBLSize {
		return Invoice{}, problem.New(problem.KindTooLarge, CodeTooLarge,
			"The invoice is larger than "+strconv.Itoa(MaxUBLSize>>20)+" MiB.")
	}
	root, err := parseXML(data)
	if err != nil {
		return Invoice{}, err
	}
	r := &reader{errs: fieldErrors{xml: true}}
	if !r.rootOK(root) {
		return Invoice{}, r.errs.err()
	}
	inv := r.invoice(el{n: root})
	r.sweep(root)

	c := checker{inv: &inv}
	c.errs.xml = true
	c.run()
	all := fieldErrors{xml: true}
	reported := map[string]bool{}
	for _, fe := range r.errs.list {
		reported[fe.Field] = true
		all.addPath(fe.Field, fe.Code, fe.Message)
	}
	for _, fe := range c.errs.list {
		if !reported[fe.Field] { // a value that failed to parse is also "missing"
			all.addPath(fe.Field, fe.Code, fe.Message)
		}
	}
	if err := all.err(); err != nil {
		return Invoice{}, err
	}
	return inv, nil
}

// node is an element of the parsed document.
type node struct {
	name   xml.Name
	attr   []xml.Attr
	text   []byte
	kids   []*node
	parent *node
	used   bool   // the mapping read it
	leaf   bool   // the mapping read it as text
	idx    int    // its position among same-named siblings in its path, or 0 for none
	pred   string // an XPath predicate shown instead of idx, as in cac:TaxTotal[cac:TaxSubtotal]
}

// path is the node's XPath-like path, built only when an error needs it.
func (n *node) path() string {
	var s string
	if n.parent != nil {
		s = n.parent.path()
	}
	s += "/" + prefix(n.name.Space) + n.name.Local
	switch {
	case n.pred != "":
		s += n.pred
	case n.idx > 0:
		s += "[" + strconv.Itoa(n.idx) + "]"
	}
	return s
}

// parseXML reads data into a tree of elements, enforcing the limits.
func parseXML(data []byte) (*node, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a UTF-8 byte order mark
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	var stack []*node
	var root *node
	elements := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			msg := "The document is not well-formed XML"
			var se *xml.SyntaxError
			if errors.As(err, &se) {
				msg += " (line " + strconv.Itoa(se.Line) + ")"
			} else if strings.Contains(err.Error(), "encoding") {
				msg += "; only UTF-8 is accepted"
			}
			return nil, malformed("/", "malformed_xml", msg+".")
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack) >= MaxUBLDepth {
				return nil, malformed("/", "too_deep", "Elements are nested more than "+strconv.Itoa(MaxUBLDepth)+" deep.")
			}
			if elements++; elements > MaxUBLElements {
				return nil, problem.New(problem.KindTooLarge, CodeTooLarge, "The invoice has more than "+strconv.Itoa(MaxUBLElements)+" elements.")
			}
			n := &node{name: t.Name, attr: t.Attr}
			if len(stack) > 0 {
				n.parent = stack[len(stack)-1]
			}
			if len(stack) == 0 {
				if root != nil {
					return nil, malformed("/", "malformed_xml", "The document has more than one root element.")
				}
				root = n
			} else {
				p := stack[len(stack)-1]
				p.kids = append(p.kids, n)
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				// Keep the text of what may be a leaf; between the
				// elements of an aggregate keep only text that is not
				// white space (indentation), which the sweep reports.
				if top := stack[len(stack)-1]; len(top.kids) == 0 || len(bytes.TrimSpace(t)) > 0 {
					top.text = append(top.text, t...)
				}
			} else if len(bytes.TrimSpace(t)) > 0 {
				return nil, malformed("/", "malformed_xml", "The document has text outside its root element.")
			}
		case xml.Directive:
			return nil, malformed("/", "doctype_not_allowed", "Document type declarations (<!DOCTYPE ...>, <!ENTITY ...>) are not allowed.")
		}
	}
	if root == nil {
		return nil, malformed("/", "malformed_xml", "The document has no root element.")
	}
	return root, nil
}

// el is an element, or nothing (n == nil).
type el struct{ n *node }

func (e el) path() string { return e.n.path() }

type reader struct {
	errs     fieldErrors
	currency string
}

func prefix(space string) string {
	switch space {
	case nsCBC:
		return "cbc:"
	case nsCAC:
		return "cac:"
	case nsExt:
		return "ext:"
	case nsInvoice, "":
		return ""
	}
	return "Q{" + space + "}"
}

// child returns the only child space:local of e; a second one is an error.
func (r *reader) child(e el, space, local string) el {
	if e.n == nil {
		return el{}
	}
	var found el
	n := 0
	for _, k := range e.n.kids {
		if k.name.Space != space || k.name.Local != local {
			continue
		}
		k.used = true
		if n++; n > 1 {
			k.idx = n
			r.errs.addPath(k.path(), "repeated_element", "This element may appear only once here.")
			continue
		}
		found = el{n: k}
	}
	return found
}

// children returns every child space:local of e, with indexed paths.
func (r *reader) children(e el, space, local string) []el {
	if e.n == nil {
		return nil
	}
	var out []el
	for _, k := range e.n.kids {
		if k.name.Space == space && k.name.Local == local {
			k.used = true
			k.idx = len(out) + 1
			out = append(out, el{n: k})
		}
	}
	return out
}

// text is e's trimmed text; an element with neither text nor children is
// an error (PEPPOL-EN16931-R008).
func (r *reader) text(e el) string {
	if e.n == nil {
		return ""
	}
	e.n.leaf = true
	s := strings.TrimSpace(string(e.n.text))
	if s == "" && len(e.n.kids) == 0 {
		r.errs.addPath(e.path(), "empty_element", "Empty elements are not allowed; leave the element out instead [PEPPOL-EN16931-R008].")
	}
	return s
}

// str is the text of e's cbc child local.
func (r *reader) str(e el, local string) string { return r.text(r.child(e, nsCBC, local)) }

func (r *reader) attr(e el, name string) string {
	if e.n == nil {
		return ""
	}
	for _, a := range e.n.attr {
		if a.Name.Space == "" && a.Name.Local == name {
			return strings.TrimSpace(a.Value)
		}
	}
	return ""
}

func (r *reader) ident(e el) Identifier {
	return Identifier{ID: r.text(e), Scheme: r.attr(e, "schemeID")}
}

func (r *reader) decimal(e el) Decimal {
	s := r.text(e)
	if s == "" {
		return Decimal{}
	}
	d, err := ParseDecimal(s)
	if err != nil {
		r.errs.addPath(e.path(), "invalid_decimal",
			"Not a decimal number: digits with an optional sign and decimal point, at most "+strconv.Itoa(MaxDecimalDigits)+" digits.")
	}
	return d
}

func (r *reader) date(e el, local string) Date {
	c := r.child(e, nsCBC, local)
	s := r.text(c)
	if s == "" {
		return Date{}
	}
	d, err := ParseDate(s)
	if err != nil {
		r.errs.addPath(c.path(), "invalid_date", "A date must exist and be written YYYY-MM-DD [PEPPOL-EN16931-F001].")
	}
	return d
}

// amount reads the cbc amount local of e and checks its currencyID.
func (r *reader) amount(e el, local string) Decimal {
	return r.amountIn(r.child(e, nsCBC, local), r.currency)
}

func (r *reader) amountIn(c el, currency string) Decimal {
	if c.n == nil {
		return Decimal{}
	}
	d := r.decimal(c)
	switch cur := r.attr(c, "currencyID"); {
	case cur == "":
		r.errs.addPath(c.path()+"/@currencyID", "required", "Every amount needs its currencyID attribute.")
	case currency != "" && cur != currency:
		r.errs.addPath(c.path()+"/@currencyID", "currency_mismatch",
			"Every amount must be in the invoice currency (BT-5), except the total VAT in accounting currency (BT-111) [PEPPOL-EN16931-R051].")
	}
	return d
}

func (r *reader) rootOK(root *node) bool {
	root.used = true
	if root.name.Space == nsInvoice && root.name.Local == "Invoice" {
		return true
	}
	path := "/" + prefix(root.name.Space) + root.name.Local
	if root.name.Local == "CreditNote" {
		r.errs.addPath(path, "unsupported_document", "Credit notes are not supported; only UBL Invoice documents are.")
	} else {
		r.errs.addPath(path, "not_an_invoice", "The document is not a UBL 2.1 Invoice (root element Invoice in namespace "+nsInvoice+").")
	}
	return false
}

// sweep reports every element the mapping did not read, and text inside
// elements that hold other elements.
func (r *reader) sweep(n *node) {
	switch {
	case n.leaf:
	case len(bytes.TrimSpace(n.text)) > 0:
		r.errs.addPath(n.path(), "unexpected_text", "This element holds elements, not text.")
	case len(n.kids) == 0:
		r.errs.addPath(n.path(), "empty_element", "Empty elements are not allowed; leave the element out instead [PEPPOL-EN16931-R008].")
	}
	count := map[xml.Name]int{}
	for _, k := range n.kids {
		count[k.name]++
	}
	seen := map[xml.Name]int{}
	for _, k := range n.kids {
		seen[k.name]++
		if k.used {
			r.sweep(k)
			continue
		}
		if count[k.name] > 1 {
			k.idx = seen[k.name]
		}
		r.errs.addPath(k.path(), "unsupported_element", "This element is not supported by this converter (see docs/einvoice.md); it would be lost, so the invoice is refused.")
	}
}

func (r *reader) invoice(e el) Invoice {
	var inv Invoice
	if v := r.child(e, nsCBC, "UBLVersionID"); v.n != nil && r.text(v) != "2.1" {
		r.errs.addPath(v.path(), "unsupported_version", "Only UBL 2.1 is supported.")
	}
	cust := r.child(e, nsCBC, "CustomizationID")
	switch s := r.text(cust); {
	case cust.n == nil:
		r.errs.addPath(e.path()+"/cbc:CustomizationID", "required", "The specification identifier (BT-24) is required [BR-01].")
	case !strings.HasPrefix(s, CustomizationID):
		r.errs.addPath(cust.path(), "unsupported_specification",
			"The specification identifier (BT-24) must be Peppol BIS Billing 3.0: "+CustomizationID+" [PEPPOL-EN16931-R004].")
	}
	prof := r.child(e, nsCBC, "ProfileID")
	switch s := r.text(prof); {
	case prof.n == nil:
		r.errs.addPath(e.path()+"/cbc:ProfileID", "required", "The business process (BT-23) is required [PEPPOL-EN16931-R001].")
	case s != ProfileID:
		r.errs.addPath(prof.path(), "unsupported_profile", "The business process (BT-23) must be "+ProfileID+" [PEPPOL-EN16931-R007].")
	}
	inv.Number = r.str(e, "ID")
	inv.IssueDate = r.date(e, "IssueDate")
	inv.DueDate = r.date(e, "DueDate")
	tc := r.child(e, nsCBC, "InvoiceTypeCode")
	inv.TypeCode = r.text(tc)
	if tc.n == nil {
		r.errs.addPath(e.path()+"/cbc:InvoiceTypeCode", "required", "The invoice type code (BT-3) is required [BR-04].")
	}
	for i, n := range r.children(e, nsCBC, "Note") {
		if i == 0 {
			inv.Note = r.text(n)
		} else {
			r.errs.addPath(n.path(), "repeated_element", "An invoice has at most one note (BT-22) [PEPPOL-EN16931-R002].")
		}
	}
	inv.TaxPointDate = r.date(e, "TaxPointDate")
	inv.Currency = r.str(e, "DocumentCurrencyCode")
	inv.TaxCurrency = r.str(e, "TaxCurrencyCode")
	r.currency = inv.Currency
	inv.BuyerAccountingReference = r.str(e, "AccountingCost")
	inv.BuyerReference = r.str(e, "BuyerReference")
	inv.Period = r.period(r.child(e, nsCAC, "InvoicePeriod"))
	or := r.child(e, nsCAC, "OrderReference")
	inv.OrderReference = r.str(or, "ID")
	inv.SalesOrderReference = r.str(or, "SalesOrderID")
	for _, br := range r.children(e, nsCAC, "BillingReference") {
		d := r.child(br, nsCAC, "InvoiceDocumentReference")
		inv.PrecedingInvoices = append(inv.PrecedingInvoices, PrecedingInvoice{Number: r.str(d, "ID"), IssueDate: r.date(d, "IssueDate")})
	}
	inv.DespatchAdviceReference = r.str(r.child(e, nsCAC, "DespatchDocumentReference"), "ID")
	inv.ReceivingAdviceReference = r.str(r.child(e, nsCAC, "ReceiptDocumentReference"), "ID")
	inv.TenderReference = r.str(r.child(e, nsCAC, "OriginatorDocumentReference"), "ID")
	inv.ContractReference = r.str(r.child(e, nsCAC, "ContractDocumentReference"), "ID")
	for _, d := range r.children(e, nsCAC, "AdditionalDocumentReference") {
		r.additionalDocument(d, &inv)
	}
	inv.ProjectReference = r.str(r.child(e, nsCAC, "ProjectReference"), "ID")
	inv.Seller = r.party(r.child(r.child(e, nsCAC, "AccountingSupplierParty"), nsCAC, "Party"), true)
	inv.Buyer = r.party(r.child(r.child(e, nsCAC, "AccountingCustomerParty"), nsCAC, "Party"), false)
	inv.Payee = r.payee(r.child(e, nsCAC, "PayeeParty"))
	inv.TaxRepresentative = r.taxRepresentative(r.child(e, nsCAC, "TaxRepresentativeParty"))
	inv.Delivery = r.delivery(r.child(e, nsCAC, "Delivery"))
	for _, pm := range r.children(e, nsCAC, "PaymentMeans") {
		inv.PaymentMeans = append(inv.PaymentMeans, r.paymentMeans(pm))
	}
	inv.PaymentTerms = r.str(r.child(e, nsCAC, "PaymentTerms"), "Note")
	for _, ac := range r.children(e, nsCAC, "AllowanceCharge") {
		inv.AllowancesCharges = append(inv.AllowancesCharges, r.allowanceCharge(ac, true))
	}
	r.taxTotals(e, &inv)
	inv.Totals.LineExtension, inv.Totals.TaxExclusive, inv.Totals.TaxInclusive, inv.Totals.AllowanceTotal,
		inv.Totals.ChargeTotal, inv.Totals.Prepaid, inv.Totals.Rounding, inv.Totals.Payable = r.monetaryTotal(r.child(e, nsCAC, "LegalMonetaryTotal"))
	for _, ln := range r.children(e, nsCAC, "InvoiceLine") {
		inv.Lines = append(inv.Lines, r.line(ln))
	}
	return inv
}

func (r *reader) period(e el) Period {
	if e.n == nil {
		return Period{}
	}
	return Period{Start: r.date(e, "StartDate"), End: r.date(e, "EndDate"), Code: r.str(e, "DescriptionCode")}
}

func (r *reader) additionalDocument(e el, inv *Invoice) {
	id := r.child(e, nsCBC, "ID")
	tc := r.child(e, nsCBC, "DocumentTypeCode")
	switch code := r.text(tc); {
	case code == "130":
		if inv.InvoicedObject != (Identifier{}) {
			r.errs.addPath(e.path(), "repeated_element", "An invoice has at most one invoiced object identifier (BT-18).")
			skip(e.n)
			return
		}
		inv.InvoicedObject = r.ident(id)
		return
	case tc.n != nil:
		r.errs.addPath(tc.path(), "unknown_code", "A document type code is used only as 130, for the invoiced object identifier (BT-18).")
		skip(e.n)
		return
	}
	d := SupportingDocument{ID: r.text(id), Description: r.str(e, "DocumentDescription")}
	a := r.child(e, nsCAC, "Attachment")
	if b := r.child(a, nsCBC, "EmbeddedDocumentBinaryObject"); b.n != nil {
		s := r.text(b)
		content, err := base64.StdEncoding.DecodeString(strings.Map(dropSpace, s))
		if err != nil {
			r.errs.addPath(b.path(), "invalid_base64", "An embedded document must be base64 encoded.")
		}
		d.Attachment = Attachment{Content: content, MIMECode: r.attr(b, "mimeCode"), Filename: r.attr(b, "filename")}
	}
	d.URI = r.str(r.child(a, nsCAC, "ExternalReference"), "URI")
	inv.SupportingDocuments = append(inv.SupportingDocuments, d)
}

// skip marks n and everything in it as read, for an element already
// reported as a whole.
func skip(n *node) {
	n.used, n.leaf = true, true
	for _, k := range n.kids {
		skip(k)
	}
}

// dropSpace removes the white space base64Binary allows between characters.
func dropSpace(c rune) rune {
	switch c {
	case ' ', '\t', '\r', '\n':
		return -1
	}
	return c
}

func (r *reader) party(e el, seller bool) Party {
	if e.n == nil {
		return Party{}
	}
	var p Party
	p.EndpointID = r.ident(r.child(e, nsCBC, "EndpointID"))
	for _, pi := range r.children(e, nsCAC, "PartyIdentification") {
		p.Identifiers = append(p.Identifiers, r.ident(r.child(pi, nsCBC, "ID")))
	}
	p.TradingName = r.str(r.child(e, nsCAC, "PartyName"), "Name")
	p.Address = r.address(r.child(e, nsCAC, "PostalAddress"))
	for _, ts := range r.children(e, nsCAC, "PartyTaxScheme") {
		id := r.str(ts, "CompanyID")
		scheme := r.child(r.child(ts, nsCAC, "TaxScheme"), nsCBC, "ID")
		switch s := r.text(scheme); {
		case s == "VAT" && p.VATID == "":
			p.VATID = id
		case s != "VAT" && seller && p.TaxRegistrationID == "":
			p.TaxRegistrationID = id
		case s != "VAT" && !seller:
			r.errs.addPath(ts.path(), "not_allowed", "The buyer has only a VAT identifier (BT-48); its tax scheme must be VAT.")
		default:
			r.errs.addPath(ts.path(), "repeated_element", "A party has one VAT identifier and (the seller) one tax registration identifier.")
		}
	}
	le := r.child(e, nsCAC, "PartyLegalEntity")
	p.Name = r.str(le, "RegistrationName")
	p.LegalID = r.ident(r.child(le, nsCBC, "CompanyID"))
	if seller {
		p.LegalForm = r.str(le, "CompanyLegalForm")
	}
	if ct := r.child(e, nsCAC, "Contact"); ct.n != nil {
		p.Contact = Contact{Name: r.str(ct, "Name"), Phone: r.str(ct, "Telephone"), Email: r.str(ct, "ElectronicMail")}
	}
	return p
}

func (r *reader) address(e el) Address {
	if e.n == nil {
		return Address{}
	}
	return Address{
		Street:           r.str(e, "StreetName"),
		AdditionalStreet: r.str(e, "AdditionalStreetName"),
		City:             r.str(e, "CityName"),
		PostalCode:       r.str(e, "PostalZone"),
		Subdivision:      r.str(e, "CountrySubentity"),
		Line:             r.str(r.child(e, nsCAC, "AddressLine"), "Line"),
		Country:          r.str(r.child(e, nsCAC, "Country"), "IdentificationCode"),
	}
}

func (r *reader) payee(e el) Payee {
	if e.n == nil {
		return Payee{}
	}
	return Payee{
		Identifier: r.ident(r.child(r.child(e, nsCAC, "PartyIdentification"), nsCBC, "ID")),
		Name:       r.str(r.child(e, nsCAC, "PartyName"), "Name"),
		LegalID:    r.ident(r.child(r.child(e, nsCAC, "PartyLegalEntity"), nsCBC, "CompanyID")),
	}
}

func (r *reader) taxRepresentative(e el) TaxRepresentative {
	if e.n == nil {
		return TaxRepresentative{}
	}
	t := TaxRepresentative{
		Name:    r.str(r.child(e, nsCAC, "PartyName"), "Name"),
		Address: r.address(r.child(e, nsCAC, "PostalAddress")),
	}
	ts := r.child(e, nsCAC, "PartyTaxScheme")
	t.VATID = r.str(ts, "CompanyID")
	r.vatScheme(ts)
	return t
}

// vatScheme reads the cac:TaxScheme of e, which must be VAT.
func (r *reader) vatScheme(e el) {
	if e.n == nil {
		return
	}
	s := r.child(r.child(e, nsCAC, "TaxScheme"), nsCBC, "ID")
	if v := r.text(s); s.n == nil || v != "VAT" {
		r.errs.addPath(e.path()+"/cac:TaxScheme/cbc:ID", "unknown_code", "The tax scheme must be VAT; other taxes are not supported.")
	}
}

func (r *reader) delivery(e el) Delivery {
	if e.n == nil {
		return Delivery{}
	}
	d := Delivery{Date: r.date(e, "ActualDeliveryDate")}
	loc := r.child(e, nsCAC, "DeliveryLocation")
	d.LocationID = r.ident(r.child(loc, nsCBC, "ID"))
	d.Address = r.address(r.child(loc, nsCAC, "Address"))
	d.PartyName = r.str(r.child(r.child(e, nsCAC, "DeliveryParty"), nsCAC, "PartyName"), "Name")
	return d
}

func (r *reader) paymentMeans(e el) PaymentMeans {
	code := r.child(e, nsCBC, "PaymentMeansCode")
	pm := PaymentMeans{Code: r.text(code), Text: r.attr(code, "name"), RemittanceInfo: r.str(e, "PaymentID")}
	if c := r.child(e, nsCAC, "CardAccount"); c.n != nil {
		pm.Card = Card{PrimaryAccountNumber: r.str(c, "PrimaryAccountNumberID"), NetworkID: r.str(c, "NetworkID"), HolderName: r.str(c, "HolderName")}
	}
	if a := r.child(e, nsCAC, "PayeeFinancialAccount"); a.n != nil {
		pm.Account = Account{ID: r.str(a, "ID"), Name: r.str(a, "Name"), ProviderID: r.str(r.child(a, nsCAC, "FinancialInstitutionBranch"), "ID")}
	}
	if m := r.child(e, nsCAC, "PaymentMandate"); m.n != nil {
		pm.Mandate = Mandate{ID: r.str(m, "ID"), DebitedAccount: r.str(r.child(m, nsCAC, "PayerFinancialAccount"), "ID")}
	}
	return pm
}

func (r *reader) allowanceCharge(e el, doc bool) AllowanceCharge {
	var ac AllowanceCharge
	ind := r.child(e, nsCBC, "ChargeIndicator")
	switch s := r.text(ind); {
	case ind.n == nil:
		r.errs.addPath(e.path()+"/cbc:ChargeIndicator", "required", "An allowance or charge needs its ChargeIndicator.")
	case s == "true":
		ac.Charge = true
	case s != "false":
		r.errs.addPath(ind.path(), "invalid_value", "ChargeIndicator must be true or false [PEPPOL-EN16931-R043].")
	}
	ac.ReasonCode = r.str(e, "AllowanceChargeReasonCode")
	ac.Reason = r.str(e, "AllowanceChargeReason")
	ac.Percentage = r.decimal(r.child(e, nsCBC, "MultiplierFactorNumeric"))
	ac.Amount = r.amount(e, "Amount")
	ac.BaseAmount = r.amount(e, "BaseAmount")
	if doc {
		ac.VAT, _, _ = r.taxCategory(r.child(e, nsCAC, "TaxCategory"), false)
	}
	return ac
}

// taxCategory reads a cac:TaxCategory or cac:ClassifiedTaxCategory; only a
// VAT breakdown's category has exemption reasons.
func (r *reader) taxCategory(e el, exemption bool) (v VAT, code, reason string) {
	if e.n == nil {
		return VAT{}, "", ""
	}
	v = VAT{Category: r.str(e, "ID"), Rate: r.decimal(r.child(e, nsCBC, "Percent"))}
	if exemption {
		code = r.str(e, "TaxExemptionReasonCode")
		reason = r.str(e, "TaxExemptionReason")
	}
	r.vatScheme(e)
	return v, code, reason
}

func (r *reader) taxTotals(e el, inv *Invoice) {
	withSubtotals := false
	for _, tt := range r.children(e, nsCAC, "TaxTotal") {
		hasSub := false
		for _, k := range tt.n.kids {
			if k.name.Space == nsCAC && k.name.Local == "TaxSubtotal" {
				hasSub = true
			}
		}
		switch {
		case hasSub && withSubtotals:
			r.errs.addPath(tt.path(), "repeated_element", "Only one tax total with tax subtotals may be given [PEPPOL-EN16931-R053].")
			skip(tt.n)
		case hasSub:
			withSubtotals = true
			tt.n.pred = "[cac:TaxSubtotal]"
			inv.Totals.VAT = r.amount(tt, "TaxAmount")
			for _, st := range r.children(tt, nsCAC, "TaxSubtotal") {
				b := VATBreakdown{TaxableAmount: r.amount(st, "TaxableAmount"), TaxAmount: r.amount(st, "TaxAmount")}
				var v VAT
				v, b.ExemptionReasonCode, b.ExemptionReason = r.taxCategory(r.child(st, nsCAC, "TaxCategory"), true)
				b.Category, b.Rate = v.Category, v.Rate
				inv.VATBreakdown = append(inv.VATBreakdown, b)
			}
		case inv.TaxCurrency == "":
			r.errs.addPath(tt.path(), "not_allowed",
				"A tax total without subtotals carries the VAT in accounting currency (BT-111), which needs the VAT accounting currency code (BT-6) [PEPPOL-EN16931-R054].")
			skip(tt.n)
		case inv.Totals.VATInTaxCurrency.IsSet():
			r.errs.addPath(tt.path(), "repeated_element", "Only one tax total in accounting currency may be given [PEPPOL-EN16931-R054].")
			skip(tt.n)
		default:
			tt.n.pred = "[not(cac:TaxSubtotal)]"
			inv.Totals.VATInTaxCurrency = r.amountIn(r.child(tt, nsCBC, "TaxAmount"), inv.TaxCurrency)
		}
	}
}

func (r *reader) monetaryTotal(e el) (le, te, ti, at, ct, pp, ro, pa Decimal) {
	return r.amount(e, "LineExtensionAmount"), r.amount(e, "TaxExclusiveAmount"), r.amount(e, "TaxInclusiveAmount"),
		r.amount(e, "AllowanceTotalAmount"), r.amount(e, "ChargeTotalAmount"), r.amount(e, "PrepaidAmount"),
		r.amount(e, "PayableRoundingAmount"), r.amount(e, "PayableAmount")
}

func (r *reader) line(e el) Line {
	var ln Line
	ln.ID = r.str(e, "ID")
	ln.Note = r.str(e, "Note")
	q := r.child(e, nsCBC, "InvoicedQuantity")
	ln.Quantity = r.decimal(q)
	ln.UnitCode = r.attr(q, "unitCode")
	ln.NetAmount = r.amount(e, "LineExtensionAmount")
	ln.AccountingReference = r.str(e, "AccountingCost")
	ln.Period = r.period(r.child(e, nsCAC, "InvoicePeriod"))
	ln.OrderLineReference = r.str(r.child(e, nsCAC, "OrderLineReference"), "LineID")
	if dr := r.child(e, nsCAC, "DocumentReference"); dr.n != nil {
		ln.ObjectIdentifier = r.ident(r.child(dr, nsCBC, "ID"))
		if tc := r.child(dr, nsCBC, "DocumentTypeCode"); r.text(tc) != "130" {
			r.errs.addPath(dr.path()+"/cbc:DocumentTypeCode", "invalid_value",
				"A line document reference is the invoice line object identifier and needs document type code 130 [PEPPOL-EN16931-R101].")
		}
	}
	for _, ac := range r.children(e, nsCAC, "AllowanceCharge") {
		ln.AllowancesCharges = append(ln.AllowancesCharges, r.allowanceCharge(ac, false))
	}
	it := r.child(e, nsCAC, "Item")
	ln.Item = Item{
		Description:   r.str(it, "Description"),
		Name:          r.str(it, "Name"),
		BuyerID:       r.str(r.child(it, nsCAC, "BuyersItemIdentification"), "ID"),
		SellerID:      r.str(r.child(it, nsCAC, "SellersItemIdentification"), "ID"),
		StandardID:    r.ident(r.child(r.child(it, nsCAC, "StandardItemIdentification"), nsCBC, "ID")),
		OriginCountry: r.str(r.child(it, nsCAC, "OriginCountry"), "IdentificationCode"),
	}
	for _, cc := range r.children(it, nsCAC, "CommodityClassification") {
		c := r.child(cc, nsCBC, "ItemClassificationCode")
		ln.Item.Classifications = append(ln.Item.Classifications,
			Classification{Code: r.text(c), ListID: r.attr(c, "listID"), ListVersion: r.attr(c, "listVersionID")})
	}
	ln.VAT, _, _ = r.taxCategory(r.child(it, nsCAC, "ClassifiedTaxCategory"), false)
	for _, ap := range r.children(it, nsCAC, "AdditionalItemProperty") {
		ln.Item.Attributes = append(ln.Item.Attributes, Attribute{Name: r.str(ap, "Name"), Value: r.str(ap, "Value")})
	}
	pr := r.child(e, nsCAC, "Price")
	ln.Price.Amount = r.amount(pr, "PriceAmount")
	if bq := r.child(pr, nsCBC, "BaseQuantity"); bq.n != nil {
		ln.Price.BaseQuantity = r.decimal(bq)
		if u := r.attr(bq, "unitCode"); u != "" && u != ln.UnitCode {
			r.errs.addPath(bq.path()+"/@unitCode", "mismatch", "The price base quantity must be in the unit of the invoiced quantity [PEPPOL-EN16931-R130].")
		}
	}
	if ac := r.child(pr, nsCAC, "AllowanceCharge"); ac.n != nil {
		if ind := r.child(ac, nsCBC, "ChargeIndicator"); r.text(ind) != "false" {
			r.errs.addPath(ac.path()+"/cbc:ChargeIndicator", "not_allowed", "A price can only carry a discount: ChargeIndicator must be false [PEPPOL-EN16931-R044].")
		}
		ln.Price.Discount = r.amount(ac, "Amount")
		ln.Price.GrossAmount = r.amount(ac, "BaseAmount")
	}
	return ln
}
