package notify

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	texttemplate "text/template"
	"time"
	"unicode"
)

// The mail templates. Each is rendered from three parts per language, in
// templates/<lang>/<name>.txt (the "subject" and "text" templates, with
// text/template) and templates/<lang>/<name>.html (the "body" template, with
// html/template, inside the language's _layout.html). Its data is the struct
// named after it below; Render refuses any other type.
const (
	TemplateLoginCode     = "login_code"     // data: LoginCode
	TemplatePasswordReset = "password_reset" // data: PasswordReset
	TemplateAccountSetup  = "account_setup"  // data: AccountSetup
	TemplateLockout       = "lockout"        // data: Lockout
	TemplateSecurityAlert = "security_alert" // data: SecurityAlert
	TemplateEmailChange   = "email_change"   // data: EmailChange
	TemplateReviewDigest  = "review_digest"  // data: ReviewDigest
	TemplateAccessNotice  = "access_notice"  // data: AccessNotice
)

// Languages that every template exists in. DefaultLang is used for any other.
const (
	LangSwedish = "sv"
	LangEnglish = "en"
	DefaultLang = LangEnglish
)

// langs lists the languages every template must exist in.
func langs() []string { return []string{LangSwedish, LangEnglish} }

// templateData is implemented by the data type of each template.
type templateData interface {
	template() string
	validate() error
}

// LoginCode is the data of TemplateLoginCode: a one-time code, the second
// step of a login.
type LoginCode struct {
	// Code is the code the user types: exactly six digits.
	Code string
	// ValidFor is how long the code works, usually 10 minutes.
	ValidFor time.Duration
}

// PasswordReset is the data of TemplatePasswordReset: a link that lets the
// user choose a new password, once.
type PasswordReset struct {
	// Link is the single-use https:// link.
	Link string
	// ValidFor is how long the link works.
	ValidFor time.Duration
}

// AccountRole says what kind of account AccountSetup is for.
type AccountRole string

// Account roles.
const (
	AccountOwner    AccountRole = "owner"    // the first owner of a tenant
	AccountUser     AccountRole = "user"     // any other user of a tenant
	AccountOperator AccountRole = "operator" // platform staff
)

// AccountSetup is the data of TemplateAccountSetup: a one-time link with
// which a new owner, user or operator sets up their account.
type AccountSetup struct {
	// Role is the kind of account.
	Role AccountRole
	// Organisation is the tenant's name; required for owners and users,
	// unused for operators.
	Organisation string
	// Link is the single-use https:// setup link.
	Link string
	// ValidFor is how long the link works.
	ValidFor time.Duration
}

// Lockout is the data of TemplateLockout: the account was locked for a while
// after repeated failed logins.
type Lockout struct {
	// At is when the account was locked; it is shown in its own time zone.
	At time.Time
	// LockedFor is how long the lock lasts (the lock's end minus At); it is
	// shown rounded up to whole minutes.
	LockedFor time.Duration
}

// MaxAlertLines is the most lines a SecurityAlert may have.
const MaxAlertLines = 50

// SecurityAlert is the data of TemplateSecurityAlert: an alert to a tenant's
// security contact.
type SecurityAlert struct {
	// Organisation is the tenant's name.
	Organisation string
	// Title says what happened, in a few words; it is also in the subject.
	Title string
	// Lines are details, one per line (at most MaxAlertLines). They MUST NOT
	// hold personal data beyond what the security contact may see.
	Lines []string
	// At is when it happened; it is shown in its own time zone.
	At time.Time
}

// AccessNoticeKind says which notice about operator access an
// AccessNotice is.
type AccessNoticeKind string

// The notices about operator access (OPS-1..3).
const (
	// AccessFiled goes to security operators: a request waits for one of them.
	AccessFiled AccessNoticeKind = "filed"
	// AccessConsent goes to an organisation's owners: an approved request
	// waits for their consent.
	AccessConsent AccessNoticeKind = "consent"
	// AccessDecided goes to the requester: their request changed state.
	AccessDecided AccessNoticeKind = "decided"
	// AccessBreakGlass goes to every security operator and the
	// organisation's owners: emergency access was taken.
	AccessBreakGlass AccessNoticeKind = "break_glass"
)

