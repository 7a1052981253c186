package web

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/valvhq/valv/internal/access"
	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/problem"
)

// page is what every template gets: the language, who is logged in, the
// form token and the page's own data.
type page struct {
	Lang   string
	Path   string
	Title  string // a message key
	P      authz.Principal
	CSRF   string
	Notice string // a message key, shown once after a form
	Error  string // a sentence, already translated
	// Idle is the seconds of inactivity after which the session ends (0:
	// not logged in); the idle warning script reads it.
	Idle int
	Data any
	// Environment is set when the installation is not production.
	Environment string

	now  time.Time
	r    *http.Request
	zone *time.Location
}

func (w *Web) newPage(rw http.ResponseWriter, r *http.Request) *page {
	pg := &page{Lang: language(r), Path: r.URL.Path, P: authz.PrincipalFrom(r.Context()), now: w.now(), r: r, zone: stockholm}
	if w.d.Environment != "" && w.d.Environment != "production" {
		pg.Environment = w.d.Environment
	}
	if pg.P.Kind == authz.User || pg.P.Kind == authz.Operator {
		pg.CSRF = csrfToken(sessionOf(r))
		pg.Idle = int(w.idle(r, pg.P).Seconds())
	}
	if c, err := r.Cookie(noticeCookie); err == nil {
		if catalog[c.Value].sv != "" {
			pg.Notice = c.Value
		}
		// A notice is shown once.
		http.SetCookie(rw, &http.Cookie{Name: noticeCookie, Value: "", Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode, MaxAge: -1})
	}
	return pg
}

// idle is how long the principal's session lives without a request.
func (w *Web) idle(r *http.Request, p authz.Principal) time.Duration {
	if p.Kind == authz.Operator {
		return w.d.OperatorIdle
	}
	if w.d.Tenants == nil {
		return 0
	}
	s, err := w.d.Tenants.SettingsOf(r.Context(), p.TenantID)
	if err != nil {
		return 0
	}
	return time.Duration(s.IdleTimeout)
}

// language is the visitor's choice (a cookie), else the browser's first
// supported language, else Swedish.
func language(r *http.Request) string {
	if c, err := r.Cookie(langCookie); err == nil && (c.Value == "sv" || c.Value == "en") {
		return c.Value
	}
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		tag = strings.ToLower(tag)
		switch {
		case tag == "sv" || strings.HasPrefix(tag, "sv-"):
			return "sv"
		case tag == "en" || strings.HasPrefix(tag, "en-"):
			return "en"
		}
	}
	return "sv"
}

// T translates a message key.
func (pg *page) T(key string) string { return translate(pg.Lang, key) }

// Other is the language the switcher offers.
func (pg *page) Other() string {
	if pg.Lang == "sv" {
		return "en"
	}
	return "sv"
}

// validCSRF checks a form's token against the session's.
func (pg *page) validCSRF(got string) bool { return sameCSRF(got, pg.CSRF) }

// Can reports whether the logged-in principal may do action in their own
// tenant; pages use it to hide what the server would refuse anyway.
func (pg *page) Can(action string) bool {
	return authz.Decide(pg.P, authz.Action(action), authz.Resource{TenantID: pg.P.TenantID}, pg.now).Allowed
}

// IsUser and IsOperator say which kind of account is logged in.
func (pg *page) IsUser() bool     { return pg.P.Kind == authz.User }
func (pg *page) IsOperator() bool { return pg.P.Kind == authz.Operator }

// Role is the principal's role, translated.
func (pg *page) Role() string { return pg.T("role." + string(pg.P.Role)) }

// Active marks the navigation entry of the current section.
func (pg *page) Active(prefix string) bool {
	if prefix == "/" {
		return pg.Path == "/"
	}
	return pg.Path == prefix || strings.HasPrefix(pg.Path, prefix+"/")
}

// Query is a query parameter of the request.
func (pg *page) Query(name string) string { return pg.r.URL.Query().Get(name) }

// problemText is an error in the page's language where Valv has a
// translation for its code, else the service's own sentence.
func (pg *page) problemText(p *problem.Error) string {
	if m, ok := catalog["problem."+p.Code]; ok {
		return pick(pg.Lang, m)
	}
	if p.Kind == problem.KindInternal {
		return pg.T("error.internal")
	}
	msg := p.Message
	for _, f := range p.Fields {
		msg += " " + f.Message
	}
	return msg
}

// Date formats a time as a date and time in Stockholm: 2026-11-22 14:05 in
// Swedish, 22 Nov 2026 14:05 in English.
func (pg *page) Date(v any) string {
	var t time.Time
	switch x := v.(type) {
	case time.Time:
		t = x
	case *time.Time:
		if x != nil {
			t = *x
		}
	}
	if t.IsZero() {
		return "–"
	}
	t = t.In(pg.zone)
	if pg.Lang == "sv" {
		return t.Format("2006-01-02 15:04")
	}
	return t.Format("2 Jan 2006 15:04")
}

// Dur formats a duration: 2 h 30 min.
func (pg *page) Dur(v any) string {
	var d time.Duration
	switch x := v.(type) {
	case time.Duration:
		d = x
	case access.Duration:
		d = time.Duration(x)
	}
	h, m := int(d.Hours()), int(d.Minutes())%60
	switch {
	case h > 0 && m > 0:
		return strconv.Itoa(h) + " h " + strconv.Itoa(m) + " min"
	case h > 0:
		return strconv.Itoa(h) + " h"
	}
	return strconv.Itoa(m) + " min"
}

// NextPage is the query of the next page of a list: this page's filters
// with the next cursor.
func (pg *page) NextPage(cursor string) string {
	q := pg.r.URL.Query()
	q.Set("cursor", cursor)
	return pg.r.URL.Path + "?" + q.Encode()
}

// Day formats a date given as YYYY-MM-DD.
func (pg *page) Day(d string) string {
	t, err := time.Parse(time.DateOnly, d)
	if err != nil {
		return d
	}
	if pg.Lang == "sv" {
		return d
	}
	return t.Format("2 Jan 2006")
}

// Num formats an integer with the language's digit grouping: 1 234 567 in
// Swedish (a no-break space), 1,234,567 in English.
func (pg *page) Num(n int64) string { return groupDigits(n, pg.Lang) }

func groupDigits(n int64, lang string) string {
	sep := ","
	if lang == "sv" {
		sep = "\u00a0"
	}
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteString(sep)
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// Bytes formats a size.
func (pg *page) Bytes(n int64) string {
	const k = 1024
	switch {
	case n >= k*k*k:
		return pg.decimal(float64(n)/(k*k*k)) + " GiB"
	case n >= k*k:
		return pg.decimal(float64(n)/(k*k)) + " MiB"
	case n >= k:
		return pg.decimal(float64(n)/k) + " KiB"
	}
	return pg.Num(n) + " B"
}

func (pg *page) decimal(f float64) string {
	s := strconv.FormatFloat(f, 'f', 1, 64)
	if pg.Lang == "sv" {
		s = strings.Replace(s, ".", ",", 1)
	}
	return s
}

// Personnummer formats a Swedish personal identity number the Swedish way
// (YYYYMMDD-NNNN) whatever was typed; anything else is shown as it is.
func (pg *page) Personnummer(s string) string { return formatPersonnummer(s) }

func formatPersonnummer(s string) string {
	digits := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
	if len(digits) != 12 || len(s) > 14 {
		return s
	}
	return digits[:8] + "-" + digits[8:]
}
