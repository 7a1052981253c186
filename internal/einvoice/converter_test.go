package einvoice

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/valvhq/valv/internal/problem"
)

func TestConverter(t *testing.T) {
	c, ok := Lookup(PeppolInvoiceName)
	if !ok || c.Name() != "peppol-bis-3-invoice" {
		t.Fatalf("Lookup(%q) = %v, %v", PeppolInvoiceName, c, ok)
	}
	if _, ok := Lookup("nope"); ok {
		t.Error("Lookup found an unknown converter")
	}
	for _, n := range Names() {
		if c, ok := Lookup(n); !ok || c.Name() != n {
			t.Errorf("Names lists %q but Lookup does not find it", n)
		}
	}

	in := mustRead(t, "testdata/fixtures/full.json")
	payload, ctype, err := c.Outbound(in)
	if err != nil || ctype != "application/xml" {
		t.Fatalf("Outbound: %q, %v", ctype, err)
	}
	data, err := c.Inbound(payload)
	if err != nil {
		t.Fatalf("Inbound: %v", err)
	}
	var a, b any
	if json.Unmarshal(in, &a) != nil || json.Unmarshal(data, &b) != nil {
		t.Fatal("not JSON")
	}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if !bytes.Equal(ja, jb) {
		t.Errorf("Inbound(Outbound(x)) != x:\n%s\n%s", ja, jb)
	}

	// Errors are problems a client may see.
	for _, err := range []error{
		func() error { _, _, err := c.Outbound([]byte(`{`)); return err }(),
		func() error { _, _, err := c.Outbound([]byte(`{}`)); return err }(),
		func() error { _, err := c.Inbound([]byte(`<x/>`)); return err }(),
	} {
		var p *problem.Error
		if !errors.As(err, &p) || p.Kind != problem.KindInvalid || len(p.Fields) == 0 {
			t.Errorf("want an invalid problem with fields, got %v", err)
		}
	}
}

// TestNoPersonalDataInLogs: an Invoice printed or logged carelessly shows
// no names, addresses or contacts.
func TestNoPersonalDataInLogs(t *testing.T) {
	inv, err := DecodeJSON(mustRead(t, "testdata/fixtures/full.json"))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	// No time in the line: its digits could spell what is searched for.
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}))
	log.Info("x", "invoice", inv, "seller", inv.Seller, "contact", inv.Buyer.Contact, "card", inv.PaymentMeans[1].Card)
	out := buf.String() + inv.String() + inv.Seller.String()
	for _, s := range []string{"Exempel", "Köparbolaget", "Storgatan", "Kundtjänst", "ekonomi@example.se", "Anna Andersson", "4321"} {
		if strings.Contains(out, s) {
			t.Errorf("log output contains %q: %s", s, out)
		}
	}
}
