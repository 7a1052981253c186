package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/valvhq/valv/internal/api"
	"github.com/valvhq/valv/internal/archive"
	"github.com/valvhq/valv/internal/audit"
)

// The authorization scenario table (AZ-1..AZ-4, TEN-1): every API route,
// called by every kind of principal, with the status each must get. A
// route that is not in the table fails the test, so the table grows with
// the API. Beyond statuses, no response to a principal outside tenant A may
// contain tenant A's data, and probing another tenant's id answers exactly
// like probing an id that does not exist.

// The principals, in the order of the columns below.
var principalNames = []string{
	"anonymous", "member", "auditor", "admin", "owner", "other_owner", "operator", "security",
	"revoked_key", "expired_key", "wrong_scope_key", "disallowed_ip_key", "untrusted_proxy_key",
}

// scenario is one route's row: the request, and the 13 expected statuses.
type scenario struct {
	route string // "METHOD /pattern"
	path  string // the path, with {id} filled by param
	// param, if set, makes the path parameter for one cell (fresh
	// resources for destructive calls); else the path is used as is.
	param func(s *scenarioEnv) string
	// pathf, if set, makes the whole path (routes with two parameters).
	pathf func(s *scenarioEnv) string
	body  func(s *scenarioEnv) any
	// fresh gives session principals a new login for this call (for calls
	// that end sessions).
	fresh  bool
	expect string
}

type principal struct {
	name    string
	client  *client
	header  http.Header
	tenantA bool // belongs to tenant A (may see its data)
	relogin func() *client
	// The audit entry's actor for this principal's calls (AUD-1); a key
	// that is refused leaves the call anonymous, naming the key instead.
	actorType, actorID string
	refusedKey         string
}

type scenarioEnv struct {
	ts         *testServer
	principals []*principal
	ownerA     *client
	tenantA    struct{ ID, Slug, Name string }
	adminID    string
	memberSess string
	keyID      string
	docA       string   // a document of tenant A, with a file
	reportA    string   // a culling report of tenant A
	requestA   string   // a completed access request of tenant A
	msgA       string   // a message tenant A sent to tenant B
	inboxA     string   // a message tenant A received from tenant B
	endpointA  string   // an endpoint of tenant A
	accessA    string   // an operator's access request on tenant A
	slugC      string   // a third tenant, that messages go to and come from
	secretsA   []string // tenant A's data: no one outside tenant A may see these
	metadataA  []string // tenant A's metadata: operators may see these too
	seq        atomic.Int64
	operator   *client // the operator (not security) who files access requests
}

func (s *scenarioEnv) unique(prefix string) string {
	return fmt.Sprintf("%s%d", prefix, s.seq.Add(1))
}

// invited creates a fresh invited user in tenant A and returns its id.
func (s *scenarioEnv) invited() string {
	var inv struct {
		Account struct{ ID string } `json:"account"`
	}
	s.ownerA.must(201, "POST", "/api/v1/users", map[string]string{"email": s.unique("fresh") + "@a.se", "role": "member"}).json(s.ts.t, &inv)
	return inv.Account.ID
}

// freshDoc creates a fresh document in tenant A and returns its id.
func (s *scenarioEnv) freshDoc() string {
	var d struct{ ID string }
	s.ownerA.must(201, "POST", "/api/v1/documents", map[string]any{"type": "note", "data": map[string]string{"text": "x"}}).json(s.ts.t, &d)
	return d.ID
}

// freshHold places a fresh legal hold in tenant A and returns its id.
func (s *scenarioEnv) freshHold() string {
	var h struct{ ID string }
	s.ownerA.must(201, "POST", "/api/v1/holds", map[string]any{"scope": "type", "type": s.unique("held"), "reason": "case"}).json(s.ts.t, &h)
	return h.ID
}

// freshRule sets a fresh retention rule in tenant A and returns the path
// that removes it.
func (s *scenarioEnv) freshRule() string {
	typ := s.unique("ruled")
	s.ownerA.must(200, "PUT", "/api/v1/retention/rules/standard", map[string]any{"type": typ, "months": 60})
	return "/api/v1/retention/rules/standard?type=" + typ
}

// freshType registers a fresh document type in tenant A.
func (s *scenarioEnv) freshType() string {
	name := s.unique("type")
	s.ownerA.must(200, "PUT", "/api/v1/document-types/"+name, map[string]any{})
	return name
}

// freshKey creates a fresh key in tenant A and returns its id.
func (s *scenarioEnv) freshKey() string {
	var k struct {
		APIKey struct{ ID string } `json:"api_key"`
	}
	s.ownerA.must(201, "POST", "/api/v1/api-keys", map[string]any{"name": s.unique("k"), "scopes": []string{"validate"}}).json(s.ts.t, &k)
	return k.APIKey.ID
}

var junkToken = strings.Repeat("A", 43)

