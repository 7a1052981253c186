package retention

import (
	"errors"
	"fmt"
	"time"
)

// The archives (DOC-1). Their rules are in docs/retention.md.
const (
	Legal    = "legal"
	Standard = "standard"
	Message  = "message"
)

// MessageMonths is how long the message archive keeps a message and its
// transaction log: at most 12 months (RET-2). It cannot be changed.
const MessageMonths = 12

// Zone is the time zone whose calendar decides when a day has ended: a
// document kept "until 31 December" is culled from 1 January, Swedish time.
var zone = mustZone("Europe/Stockholm")

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(fmt.Sprintf("retention: time zone %s: %v", name, err))
	}
	return loc
}

// Today is the calendar day of t in Sweden, as YYYY-MM-DD.
func Today(t time.Time) string { return t.In(zone).Format(time.DateOnly) }

// Policy is what a tenant's documents are kept by.
type Policy struct {
	// Contract says whether the tenant has the 6+1 archive contract (RET-1).
	Contract bool
	// LegalYears is how many calendar years after the document's year the
	// legal archive keeps it under a contract (installation setting; 7).
	LegalYears int
	// StandardMonths is the tenant's period for the standard archive.
	StandardMonths int
	// Rules are the tenant's instructions to keep longer (RET-3).
	Rules []Rule
}

// Rule is an instruction to keep an archive's documents, or one type's,
// for Months after the document date (for the legal archive: Months/12
// calendar years after the document's year).
type Rule struct {
	Archive string `json:"archive"`
	Type    string `json:"type,omitempty"` // "" for the whole archive
	Months  int    `json:"months"`
}

// Result is a document's computed retention.
type Result struct {
	// Until is the last day the document is kept (YYYY-MM-DD).
	Until string `json:"until"`
	// Basis names what decided it: legal_contract, legal_no_contract,
	// message, standard, rule_archive, rule_type or extended.
	Basis string `json:"basis"`
}

// MaxMonths bounds any period: 100 years.
const MaxMonths = 1200

// CheckRule says whether a rule may be set under p.
func (p Policy) CheckRule(r Rule) error {
	switch r.Archive {
	case Legal:
		if r.Months%12 != 0 {
			return errors.New("the legal archive keeps whole calendar years: give years, not months")
		}
		if p.Contract && r.Months/12 < p.LegalYears {
			return fmt.Errorf("the legal archive keeps documents at least %d years after their year under the archive contract; a rule cannot shorten that", p.LegalYears)
		}
	case Standard:
	case Message:
		return fmt.Errorf("the message archive keeps messages and their transaction logs at most %d months; that cannot be changed", MessageMonths)
	default:
		return fmt.Errorf("archive %q is not one of legal, standard, message", r.Archive)
	}
	if r.Months < 1 || r.Months > MaxMonths {
		return fmt.Errorf("a period is 1 to %d months", MaxMonths)
	}
	return nil
}

// Until computes a document's retention: the law's or the tenant's period
// for its archive, lengthened by the tenant's rules for the archive and
// the type, and by a reviewer's extension (keepUntil, YYYY-MM-DD or "").
// A rule or an extension never shortens it.
func (p Policy) Until(archive, docType, documentDate, keepUntil string) (Result, error) {
	d, err := time.Parse(time.DateOnly, documentDate)
	if err != nil {
		return Result{}, fmt.Errorf("document date %q: %w", documentDate, err)
	}
	if keepUntil != "" {
		if _, err := time.Parse(time.DateOnly, keepUntil); err != nil {
			return Result{}, fmt.Errorf("extension %q: %w", keepUntil, err)
		}
	}
	var res Result
	switch archive {
	case Legal:
		if p.Contract {
			res = Result{Until: endOfYear(d.Year() + p.LegalYears), Basis: "legal_contract"}
		} else {
			// The current and the previous month: kept to the end of the
			// month after the document's.
			res = Result{Until: endOfMonth(d.Year(), d.Month()+1), Basis: "legal_no_contract"}
		}
	case Message:
		// Fixed: rules and extensions do not apply (RET-2).
		return Result{Until: addMonths(d, MessageMonths), Basis: "message"}, nil
	case Standard:
		res = Result{Until: addMonths(d, p.StandardMonths), Basis: "standard"}
	default:
		return Result{}, fmt.Errorf("archive %q is not one of legal, standard, message", archive)
	}
	for _, r := range p.Rules {
		if r.Archive != archive || (r.Type != "" && r.Type != docType) {
			continue
		}
		var u string
		if archive == Legal {
			u = endOfYear(d.Year() + r.Months/12)
		} else {
			u = addMonths(d, r.Months)
		}
		basis := "rule_archive"
		if r.Type != "" {
			basis = "rule_type"
		}
		if u > res.Until {
			res = Result{Until: u, Basis: basis}
		}
	}
	if keepUntil != "" && keepUntil > res.Until {
		res = Result{Until: keepUntil, Basis: "extended"}
	}
	return res, nil
}

func endOfYear(year int) string {
	return day(time.Date(year, time.December, 31, 0, 0, 0, 0, time.UTC))
}

// day formats a day; a day past the year 9999 is kept as 9999-12-31
// (for ever, in effect), so that dates stay comparable as strings.
func day(t time.Time) string {
	if t.Year() > 9999 {
		return "9999-12-31"
	}
	return t.Format(time.DateOnly)
}

// endOfMonth is the last day of month m of year y (m may be 13: January of
// the next year).
func endOfMonth(y int, m time.Month) string {
	return day(time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC))
}

// addMonths is d plus n months, on the same day of the month or, where the
// month is shorter, its last day (29 February plus 12 months is 28
// February).
func addMonths(d time.Time, n int) string {
	first := time.Date(d.Year(), d.Month()+time.Month(n), 1, 0, 0, 0, 0, time.UTC)
	last := time.Date(first.Year(), first.Month()+1, 0, 0, 0, 0, 0, time.UTC).Day()
	dom := min(d.Day(), last)
	return day(time.Date(first.Year(), first.Month(), dom, 0, 0, 0, 0, time.UTC))
}

// Expired says whether a document kept until until is past retention on
// the Swedish calendar day of now.
func Expired(until string, now time.Time) bool {
	return until != "" && until < Today(now)
}
