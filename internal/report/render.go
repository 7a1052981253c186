package report

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/johnfercher/maroto/v2"
	"github.com/johnfercher/maroto/v2/pkg/components/line"
	"github.com/johnfercher/maroto/v2/pkg/components/row"
	"github.com/johnfercher/maroto/v2/pkg/components/text"
	"github.com/johnfercher/maroto/v2/pkg/config"
	"github.com/johnfercher/maroto/v2/pkg/consts/align"
	"github.com/johnfercher/maroto/v2/pkg/consts/border"
	"github.com/johnfercher/maroto/v2/pkg/consts/fontfamily"
	"github.com/johnfercher/maroto/v2/pkg/consts/fontstyle"
	"github.com/johnfercher/maroto/v2/pkg/consts/pagesize"
	"github.com/johnfercher/maroto/v2/pkg/core"
	"github.com/johnfercher/maroto/v2/pkg/props"

	"github.com/valvhq/valv/internal/pdfdoc"
)

// The readable forms of a Measures report: an HTML page and a PDF with the
// same content, in Swedish or English. Both are built from one view, so
// they cannot drift apart; the JSON form (Measures itself) stays the
// complete record.

// SectionEvidence says what one section of the report gives evidence
// for: requirements of Valv's specification, GDPR articles, and promises
// of the security pages (the seeds) Valv is built from.
type SectionEvidence struct {
	// Section is the section's key: the JSON name of its Measures field
	// ("transport", "api_keys", "data_subject_requests", ...).
	Section      string    `json:"section"`
	Requirements []string  `json:"requirements"`
	Articles     []Article `json:"gdpr_articles"`
	Promises     []Promise `json:"promises"`
}

// Article cites the GDPR: Article 32(1)(a) is {32, 1, "a"}. Paragraph 0
// cites the whole article.
type Article struct {
	Number    int    `json:"article"`
	Paragraph int    `json:"paragraph,omitempty"`
	Point     string `json:"point,omitempty"`
}

// Promise is a seed's words, quoted exactly (in Swedish) from the seed
// file numbered Seed ("000" to "004").
type Promise struct {
	Seed  string `json:"seed"`
	Quote string `json:"quote"`
}

// Evidence lists, in report order, what each section of the report gives
// evidence for. The result is the caller's to keep: it is built anew on
// every call.
func Evidence() []SectionEvidence {
	art := func(n, p int, point string) Article { return Article{Number: n, Paragraph: p, Point: point} }
	return []SectionEvidence{
		{
			Section:      "transport",
			Requirements: []string{"ENC-5"},
			Articles:     []Article{art(32, 1, "a")},
			Promises: []Promise{
				{"001", "Kryptering i transit"},
				{"000", "datakopplingarna mellan system och datacenter alltid krypterad"},
				{"003", "krypteras den genom en säker förbindelse som kallas HTTPS"},
				{"004", "All kommunikation sker krypterad"},
			},
		},
		{
			Section:      "encryption",
			Requirements: []string{"ENC-1", "ENC-2", "ENC-3", "ENC-4"},
			Articles:     []Article{art(32, 1, "a")},
			Promises: []Promise{
				{"001", "Kryptering i vila"},
				{"002", "kryptering av lagring"},
				{"003", "Endast ett fåtal nyckelpersoner har tillgång till alla säkerhetsnycklarna i systemet"},
			},
		},
		{
			Section:      "identity",
			Requirements: []string{"AUTH-1", "AUTH-2", "AUTH-3", "AUTH-4"},
			Articles:     []Article{art(32, 1, "b")},
			Promises: []Promise{
				{"003", "lösenord tillsammans med säkerhetskod som sänds per e-post till användare (tvåstegsautentisering)"},
				{"002", "Användarens lösenord lagras i envägs krypterat format"},
				{"003", "loggar systemet automatiskt ut användaren efter två timmars inaktivitet"},
			},
		},
		{
			Section:      "api_keys",
			Requirements: []string{"AUTH-6"},
			Articles:     []Article{art(32, 1, "b")},
			Promises: []Promise{
				{"001", "Varje begäran till vårt API måste göras med en giltig API-nyckel som identifierar en giltig och existerande klient"},
				{"001", "begränsa åtkomst av deras API-nyckel till enbart vissa IP-adresser"},
			},
		},
		{
			Section:      "backups",
			Requirements: []string{"BAK-1", "BAK-2", "BAK-3"},
			Articles:     []Article{art(32, 1, "c"), art(32, 1, "d")},
			Promises: []Promise{
				{"003", "Säkerhetskopior görs dagligen och sparas i fyra veckor"},
				{"002", "Lagring av data sker på två geografiska platser"},
				{"004", "test av återställning av backup sker kontinuerligt"},
			},
		},
		{
			Section:      "audit",
			Requirements: []string{"AUD-1", "AUD-2", "AUD-4", "AUD-5"},
			Articles:     []Article{art(32, 1, "b")},
			Promises: []Promise{
				{"002", "Varje anrop och ändring loggas per användare"},
				{"003", "i efterhand ska gå att upptäcka om och vem som har fått tillträde till eller ändrat uppgifter"},
				{"004", "registrerar access ID, tid och relevant information"},
				{"001", "stänga av dataloggning"},
			},
		},
		{
			Section:      "retention",
			Requirements: []string{"RET-1", "RET-2", "RET-3", "RET-5"},
			Articles:     []Article{art(5, 1, "e")},
			Promises: []Promise{
				{"000", "Det officiella 6+1-arkivet lagrar data i 7 år"},
				{"000", "meddelandena och relaterade transaktionsloggar i högst 12 månader"},
				{"000", "Kunden kan instruera Apix att lagra data och meddelanden under en längre tid"},
			},
		},
		{
			Section:      "firewall",
			Requirements: []string{"GRD-1", "GRD-2"},
			Articles:     []Article{art(32, 1, "b")},
			Promises: []Promise{
				{"001", "Webbapplikations brandvägg"},
				{"001", "blockerar automatiskt och meddelar oss angående sådana försök"},
				{"000", "automatiska attackdetekterings- och förebyggande system"},
			},
		},
		{
			Section:      "scanner",
			Requirements: []string{"DOC-2"},
			Articles:     []Article{art(32, 1, "b")},
			Promises: []Promise{
				{"004", "anti-malware detektering för att förhindra att elakartad mjukvara får otillåten access till data"},
			},
		},
		{
			Section:      "operator_access",
			Requirements: []string{"AZ-4", "OPS-1", "OPS-2", "OPS-3"},
			Articles:     []Article{art(28, 3, "b"), art(29, 0, ""), art(32, 4, "")},
			Promises: []Promise{
				{"000", "Säkerhetshanteringen bekräftar alla nya dataåtkomstförfrågningar innan åtkomst ges"},
				{"000", "All manuell åtkomst loggas i loggfilerna, inklusive anledningen till att man får tillgång till data"},
				{"004", "Nexus behandlar inte någon form av kunddata utan tillstånd från våra kunder"},
			},
		},
		{
			Section:      "data_subject_requests",
			Requirements: []string{"GDPR-1", "GDPR-2", "GDPR-3", "GDPR-4"},
			Articles:     []Article{art(12, 3, ""), art(28, 3, "e")},
			Promises: []Promise{
				{"002", "rapportuttag av personuppgifter, anonymisering, dataportabilitet"},
				{"003", "möjlighet att kunna göra registerutdrag och radera personuppgifter"},
				{"001", "Borttagning av data"},
			},
		},
		{
			Section:      "residency",
			Requirements: []string{"ENV-2"},
			Articles:     []Article{art(28, 3, "a"), art(44, 0, "")},
			Promises: []Promise{
				{"000", "Behandling och lagring av kunddata och meddelanden görs i datacentraler inom EU/ETA-området"},
				{"003", "Backuper tas dagligen och lagras på Google servrar inom EU/EES"},
			},
		},
	}
}

