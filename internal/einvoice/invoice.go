package einvoice

import (
	"log/slog"
	"strconv"
)

// Invoice is the structured invoice: the semantic model of EN 16931 as
// Peppol BIS Billing 3.0 restricts it, one field per business term (BT-n)
// or group (BG-n). JSON names are snake_case; docs/einvoice.md maps every
// field to its business term and to its place in the UBL document.
//
// Text fields hold text as given; leading and trailing white space is not
// significant (ToUBL trims it, FromUBL strips it). Optional structs are
// absent when zero. Amounts are Decimals with at most two fraction digits
// (BR-DEC rules); prices, quantities and rates may have more.
//
// An Invoice holds personal data (contact names, e-mail addresses, the
// names of sole traders, card holders): its String and LogValue methods
// print only the invoice number and counts.
type Invoice struct {
	Number       string `json:"number"`                  // BT-1 Invoice number
	IssueDate    Date   `json:"issue_date"`              // BT-2 Invoice issue date
	DueDate      Date   `json:"due_date,omitzero"`       // BT-9 Payment due date
	TypeCode     string `json:"type_code,omitempty"`     // BT-3 Invoice type code (UNCL1001 subset); empty means 380
	Note         string `json:"note,omitempty"`          // BT-22 Invoice note (Peppol allows one)
	TaxPointDate Date   `json:"tax_point_date,omitzero"` // BT-7 Value added tax point date
	Currency     string `json:"currency"`                // BT-5 Invoice currency code (ISO 4217)
	TaxCurrency  string `json:"tax_currency,omitempty"`  // BT-6 VAT accounting currency code (ISO 4217)
	// BuyerAccountingReference is BT-19, where the buyer books the invoice.
	BuyerAccountingReference string `json:"buyer_accounting_reference,omitempty"`
	BuyerReference           string `json:"buyer_reference,omitempty"`       // BT-10; this or OrderReference is required
	Period                   Period `json:"period,omitzero"`                 // BG-14 Invoicing period, with BT-8
	OrderReference           string `json:"order_reference,omitempty"`       // BT-13 Purchase order reference
	SalesOrderReference      string `json:"sales_order_reference,omitempty"` // BT-14

	PrecedingInvoices        []PrecedingInvoice   `json:"preceding_invoices,omitempty"`         // BG-3
	DespatchAdviceReference  string               `json:"despatch_advice_reference,omitempty"`  // BT-16
	ReceivingAdviceReference string               `json:"receiving_advice_reference,omitempty"` // BT-15
	TenderReference          string               `json:"tender_reference,omitempty"`           // BT-17 Tender or lot reference
	ContractReference        string               `json:"contract_reference,omitempty"`         // BT-12
	InvoicedObject           Identifier           `json:"invoiced_object,omitzero"`             // BT-18, scheme from UNCL1153
	SupportingDocuments      []SupportingDocument `json:"supporting_documents,omitempty"`       // BG-24
	ProjectReference         string               `json:"project_reference,omitempty"`          // BT-11

	Seller            Party             `json:"seller"`                       // BG-4
	Buyer             Party             `json:"buyer"`                        // BG-7
	Payee             Payee             `json:"payee,omitzero"`               // BG-10, when not the seller
	TaxRepresentative TaxRepresentative `json:"tax_representative,omitzero"`  // BG-11
	Delivery          Delivery          `json:"delivery,omitzero"`            // BG-13
	PaymentMeans      []PaymentMeans    `json:"payment_means,omitempty"`      // BG-16
	PaymentTerms      string            `json:"payment_terms,omitempty"`      // BT-20
	AllowancesCharges []AllowanceCharge `json:"allowances_charges,omitempty"` // BG-20 and BG-21
	VATBreakdown      []VATBreakdown    `json:"vat_breakdown"`                // BG-23, one per VAT category and rate
	Totals            Totals            `json:"totals"`                       // BG-22
	Lines             []Line            `json:"lines"`                        // BG-25, at least one
}

// Period is an invoicing period (BG-14: BT-73, BT-74 and the VAT point date
// code BT-8) or an invoice line period (BG-26: BT-134, BT-135; no code).
type Period struct {
	Start Date   `json:"start,omitzero"`
	End   Date   `json:"end,omitzero"`
	Code  string `json:"description_code,omitempty"` // BT-8, UNCL2005 subset: 3, 35 or 432
}

