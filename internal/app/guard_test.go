package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valvhq/valv/internal/audit"
	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/config"
)

// from returns a client whose requests come through a trusted proxy on
// behalf of addr (the harness's server trusts 127.0.0.1 as a proxy in
// these tests), so that limits and blocks see addr.
func (ts *testServer) from(addr string) *client {
	c := ts.client()
	c.header = http.Header{"X-Forwarded-For": {addr}}
	return c
}

// withGuard trusts the loopback proxy, allows only the harness's own
// direct clients and sets the address limit.
func withGuard(addressLimit int) serverOption {
	return func(c *config.Config, _ *Options) {
		c.HTTP.TrustedProxies = []string{"127.0.0.1/32"}
		c.Guard.Allow = []string{"127.0.0.1/32"} // the harness's own clients
		c.Guard.AddressLimit = addressLimit
		c.Guard.SyncInterval = 0 // exact across nodes
	}
}

var (
	sqlInjection = "/api/v1/documents?q=" + url.QueryEscape("x' UNION SELECT password FROM accounts--")
	xssBody      = map[string]any{"type": "invoice", "data": map[string]any{"note": `<script>alert(document.cookie)</script>`}}
)

// TestGuardBlocksAttacks: a SQL injection and an XSS probe against real
// routes get 403, are audited in the platform's chain, and reach the
// security operators as one summary mail (GRD-1).
func TestGuardBlocksAttacks(t *testing.T) {
	for _, eng := range engines {
		t.Run(eng.name, func(t *testing.T) {
			ts := startServer(t, eng.opt(t))
			op := ts.operator()
			_, owner := ts.tenantWithOwner(op, "Acme AB", "anna@acme.se")

			r := owner.do("GET", sqlInjection, nil)
			if r.Status != 403 || r.code() != "request_blocked" {
				t.Fatalf("SQL injection: %d %s", r.Status, r.Body)
			}
			sqlID := r.Header.Get("X-Request-Id")
			r = owner.do("POST", "/api/v1/documents", xssBody)
			if r.Status != 403 || r.code() != "request_blocked" {
				t.Fatalf("XSS: %d %s", r.Status, r.Body)
			}
			xssID := r.Header.Get("X-Request-Id")
			// The same document as the JSON part of a multipart upload: the
			// WAF passes upload bodies on unread, the handler has it checked.
			var buf bytes.Buffer
			mw := multipart.NewWriter(&buf)
			part, _ := mw.CreateFormField("document")
			_ = json.NewEncoder(part).Encode(xssBody)
			mw.Close()
			if r := owner.send("POST", "/api/v1/documents", &buf, mw.FormDataContentType(), nil); r.Status != 403 || r.code() != "request_blocked" {
				t.Fatalf("XSS in a multipart document part: %d %s", r.Status, r.Body)
			}
			// Ordinary business text with the same words passes.
			r = owner.do("POST", "/api/v1/documents", map[string]any{"type": "invoice", "data": map[string]any{
				"note": "Seán O'Brien-Öberg: select union plan; drop-in 14:00, script < 500 kr. OR 1 av 2 fakturor"}})
			if r.code() == "request_blocked" {
				t.Fatalf("legitimate text blocked: %s", r.Body)
			}

			for id, group := range map[string]string{sqlID: "942", xssID: "941"} {
				if id == "" {
					t.Fatal("no request id")
				}
				es := ts.auditEntries(audit.Filter{RequestID: id})
				if len(es) != 1 || es[0].Action != "guard.waf.block" || es[0].Outcome != audit.Denied || es[0].Status != 403 ||
					!strings.Contains(","+es[0].Details["rules"], ","+group) {
					t.Fatalf("audit of %s: %+v", id, es)
				}
			}

			sent, err := ts.app.SendGuardSummary(context.Background())
			if err != nil || !sent {
				t.Fatalf("summary: %v %v", sent, err)
			}
			text := ts.mail.Wait(t, "ops@valv.test", regexp.MustCompile(`(3 attacks blocked|3 attacker stoppade)`))
			if !regexp.MustCompile(`(Rule|Regel) 942\d\d\d`).MatchString(text) || !regexp.MustCompile(`(Rule|Regel) 941\d\d\d`).MatchString(text) {
				t.Fatalf("summary lacks the rules: %s", text)
			}
			if strings.Contains(text, "127.0.0.1") {
				t.Fatalf("summary names an address: %s", text)
			}
			// Batched: nothing new, nothing sent.
			if sent, err := ts.app.SendGuardSummary(context.Background()); err != nil || sent {
				t.Fatalf("second summary: %v %v", sent, err)
			}
		})
	}
}