// timeLayout is how every time is shown: always UTC, so a report does not
// depend on the time zone of the machine that renders it.
const timeLayout = "2006-01-02 15:04 UTC"

// production is the environment that needs no warning (config.Production;
// not imported, as report sits below config's users).
const production = "production"

// view is a Measures report made ready to show: times and durations
// formatted, codes translated, and each section reduced to facts, text
// blocks and tables. The HTML template and the PDF writer show exactly
// what is here, in the same order.
type view struct {
	L         *labels
	Title     string // <title>: report title and tenant name
	Tenant    string
	Generated string
	Warning   string // "" in production
	Facts     []fact
	Sections  []section
	// VerifierKey closes the report, after the verify command.
	VerifierKey string
}

type section struct {
	Key      string // Evidence's section key; the HTML id
	Number   int
	Heading  string
	Evidence string // the "Evidences: ..." line
	Facts    []fact
	Blocks   []block
	Tables   []table
}

// fact is one label–value line. Warn marks a value that shows a measure
// not working (a broken chain, a failed restore test); Mono a value to be
// copied exactly (a key, a fingerprint), shown in a monospaced font and,
// in the PDF, wrapped without inserting hyphens.
type fact struct {
	Label, Value string
	Warn, Mono   bool
}

// block is preformatted text, such as a signed checkpoint; Text "" shows
// the "none" word.
type block struct {
	Label, Text string
}

// table is a list with a header; no rows shows the "none" word. widths are
// the PDF column widths on the pdfGrid-column grid.
type table struct {
	Title  string
	Header []string
	Rows   []tableRow
	widths []int
}

type tableRow struct {
	Cells []string
	Warn  bool
}

func newView(m *Measures, lang string) (*view, error) {
	l, err := labelsFor(lang)
	if err != nil {
		return nil, err
	}
	f := formatter{l}
	v := &view{
		L:           l,
		Title:       l.Title + " – " + orEmpty(l, m.Tenant.Name),
		Tenant:      orEmpty(l, m.Tenant.Name),
		Generated:   f.time(m.Generated),
		VerifierKey: orEmpty(l, m.Audit.VerifierKey),
		Facts: []fact{
			{Label: l.Tenant, Value: orEmpty(l, m.Tenant.Name)},
			{Label: l.Slug, Value: orEmpty(l, m.Tenant.Slug)},
			{Label: l.TenantID, Value: orEmpty(l, m.Tenant.ID)},
			{Label: l.Installation, Value: orEmpty(l, m.Installation)},
			{Label: l.Environment, Value: translate(l, l.Environments, m.Environment), Warn: m.Environment != production},
			{Label: l.Generated, Value: f.time(m.Generated)},
			{Label: l.Period, Value: f.period(m.PeriodFrom, m.PeriodTo)},
			{Label: l.Version, Value: orEmpty(l, m.Version)},
		},
	}
	if m.Environment != production {
		v.Warning = l.NotProduction
	}
	builders := map[string]func(*Measures, formatter) section{
		"transport":             transportSection,
		"encryption":            encryptionSection,
		"identity":              identitySection,
		"api_keys":              apiKeysSection,
		"backups":               backupsSection,
		"audit":                 auditSection,
		"retention":             retentionSection,
		"firewall":              firewallSection,
		"scanner":               scannerSection,
		"operator_access":       operatorSection,
		"data_subject_requests": requestsSection,
		"residency":             residencySection,
	}
	for i, ev := range Evidence() {
		build, ok := builders[ev.Section]
		if !ok {
			return nil, fmt.Errorf("report: render: no section %q", ev.Section)
		}
		s := build(m, f)
		s.Key = ev.Section
		s.Number = i + 1
		s.Heading = l.Sections[ev.Section]
		s.Evidence = f.evidence(ev)
		v.Sections = append(v.Sections, s)
	}
	if len(builders) != len(v.Sections) {
		return nil, errors.New("report: render: a section has no evidence entry")
	}
	return v, nil
}

