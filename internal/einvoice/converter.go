package einvoice

import (
	"encoding/json"

	"github.com/valvhq/valv/internal/problem"
)

// Converter turns the structured data a tenant submits for one document
// type into the payload a recipient expects, and a received payload back
// into structured data (SPEC MSG-4). Converters are pure: no I/O, no
// state, safe for concurrent use. Errors are *problem.Error values with
// field errors that name the offending part of the input, safe to show to
// the tenant.
type Converter interface {
	// Name is the stable name a tenant's settings refer to.
	Name() string
	// Outbound converts submitted data into the outgoing payload.
	Outbound(data []byte) (payload []byte, contentType string, err error)
	// Inbound converts a received payload into data.
	Inbound(payload []byte) (data []byte, err error)
}

// PeppolInvoiceName is the name of the Peppol BIS Billing 3.0 invoice converter.
const PeppolInvoiceName = "peppol-bis-3-invoice"

// PeppolInvoice converts Invoice JSON (the model of this package) to and
// from a Peppol BIS Billing 3.0 UBL 2.1 Invoice.
type PeppolInvoice struct{}

var _ Converter = PeppolInvoice{}

// Name returns PeppolInvoiceName.
func (PeppolInvoice) Name() string { return PeppolInvoiceName }

// Outbound reads Invoice JSON (DecodeJSON), validates it and returns the
// UBL document (ToUBL) with content type application/xml.
func (PeppolInvoice) Outbound(data []byte) ([]byte, string, error) {
	inv, err := DecodeJSON(data)
	if err != nil {
		return nil, "", err
	}
	out, err := ToUBL(inv)
	if err != nil {
		return nil, "", err
	}
	return out, "application/xml", nil
}

// Inbound reads a UBL invoice (FromUBL) and returns it as Invoice JSON.
func (PeppolInvoice) Inbound(payload []byte) ([]byte, error) {
	inv, err := FromUBL(payload)
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(inv)
	if err != nil {
		return nil, problem.Internal(err)
	}
	return data, nil
}

// Lookup returns the built-in converter with the given name.
func Lookup(name string) (Converter, bool) {
	switch name {
	case PeppolInvoiceName:
		return PeppolInvoice{}, true
	}
	return nil, false
}

// Names lists the names of the built-in converters, sorted.
func Names() []string { return []string{PeppolInvoiceName} }