// TestGuardLimitsAndBlocks: per-address and per-key rate limits, automatic
// blocks after WAF hits and failed logins that grow and expire, operators'
// blocks, allow list and network blocks — over real HTTP with the
// injected clock, and shared by two nodes on one PostgreSQL (GRD-2, AUTH-5).
func TestGuardLimitsAndBlocks(t *testing.T) {
	for _, eng := range engines {
		t.Run(eng.name, func(t *testing.T) {
			engine := eng.opt(t)
			ts := startServer(t, engine, withGuard(5), func(c *config.Config, _ *Options) { c.Guard.KeyLimit = 3 })
			ctx := context.Background()
			sec := authz.Principal{Kind: authz.Operator, ID: "cli:test", Role: authz.RoleSecurity}

			// Per address: five a minute; another address is not affected.
			a := ts.from("203.0.113.7")
			for i := range 5 {
				a.must(200, "GET", "/api/v1/sys/seal-status", nil)
				_ = i
			}
			r := a.do("GET", "/api/v1/sys/seal-status", nil)
			if r.Status != 429 || r.code() != "rate_limited" || r.Header.Get("Retry-After") == "" {
				t.Fatalf("sixth request: %d %v %s", r.Status, r.Header, r.Body)
			}
			ts.from("203.0.113.8").must(200, "GET", "/api/v1/sys/seal-status", nil)
			ts.clock.Advance(time.Minute)
			a.must(200, "GET", "/api/v1/sys/seal-status", nil)

			// Four WAF hits block a source for 15 minutes.
			b := ts.from("198.51.100.9")
			for range 4 {
				if r := b.do("GET", sqlInjection, nil); r.code() != "request_blocked" {
					t.Fatalf("probe: %d %s", r.Status, r.Body)
				}
			}
			r = b.do("GET", "/api/v1/sys/seal-status", nil)
			if r.Status != 403 || r.code() != "source_blocked" {
				t.Fatalf("blocked source: %d %s", r.Status, r.Body)
			}
			if ra, _ := strconv.Atoi(r.Header.Get("Retry-After")); ra < 14*60 || ra > 15*60 {
				t.Fatalf("Retry-After %q, want about 15 minutes", r.Header.Get("Retry-After"))
			}
			es := ts.auditEntries(audit.Filter{Action: "guard.block"})
			if len(es) != 1 || es[0].Details["reason"] != "waf" || es[0].Details["duration"] != "15m0s" {
				t.Fatalf("audit of the block: %+v", es)
			}
			// It expires; the next block is twice as long.
			ts.clock.Advance(16 * time.Minute)
			b.must(200, "GET", "/api/v1/sys/seal-status", nil)
			for range 4 {
				b.do("GET", sqlInjection, nil)
			}
			list, err := ts.app.GuardList(ctx, sec)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, e := range list {
				if e.Target == "198.51.100.9" {
					found = true
					if e.Count != 2 || e.Reason != "waf" || e.Until.Sub(ts.clock.Now()) != 30*time.Minute {
						t.Fatalf("second block: %+v", e)
					}
				}
			}
			if !found {
				t.Fatalf("block list lacks the source: %+v", list)
			}

			// Twenty failed authentications block a source too.
			c := ts.from("192.0.2.50")
			c.header.Set("Authorization", "Bearer valv_0000000000000000_notakey")
			for i := range 20 {
				if r := c.do("GET", "/api/v1/documents", nil); r.Status != 401 {
					t.Fatalf("bad key %d: %d %s", i, r.Status, r.Body)
				}
				if i%5 == 4 {
					ts.clock.Advance(time.Minute) // stay under the address limit
				}
			}
			if r := c.do("GET", "/api/v1/documents", nil); r.code() != "source_blocked" {
				t.Fatalf("after 20 failures: %d %s", r.Status, r.Body)
			}
			// An operator lifts it.
			if err := ts.app.GuardUnblock(ctx, sec, "192.0.2.50"); err != nil {
				t.Fatal(err)
			}
			if r := c.do("GET", "/api/v1/documents", nil); r.Status != 401 {
				t.Fatalf("after unblock: %d %s", r.Status, r.Body)
			}
			// Only security operators manage the lists.
			if _, err := ts.app.GuardBlock(ctx, authz.Principal{Kind: authz.Operator, ID: "op", Role: authz.RoleOperator}, "192.0.2.1", 0, ""); err == nil {
				t.Fatal("an operator (not security) blocked an address")
			}

			// An allowed network is neither limited per address nor blocked.
			if _, err := ts.app.GuardAllow(ctx, sec, "192.0.2.0/24", "office"); err != nil {
				t.Fatal(err)
			}
			d := ts.from("192.0.2.60")
			for range 8 {
				d.do("GET", sqlInjection, nil)
			}
			d.must(200, "GET", "/api/v1/sys/seal-status", nil)

			// A blocked network is refused at once.
			if _, err := ts.app.GuardBlock(ctx, sec, "203.0.113.0/24", time.Hour, "scanner"); err != nil {
				t.Fatal(err)
			}
			if r := ts.from("203.0.113.99").do("GET", "/api/v1/sys/seal-status", nil); r.code() != "source_blocked" {
				t.Fatalf("blocked network: %d %s", r.Status, r.Body)
			}

			// A /64 is one IPv6 source: attacks from four of its addresses
			// block a fifth.
			for i := range 4 {
				ts.from(fmt.Sprintf("2001:db8:5::%x", i+1)).do("GET", sqlInjection, nil)
			}
			if r := ts.from("2001:db8:5::99").do("GET", "/api/v1/sys/seal-status", nil); r.code() != "source_blocked" {
				t.Fatalf("IPv6 /64: %d %s", r.Status, r.Body)
			}
			// Other sites cannot get a visitor blocked: their requests to the
			// API are refused before the WAF, their navigations and a missing
			// session's 401s score nothing.
			v := ts.from("198.51.100.77")
			v.header.Set("Sec-Fetch-Site", "cross-site")
			v.header.Set("Sec-Fetch-Mode", "no-cors")
			if r := v.do("GET", sqlInjection, nil); r.code() != "cross_origin_request" {
				t.Fatalf("cross-site image: %d %s", r.Status, r.Body)
			}
			v.header.Set("Sec-Fetch-Mode", "navigate")
			for i := range 25 {
				if i%5 == 0 {
					ts.clock.Advance(time.Minute)
				}
				path := "/api/v1/documents" // 401: log in first
				if i < 5 {
					path = sqlInjection
				}
				v.do("GET", path, nil)
			}
			ts.clock.Advance(time.Minute)
			v.header.Del("Sec-Fetch-Site")
			for range 4 {
				v.must(401, "GET", "/api/v1/documents", nil) // no credentials: not an offence
			}
			v.must(200, "GET", "/api/v1/sys/seal-status", nil)

			// Per API key: three a minute.
			op := ts.operator()
			_, owner := ts.tenantWithOwner(op, "Acme AB", "anna@acme.se")
			key := ts.keyClient(owner, "documents:read")
			for range 3 {
				key.must(200, "GET", "/api/v1/documents", nil)
			}
			if r := key.do("GET", "/api/v1/documents", nil); r.Status != 429 || r.code() != "rate_limited" || !strings.Contains(string(r.Body), "key") {
				t.Fatalf("fourth key request: %d %s", r.Status, r.Body)
			}

			if eng.name != "postgres" {
				return
			}
			// A second node on the same database sees the blocks and adds
			// to the same counters.
			ts2 := startServer(t, engine, withGuard(5), func(c *config.Config, _ *Options) {
				c.Keys.File = ts.opts.Config.RootKeyFile()
			})
			ts2.clock.Set(ts.clock.Now())
			if r := ts2.from("198.51.100.9").do("GET", "/api/v1/sys/seal-status", nil); r.code() != "source_blocked" {
				t.Fatalf("node 2, blocked source: %d %s", r.Status, r.Body)
			}
			if r := ts2.from("203.0.113.99").do("GET", "/api/v1/sys/seal-status", nil); r.code() != "source_blocked" {
				t.Fatalf("node 2, blocked network: %d %s", r.Status, r.Body)
			}
			ts.clock.Advance(time.Minute)
			ts2.clock.Set(ts.clock.Now())
			e := "203.0.114.1"
			for i := range 5 {
				node := ts
				if i%2 == 1 {
					node = ts2
				}
				node.from(e).must(200, "GET", "/api/v1/sys/seal-status", nil)
			}
			if r := ts2.from(e).do("GET", "/api/v1/sys/seal-status", nil); r.Status != 429 {
				t.Fatalf("node 2, sixth request across nodes: %d %s", r.Status, r.Body)
			}
		})
	}
}