// AccessNotice is the data of TemplateAccessNotice: a notice about an
// operator's access to an organisation's data. The reason is the
// operator's own words, which the recipients may read in Valv too.
type AccessNotice struct {
	Kind         AccessNoticeKind
	Organisation string // the tenant's name
	Request      string // the request's id
	Operator     string // who asked
	// Scope is the grant's scope (documents_of_type, document, audit,
	// messages) and Target the document type or document it names.
	Scope    string
	Target   string
	Reason   string
	Duration time.Duration
	// State is the request's state, for AccessDecided (active, denied,
	// awaiting_consent, refused, revoked).
	State string
	// Link is where to see (and, for AccessConsent, answer) the request.
	Link string
	At   time.Time
}

// EmailChange is the data of TemplateEmailChange, sent to a new address to
// confirm that it belongs to the user.
type EmailChange struct {
	// Link is the single-use https:// confirmation link.
	Link string
	// ValidFor is how long the link works.
	ValidFor time.Duration
}

// MaxDigestTypes is the most document types a ReviewDigest may list.
const MaxDigestTypes = 20

// ReviewDigest is the data of TemplateReviewDigest: the daily digest of a
// tenant's documents whose review date has come (RET-4). It goes to the
// tenant's reviewers and MUST hold no personal data: only counts and
// document types, never a document's contents, subjects or file names.
type ReviewDigest struct {
	Organisation string        // the tenant's name
	Date         string        // the day of the digest, YYYY-MM-DD
	Due          int           // documents whose review date is today or earlier
	Overdue      int           // of those, documents whose review date has passed (before Date)
	Types        []ReviewCount // counts per document type, at most 20 (MaxDigestTypes)
	Link         string        // where the reviewer lists due reviews (https URL)
}

// ReviewCount is the number of due documents of one type in a
// ReviewDigest.
type ReviewCount struct {
	// Type is a document type name, as Valv's document types are named:
	// 1 to 64 of a-z, 0-9, '_', '.', '-', starting with a letter or digit.
	Type string
	// Due is how many of the digest's due documents have the type; at
	// least 1.
	Due int
}

// Others is the number of due documents that Types does not count: those
// of the types beyond the first MaxDigestTypes.
func (d ReviewDigest) Others() int {
	n := d.Due
	for _, t := range d.Types {
		n -= t.Due
	}
	return n
}

func (LoginCode) template() string     { return TemplateLoginCode }
func (PasswordReset) template() string { return TemplatePasswordReset }
func (AccountSetup) template() string  { return TemplateAccountSetup }
func (Lockout) template() string       { return TemplateLockout }
func (SecurityAlert) template() string { return TemplateSecurityAlert }
func (EmailChange) template() string   { return TemplateEmailChange }
func (ReviewDigest) template() string  { return TemplateReviewDigest }
func (AccessNotice) template() string  { return TemplateAccessNotice }

func (d AccessNotice) validate() error {
	var errs []error
	switch d.Kind {
	case AccessFiled, AccessConsent, AccessDecided, AccessBreakGlass:
	default:
		errs = append(errs, errors.New("kind must be filed, consent, decided or break_glass"))
	}
	switch d.Scope {
	case "documents_of_type", "document":
		if d.Target == "" {
			errs = append(errs, errors.New("target is required for scope "+d.Scope))
		}
	case "audit", "messages":
	default:
		errs = append(errs, errors.New("scope must be documents_of_type, document, audit or messages"))
	}
	for name, v := range map[string]string{"organisation": d.Organisation, "request": d.Request, "operator": d.Operator, "reason": d.Reason} {
		if strings.TrimSpace(v) == "" {
			errs = append(errs, errors.New(name+" is required"))
		}
	}
	if d.Kind == AccessDecided && d.State == "" {
		errs = append(errs, errors.New("state is required"))
	}
	if d.At.IsZero() {
		errs = append(errs, errors.New("time is required"))
	}
	return errors.Join(append(errs, httpsLink(d.Link), positive("duration", d.Duration))...)
}

func (d LoginCode) validate() error {
	if len(d.Code) != 6 || strings.Trim(d.Code, "0123456789") != "" {
		return errors.New("code must be six digits")
	}
	return positive("valid-for", d.ValidFor)
}