func scenarios() []scenario {
	fixed := func(v any) func(*scenarioEnv) any { return func(*scenarioEnv) any { return v } }
	return []scenario{
		// System routes: public; failing keys are refused before anything.
		{route: "GET /api/v1/openapi.json", expect: "200 200 200 200 200 200 200 200 401 401 200 403 403"},
		{route: "GET /api/v1/sys/seal-status", expect: "200 200 200 200 200 200 200 200 401 401 200 403 403"},
		{route: "POST /api/v1/sys/unseal", body: fixed(map[string]string{"share": "valv1.x"}), expect: "409 409 409 409 409 409 409 409 401 401 409 403 403"},
		{route: "POST /api/v1/sys/seal", body: fixed(map[string]string{"share": "valv1.x"}), expect: "409 409 409 409 409 409 409 409 401 401 409 403 403"},

		// The audit trail: owners and auditors read their tenant's, security
		// operators the platform's. (These rows come before the ones that
		// send tenant A's ids as parameters: a principal's own trail records
		// the ids it sent, and the leak check would count them.)
		{route: "GET /api/v1/audit", path: "/api/v1/audit?limit=50", expect: "401 403 200 403 200 200 403 200 401 401 403 403 403"},
		{route: "GET /api/v1/audit/export", path: "/api/v1/audit/export?action=auth.", expect: "401 403 200 403 200 200 403 200 401 401 403 403 403"},
		{route: "GET /api/v1/audit/entries/{seq}", param: func(*scenarioEnv) string { return "0" }, expect: "401 403 200 403 200 200 403 200 401 401 403 403 403"},
		{route: "GET /api/v1/audit/checkpoints", expect: "401 403 200 403 200 200 403 200 401 401 403 403 403"},
		{route: "GET /api/v1/audit/proofs/inclusion", path: "/api/v1/audit/proofs/inclusion?seq=0&size=1", expect: "401 403 200 403 200 200 403 200 401 401 403 403 403"},
		{route: "GET /api/v1/audit/proofs/consistency", path: "/api/v1/audit/proofs/consistency?size1=1&size2=2", expect: "401 403 200 403 200 200 403 200 401 401 403 403 403"},
		{route: "GET /api/v1/audit/key", expect: "401 403 200 403 200 200 403 200 401 401 403 403 403"},
		{route: "GET /api/v1/audit/history", expect: "401 403 403 200 200 200 403 403 401 401 403 403 403"},

		// The validate-only API: every user, and keys with the validate scope.
		{route: "POST /api/v1/validate", body: fixed(map[string]any{"fields": []map[string]string{{"type": "iban", "value": "SE4550000000058398257466"}}}),
			expect: "401 200 200 200 200 200 403 403 401 401 200 403 403"},

		// Documents: owners, admins and members (and keys with the
		// documents scopes); auditors read the trail, not the contents.
		// Another tenant's document answers like a missing one.
		{route: "POST /api/v1/documents", body: fixed(map[string]any{"type": "note", "data": map[string]string{"text": "hej"}}), expect: "401 201 403 201 201 201 403 403 401 401 403 403 403"},
		{route: "POST /api/v1/documents/import", body: fixed(map[string]any{"documents": []map[string]any{{"type": "note"}, {"type": "note", "data": map[string]int{"n": 2}}}}), expect: "401 201 403 201 201 201 403 403 401 401 403 403 403"},
		{route: "GET /api/v1/documents", expect: "401 200 403 200 200 200 403 403 401 401 403 403 403"},
		{route: "POST /api/v1/documents/search", body: fixed(map[string]string{"kind": "personnummer", "value": "811218-9876"}), expect: "401 200 403 200 200 200 403 403 401 401 403 403 403"},
		{route: "GET /api/v1/documents/{id}", param: func(s *scenarioEnv) string { return s.docA }, expect: "401 200 403 200 200 404 403 403 401 401 403 403 403"},
		{route: "PATCH /api/v1/documents/{id}", param: func(s *scenarioEnv) string { return s.docA }, body: fixed(map[string]any{"metadata": map[string]string{"ref": "A-1"}}), expect: "401 200 403 200 200 404 403 403 401 401 403 403 403"},
		{route: "DELETE /api/v1/documents/{id}", param: func(s *scenarioEnv) string { return s.freshDoc() }, expect: "401 204 403 204 204 404 403 403 401 401 403 403 403"},
		{route: "GET /api/v1/documents/{id}/content", param: func(s *scenarioEnv) string { return s.docA }, expect: "401 200 403 200 200 404 403 403 401 401 403 403 403"},
		{route: "PUT /api/v1/documents/{id}/content", param: func(s *scenarioEnv) string { return s.docA }, body: fixed(map[string]string{"new": "content"}), expect: "401 200 403 200 200 404 403 403 401 401 403 403 403"},
		{route: "GET /api/v1/documents/{id}/versions", param: func(s *scenarioEnv) string { return s.docA }, expect: "401 200 403 200 200 404 403 403 401 401 403 403 403"},
		{route: "GET /api/v1/documents/{id}/versions/{version}", pathf: func(s *scenarioEnv) string { return "/api/v1/documents/" + s.docA + "/versions/1" }, expect: "401 200 403 200 200 404 403 403 401 401 403 403 403"},
		{route: "GET /api/v1/document-types", expect: "401 200 403 200 200 200 403 403 401 401 403 403 403"},
		{route: "GET /api/v1/document-types/{name}", param: func(*scenarioEnv) string { return "invoice" }, expect: "401 200 403 200 200 404 403 403 401 401 403 403 403"},
		{route: "PUT /api/v1/document-types/{name}", param: func(*scenarioEnv) string { return "invoice" }, body: fixed(map[string]any{"default_archive": "legal"}), expect: "401 403 403 200 200 200 403 403 401 401 403 403 403"},
		{route: "DELETE /api/v1/document-types/{name}", param: func(s *scenarioEnv) string { return s.freshType() }, expect: "401 403 403 204 204 404 403 403 401 401 403 403 403"},

		// Public authentication routes answer alike, whoever asks.
		{route: "POST /api/v1/auth/login", body: fixed(map[string]string{"tenant": "nope", "email": "x@y.se", "password": "wrong password here"}), expect: "401 401 401 401 401 401 401 401 401 401 401 403 403"},
		{route: "POST /api/v1/auth/login/mfa", body: fixed(map[string]string{"challenge": junkToken, "method": "totp", "code": "123456"}), expect: "401 401 401 401 401 401 401 401 401 401 401 403 403"},
		{route: "POST /api/v1/auth/login/email-code", body: fixed(map[string]string{"challenge": junkToken}), expect: "401 401 401 401 401 401 401 401 401 401 401 403 403"},
		{route: "POST /api/v1/auth/login/passkey/begin", body: fixed(map[string]string{"challenge": junkToken}), expect: "401 401 401 401 401 401 401 401 401 401 401 403 403"},
		{route: "POST /api/v1/auth/login/passkey/finish", body: fixed(map[string]any{"challenge": junkToken, "credential": map[string]any{}}), expect: "401 401 401 401 401 401 401 401 401 401 401 403 403"},
		{route: "POST /api/v1/auth/passkey/begin", body: func(s *scenarioEnv) any { return map[string]string{"tenant": s.tenantA.Slug} }, expect: "200 200 200 200 200 200 200 200 401 401 200 403 403"},
		{route: "POST /api/v1/auth/passkey/finish", body: fixed(map[string]any{"ceremony": junkToken, "credential": map[string]any{}}), expect: "400 400 400 400 400 400 400 400 401 401 400 403 403"},
		{route: "GET /api/v1/auth/oidc/{tenant}/start", param: func(s *scenarioEnv) string { return s.tenantA.Slug }, expect: "404 404 404 404 404 404 404 404 401 401 404 403 403"},
		{route: "GET /api/v1/auth/oidc/callback", path: "/api/v1/auth/oidc/callback?state=x&code=y", expect: "401 401 401 401 401 401 401 401 401 401 401 403 403"},
		{route: "POST /api/v1/auth/setup", body: fixed(map[string]string{"token": junkToken, "password": "a long enough password"}), expect: "404 404 404 404 404 404 404 404 401 401 404 403 403"},
		{route: "POST /api/v1/auth/password/forgot", body: fixed(map[string]string{"tenant": "nope", "email": "x@y.se"}), expect: "202 202 202 202 202 202 202 202 401 401 202 403 403"},
		{route: "POST /api/v1/auth/password/reset", body: fixed(map[string]string{"token": junkToken, "password": "a long enough password"}), expect: "404 404 404 404 404 404 404 404 401 401 404 403 403"},

		// Own account: any logged-in person; never an API key.
		{route: "POST /api/v1/auth/logout", fresh: true, expect: "204 204 204 204 204 204 204 204 401 401 204 403 403"},
		{route: "POST /api/v1/auth/logout-everywhere", fresh: true, expect: "401 200 200 200 200 200 200 200 401 401 401 403 403"},
		{route: "GET /api/v1/auth/me", expect: "401 200 200 200 200 200 200 200 401 401 401 403 403"},
		{route: "POST /api/v1/auth/password", body: fixed(map[string]string{"current_password": "not my password", "new_password": "x"}), expect: "401 400 400 400 400 400 400 400 401 401 401 403 403"},
		{route: "POST /api/v1/auth/totp", expect: "401 200 200 200 200 200 200 200 401 401 401 403 403"},
		{route: "POST /api/v1/auth/totp/confirm", body: fixed(map[string]string{"code": "000000"}), expect: "401 400 400 400 400 400 400 400 401 401 401 403 403"},
		{route: "POST /api/v1/auth/totp/disable", body: fixed(map[string]string{"password": "not my password"}), expect: "401 400 400 400 400 400 400 400 401 401 401 403 403"},
		{route: "POST /api/v1/auth/recovery-codes", body: fixed(map[string]string{"password": "not my password"}), expect: "401 400 400 400 400 400 400 400 401 401 401 403 403"},
		{route: "GET /api/v1/auth/passkeys", expect: "401 200 200 200 200 200 200 200 401 401 401 403 403"},
		{route: "POST /api/v1/auth/passkeys/begin", expect: "401 200 200 200 200 200 200 200 401 401 401 403 403"},
		{route: "POST /api/v1/auth/passkeys/finish", body: fixed(map[string]any{"ceremony": junkToken, "credential": map[string]any{}}), expect: "401 400 400 400 400 400 400 400 401 401 401 403 403"},
		{route: "DELETE /api/v1/auth/passkeys/{id}", param: func(*scenarioEnv) string { return uuid.NewString() }, expect: "401 404 404 404 404 404 404 404 401 401 401 403 403"},
		{route: "GET /api/v1/sessions", expect: "401 200 200 200 200 200 200 200 401 401 401 403 403"},
		{route: "DELETE /api/v1/sessions/{id}", param: func(s *scenarioEnv) string { return s.memberSess }, fresh: true, expect: "401 204 404 404 404 404 404 404 401 401 401 403 403"},

		// The tenant's users: owners and admins; another tenant sees 404.
		{route: "GET /api/v1/users", expect: "401 403 403 200 200 200 403 403 401 401 403 403 403"},
		{route: "POST /api/v1/users", body: func(s *scenarioEnv) any {
			return map[string]string{"email": s.unique("new") + "@a.se", "role": "member"}
		}, expect: "401 403 403 201 201 201 403 403 401 401 403 403 403"},
		{route: "GET /api/v1/users/{id}", param: func(s *scenarioEnv) string { return s.adminID }, expect: "401 403 403 200 200 404 403 403 401 401 403 403 403"},
		{route: "PATCH /api/v1/users/{id}", param: func(s *scenarioEnv) string { return s.adminID }, body: fixed(map[string]string{"display_name": "Ada Admin"}), expect: "401 403 403 200 200 404 403 403 401 401 403 403 403"},
		{route: "DELETE /api/v1/users/{id}", param: func(s *scenarioEnv) string { return s.invited() }, expect: "401 403 403 204 204 404 403 403 401 401 403 403 403"},
		{route: "POST /api/v1/users/{id}/setup-link", param: func(s *scenarioEnv) string { return s.invited() }, expect: "401 403 403 200 200 404 403 403 401 401 403 403 403"},
		{route: "GET /api/v1/operators", expect: "401 403 403 403 403 403 403 200 401 401 403 403 403"},
		{route: "POST /api/v1/operators", body: func(s *scenarioEnv) any {
			return map[string]string{"email": s.unique("op") + "@valv.test", "role": "operator"}
		}, expect: "401 403 403 403 403 403 403 201 401 401 403 403 403"},

		// Tenants: operators manage them by metadata; users see their own.
		{route: "GET /api/v1/tenants", expect: "401 403 403 403 403 403 200 200 401 401 403 403 403"},
		{route: "POST /api/v1/tenants", body: func(s *scenarioEnv) any { return map[string]string{"name": s.unique("Tenant ")} }, expect: "401 403 403 403 403 403 201 201 401 401 403 403 403"},
		{route: "GET /api/v1/tenants/{id}", param: func(s *scenarioEnv) string { return s.tenantA.ID }, expect: "401 200 200 200 200 404 200 200 401 401 403 403 403"},
		{route: "PATCH /api/v1/tenants/{id}", param: func(s *scenarioEnv) string { return s.tenantA.ID }, body: fixed(map[string]string{"status": "active"}), expect: "401 403 403 403 403 404 200 200 401 401 403 403 403"},
		{route: "GET /api/v1/tenant", expect: "401 200 200 200 200 200 404 404 401 401 403 403 403"},
		{route: "GET /api/v1/tenant/settings", expect: "401 403 403 200 200 200 403 403 401 401 403 403 403"},
		{route: "PATCH /api/v1/tenant/settings", body: fixed(map[string]string{"language": "sv"}), expect: "401 403 403 200 200 200 403 403 401 401 403 403 403"},
		{route: "GET /api/v1/tenant/oidc", expect: "401 403 403 200 200 200 403 403 401 401 403 403 403"},
		{route: "PUT /api/v1/tenant/oidc", body: fixed(map[string]any{"issuer": "https://idp.example.se", "client_id": "c", "client_secret": "s", "claim": "email", "enabled": false}), expect: "401 403 403 200 200 200 403 403 401 401 403 403 403"},

		// API keys: owners and admins of the tenant.
		{route: "GET /api/v1/api-keys", expect: "401 403 403 200 200 200 403 403 401 401 403 403 403"},
		{route: "POST /api/v1/api-keys", body: fixed(map[string]any{"name": "ci", "scopes": []string{"validate"}}), expect: "401 403 403 201 201 201 403 403 401 401 403 403 403"},
		{route: "GET /api/v1/api-keys/{id}", param: func(s *scenarioEnv) string { return s.keyID }, expect: "401 403 403 200 200 404 403 403 401 401 403 403 403"},
		{route: "PUT /api/v1/api-keys/{id}", param: func(s *scenarioEnv) string { return s.keyID }, body: fixed(map[string]any{"name": "wrong scope", "scopes": []string{"validate"}}), expect: "401 403 403 200 200 404 403 403 401 401 403 403 403"},
		{route: "DELETE /api/v1/api-keys/{id}", param: func(s *scenarioEnv) string { return s.freshKey() }, expect: "401 403 403 204 204 404 403 403 401 401 403 403 403"},

		// Retention: owners, admins and auditors read the policy and holds;
		// owners and admins change them; owners and auditors read culling
		// reports; whoever works with documents reviews them.
		{route: "GET /api/v1/retention", expect: "401 403 200 200 200 200 403 403 401 401 403 403 403"},
		{route: "PATCH /api/v1/retention", body: fixed(map[string]int{"standard_months": 36}), expect: "401 403 403 200 200 200 403 403 401 401 403 403 403"},
		{route: "PUT /api/v1/retention/rules/{archive}", param: func(*scenarioEnv) string { return "standard" }, body: fixed(map[string]any{"type": "note", "months": 48}), expect: "401 403 403 200 200 200 403 403 401 401 403 403 403"},
		{route: "DELETE /api/v1/retention/rules/{archive}", pathf: func(s *scenarioEnv) string { return s.freshRule() }, expect: "401 403 403 204 204 404 403 403 401 401 403 403 403"},
		{route: "GET /api/v1/retention/reports", expect: "401 403 200 403 200 200 403 403 401 401 403 403 403"},
		{route: "GET /api/v1/retention/reports/{id}", param: func(s *scenarioEnv) string { return s.reportA }, expect: "401 403 200 403 200 404 403 403 401 401 403 403 403"},
		{route: "GET /api/v1/holds", expect: "401 403 200 200 200 200 403 403 401 401 403 403 403"},
		{route: "POST /api/v1/holds", body: fixed(map[string]any{"scope": "type", "type": "invoice", "reason": "case 7"}), expect: "401 403 403 201 201 201 403 403 401 401 403 403 403"},
		{route: "DELETE /api/v1/holds/{id}", param: func(s *scenarioEnv) string { return s.freshHold() }, expect: "401 403 403 204 204 404 403 403 401 401 403 403 403"},
		// Data-subject requests: owners and admins (and keys with the
		// gdpr scope); terminating the account: owners.
		{route: "POST /api/v1/subject-requests", body: fixed(map[string]any{"kind": "access", "subjects": []map[string]string{{"kind": "personnummer", "value": "811218-9876"}}}),
			expect: "401 403 403 201 201 201 403 403 401 401 403 403 403"},
		{route: "GET /api/v1/subject-requests", expect: "401 403 403 200 200 200 403 403 401 401 403 403 403"},
		{route: "GET /api/v1/subject-requests/{id}", param: func(s *scenarioEnv) string { return s.requestA }, expect: "401 403 403 200 200 404 403 403 401 401 403 403 403"},
		{route: "GET /api/v1/subject-requests/{id}/extract", param: func(s *scenarioEnv) string { return s.requestA }, expect: "401 403 403 200 200 404 403 403 401 401 403 403 403"},
		{route: "GET /api/v1/subject-requests/{id}/package", param: func(s *scenarioEnv) string { return s.requestA }, expect: "401 403 403 200 200 404 403 403 401 401 403 403 403"},
		{route: "POST /api/v1/subject-imports", body: fixed(map[string]string{"not": "a zip"}), expect: "401 403 403 415 415 415 403 403 401 401 403 403 403"},
		{route: "GET /api/v1/termination", expect: "401 403 403 404 404 404 403 403 401 401 403 403 403"},
		{route: "GET /api/v1/termination/export", expect: "401 403 403 200 200 200 403 403 401 401 403 403 403"},
		{route: "POST /api/v1/termination", expect: "401 403 403 403 202 202 403 403 401 401 403 403 403"},
		{route: "DELETE /api/v1/termination", expect: "401 403 403 403 200 200 403 403 401 401 403 403 403"},
		{route: "GET /api/v1/reviews/due", expect: "401 200 403 200 200 200 403 403 401 401 403 403 403"},
		{route: "POST /api/v1/documents/{id}/review", param: func(s *scenarioEnv) string { return s.freshDoc() }, body: fixed(map[string]string{"decision": "keep", "review_date": "2099-01-01"}), expect: "401 200 403 200 200 404 403 403 401 401 403 403 403"},

		// Messages: whoever works with documents sends and reads them;
		// owners and admins register endpoints; only operators decide on
		// them; only keys with messages:receive deliver into an inbox.
		// Another tenant's message or endpoint answers like a missing one.
		{route: "POST /api/v1/messages", body: func(s *scenarioEnv) any {
			return map[string]any{"to": map[string]string{"tenant": s.slugC}, "type": "note", "data": map[string]string{"text": "hej"}}
		}, expect: "401 201 403 201 201 201 403 403 401 401 403 403 403"},
		{route: "GET /api/v1/messages", expect: "401 200 403 200 200 200 403 403 401 401 403 403 403"},
		{route: "POST /api/v1/messages/inbound", body: fixed(map[string]string{"a": "b"}), expect: "401 403 403 403 403 403 403 403 401 401 403 403 403"},
		{route: "GET /api/v1/messages/{id}", param: func(s *scenarioEnv) string { return s.msgA }, expect: "401 200 403 200 200 404 403 403 401 401 403 403 403"},
		{route: "GET /api/v1/messages/{id}/payload", param: func(s *scenarioEnv) string { return s.msgA }, expect: "401 200 403 200 200 404 403 403 401 401 403 403 403"},
		{route: "POST /api/v1/messages/{id}/ack", param: func(s *scenarioEnv) string { return s.inboxA }, expect: "401 200 403 200 200 404 403 403 401 401 403 403 403"},
		{route: "POST /api/v1/messages/{id}/resend", param: func(s *scenarioEnv) string { return s.msgA }, expect: "401 409 403 409 409 404 403 403 401 401 403 403 403"},
		{route: "GET /api/v1/message-endpoints", expect: "401 200 403 200 200 200 403 403 401 401 403 403 403"},
		{route: "POST /api/v1/message-endpoints", body: fixed(map[string]string{"name": "Partner", "url": "https://partner.example/in", "region": "se-sto"}), expect: "401 403 403 201 201 201 403 403 401 401 403 403 403"},
		{route: "GET /api/v1/message-endpoints/{id}", param: func(s *scenarioEnv) string { return s.endpointA }, expect: "401 200 403 200 200 404 403 403 401 401 403 403 403"},
		{route: "DELETE /api/v1/message-endpoints/{id}", param: func(s *scenarioEnv) string { return s.freshEndpoint() }, expect: "401 403 403 204 204 404 403 403 401 401 403 403 403"},
		{route: "GET /api/v1/endpoint-reviews", expect: "401 403 403 403 403 403 200 200 401 401 403 403 403"},
		{route: "POST /api/v1/tenants/{tenant}/message-endpoints/{id}/decision", pathf: func(s *scenarioEnv) string {
			return "/api/v1/tenants/" + s.tenantA.ID + "/message-endpoints/" + s.freshEndpoint() + "/decision"
		}, body: fixed(map[string]any{"decision": "approve", "version": 1, "comment": "agreed in contract 12"}), expect: "401 403 403 403 403 403 200 200 401 401 403 403 403"},
		{route: "GET /api/v1/converters", expect: "401 200 200 200 200 200 200 200 401 401 200 403 403"},

		// Operator access (OPS-1..3): operators ask; security operators
		// (never the requester) decide or take break-glass access; the
		// organisation's owners, admins and auditors see requests on it;
		// owners consent and revoke; the requester may withdraw. Another
		// tenant's request answers like a missing one.
		{route: "GET /api/v1/reports/measures", pathf: func(s *scenarioEnv) string { return "/api/v1/reports/measures?tenant=" + s.tenantA.ID },
			expect: "401 403 200 200 200 404 200 200 401 401 403 403 403"},
		{route: "GET /api/v1/access-requests", expect: "401 403 200 200 200 200 200 200 401 401 403 403 403"},
		{route: "POST /api/v1/access-requests", body: func(s *scenarioEnv) any {
			return map[string]string{"tenant": s.tenantA.ID, "scope": "messages", "reason": "scenario: a message that did not arrive", "duration": "15m"}
		}, expect: "401 403 403 403 403 403 201 201 401 401 403 403 403"},
		{route: "POST /api/v1/access-requests/break-glass", body: func(s *scenarioEnv) any {
			return map[string]string{"tenant": s.tenantA.ID, "scope": "messages", "reason": "scenario: an outage needs the messages now", "duration": "2h"}
		}, expect: "401 403 403 403 403 403 403 201 401 401 403 403 403"},
		{route: "GET /api/v1/access-requests/{id}", param: func(s *scenarioEnv) string { return s.accessA }, expect: "401 403 200 200 200 404 200 200 401 401 403 403 403"},
		{route: "POST /api/v1/access-requests/{id}/decision", param: func(s *scenarioEnv) string { return s.freshAccess() },
			body: fixed(map[string]string{"decision": "approve", "comment": "ticket 1 checked"}), expect: "401 403 403 403 403 403 403 200 401 401 403 403 403"},
		{route: "POST /api/v1/access-requests/{id}/consent", param: func(s *scenarioEnv) string { return s.freshAccess() },
			body: fixed(map[string]string{"consent": "give"}), expect: "401 403 403 403 409 404 403 403 401 401 403 403 403"},
		{route: "POST /api/v1/access-requests/{id}/revoke", param: func(s *scenarioEnv) string { return s.freshAccess() }, expect: "401 403 403 403 200 404 200 200 401 401 403 403 403"},
	}
}