// PrecedingInvoice is BG-3: an earlier invoice this one refers to, such as
// the invoice a negative (correcting) invoice corrects.
type PrecedingInvoice struct {
	Number    string `json:"number"`              // BT-25
	IssueDate Date   `json:"issue_date,omitzero"` // BT-26
}

// Identifier is an identifier with an optional identification scheme (the
// schemeID attribute in UBL). Which code list the scheme comes from depends
// on the field: EAS for electronic addresses, ISO 6523 ICD for party and
// item identifiers, UNCL1153 for object identifiers.
type Identifier struct {
	ID     string `json:"id"`
	Scheme string `json:"scheme,omitempty"`
}

// SupportingDocument is BG-24: a document that substantiates the invoice,
// referenced by id, by URI, or attached.
type SupportingDocument struct {
	ID          string     `json:"id"`                    // BT-122
	Description string     `json:"description,omitempty"` // BT-123
	URI         string     `json:"uri,omitempty"`         // BT-124 External document location
	Attachment  Attachment `json:"attachment,omitzero"`   // BT-125
}

// Attachment is an embedded document (BT-125), base64 in JSON and in UBL.
type Attachment struct {
	Content  []byte `json:"content"`   // the document's bytes
	MIMECode string `json:"mime_code"` // BT-125-1, Peppol subset of IANA media types
	Filename string `json:"filename"`  // BT-125-2
}

// Party is the seller (BG-4) or the buyer (BG-7). LegalForm and
// TaxRegistrationID exist only for the seller.
type Party struct {
	Name              string       `json:"name"`                          // BT-27 / BT-44 (legal registration name)
	TradingName       string       `json:"trading_name,omitempty"`        // BT-28 / BT-45
	EndpointID        Identifier   `json:"endpoint_id"`                   // BT-34 / BT-49 electronic address; scheme from EAS, required
	Identifiers       []Identifier `json:"identifiers,omitempty"`         // BT-29 / BT-46; scheme "SEPA" marks the bank assigned creditor identifier BT-90
	LegalID           Identifier   `json:"legal_id,omitzero"`             // BT-30 / BT-47 legal registration identifier (e.g. scheme 0007 Swedish orgnr)
	LegalForm         string       `json:"legal_form,omitempty"`          // BT-33 seller additional legal information
	VATID             string       `json:"vat_id,omitempty"`              // BT-31 / BT-48, with country prefix
	TaxRegistrationID string       `json:"tax_registration_id,omitempty"` // BT-32 seller tax registration identifier (e.g. "Godkänd för F-skatt")
	Address           Address      `json:"address"`                       // BG-5 / BG-8
	Contact           Contact      `json:"contact,omitzero"`              // BG-6 / BG-9
}

// Address is a postal address (BG-5, BG-8, BG-12, BG-15).
type Address struct {
	Street           string `json:"street,omitempty"`              // address line 1
	AdditionalStreet string `json:"additional_street,omitempty"`   // address line 2
	Line             string `json:"address_line,omitempty"`        // address line 3
	City             string `json:"city,omitempty"`                //
	PostalCode       string `json:"postal_code,omitempty"`         //
	Subdivision      string `json:"country_subdivision,omitempty"` //
	Country          string `json:"country"`                       // ISO 3166-1 alpha-2, required
}

// Contact is a contact point (BG-6, BG-9). It is personal data.
type Contact struct {
	Name  string `json:"name,omitempty"`  // BT-41 / BT-56
	Phone string `json:"phone,omitempty"` // BT-42 / BT-57
	Email string `json:"email,omitempty"` // BT-43 / BT-58
}

// Payee is BG-10, the party paid when it is not the seller.
type Payee struct {
	Name       string     `json:"name"`                // BT-59
	Identifier Identifier `json:"identifier,omitzero"` // BT-60, or BT-90 with scheme "SEPA"
	LegalID    Identifier `json:"legal_id,omitzero"`   // BT-61
}

// TaxRepresentative is BG-11, the seller's tax representative.
type TaxRepresentative struct {
	Name    string  `json:"name"`    // BT-62
	VATID   string  `json:"vat_id"`  // BT-63
	Address Address `json:"address"` // BG-12
}

// Delivery is BG-13: where and when goods or services were delivered.
type Delivery struct {
	PartyName  string     `json:"party_name,omitempty"` // BT-70
	LocationID Identifier `json:"location_id,omitzero"` // BT-71
	Date       Date       `json:"date,omitzero"`        // BT-72 Actual delivery date
	Address    Address    `json:"address,omitzero"`     // BG-15
}