func (d PasswordReset) validate() error {
	return errors.Join(httpsLink(d.Link), positive("valid-for", d.ValidFor))
}

func (d AccountSetup) validate() error {
	var errs []error
	switch d.Role {
	case AccountOwner, AccountUser:
		if strings.TrimSpace(d.Organisation) == "" {
			errs = append(errs, errors.New("organisation is required"))
		}
	case AccountOperator:
	default:
		errs = append(errs, errors.New("role must be owner, user or operator"))
	}
	return errors.Join(append(errs, httpsLink(d.Link), positive("valid-for", d.ValidFor))...)
}

func (d Lockout) validate() error {
	var errs []error
	if d.At.IsZero() {
		errs = append(errs, errors.New("time is required"))
	}
	return errors.Join(append(errs, positive("locked-for", d.LockedFor))...)
}

func (d SecurityAlert) validate() error {
	var errs []error
	if strings.TrimSpace(d.Organisation) == "" {
		errs = append(errs, errors.New("organisation is required"))
	}
	if strings.TrimSpace(d.Title) == "" {
		errs = append(errs, errors.New("title is required"))
	}
	if len(d.Lines) > MaxAlertLines {
		errs = append(errs, fmt.Errorf("%d lines, more than %d", len(d.Lines), MaxAlertLines))
	}
	if d.At.IsZero() {
		errs = append(errs, errors.New("time is required"))
	}
	return errors.Join(errs...)
}

func (d EmailChange) validate() error {
	return errors.Join(httpsLink(d.Link), positive("valid-for", d.ValidFor))
}

func (d ReviewDigest) validate() error {
	var errs []error
	if strings.TrimSpace(d.Organisation) == "" {
		errs = append(errs, errors.New("organisation is required"))
	}
	if _, err := time.Parse(time.DateOnly, d.Date); err != nil {
		errs = append(errs, errors.New("date must be YYYY-MM-DD"))
	}
	if d.Due < 1 {
		errs = append(errs, errors.New("due must be at least 1"))
	}
	if d.Overdue < 0 || d.Overdue > d.Due {
		errs = append(errs, errors.New("overdue must be between 0 and due"))
	}
	if len(d.Types) > MaxDigestTypes {
		errs = append(errs, fmt.Errorf("%d types, more than %d", len(d.Types), MaxDigestTypes))
	}
	seen := map[string]bool{}
	rest := max(d.Due, 0) // due documents not yet counted by a type
	for i, t := range d.Types {
		if !documentType(t.Type) {
			errs = append(errs, fmt.Errorf("types[%d]: not a document type name", i))
		} else if seen[t.Type] {
			errs = append(errs, fmt.Errorf("types[%d]: type listed twice", i))
		}
		seen[t.Type] = true
		switch {
		case t.Due < 1:
			errs = append(errs, fmt.Errorf("types[%d]: due must be at least 1", i))
		case t.Due > rest:
			// Subtracting instead of adding up cannot overflow.
			errs = append(errs, fmt.Errorf("types[%d]: the types count more documents than are due", i))
			rest = 0
		default:
			rest -= t.Due
		}
	}
	return errors.Join(append(errs, httpsLink(d.Link))...)
}

// documentType reports whether s is a document type name as Valv's
// documents have them (internal/document: ^[a-z0-9][a-z0-9_.-]{0,63}$).
// Checking it here keeps free text, and so personal data, out of a digest.
func documentType(s string) bool {
	if len(s) < 1 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case (c == '_' || c == '.' || c == '-') && i > 0:
		default:
			return false
		}
	}
	return true
}

// positive checks a duration; templates show it rounded up to a minute.
func positive(field string, d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("%s must be positive", field)
	}
	return nil
}

// httpsLink checks that link is an absolute https:// URL with a host.
func httpsLink(link string) error {
	u, err := url.Parse(link)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
		return errors.New("link must be an absolute https:// URL")
	}
	return nil
}

