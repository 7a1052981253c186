package app

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"

	"github.com/valvhq/valv/internal/config"
)

// TestOIDCLogin logs in through a real OpenID provider running in the test
// (zitadel's example OP, over TLS): authorisation code flow with PKCE, the
// identity mapped to an existing user by verified e-mail, never created.
func TestOIDCLogin(t *testing.T) {
	mux := http.NewServeMux()
	idp := httptest.NewUnstartedServer(mux)
	idp.StartTLS()
	defer idp.Close()
	issuer := idp.URL
	st := storage.NewStorage(storage.NewUserStore(issuer))
	mux.Handle("/", exampleop.SetupServer(issuer, st, slog.New(slog.DiscardHandler), false))

	ts := startServer(t, func(c *config.Config, o *Options) { o.HTTPClient = idp.Client() })
	storage.RegisterClients(storage.WebClient("valv-test-client", "valv-test-secret", ts.base+"/api/v1/auth/oidc/callback"))
	op := ts.operator()
	slug, owner := ts.tenantWithOwner(op, "SSO AB", "admin@sso.se")

	cfg := map[string]any{"issuer": issuer, "client_id": "valv-test-client", "client_secret": "valv-test-secret", "claim": "email", "satisfies_mfa": true, "enabled": true}
	owner.must(200, "PUT", "/api/v1/tenant/oidc", cfg)
	var got map[string]any
	owner.must(200, "GET", "/api/v1/tenant/oidc", nil).json(t, &got)
	if _, leaked := got["client_secret"]; leaked || got["issuer"] != issuer {
		t.Fatalf("oidc settings = %v", got)
	}
	// A provider that cannot be reached is refused at configuration time.
	bad := map[string]any{"issuer": "https://127.0.0.1:1", "client_id": "x", "client_secret": "y", "claim": "email", "enabled": true}
	if r := owner.do("PUT", "/api/v1/tenant/oidc", bad); r.code() != "oidc_discovery_failed" {
		t.Fatalf("unreachable issuer: %d %s", r.Status, r.Body)
	}

	// Without a matching user, the provider's login does not get in.
	browser := oidcBrowser(t, ts, idp)
	if status, _ := browser.login(slug); status != 403 {
		t.Fatalf("login with no matching user: %d", status)
	}
	// An admin adds the person (by the address the provider verifies).
	var inv struct {
		Account   struct{ ID string } `json:"account"`
		SetupLink string              `json:"setup_link"`
	}
	owner.must(201, "POST", "/api/v1/users", map[string]string{"email": "test-user@zitadel.ch", "role": "member"}).json(t, &inv)
	u := ts.client()
	u.must(200, "POST", "/api/v1/auth/setup", map[string]string{"token": tokenOf(t, inv.SetupLink), "password": testPassword})

	browser = oidcBrowser(t, ts, idp)
	status, loc := browser.login(slug)
	if status != 303 || loc != "/" {
		t.Fatalf("login = %d to %q", status, loc)
	}
	var me struct {
		Principal struct {
			ID  string
			MFA bool
		} `json:"principal"`
	}
	browser.valv.must(200, "GET", "/api/v1/auth/me", nil).json(t, &me)
	if me.Principal.ID != inv.Account.ID || !me.Principal.MFA {
		t.Fatalf("logged in as %+v, want %s with MFA", me.Principal, inv.Account.ID)
	}
	// A replayed callback (same state) does not log in again.
	if r := browser.valv.do("GET", browser.callback, nil); r.Status != 401 {
		t.Fatalf("replayed callback: %d", r.Status)
	}
}

// oidcBrowser follows the OIDC redirects like a browser would, trusting
// both Valv's and the provider's certificates.
type oidcFlow struct {
	t        *testing.T
	valv     *client
	http     *http.Client
	base     string
	callback string
}

func oidcBrowser(t *testing.T, ts *testServer, idp *httptest.Server) *oidcFlow {
	pem, _ := os.ReadFile(filepath.Join(ts.dir, "tls", "self-signed.crt"))
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	pool.AddCert(idp.Certificate())
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &oidcFlow{t: t, http: hc, base: ts.base, valv: &client{t: t, base: ts.base, http: hc}}
}

var authRequestID = regexp.MustCompile(`name="id" value="([^"]+)"`)

// login runs the whole flow and returns Valv's callback status and Location.
func (f *oidcFlow) login(slug string) (int, string) {
	f.t.Helper()
	get := func(u string) *http.Response {
		resp, err := f.http.Get(u)
		if err != nil {
			f.t.Fatal(err)
		}
		return resp
	}
	resp := get(f.base + "/api/v1/auth/oidc/" + slug + "/start")
	resp.Body.Close()
	if resp.StatusCode != 303 {
		f.t.Fatalf("start = %d", resp.StatusCode)
	}
	loc := resp.Header.Get("Location")
	// The provider sends the browser to its login page.
	for i := 0; i < 5 && !strings.Contains(loc, "/login/username"); i++ {
		resp = get(abs(loc, f.base))
		resp.Body.Close()
		loc = abs(resp.Header.Get("Location"), loc)
	}
	resp = get(loc)
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := authRequestID.FindSubmatch(page)
	if m == nil {
		f.t.Fatalf("no auth request id on the provider's login page")
	}
	u, _ := url.Parse(loc)
	form := url.Values{"username": {"test-user@" + u.Hostname()}, "password": {"verysecure"}, "id": {string(m[1])}}
	u.RawQuery = ""
	resp, err := f.http.PostForm(u.String(), form)
	if err != nil {
		f.t.Fatal(err)
	}
	resp.Body.Close()
	loc = abs(resp.Header.Get("Location"), u.String())
	// Follow the provider's redirects until it sends us back to Valv.
	for i := 0; i < 5 && !strings.HasPrefix(loc, f.base); i++ {
		resp = get(loc)
		resp.Body.Close()
		loc = abs(resp.Header.Get("Location"), loc)
	}
	f.callback = strings.TrimPrefix(loc, f.base)
	resp = get(loc)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Location")
}

func abs(ref, base string) string {
	b, _ := url.Parse(base)
	r, _ := url.Parse(ref)
	return b.ResolveReference(r).String()
}
