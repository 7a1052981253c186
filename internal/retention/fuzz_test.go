package retention

import (
	"testing"
	"time"
)

// FuzzUntil: any archive, type, date and extension either fails cleanly or
// yields a valid day no earlier than the document date (a document is
// never culled before it was dated), and a rule never shortens it.
func FuzzUntil(f *testing.F) {
	f.Add("legal", "invoice", "2026-03-15", "", true, 0)
	f.Add("standard", "note", "2024-02-29", "2030-01-01", false, 60)
	f.Add("message", "einvoice", "2025-12-31", "", false, 12)
	f.Add("legal", "x", "9999-12-31", "", false, 1200)
	f.Fuzz(func(t *testing.T, archive, typ, date, keep string, contract bool, months int) {
		p := Policy{Contract: contract, LegalYears: 7, StandardMonths: 24}
		base, err := p.Until(archive, typ, date, keep)
		if err != nil {
			return
		}
		u, err := time.Parse(time.DateOnly, base.Until)
		if err != nil {
			t.Fatalf("Until(%q, %q) = %q: not a date", archive, date, base.Until)
		}
		d, _ := time.Parse(time.DateOnly, date)
		if u.Before(d) {
			t.Fatalf("Until(%q, %q) = %s, before the document date", archive, date, base.Until)
		}
		r := Rule{Archive: archive, Type: typ, Months: months}
		if p.CheckRule(r) != nil {
			return
		}
		p.Rules = []Rule{r}
		with, err := p.Until(archive, typ, date, keep)
		if err != nil || with.Until < base.Until {
			t.Fatalf("rule %+v shortened %s to %s (%v)", r, base.Until, with.Until, err)
		}
	})
}
