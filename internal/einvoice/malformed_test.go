package einvoice

import (
	"errors"
	"strings"
	"testing"

	"github.com/valvhq/valv/internal/problem"
)

// TestDecodeJSONErrors checks that malformed JSON is reported field by
// field, with JSON pointers that include array indices.
func TestDecodeJSONErrors(t *testing.T) {
	valid := string(mustRead(t, "testdata/fixtures/minimal.json"))
	edit := func(old, new string) string {
		t.Helper()
		if !strings.Contains(valid, old) {
			t.Fatalf("minimal.json has no %q", old)
		}
		return strings.Replace(valid, old, new, 1)
	}
	tests := []struct {
		name, input string
		path, code  string
	}{
		{"bad date", edit(`"issue_date": "2026-01-15"`, `"issue_date": "2026-02-30"`), "/issue_date", "invalid_date"},
		{"date in another form", edit(`"due_date": "2026-02-14"`, `"due_date": "14/02/2026"`), "/due_date", "invalid_date"},
		{"amount as a JSON number", edit(`"net_amount": "1000.00"`, `"net_amount": 1000.00`), "/lines/0/net_amount", "wrong_type"},
		{"decimal comma", edit(`"quantity": "10"`, `"quantity": "10,5"`), "/lines/0/quantity", "invalid_decimal"},
		{"exponent", edit(`"amount": "100.00"`, `"amount": "1e2"`), "/lines/0/price/amount", "invalid_decimal"},
		{"too many digits", edit(`"quantity": "10"`, `"quantity": "1234567890123456789"`), "/lines/0/quantity", "invalid_decimal"},
		{"unknown field", edit(`"unit_code": "HUR"`, `"unit_code": "HUR", "unit": "h"`), "/lines/0/unit", "unknown_field"},
		{"field in another case", edit(`"number":`, `"Number":`), "/Number", "unknown_field"},
		{"repeated field", edit(`"currency": "SEK"`, `"currency": "SEK", "currency": "EUR"`), "/currency", "duplicate_field"},
		{"object where a string belongs", edit(`"city": "Göteborg"`, `"city": {"name": "Göteborg"}`), "/buyer/address/city", "wrong_type"},
		{"string where an array belongs", edit(`"lines": [`, `"lines": "none", "x": [`), "/lines", "wrong_type"},
		{"boolean as string", edit(`"vat_breakdown": [`, `"allowances_charges": [{"charge": "yes"}], "vat_breakdown": [`), "/allowances_charges/0/charge", "wrong_type"},
		{"bad base64", edit(`"payment_terms"`, `"supporting_documents": [{"id": "1", "attachment": {"content": "***", "mime_code": "text/csv", "filename": "a"}}], "payment_terms"`),
			"/supporting_documents/0/attachment/content", "invalid_base64"},
		{"not an object", `[]`, "", "wrong_type"},
		{"syntax error", `{"number": }`, "", "malformed_json"},
		{"truncated", valid[:len(valid)/2], "", "malformed_json"},
		{"empty", ``, "", "malformed_json"},
		{"trailing data", valid + `{}`, "", "trailing_data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeJSON([]byte(tt.input))
			errs := fieldErrs(t, err)
			if !hasField(errs, tt.path, tt.code) {
				t.Errorf("want %q %s; got:%s", tt.path, tt.code, dump(errs))
			}
		})
	}

	// All problems at once, each at its place.
	in := edit(`"issue_date": "2026-01-15"`, `"issue_date": "2026-13-01"`)
	in = strings.Replace(in, `"quantity": "10"`, `"quantity": 10`, 1)
	in = strings.Replace(in, `"unit_code": "HUR"`, `"unit_code": "HUR", "colour": "red"`, 1)
	errs := fieldErrs(t, func() error { _, err := DecodeJSON([]byte(in)); return err }())
	for _, want := range [][2]string{{"/issue_date", "invalid_date"}, {"/lines/0/quantity", "wrong_type"}, {"/lines/0/colour", "unknown_field"}} {
		if !hasField(errs, want[0], want[1]) {
			t.Errorf("want %s %s; got:%s", want[0], want[1], dump(errs))
		}
	}

	// Size limit.
	_, err := DecodeJSON(make([]byte, MaxJSONSize+1))
	if p, ok := problem.As(err); !ok || p.Kind != problem.KindTooLarge {
		t.Errorf("oversized JSON: %v", err)
	}
}

