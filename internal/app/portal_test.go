package app

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"
	"github.com/valvhq/valv/internal/valvtest"
)

// browser is one headless Chromium with its own cookies, watching for
// Content-Security-Policy violations and script errors on every page.
type browser struct {
	t    *testing.T
	ts   *testServer
	ctx  context.Context
	mu   sync.Mutex
	bad  []string // CSP violations and uncaught script errors
	name string
}

func newBrowser(t *testing.T, ts *testServer, alloc context.Context, name string) *browser {
	t.Helper()
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(cancel)
	b := &browser{t: t, ts: ts, ctx: ctx, name: name}
	if err := chromedp.Listen(ctx, b.watch); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	b.call(cdplog.Enable)
	b.call(runtime.Enable)
	b.setLanguage("sv")
	return b
}

// watch notes CSP violations (Chrome logs them with the security source)
// and uncaught script errors. It runs in the browser's event loop: quick.
func (b *browser) watch(ev any) {
	switch e := ev.(type) {
	case *cdplog.EventEntryAdded:
		b.entry(e.Entry)
	case cdplog.EventEntryAdded:
		b.entry(e.Entry)
	case *runtime.EventExceptionThrown:
		b.exception(e.ExceptionDetails)
	case runtime.EventExceptionThrown:
		b.exception(e.ExceptionDetails)
	}
}

func (b *browser) entry(e *cdplog.Entry) {
	if e != nil && (e.Source == cdplog.EntrySourceSecurity || strings.Contains(e.Text, "Content Security Policy")) {
		b.record("CSP: " + e.Text)
	}
}

func (b *browser) exception(d *runtime.ExceptionDetails) {
	if d == nil {
		return
	}
	what := d.Text
	if d.Exception != nil {
		what += " " + d.Exception.Description
	}
	b.record("script error: " + what)
}

func (b *browser) record(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.bad = append(b.bad, s)
}

// problems returns and forgets what went wrong on the pages so far.
func (b *browser) problems() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	p := b.bad
	b.bad = nil
	return p
}

func (b *browser) call(cmd cdp.Command[cdp.Empty, cdp.Empty]) {
	b.t.Helper()
	if _, err := chromedp.Call(b.ctx, cmd, cdp.Empty{}); err != nil {
		b.t.Fatalf("%s: %v", b.name, err)
	}
}

// stepTimeout bounds each step, so a page that never comes fails the
// test instead of hanging it.
const stepTimeout = 30 * time.Second

func (b *browser) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		c, cancel := context.WithTimeout(b.ctx, 2*time.Second)
		defer cancel()
		page, _ := chromedp.Run(c, chromedp.Evaluate[string](`document.documentElement.outerHTML.slice(0, 3000)`))
		b.t.Fatalf("%s on %s: %v\n%s", b.name, b.location(), err, page)
	}
}

// submit runs steps that end in a navigation (a form sent, a link
// followed) and waits until the new page has loaded.
func (b *browser) submit(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	eval[bool](b, "window.valvOldPage = true")
	b.do(steps...)
	b.waitFor(`window.valvOldPage === undefined && document.readyState === "complete"`)
}

// waitFor waits until a script expression is true (a page that a script
// navigates to, a result shown by a script), across navigations.
func (b *browser) waitFor(expr string) {
	b.t.Helper()
	deadline := time.Now().Add(stepTimeout)
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		cancel()
		if err == nil && ok {
			break
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("%s on %s: waiting for %s: %v", b.name, b.location(), expr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.do(chromedp.WaitVisible(chromedp.CSS("h1")))
}

func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("%s: %s: %v", b.name, expr, err)
	}
	return v
}

// open loads a page and waits for its heading.
func (b *browser) open(path string) {
	b.t.Helper()
	b.do(chromedp.Navigate(b.ts.base+path), chromedp.WaitVisible(chromedp.CSS("h1")))
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("%s: text of %s on %s: %v", b.name, sel, b.location(), err)
	}
	return strings.TrimSpace(s)
}