// freshAccess files a fresh access request of the operator (not security)
// for tenant A's audit trail and returns its id. The operator's current
// client is used: the table's relogins replace it.
func (s *scenarioEnv) freshAccess() string {
	c := s.operator
	for _, p := range s.principals {
		if p.name == "operator" {
			c = p.client
		}
	}
	var r struct{ ID string }
	c.must(201, "POST", "/api/v1/access-requests", map[string]string{"tenant": s.tenantA.ID, "scope": "audit",
		"reason": "scenario: checking the audit trail for ticket 1", "duration": "30m"}).json(s.ts.t, &r)
	return r.ID
}

// freshEndpoint registers a fresh endpoint of tenant A and returns its id.
func (s *scenarioEnv) freshEndpoint() string {
	var reg struct {
		Endpoint struct{ ID string } `json:"endpoint"`
	}
	s.ownerA.must(201, "POST", "/api/v1/message-endpoints", map[string]string{"name": s.unique("Partner "), "url": "https://partner.example/in", "region": "se-sto"}).json(s.ts.t, &reg)
	return reg.Endpoint.ID
}

func TestAuthorizationScenarios(t *testing.T) {
	env := setupScenarios(t)
	table := map[string]scenario{}
	for _, sc := range scenarios() {
		table[sc.route] = sc
	}
	// Every route must be in the table, and every row must be a route.
	var routes []string
	actions := map[string]string{}
	for _, r := range api.New(api.Deps{}).Routes() {
		key := r.Method + " " + r.Pattern
		routes = append(routes, key)
		actions[key] = r.Action
		if _, ok := table[key]; !ok {
			t.Errorf("route %s is not in the authorization scenario table", key)
		}
	}
	for key := range table {
		found := false
		for _, r := range routes {
			found = found || r == key
		}
		if !found {
			t.Errorf("scenario %s names no route", key)
		}
	}
	update := os.Getenv("VALV_SCENARIO_PRINT") != ""
	var printed []string
	for _, sc := range scenarios() {
		want := strings.Fields(sc.expect)
		if len(want) != len(principalNames) {
			t.Fatalf("%s: %d expectations for %d principals", sc.route, len(want), len(principalNames))
		}
		method, pattern, _ := strings.Cut(sc.route, " ")
		var got []string
		for i, p := range env.principals {
			path := sc.path
			if path == "" {
				path = pattern
			}
			if sc.param != nil {
				path = paramPattern.ReplaceAllString(pattern, sc.param(env))
			}
			if sc.pathf != nil {
				path = sc.pathf(env)
			}
			var body any
			if sc.body != nil {
				body = sc.body(env)
			}
			c := p.client
			if sc.fresh && p.relogin != nil {
				c = p.relogin()
			}
			r := env.do(p, c, method, path, body)
			got = append(got, strconv.Itoa(r.Status))
			if !update && strconv.Itoa(r.Status) != want[i] {
				t.Errorf("%s as %s: %d, want %s: %s", sc.route, p.name, r.Status, want[i], firstN(r.Body, 160))
			}
			if r.Status >= 500 {
				t.Errorf("%s as %s: server error %d", sc.route, p.name, r.Status)
			}
			env.checkAudit(t, sc.route, actions[sc.route], p, r)
			if !p.tenantA {
				leaks := env.secretsA
				if p.name != "operator" && p.name != "security" {
					leaks = append(append([]string{}, leaks...), env.metadataA...)
				}
				for _, secret := range leaks {
					if bytes.Contains(r.Body, []byte(secret)) {
						t.Errorf("%s as %s: the response holds tenant A's %q", sc.route, p.name, secret)
					}
				}
			}
			// Probing another tenant's id answers like a missing id.
			if p.name == "other_owner" && sc.param != nil && r.Status == 404 {
				missing := env.do(p, c, method, paramPattern.ReplaceAllString(pattern, uuid.NewString()), body)
				if missing.Status != r.Status || normalise(missing.Body) != normalise(r.Body) {
					t.Errorf("%s: another tenant's id answers %d %s, a missing id %d %s", sc.route, r.Status, r.Body, missing.Status, missing.Body)
				}
			}
		}
		printed = append(printed, fmt.Sprintf("%-45s %s", sc.route, strings.Join(got, " ")))
		if sc.fresh {
			env.relogin() // logging out everywhere ended the principals' own sessions too
		}
	}
	if update {
		sort.Strings(printed)
		t.Log("\n" + strings.Join(printed, "\n"))
	}
}