// samples returns the documented sample data of every template, one per
// template: the set of templates is the set of these. Tests render each in
// every language, and the golden files in testdata/golden show the result.
func samples() []templateData {
	at := time.Date(2025, time.March, 4, 14, 5, 0, 0, time.UTC)
	return []templateData{
		LoginCode{Code: "042917", ValidFor: 10 * time.Minute},
		PasswordReset{Link: "https://valv.example.com/reset#token=Kq3vW8sYb2", ValidFor: time.Hour},
		AccountSetup{Role: AccountOwner, Organisation: "Exempel AB", Link: "https://valv.example.com/setup#token=Zx81pLm0Qa", ValidFor: 72 * time.Hour},
		Lockout{At: at, LockedFor: 15 * time.Minute},
		SecurityAlert{
			Organisation: "Exempel AB",
			Title:        "Blocked requests from one address",
			Lines:        []string{"Source: 203.0.113.7", "Requests blocked: 120 in 5 minutes", "Rule: SQL injection"},
			At:           at,
		},
		EmailChange{Link: "https://valv.example.com/email/confirm#token=Pp4nR7tUw1", ValidFor: 24 * time.Hour},
		ReviewDigest{
			Organisation: "Exempel AB",
			Date:         "2025-03-04",
			Due:          17,
			Overdue:      3,
			Types:        []ReviewCount{{Type: "contract", Due: 9}, {Type: "invoice", Due: 6}, {Type: "payslip", Due: 2}},
			Link:         "https://valv.example.com/reviews",
		},
		AccessNotice{Kind: AccessConsent, Organisation: "Exempel AB", Request: "0193a1f2-7c4e-7d2a-9b1e-3f5a6c7d8e9f",
			Operator: "ops@valv.example.com", Scope: "documents_of_type", Target: "invoice", Reason: "Ticket 4711: the customer reports a rounding error in invoice totals.",
			Duration: 2 * time.Hour, Link: "https://valv.example.com/access-requests/0193a1f2-7c4e-7d2a-9b1e-3f5a6c7d8e9f", At: at},
	}
}

//go:embed templates/*/*.txt templates/*/*.html
var templateFS embed.FS

// parsed is one template in one language.
type parsed struct {
	text *texttemplate.Template // "subject" and "text"
	html *htmltemplate.Template // "layout", which calls "body"
}

// loadTemplates parses every template once; the result never changes.
var loadTemplates = sync.OnceValues(parseTemplates)

func parseTemplates() (map[string]parsed, error) {
	out := map[string]parsed{}
	for _, lang := range langs() {
		funcs := templateFuncs(lang)
		baseText, err := texttemplate.New("").Funcs(funcs).Option("missingkey=error").
			ParseFS(templateFS, "templates/"+lang+"/_common.txt")
		if err != nil {
			return nil, fmt.Errorf("notify: templates: %w", err)
		}
		baseHTML, err := htmltemplate.New("").Funcs(funcs).Option("missingkey=error").
			ParseFS(templateFS, "templates/"+lang+"/_layout.html")
		if err != nil {
			return nil, fmt.Errorf("notify: templates: %w", err)
		}
		for _, d := range samples() {
			name := d.template()
			t, err := baseText.Clone()
			if err == nil {
				t, err = t.ParseFS(templateFS, "templates/"+lang+"/"+name+".txt")
			}
			if err != nil {
				return nil, fmt.Errorf("notify: templates: %w", err)
			}
			h, err := baseHTML.Clone()
			if err == nil {
				h, err = h.ParseFS(templateFS, "templates/"+lang+"/"+name+".html")
			}
			if err != nil {
				return nil, fmt.Errorf("notify: templates: %w", err)
			}
			for _, part := range []string{"subject", "text"} {
				if t.Lookup(part) == nil {
					return nil, fmt.Errorf("notify: templates: %s/%s.txt defines no %q", lang, name, part)
				}
			}
			if h.Lookup("body") == nil {
				return nil, fmt.Errorf("notify: templates: %s/%s.html defines no \"body\"", lang, name)
			}
			out[lang+"/"+name] = parsed{text: t, html: h}
		}
	}
	return out, nil
}

// ErrUnknownTemplate is returned by Render for a name it does not know.
var ErrUnknownTemplate = errors.New("notify: unknown template")

