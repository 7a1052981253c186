// Package einvoice converts structured invoice data to and from a Peppol
// BIS Billing 3.0 invoice: a UBL 2.1 Invoice document that follows EN 16931
// as Peppol restricts it. It is the first converter a tenant can attach to
// a document type (SPEC MSG-4): Converter is the shape the message service
// uses, and PeppolInvoice, named "peppol-bis-3-invoice", is the
// implementation.
//
// Invoice is the model, one field per EN 16931 business term; its JSON form
// is what tenants submit. ToUBL validates an Invoice and writes the UBL
// document; FromUBL parses a UBL document, maps it and validates it;
// DecodeJSON reads the JSON form. docs/einvoice.md has the field mapping
// (JSON, business term, UBL path), the rules checked and what is not
// supported.
//
// Invariants:
//   - Money is exact. Amounts, quantities, prices and rates are Decimals
//     (an int64 coefficient and a scale, at most 18 digits, as xs:decimal
//     guarantees); arithmetic uses math/big; no float64 is ever used.
//   - ToUBL writes nothing for an invoice that fails validation, and what
//     it writes FromUBL reads back to an equal Invoice, up to white space
//     around text and an empty type code (written as 380); the output of
//     ToUBL is a fixed point of ToUBL∘FromUBL.
//   - FromUBL never drops data silently: an element it cannot map is an
//     error, not something skipped.
//   - Untrusted input is bounded before it is parsed (MaxUBLSize,
//     MaxUBLDepth, MaxUBLElements, MaxJSONSize); DTDs and entity
//     declarations are refused; only UTF-8 is read.
//   - Every error is a *problem.Error. Invalid input yields field errors
//     that point at the value at fault (a JSON pointer for JSON and Go
//     input, an XPath-like path for UBL) with a stable code and a message
//     citing the rule; no message ever contains a value from the invoice,
//     which may be personal data.
//   - No state: every function is safe for concurrent use.
package einvoice