// checkAudit asserts the audit entry of a call (AUD-1): found by the
// call's request id, it names the route's action, the principal and the
// call's outcome — for refusals too.
func (s *scenarioEnv) checkAudit(t *testing.T, route, action string, p *principal, r response) {
	t.Helper()
	id := r.Header.Get("X-Request-Id")
	if id == "" {
		t.Errorf("%s as %s: no X-Request-Id", route, p.name)
		return
	}
	entries := s.ts.auditEntries(audit.Filter{RequestID: id})
	if len(entries) == 0 {
		t.Errorf("%s as %s: no audit entry for request %s", route, p.name, id)
		return
	}
	want := audit.OutcomeOf(r.Status)
	final := false
	for _, e := range entries {
		if e.ActorType == "system" && e.ActorID == "messages" {
			continue // in the other party's chain: a message received or acknowledged
		}
		if e.Action != action || e.ActorType != p.actorType || e.ActorID != p.actorID {
			t.Errorf("%s as %s: audit entry %s by %s %q, want %s by %s %q", route, p.name, e.Action, e.ActorType, e.ActorID, action, p.actorType, p.actorID)
		}
		if p.refusedKey != "" && (e.ResourceType != "api_key" || e.ResourceID != p.refusedKey) {
			t.Errorf("%s as %s: audit entry names %s %q, want the refused key", route, p.name, e.ResourceType, e.ResourceID)
		}
		switch {
		case e.Outcome == want && (e.Status == r.Status || e.Status == 0 && want == audit.Success):
			final = true
		case e.Outcome == audit.Success:
			// A change committed before the call failed.
		default:
			t.Errorf("%s as %s: audit outcome %s (status %d), want %s (%d)", route, p.name, e.Outcome, e.Status, want, r.Status)
		}
	}
	if !final {
		t.Errorf("%s as %s: no audit entry with the call's outcome %s", route, p.name, want)
	}
}