func transportSection(m *Measures, f formatter) section {
	l, t := f.l, m.Transport
	hsts := t.HSTS
	if hsts == "" {
		hsts = l.HSTSNone
	}
	minVersion := t.MinVersion
	if minVersion != "" && !strings.HasPrefix(minVersion, "TLS") {
		minVersion = "TLS " + minVersion
	}
	return section{Facts: []fact{
		{Label: l.MinVersion, Value: orEmpty(l, minVersion)},
		{Label: l.Versions, Value: f.list(t.Versions)},
		{Label: l.CipherSuites, Value: f.list(t.CipherSuites)},
		{Label: l.HSTS, Value: hsts, Warn: t.HSTS == ""},
		{Label: l.CertSubject, Value: orEmpty(l, t.Certificate.Subject)},
		{Label: l.CertIssuer, Value: orEmpty(l, t.Certificate.Issuer)},
		{Label: l.CertNotAfter, Value: f.time(t.Certificate.NotAfter)},
		{Label: l.CertSelfSigned, Value: f.bool(t.Certificate.SelfSigned), Warn: t.Certificate.SelfSigned},
		{Label: l.CertSHA256, Value: orEmpty(l, t.Certificate.SHA256), Mono: t.Certificate.SHA256 != ""},
	}}
}

func encryptionSection(m *Measures, f formatter) section {
	l, e := f.l, m.Encryption
	return section{Facts: []fact{
		{Label: l.Algorithm, Value: orEmpty(l, e.Algorithm)},
		{Label: l.Hierarchy, Value: orEmpty(l, strings.Join(e.Hierarchy, " › "))},
		{Label: l.RootProvider, Value: translate(l, l.RootProviders, e.RootProvider)},
		{Label: l.KeyHolders, Value: fmt.Sprintf(l.KeyHoldersFmt, e.Threshold, e.KeyHolders)},
		{Label: l.RootKeyCreated, Value: f.timePtr(e.RootKeyCreated)},
		{Label: l.TenantKeys, Value: f.int(int64(e.TenantKeys))},
		{Label: l.TenantKeyCreated, Value: f.timePtr(e.TenantKeyCreated)},
		{Label: l.BlindIndex, Value: orEmpty(l, e.BlindIndex)},
	}}
}

func identitySection(m *Measures, f formatter) section {
	l, id := f.l, m.Identity
	return section{Facts: []fact{
		{Label: l.Users, Value: f.int(int64(id.Users))},
		{Label: l.UsersWith2FA, Value: f.share(id.UsersWithSecondFactor, id.Users)},
		{Label: l.UsersWithPasskey, Value: f.share(id.UsersWithPasskey, id.Users)},
		{Label: l.Admins, Value: f.int(int64(id.Admins))},
		{Label: l.AdminsWith2FA, Value: f.share(id.AdminsWithSecondFactor, id.Admins), Warn: id.AdminsWithSecondFactor < id.Admins},
		{Label: l.Require2FA, Value: f.bool(id.RequireTwoFactor)},
		{Label: l.IdleTimeout, Value: f.duration(id.IdleTimeoutSeconds)},
		{Label: l.PasswordHash, Value: orEmpty(l, id.PasswordHash)},
	}}
}

func apiKeysSection(m *Measures, f formatter) section {
	l, k := f.l, m.APIKeys
	return section{Facts: []fact{
		{Label: l.ActiveKeys, Value: f.int(int64(k.Active))},
		{Label: l.KeysWithAllowlist, Value: f.share(k.WithAllowlist, k.Active)},
		{Label: l.KeysWithoutAllowlist, Value: f.share(k.WithoutAllowlist, k.Active)},
		{Label: l.KeysWithExpiry, Value: f.share(k.WithExpiry, k.Active)},
	}}
}

func backupsSection(m *Measures, f formatter) section {
	l, b := f.l, m.Backups
	t := table{
		Title:  l.Targets,
		Header: []string{l.Name, l.Type, l.Region, l.LastBackup, l.LastRestoreTest, l.RestoreResult, l.LastGoodRestoreTest},
		widths: []int{4, 2, 3, 4, 4, 3, 4},
	}
	for _, tg := range b.Targets {
		result, bad := l.Empty, false
		if tg.LastRestoreTest != nil {
			result, bad = l.Passed, !tg.RestoreTestOK
			if bad {
				result = l.Failed
			}
		}
		t.Rows = append(t.Rows, tableRow{
			Cells: []string{
				orEmpty(l, tg.Name), orEmpty(l, tg.Type), orEmpty(l, tg.Region),
				f.timePtr(tg.LastBackup), f.timePtr(tg.LastRestoreTest), result, f.timePtr(tg.LastSuccessfulRestoreTest),
			},
			Warn: bad || tg.LastBackup == nil,
		})
	}
	return section{
		Facts: []fact{
			{Label: l.BackupInterval, Value: f.duration(b.IntervalSeconds)},
			{Label: l.BackupKeep, Value: f.duration(b.KeepSeconds)},
			{Label: l.RestoreTestInterval, Value: f.duration(b.RestoreTestIntervalSeconds)},
		},
		Tables: []table{t},
	}
}