// PaymentMeans is BG-16, one way to pay. Code is UNCL4461: 30 credit
// transfer (with Account; a Swedish bankgiro is Account.ProviderID
// "SE:BANKGIRO" and the bankgiro number as Account.ID), 58 SEPA credit
// transfer, 48 bank card (Card), 49 direct debit and 59 SEPA direct debit
// (Mandate).
type PaymentMeans struct {
	Code           string  `json:"code"`                             // BT-81
	Text           string  `json:"text,omitempty"`                   // BT-82
	RemittanceInfo string  `json:"remittance_information,omitempty"` // BT-83 (payment reference, e.g. OCR)
	Account        Account `json:"account,omitzero"`                 // BG-17 credit transfer
	Card           Card    `json:"card,omitzero"`                    // BG-18
	Mandate        Mandate `json:"mandate,omitzero"`                 // BG-19 direct debit
}

// Account is BG-17, the account to pay into.
type Account struct {
	ID         string `json:"id"`                    // BT-84 IBAN, bankgiro or other account number
	Name       string `json:"name,omitempty"`        // BT-85
	ProviderID string `json:"provider_id,omitempty"` // BT-86 BIC, or SE:BANKGIRO / SE:PLUSGIRO
}

// Card is BG-18. PrimaryAccountNumber holds only the last 4 to 6 digits
// (BR-51): a full card number must never be on an invoice.
type Card struct {
	PrimaryAccountNumber string `json:"primary_account_number"` // BT-87
	NetworkID            string `json:"network_id"`             // e.g. VISA
	HolderName           string `json:"holder_name,omitempty"`  // BT-88
}

// Mandate is BG-19, a direct debit mandate.
type Mandate struct {
	ID             string `json:"id"`                        // BT-89 Mandate reference
	DebitedAccount string `json:"debited_account,omitempty"` // BT-91
}

// AllowanceCharge is a document level allowance (BG-20) or charge (BG-21),
// or an invoice line allowance (BG-27) or charge (BG-28). On a line it has
// no VAT: the line's VAT applies.
type AllowanceCharge struct {
	Charge     bool    `json:"charge"`                // false: allowance, true: charge
	Amount     Decimal `json:"amount"`                // BT-92 / BT-99 / BT-136 / BT-141
	BaseAmount Decimal `json:"base_amount,omitzero"`  // BT-93 / BT-100 / BT-137 / BT-142
	Percentage Decimal `json:"percentage,omitzero"`   // BT-94 / BT-101 / BT-138 / BT-143
	Reason     string  `json:"reason,omitempty"`      // BT-97 / BT-104 / BT-139 / BT-144
	ReasonCode string  `json:"reason_code,omitempty"` // BT-98 / BT-105 / BT-140 / BT-145; UNCL5189 (allowance) or UNCL7161 (charge)
	VAT        VAT     `json:"vat,omitzero"`          // BT-95,96 / BT-102,103; document level only
}

// VAT is a VAT category and rate: S standard, Z zero rated, E exempt,
// AE reverse charge, K intra-community supply, G export outside the EU,
// O outside the scope of VAT (no rate), L and M the Canary Islands and
// Ceuta/Melilla taxes.
type VAT struct {
	Category string  `json:"category"`      // UNCL5305 subset
	Rate     Decimal `json:"rate,omitzero"` // percent; absent only for O
}

// VATBreakdown is BG-23: the VAT for one category and rate.
type VATBreakdown struct {
	Category            string  `json:"category"`                        // BT-118
	Rate                Decimal `json:"rate,omitzero"`                   // BT-119
	TaxableAmount       Decimal `json:"taxable_amount"`                  // BT-116
	TaxAmount           Decimal `json:"tax_amount"`                      // BT-117
	ExemptionReason     string  `json:"exemption_reason,omitempty"`      // BT-120
	ExemptionReasonCode string  `json:"exemption_reason_code,omitempty"` // BT-121 (VATEX)
}

