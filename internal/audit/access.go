package audit

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"time"

	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/problem"
	"github.com/valvhq/valv/internal/store"
)

// Access to the trail by principals (AUD-5): a tenant's owners and
// auditors (and API keys with audit:read) read their tenant's chain;
// security operators read the platform's; other operators read a tenant's
// chain only under an audit access grant. The Trail's other methods trust
// their caller; these decide first, and tell the call's record.

var (
	errUnauthenticated = problem.New(problem.KindUnauthenticated, "unauthenticated", "Log in first.")
	errForbidden       = problem.Forbidden("forbidden", "You do not have permission to do this.")
	errNoSuchTenant    = problem.NotFound("tenant_not_found", "No such tenant.")
	errNoSuchEntry     = problem.NotFound("audit_entry_not_found", "No such audit entry.")
	errPrunedProblem   = problem.NotFound("audit_entries_pruned", "The entries this needs are past their retention and were pruned.")
)

// Decision records an authorization decision in the call's record: its
// reason as a detail and, for an operator's access grant, the grant and its
// reason (sealed, as the reason may name things).
func Decision(ctx context.Context, d authz.Decision) {
	if d.Grant != nil {
		Describe(ctx, Description{GrantID: d.Grant.ID, Reason: d.Grant.Reason})
		Detail(ctx, "decision", "access grant")
		return
	}
	Detail(ctx, "decision", d.Reason)
}

// PlatformChain is what operators name to read the platform's own chain.
const PlatformChain = "platform"

// ChainReader reads one chain for a principal who may read it.
type ChainReader struct {
	t     *Trail
	chain string
}

// Chain returns the chain's name (a tenant id, or the platform chain).
func (c *ChainReader) Chain() string { return c.chain }

// Open decides whether p may read a chain: a user or API key its own
// tenant's (tenant "" or its id); an operator the platform's (tenant "" or
// "platform") or a tenant's by id.
func (t *Trail) Open(ctx context.Context, p authz.Principal, tenant string) (*ChainReader, error) {
	var chain string
	var action authz.Action
	var res authz.Resource
	switch p.Kind {
	case authz.User, authz.APIKey:
		if tenant != "" && tenant != p.TenantID {
			return nil, errNoSuchTenant
		}
		chain, action, res = p.TenantID, authz.AuditRead, authz.Resource{TenantID: p.TenantID}
	case authz.Operator:
		if tenant == "" || tenant == PlatformChain {
			chain, action = Platform, authz.AuditPlatformRead
		} else {
			chain, action, res = tenant, authz.AuditRead, authz.Resource{TenantID: tenant}
		}
	default:
		return nil, errUnauthenticated
	}
	Describe(ctx, Description{TenantID: res.TenantID, ResourceType: "audit_chain", ResourceID: chain})
	d := authz.Decide(p, action, res, t.now())
	Decision(ctx, d)
	if !d.Allowed {
		return nil, errForbidden
	}
	return &ChainReader{t: t, chain: chain}, nil
}

// Query returns a page of entries matching f, newest first. Entries show
// the client only as its keyed token; Entry opens it.
func (c *ChainReader) Query(ctx context.Context, f Filter, cursor string, limit int) ([]View, string, error) {
	if err := checkFilter(f); err != nil {
		return nil, "", err
	}
	out, next, err := c.t.Query(ctx, c.chain, f, cursor, limit)
	if errors.Is(err, errBadCursor) {
		return nil, "", problem.Invalid("invalid_cursor", "The cursor is not one this API gave out.", problem.Field("/cursor", "invalid_cursor", "Use next_cursor from the previous page."))
	}
	return out, next, err
}

// Export writes the entries matching f as JSON lines, oldest first.
func (c *ChainReader) Export(ctx context.Context, f Filter, w io.Writer) (int64, error) {
	if err := checkFilter(f); err != nil {
		return 0, err
	}
	return c.t.Export(ctx, c.chain, f, w)
}

// Entry returns one entry with its sealed client details and reason opened.
func (c *ChainReader) Entry(ctx context.Context, seq int64) (View, error) {
	v, err := c.t.Entry(ctx, c.chain, seq)
	if errors.Is(err, store.ErrNotFound) {
		return View{}, errNoSuchEntry
	}
	return v, err
}

// Checkpoints lists the chain's signed checkpoints, oldest first.
func (c *ChainReader) Checkpoints(ctx context.Context) ([]Checkpoint, error) {
	return c.t.Checkpoints(ctx, c.chain)
}

// Inclusion is a proof that an entry is in a tree of the chain.
type Inclusion struct {
	Seq      int64    `json:"seq"`
	Size     int64    `json:"size"`
	LeafHash []byte   `json:"leaf_hash"`
	Proof    [][]byte `json:"proof"`
	// Checkpoint is the signed checkpoint of this size, if there is one.
	Checkpoint string `json:"checkpoint,omitempty"`
}

// Consistency is a proof that the tree of Size1 is a prefix of the tree
// of Size2.
type Consistency struct {
	Size1 int64    `json:"size1"`
	Size2 int64    `json:"size2"`
	Proof [][]byte `json:"proof"`
}

// size returns how many entries the chain has.
func (c *ChainReader) size(ctx context.Context) (int64, error) {
	return c.t.Size(ctx, c.chain)
}