func auditSection(m *Measures, f formatter) section {
	l, a := f.l, m.Audit
	intact := l.Empty
	if a.LastVerified != nil {
		intact = f.bool(a.Verified)
	}
	return section{
		Facts: []fact{
			{Label: l.Entries, Value: f.int(a.Entries)},
			{Label: l.LastVerified, Value: f.timePtr(a.LastVerified), Warn: a.LastVerified == nil},
			{Label: l.ChainsIntact, Value: intact, Warn: a.LastVerified != nil && !a.Verified},
			{Label: l.CheckpointSize, Value: f.int(a.CheckpointSize)},
			{Label: l.CheckpointTime, Value: f.timePtr(a.CheckpointTime)},
			{Label: l.VerifierKey, Value: orEmpty(l, a.VerifierKey), Mono: a.VerifierKey != ""},
			{Label: l.PayloadHistory, Value: f.bool(a.PayloadHistory)},
			{Label: l.AuditRetention, Value: f.duration(int64(a.RetentionDays) * 86400)},
		},
		Blocks: []block{{Label: l.Checkpoint, Text: strings.TrimRight(a.Checkpoint, "\n")}},
	}
}

func retentionSection(m *Measures, f formatter) section {
	l, r := f.l, m.Retention
	t := table{
		Title:  l.Rules,
		Header: []string{l.DocumentType, l.Archive, l.Kept},
		widths: []int{10, 8, 6},
	}
	for _, rule := range r.Rules {
		t.Rows = append(t.Rows, tableRow{Cells: []string{
			orEmpty(l, rule.Type), translate(l, l.Archives, rule.Archive), f.months(rule.Months),
		}})
	}
	return section{
		Facts: []fact{
			{Label: l.LegalArchive, Value: f.bool(r.LegalArchive)},
			{Label: l.LegalKeep, Value: f.years(r.LegalYears)},
			{Label: l.StandardKeep, Value: f.months(r.StandardMonths)},
			{Label: l.LegalHolds, Value: f.int(int64(r.LegalHolds))},
			{Label: l.LastCull, Value: f.timePtr(r.LastCull)},
		},
		Tables: []table{t},
	}
}

func firewallSection(m *Measures, f formatter) section {
	l, w := f.l, m.Firewall
	return section{Facts: []fact{
		{Label: l.Mode, Value: translate(l, l.FirewallModes, w.Mode), Warn: w.Mode != "blocking"},
		{Label: l.RuleSet, Value: orEmpty(l, w.RuleSet)},
		{Label: l.Paranoia, Value: f.int(int64(w.ParanoiaLevel))},
		{Label: l.InboundThreshold, Value: f.int(int64(w.InboundThreshold))},
		{Label: l.Detection, Value: f.percent(w.Detection)},
		{Label: l.Refused, Value: f.int(int64(w.RefusedInPeriod))},
		{Label: l.RateWindow, Value: f.duration(w.WindowSeconds)},
		{Label: l.AddressLimit, Value: f.limit(w.AddressLimit)},
		{Label: l.KeyLimit, Value: f.limit(w.KeyLimit)},
		{Label: l.UserLimit, Value: f.limit(w.UserLimit)},
		{Label: l.TenantLimit, Value: f.limit(w.TenantLimit)},
		{Label: l.AutoBlock, Value: f.bool(w.AutoBlock)},
	}}
}

func scannerSection(m *Measures, f formatter) section {
	l, s := f.l, m.Scanner
	return section{Facts: []fact{
		{Label: l.ScannerEnabled, Value: f.bool(s.Enabled), Warn: !s.Enabled},
		{Label: l.ScannerReachable, Value: f.bool(s.Reachable), Warn: s.Enabled && !s.Reachable},
		{Label: l.ScannerVersion, Value: orEmpty(l, s.Version)},
		{Label: l.ScannerPolicy, Value: translate(l, l.ScannerPolicies, s.Policy)},
	}}
}

func operatorSection(m *Measures, f formatter) section {
	l, o := f.l, m.OperatorAccess
	t := table{
		Title:  l.Accesses,
		Header: []string{l.ID, l.Scope, l.Status, l.BreakGlass, l.Requested, l.Expires},
		widths: []int{3, 5, 3, 3, 5, 5},
	}
	for _, a := range o.Accesses {
		// A request not (yet) granted has no expiry; "never" would read
		// as a grant without end, so it is shown as empty.
		expires := l.Empty
		if a.Expires != nil {
			expires = f.time(*a.Expires)
		}
		t.Rows = append(t.Rows, tableRow{
			Cells: []string{
				orEmpty(l, a.ID), orEmpty(l, a.Scope), translate(l, l.AccessStates, a.Status),
				f.bool(a.BreakGlass), f.time(a.Requested), expires,
			},
			Warn: a.BreakGlass,
		})
	}
	return section{
		Facts: []fact{
			{Label: l.ConsentRequired, Value: f.bool(o.ConsentRequired)},
			{Label: l.AccessesInPeriod, Value: f.int(int64(len(o.Accesses)))},
		},
		Tables: []table{t},
	}
}

