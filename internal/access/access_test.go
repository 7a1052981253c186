package access

import (
	"strings"
	"testing"
	"time"

	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/problem"
	"github.com/valvhq/valv/internal/store"
)

var t0 = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func TestState(t *testing.T) {
	base := store.AccessGrantRow{CreatedAt: t0, Approval: approvalPending, Consent: consentNotRequired}
	with := func(f func(r *store.AccessGrantRow)) store.AccessGrantRow { r := base; f(&r); return r }
	active := func(r *store.AccessGrantRow) {
		r.Approval, r.ActivatedAt, r.ExpiresAt = approvalApproved, t0.Add(time.Minute), t0.Add(time.Hour)
	}
	tests := []struct {
		name string
		r    store.AccessGrantRow
		at   time.Time
		want string
	}{
		{"filed", base, t0, StatePending},
		{"lapsed", base, t0.Add(RequestLifetime), StateLapsed},
		{"denied", with(func(r *store.AccessGrantRow) { r.Approval = approvalDenied }), t0, StateDenied},
		{"awaiting consent", with(func(r *store.AccessGrantRow) { r.Approval, r.Consent = approvalApproved, consentPending }), t0, StateAwaitingConsent},
		{"consent lapsed", with(func(r *store.AccessGrantRow) { r.Approval, r.Consent = approvalApproved, consentPending }), t0.Add(RequestLifetime), StateLapsed},
		{"refused", with(func(r *store.AccessGrantRow) { r.Approval, r.Consent = approvalApproved, consentRefused }), t0, StateRefused},
		{"active", with(active), t0.Add(30 * time.Minute), StateActive},
		{"active past the request's lifetime", with(func(r *store.AccessGrantRow) {
			active(r)
			r.ExpiresAt = t0.Add(RequestLifetime + time.Hour)
		}), t0.Add(RequestLifetime), StateActive},
		{"expired at its end", with(active), t0.Add(time.Hour), StateExpired},
		{"revoked", with(func(r *store.AccessGrantRow) { active(r); r.RevokedAt = t0.Add(2 * time.Minute) }), t0.Add(3 * time.Minute), StateRevoked},
		{"withdrawn", with(func(r *store.AccessGrantRow) { r.RevokedAt = t0 }), t0, StateRevoked},
	}
	for _, tt := range tests {
		if got := state(tt.r, tt.at); got != tt.want {
			t.Errorf("%s: state %s, want %s", tt.name, got, tt.want)
		}
	}
}