// TestFromUBLErrors checks malformed and hostile UBL documents.
func TestFromUBLErrors(t *testing.T) {
	valid := string(mustRead(t, "testdata/fixtures/base-example.xml"))
	edit := func(old, new string) string {
		t.Helper()
		if !strings.Contains(valid, old) {
			t.Fatalf("base-example.xml has no %q", old)
		}
		return strings.Replace(valid, old, new, 1)
	}
	const root = `<Invoice xmlns:cac=`
	tests := []struct {
		name, input string
		path, code  string
	}{
		{"DOCTYPE", edit(root, `<!DOCTYPE Invoice [<!ENTITY x "y">]>`+"\n"+root), "/", "doctype_not_allowed"},
		{"external entity", edit(root, `<!DOCTYPE Invoice [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>`+"\n"+root), "/", "doctype_not_allowed"},
		{"billion laughs", edit(root, `<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>`+"\n"+root), "/", "doctype_not_allowed"},
		{"undeclared entity", edit(`<cbc:ID>VALV-BASE-1</cbc:ID>`, `<cbc:ID>&xxe;</cbc:ID>`), "/", "malformed_xml"},
		{"truncated", valid[:len(valid)/2], "/", "malformed_xml"},
		{"not XML", "not xml at all", "/", "malformed_xml"},
		{"Latin-1", strings.Replace(valid, `encoding="UTF-8"`, `encoding="ISO-8859-1"`, 1), "/", "malformed_xml"},
		{"two roots", valid + "<Invoice/>", "/", "malformed_xml"},
		{"credit note", strings.ReplaceAll(strings.ReplaceAll(valid, "<Invoice ", "<CreditNote "), "</Invoice>", "</CreditNote>"), "/CreditNote", "unsupported_document"},
		{"other namespace", edit(`xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"`, `xmlns="urn:example"`), "/Q{urn:example}Invoice", "not_an_invoice"},
		{"other specification", edit(`billing:3.0</cbc:CustomizationID>`, `billing:2.0</cbc:CustomizationID>`), "/Invoice/cbc:CustomizationID", "unsupported_specification"},
		{"missing seller", cut(t, valid, "<cac:AccountingSupplierParty>", "</cac:AccountingSupplierParty>"), "/Invoice/cac:AccountingSupplierParty/cac:Party", "required"},
		{"wrong totals", edit(`<cbc:PayableAmount currencyID="SEK">1656.25</cbc:PayableAmount>`, `<cbc:PayableAmount currencyID="SEK">1656.00</cbc:PayableAmount>`),
			"/Invoice/cac:LegalMonetaryTotal/cbc:PayableAmount", "mismatch"},
		{"bad date", edit(`<cbc:IssueDate>2025-11-13</cbc:IssueDate>`, `<cbc:IssueDate>2025-11-31</cbc:IssueDate>`), "/Invoice/cbc:IssueDate", "invalid_date"},
		{"bad quantity", edit(`unitCodeListID="UNECERec20">-3<`, `unitCodeListID="UNECERec20">-3,0<`), "/Invoice/cac:InvoiceLine[2]/cbc:InvoicedQuantity", "invalid_decimal"},
		{"negative base quantity", edit(`<cbc:PriceAmount currencyID="SEK">500</cbc:PriceAmount>`, `<cbc:PriceAmount currencyID="SEK">500</cbc:PriceAmount><cbc:BaseQuantity unitCode="DAY">-1</cbc:BaseQuantity>`),
			"/Invoice/cac:InvoiceLine[2]/cac:Price/cbc:BaseQuantity", "must_be_positive"},
		{"unknown VAT category", edit(`<cbc:ID>S</cbc:ID>`, `<cbc:ID>X</cbc:ID>`), "/Invoice/cac:AllowanceCharge[1]/cac:TaxCategory/cbc:ID", "unknown_code"},
		{"currency mismatch", edit(`<cbc:Amount currencyID="SEK">25</cbc:Amount>`, `<cbc:Amount currencyID="EUR">25</cbc:Amount>`), "/Invoice/cac:AllowanceCharge[1]/cbc:Amount/@currencyID", "currency_mismatch"},
		{"amount without currency", edit(`<cbc:Amount currencyID="SEK">25</cbc:Amount>`, `<cbc:Amount>25</cbc:Amount>`), "/Invoice/cac:AllowanceCharge[1]/cbc:Amount/@currencyID", "required"},
		{"unsupported element", edit(`<cbc:BuyerReference>`, `<cbc:IssueTime>10:00:00</cbc:IssueTime><cbc:BuyerReference>`), "/Invoice/cbc:IssueTime", "unsupported_element"},
		{"extension", edit(`<cbc:CustomizationID>`, `<ext:UBLExtensions xmlns:ext="urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2"/><cbc:CustomizationID>`),
			"/Invoice/ext:UBLExtensions", "unsupported_element"},
		{"element in a leaf", edit(`<cbc:ID>VALV-BASE-1</cbc:ID>`, `<cbc:ID>VALV-BASE-1<cbc:Name>x</cbc:Name></cbc:ID>`), "/Invoice/cbc:ID/cbc:Name", "unsupported_element"},
		{"text in an aggregate", edit(`<cac:OrderReference>`, `<cac:OrderReference>stray`), "/Invoice/cac:OrderReference", "unexpected_text"},
		{"repeated element", edit(`<cbc:ID>VALV-BASE-1</cbc:ID>`, `<cbc:ID>VALV-BASE-1</cbc:ID><cbc:ID>2</cbc:ID>`), "/Invoice/cbc:ID[2]", "repeated_element"},
		{"two notes", edit(`<cbc:DocumentCurrencyCode>`, `<cbc:Note>a</cbc:Note><cbc:Note>b</cbc:Note><cbc:DocumentCurrencyCode>`), "/Invoice/cbc:Note[2]", "repeated_element"},
		{"empty element", edit(`<cbc:AccountingCost>4025:123:4343</cbc:AccountingCost>`, `<cbc:AccountingCost> </cbc:AccountingCost>`), "/Invoice/cbc:AccountingCost", "empty_element"},
		{"charge indicator", edit(`<cbc:ChargeIndicator>true</cbc:ChargeIndicator>`, `<cbc:ChargeIndicator>1</cbc:ChargeIndicator>`), "/Invoice/cac:AllowanceCharge[1]/cbc:ChargeIndicator", "invalid_value"},
		{"base quantity in another unit", edit(`<cbc:PriceAmount currencyID="SEK">500</cbc:PriceAmount>`, `<cbc:PriceAmount currencyID="SEK">500</cbc:PriceAmount><cbc:BaseQuantity unitCode="HUR">1</cbc:BaseQuantity>`),
			"/Invoice/cac:InvoiceLine[2]/cac:Price/cbc:BaseQuantity/@unitCode", "mismatch"},
		{"buyer tax scheme not VAT", nth(valid, `<cbc:ID>VAT</cbc:ID>`, `<cbc:ID>GST</cbc:ID>`, 2),
			"/Invoice/cac:AccountingCustomerParty/cac:Party/cac:PartyTaxScheme[1]", "not_allowed"},
		{"tax category scheme not VAT", nth(valid, `<cbc:ID>VAT</cbc:ID>`, `<cbc:ID>GST</cbc:ID>`, 3),
			"/Invoice/cac:AllowanceCharge[1]/cac:TaxCategory/cac:TaxScheme/cbc:ID", "unknown_code"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := FromUBL([]byte(tt.input))
			errs := fieldErrs(t, err)
			if !hasField(errs, tt.path, tt.code) {
				t.Errorf("want %s %s; got:%s", tt.path, tt.code, dump(errs))
			}
		})
	}
}

