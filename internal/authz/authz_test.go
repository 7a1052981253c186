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

func BenchmarkDecide(b *testing.B) {
	p := user(Member, "t1")
	r := Resource{TenantID: "t1", ID: "d"}
	for i := 0; i < b.N; i++ {
		_ = Decide(p, TenantRead, r, now)
	}
}
