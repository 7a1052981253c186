package retention

import (
	"testing"
	"time"
)

func TestUntil(t *testing.T) {
	contract := Policy{Contract: true, LegalYears: 7, StandardMonths: 24}
	none := Policy{Contract: false, LegalYears: 7, StandardMonths: 24}
	withRules := Policy{Contract: true, LegalYears: 7, StandardMonths: 24, Rules: []Rule{
		{Archive: Legal, Months: 10 * 12},
		{Archive: Standard, Type: "contract", Months: 60},
		{Archive: Standard, Type: "short", Months: 1}, // never shortens
	}}
	tests := []struct {
		name               string
		p                  Policy
		archive, typ, date string
		keep               string
		want, basis        string
	}{
		{"legal contract mid-year", contract, Legal, "invoice", "2026-03-15", "", "2033-12-31", "legal_contract"},
		{"legal contract new year's eve", contract, Legal, "invoice", "2026-12-31", "", "2033-12-31", "legal_contract"},
		{"legal contract new year's day", contract, Legal, "invoice", "2027-01-01", "", "2034-12-31", "legal_contract"},
		{"legal contract leap day", contract, Legal, "invoice", "2024-02-29", "", "2031-12-31", "legal_contract"},
		{"legal contract 10 years configured", Policy{Contract: true, LegalYears: 10}, Legal, "x", "2020-06-01", "", "2030-12-31", "legal_contract"},
		{"legal no contract january", none, Legal, "invoice", "2026-01-15", "", "2026-02-28", "legal_no_contract"},
		{"legal no contract leap year", none, Legal, "invoice", "2024-01-31", "", "2024-02-29", "legal_no_contract"},
		{"legal no contract december", none, Legal, "invoice", "2026-12-05", "", "2027-01-31", "legal_no_contract"},
		{"legal no contract new year's eve", none, Legal, "invoice", "2027-12-31", "", "2028-01-31", "legal_no_contract"},
		{"message", contract, Message, "einvoice", "2026-05-20", "", "2027-05-20", "message"},
		{"message leap day", contract, Message, "einvoice", "2024-02-29", "", "2025-02-28", "message"},
		{"message ignores extension", contract, Message, "einvoice", "2026-05-20", "2030-01-01", "2027-05-20", "message"},
		{"message ignores rules", Policy{Rules: []Rule{{Archive: Message, Months: 60}}}, Message, "m", "2026-05-20", "", "2027-05-20", "message"},
		{"standard 24 months", contract, Standard, "note", "2026-01-31", "", "2028-01-31", "standard"},
		{"standard month end clamps", Policy{StandardMonths: 1}, Standard, "note", "2026-01-31", "", "2026-02-28", "standard"},
		{"standard over year end", Policy{StandardMonths: 3}, Standard, "note", "2026-11-30", "", "2027-02-28", "standard"},
		{"legal archive rule", withRules, Legal, "invoice", "2026-03-15", "", "2036-12-31", "rule_archive"},
		{"type rule", withRules, Standard, "contract", "2026-03-15", "", "2031-03-15", "rule_type"},
		{"type rule of another type", withRules, Standard, "note", "2026-03-15", "", "2028-03-15", "standard"},
		{"shorter rule does not shorten", withRules, Standard, "short", "2026-03-15", "", "2028-03-15", "standard"},
		{"extension", contract, Standard, "note", "2026-03-15", "2029-01-01", "2029-01-01", "extended"},
		{"earlier extension does not shorten", contract, Legal, "invoice", "2026-03-15", "2027-01-01", "2033-12-31", "legal_contract"},
		{"no contract with a rule", Policy{LegalYears: 7, Rules: []Rule{{Archive: Legal, Months: 12}}}, Legal, "i", "2026-12-05", "", "2027-12-31", "rule_archive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.p.Until(tt.archive, tt.typ, tt.date, tt.keep)
			if err != nil {
				t.Fatal(err)
			}
			if got.Until != tt.want || got.Basis != tt.basis {
				t.Errorf("Until(%s, %s, %s) = %s (%s), want %s (%s)", tt.archive, tt.typ, tt.date, got.Until, got.Basis, tt.want, tt.basis)
			}
		})
	}
}

func TestUntilRejects(t *testing.T) {
	p := Policy{Contract: true, LegalYears: 7}
	for _, c := range []struct{ archive, date string }{
		{Legal, "2026-02-30"}, {Legal, "26-01-01"}, {"bogus", "2026-01-01"}, {Standard, ""},
	} {
		if _, err := p.Until(c.archive, "t", c.date, ""); err == nil {
			t.Errorf("Until(%q, %q) accepted", c.archive, c.date)
		}
	}
}

func TestExpiredOnTheSwedishCalendar(t *testing.T) {
	tests := []struct {
		until string
		now   string
		want  bool
	}{
		// 23:30 UTC on 31 December is already 1 January in Stockholm (CET, +1).
		{"2033-12-31", "2033-12-31T22:59:59Z", false},
		{"2033-12-31", "2033-12-31T23:00:00Z", true},
		// Summer time (CEST, +2): the day ends at 22:00 UTC.
		{"2026-06-30", "2026-06-30T21:59:59Z", false},
		{"2026-06-30", "2026-06-30T22:00:00Z", true},
		// The night the clocks go back (25 October 2026, 03:00 CEST → 02:00 CET).
		{"2026-10-25", "2026-10-25T22:59:59Z", false},
		{"2026-10-25", "2026-10-25T23:00:00Z", true},
		{"2024-02-29", "2024-02-29T12:00:00Z", false},
		{"2024-02-29", "2024-03-01T00:00:00+01:00", true},
		{"", "2099-01-01T00:00:00Z", false},
	}
	for _, tt := range tests {
		now, err := time.Parse(time.RFC3339, tt.now)
		if err != nil {
			t.Fatal(err)
		}
		if got := Expired(tt.until, now); got != tt.want {
			t.Errorf("Expired(%s, %s) = %v, want %v", tt.until, tt.now, got, tt.want)
		}
	}
}

func TestCheckRule(t *testing.T) {
	p := Policy{Contract: true, LegalYears: 7}
	tests := []struct {
		r  Rule
		ok bool
	}{
		{Rule{Archive: Legal, Months: 120}, true},
		{Rule{Archive: Legal, Months: 84}, true},
		{Rule{Archive: Legal, Months: 72}, false},  // shorter than the law
		{Rule{Archive: Legal, Months: 100}, false}, // not whole years
		{Rule{Archive: Standard, Type: "note", Months: 36}, true},
		{Rule{Archive: Standard, Months: 0}, false},
		{Rule{Archive: Standard, Months: MaxMonths + 1}, false},
		{Rule{Archive: Message, Months: 6}, false},
		{Rule{Archive: "other", Months: 6}, false},
	}
	for _, tt := range tests {
		if err := p.CheckRule(tt.r); (err == nil) != tt.ok {
			t.Errorf("CheckRule(%+v) = %v, want ok=%v", tt.r, err, tt.ok)
		}
	}
	if err := (Policy{LegalYears: 7}).CheckRule(Rule{Archive: Legal, Months: 12}); err != nil {
		t.Errorf("without a contract, one year is longer than the law: %v", err)
	}
}
