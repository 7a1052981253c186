package einvoice

import (
	"errors"
	"strings"
	"testing"

	"github.com/valvhq/valv/internal/problem"
)

// base is a valid invoice (testdata/fixtures/minimal.json) to break.
func base(t testing.TB) Invoice {
	t.Helper()
	inv, err := DecodeJSON(mustRead(t, "testdata/fixtures/minimal.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := inv.Validate(); err != nil {
		t.Fatalf("minimal.json is not valid: %v", err)
	}
	return inv
}

// personal lists values in the fixtures that are personal data or could
// be; no error message may contain them.
var personal = []string{"Exempel", "Köparbolaget", "Storgatan", "Göteborg", "Stockholm", "5591234561", "5567890123",
	"SE559123456101", "52618394", "1234567890", "Konsulttimme", "abs1234", "INV-2026-0001"}

// fieldErrs returns the field errors of err, failing unless err is an
// invalid-kind problem that echoes no personal data.
func fieldErrs(t *testing.T, err error) []problem.FieldError {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	var p *problem.Error
	if !errors.As(err, &p) {
		t.Fatalf("error is %T, not a *problem.Error: %v", err, err)
	}
	if p.Kind != problem.KindInvalid {
		t.Fatalf("kind = %v, want invalid", p.Kind)
	}
	text := p.Message
	for _, f := range p.Fields {
		text += "\n" + f.Message + "\n" + f.Code
	}
	for _, s := range personal {
		if strings.Contains(text, s) {
			t.Errorf("error echoes %q from the invoice:\n%s", s, text)
		}
	}
	return p.Fields
}

// hasField reports whether errs has one at path with code.
func hasField(errs []problem.FieldError, path, code string) bool {
	for _, e := range errs {
		if e.Field == path && e.Code == code {
			return true
		}
	}
	return false
}

func dump(errs []problem.FieldError) string {
	var b strings.Builder
	for _, e := range errs {
		b.WriteString("\n  " + e.Field + " " + e.Code + ": " + e.Message)
	}
	return b.String()
}

// TestRules breaks a valid invoice one rule at a time and checks that
// Validate (and so ToUBL) reports the right field with the right code.
func TestRules(t *testing.T) {
	d := MustParseDecimal
	tests := []struct {
		name string
		edit func(*Invoice)
		path string
		code string
	}{
		{"missing number", func(i *Invoice) { i.Number = " " }, "/number", "required"},
		{"missing issue date", func(i *Invoice) { i.IssueDate = Date{} }, "/issue_date", "required"},
		{"credit note type", func(i *Invoice) { i.TypeCode = "381" }, "/type_code", "unknown_code"},
		{"missing currency", func(i *Invoice) { i.Currency = "" }, "/currency", "required"},
		{"lower-case currency", func(i *Invoice) { i.Currency = "sek" }, "/currency", "unknown_code"},
		{"unknown currency", func(i *Invoice) { i.Currency = "SKR" }, "/currency", "unknown_code"},
		{"tax currency same as currency", func(i *Invoice) { i.TaxCurrency = "SEK"; i.Totals.VATInTaxCurrency = d("250.00") }, "/tax_currency", "not_allowed"},
		{"tax currency without BT-111", func(i *Invoice) { i.TaxCurrency = "EUR" }, "/totals/vat_amount_tax_currency", "required"},
		{"no buyer or order reference", func(i *Invoice) { i.BuyerReference = "" }, "/buyer_reference", "required"},
		{"sales order without order", func(i *Invoice) { i.SalesOrderReference = "SO" }, "/order_reference", "required"},
		{"period ends before start", func(i *Invoice) {
			i.Period = Period{Start: MustParseDate("2026-02-01"), End: MustParseDate("2026-01-01")}
		}, "/period/end", "invalid_range"},
		{"VAT point date and code", func(i *Invoice) { i.TaxPointDate = i.IssueDate; i.Period = Period{End: i.IssueDate, Code: "3"} }, "/tax_point_date", "not_allowed"},
		{"unknown VAT point date code", func(i *Invoice) { i.Period = Period{End: i.IssueDate, Code: "4"} }, "/period/description_code", "unknown_code"},
		{"missing seller", func(i *Invoice) { i.Seller = Party{} }, "/seller", "required"},
		{"missing buyer", func(i *Invoice) { i.Buyer = Party{} }, "/buyer", "required"},
		{"missing seller name", func(i *Invoice) { i.Seller.Name = "" }, "/seller/name", "required"},
		{"missing endpoint", func(i *Invoice) { i.Buyer.EndpointID = Identifier{} }, "/buyer/endpoint_id/id", "required"},
		{"endpoint without scheme", func(i *Invoice) { i.Seller.EndpointID.Scheme = "" }, "/seller/endpoint_id/scheme", "required"},
		{"endpoint scheme form", func(i *Invoice) { i.Seller.EndpointID.Scheme = "SE" }, "/seller/endpoint_id/scheme", "invalid_format"},
		{"bad Swedish orgnr check digit", func(i *Invoice) { i.Seller.EndpointID.ID = "5591234562" }, "/seller/endpoint_id/id", "invalid_checksum"},
		{"bad GLN check digit", func(i *Invoice) { i.Buyer.EndpointID.ID = "7350000000008" }, "/buyer/endpoint_id/id", "invalid_checksum"},
		{"missing country", func(i *Invoice) { i.Seller.Address.Country = "" }, "/seller/address/country", "required"},
		{"country not a code", func(i *Invoice) { i.Buyer.Address.Country = "Sweden" }, "/buyer/address/country", "unknown_code"},
		{"VAT id without country", func(i *Invoice) { i.Buyer.VATID = "556789012301" }, "/buyer/vat_id", "invalid_format"},
		{"Swedish VAT id form", func(i *Invoice) { i.Seller.VATID = "SE5591234561" }, "/seller/vat_id", "invalid_format"},
		{"F-skatt text", func(i *Invoice) { i.Seller.TaxRegistrationID = "F-skatt" }, "/seller/tax_registration_id", "invalid_value"},
		{"buyer tax registration", func(i *Invoice) { i.Buyer.TaxRegistrationID = "x" }, "/buyer/tax_registration_id", "not_allowed"},
		{"buyer legal form", func(i *Invoice) { i.Buyer.LegalForm = "x" }, "/buyer/legal_form", "not_allowed"},
		{"seller without any identifier", func(i *Invoice) {
			i.Seller.LegalID = Identifier{}
			i.Seller.VATID = ""
			i.Seller.TaxRegistrationID = ""
		}, "/seller/legal_id", "required"},
		{"bankgiro form", func(i *Invoice) { i.PaymentMeans[0].Account.ID = "5261-8394" }, "/payment_means/0/account/id", "invalid_format"},
		{"credit transfer without account", func(i *Invoice) { i.PaymentMeans[0].Account = Account{} }, "/payment_means/0/account/id", "required"},
		{"unknown payment means", func(i *Invoice) { i.PaymentMeans[0].Code = "99" }, "/payment_means/0/code", "unknown_code"},
		{"direct debit without mandate", func(i *Invoice) { i.PaymentMeans[0] = PaymentMeans{Code: "59"} }, "/payment_means/0/mandate/id", "required"},
		{"whole card number", func(i *Invoice) {
			i.PaymentMeans[0].Card = Card{PrimaryAccountNumber: "4111111111111111", NetworkID: "VISA"}
		}, "/payment_means/0/card/primary_account_number", "invalid_format"},
		{"no due date nor terms", func(i *Invoice) { i.DueDate = Date{}; i.PaymentTerms = "" }, "/due_date", "required"},
		{"no lines", func(i *Invoice) { i.Lines = nil }, "/lines", "required"},
		{"missing quantity", func(i *Invoice) { i.Lines[0].Quantity = Decimal{} }, "/lines/0/quantity", "required"},
		{"missing unit", func(i *Invoice) { i.Lines[0].UnitCode = "" }, "/lines/0/unit_code", "required"},
		{"unit code form", func(i *Invoice) { i.Lines[0].UnitCode = "hours" }, "/lines/0/unit_code", "invalid_format"},
		{"missing item name", func(i *Invoice) { i.Lines[0].Item.Name = "" }, "/lines/0/item/name", "required"},
		{"line amount with three decimals", func(i *Invoice) { i.Lines[0].NetAmount = d("1000.000") }, "/lines/0/net_amount", "too_many_decimals"},
		{"line amount not quantity × price", func(i *Invoice) { i.Lines[0].Price.Amount = d("99.00") }, "/lines/0/net_amount", "mismatch"},
		{"negative price", func(i *Invoice) { i.Lines[0].Price.Amount = d("-100.00"); i.Lines[0].Quantity = d("-10") }, "/lines/0/price/amount", "must_not_be_negative"},
		{"negative base quantity", func(i *Invoice) { i.Lines[0].Price.BaseQuantity = d("-1") }, "/lines/0/price/base_quantity", "must_be_positive"},
		{"zero base quantity", func(i *Invoice) { i.Lines[0].Price.BaseQuantity = d("0") }, "/lines/0/price/base_quantity", "must_be_positive"},
		{"net price not gross less discount", func(i *Invoice) { i.Lines[0].Price.GrossAmount = d("120.00"); i.Lines[0].Price.Discount = d("10.00") }, "/lines/0/price/amount", "mismatch"},
		{"gross price without discount", func(i *Invoice) { i.Lines[0].Price.GrossAmount = d("100.00") }, "/lines/0/price/discount", "required"},
		{"unknown VAT category", func(i *Invoice) { i.Lines[0].VAT.Category = "X" }, "/lines/0/vat/category", "unknown_code"},
		{"missing VAT category", func(i *Invoice) { i.Lines[0].VAT = VAT{} }, "/lines/0/vat/category", "required"},
		{"standard rate zero", func(i *Invoice) { i.Lines[0].VAT.Rate = d("0") }, "/lines/0/vat/rate", "must_be_positive"},
		{"Swedish rate", func(i *Invoice) { i.Lines[0].VAT.Rate = d("20"); i.VATBreakdown[0].Rate = d("20") }, "/lines/0/vat/rate", "unknown_rate"},
		{"zero rated with a rate", func(i *Invoice) { i.Lines[0].VAT = VAT{Category: "Z", Rate: d("25")} }, "/lines/0/vat/rate", "must_be_zero"},
		{"exempt with a rate", func(i *Invoice) { i.Lines[0].VAT = VAT{Category: "E", Rate: d("12")} }, "/lines/0/vat/rate", "must_be_zero"},
		{"outside scope with a rate", func(i *Invoice) { i.Lines[0].VAT = VAT{Category: "O", Rate: d("0")} }, "/lines/0/vat/rate", "not_allowed"},
		{"line allowance with VAT", func(i *Invoice) {
			i.Lines[0].AllowancesCharges = []AllowanceCharge{{Amount: d("0.00"), Reason: "x", VAT: VAT{Category: "S", Rate: d("25")}}}
		}, "/lines/0/allowances_charges/0/vat", "not_allowed"},
		{"line period code", func(i *Invoice) { i.Lines[0].Period = Period{Start: i.IssueDate, Code: "3"} }, "/lines/0/period/description_code", "not_allowed"},
		{"line period outside invoice period", func(i *Invoice) {
			i.Period = Period{Start: MustParseDate("2026-01-01"), End: MustParseDate("2026-01-31")}
			i.Lines[0].Period = Period{Start: MustParseDate("2025-12-01")}
		}, "/lines/0/period/start", "invalid_range"},
		{"allowance without reason", func(i *Invoice) {
			i.AllowancesCharges = []AllowanceCharge{{Amount: d("0.00"), VAT: VAT{Category: "S", Rate: d("25")}}}
		}, "/allowances_charges/0/reason", "required"},
		{"allowance without VAT", func(i *Invoice) { i.AllowancesCharges = []AllowanceCharge{{Amount: d("0.00"), Reason: "x"}} }, "/allowances_charges/0/vat/category", "required"},
		{"allowance percentage without base", func(i *Invoice) {
			i.AllowancesCharges = []AllowanceCharge{{Amount: d("0.00"), Percentage: d("10"), Reason: "x", VAT: VAT{Category: "S", Rate: d("25")}}}
		}, "/allowances_charges/0/base_amount", "required"},
		{"allowance not base × percentage", func(i *Invoice) {
			i.AllowancesCharges = []AllowanceCharge{{Amount: d("0.00"), BaseAmount: d("100.00"), Percentage: d("10"), Reason: "x", VAT: VAT{Category: "S", Rate: d("25")}}}
		}, "/allowances_charges/0/amount", "mismatch"},
		{"unknown allowance reason code", func(i *Invoice) {
			i.AllowancesCharges = []AllowanceCharge{{Amount: d("0.00"), ReasonCode: "FC", VAT: VAT{Category: "S", Rate: d("25")}}}
		}, "/allowances_charges/0/reason_code", "unknown_code"},
		{"allowance not in allowance total", func(i *Invoice) {
			i.AllowancesCharges = []AllowanceCharge{{Amount: d("0.00"), Reason: "x", VAT: VAT{Category: "S", Rate: d("25")}}}
		}, "/totals/allowance_total_amount", "required"},
		{"no VAT breakdown", func(i *Invoice) { i.VATBreakdown = nil }, "/vat_breakdown", "required"},
		{"VAT breakdown missing a rate", func(i *Invoice) { i.VATBreakdown[0].Rate = d("12") }, "/vat_breakdown", "missing"},
		{"VAT breakdown twice", func(i *Invoice) { i.VATBreakdown = append(i.VATBreakdown, i.VATBreakdown[0]) }, "/vat_breakdown/1", "duplicate"},
		{"wrong taxable amount", func(i *Invoice) { i.VATBreakdown[0].TaxableAmount = d("999.00") }, "/vat_breakdown/0/taxable_amount", "mismatch"},
		{"wrong tax amount", func(i *Invoice) {
			i.VATBreakdown[0].TaxAmount = d("250.01")
			i.Totals.VAT = d("250.01")
			i.Totals.TaxInclusive = d("1250.01")
			i.Totals.Payable = d("1250.01")
		}, "/vat_breakdown/0/tax_amount", "mismatch"},
		{"exempt without reason", func(i *Invoice) {
			i.Lines[0].VAT = VAT{Category: "E", Rate: d("0")}
			i.VATBreakdown[0] = VATBreakdown{Category: "E", Rate: d("0"), TaxableAmount: d("1000.00"), TaxAmount: d("0.00")}
			i.Totals.VAT, i.Totals.TaxInclusive, i.Totals.Payable = d("0.00"), d("1000.00"), d("1000.00")
		}, "/vat_breakdown/0/exemption_reason", "required"},
		{"standard rate with exemption reason", func(i *Invoice) { i.VATBreakdown[0].ExemptionReason = "x" }, "/vat_breakdown/0/exemption_reason", "not_allowed"},
		{"exemption code of another category", func(i *Invoice) {
			i.Lines[0].VAT = VAT{Category: "E", Rate: d("0")}
			i.VATBreakdown[0] = VATBreakdown{Category: "E", Rate: d("0"), TaxableAmount: d("1000.00"), TaxAmount: d("0.00"), ExemptionReasonCode: "VATEX-EU-IC"}
			i.Totals.VAT, i.Totals.TaxInclusive, i.Totals.Payable = d("0.00"), d("1000.00"), d("1000.00")
		}, "/vat_breakdown/0/exemption_reason_code", "mismatch"},
		{"reverse charge without buyer VAT", func(i *Invoice) {
			i.Buyer.VATID, i.Buyer.LegalID = "", Identifier{}
			i.Lines[0].VAT = VAT{Category: "AE", Rate: d("0")}
			i.VATBreakdown[0] = VATBreakdown{Category: "AE", Rate: d("0"), TaxableAmount: d("1000.00"), TaxAmount: d("0.00"), ExemptionReasonCode: "VATEX-EU-AE"}
			i.Totals.VAT, i.Totals.TaxInclusive, i.Totals.Payable = d("0.00"), d("1000.00"), d("1000.00")
		}, "/buyer/vat_id", "required"},
		{"intra-community without delivery", func(i *Invoice) {
			i.Lines[0].VAT = VAT{Category: "K", Rate: d("0")}
			i.VATBreakdown[0] = VATBreakdown{Category: "K", Rate: d("0"), TaxableAmount: d("1000.00"), TaxAmount: d("0.00"), ExemptionReasonCode: "VATEX-EU-IC"}
			i.Totals.VAT, i.Totals.TaxInclusive, i.Totals.Payable = d("0.00"), d("1000.00"), d("1000.00")
		}, "/delivery/address/country", "required"},
		{"outside scope with seller VAT", func(i *Invoice) {
			i.Lines[0].VAT = VAT{Category: "O"}
			i.VATBreakdown[0] = VATBreakdown{Category: "O", TaxableAmount: d("1000.00"), TaxAmount: d("0.00"), ExemptionReason: "x"}
			i.Totals.VAT, i.Totals.TaxInclusive, i.Totals.Payable = d("0.00"), d("1000.00"), d("1000.00")
		}, "/seller/vat_id", "not_allowed"},
		{"wrong line extension total", func(i *Invoice) { i.Totals.LineExtension = d("1001.00") }, "/totals/line_extension_amount", "mismatch"},
		{"wrong tax exclusive total", func(i *Invoice) { i.Totals.TaxExclusive = d("1001.00") }, "/totals/tax_exclusive_amount", "mismatch"},
		{"wrong VAT total", func(i *Invoice) { i.Totals.VAT = d("251.00") }, "/totals/vat_amount", "mismatch"},
		{"wrong tax inclusive total", func(i *Invoice) { i.Totals.TaxInclusive = d("1250.50") }, "/totals/tax_inclusive_amount", "mismatch"},
		{"wrong payable", func(i *Invoice) { i.Totals.Payable = d("1249.00") }, "/totals/payable_amount", "mismatch"},
		{"payable with three decimals", func(i *Invoice) { i.Totals.Payable = d("1250.000") }, "/totals/payable_amount", "too_many_decimals"},
		{"missing totals", func(i *Invoice) { i.Totals = Totals{} }, "/totals", "required"},
		{"control character", func(i *Invoice) { i.Note = "a\x00b" }, "/note", "invalid_characters"},
		{"invalid UTF-8", func(i *Invoice) { i.Lines[0].Item.Name = "\xff" }, "/lines/0/item/name", "invalid_characters"},
		{"attachment type", func(i *Invoice) {
			i.SupportingDocuments = []SupportingDocument{{ID: "1", Attachment: Attachment{Content: []byte("x"), MIMECode: "application/zip", Filename: "a.zip"}}}
		}, "/supporting_documents/0/attachment/mime_code", "unknown_code"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := base(t)
			tt.edit(&inv)
			err := inv.Validate()
			errs := fieldErrs(t, err)
			if !hasField(errs, tt.path, tt.code) {
				t.Errorf("want %s %s; got:%s", tt.path, tt.code, dump(errs))
			}
			if _, err2 := ToUBL(inv); err2 == nil || err2.Error() != err.Error() {
				t.Errorf("ToUBL must refuse the invoice as Validate does: %v", err2)
			}
		})
	}
}