// auditEntries finds entries in every chain.
func (ts *testServer) auditEntries(f audit.Filter) []audit.View {
	ts.t.Helper()
	ctx := context.Background()
	chains, err := ts.app.Trail.Chains(ctx)
	if err != nil {
		ts.t.Fatal(err)
	}
	var out []audit.View
	for _, c := range chains {
		vs, _, err := ts.app.Trail.Query(ctx, c, f, "", audit.MaxPage)
		if err != nil {
			ts.t.Fatal(err)
		}
		out = append(out, vs...)
	}
	return out
}

// relogin gives every session principal a new session.
func (s *scenarioEnv) relogin() {
	// An hour on, so the operators' e-mailed codes stay under their
	// hourly limit; every session principal logs in anew anyway.
	s.ts.clock.Advance(time.Hour)
	for _, p := range s.principals {
		if p.relogin != nil {
			p.client = p.relogin()
		}
		switch p.name {
		case "owner":
			s.ownerA = p.client
		case "member":
			var sessions []struct {
				ID string `json:"id"`
			}
			p.client.must(200, "GET", "/api/v1/sessions", nil).json(s.ts.t, &sessions)
			s.memberSess = sessions[0].ID
		}
	}
}

var paramPattern = regexp.MustCompile(`\{[a-z_]+\}`)