// Totals is BG-22, the document totals, with the total VAT (BT-110, BT-111).
type Totals struct {
	LineExtension    Decimal `json:"line_extension_amount"`            // BT-106 Sum of line net amounts
	AllowanceTotal   Decimal `json:"allowance_total_amount,omitzero"`  // BT-107
	ChargeTotal      Decimal `json:"charge_total_amount,omitzero"`     // BT-108
	TaxExclusive     Decimal `json:"tax_exclusive_amount"`             // BT-109
	VAT              Decimal `json:"vat_amount"`                       // BT-110 in the invoice currency
	VATInTaxCurrency Decimal `json:"vat_amount_tax_currency,omitzero"` // BT-111 in TaxCurrency
	TaxInclusive     Decimal `json:"tax_inclusive_amount"`             // BT-112
	Prepaid          Decimal `json:"prepaid_amount,omitzero"`          // BT-113
	Rounding         Decimal `json:"rounding_amount,omitzero"`         // BT-114
	Payable          Decimal `json:"payable_amount"`                   // BT-115
}

// Line is BG-25, an invoice line.
type Line struct {
	ID                  string            `json:"id"`                             // BT-126
	Note                string            `json:"note,omitempty"`                 // BT-127
	ObjectIdentifier    Identifier        `json:"object_identifier,omitzero"`     // BT-128
	Quantity            Decimal           `json:"quantity"`                       // BT-129; may be negative
	UnitCode            string            `json:"unit_code"`                      // BT-130, UN/ECE Rec 20 or 21 (e.g. C62, H87, HUR, DAY)
	NetAmount           Decimal           `json:"net_amount"`                     // BT-131
	AccountingReference string            `json:"accounting_reference,omitempty"` // BT-133 Buyer accounting reference
	Period              Period            `json:"period,omitzero"`                // BG-26
	OrderLineReference  string            `json:"order_line_reference,omitempty"` // BT-132
	AllowancesCharges   []AllowanceCharge `json:"allowances_charges,omitempty"`   // BG-27 and BG-28
	Item                Item              `json:"item"`                           // BG-31
	VAT                 VAT               `json:"vat"`                            // BG-30: BT-151, BT-152
	Price               Price             `json:"price"`                          // BG-29
}

// Item is BG-31, what was sold.
type Item struct {
	Name            string           `json:"name"`                      // BT-153
	Description     string           `json:"description,omitempty"`     // BT-154
	SellerID        string           `json:"seller_id,omitempty"`       // BT-155
	BuyerID         string           `json:"buyer_id,omitempty"`        // BT-156
	StandardID      Identifier       `json:"standard_id,omitzero"`      // BT-157, scheme required (e.g. 0160 GTIN)
	Classifications []Classification `json:"classifications,omitempty"` // BT-158
	OriginCountry   string           `json:"origin_country,omitempty"`  // BT-159
	Attributes      []Attribute      `json:"attributes,omitempty"`      // BG-32
}

// Classification is BT-158, an item classification code from a list
// (UNCL7143: e.g. STI, CV, SRV).
type Classification struct {
	Code        string `json:"code"`
	ListID      string `json:"list_id"`
	ListVersion string `json:"list_version,omitempty"`
}

// Attribute is BG-32, an item attribute (BT-160, BT-161).
type Attribute struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Price is BG-29. Amount is the net price per BaseQuantity units (1 when
// absent); when GrossAmount is given, Amount = GrossAmount - Discount.
type Price struct {
	Amount       Decimal `json:"amount"`                 // BT-146 Item net price
	Discount     Decimal `json:"discount,omitzero"`      // BT-147 Item price discount
	GrossAmount  Decimal `json:"gross_amount,omitzero"`  // BT-148 Item gross price
	BaseQuantity Decimal `json:"base_quantity,omitzero"` // BT-149, in the line's unit (BT-150 = BT-130)
}

// String describes the invoice without personal data.
func (inv Invoice) String() string {
	return "einvoice.Invoice{number: " + strconv.Quote(inv.Number) + ", lines: " + strconv.Itoa(len(inv.Lines)) + "}"
}

// LogValue logs the invoice without personal data.
func (inv Invoice) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("number", inv.Number),
		slog.String("currency", inv.Currency),
		slog.Int("lines", len(inv.Lines)),
	)
}

// String hides the party: a sole trader's name and address are personal data.
func (Party) String() string { return "einvoice.Party{redacted}" }

// LogValue hides the party.
func (Party) LogValue() slog.Value { return slog.StringValue("redacted") }

// String hides the contact, which is personal data.
func (Contact) String() string { return "einvoice.Contact{redacted}" }

// LogValue hides the contact.
func (Contact) LogValue() slog.Value { return slog.StringValue("redacted") }

// String hides the card.
func (Card) String() string { return "einvoice.Card{redacted}" }

// LogValue hides the card.
func (Card) LogValue() slog.Value { return slog.StringValue("redacted") }