// Inclusion proves entry seq is in the chain's tree of size (0 = the
// newest checkpoint's).
func (c *ChainReader) Inclusion(ctx context.Context, seq, size int64) (Inclusion, error) {
	if size == 0 {
		cps, err := c.Checkpoints(ctx)
		if err != nil {
			return Inclusion{}, err
		}
		if len(cps) == 0 {
			return Inclusion{}, problem.Invalid("no_checkpoint", "The chain has no checkpoint yet; give a size.")
		}
		size = cps[len(cps)-1].Size
	}
	n, err := c.size(ctx)
	if err != nil {
		return Inclusion{}, err
	}
	if size < 1 || size > n {
		return Inclusion{}, problem.Invalid("invalid_size", "The size is not a size this chain has had.",
			problem.Field("/size", "invalid_size", "Use the size of a checkpoint."))
	}
	if seq < 0 || seq >= size {
		return Inclusion{}, problem.Invalid("invalid_seq", "The entry is not in a tree of this size.",
			problem.Field("/seq", "invalid_seq", "Use an entry number below the size."))
	}
	entry, err := c.t.db.Reader().AuditEntry(ctx, c.chain, seq)
	if errors.Is(err, store.ErrNotFound) {
		return Inclusion{}, errPrunedProblem
	}
	if err != nil {
		return Inclusion{}, err
	}
	p, err := c.t.InclusionProof(ctx, c.chain, seq, size)
	if errors.Is(err, errPruned) {
		return Inclusion{}, errPrunedProblem
	}
	if err != nil {
		return Inclusion{}, err
	}
	out := Inclusion{Seq: seq, Size: size, LeafHash: entry.Hash, Proof: nonNil(p)}
	if cp, err := c.t.db.Reader().AuditCheckpoint(ctx, c.chain, size); err == nil {
		out.Checkpoint = cp.Note
	}
	return out, nil
}

// Consistency proves the tree of size1 is a prefix of the tree of size2.
func (c *ChainReader) Consistency(ctx context.Context, size1, size2 int64) (Consistency, error) {
	n, err := c.size(ctx)
	if err != nil {
		return Consistency{}, err
	}
	if size1 < 1 || size1 > size2 || size2 > n {
		return Consistency{}, problem.Invalid("invalid_size", "The sizes are not two sizes this chain has had, smaller first.",
			problem.Field("/size1", "invalid_size", "Use the sizes of two checkpoints, the older first."))
	}
	p, err := c.t.ConsistencyProof(ctx, c.chain, size1, size2)
	if errors.Is(err, errPruned) {
		return Consistency{}, errPrunedProblem
	}
	if err != nil {
		return Consistency{}, err
	}
	return Consistency{Size1: size1, Size2: size2, Proof: nonNil(p)}, nil
}

func nonNil(p [][]byte) [][]byte {
	if p == nil {
		return [][]byte{}
	}
	return p
}

// checkFilter refuses filters that cannot match anything sensible.
func checkFilter(f Filter) error {
	var fields []problem.FieldError
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		fields = append(fields, problem.Field("/from", "invalid_range", "from must be before to."))
	}
	switch f.Outcome {
	case "", Success, Denied, Failed, Error:
	default:
		fields = append(fields, problem.Field("/outcome", "invalid_outcome", "Use success, denied, failed or error."))
	}
	switch f.ActorType {
	case "", "user", "operator", "api_key", "system", "anonymous":
	default:
		fields = append(fields, problem.Field("/actor_type", "invalid_actor_type", "Use user, operator, api_key, system or anonymous."))
	}
	for name, v := range map[string]string{"actor_id": f.ActorID, "action": f.Action, "resource_type": f.ResourceType, "resource_id": f.ResourceID, "request_id": f.RequestID} {
		if len(v) > maxField {
			fields = append(fields, problem.Field("/"+name, "too_long", "At most 256 characters."))
		}
	}
	if len(fields) > 0 {
		return problem.Invalid("invalid_filter", "The filter is not valid.", fields...)
	}
	return nil
}

// KeptPayload is a payload in the history as its readers see it.
type KeptPayload struct {
	ID           string    `json:"id"`
	Time         time.Time `json:"time"`
	RequestID    string    `json:"request_id,omitempty"`
	Action       string    `json:"action"`
	ResourceType string    `json:"resource_type,omitempty"`
	ResourceID   string    `json:"resource_id,omitempty"`
	// Payload is the submitted JSON; a payload that was not JSON is in
	// PayloadBase64 instead.
	Payload       json.RawMessage `json:"payload,omitempty"`
	PayloadBase64 []byte          `json:"payload_base64,omitempty"`
}

// HistoryFor lists the payload history of p's tenant (owners and admins),
// newest first, optionally about one resource.
func (t *Trail) HistoryFor(ctx context.Context, p authz.Principal, resType, resID, cursor string, limit int) ([]KeptPayload, string, error) {
	if p.Kind == authz.Anonymous {
		return nil, "", errUnauthenticated
	}
	res := authz.Resource{TenantID: p.TenantID}
	Describe(ctx, Description{TenantID: p.TenantID, ResourceType: "payload_history", ResourceID: resID})
	d := authz.Decide(p, authz.AuditHistoryRead, res, t.now())
	Decision(ctx, d)
	if !d.Allowed {
		return nil, "", errForbidden
	}
	items, next, err := t.History(ctx, p.TenantID, resType, resID, cursor, limit)
	if err != nil {
		return nil, "", err
	}
	out := make([]KeptPayload, 0, len(items))
	for _, it := range items {
		k := KeptPayload{ID: it.ID, Time: it.Time, RequestID: it.RequestID, Action: it.Action, ResourceType: it.ResourceType, ResourceID: it.ResourceID}
		if json.Valid(it.Payload) {
			k.Payload = it.Payload
		} else {
			k.PayloadBase64 = it.Payload
		}
		out = append(out, k)
	}
	return out, next, nil
}