// Render renders the template name in lang with data, which must be a value
// of the template's data type (see the Template constants). lang is a
// language tag such as "sv" or "sv-SE"; a language without templates gets
// English. The Message has everything but its recipients. Errors describe
// what is wrong with data without quoting it.
func Render(name, lang string, data any) (Message, error) {
	all, err := loadTemplates()
	if err != nil {
		return Message{}, err
	}
	lang = pickLang(lang)
	p, ok := all[lang+"/"+name]
	if !ok {
		return Message{}, fmt.Errorf("%w %q", ErrUnknownTemplate, name)
	}
	d, ok := data.(templateData)
	if !ok || d.template() != name || reflect.ValueOf(data).Kind() != reflect.Struct {
		return Message{}, fmt.Errorf("notify: template %s: data of type %T; want the template's own type", name, data)
	}
	if err := d.validate(); err != nil {
		return Message{}, fmt.Errorf("notify: template %s: invalid data: %w", name, err)
	}
	var subject, text, html bytes.Buffer
	if err := p.text.ExecuteTemplate(&subject, "subject", data); err != nil {
		return Message{}, fmt.Errorf("notify: template %s/%s: subject: %w", lang, name, err)
	}
	if err := p.text.ExecuteTemplate(&text, "text", data); err != nil {
		return Message{}, fmt.Errorf("notify: template %s/%s: text: %w", lang, name, err)
	}
	if err := p.html.ExecuteTemplate(&html, "layout", data); err != nil {
		return Message{}, fmt.Errorf("notify: template %s/%s: html: %w", lang, name, err)
	}
	return Message{
		Subject:  oneLine(subject.String()),
		Text:     cleanText(text.String()),
		HTML:     html.String(),
		Template: name,
		Lang:     lang,
	}, nil
}

// pickLang returns the language of tag that has templates, or DefaultLang.
func pickLang(tag string) string {
	primary, _, _ := strings.Cut(strings.ReplaceAll(tag, "_", "-"), "-")
	primary = strings.ToLower(strings.TrimSpace(primary))
	for _, l := range langs() {
		if primary == l {
			return l
		}
	}
	return DefaultLang
}

// oneLine turns s into one line: every run of white space or control
// characters becomes one space, so data cannot add header lines.
func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

// cleanText drops control characters but line feeds and tabs, trims the
// ends, and ends the text with one line feed.
func cleanText(s string) string {
	s = strings.Map(func(r rune) rune {
		if r != '\n' && r != '\t' && unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
	return strings.TrimSpace(s) + "\n"
}

// templateFuncs are the functions templates in lang may call.
func templateFuncs(lang string) map[string]any {
	return map[string]any{
		"lang":     func() string { return lang },
		"duration": func(d time.Duration) string { return formatDuration(lang, d) },
		"datetime": func(t time.Time) string { return formatTime(lang, t) },
		"date":     func(s string) string { return formatDate(lang, s) },
	}
}

// formatDuration says d in whole days, hours or minutes (rounded up).
func formatDuration(lang string, d time.Duration) string {
	type unit struct {
		size      time.Duration
		one, many [2]string // en, sv
	}
	units := []unit{
		{24 * time.Hour, [2]string{"day", "dag"}, [2]string{"days", "dagar"}},
		{time.Hour, [2]string{"hour", "timme"}, [2]string{"hours", "timmar"}},
		{time.Minute, [2]string{"minute", "minut"}, [2]string{"minutes", "minuter"}},
	}
	i := 0
	if lang == LangSwedish {
		i = 1
	}
	u := units[len(units)-1] // minutes, rounded up, unless a larger unit fits exactly
	for _, v := range units[:len(units)-1] {
		if d >= v.size && d%v.size == 0 {
			u = v
			break
		}
	}
	n := int64((d + u.size - 1) / u.size)
	if n == 1 {
		return "1 " + u.one[i]
	}
	return strconv.FormatInt(n, 10) + " " + u.many[i]
}

// formatTime shows t in its own time zone: "2025-03-04 kl. 14:05 UTC" in
// Swedish, "4 March 2025, 14:05 UTC" in English.
func formatTime(lang string, t time.Time) string {
	if lang == LangSwedish {
		return t.Format("2006-01-02 kl. 15:04 MST")
	}
	return t.Format("2 January 2006, 15:04 MST")
}

// formatDate shows a YYYY-MM-DD date: as it is in Swedish, "4 March 2025"
// in English. A date that does not parse is shown as it is.
func formatDate(lang, s string) string {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil || lang == LangSwedish {
		return s
	}
	return d.Format("2 January 2006")
}