// TestSecurityHeadersEverywhere: every kind of response carries the
// secure web defaults (GRD-3): API answers, errors the router makes,
// refusals of the guard, system routes.
func TestSecurityHeadersEverywhere(t *testing.T) {
	ts := startServer(t, withGuard(5))
	c := ts.from("203.0.113.20")
	cases := []struct {
		name, method, path string
		status             int
	}{
		{"API", "GET", "/api/v1/sys/seal-status", 200},
		{"API error", "GET", "/api/v1/documents", 401},
		{"unknown route", "GET", "/no/such/page", 404},
		{"wrong method", "DELETE", "/api/v1/sys/seal-status", 405},
		{"WAF", "GET", sqlInjection, 403},
		{"rate limit", "GET", "/healthz", 429},
	}
	for _, tc := range cases {
		r := c.do(tc.method, tc.path, nil)
		if r.Status != tc.status {
			t.Errorf("%s: %d, want %d: %s", tc.name, r.Status, tc.status, r.Body)
		}
		h := r.Header
		for name, want := range map[string]string{
			"Strict-Transport-Security": "max-age=63072000; includeSubDomains",
			"X-Content-Type-Options":    "nosniff",
			"Referrer-Policy":           "no-referrer",
			"X-Frame-Options":           "DENY",
		} {
			if h.Get(name) != want {
				t.Errorf("%s: %s = %q, want %q", tc.name, name, h.Get(name), want)
			}
		}
		if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s: CSP %q", tc.name, csp)
		}
		if !strings.HasPrefix(h.Get("Content-Type"), "application/json") && tc.status >= 400 {
			t.Errorf("%s: error is %q, not JSON", tc.name, h.Get("Content-Type"))
		}
	}
	// A state-changing request a browser marks as cross-site is refused.
	cross := ts.from("203.0.113.21")
	cross.header.Set("Sec-Fetch-Site", "cross-site")
	if r := cross.do("POST", "/api/v1/auth/logout", nil); r.Status != 403 || r.code() != "cross_origin_request" {
		t.Errorf("cross-site POST: %d %s", r.Status, r.Body)
	}
}