func requestsSection(m *Measures, f formatter) section {
	l, r := f.l, m.Requests
	t := table{
		Title:  l.OpenRequests,
		Header: []string{l.Kind, l.Received, l.Deadline, l.Overdue},
		widths: []int{7, 6, 6, 5},
	}
	for _, o := range r.Open {
		t.Rows = append(t.Rows, tableRow{
			Cells: []string{
				translate(l, l.RequestKinds, o.Kind), f.time(o.Received), f.time(o.Deadline), f.bool(o.Overdue),
			},
			Warn: o.Overdue,
		})
	}
	return section{
		Facts: []fact{
			{Label: l.Completed, Value: f.int(int64(r.CompletedInPeriod))},
			{Label: l.OpenRequests, Value: f.int(int64(len(r.Open)))},
		},
		Tables: []table{t},
	}
}

func residencySection(m *Measures, f formatter) section {
	l, r := f.l, m.Residency
	pin := l.NotPinned
	if r.Pin != "" {
		pin = translate(l, l.Pins, r.Pin)
	}
	t := table{
		Title:  l.Locations,
		Header: []string{l.Kind, l.Name, l.Region, l.Country, l.Allowed},
		widths: []int{4, 7, 5, 4, 4},
	}
	for _, loc := range r.Locations {
		country := loc.Country
		if country == "" {
			country = l.Unknown
		}
		t.Rows = append(t.Rows, tableRow{
			Cells: []string{
				translate(l, l.LocationKinds, loc.Kind), orEmpty(l, loc.Name), orEmpty(l, loc.Region), country, f.bool(loc.Allowed),
			},
			Warn: !loc.Allowed,
		})
	}
	return section{
		Facts:  []fact{{Label: l.Pin, Value: pin}},
		Tables: []table{t},
	}
}

// formatter shows values in one language.
type formatter struct{ l *labels }

func (f formatter) time(t time.Time) string {
	if t.IsZero() {
		return f.l.Empty
	}
	return t.UTC().Format(timeLayout)
}

// period shows a period as "from – to", or as empty when neither end is
// set.
func (f formatter) period(from, to time.Time) string {
	if from.IsZero() && to.IsZero() {
		return f.l.Empty
	}
	return f.time(from) + " – " + f.time(to)
}

// timePtr shows a time that may not have happened yet: nil is "never".
func (f formatter) timePtr(t *time.Time) string {
	if t == nil {
		return f.l.Never
	}
	return f.time(*t)
}

func (f formatter) bool(b bool) string {
	if b {
		return f.l.Yes
	}
	return f.l.No
}

// int writes n with the language's separator between groups of three
// digits.
func (f formatter) int(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := ""
	if n < 0 {
		neg, s = "-", s[1:]
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteString(f.l.DigitSep)
		}
		b.WriteRune(c)
	}
	return neg + b.String()
}

// percent shows a fraction (0.961) as a percentage with one decimal
// ("96.1 %", "96,1 %").
func (f formatter) percent(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return f.l.Empty
	}
	s := strconv.FormatFloat(x*100, 'f', 1, 64)
	return strings.Replace(s, ".", f.l.DecimalSep, 1) + " %"
}

// share shows n of total, with the percentage when total is not zero.
func (f formatter) share(n, total int) string {
	if total <= 0 {
		return fmt.Sprintf(f.l.OfTotal, f.int(int64(n)), f.int(int64(total)))
	}
	return fmt.Sprintf(f.l.OfTotalPercent, f.int(int64(n)), f.int(int64(total)), f.percent(float64(n)/float64(total)))
}

// duration shows seconds in the largest unit that divides them: "90 s",
// "15 min", "24 h", "7 d". Days are used from two days up, so a day reads
// "24 h"; a length no unit divides is spelt out ("1 h 30 min 5 s"). Zero
// or less is a setting not made.
func (f formatter) duration(sec int64) string {
	if sec <= 0 {
		return f.l.NotSet
	}
	const minute, hour, day = 60, 3600, 86400
	switch {
	case sec%day == 0 && sec >= 2*day:
		return f.int(sec/day) + " " + f.l.Day
	case sec%hour == 0:
		return f.int(sec/hour) + " " + f.l.Hour
	case sec%minute == 0:
		return f.int(sec/minute) + " " + f.l.Minute
	case sec < minute:
		return f.int(sec) + " " + f.l.Second
	}
	var parts []string
	if sec >= 2*day {
		parts = append(parts, f.int(sec/day)+" "+f.l.Day)
		sec %= day
	}
	for _, u := range []struct {
		n    int64
		name string
	}{{hour, f.l.Hour}, {minute, f.l.Minute}, {1, f.l.Second}} {
		if sec >= u.n {
			parts = append(parts, f.int(sec/u.n)+" "+u.name)
			sec %= u.n
		}
	}
	return strings.Join(parts, " ")
}

func (f formatter) years(n int) string {
	if n == 1 {
		return fmt.Sprintf(f.l.YearOne, n)
	}
	return fmt.Sprintf(f.l.YearMany, n)
}

func (f formatter) months(n int) string {
	if n == 1 {
		return fmt.Sprintf(f.l.MonthOne, n)
	}
	return fmt.Sprintf(f.l.MonthMany, n)
}

// limit shows a rate limit; 0 is none.
func (f formatter) limit(n int) string {
	if n <= 0 {
		return f.l.NoLimit
	}
	return fmt.Sprintf(f.l.PerWindow, f.int(int64(n)))
}

func (f formatter) list(items []string) string {
	if len(items) == 0 {
		return f.l.None
	}
	return strings.Join(items, ", ")
}

