package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/valvhq/valv/internal/access"
	"github.com/valvhq/valv/internal/archive"
	"github.com/valvhq/valv/internal/audit"
	"github.com/valvhq/valv/internal/auth"
	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/call"
	"github.com/valvhq/valv/internal/doctor"
	"github.com/valvhq/valv/internal/document"
	"github.com/valvhq/valv/internal/gdpr"
	"github.com/valvhq/valv/internal/message"
	"github.com/valvhq/valv/internal/problem"
	"github.com/valvhq/valv/internal/server"
	"github.com/valvhq/valv/internal/tenant"
)

//go:embed templates static
var files embed.FS

// CSP is the portal's Content-Security-Policy: scripts, styles and images
// only from Valv itself, no inline script or style, forms only to Valv,
// never framed (GRD-3, UI-1).
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Console is what the operator console shows besides the services: key,
// job, backup and threat-protection state. The app provides it; each
// method authorizes the principal itself.
type Console interface {
	Status(ctx context.Context, p authz.Principal) (ConsoleStatus, error)
}

// ConsoleStatus is the state the console's front page shows.
type ConsoleStatus struct {
	Sealed       bool
	KeyProvider  string
	Jobs         []Job
	Backups      []Backup
	RestoreTests []RestoreTest
	Blocks       []Block
	// WAFBlocks are the attacks the WAF refused per day, oldest first.
	WAFBlocks []DayCount
	// Doctor is the last run of the doctor's checks (nil before the first).
	Doctor *DoctorRun
}

// DoctorRun is the doctor's last findings (EVD-2), worst first.
type DoctorRun struct {
	RanAt    time.Time
	Findings []doctor.Finding
}

// Job is one scheduled job's last run.
type Job struct {
	Name         string
	LastFinished time.Time
	LastStatus   string
	NextRun      time.Time
}

// Backup is one backup run.
type Backup struct {
	ID       string
	Finished time.Time
	Targets  string
	OK       bool
	Bytes    int64
}

// RestoreTest is one restore test.
type RestoreTest struct {
	Target   string
	Finished time.Time
	OK       bool
	Rows     int64
}

// Block is one blocked (or allowed) source.
type Block struct {
	Target  string
	Kind    string // block or allow
	Until   time.Time
	Reason  string
	Automat bool
}

// DayCount is a count on a day, for the charts.
type DayCount struct {
	Day   time.Time
	Count int64
}

// Deps are what the portal calls.
type Deps struct {
	Logger    *slog.Logger
	Auth      *auth.Service
	Tenants   *tenant.Service
	Trail     *audit.Trail
	Documents *document.Service
	Archive   *archive.Service
	GDPR      *gdpr.Service
	Messages  *message.Service
	Access    *access.Service
	Console   Console
	// CheckJSON runs the WAF over the document JSON built from an upload
	// form, whose multipart body the WAF passed on unread (nil: no WAF).
	CheckJSON func(r *http.Request, doc []byte) error
	// OperatorIdle is how long an operator's session lives without a
	// request (tenants set their own).
	OperatorIdle time.Duration
	// Environment is production, test or development; the others show a
	// banner on every page (ENV-1).
	Environment string
	Now         func() time.Time
}

// Web is the portal and the operator console.
type Web struct {
	d     Deps
	log   *slog.Logger
	pages map[string]*template.Template
	now   func() time.Time
}

// New parses the templates; it fails only on a broken template.
func New(d Deps) (*Web, error) {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	w := &Web{d: d, log: d.Logger, now: d.Now, pages: map[string]*template.Template{}}
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(files, "templates/layout.html", "templates/partials.html")
	if err != nil {
		return nil, fmt.Errorf("parse the portal layout: %w", err)
	}
	names, err := fs.Glob(files, "templates/pages/*.html")
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		t, err := template.Must(base.Clone()).ParseFS(files, n)
		if err != nil {
			return nil, fmt.Errorf("parse portal page %s: %w", n, err)
		}
		w.pages[strings.TrimSuffix(strings.TrimPrefix(n, "templates/pages/"), ".html")] = t
	}
	return w, nil
}