// nth replaces the n-th (1-based) occurrence of old in s.
func nth(s, old, new string, n int) string {
	i := 0
	for ; n > 0; n-- {
		j := strings.Index(s[i:], old)
		if j < 0 {
			panic("nth: too few occurrences")
		}
		i += j
		if n > 1 {
			i += len(old)
		}
	}
	return s[:i] + new + s[i+len(old):]
}

// cut removes the text from the first start to the end of the first end after it.
func cut(t *testing.T, s, start, end string) string {
	t.Helper()
	i := strings.Index(s, start)
	j := strings.Index(s[i:], end)
	if i < 0 || j < 0 {
		t.Fatalf("cannot cut %s…%s", start, end)
	}
	return s[:i] + s[i+j+len(end):]
}

// TestFromUBLLimits checks the size, depth and element count limits.
func TestFromUBLLimits(t *testing.T) {
	kind := func(err error) problem.Kind {
		var p *problem.Error
		if !errors.As(err, &p) {
			t.Fatalf("not a problem: %v", err)
		}
		return p.Kind
	}
	if _, err := FromUBL(make([]byte, MaxUBLSize+1)); kind(err) != problem.KindTooLarge {
		t.Errorf("oversized: %v", err)
	}
	deep := strings.Repeat("<a>", MaxUBLDepth+1) + strings.Repeat("</a>", MaxUBLDepth+1)
	errs := fieldErrs(t, func() error { _, err := FromUBL([]byte(deep)); return err }())
	if !hasField(errs, "/", "too_deep") {
		t.Errorf("deep: %s", dump(errs))
	}
	many := "<a>" + strings.Repeat("<b/>", MaxUBLElements) + "</a>"
	if _, err := FromUBL([]byte(many)); kind(err) != problem.KindTooLarge {
		t.Errorf("many elements: %v", err)
	}
}

// TestFromUBLTolerance: a received invoice whose VAT is off by less than
// one currency unit is accepted, as the Peppol validation accepts it; the
// same invoice is refused when we are the ones sending it.
func TestFromUBLTolerance(t *testing.T) {
	x := string(mustRead(t, "testdata/fixtures/base-example.xml"))
	for _, r := range [][2]string{
		{">331.25<", ">331.75<"}, {">331.25<", ">331.75<"}, {">1656.25<", ">1656.75<"}, {">1656.25<", ">1656.75<"},
	} {
		x = strings.Replace(x, r[0], r[1], 1)
	}
	inv, err := FromUBL([]byte(x))
	if err != nil {
		t.Fatalf("FromUBL: %v", err)
	}
	errs := fieldErrs(t, inv.Validate())
	if !hasField(errs, "/vat_breakdown/0/tax_amount", "mismatch") {
		t.Errorf("Validate: %s", dump(errs))
	}
}
