package web

import (
	"io/fs"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/valvhq/valv/internal/access"
	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/doctor"
	"github.com/valvhq/valv/internal/document"
	"github.com/valvhq/valv/internal/gdpr"
	"github.com/valvhq/valv/internal/message"
	"github.com/valvhq/valv/internal/region"
	"github.com/valvhq/valv/internal/tenant"
)

// keysIn finds the message keys a text uses literally.
func keysIn(t *testing.T, re *regexp.Regexp, text string) []string {
	t.Helper()
	var keys []string
	for _, m := range re.FindAllStringSubmatch(text, -1) {
		keys = append(keys, m[1])
	}
	return keys
}

// TestEveryLabelTranslated fails on a label a page or the code uses that has
// no Swedish or no English text (UI-1).
func TestEveryLabelTranslated(t *testing.T) {
	for k, m := range catalog {
		if strings.TrimSpace(m.sv) == "" || strings.TrimSpace(m.en) == "" {
			t.Errorf("label %q lacks a language: sv=%q en=%q", k, m.sv, m.en)
		}
	}
	used := map[string]string{}
	tpl := regexp.MustCompile(`\.T "([a-z0-9_.]+)"`)
	err := fs.WalkDir(files, "templates", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(files, path)
		for _, k := range keysIn(t, tpl, string(b)) {
			used[k] = path
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	code := regexp.MustCompile(`(?:Title|Notice|Intro|Label|pg\.Title, pg\.Error)\s*[:=]\s*"([a-z0-9_.]+)"|back\([^)]*"([a-z0-9_]+\.[a-z0-9_.]+)"\)|pg\.T\("([a-z0-9_.]+)"\)|chart\(pg, "([a-z0-9_.]+)"`)
	goFiles, _ := fs.Glob(os.DirFS("."), "*.go")
	for _, f := range goFiles {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range code.FindAllStringSubmatch(string(b), -1) {
			for _, k := range m[1:] {
				if k != "" {
					used[k] = f
				}
			}
		}
	}
	// Labels built from values: every value the pages can meet.
	dynamic := map[string][]string{
		"role.":           append(roleNames(authz.TenantRoles), roleNames(authz.OperatorRoles)...),
		"archive.":        {document.ArchiveStandard, document.ArchiveLegal, document.ArchiveMessage},
		"status.":         {"active", "invited", "disabled", "suspended"},
		"outcome.":        {"success", "denied", "failed", "error"},
		"subject.":        {"personnummer", "samordningsnummer", "organisationsnummer", "email", "phone", "bankgiro", "plusgiro"},
		"gdpr.kind.":      requestKinds,
		"gdpr.status.":    {"open", "queued", "running", "retrying", "completed", "failed"},
		"access.state.":   {"pending", "awaiting_consent", "active", "denied", "refused", "revoked", "expired", "lapsed"},
		"access.step.":    {"pending", "approved", "denied", "break_glass", "revoked"},
		"access.consent.": {"not_required", "pending", "given", "refused"},
		"console.kind.":   {"block", "allow"},
		"messages.":       {"inbox", "outbox"},
	}
	for prefix, values := range dynamic {
		for _, v := range values {
			used[prefix+v] = "dynamic"
		}
	}
	if len(used) < 200 {
		t.Fatalf("found only %d labels in use: the scan is broken", len(used))
	}
	for k, where := range used {
		if _, ok := catalog[k]; !ok {
			t.Errorf("label %q (used in %s) has no translation", k, where)
		}
	}
}

func roleNames(rs []authz.Role) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r)
	}
	return out
}

func TestTemplatesParse(t *testing.T) {
	w, err := New(Deps{})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"login", "mfa", "setup", "forgot", "error", "home", "documents", "document", "users", "keys",
		"settings", "audit", "messages", "message", "account", "gdpr", "gdpr_request", "console", "tenants", "access", "access_request"} {
		if w.pages[name] == nil {
			t.Errorf("page %s missing", name)
		}
	}
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"":                       "/",
		"/documents?type=x":      "/documents?type=x",
		"https://evil.example/":  "/",
		"//evil.example/":        "/",
		"/\\evil.example":        "/",
		"documents":              "/",
		"/ok\r\nSet-Cookie: x=y": "/",
		"javascript:alert(1)":    "/",
		"/\t/evil.example":       "/",
		"/\t\\evil.example":      "/",
		"/a\x7f":                 "/",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/", "//x", "/\\x", "https://x", "/a?b=c", "/%2F%2Fx"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := safeNext(s)
		if !strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") || strings.ContainsAny(got, "\\\r\n\t\x7f") {
			t.Fatalf("safeNext(%q) = %q leaves the site", s, got)
		}
	})
}