func (b *browser) location() string {
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	return loc
}

func (b *browser) path() string {
	b.t.Helper()
	u, err := url.Parse(b.location())
	if err != nil {
		b.t.Fatal(err)
	}
	return u.Path
}

// setLanguage chooses the portal's language as the switcher would.
func (b *browser) setLanguage(lang string) {
	b.t.Helper()
	u, _ := url.Parse(b.ts.base)
	yes := true
	if _, err := chromedp.Call(b.ctx, network.SetCookie, network.SetCookieParams{Name: "valv_lang", Value: lang, Domain: u.Hostname(),
		Path: "/", Secure: &yes, HTTPOnly: &yes}); err != nil {
		b.t.Fatal(err)
	}
}

// login logs in with a password; the second step, if any, is left to the
// caller.
func (b *browser) login(tenant, email string) {
	b.t.Helper()
	b.open("/login")
	if tenant != "" {
		b.do(chromedp.SendKeys(chromedp.ID("tenant"), tenant))
	}
	b.do(chromedp.SendKeys(chromedp.ID("email"), email), chromedp.SendKeys(chromedp.ID("password"), testPassword))
	b.submit(chromedp.Click(chromedp.CSS("main form button[type=submit]")))
}

var missingLabel = regexp.MustCompile(`\[[a-z0-9_]+\.[a-z0-9_.]+\]`)

// check fails on CSP violations, script errors and labels without a
// translation on the page loaded last.
func (b *browser) check(what string) {
	b.t.Helper()
	// Reports arrive asynchronously; give them a moment.
	time.Sleep(150 * time.Millisecond)
	for _, p := range b.problems() {
		b.t.Errorf("%s: %s", what, p)
	}
	if m := missingLabel.FindString(b.text("body")); m != "" {
		b.t.Errorf("%s: untranslated label %s", what, m)
	}
}

// screenshot saves the page for the CI artifact (and for people to look
// at): VALV_SCREENSHOT_DIR, else artifacts/screenshots in the repository.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	dir := os.Getenv("VALV_SCREENSHOT_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "artifacts", "screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// visit opens each page in both languages, checks it and saves a
// screenshot.
func (b *browser) visit(prefix string, pages map[string]string) {
	b.t.Helper()
	for _, lang := range []string{"sv", "en"} {
		b.setLanguage(lang)
		for name, path := range pages {
			b.open(path)
			if got := b.path(); got != strings.Split(path, "?")[0] {
				b.t.Errorf("%s (%s) ended on %s", path, lang, got)
			}
			if got := eval[string](b, "document.documentElement.lang"); got != lang {
				b.t.Errorf("%s: lang %q, want %q", path, got, lang)
			}
			b.check(path + " (" + lang + ")")
			b.screenshot(prefix + "-" + name + "-" + lang)
		}
	}
	b.setLanguage("sv")
}