// TestValid checks things the rules allow that a stricter reading might not.
func TestValid(t *testing.T) {
	d := MustParseDecimal
	tests := []struct {
		name string
		edit func(*Invoice)
	}{
		{"negative quantity (a credited line)", func(i *Invoice) {
			i.Lines = append(i.Lines, Line{ID: "2", Quantity: d("-1"), UnitCode: "HUR", NetAmount: d("-100.00"),
				Item: Item{Name: "Kreditering"}, VAT: VAT{Category: "S", Rate: d("25")}, Price: Price{Amount: d("100.00")}})
			i.VATBreakdown[0].TaxableAmount, i.VATBreakdown[0].TaxAmount = d("900.00"), d("225.00")
			i.Totals = Totals{LineExtension: d("900.00"), TaxExclusive: d("900.00"), VAT: d("225.00"), TaxInclusive: d("1125.00"), Payable: d("1125.00")}
		}},
		{"order reference instead of buyer reference", func(i *Invoice) { i.BuyerReference, i.OrderReference = "", "PO-1" }},
		{"payment terms instead of due date", func(i *Invoice) { i.DueDate = Date{} }},
		{"nothing due, no terms", func(i *Invoice) {
			i.DueDate, i.PaymentTerms = Date{}, ""
			i.Totals.Prepaid, i.Totals.Payable = d("1250.00"), d("0.00")
		}},
		{"rounding of VAT half away from zero", func(i *Invoice) {
			i.Lines[0].Quantity, i.Lines[0].NetAmount, i.Lines[0].Price.Amount = d("1"), d("0.02"), d("0.02")
			i.VATBreakdown[0].TaxableAmount, i.VATBreakdown[0].TaxAmount = d("0.02"), d("0.01") // 0.005 → 0.01
			i.Totals = Totals{LineExtension: d("0.02"), TaxExclusive: d("0.02"), VAT: d("0.01"), TaxInclusive: d("0.03"), Payable: d("0.03")}
		}},
		{"line amount within 0.02 of quantity × price", func(i *Invoice) { i.Lines[0].Price.Amount = d("100.001") }},
		{"text with surrounding space", func(i *Invoice) { i.Seller.Name = "  Exempel Fakturering AB " }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := base(t)
			tt.edit(&inv)
			if err := inv.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			x, err := ToUBL(inv)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := FromUBL(x); err != nil {
				t.Fatalf("FromUBL(ToUBL(x)): %v", err)
			}
		})
	}
}