var funcs = template.FuncMap{
	"join": strings.Join,
	"add":  func(a, b int) int { return a + b },
	"list": func(s ...string) []string { return s },
	// dict passes several values to a shared template: pairs of a name
	// and a value.
	"dict": func(kv ...any) (map[string]any, error) {
		if len(kv)%2 != 0 {
			return nil, errors.New("dict: odd number of arguments")
		}
		m := make(map[string]any, len(kv)/2)
		for i := 0; i < len(kv); i += 2 {
			k, ok := kv[i].(string)
			if !ok {
				return nil, errors.New("dict: a name is not a string")
			}
			m[k] = kv[i+1]
		}
		return m, nil
	},
}

// handler serves one page or form; it returns an error to be shown as an
// error page.
type handler func(w http.ResponseWriter, r *http.Request, pg *page) error

// access says who may open a route.
type need int

const (
	public   need = iota // anyone
	loggedIn             // a tenant user or an operator
	user                 // a tenant user
	operator             // an operator
)

func (w *Web) route(method, pattern, action string, n need, h handler) server.Route {
	return server.Route{Method: method, Pattern: pattern, Action: action, Class: server.ClassWeb, Handler: w.serve(n, false, h)}
}

// uploadRoute is a form with a file: its multipart body is streamed by the
// handler (the file straight to the malware scanner and the sealed store,
// never to a temporary file), which checks the form token itself, first.
func (w *Web) uploadRoute(method, pattern, action string, n need, h handler) server.Route {
	rt := server.Route{Method: method, Pattern: pattern, Action: action, Class: server.ClassWeb, Handler: w.serve(n, true, h)}
	rt.RawBody = func(*http.Request) bool { return true }
	return rt
}

func isMultipart(r *http.Request) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return mt == "multipart/form-data"
}

// serve wraps a page handler: language, principal, login, CSRF and
// rendering of errors.
func (w *Web) serve(n need, upload bool, h handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		hd := rw.Header()
		hd.Set("Content-Security-Policy", CSP)
		hd.Set("Cache-Control", "no-store")
		pg := w.newPage(rw, r)
		switch {
		case n != public && pg.P.Kind == authz.Anonymous:
			if r.Method == http.MethodGet {
				q := url.Values{"next": {r.URL.RequestURI()}}
				http.Redirect(rw, r, "/login?"+q.Encode(), http.StatusSeeOther)
				return
			}
			w.fail(rw, r, pg, problem.New(problem.KindUnauthenticated, "login_required", "Log in first."))
			return
		case n == user && pg.P.Kind != authz.User, n == operator && pg.P.Kind != authz.Operator:
			w.fail(rw, r, pg, problem.Forbidden("forbidden", "This page is not for your account."))
			return
		}
		if r.Method == http.MethodPost {
			switch {
			case isMultipart(r) != upload:
				w.fail(rw, r, pg, problem.New(problem.KindUnsupportedMedia, "unsupported_media_type", "This form is sent differently. Reload the page and try again."))
				return
			case upload:
				// The handler checks the token: the first part of the form.
			default:
				if err := r.ParseForm(); err != nil {
					w.fail(rw, r, pg, formError(err))
					return
				}
				if pg.P.Kind != authz.Anonymous && !pg.validCSRF(r.PostForm.Get("csrf")) {
					w.fail(rw, r, pg, errCSRF)
					return
				}
			}
		}
		if err := h(rw, r, pg); err != nil {
			w.fail(rw, r, pg, err)
		}
	})
}

var errCSRF = problem.Forbidden("csrf_failed", "The form was not sent from this page. Reload it and try again.")

// formError turns a form that cannot be read into a problem.
func formError(err error) error {
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return problem.New(problem.KindTooLarge, "too_large", "The upload is too large.")
	}
	return problem.Invalid("invalid_form", "The form could not be read.")
}