// article cites a GDPR article in the language's style: "art. 32(1)(a)"
// in English, "art. 32.1 a" in Swedish.
func (f formatter) article(a Article) string {
	if a.Paragraph == 0 {
		return fmt.Sprintf(f.l.ArticleOnlyFmt, a.Number)
	}
	s := fmt.Sprintf(f.l.ArticleFmt, a.Number, a.Paragraph)
	if a.Point != "" {
		s += fmt.Sprintf(f.l.PointFmt, a.Point)
	}
	return s
}

// evidence is a section's evidence line: "Evidences: ENC-5 (GDPR art.
// 32(1)(a)) — seed 001 “Kryptering i transit”; seed 000 “...”".
func (f formatter) evidence(ev SectionEvidence) string {
	l := f.l
	var b strings.Builder
	b.WriteString(l.Evidences + ": " + strings.Join(ev.Requirements, ", "))
	if len(ev.Articles) > 0 {
		arts := make([]string, len(ev.Articles))
		for i, a := range ev.Articles {
			arts[i] = f.article(a)
		}
		b.WriteString(" (" + l.GDPR + " " + strings.Join(arts, ", ") + ")")
	}
	for i, p := range ev.Promises {
		if i == 0 {
			b.WriteString(" — ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(l.Seed + " " + p.Seed + " " + l.QuoteOpen + p.Quote + l.QuoteClose)
	}
	return b.String()
}

func orEmpty(l *labels, s string) string {
	if s == "" {
		return l.Empty
	}
	return s
}

// translate shows a code in the report's language, or as it is when the
// language has no word for it.
func translate(l *labels, words map[string]string, code string) string {
	if w, ok := words[code]; ok {
		return w
	}
	return orEmpty(l, code)
}

// HTML renders m as a complete, self-contained HTML page in lang ("sv" or
// "en"): inline CSS, no scripts and no external resources, every value
// escaped by html/template. The output is the same bytes for the same
// Measures.
func HTML(m Measures, lang string) ([]byte, error) {
	v, err := newView(&m, lang)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := htmlReport.Execute(&b, v); err != nil {
		return nil, fmt.Errorf("report: render html: %w", err)
	}
	return b.Bytes(), nil
}

// htmlReport is parsed once and never changed; html/template escapes every
// value by its context.
var htmlReport = template.Must(template.New("measures").Parse(htmlSource))

const htmlSource = `<!DOCTYPE html>
<html lang="{{.L.Lang}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; color: #1a1a1a; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.45; }
h1 { font-size: 1.8rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.3rem; border-bottom: 2px solid #1a1a1a; padding-bottom: 0.2rem; margin-top: 2.2rem; }
h3 { font-size: 1rem; margin: 1rem 0 0.3rem; }
.sub { margin-top: 0; color: #555; }
table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
th, td { text-align: left; vertical-align: top; padding: 0.25rem 0.5rem; border: 1px solid #ccc; overflow-wrap: anywhere; }
th { background: #f0f0f0; font-weight: 600; }
table.facts th { width: 40%; }
pre, code { font-family: ui-monospace, Menlo, Consolas, monospace; }
pre { background: #f6f6f6; border: 1px solid #ccc; padding: 0.6rem; font-size: 0.85rem; white-space: pre-wrap; overflow-wrap: anywhere; }
.evidence { color: #444; font-size: 0.85rem; font-style: italic; border-left: 3px solid #999; padding-left: 0.6rem; }
.warning { color: #a40000; background: #fbe4e4; border: 2px solid #a40000; padding: 0.5rem 0.8rem; font-weight: 700; }
.warn { color: #a40000; font-weight: 600; }
.none { color: #555; font-style: italic; }
footer { margin-top: 3rem; border-top: 1px solid #ccc; padding-top: 0.5rem; font-size: 0.9rem; }
@media print { body { margin: 0; max-width: none; } section { break-inside: avoid-page; } }
</style>
</head>
<body>
<header>
<h1>{{.L.Title}}</h1>
<p class="sub">{{.Tenant}}</p>
{{- if .Warning}}
<p class="warning" role="alert">{{.Warning}}</p>
{{- end}}
</header>
<main>
<table class="facts">
{{- range .Facts}}
<tr><th>{{.Label}}</th><td{{if .Warn}} class="warn"{{end}}>{{if .Mono}}<code>{{.Value}}</code>{{else}}{{.Value}}{{end}}</td></tr>
{{- end}}
</table>
<p>{{.L.Intro}}</p>
<p>{{.L.Legend}}</p>
<p>{{.L.TimesUTC}}</p>
{{- range .Sections}}

<section id="{{.Key}}">
<h2>{{.Number}}. {{.Heading}}</h2>
<p class="evidence">{{.Evidence}}</p>
<table class="facts">
{{- range .Facts}}
<tr><th>{{.Label}}</th><td{{if .Warn}} class="warn"{{end}}>{{if .Mono}}<code>{{.Value}}</code>{{else}}{{.Value}}{{end}}</td></tr>
{{- end}}
</table>
{{- range .Blocks}}
<h3>{{.Label}}</h3>
{{- if .Text}}
<pre>{{.Text}}</pre>
{{- else}}
<p class="none">{{$.L.None}}</p>
{{- end}}
{{- end}}
{{- range .Tables}}
<h3>{{.Title}} ({{len .Rows}})</h3>
{{- if .Rows}}
<table>
<tr>{{range .Header}}<th>{{.}}</th>{{end}}</tr>
{{- range .Rows}}
<tr{{if .Warn}} class="warn"{{end}}>{{range .Cells}}<td>{{.}}</td>{{end}}</tr>
{{- end}}
</table>
{{- else}}
<p class="none">{{$.L.None}}</p>
{{- end}}
{{- end}}
</section>
{{- end}}
</main>
<footer>
<h2>{{.L.SignatureHeading}}</h2>
<p>{{.L.Signed}}</p>
<pre>{{.L.VerifyCommand}}</pre>
<p>{{.L.VerifyHow}}</p>
<table class="facts">
<tr><th>{{.L.VerifierKey}}</th><td><code>{{.VerifierKey}}</code></td></tr>
</table>
</footer>
</body>
</html>
`

// PDF layout.
const (
	// pdfGrid is the number of columns in a row: finer than maroto's
	// default 12 so the backup targets' seven columns fit.
	pdfGrid = 24
	// pdfLabelColumns is the width of a fact's label.
	pdfLabelColumns = 10
	// pdfMaxBlockLines and pdfCodeColumns bound a preformatted block
	// (Courier 7.5 pt is 1.59 mm a character; 176 mm wide).
	pdfMaxBlockLines = 60
	pdfCodeColumns   = 104
	// pdfValueCodeColumns is how many Courier characters fit in a fact's
	// value column: Courier 8 pt is 1.69 mm a character, the column 14/24
	// of 180 mm, less a margin.
	pdfValueCodeColumns = 58
)

// PDF renders m as an A4 PDF in lang ("sv" or "en") with the same content
// as HTML. Its creation date is m.Generated. The bytes are NOT the same
// from one run to the next: the PDF library (gofpdf, under maroto) writes
// the modification date as the time of rendering and its font objects in
// map order, and maroto offers no way to fix either; what is drawn is the
// same every time.
func PDF(m Measures, lang string) ([]byte, error) {
	v, err := newView(&m, lang)
	if err != nil {
		return nil, err
	}
	c := pdfdoc.NewPalette()
	b := config.NewBuilder().
		WithPageSize(pagesize.A4).
		WithLeftMargin(15).
		WithRightMargin(15).
		WithTopMargin(12).
		WithMaxGridSize(pdfGrid).
		WithPageNumber(props.PageNumber{Pattern: v.L.PageNumber, Place: props.Bottom, Size: 8, Color: &c.Grey}).
		WithTitle(v.Title, true).
		WithCreator("Valv", false)
	if !m.Generated.IsZero() {
		b = b.WithCreationDate(m.Generated.UTC())
	}
	mr := maroto.New(b.Build())
	p := &pdfWriter{m: mr, l: v.L, c: c}
	if err := mr.RegisterHeader(p.header(v)...); err != nil {
		return nil, fmt.Errorf("report: render pdf: %w", err)
	}
	p.body(v)
	doc, err := mr.Generate()
	if err != nil {
		return nil, fmt.Errorf("report: render pdf: %w", err)
	}
	return doc.GetBytes(), nil
}

// pdfWriter lays out the report as maroto rows.
type pdfWriter struct {
	m core.Maroto
	l *labels
	c *pdfdoc.Palette
}

func (p *pdfWriter) header(v *view) []core.Row {
	small := props.Text{Size: 8, Color: &p.c.Grey}
	right := small
	right.Align = align.Right
	return []core.Row{
		row.New().Add(
			pdfdoc.Cell(pdfGrid/2, v.Title, small),
			pdfdoc.Cell(pdfGrid/2, v.L.Generated+" "+v.Generated, right),
		),
		row.New(3).Add(line.NewCol(pdfGrid, props.Line{Thickness: 0.2, Color: &p.c.RuleGrey, SizePercent: 100, OffsetPercent: 50})),
	}
}

func (p *pdfWriter) body(v *view) {
	l := v.L
	p.m.AddAutoRow(pdfdoc.Cell(pdfGrid, l.Title, props.Text{Size: 18, Style: fontstyle.Bold, Bottom: 1}))
	p.m.AddAutoRow(pdfdoc.Cell(pdfGrid, v.Tenant, props.Text{Size: 11, Color: &p.c.Grey, Bottom: 3}))
	if v.Warning != "" {
		p.m.AddAutoRow(pdfdoc.Cell(pdfGrid, v.Warning,
			props.Text{Size: 10, Style: fontstyle.Bold, Color: &p.c.Red, Top: 1.5, Bottom: 1.5, Left: 2, Right: 2}),
		).WithStyle(&props.Cell{BackgroundColor: &p.c.RedFill, BorderType: border.Full, BorderColor: &p.c.Red, BorderThickness: 0.5})
		p.m.AddRow(3)
	}
	p.facts(v.Facts)
	p.m.AddRow(2)
	for _, s := range []string{l.Intro, l.Legend, l.TimesUTC} {
		p.paragraph(s)
	}
	for _, s := range v.Sections {
		p.section(s)
	}

	p.heading(l.SignatureHeading)
	p.paragraph(l.Signed)
	p.code(l.VerifyCommand)
	p.m.AddRow(1.5)
	p.paragraph(l.VerifyHow)
	p.facts([]fact{{Label: l.VerifierKey, Value: v.VerifierKey, Mono: true}})
}

func (p *pdfWriter) section(s section) {
	p.heading(fmt.Sprintf("%d. %s", s.Number, s.Heading))
	p.m.AddAutoRow(pdfdoc.Cell(pdfGrid, s.Evidence,
		props.Text{Size: 8, Style: fontstyle.Italic, Color: &p.c.Grey, Left: 2, Bottom: 2}))
	p.facts(s.Facts)
	for _, b := range s.Blocks {
		p.subheading(b.Label)
		if b.Text == "" {
			p.none()
			continue
		}
		p.code(b.Text)
	}
	for _, t := range s.Tables {
		p.subheading(fmt.Sprintf("%s (%d)", t.Title, len(t.Rows)))
		p.table(t)
	}
}

func (p *pdfWriter) heading(s string) {
	p.m.AddRow(5)
	p.m.AddAutoRow(pdfdoc.Cell(pdfGrid, s, props.Text{Size: 13, Style: fontstyle.Bold, Bottom: 0.5}))
	p.m.AddRow(3, line.NewCol(pdfGrid, props.Line{Thickness: 0.4, SizePercent: 100, OffsetPercent: 20}))
}

func (p *pdfWriter) subheading(s string) {
	p.m.AddRow(2)
	p.m.AddAutoRow(pdfdoc.Cell(pdfGrid, s, props.Text{Size: 9.5, Style: fontstyle.Bold, Bottom: 1}))
}

func (p *pdfWriter) paragraph(s string) {
	p.m.AddAutoRow(pdfdoc.Cell(pdfGrid, s, props.Text{Size: 9, Bottom: 1.5}))
}

func (p *pdfWriter) none() {
	p.m.AddAutoRow(pdfdoc.Cell(pdfGrid, p.l.None, props.Text{Size: 9, Style: fontstyle.Italic, Color: &p.c.Grey, Bottom: 1}))
}

// facts lists label–value pairs in two columns; a value that shows a
// measure not working is red.
func (p *pdfWriter) facts(fs []fact) {
	label := props.Text{Size: 9, Style: fontstyle.Bold, Top: 0.5, Bottom: 0.5, Right: 2}
	value := props.Text{Size: 9, Top: 0.5, Bottom: 0.5}
	warn := value
	warn.Style, warn.Color = fontstyle.Bold, &p.c.Red
	mono := props.Text{Family: fontfamily.Courier, Size: 8, Top: 0.5, Bottom: 0.5}
	for _, f := range fs {
		if f.Mono {
			// One row a piece, so maroto never wraps (and hyphenates) it.
			for i, part := range wrapCode(pdfdoc.Text(f.Value, pdfdoc.MaxCellRunes), pdfValueCodeColumns) {
				name := ""
				if i == 0 {
					name = f.Label
				}
				p.m.AddAutoRow(
					pdfdoc.Cell(pdfLabelColumns, name, label),
					text.NewCol(pdfGrid-pdfLabelColumns, part, mono),
				)
			}
			continue
		}
		style := value
		if f.Warn {
			style = warn
		}
		p.m.AddAutoRow(
			pdfdoc.Cell(pdfLabelColumns, f.Label, label),
			pdfdoc.Cell(pdfGrid-pdfLabelColumns, f.Value, style),
		)
	}
}

// code lists preformatted text one line per row in Courier, so a page
// break can fall between any two lines. Lines are wrapped here, not by
// maroto, whose wrapping drops indentation.
func (p *pdfWriter) code(s string) {
	style := props.Text{Family: fontfamily.Courier, Size: 7.5, Left: 2, Right: 2}
	fill := &props.Cell{BackgroundColor: &p.c.CodeFill}
	lines := strings.Split(s, "\n")
	cut := false
	if len(lines) > pdfMaxBlockLines {
		lines, cut = lines[:pdfMaxBlockLines], true
	}
	p.m.AddRow(1.5).WithStyle(fill)
	for _, ln := range lines {
		for _, part := range wrapCode(pdfdoc.Text(ln, pdfdoc.MaxCellRunes), pdfCodeColumns) {
			p.m.AddAutoRow(text.NewCol(pdfGrid, part, style)).WithStyle(fill)
		}
	}
	if cut {
		p.m.AddAutoRow(text.NewCol(pdfGrid, "…", style)).WithStyle(fill)
	}
	p.m.AddRow(1.5).WithStyle(fill)
}

// wrapCode cuts a line of monospaced text into pieces of at most width
// runes.
func wrapCode(s string, width int) []string {
	if strings.TrimSpace(s) == "" {
		return []string{" "} // an empty text would give the row no height
	}
	r := []rune(s)
	var out []string
	for len(r) > width {
		out = append(out, string(r[:width]))
		r = r[width:]
	}
	return append(out, string(r))
}

// table lays out a table under a shaded header; no rows gives the "none"
// line instead.
func (p *pdfWriter) table(t table) {
	if len(t.Rows) == 0 {
		p.none()
		return
	}
	head := props.Text{Size: 8, Style: fontstyle.Bold, Top: 0.8, Bottom: 0.8, Left: 1, Right: 1}
	body := props.Text{Size: 8, Top: 0.8, Bottom: 0.8, Left: 1, Right: 1}
	warn := body
	warn.Style, warn.Color = fontstyle.Bold, &p.c.Red
	cols := func(values []string, style props.Text) []core.Col {
		out := make([]core.Col, len(t.widths))
		for i, size := range t.widths {
			out[i] = pdfdoc.Cell(size, values[i], style)
		}
		return out
	}
	p.m.AddAutoRow(cols(t.Header, head)...).WithStyle(&props.Cell{BackgroundColor: &p.c.HeadFill})
	for i, r := range t.Rows {
		style := body
		if r.Warn {
			style = warn
		}
		added := p.m.AddAutoRow(cols(r.Cells, style)...)
		if i%2 == 1 {
			added.WithStyle(&props.Cell{BackgroundColor: &p.c.ZebraFill})
		}
	}
}
