package audit

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"time"

	"github.com/valvhq/valv/internal/seal"
	"github.com/valvhq/valv/internal/store"
)

// View is an entry as its tenant's owners and auditors see it, with the
// sealed client details opened.
type View struct {
	Seq          int64     `json:"seq"`
	ID           string    `json:"id"`
	Time         time.Time `json:"time"`
	ActorType    string    `json:"actor_type"`
	ActorID      string    `json:"actor_id,omitempty"`
	Action       string    `json:"action"`
	ResourceType string    `json:"resource_type,omitempty"`
	ResourceID   string    `json:"resource_id,omitempty"`
	Outcome      string    `json:"outcome"`
	Status       int       `json:"status,omitempty"`
	RequestID    string    `json:"request_id,omitempty"`
	Channel      string    `json:"channel,omitempty"`
	IPToken      string    `json:"ip_token,omitempty"`
	IP           string    `json:"ip,omitempty"`
	UserAgent    string    `json:"user_agent,omitempty"`
	Reason       string    `json:"reason,omitempty"`
	GrantID      string    `json:"grant_id,omitempty"`
	// OperatorAccess marks an entry of an operator's access request or of
	// an access made under one; Reason is then the request's reason (or
	// the decision's comment), shown in lists too (OPS-2).
	OperatorAccess bool              `json:"operator_access,omitempty"`
	Details        map[string]string `json:"details,omitempty"`
	Hash           string            `json:"hash"`
}

func openReason(sealer *seal.Sealer, r store.AuditEntryRow) string {
	if len(r.Reason) == 0 {
		return ""
	}
	s, _ := sealer.OpenString(r.Reason, seal.Location{Table: "audit_entries", Row: r.ID, Field: "reason"})
	return s
}

// Filter selects entries; see store.AuditFilter.
type Filter = store.AuditFilter

// MaxPage bounds a page of entries.
const MaxPage = 1000

func (t *Trail) view(sealer *seal.Sealer, r store.AuditEntryRow) View {
	v := View{Seq: r.Seq, ID: r.ID, Time: r.Time, ActorType: r.ActorType, ActorID: r.ActorID, Action: r.Action,
		ResourceType: r.ResourceType, ResourceID: r.ResourceID, Outcome: r.Outcome, Status: r.Status, RequestID: r.RequestID,
		Channel: r.Channel, IPToken: r.IPToken, GrantID: r.GrantID, Hash: base64.StdEncoding.EncodeToString(r.Hash)}
	if len(r.Client) > 0 && sealer != nil {
		if raw, err := sealer.Open(r.Client, seal.Location{Table: "audit_entries", Row: r.ID, Field: "client"}); err == nil {
			var c struct {
				IP        string `json:"ip"`
				UserAgent string `json:"user_agent"`
			}
			if json.Unmarshal(raw, &c) == nil {
				v.IP, v.UserAgent = c.IP, c.UserAgent
			}
		}
	}
	v.OperatorAccess = r.GrantID != ""
	if sealer != nil {
		v.Reason = openReason(sealer, r)
	}
	var d map[string]string
	if json.Unmarshal([]byte(r.Details), &d) == nil {
		delete(d, reasonTokenKey)
		if len(d) > 0 {
			v.Details = d
		}
	}
	return v
}

// Query returns a page of a chain's entries matching f, newest first, and
// the cursor of the next page ("" at the end). The caller has authorised it.
// Clients appear only as their keyed tokens (Entry opens them).
func (t *Trail) Query(ctx context.Context, chain string, f Filter, cursor string, limit int) ([]View, string, error) {
	if limit <= 0 || limit > MaxPage {
		limit = MaxPage
	}
	var before int64
	if cursor != "" {
		n, err := strconv.ParseInt(cursor, 10, 64)
		if err != nil || n < 1 {
			return nil, "", errBadCursor
		}
		before = n
	}
	rows, err := t.db.Reader().QueryAudit(ctx, chain, f, before, limit+1)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(rows) > limit {
		rows = rows[:limit]
		next = strconv.FormatInt(rows[limit-1].Seq, 10)
	}
	out := make([]View, 0, len(rows))
	var sealer *seal.Sealer
	for _, r := range rows {
		v := t.view(nil, r)
		if r.GrantID != "" {
			// Operator access shows with its reason, in lists too.
			if sealer == nil {
				if sealer, err = t.keys.Sealer(ctx, chain); err != nil {
					return nil, "", err
				}
			}
			v.Reason = openReason(sealer, r)
		}
		out = append(out, v)
	}
	return out, next, nil
}

// Export writes a chain's entries matching f as JSON lines, oldest first.
// Like Query, it shows clients only as their keyed tokens.
func (t *Trail) Export(ctx context.Context, chain string, f Filter, w io.Writer) (int64, error) {
	enc := json.NewEncoder(w)
	var n int64
	next := int64(0)
	for {
		count := 0
		err := t.db.Reader().AuditEntries(ctx, chain, next, verifyBatch, func(r store.AuditEntryRow) error {
			count++
			next = r.Seq + 1
			if !matches(r, f) {
				return nil
			}
			n++
			return enc.Encode(t.view(nil, r))
		})
		if err != nil {
			return n, err
		}
		if count < verifyBatch {
			return n, nil
		}
	}
}

func matches(r store.AuditEntryRow, f Filter) bool {
	prefix := len(f.Action) > 0 && f.Action[len(f.Action)-1] == '.'
	switch {
	case !f.From.IsZero() && r.Time.Before(f.From), !f.To.IsZero() && !r.Time.Before(f.To):
		return false
	case f.ActorType != "" && r.ActorType != f.ActorType, f.ActorID != "" && r.ActorID != f.ActorID:
		return false
	case f.Action != "" && !prefix && r.Action != f.Action:
		return false
	case prefix && (len(r.Action) < len(f.Action) || r.Action[:len(f.Action)] != f.Action):
		return false
	case f.ResourceType != "" && r.ResourceType != f.ResourceType, f.ResourceID != "" && r.ResourceID != f.ResourceID:
		return false
	case f.Outcome != "" && r.Outcome != f.Outcome, f.RequestID != "" && r.RequestID != f.RequestID:
		return false
	}
	return true
}

var errBadCursor = errors.New("audit: bad cursor")

// Entry returns one entry of a chain with its sealed client details and
// reason opened.
func (t *Trail) Entry(ctx context.Context, chain string, seq int64) (View, error) {
	r, err := t.db.Reader().AuditEntry(ctx, chain, seq)
	if err != nil {
		return View{}, err
	}
	sealer, _ := t.keys.Sealer(ctx, chain)
	return t.view(sealer, r), nil
}