func TestCheck(t *testing.T) {
	s := New(Options{})
	const tenant, doc = "0193a1f2-7c4e-7d2a-9b1e-3f5a6c7d8e9f", "0193a1f2-7c4e-7d2a-9b1e-3f5a6c7d8e90"
	const reason = "Ticket 4711: a wrong total"
	ok := func(f func(in *RequestInput)) RequestInput {
		in := RequestInput{Tenant: tenant, Scope: authz.GrantAudit, Reason: reason}
		f(&in)
		return in
	}
	tests := []struct {
		name    string
		in      RequestInput
		shorten bool
		want    time.Duration
		field   string // the field refused; "" = valid
	}{
		{"audit, default duration", ok(func(*RequestInput) {}), false, time.Hour, ""},
		{"type", ok(func(in *RequestInput) { in.Scope, in.DocumentType = authz.GrantDocumentsOfType, "invoice" }), false, time.Hour, ""},
		{"type missing", ok(func(in *RequestInput) { in.Scope = authz.GrantDocumentsOfType }), false, 0, "/document_type"},
		{"type with a document", ok(func(in *RequestInput) {
			in.Scope, in.DocumentType, in.DocumentID = authz.GrantDocumentsOfType, "invoice", doc
		}), false, 0, "/document_id"},
		{"bad type name", ok(func(in *RequestInput) { in.Scope, in.DocumentType = authz.GrantDocumentsOfType, "In voice" }), false, 0, "/document_type"},
		{"document", ok(func(in *RequestInput) { in.Scope, in.DocumentID = authz.GrantDocument, doc }), false, time.Hour, ""},
		{"document, bad id", ok(func(in *RequestInput) { in.Scope, in.DocumentID = authz.GrantDocument, "x" }), false, 0, "/document_id"},
		{"audit naming a type", ok(func(in *RequestInput) { in.DocumentType = "invoice" }), false, 0, "/scope"},
		{"unknown scope", ok(func(in *RequestInput) { in.Scope = "all" }), false, 0, "/scope"},
		{"bad tenant", ok(func(in *RequestInput) { in.Tenant = "acme" }), false, 0, "/tenant"},
		{"duration", ok(func(in *RequestInput) { in.Duration = "90m" }), false, 90 * time.Minute, ""},
		{"too long", ok(func(in *RequestInput) { in.Duration = "5h" }), false, 0, "/duration"},
		{"too long, shortened", ok(func(in *RequestInput) { in.Duration = "5h" }), true, DefaultMaxDuration, ""},
		{"too short", ok(func(in *RequestInput) { in.Duration = "1m" }), false, 0, "/duration"},
		{"not a duration", ok(func(in *RequestInput) { in.Duration = "soon" }), false, 0, "/duration"},
		{"negative", ok(func(in *RequestInput) { in.Duration = "-1h" }), true, 0, "/duration"},
		{"no reason", ok(func(in *RequestInput) { in.Reason = "  " }), false, 0, "/reason"},
		{"short reason", ok(func(in *RequestInput) { in.Reason = "because" }), false, 0, "/reason"},
		{"long reason", ok(func(in *RequestInput) { in.Reason = strings.Repeat("å", maxReason+1) }), false, 0, "/reason"},
		{"reason not text", ok(func(in *RequestInput) { in.Reason = "ticket 4711 \xff\xfe" }), false, 0, "/reason"},
		{"long ticket", ok(func(in *RequestInput) { in.Ticket = strings.Repeat("t", maxTicket+1) }), false, 0, "/ticket"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			d, err := s.check(&in, s.max, tt.shorten)
			if tt.field == "" {
				if err != nil || d != tt.want {
					t.Fatalf("check = %v, %v; want %v", d, err, tt.want)
				}
				return
			}
			p, ok := problem.As(err)
			if !ok {
				t.Fatalf("check = %v, %v; want a problem on %s", d, err, tt.field)
			}
			found := false
			for _, f := range p.Fields {
				found = found || f.Field == tt.field
			}
			if !found {
				t.Fatalf("problem %+v does not name %s", p, tt.field)
			}
		})
	}
}

// FuzzCheck feeds request inputs to the validator: it must never panic,
// and whatever it accepts is a request Valv can store.
func FuzzCheck(f *testing.F) {
	f.Add("0193a1f2-7c4e-7d2a-9b1e-3f5a6c7d8e9f", "documents_of_type", "invoice", "", "Ticket 4711: a wrong total", "T-1", "2h", false)
	f.Add("0193a1f2-7c4e-7d2a-9b1e-3f5a6c7d8e9f", "document", "", "0193a1f2-7c4e-7d2a-9b1e-3f5a6c7d8e90", "reason enough here", "", "", true)
	f.Add("x", "audit", "", "", "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", "", "9999999h", true)
	s := New(Options{})
	f.Fuzz(func(t *testing.T, tenant, scope, typ, doc, reason, ticket, dur string, shorten bool) {
		in := RequestInput{Tenant: tenant, Scope: authz.GrantScope(scope), DocumentType: typ, DocumentID: doc, Reason: reason, Ticket: ticket, Duration: dur}
		d, err := s.check(&in, s.max, shorten)
		if err != nil {
			if _, ok := problem.As(err); !ok {
				t.Fatalf("not a problem: %v", err)
			}
			return
		}
		if d < MinDuration || d > s.max {
			t.Fatalf("accepted duration %v", d)
		}
		if n := len([]rune(in.Reason)); n < minReason || n > maxReason || strings.ContainsRune(in.Reason, 0) {
			t.Fatalf("accepted reason of %d runes", n)
		}
		switch in.Scope {
		case authz.GrantDocumentsOfType, authz.GrantDocument, authz.GrantAudit, authz.GrantMessages:
		default:
			t.Fatalf("accepted scope %q", in.Scope)
		}
	})
}
