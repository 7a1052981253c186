package audit

import (
	"context"
	"sync"

	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/call"
)

// Record is what is known about a call while it runs: the edge (HTTP, CLI,
// job) begins it with the call's action, services describe what they do,
// and the entry is written at the end from it — unless the services already
// wrote the call's changes with their entries.
type Record struct {
	mu        sync.Mutex
	info      call.Info
	actor     authz.Principal
	action    string
	tenantID  string
	resType   string
	resID     string
	reason    string
	grantID   string
	details   map[string]string
	committed bool
	// also are entries of other chains that Do writes in the call's
	// transaction (a message delivered into another tenant's inbox).
	also []Entry
}

type recordKey struct{}

// Begin starts the record of a call and returns the context carrying it.
func Begin(ctx context.Context, action string) (context.Context, *Record) {
	r := &Record{info: call.From(ctx), action: action, actor: authz.PrincipalFrom(ctx)}
	return context.WithValue(ctx, recordKey{}, r), r
}

func from(ctx context.Context) *Record {
	r, _ := ctx.Value(recordKey{}).(*Record)
	return r
}

// Description says what a call does; empty fields change nothing.
type Description struct {
	Action       string
	TenantID     string
	ResourceType string
	ResourceID   string
	GrantID      string
	// Reason is free text given for the action (an operator's reason); it
	// is sealed.
	Reason string
}

// Describe adds what a service knows about the call to its record.
func Describe(ctx context.Context, d Description) {
	r := from(ctx)
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&r.action, d.Action)
	set(&r.tenantID, d.TenantID)
	set(&r.resType, d.ResourceType)
	set(&r.resID, d.ResourceID)
	set(&r.grantID, d.GrantID)
	set(&r.reason, d.Reason)
}

// SetActor records who acts (after authentication, or after a login).
func SetActor(ctx context.Context, p authz.Principal) {
	if r := from(ctx); r != nil {
		r.mu.Lock()
		r.actor = p
		r.mu.Unlock()
	}
}

// ActionOf returns the action of the call in progress ("" if none).
func ActionOf(ctx context.Context) string {
	r := from(ctx)
	if r == nil {
		return ""
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.action
}

// Detail adds a non-personal fact to the record.
func Detail(ctx context.Context, key, value string) {
	if r := from(ctx); r != nil {
		r.mu.Lock()
		if r.details == nil {
			r.details = map[string]string{}
		}
		if len(r.details) < maxDetails-1 {
			r.details[key] = value
		}
		r.mu.Unlock()
	}
}

// Also adds an entry of another chain to the call: Do writes it in the
// same transaction as the call's own entry, so both commit or neither
// does. Call it before Do. Its time, request id and channel are the
// call's.
func Also(ctx context.Context, e Entry) {
	if r := from(ctx); r != nil {
		r.mu.Lock()
		e.Time, e.RequestID, e.Channel = r.info.Start, r.info.RequestID, string(r.info.Channel)
		r.also = append(r.also, e)
		r.mu.Unlock()
	}
}

// entry builds the entry of the record (or of a change within it).
func (r *Record) entry(status int, outcome string) Entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := Entry{
		Time:         r.info.Start,
		TenantID:     r.tenantID,
		Action:       r.action,
		ResourceType: r.resType,
		ResourceID:   r.resID,
		Outcome:      outcome,
		Status:       status,
		RequestID:    r.info.RequestID,
		Channel:      string(r.info.Channel),
		ClientIP:     r.info.ClientIP,
		UserAgent:    r.info.UserAgent,
		Reason:       r.reason,
		GrantID:      r.grantID,
	}
	if len(r.details) > 0 {
		e.Details = make(map[string]string, len(r.details))
		for k, v := range r.details {
			e.Details[k] = v
		}
	}
	e.ActorType, e.ActorID = actorOf(r.actor)
	if e.TenantID == "" {
		e.TenantID = r.actor.TenantID
	}
	return e
}

func actorOf(p authz.Principal) (string, string) {
	switch p.Kind {
	case authz.Anonymous:
		return "anonymous", ""
	case authz.APIKey:
		return "api_key", p.ID
	}
	return string(p.Kind), p.ID
}

func (r *Record) markCommitted() {
	r.mu.Lock()
	r.committed = true
	r.mu.Unlock()
}

func (r *Record) isCommitted() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.committed
}