func TestFormatting(t *testing.T) {
	for _, c := range []struct {
		n    int64
		lang string
		want string
	}{{0, "sv", "0"}, {999, "en", "999"}, {1234, "sv", "1\u00a0234"}, {1234567, "en", "1,234,567"}, {-1234, "sv", "-1\u00a0234"}} {
		if got := groupDigits(c.n, c.lang); got != c.want {
			t.Errorf("groupDigits(%d, %s) = %q, want %q", c.n, c.lang, got, c.want)
		}
	}
	for in, want := range map[string]string{"191212121212": "19121212-1212", "19121212-1212": "19121212-1212", "1212121212": "1212121212", "x@y.se": "x@y.se"} {
		if got := formatPersonnummer(in); got != want {
			t.Errorf("formatPersonnummer(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLanguage(t *testing.T) {
	for _, c := range []struct{ cookie, accept, want string }{
		{"", "", "sv"}, {"", "en-GB,en;q=0.9", "en"}, {"", "de-DE, sv;q=0.8", "sv"}, {"en", "sv", "en"}, {"xx", "en", "en"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		if c.accept != "" {
			r.Header.Set("Accept-Language", c.accept)
		}
		if c.cookie != "" {
			r.Header.Set("Cookie", langCookie+"="+c.cookie)
		}
		if got := language(r); got != c.want {
			t.Errorf("language(cookie %q, accept %q) = %s, want %s", c.cookie, c.accept, got, c.want)
		}
	}
}

func TestCSRFToken(t *testing.T) {
	a, b := csrfToken("session-a"), csrfToken("session-b")
	if a == "" || a == b || csrfToken("") != "" {
		t.Fatalf("tokens: %q %q", a, b)
	}
	if !sameCSRF(a, csrfToken("session-a")) || sameCSRF("", "") || sameCSRF(a, b) {
		t.Fatal("sameCSRF")
	}
}

// TestPagesRender renders every page in both languages with its data
// empty: a template that fails on a page the browser tests do not reach
// is found here.
func TestPagesRender(t *testing.T) {
	w, err := New(Deps{})
	if err != nil {
		t.Fatal(err)
	}
	data := map[string]any{
		"login": loginView{}, "mfa": mfaView{Methods: []string{"totp", "email", "passkey"}}, "setup": setupView{AskEmail: true},
		"forgot": nil, "error": map[string]any{"Status": 404, "RequestID": "r1"}, "home": homeView{Chart: monthlyChart(&page{Lang: "sv"}, time.Now(), nil)},
		"documents": documentsView{CanCreate: true, Items: []document.Summary{{ID: "d1", Archive: "standard"}}}, "document": documentView{},
		"users": usersView{Roles: roles}, "keys": keysView{New: "valv_x"}, "settings": settingsView{CanEdit: true, S: tenant.DefaultSettings(), Regions: region.Pins}, "reports": reportsView{Formats: []string{"zip", "pdf"}}, "audit": auditView{},
		"messages": messagesView{Box: "inbox"}, "message": message.Message{Box: "inbox"}, "account": accountView{},
		"gdpr": gdprView{Kinds: requestKinds}, "gdpr_request": gdpr.View{Kind: "access", Status: "completed"},
		"console": consoleView{S: ConsoleStatus{Doctor: &DoctorRun{Findings: []doctor.Finding{{Check: "x", Severity: "critical"}, {Check: "y", Severity: "warning"}, {Check: "z", Severity: "info"}}}}}, "tenants": tenantsView{}, "access": accessView{}, "access_request": accessRequestView{R: access.Request{State: "pending"}},
	}
	for name := range w.pages {
		d, ok := data[name]
		if !ok {
			t.Errorf("page %s has no test data", name)
			continue
		}
		for _, lang := range []string{"sv", "en"} {
			for _, p := range []authz.Principal{{Kind: authz.User, TenantID: "t", Role: authz.Owner}, {Kind: authz.Operator, Role: authz.RoleSecurity}} {
				r := httptest.NewRequest("GET", "/x", nil)
				pg := &page{Lang: lang, Title: "home.title", P: p, Data: d, r: r, zone: stockholm, now: time.Now(), Environment: "test"}
				rec := httptest.NewRecorder()
				w.render(rec, 200, name, pg)
				if rec.Code != 200 {
					t.Errorf("page %s (%s, %s) failed: %s", name, lang, p.Kind, rec.Body)
				}
				if m := regexp.MustCompile(`\[[a-z0-9_]+\.[a-z0-9_.]+\]`).FindString(rec.Body.String()); m != "" {
					t.Errorf("page %s (%s): untranslated %s", name, lang, m)
				}
			}
		}
	}
}