// TestPortal drives the portal and the console in headless Chromium: the
// three second factors, documents, roles, privacy settings, a register
// extract, an operator approving access, idle logout, screenshots of
// every main page in both languages, no CSP violation anywhere (UI-1).
func TestPortal(t *testing.T) {
	alloc := valvtest.Browser(t)
	ts := startServer(t, withClamd(t))
	op := ts.operator()
	slug, owner := ts.tenantWithOwner(op, "Exempel AB", "anna@exempel.se")
	var tenantInfo struct{ ID string }
	owner.must(200, "GET", "/api/v1/tenant", nil).json(t, &tenantInfo)

	// The owner uses an authenticator app.
	var enrol struct {
		Secret string `json:"secret"`
	}
	owner.must(200, "POST", "/api/v1/auth/totp", nil).json(t, &enrol)
	code, _ := totp.GenerateCode(enrol.Secret, ts.clock.Now())
	owner.must(200, "POST", "/api/v1/auth/totp/confirm", map[string]string{"code": code})
	// A member.
	var inv struct {
		Account   struct{ ID string } `json:"account"`
		SetupLink string              `json:"setup_link"`
	}
	owner.must(201, "POST", "/api/v1/users", map[string]string{"email": "bo@exempel.se", "role": "member"}).json(t, &inv)
	memberID := inv.Account.ID
	ts.client().must(200, "POST", "/api/v1/auth/setup", map[string]string{"token": tokenOf(t, inv.SetupLink), "password": testPassword})

	ob := newBrowser(t, ts, alloc, "owner")
	t.Run("password and TOTP", func(t *testing.T) {
		ob.t = t
		ob.login(slug, "anna@exempel.se")
		if h := ob.text("h1"); h != "Tvåstegsverifiering" {
			t.Fatalf("after the password: %q", h)
		}
		ts.clock.Advance(30 * time.Second) // a fresh TOTP step
		code, _ := totp.GenerateCode(enrol.Secret, ts.clock.Now())
		ob.do(chromedp.SendKeys(chromedp.ID("totp"), code))
		ob.submit(chromedp.Submit(chromedp.ID("totp")))
		if h, p := ob.text("h1"), ob.path(); h != "Översikt" || p != "/" {
			t.Fatalf("after TOTP: %q on %s", h, p)
		}
		ob.check("login")
	})

	var docID string
	t.Run("upload and find by personnummer", func(t *testing.T) {
		ob.t = t
		ob.open("/documents")
		file := filepath.Join(t.TempDir(), "avtal.pdf")
		if err := os.WriteFile(file, []byte("%PDF-1.4\n% ett avtal\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		ob.do(
			chromedp.SendKeys(chromedp.ID("type"), "avtal"),
			chromedp.SendKeys(chromedp.ID("usubject"), "19121212-1212"),
			chromedp.SendKeys(chromedp.ID("title"), "Hyresavtal"),
			chromedp.SetUploadFiles(chromedp.ID("file"), []string{file}),
		)
		// The upload goes by script, with a progress bar; the script
		// follows the answer's redirect.
		ob.do(chromedp.Click(chromedp.CSS("#upload button[type=submit]")))
		ob.waitFor(`location.pathname.startsWith("/documents/") && document.querySelector(".subject") !== null`)
		p := ob.path()
		if !strings.HasPrefix(p, "/documents/") || ob.text(".subject") != "19121212-1212" || ob.text(".notice") != "Dokumentet är sparat." {
			t.Fatalf("after the upload: %s %q", p, ob.text("main"))
		}
		docID = strings.TrimPrefix(p, "/documents/")
		ob.check("upload")
		// Found by the number, written another way.
		ob.open("/documents")
		ob.do(chromedp.SendKeys(chromedp.ID("subject"), "191212121212"))
		ob.submit(chromedp.Submit(chromedp.ID("subject")))
		links := eval[[]string](ob, `[...document.querySelectorAll("main table tbody a")].map(a => a.getAttribute("href"))`)
		if len(links) != 1 || links[0] != "/documents/"+docID {
			t.Fatalf("search found %v", links)
		}
		if strings.Contains(ob.location(), "1212") {
			t.Fatalf("the personnummer is in the URL: %s", ob.location())
		}
		// Another number finds nothing.
		ob.open("/documents")
		ob.do(chromedp.SendKeys(chromedp.ID("subject"), "19900101-0017"))
		ob.submit(chromedp.Submit(chromedp.ID("subject")))
		if n := ob.text("main section.card p"); n != "Inga dokument matchar." {
			t.Fatalf("other number: %q", n)
		}
	})

	t.Run("change a user's role", func(t *testing.T) {
		ob.t = t
		ob.open("/users")
		ob.do(chromedp.SetValue(chromedp.ID("role-"+memberID), "auditor"))
		ob.submit(chromedp.Click(chromedp.CSS(`form[action="/users/` + memberID + `"] button`)))
		var u struct{ Role string }
		owner.must(200, "GET", "/api/v1/users/"+memberID, nil).json(t, &u)
		if u.Role != "auditor" || ob.text(".notice") == "" {
			t.Fatalf("role = %q", u.Role)
		}
		ob.check("users")
	})

	t.Run("payload history off", func(t *testing.T) {
		ob.t = t
		ob.open("/settings")
		ob.do(chromedp.Click(chromedp.ID("payload_history")))
		ob.submit(chromedp.Submit(chromedp.ID("payload_history")))
		var s struct {
			PayloadHistory bool `json:"payload_history"`
		}
		owner.must(200, "GET", "/api/v1/tenant/settings", nil).json(t, &s)
		if s.PayloadHistory {
			t.Fatal("payload history is still on")
		}
		if eval[bool](ob, `document.getElementById("payload_history").checked`) {
			t.Fatal("the form still shows it on")
		}
	})

	var requestPath string
	t.Run("register extract as PDF", func(t *testing.T) {
		ob.t = t
		ob.open("/gdpr")
		ob.do(chromedp.SetValue(chromedp.ID("kind"), "access"), chromedp.SendKeys(chromedp.ID("personnummer"), "19121212-1212"))
		ob.submit(chromedp.Submit(chromedp.ID("personnummer")))
		requestPath = ob.path()
		deadline := time.Now().Add(30 * time.Second)
		for eval[int](ob, `document.querySelectorAll("#extract-pdf").length`) != 1 {
			if time.Now().After(deadline) {
				t.Fatalf("the extract did not complete: %q", ob.text("main"))
			}
			time.Sleep(300 * time.Millisecond)
			ob.open(requestPath)
		}
		// Download it as the link would, in the page (with its cookie).
		type download struct {
			Status int    `json:"status"`
			Type   string `json:"type"`
			Magic  string `json:"magic"`
		}
		got := eval[download](ob, `(async () => {
			const r = await fetch(document.getElementById("extract-pdf").href);
			const b = new Uint8Array(await r.arrayBuffer());
			return {status: r.status, type: r.headers.get("content-type"), magic: String.fromCharCode(...b.slice(0, 5))};
		})()`)
		if got.Status != 200 || got.Type != "application/pdf" || got.Magic != "%PDF-" {
			t.Fatalf("extract download: %+v", got)
		}
		ob.check("gdpr")
	})

	t.Run("passkey", func(t *testing.T) {
		ob.t = t
		if _, err := chromedp.Call(ob.ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
			t.Fatal(err)
		}
		if _, err := chromedp.Call(ob.ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{Options: &webauthn.VirtualAuthenticatorOptions{
			Protocol: webauthn.AuthenticatorProtocolCtap2, Transport: webauthn.AuthenticatorTransportInternal, HasResidentKey: true,
			HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true}}); err != nil {
			t.Fatal(err)
		}
		ob.open("/account")
		ob.do(chromedp.WaitVisible(chromedp.ID("add-passkey")), chromedp.Click(chromedp.ID("add-passkey")))
		ob.waitFor(`document.getElementById("passkey-list") !== null || !document.getElementById("passkey-error").hidden`)
		if eval[bool](ob, `document.getElementById("passkey-list") === null`) {
			t.Fatal("registering the passkey failed")
		}
		ob.check("passkey registration")
		// Log out, and in again with the password and the passkey.
		ob.submit(chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)))
		ob.login(slug, "anna@exempel.se")
		ob.do(chromedp.WaitVisible(chromedp.ID("use-passkey")), chromedp.Click(chromedp.ID("use-passkey")))
		ob.waitFor(`location.pathname === "/" || !document.getElementById("passkey-error").hidden`)
		if h := ob.text("h1"); h != "Översikt" {
			t.Fatalf("after the passkey: %q on %s", h, ob.path())
		}
		ob.check("passkey login")
	})

	t.Run("tenant pages in both languages", func(t *testing.T) {
		ob.t = t
		ob.visit("tenant", map[string]string{"overview": "/", "documents": "/documents", "document": "/documents/" + docID, "users": "/users",
			"keys": "/keys", "settings": "/settings", "audit": "/audit", "gdpr": "/gdpr", "extract": requestPath, "messages": "/messages",
			"account": "/account"})
	})

	// An operator asks for access; the security operator approves it in
	// the console, logging in with an e-mailed code.
	var req struct{ ID string }
	op.must(201, "POST", "/api/v1/operators", map[string]string{"email": "op2@valv.test", "role": "operator"}).json(t, &inv)
	ts.client().must(200, "POST", "/api/v1/auth/setup", map[string]string{"token": tokenOf(t, inv.SetupLink), "password": testPassword})
	op2 := ts.operatorLogin("op2@valv.test")
	op2.must(201, "POST", "/api/v1/access-requests", map[string]string{"tenant": tenantInfo.ID, "scope": "audit",
		"reason": "Ärende 4711: kunden undrar vem som ändrade en inställning", "duration": "30m"}).json(t, &req)

	sb := newBrowser(t, ts, alloc, "security operator")
	t.Run("operator with e-mailed code approves access", func(t *testing.T) {
		sb.t = t
		sb.login("", "ops@valv.test")
		sb.submit(chromedp.Click(chromedp.ID("send-email-code")))
		mail := ts.mail.Wait(t, "ops@valv.test", codePattern)
		code := codePattern.FindStringSubmatch(mail)[1]
		sb.do(chromedp.SendKeys(chromedp.ID("emailcode"), code))
		sb.submit(chromedp.Submit(chromedp.ID("emailcode")))
		if p := sb.path(); p != "/console" {
			t.Fatalf("after the code: %s (%q)", p, sb.text("main"))
		}
		sb.check("console")
		sb.open("/access-requests/" + req.ID)
		sb.do(chromedp.SendKeys(chromedp.ID("comment"), "Godkänt enligt ärendet"))
		sb.submit(chromedp.Click(chromedp.ID("approve")))
		if st := sb.text("#access-state"); st != "Aktiv" {
			t.Fatalf("state after approval: %q", st)
		}
		var v struct{ State string }
		op2.must(200, "GET", "/api/v1/access-requests/"+req.ID, nil).json(t, &v)
		if v.State != "active" {
			t.Fatalf("API state %q", v.State)
		}
		sb.visit("console", map[string]string{"status": "/console", "tenants": "/console/tenants", "access": "/access-requests",
			"request": "/access-requests/" + req.ID, "account": "/account"})
	})

	t.Run("public pages", func(t *testing.T) {
		pb := newBrowser(t, ts, alloc, "visitor")
		pb.visit("public", map[string]string{"login": "/login", "forgot": "/forgot-password", "setup": "/setup", "reset": "/reset-password"})
	})

	t.Run("idle session is logged out", func(t *testing.T) {
		ob.t = t
		ob.open("/documents")
		// The tenant's idle timeout is 2 h by default.
		ts.clock.Advance(2*time.Hour + time.Minute)
		ob.open("/documents")
		if p, h := ob.path(), ob.text("h1"); p != "/login" || h != "Logga in" {
			t.Fatalf("after idling: %q on %s", h, p)
		}
		if next := eval[string](ob, `document.querySelector('input[name="next"]').value`); next != "/documents" {
			t.Fatalf("next = %q", next)
		}
	})

	t.Run("the CSP detector works", func(t *testing.T) {
		// A page that breaks the policy must be noticed, or the checks
		// above prove nothing.
		pb := newBrowser(t, ts, alloc, "detector")
		pb.open("/login")
		eval[bool](pb, `(() => { const s = document.createElement("script"); s.textContent = "window.x = 1"; document.body.appendChild(s); return true; })()`)
		time.Sleep(300 * time.Millisecond)
		if len(pb.problems()) == 0 {
			t.Fatal("an inline script ran without a CSP violation being seen")
		}
	})
}
