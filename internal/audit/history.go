package audit

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/valvhq/valv/internal/seal"
	"github.com/valvhq/valv/internal/store"
)

// Payload history (AUD-4, seed 001 "account history"): when a tenant keeps
// it, what it submits on routes that carry data is kept sealed, for 12
// months, visible to its owners and admins. When it does not, nothing of
// the payload is kept; the metadata entry in the trail stays either way.

// HistoryRetention is how long payloads are kept.
const HistoryRetention = 365 * 24 * time.Hour

// MaxPayload bounds what is kept of one payload.
const MaxPayload = 1 << 20

// Payload is a prepared history row; Keep it inside the change's transaction.
type Payload struct {
	row store.PayloadRow
}

// PreparePayload seals a submitted payload for the tenant's history (the
// caller decides whether the tenant keeps history). Oversized payloads are
// cut to MaxPayload.
func (t *Trail) PreparePayload(ctx context.Context, tenantID, action, resType, resID string, payload []byte) (*Payload, error) {
	if len(payload) > MaxPayload {
		payload = payload[:MaxPayload]
	}
	sealer, err := t.keys.Sealer(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	id := uuid.Must(uuid.NewV7()).String()
	sealed, err := sealer.Seal(payload, seal.Location{Table: "payload_history", Row: id, Field: "payload"})
	if err != nil {
		return nil, err
	}
	rec := from(ctx)
	reqID := ""
	if rec != nil {
		reqID = rec.info.RequestID
	}
	return &Payload{row: store.PayloadRow{ID: id, TenantID: tenantID, Time: t.now().UTC(), RequestID: reqID, Action: action,
		ResourceType: resType, ResourceID: resID, Payload: sealed}}, nil
}

// Keep writes a prepared payload inside tx (nil does nothing).
func (p *Payload) Keep(ctx context.Context, tx *store.Tx) error {
	if p == nil {
		return nil
	}
	return tx.InsertPayload(ctx, p.row)
}

// HistoryItem is a kept payload.
type HistoryItem struct {
	ID           string    `json:"id"`
	Time         time.Time `json:"time"`
	RequestID    string    `json:"request_id"`
	Action       string    `json:"action"`
	ResourceType string    `json:"resource_type"`
	ResourceID   string    `json:"resource_id"`
	Payload      []byte    `json:"payload"`
}

// History lists a tenant's kept payloads, newest first; with a resource,
// only those about it. The caller has authorised it.
func (t *Trail) History(ctx context.Context, tenantID, resType, resID, cursor string, limit int) ([]HistoryItem, string, error) {
	if limit <= 0 || limit > 200 {
		limit = 200
	}
	rows, err := t.db.Reader().Payloads(ctx, tenantID, resType, resID, cursor, limit+1)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(rows) > limit {
		rows = rows[:limit]
		next = rows[limit-1].ID
	}
	sealer, err := t.keys.Sealer(ctx, tenantID)
	if err != nil {
		return nil, "", err
	}
	out := make([]HistoryItem, 0, len(rows))
	for _, r := range rows {
		p, err := sealer.Open(r.Payload, seal.Location{Table: "payload_history", Row: r.ID, Field: "payload"})
		if err != nil {
			return nil, "", err
		}
		out = append(out, HistoryItem{ID: r.ID, Time: r.Time, RequestID: r.RequestID, Action: r.Action, ResourceType: r.ResourceType, ResourceID: r.ResourceID, Payload: p})
	}
	return out, next, nil
}

// ExpireHistory deletes payloads older than HistoryRetention, of every
// tenant.
func (t *Trail) ExpireHistory(ctx context.Context) (int64, error) {
	var n int64
	err := t.db.Write(ctx, func(tx *store.Tx) error {
		var err error
		n, err = tx.ExpirePayloads(ctx, t.now().Add(-HistoryRetention))
		return err
	})
	return n, err
}

// PurgeHistory deletes a tenant's whole payload history inside tx.
func PurgeHistory(ctx context.Context, tx *store.Tx, tenantID string) (int64, error) {
	return tx.DeletePayloads(ctx, tenantID, time.Time{})
}

// ResourceHistory returns a tenant's kept payloads about any of the
// resources (of one type), oldest first. The caller has authorised it.
func (t *Trail) ResourceHistory(ctx context.Context, tenantID, resType string, ids []string) ([]HistoryItem, error) {
	var out []HistoryItem
	sealer, err := t.keys.Sealer(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	for chunk := range slices.Chunk(ids, 500) {
		rows, err := t.db.Reader().ResourcePayloads(ctx, tenantID, resType, chunk)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			p, err := sealer.Open(r.Payload, seal.Location{Table: "payload_history", Row: r.ID, Field: "payload"})
			if err != nil {
				return nil, err
			}
			out = append(out, HistoryItem{ID: r.ID, Time: r.Time, RequestID: r.RequestID, Action: r.Action, ResourceType: r.ResourceType, ResourceID: r.ResourceID, Payload: p})
		}
	}
	slices.SortFunc(out, func(a, b HistoryItem) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// ResourceEntries returns a tenant's audit entries about any of the
// resources (of one type), oldest first, with reasons opened. The caller
// has authorised it.
func (t *Trail) ResourceEntries(ctx context.Context, tenantID, resType string, ids []string) ([]View, error) {
	sealer, err := t.keys.Sealer(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	var out []View
	for chunk := range slices.Chunk(ids, 500) {
		rows, err := t.db.Reader().ResourceAudit(ctx, tenantID, resType, chunk)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			out = append(out, t.view(sealer, r))
		}
	}
	slices.SortFunc(out, func(a, b View) int { return cmp.Compare(a.Seq, b.Seq) })
	return out, nil
}
