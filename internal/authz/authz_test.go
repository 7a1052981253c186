package authz

import (
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func user(role Role, tenant string) Principal {
	return Principal{Kind: User, ID: "u-" + string(role), TenantID: tenant, Role: role}
}

func operator(role Role) Principal {
	return Principal{Kind: Operator, ID: "op-" + string(role), Role: role}
}

// expected lists, for every action, which principals may perform it on
// their own tenant's resource (or a platform resource for platform
// actions). Every action in the matrix must be listed: a new action fails
// this test until its expectations are written down.
var expected = map[Action][]string{
	TenantCreate:         {"operator", "security"},
	TenantList:           {"operator", "security"},
	TenantRead:           {"owner", "admin", "member", "auditor", "operator", "security"},
	TenantSuspend:        {"operator", "security"},
	TenantDelete:         {"owner"},
	TenantSettingsRead:   {"owner", "admin"},
	TenantSettingsUpdate: {"owner", "admin"},
	OIDCConfigure:        {"owner", "admin"},
	UserList:             {"owner", "admin"},
	UserRead:             {"owner", "admin"},
	UserCreate:           {"owner", "admin"},
	UserUpdate:           {"owner", "admin"},
	UserDelete:           {"owner", "admin"},
	UserMakeOwner:        {"owner"},
	OperatorCreate:       {"security"},
	OperatorList:         {"security"},
	SelfRead:             {},
	SelfSessions:         {},
	SelfCredentials:      {},
	SessionsRevokeAny:    {"owner", "admin"},
	KeysManage:           {"security"},
	GuardList:            {"operator", "security"},
	ConsoleRead:          {"operator", "security"},
	ReportMeasures:       {"owner", "admin", "auditor", "operator", "security"},
	GuardManage:          {"security"},
	APIKeyList:           {"owner", "admin"},
	APIKeyCreate:         {"owner", "admin"},
	APIKeyUpdate:         {"owner", "admin"},
	APIKeyRevoke:         {"owner", "admin"},
	AuditRead:            {"owner", "auditor"},
	AuditPlatformRead:    {"security"},
	AuditHistoryRead:     {"owner", "admin"},
	DataValidate:         {"owner", "admin", "member", "auditor"},
	DocumentCreate:       {"owner", "admin", "member"},
	DocumentRead:         {"owner", "admin", "member"},
	DocumentList:         {"owner", "admin", "member"},
	DocumentUpdate:       {"owner", "admin", "member"},
	DocumentDelete:       {"owner", "admin", "member"},
	DocumentTypeRead:     {"owner", "admin", "member"},
	DocumentTypeManage:   {"owner", "admin"},
	DocumentReview:       {"owner", "admin", "member"},
	RetentionRead:        {"owner", "admin", "auditor"},
	RetentionManage:      {"owner", "admin"},
	RetentionContract:    {"owner"},
	HoldRead:             {"owner", "admin", "auditor"},
	HoldManage:           {"owner", "admin"},
	CullReportRead:       {"owner", "auditor"},
	RetentionCull:        {"security"},
	SubjectRequestCreate: {"owner", "admin"},
	SubjectRequestRead:   {"owner", "admin"},
	SubjectImport:        {"owner", "admin"},
	TerminationRead:      {"owner", "admin"},
	MessageSend:          {"owner", "admin", "member"},
	MessageRead:          {"owner", "admin", "member"},
	MessageAck:           {"owner", "admin", "member"},
	MessageResend:        {"owner", "admin", "member"},
	MessageReceive:       {},
	EndpointRead:         {"owner", "admin", "member", "operator", "security"},
	EndpointManage:       {"owner", "admin"},
	EndpointApprove:      {"operator", "security"},
	AccessRequest:        {"operator", "security"},
	AccessDecide:         {"security"},
	AccessBreakGlass:     {"security"},
	AccessRevoke:         {"owner", "security"},
	AccessList:           {"operator", "security"},
	AccessRead:           {"owner", "admin", "auditor", "operator", "security"},
	AccessConsent:        {"owner"},
}

func TestEveryRoleAndAction(t *testing.T) {
	principals := map[string]Principal{
		"owner": user(Owner, "t1"), "admin": user(Admin, "t1"), "member": user(Member, "t1"), "auditor": user(Auditor, "t1"),
		"operator": operator(RoleOperator), "security": operator(RoleSecurity),
	}
	for _, a := range Actions() {
		want, ok := expected[a]
		if !ok {
			t.Errorf("action %s has no expectations in this test", a)
			continue
		}
		for name, p := range principals {
			r := Resource{TenantID: "t1", ID: "x"}
			if p.Kind == Operator && !matrix[a].tenantMetadata {
				r = Resource{ID: "x"} // platform resource
			}
			d := Decide(p, a, r, now)
			allowed := false
			for _, w := range want {
				allowed = allowed || w == name
			}
			if d.Allowed != allowed {
				t.Errorf("%s %s: allowed = %v (%s), want %v", name, a, d.Allowed, d.Reason, allowed)
			}
			if d.Reason == "" {
				t.Errorf("%s %s: no reason", name, a)
			}
		}
	}
	for a := range expected {
		if _, ok := matrix[a]; !ok {
			t.Errorf("expectation for unknown action %s", a)
		}
	}
}

func TestDenyByDefault(t *testing.T) {
	tests := []struct {
		name string
		p    Principal
		a    Action
		r    Resource
		why  string
	}{
		{"anonymous", Principal{}, TenantRead, Resource{TenantID: "t1"}, "not authenticated"},
		{"unknown action", user(Owner, "t1"), Action("document.frobnicate"), Resource{TenantID: "t1"}, "unknown action"},
		{"other tenant", user(Owner, "t1"), UserList, Resource{TenantID: "t2"}, "another tenant"},
		{"unknown role", user(Role("superuser"), "t1"), UserList, Resource{TenantID: "t1"}, "may not"},
		{"user without tenant", Principal{Kind: User, ID: "u", Role: Owner}, UserList, Resource{TenantID: ""}, "no tenant"},
		{"unknown kind", Principal{Kind: Kind("robot"), ID: "r"}, TenantRead, Resource{}, "unknown kind"},
		{"operator on tenant settings", operator(RoleSecurity), TenantSettingsRead, Resource{TenantID: "t1"}, "may not"},
		{"system not allowed", Principal{Kind: System, ID: "job"}, UserList, Resource{TenantID: "t1"}, "not a system action"},
		{"someone else's sessions", user(Member, "t1"), SelfSessions, Resource{TenantID: "t1", Owner: "u-other"}, "may not"},
	}
	for _, tt := range tests {
		d := Decide(tt.p, tt.a, tt.r, now)
		if d.Allowed || !strings.Contains(d.Reason, tt.why) {
			t.Errorf("%s: %+v, want denied (%s)", tt.name, d, tt.why)
		}
	}
}

func TestSelfActions(t *testing.T) {
	for _, p := range []Principal{user(Member, "t1"), user(Auditor, "t1"), operator(RoleOperator)} {
		r := Resource{TenantID: p.TenantID, Owner: p.ID}
		for _, a := range []Action{SelfRead, SelfSessions, SelfCredentials} {
			if d := Decide(p, a, r, now); !d.Allowed {
				t.Errorf("%s %s own: %s", p.Role, a, d.Reason)
			}
		}
		// A member may read their own user record, not others'.
		if p.Kind == User {
			if !Decide(p, UserRead, Resource{TenantID: "t1", ID: p.ID, Owner: p.ID}, now).Allowed {
				t.Errorf("%s cannot read own record", p.Role)
			}
			if Decide(p, UserRead, Resource{TenantID: "t1", ID: "other", Owner: "other"}, now).Allowed {
				t.Errorf("%s reads another user's record", p.Role)
			}
		}
	}
}

func TestGrants(t *testing.T) {
	invoices := Grant{ID: "g1", TenantID: "t1", Scope: GrantDocumentsOfType, DocType: "invoice", Reason: "ticket 7", Expires: now.Add(time.Hour)}
	one := Grant{ID: "g2", TenantID: "t1", Scope: GrantDocument, DocID: "d9", Reason: "r", Expires: now.Add(time.Hour)}
	auditG := Grant{ID: "g3", TenantID: "t1", Scope: GrantAudit, Reason: "r", Expires: now.Add(time.Hour)}
	msgs := Grant{ID: "g4", TenantID: "t1", Scope: GrantMessages, Reason: "r", Expires: now.Add(time.Hour)}
	expired := invoices
	expired.ID, expired.Expires = "g5", now
	withGrants := func(gs ...Grant) Principal {
		p := operator(RoleOperator)
		p.Grants = gs
		return p
	}
	tests := []struct {
		name  string
		p     Principal
		a     Action
		r     Resource
		grant string // the grant that allows it; "" = denied
	}{
		{"no grant", withGrants(), DocumentRead, Resource{TenantID: "t1", ID: "d1", DocType: "invoice"}, ""},
		{"type grant reads its type", withGrants(invoices), DocumentRead, Resource{TenantID: "t1", ID: "d1", DocType: "invoice"}, "g1"},
		{"type grant lists its type", withGrants(invoices), DocumentList, Resource{TenantID: "t1", DocType: "invoice"}, "g1"},
		{"type grant, other type", withGrants(invoices), DocumentRead, Resource{TenantID: "t1", ID: "d1", DocType: "contract"}, ""},
		{"type grant, list of every type", withGrants(invoices), DocumentList, Resource{TenantID: "t1"}, ""},
		{"type grant, other tenant", withGrants(invoices), DocumentRead, Resource{TenantID: "t2", ID: "d1", DocType: "invoice"}, ""},
		{"type grant, write", withGrants(invoices), DocumentUpdate, Resource{TenantID: "t1", ID: "d1", DocType: "invoice"}, ""},
		{"type grant, delete", withGrants(invoices), DocumentDelete, Resource{TenantID: "t1", ID: "d1", DocType: "invoice"}, ""},
		{"type grant, audit", withGrants(invoices), AuditRead, Resource{TenantID: "t1"}, ""},
		{"expired grant", withGrants(expired), DocumentRead, Resource{TenantID: "t1", ID: "d1", DocType: "invoice"}, ""},
		{"document grant reads it", withGrants(one), DocumentRead, Resource{TenantID: "t1", ID: "d9", DocType: "invoice"}, "g2"},
		{"document grant, other document", withGrants(one), DocumentRead, Resource{TenantID: "t1", ID: "d8", DocType: "invoice"}, ""},
		{"document grant, list", withGrants(one), DocumentList, Resource{TenantID: "t1", DocType: "invoice"}, ""},
		{"audit grant", withGrants(auditG), AuditRead, Resource{TenantID: "t1"}, "g3"},
		{"audit grant, documents", withGrants(auditG), DocumentList, Resource{TenantID: "t1", DocType: "invoice"}, ""},
		{"audit grant, payload history", withGrants(auditG), AuditHistoryRead, Resource{TenantID: "t1"}, ""},
		{"messages grant", withGrants(msgs), MessageRead, Resource{TenantID: "t1", ID: "m1"}, "g4"},
		{"messages grant, send", withGrants(msgs), MessageSend, Resource{TenantID: "t1"}, ""},
		{"messages grant, ack", withGrants(msgs), MessageAck, Resource{TenantID: "t1", ID: "m1"}, ""},
		{"the second of two grants", withGrants(expired, invoices), DocumentRead, Resource{TenantID: "t1", ID: "d1", DocType: "invoice"}, "g1"},
		{"a user with a grant", func() Principal { p := user(Member, "t2"); p.Grants = []Grant{invoices}; return p }(), DocumentRead, Resource{TenantID: "t1", ID: "d1", DocType: "invoice"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Decide(tt.p, tt.a, tt.r, now)
			if d.Allowed != (tt.grant != "") {
				t.Fatalf("allowed = %v (%s), want %v", d.Allowed, d.Reason, tt.grant != "")
			}
			if tt.grant == "" {
				if d.Grant != nil {
					t.Errorf("a refusal names grant %s", d.Grant.ID)
				}
				return
			}
			if d.Grant == nil || d.Grant.ID != tt.grant {
				t.Errorf("decision names grant %+v, want %s", d.Grant, tt.grant)
			}
		})
	}
}

// BenchmarkDecide is an ordinary request's decision, and an operator's
// under access grants (the last of three matching).
func BenchmarkDecide(b *testing.B) {
	b.Run("member", func(b *testing.B) {
		p := user(Member, "t1")
		r := Resource{TenantID: "t1", ID: "d"}
		for i := 0; i < b.N; i++ {
			_ = Decide(p, TenantRead, r, now)
		}
	})
	b.Run("member-document", func(b *testing.B) {
		p := user(Member, "t1")
		r := Resource{TenantID: "t1", ID: "d", DocType: "invoice"}
		for i := 0; i < b.N; i++ {
			_ = Decide(p, DocumentRead, r, now)
		}
	})
	b.Run("operator-grant", func(b *testing.B) {
		p := operator(RoleOperator)
		for i, typ := range []string{"contract", "payslip", "invoice"} {
			p.Grants = append(p.Grants, Grant{ID: "g" + typ, TenantID: "t1", Scope: GrantDocumentsOfType, DocType: typ, Expires: now.Add(time.Duration(i+1) * time.Hour)})
		}
		r := Resource{TenantID: "t1", ID: "d", DocType: "invoice"}
		for i := 0; i < b.N; i++ {
			_ = Decide(p, DocumentRead, r, now)
		}
	})
}
