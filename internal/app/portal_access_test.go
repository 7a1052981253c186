package app

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/valvhq/valv/internal/server"
)

// form sends a portal form the way a browser on the site does
// (Sec-Fetch-Site: same-origin), or from another site.
func (c *client) form(path string, v url.Values, site string) response {
	c.t.Helper()
	req, err := http.NewRequest("POST", c.base+path, strings.NewReader(v.Encode()))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", site)
	if site == "cross-site" {
		req.Header.Set("Origin", "https://evil.example")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return response{Status: resp.StatusCode, Body: body, Header: resp.Header}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrfOf reads the form token from a portal page.
func (c *client) csrfOf(path string) string {
	c.t.Helper()
	m := csrfField.FindSubmatch(c.must(200, "GET", path, nil).Body)
	if m == nil {
		c.t.Fatalf("no form token on %s", path)
	}
	return string(m[1])
}

// TestPortalAccess: pages are refused by the server to those the menu
// hides them from, forms need the session's token and this site, and a
// tenant's pages never show another tenant's data (UI-1, AZ-1, GRD-3).
func TestPortalAccess(t *testing.T) {
	ts := startServer(t)
	op := ts.operator()
	slugA, ownerA := ts.tenantWithOwner(op, "Alfa AB", "owner@alfa.se")
	_, ownerB := ts.tenantWithOwner(op, "Beta AB", "owner@beta.se")
	var inv struct {
		Account   struct{ ID string } `json:"account"`
		SetupLink string              `json:"setup_link"`
	}
	ownerA.must(201, "POST", "/api/v1/users", map[string]string{"email": "member@alfa.se", "role": "member"}).json(t, &inv)
	ts.client().must(200, "POST", "/api/v1/auth/setup", map[string]string{"token": tokenOf(t, inv.SetupLink), "password": testPassword})
	member := ts.login(slugA, "member@alfa.se")
	var doc struct{ ID string }
	ownerA.must(201, "POST", "/api/v1/documents", map[string]any{"type": "avtal", "subjects": []map[string]string{{"kind": "personnummer", "value": "19121212-1212"}}}).json(t, &doc)

	t.Run("every page needs a login", func(t *testing.T) {
		anon := ts.client()
		for _, rt := range portalRoutes(t, ts) {
			path := strings.NewReplacer("{id}", doc.ID, "{$}", "", "{file...}", "valv.css").Replace(rt.Pattern)
			public := map[string]bool{"/login": true, "/login/mfa": true, "/login/email-code": true, "/language": true, "/setup": true,
				"/forgot-password": true, "/reset-password": true}
			if rt.Class == server.ClassSystem || public[rt.Pattern] {
				continue
			}
			if rt.Method == "GET" {
				r := anon.do("GET", path, nil)
				if r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login?next=") {
					t.Errorf("GET %s anonymous = %d %s", path, r.Status, r.Header.Get("Location"))
				}
			} else if r := anon.form(path, url.Values{}, "same-origin"); r.Status != http.StatusUnauthorized {
				t.Errorf("POST %s anonymous = %d", path, r.Status)
			}
		}
	})

	t.Run("a member cannot reach admin pages by URL", func(t *testing.T) {
		body := string(member.must(200, "GET", "/", nil).Body)
		for _, hidden := range []string{`href="/users"`, `href="/keys"`, `href="/settings"`, `href="/audit"`} {
			if strings.Contains(body, hidden) {
				t.Errorf("the member's menu shows %s", hidden)
			}
		}
		for _, path := range []string{"/users", "/keys", "/settings", "/audit", "/reports", "/console", "/console/tenants"} {
			if r := member.do("GET", path, nil); r.Status != http.StatusForbidden {
				t.Errorf("member GET %s = %d", path, r.Status)
			}
		}
		tok := member.csrfOf("/documents")
		for path, v := range map[string]url.Values{
			"/users":                   {"email": {"x@alfa.se"}, "role": {"owner"}},
			"/users/" + inv.Account.ID: {"role": {"owner"}},
			"/settings":                {"payload_history": {""}},
			"/keys":                    {"name": {"k"}, "scope": {"documents:read"}},
			"/console/tenants":         {"name": {"Evil AB"}},
		} {
			v.Set("csrf", tok)
			if r := member.form(path, v, "same-origin"); r.Status != http.StatusForbidden {
				t.Errorf("member POST %s = %d", path, r.Status)
			}
		}
		var u struct{ Role string }
		ownerA.must(200, "GET", "/api/v1/users/"+inv.Account.ID, nil).json(t, &u)
		if u.Role != "member" {
			t.Fatalf("the member made themselves %s", u.Role)
		}
		// Operators do not get tenant pages, tenants not the console.
		if r := op.do("GET", "/documents", nil); r.Status != http.StatusForbidden {
			t.Errorf("operator GET /documents = %d", r.Status)
		}
		if r := ownerA.do("GET", "/console", nil); r.Status != http.StatusForbidden {
			t.Errorf("owner GET /console = %d", r.Status)
		}
	})

	t.Run("the measures report, the region and the environment banner", func(t *testing.T) {
		body := string(ownerA.must(200, "GET", "/reports", nil).Body)
		if !strings.Contains(body, `href="/api/v1/reports/measures?format=zip&amp;lang=sv"`) || !strings.Contains(body, `class="env-banner"`) {
			t.Errorf("the reports page lacks the download or the test banner:\n%s", body)
		}
		z := ownerA.must(200, "GET", "/api/v1/reports/measures?format=zip&lang=sv", nil)
		if z.Header.Get("Content-Type") != "application/zip" {
			t.Errorf("the download is %s", z.Header.Get("Content-Type"))
		}
		v := url.Values{"csrf": {ownerA.csrfOf("/settings")}, "region": {"se"}, "language": {"sv"}, "idle_minutes": {"120"}, "audit_retention_days": {"365"}, "payload_history": {"on"}}
		ownerA.form("/settings", v, "same-origin")
		var st struct{ Region string }
		ownerA.must(200, "GET", "/api/v1/tenant/settings", nil).json(t, &st)
		if st.Region != "se" {
			t.Errorf("the owner's region choice was not kept: %q", st.Region)
		}
		if strings.Contains(string(op.must(200, "GET", "/console", nil).Body), "console.doctor") {
			t.Error("the console shows an untranslated label")
		}
	})

	t.Run("another tenant's data is not shown", func(t *testing.T) {
		if r := ownerB.do("GET", "/documents/"+doc.ID, nil); r.Status != http.StatusNotFound || strings.Contains(string(r.Body), "19121212") {
			t.Errorf("tenant B GET A's document = %d", r.Status)
		}
		search := url.Values{"csrf": {ownerB.csrfOf("/documents")}, "subject": {"19121212-1212"}}
		if r := ownerB.form("/documents/search", search, "same-origin"); r.Status != http.StatusOK || strings.Contains(string(r.Body), doc.ID) {
			t.Errorf("tenant B's search = %d, shows A's document: %v", r.Status, strings.Contains(string(r.Body), doc.ID))
		}
		search.Set("csrf", ownerA.csrfOf("/documents"))
		if r := ownerA.form("/documents/search", search, "same-origin"); !strings.Contains(string(r.Body), doc.ID) {
			t.Errorf("tenant A's own search does not find the document: %d", r.Status)
		}
	})

	t.Run("CSRF", func(t *testing.T) {
		tok := ownerA.csrfOf("/settings")
		off := url.Values{"csrf": {tok}, "idle_minutes": {"60"}}
		// Without the token, with another session's token, from another
		// site: refused, and nothing changes.
		other := ownerB.csrfOf("/settings")
		for name, r := range map[string]response{
			"no token":      ownerA.form("/settings", url.Values{"idle_minutes": {"60"}}, "same-origin"),
			"foreign token": ownerA.form("/settings", url.Values{"csrf": {other}, "idle_minutes": {"60"}}, "same-origin"),
			"cross-site":    ownerA.form("/settings", off, "cross-site"),
		} {
			if r.Status != http.StatusForbidden {
				t.Errorf("%s: %d", name, r.Status)
			}
		}
		var s struct {
			PayloadHistory bool   `json:"payload_history"`
			IdleTimeout    string `json:"idle_timeout"`
		}
		ownerA.must(200, "GET", "/api/v1/tenant/settings", nil).json(t, &s)
		if !s.PayloadHistory || s.IdleTimeout != "2h0m0s" {
			t.Fatalf("a refused form changed the settings: %+v", s)
		}
		if r := ownerA.form("/settings", off, "same-origin"); r.Status != http.StatusSeeOther {
			t.Fatalf("the page's own form: %d %s", r.Status, r.Body)
		}
		ownerA.must(200, "GET", "/api/v1/tenant/settings", nil).json(t, &s)
		if s.PayloadHistory || s.IdleTimeout != "1h0m0s" {
			t.Fatalf("settings after the form: %+v", s)
		}
	})

	t.Run("headers", func(t *testing.T) {
		r := ownerA.must(200, "GET", "/documents", nil)
		if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("CSP %q", csp)
		}
		if r.Header.Get("Cache-Control") != "no-store" || r.Header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("headers %v", r.Header)
		}
		if strings.Contains(string(r.Body), "<script>") || strings.Contains(string(r.Body), " style=") || strings.Contains(string(r.Body), " on") && regexp.MustCompile(` on[a-z]+=`).Match(r.Body) {
			t.Error("a page has inline script or style")
		}
	})
}

// portalRoutes are the portal's routes as the server serves them.
func portalRoutes(t *testing.T, ts *testServer) []server.Route {
	t.Helper()
	all, err := ts.app.Routes()
	if err != nil {
		t.Fatal(err)
	}
	var out []server.Route
	for _, r := range all {
		if !strings.HasPrefix(r.Pattern, "/api/") {
			out = append(out, r)
		}
	}
	if len(out) < 30 {
		t.Fatalf("only %d portal routes", len(out))
	}
	return out
}