func normalise(body []byte) string {
	var env map[string]map[string]any
	if json.Unmarshal(body, &env) != nil {
		return string(body)
	}
	delete(env["error"], "request_id")
	b, _ := json.Marshal(env)
	return string(b)
}

// do sends a request as a principal: with its session cookie (client) or
// its API key and headers.
func (s *scenarioEnv) do(p *principal, c *client, method, path string, body any) response {
	s.ts.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.ts.base+path, rd)
	if err != nil {
		s.ts.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range p.header {
		req.Header[k] = v
	}
	resp, err := c.http.Do(req)
	if err != nil {
		s.ts.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return response{Status: resp.StatusCode, Body: data, Header: resp.Header}
}

// login logs a user of a tenant in with a fresh client.
func (ts *testServer) login(slug, email string) *client {
	c := ts.client()
	c.must(200, "POST", "/api/v1/auth/login", map[string]string{"tenant": slug, "email": email, "password": testPassword})
	return c
}

// operatorLogin logs an operator in (with an e-mailed code).
func (ts *testServer) operatorLogin(email string) *client {
	c := ts.client()
	var lr loginResp
	c.must(200, "POST", "/api/v1/auth/login", map[string]string{"email": email, "password": testPassword}).json(ts.t, &lr)
	ts.emailCodeLogin(c, lr.Challenge, email)
	return c
}

func setupScenarios(t *testing.T) *scenarioEnv {
	ts := startServer(t, withClamd(t))
	env := &scenarioEnv{ts: ts}
	security := ts.operator()
	var inv struct {
		Account   struct{ ID string } `json:"account"`
		SetupLink string              `json:"setup_link"`
	}
	security.must(201, "POST", "/api/v1/operators", map[string]string{"email": "op2@valv.test", "role": "operator"}).json(t, &inv)
	ts.client().must(200, "POST", "/api/v1/auth/setup", map[string]string{"token": tokenOf(t, inv.SetupLink), "password": testPassword})
	operator := ts.operatorLogin("op2@valv.test")

	slugA, ownerA := ts.tenantWithOwner(security, "Tenant Alfa AB", "owner@alfa.se")
	env.ownerA = ownerA
	ownerA.must(200, "GET", "/api/v1/tenant", nil).json(t, &env.tenantA)
	users := map[string]*client{}
	for _, role := range []string{"member", "auditor", "admin"} {
		email := role + "@alfa.se"
		ownerA.must(201, "POST", "/api/v1/users", map[string]string{"email": email, "role": role}).json(t, &inv)
		ts.client().must(200, "POST", "/api/v1/auth/setup", map[string]string{"token": tokenOf(t, inv.SetupLink), "password": testPassword})
		users[role] = ts.login(slugA, email)
		if role == "admin" {
			env.adminID = inv.Account.ID
		}
		env.secretsA = append(env.secretsA, email, inv.Account.ID)
	}
	slugB, ownerB := ts.tenantWithOwner(security, "Tenant Beta AB", "owner@beta.se")

	// Tenant A's document type and a document with a file and subjects.
	ownerA.must(200, "PUT", "/api/v1/document-types/invoice", map[string]any{"schema": map[string]any{"type": "object"}})
	var doc struct{ ID string }
	ownerA.upload(map[string]any{"type": "invoice", "data": map[string]string{"customer": "Alfa Kund"},
		"subjects": []map[string]string{{"kind": "personnummer", "value": "19811218-9876"}}},
		"faktura.pdf", "application/pdf", []byte("%PDF-1.7\nplanted-secret-content"), nil).json(t, &doc)
	env.docA = doc.ID
	env.secretsA = append(env.secretsA, doc.ID, "Alfa Kund", "planted-secret-content")
	// A culling report: an old note is culled.
	ownerA.must(201, "POST", "/api/v1/documents", map[string]any{"type": "note", "document_date": "2001-01-01", "data": map[string]string{"text": "old"}})
	res, err := ts.app.Cull(context.Background(), nil, archive.CullOptions{})
	if err != nil || len(res.Reports) != 1 {
		t.Fatalf("culling for the scenarios: %+v %v", res, err)
	}
	for _, id := range res.Reports {
		env.reportA = id
	}
	env.secretsA = append(env.secretsA, env.reportA)
	ownerA.must(201, "POST", "/api/v1/holds", map[string]any{"scope": "document", "document_id": doc.ID, "reason": "Tvist med Alfa Kund, planted-hold-reason"})
	env.secretsA = append(env.secretsA, "planted-hold-reason")
	var req struct{ ID, Status string }
	ownerA.must(201, "POST", "/api/v1/subject-requests", map[string]any{"kind": "portability",
		"subjects": []map[string]string{{"kind": "personnummer", "value": "19811218-9876"}}}).json(t, &req)
	if req.Status != "completed" {
		t.Fatalf("the scenarios' access request: %s", req.Status)
	}
	env.requestA = req.ID
	env.secretsA = append(env.secretsA, req.ID)
	// Messages between A and a third tenant C (a message discloses its
	// sender to its recipient by design, so B stays out of it), and an
	// endpoint of A.
	slugC, ownerC := ts.tenantWithOwner(security, "Tenant Gamma AB", "owner@gamma.se")
	env.slugC = slugC
	var msg struct{ ID string }
	ownerA.must(201, "POST", "/api/v1/messages", map[string]any{"to": map[string]string{"tenant": slugC}, "type": "note",
		"data": map[string]string{"text": "planted-message-data"}}).json(t, &msg)
	env.msgA = msg.ID
	ownerC.must(201, "POST", "/api/v1/messages", map[string]any{"to": map[string]string{"tenant": slugA}, "type": "note",
		"data": map[string]string{"text": "from gamma"}})
	var inbox struct{ Items []struct{ ID string } }
	ownerA.must(200, "GET", "/api/v1/messages?box=inbox", nil).json(t, &inbox)
	if len(inbox.Items) != 1 {
		t.Fatalf("tenant A's inbox: %+v", inbox)
	}
	env.inboxA = inbox.Items[0].ID
	env.endpointA = env.freshEndpoint()
	env.secretsA = append(env.secretsA, env.msgA, env.inboxA, "planted-message-data")

	key := func(scopes []string, allowed []string, expires *time.Time) (string, string) {
		var k struct {
			APIKey struct{ ID string } `json:"api_key"`
			Key    string              `json:"key"`
		}
		body := map[string]any{"name": env.unique("key"), "scopes": scopes, "allowed_ips": allowed}
		if expires != nil {
			body["expires_at"] = expires
		}
		ownerA.must(201, "POST", "/api/v1/api-keys", body).json(t, &k)
		return k.APIKey.ID, k.Key
	}
	all := []string{"tenant:read", "users:read", "documents:read", "documents:write", "messages:read", "messages:send", "audit:read", "gdpr:manage", "retention:manage", "validate"}
	revokedID, revoked := key(all, nil, nil)
	ownerA.must(204, "DELETE", "/api/v1/api-keys/"+revokedID, nil)
	soon := ts.clock.Now().Add(time.Minute)
	expiredID, expired := key(all, nil, &soon)
	wrongID, wrong := key([]string{"validate"}, nil, nil)
	env.keyID = wrongID
	disallowedID, disallowed := key(all, []string{"192.0.2.55"}, nil)
	proxiedID, proxied := key(all, []string{"203.0.113.7/32"}, nil)
	ts.clock.Advance(2 * time.Minute) // the expiring key is now expired
	bearer := func(k string) http.Header { return http.Header{"Authorization": {"Bearer " + k}} }
	proxyHeader := bearer(proxied)
	proxyHeader.Set("X-Forwarded-For", "203.0.113.7")

	var sessions []struct {
		ID string `json:"id"`
	}
	users["member"].must(200, "GET", "/api/v1/sessions", nil).json(t, &sessions)
	env.memberSess = sessions[0].ID
	env.secretsA = append(env.secretsA, "owner@alfa.se", "security@alfa.se", wrongID, env.memberSess)
	env.metadataA = []string{env.tenantA.ID, env.tenantA.Slug, env.tenantA.Name}
	env.operator = operator
	env.accessA = env.freshAccess()

	anon := ts.client()
	env.principals = []*principal{
		{name: "anonymous", client: anon},
		{name: "member", client: users["member"], tenantA: true, relogin: func() *client { return ts.login(slugA, "member@alfa.se") }},
		{name: "auditor", client: users["auditor"], tenantA: true, relogin: func() *client { return ts.login(slugA, "auditor@alfa.se") }},
		{name: "admin", client: users["admin"], tenantA: true, relogin: func() *client { return ts.login(slugA, "admin@alfa.se") }},
		{name: "owner", client: ownerA, tenantA: true, relogin: func() *client { return ts.login(slugA, "owner@alfa.se") }},
		{name: "other_owner", client: ownerB, relogin: func() *client { return ts.login(slugB, "owner@beta.se") }},
		{name: "operator", client: operator, relogin: func() *client { return ts.operatorLogin("op2@valv.test") }},
		{name: "security", client: security, relogin: func() *client { return ts.operatorLogin("ops@valv.test") }},
		{name: "revoked_key", client: anon, header: bearer(revoked), tenantA: true, actorType: "anonymous", refusedKey: revokedID},
		{name: "expired_key", client: anon, header: bearer(expired), tenantA: true, actorType: "anonymous", refusedKey: expiredID},
		{name: "wrong_scope_key", client: anon, header: bearer(wrong), tenantA: true, actorType: "api_key", actorID: wrongID},
		{name: "disallowed_ip_key", client: anon, header: bearer(disallowed), tenantA: true, actorType: "anonymous", refusedKey: disallowedID},
		{name: "untrusted_proxy_key", client: anon, header: proxyHeader, tenantA: true, actorType: "anonymous", refusedKey: proxiedID},
	}
	for _, p := range env.principals {
		if p.name == "anonymous" {
			p.actorType = "anonymous"
		}
		if p.relogin == nil {
			continue
		}
		var me struct {
			Principal struct {
				Kind string `json:"kind"`
				ID   string `json:"id"`
			} `json:"principal"`
		}
		p.client.must(200, "GET", "/api/v1/auth/me", nil).json(t, &me)
		p.actorType, p.actorID = me.Principal.Kind, me.Principal.ID
	}
	return env
}
