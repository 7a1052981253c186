package app

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// accessView is an access request as the API shows it.
type accessView struct {
	ID         string `json:"id"`
	TenantID   string `json:"tenant_id"`
	Requester  string `json:"requester"`
	Scope      string `json:"scope"`
	Reason     string `json:"reason"`
	Duration   string `json:"duration"`
	BreakGlass bool   `json:"break_glass"`
	State      string `json:"state"`
	Consent    struct {
		Required bool   `json:"required"`
		State    string `json:"state"`
	} `json:"consent"`
	Expires *time.Time `json:"expires"`
}

type auditItem struct {
	Action         string            `json:"action"`
	ActorType      string            `json:"actor_type"`
	ActorID        string            `json:"actor_id"`
	ResourceID     string            `json:"resource_id"`
	Outcome        string            `json:"outcome"`
	GrantID        string            `json:"grant_id"`
	OperatorAccess bool              `json:"operator_access"`
	Reason         string            `json:"reason"`
	Details        map[string]string `json:"details"`
}

// TestOperatorAccess walks operator access (OPS-1..3, AZ-4) through the
// API on both engines: no standing access; a request approved by another
// security operator opens exactly its scope, read-only, until it expires or
// is revoked; the tenant's consent; break-glass with its notices through a
// real SMTP server; every step and access in both the tenant's and the
// platform's audit trail, with the reason.
func TestOperatorAccess(t *testing.T) {
	for _, eng := range engines {
		t.Run(eng.name, func(t *testing.T) { testOperatorAccess(t, eng.opt(t)) })
	}
}