// fail shows an error page with the status of the error.
func (w *Web) fail(rw http.ResponseWriter, r *http.Request, pg *page, err error) {
	p := problem.From(err)
	status := p.Kind.Status()
	if p.Kind == problem.KindInternal || p.Kind == problem.KindUnavailable {
		w.log.Error("portal request failed", "request_id", call.RequestID(r.Context()), "code", p.Code, "error", err)
	}
	if p.RetryAfter > 0 {
		rw.Header().Set("Retry-After", fmt.Sprint(p.RetryAfter))
	}
	pg.Title = "error.title"
	pg.Error = pg.problemText(p)
	pg.Data = map[string]any{"Status": status, "RequestID": call.RequestID(r.Context())}
	w.render(rw, status, "error", pg)
}

// render writes a page. The template runs into a buffer first, so a
// failing template is a clean 500, never half a page.
func (w *Web) render(rw http.ResponseWriter, status int, name string, pg *page) {
	t, ok := w.pages[name]
	if !ok {
		panic("web: no page " + name)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", pg); err != nil {
		w.log.Error("render portal page", "page", name, "error", err)
		http.Error(rw, "The page could not be shown.", http.StatusInternalServerError)
		return
	}
	rw.Header().Set("Content-Type", "text/html; charset=utf-8")
	rw.WriteHeader(status)
	_, _ = rw.Write(buf.Bytes())
}

// show renders a page with 200.
func (w *Web) show(rw http.ResponseWriter, name string, pg *page) error {
	w.render(rw, http.StatusOK, name, pg)
	return nil
}

// back redirects after a successful form (post/redirect/get), with a
// notice for the next page.
func back(rw http.ResponseWriter, r *http.Request, to, notice string) error {
	if notice != "" {
		http.SetCookie(rw, &http.Cookie{Name: noticeCookie, Value: notice, Path: "/", Secure: true, HttpOnly: true,
			SameSite: http.SameSiteStrictMode, MaxAge: 60})
	}
	http.Redirect(rw, r, to, http.StatusSeeOther)
	return nil
}

const (
	langCookie   = "valv_lang"
	noticeCookie = "valv_notice"
)

// csrfToken is the form token of a session: a hash of the session cookie,
// which pages on other sites cannot read. It is checked on every form a
// logged-in user sends, besides the server's cross-origin check and the
// SameSite=Strict cookie.
func csrfToken(session string) string {
	if session == "" {
		return ""
	}
	h := sha256.Sum256([]byte("valv-portal-csrf\x00" + session))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

func sessionOf(r *http.Request) string {
	c, err := r.Cookie(auth.CookieName)
	if err != nil {
		return ""
	}
	return c.Value
}

// Routes returns the portal's routes. The static assets are system routes:
// public files, neither authenticated nor audited.
func (w *Web) Routes() []server.Route {
	static, _ := fs.Sub(files, "static")
	assets := http.StripPrefix("/static/", assetHandler(http.FileServerFS(static)))
	rs := []server.Route{
		{Method: "GET", Pattern: "/static/{file...}", Handler: assets, Class: server.ClassSystem},
		{Method: "GET", Pattern: "/favicon.ico", Handler: http.RedirectHandler("/static/valv.svg", http.StatusMovedPermanently), Class: server.ClassSystem},
	}
	rs = append(rs, w.authRoutes()...)
	rs = append(rs, w.homeRoutes()...)
	rs = append(rs, w.documentRoutes()...)
	rs = append(rs, w.adminRoutes()...)
	rs = append(rs, w.gdprRoutes()...)
	rs = append(rs, w.consoleRoutes()...)
	rs = append(rs, w.route("GET", "/reports", "portal.reports", user, w.reports))
	return rs
}

// assetHandler caches the embedded assets briefly and never lists a
// directory.
func assetHandler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "" || strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(rw, r)
			return
		}
		rw.Header().Set("Cache-Control", "public, max-age=3600")
		next.ServeHTTP(rw, r)
	})
}

// sameCSRF compares tokens in constant time.
func sameCSRF(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