func testOperatorAccess(t *testing.T, engine serverOption) {
	ts := startServer(t, engine)
	sec := ts.operator() // ops@valv.test, security
	for _, o := range []struct{ email, role string }{{"sec2@valv.test", "security"}, {"op2@valv.test", "operator"}} {
		var inv struct {
			SetupLink string `json:"setup_link"`
		}
		sec.must(201, "POST", "/api/v1/operators", map[string]string{"email": o.email, "role": o.role}).json(t, &inv)
		ts.client().must(200, "POST", "/api/v1/auth/setup", map[string]string{"token": tokenOf(t, inv.SetupLink), "password": testPassword})
	}
	sec2 := ts.operatorLogin("sec2@valv.test")
	op := ts.operatorLogin("op2@valv.test")
	slugA, ownerA := ts.tenantWithOwner(sec, "Åtkomst AB", "owner@atkomst.se")
	var inv struct {
		SetupLink string `json:"setup_link"`
	}
	ownerA.must(201, "POST", "/api/v1/users", map[string]string{"email": "admin@atkomst.se", "role": "admin"}).json(t, &inv)
	ts.client().must(200, "POST", "/api/v1/auth/setup", map[string]string{"token": tokenOf(t, inv.SetupLink), "password": testPassword})
	adminA := ts.login(slugA, "admin@atkomst.se")
	_, ownerB := ts.tenantWithOwner(sec, "Annan AB", "owner@annan.se")
	var tA, tB struct{ ID string }
	ownerA.must(200, "GET", "/api/v1/tenant", nil).json(t, &tA)
	ownerB.must(200, "GET", "/api/v1/tenant", nil).json(t, &tB)
	doc := func(c *client, typ, text string) string {
		var d struct{ ID string }
		c.must(201, "POST", "/api/v1/documents", map[string]any{"type": typ, "data": map[string]string{"text": text}}).json(t, &d)
		return d.ID
	}
	for _, c := range []*client{ownerA, ownerB} {
		c.must(200, "PUT", "/api/v1/document-types/invoice", map[string]any{})
		c.must(200, "PUT", "/api/v1/document-types/contract", map[string]any{})
	}
	invA, conA, invB := doc(ownerA, "invoice", "faktura A"), doc(ownerA, "contract", "avtal A"), doc(ownerB, "invoice", "faktura B")
	inA := "?tenant=" + tA.ID

	dataRoutes := func(c *client, want int) {
		t.Helper()
		for _, path := range []string{
			"/api/v1/documents" + inA, "/api/v1/documents" + inA + "&type=invoice", "/api/v1/documents/" + invA + inA,
			"/api/v1/documents/" + invA + "/versions" + inA, "/api/v1/documents/" + invA + "/versions/1" + inA,
			"/api/v1/documents/" + conA + inA, "/api/v1/audit" + inA, "/api/v1/audit/export" + inA, "/api/v1/messages" + inA,
		} {
			c.must(want, "GET", path, nil)
		}
		c.must(want, "POST", "/api/v1/documents/search"+inA, map[string]string{"kind": "personnummer", "value": "811218-9876"})
	}
	// No standing access: every data route is refused, for both roles.
	dataRoutes(op, 403)
	dataRoutes(sec, 403)
	// A tenant that does not exist answers the same, and the trail stays
	// healthy (the refusal is kept in the platform's chain).
	for _, ghost := range []string{"?tenant=" + uuid.NewString(), "?tenant=%ff%fe", "?tenant=platform", "?tenant=" + strings.ToUpper(tA.ID)} {
		for _, path := range []string{"/api/v1/documents/" + invA + ghost, "/api/v1/documents" + ghost + "&type=invoice", "/api/v1/audit" + ghost, "/api/v1/messages" + ghost} {
			op.must(403, "GET", path, nil)
		}
	}
	op.must(404, "GET", "/api/v1/access-requests/"+strings.Repeat("a", 300), nil)
	ownerA.must(404, "POST", "/api/v1/access-requests/"+strings.Repeat("b", 300)+"/revoke", nil)
	if !ts.app.Trail.Healthy() {
		t.Fatal("probing a tenant that does not exist made the audit trail unhealthy")
	}

	file := func(c *client, body map[string]string) accessView {
		t.Helper()
		var v accessView
		c.must(201, "POST", "/api/v1/access-requests", body).json(t, &v)
		return v
	}
	const reason = "Ticket 4711: the customer reports a wrong total on an invoice"
	// Bad requests are refused with the field that is wrong.
	for _, bad := range []map[string]string{
		{"tenant": tA.ID, "scope": "everything", "reason": reason},
		{"tenant": tA.ID, "scope": "documents_of_type", "reason": reason},
		{"tenant": tA.ID, "scope": "audit", "reason": "short"},
		{"tenant": tA.ID, "scope": "audit", "reason": reason, "duration": "5h"},
		{"tenant": tA.ID, "scope": "audit", "reason": reason, "duration": "soon"},
		{"tenant": "not-a-tenant", "scope": "audit", "reason": reason},
	} {
		op.must(400, "POST", "/api/v1/access-requests", bad)
	}

	// A request waits for a security operator; until then, nothing.
	g1 := file(op, map[string]string{"tenant": tA.ID, "scope": "documents_of_type", "document_type": "invoice", "reason": reason, "ticket": "4711", "duration": "5m"})
	if g1.State != "pending" || g1.Reason != reason || g1.Consent.Required {
		t.Fatalf("filed: %+v", g1)
	}
	ts.mail.Wait(t, "sec2@valv.test", regexp.MustCompile(`(waits for a decision|väntar på beslut)[\s\S]*`+regexp.QuoteMeta(reason)))
	op.must(403, "GET", "/api/v1/documents/"+invA+inA, nil)
	op.must(403, "POST", "/api/v1/access-requests/"+g1.ID+"/decision", map[string]string{"decision": "approve", "comment": "mine"})
	ownerA.must(403, "POST", "/api/v1/access-requests/"+g1.ID+"/decision", map[string]string{"decision": "approve", "comment": "ok"})
	sec.must(400, "POST", "/api/v1/access-requests/"+g1.ID+"/decision", map[string]string{"decision": "approve"})
	var v accessView
	sec.must(200, "POST", "/api/v1/access-requests/"+g1.ID+"/decision", map[string]string{"decision": "approve", "comment": "Checked ticket 4711"}).json(t, &v)
	if v.State != "active" || v.Expires == nil {
		t.Fatalf("approved: %+v", v)
	}
	sec2.must(409, "POST", "/api/v1/access-requests/"+g1.ID+"/decision", map[string]string{"decision": "deny", "comment": "too late"})
	ts.mail.Wait(t, "op2@valv.test", regexp.MustCompile(`(approved, in force now|godkänd, gäller nu)`))

	// Exactly its scope, read-only.
	var got struct {
		ID   string
		Data map[string]string
	}
	op.must(200, "GET", "/api/v1/documents/"+invA+inA, nil).json(t, &got)
	if got.ID != invA || got.Data["text"] != "faktura A" {
		t.Fatalf("read under the grant: %+v", got)
	}
	var list struct{ Items []struct{ ID string } }
	op.must(200, "GET", "/api/v1/documents"+inA+"&type=invoice", nil).json(t, &list)
	if len(list.Items) != 1 || list.Items[0].ID != invA {
		t.Fatalf("list under the grant: %+v", list)
	}
	op.must(200, "GET", "/api/v1/documents/"+invA+"/versions"+inA, nil)
	op.must(403, "GET", "/api/v1/documents"+inA, nil)                    // every type
	op.must(403, "GET", "/api/v1/documents/"+conA+inA, nil)              // another type
	op.must(403, "GET", "/api/v1/documents/"+invB+"?tenant="+tB.ID, nil) // another tenant
	op.must(403, "GET", "/api/v1/documents/"+invB+inA, nil)              // another tenant's document named as A's
	op.must(403, "GET", "/api/v1/audit"+inA, nil)
	op.must(403, "GET", "/api/v1/messages"+inA, nil)
	op.must(403, "PATCH", "/api/v1/documents/"+invA+inA, map[string]any{"metadata": map[string]string{"x": "y"}})
	op.must(403, "DELETE", "/api/v1/documents/"+invA+inA, nil)
	op.must(403, "POST", "/api/v1/documents"+inA, map[string]any{"type": "invoice", "data": map[string]string{"text": "x"}})
	sec.must(403, "GET", "/api/v1/documents/"+invA+inA, nil) // the grant is op2's

	// Expiry takes effect on the next request, in the same session.
	ts.clock.Advance(5*time.Minute + time.Second)
	op.must(403, "GET", "/api/v1/documents/"+invA+inA, nil)
	op.must(200, "GET", "/api/v1/access-requests/"+g1.ID, nil).json(t, &v)
	if v.State != "expired" {
		t.Fatalf("after its time: %+v", v)
	}

	// A grant of one document; the tenant's owner revokes it.
	g2 := file(op, map[string]string{"tenant": tA.ID, "scope": "document", "document_id": conA, "reason": "Ticket 4712: the contract's dates look wrong"})
	sec2.must(200, "POST", "/api/v1/access-requests/"+g2.ID+"/decision", map[string]string{"decision": "approve", "comment": "ok for 4712"})
	op.must(200, "GET", "/api/v1/documents/"+conA+inA, nil)
	op.must(403, "GET", "/api/v1/documents/"+invA+inA, nil)
	op.must(403, "GET", "/api/v1/documents"+inA+"&type=contract", nil)
	ownerB.must(404, "POST", "/api/v1/access-requests/"+g2.ID+"/revoke", nil)
	ownerA.must(200, "POST", "/api/v1/access-requests/"+g2.ID+"/revoke", map[string]string{"comment": "we fixed it ourselves"}).json(t, &v)
	if v.State != "revoked" {
		t.Fatalf("revoked: %+v", v)
	}
	op.must(403, "GET", "/api/v1/documents/"+conA+inA, nil)
	ownerA.must(409, "POST", "/api/v1/access-requests/"+g2.ID+"/revoke", nil)

	// The requester cannot approve their own request.
	g3 := file(sec, map[string]string{"tenant": tA.ID, "scope": "audit", "reason": "Reviewing the tenant's failed logins"})
	if r := sec.do("POST", "/api/v1/access-requests/"+g3.ID+"/decision", map[string]string{"decision": "approve", "comment": "self"}); r.Status != 403 || r.code() != "own_request" {
		t.Fatalf("own approval: %d %s", r.Status, r.Body)
	}
	sec2.must(200, "POST", "/api/v1/access-requests/"+g3.ID+"/decision", map[string]string{"decision": "deny", "comment": "not needed"}).json(t, &v)
	if v.State != "denied" {
		t.Fatalf("denied: %+v", v)
	}
	sec.must(403, "GET", "/api/v1/audit"+inA, nil)

	// The tenant asks for consent: an approved request waits for its owner
	// (a request filed before the tenant asked is asked too).
	g4 := file(op, map[string]string{"tenant": tA.ID, "scope": "audit", "reason": "Ticket 4713: the customer asks who changed a setting", "duration": "30m"})
	adminA.must(403, "PATCH", "/api/v1/tenant/settings", map[string]any{"operator_access_consent": true}) // the owners' decision
	ownerA.must(200, "PATCH", "/api/v1/tenant/settings", map[string]any{"operator_access_consent": true})
	// The portal's settings form sends every field: an admin saving it
	// unchanged is not changing the owners' decision.
	adminA.must(200, "PATCH", "/api/v1/tenant/settings", map[string]any{"operator_access_consent": true, "region": "eu-eea", "idle_timeout": "90m"})
	adminA.must(403, "PATCH", "/api/v1/tenant/settings", map[string]any{"operator_access_consent": false})
	ownerA.must(409, "POST", "/api/v1/access-requests/"+g4.ID+"/consent", map[string]string{"consent": "give"}) // not asked (yet)
	sec.must(200, "POST", "/api/v1/access-requests/"+g4.ID+"/decision", map[string]string{"decision": "approve", "comment": "ok"}).json(t, &v)
	if v.State != "awaiting_consent" {
		t.Fatalf("approved, consent pending: %+v", v)
	}
	mail := ts.mail.Wait(t, "owner@atkomst.se", regexp.MustCompile(`(your consent is asked|ert samtycke efterfrågas)`))
	if !strings.Contains(mail, "/access-requests/"+g4.ID) || !strings.Contains(mail, "Ticket 4713") {
		t.Fatalf("consent mail: %s", mail)
	}
	op.must(403, "GET", "/api/v1/audit"+inA, nil)
	sec.must(403, "POST", "/api/v1/access-requests/"+g4.ID+"/consent", map[string]string{"consent": "give"})
	ownerA.must(400, "POST", "/api/v1/access-requests/"+g4.ID+"/consent", map[string]string{"consent": "maybe"})
	ownerA.must(200, "POST", "/api/v1/access-requests/"+g4.ID+"/consent", map[string]string{"consent": "give", "comment": "go ahead"}).json(t, &v)
	if v.State != "active" {
		t.Fatalf("consented: %+v", v)
	}
	op.must(200, "GET", "/api/v1/audit"+inA, nil)
	op.must(403, "GET", "/api/v1/audit/history", nil)
	g5 := file(op, map[string]string{"tenant": tA.ID, "scope": "messages", "reason": "Ticket 4714: a message seems lost"})
	if !g5.Consent.Required || g5.Consent.State != "pending" {
		t.Fatalf("consent not asked: %+v", g5)
	}
	ownerA.must(409, "POST", "/api/v1/access-requests/"+g5.ID+"/consent", map[string]string{"consent": "give"}) // not approved yet
	sec.must(200, "POST", "/api/v1/access-requests/"+g5.ID+"/decision", map[string]string{"decision": "approve", "comment": "ok"})
	ownerA.must(200, "POST", "/api/v1/access-requests/"+g5.ID+"/consent", map[string]string{"consent": "refuse"}).json(t, &v)
	if v.State != "refused" {
		t.Fatalf("refused: %+v", v)
	}
	op.must(403, "GET", "/api/v1/messages"+inA, nil)
	adminA.must(403, "PATCH", "/api/v1/tenant/settings", map[string]any{"operator_access_consent": false})
	ownerA.must(200, "PATCH", "/api/v1/tenant/settings", map[string]any{"operator_access_consent": false})

	// Break-glass: security only, at most an hour, everyone told at once.
	op.must(403, "POST", "/api/v1/access-requests/break-glass", map[string]string{"tenant": tA.ID, "scope": "messages", "reason": "I am not security"})
	var bg accessView
	sec.must(201, "POST", "/api/v1/access-requests/break-glass", map[string]string{"tenant": tA.ID, "scope": "messages",
		"reason": "Incident 99: deliveries to the bank are failing", "duration": "3h"}).json(t, &bg)
	if !bg.BreakGlass || bg.State != "active" || bg.Duration != "1h0m0s" {
		t.Fatalf("break-glass: %+v", bg)
	}
	for _, to := range []string{"ops@valv.test", "sec2@valv.test", "owner@atkomst.se", "security@atkomst.se"} {
		ts.mail.Wait(t, to, regexp.MustCompile(`(?s)(Emergency access|Nödåtkomst).*Incident 99`))
	}
	sec.must(200, "GET", "/api/v1/messages"+inA, nil)
	sec.must(403, "GET", "/api/v1/documents"+inA+"&type=invoice", nil)

	// The tenant sees every request on it, and nobody else's.
	var reqs struct{ Items []accessView }
	ownerA.must(200, "GET", "/api/v1/access-requests", nil).json(t, &reqs)
	if len(reqs.Items) != 6 {
		t.Fatalf("tenant A sees %d requests, want 6", len(reqs.Items))
	}
	ownerB.must(200, "GET", "/api/v1/access-requests", nil).json(t, &reqs)
	if len(reqs.Items) != 0 {
		t.Fatalf("tenant B sees %d requests", len(reqs.Items))
	}
	ownerB.must(404, "GET", "/api/v1/access-requests/"+g1.ID, nil)
	op.must(200, "GET", "/api/v1/access-requests", nil).json(t, &reqs)
	if len(reqs.Items) != 4 { // op2's own: g1, g2, g4, g5
		t.Fatalf("op2 sees %d requests, want their 4", len(reqs.Items))
	}
	op.must(404, "GET", "/api/v1/access-requests/"+g3.ID, nil)
	sec.must(200, "GET", "/api/v1/access-requests?state=active", nil).json(t, &reqs)
	if len(reqs.Items) != 2 { // g4 (30m) and the break-glass
		t.Fatalf("active requests: %+v", reqs.Items)
	}

	// Every step and every access is in the tenant's trail with its reason,
	// marked as operator access, and in the platform's naming the tenant.
	var tenantTrail struct{ Items []auditItem }
	ownerA.must(200, "GET", "/api/v1/audit?actor_type=operator&limit=500", nil).json(t, &tenantTrail)
	var platformTrail struct{ Items []auditItem }
	sec.must(200, "GET", "/api/v1/audit?actor_type=operator&limit=500", nil).json(t, &platformTrail)
	find := func(items []auditItem, action, grant, outcome string) *auditItem {
		for i := range items {
			if items[i].Action == action && items[i].GrantID == grant && items[i].Outcome == outcome {
				return &items[i]
			}
		}
		return nil
	}
	for _, w := range []struct{ action, grant, reason string }{
		{"access.request", g1.ID, reason},
		{"access.decide", g1.ID, "Checked ticket 4711"},
		{"document.read", g1.ID, reason},
		{"document.list", g1.ID, reason},
		{"document.read", g2.ID, "Ticket 4712: the contract's dates look wrong"},
		{"audit.read", g4.ID, "Ticket 4713: the customer asks who changed a setting"},
		{"access.break_glass", bg.ID, "Incident 99: deliveries to the bank are failing"},
		{"message.list", bg.ID, "Incident 99: deliveries to the bank are failing"},
	} {
		e := find(tenantTrail.Items, w.action, w.grant, "success")
		if e == nil || !e.OperatorAccess || e.Reason != w.reason {
			t.Errorf("tenant trail: %s under %s: %+v", w.action, w.grant, e)
		}
		p := find(platformTrail.Items, w.action, w.grant, "success")
		if p == nil || p.Details["tenant"] != tA.ID {
			t.Errorf("platform trail: %s under %s: %+v", w.action, w.grant, p)
		}
	}
	// The owner's own steps (consent, revocation) are there too.
	var ownerSteps struct{ Items []auditItem }
	ownerA.must(200, "GET", "/api/v1/audit?action=access.&limit=500", nil).json(t, &ownerSteps)
	if e := find(ownerSteps.Items, "access.consent", g4.ID, "success"); e == nil || e.Reason != "go ahead" || e.Details["consent"] != "give" {
		t.Errorf("consent entry: %+v", e)
	}
	if e := find(ownerSteps.Items, "access.revoke", g2.ID, "success"); e == nil || e.Reason != "we fixed it ourselves" {
		t.Errorf("revocation entry: %+v", e)
	}
	// Refused attempts without a grant are in the tenant's trail too.
	denied := 0
	for _, e := range tenantTrail.Items {
		if e.Outcome == "denied" && e.Action == "document.read" {
			denied++
		}
	}
	if denied == 0 {
		t.Error("refused operator reads are not in the tenant's trail")
	}
}
