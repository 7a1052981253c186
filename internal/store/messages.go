package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"
)

// EndpointRow is a tenant's external message endpoint.
type EndpointRow struct {
	TenantID  string
	ID        string
	Name      string
	Host      string
	Purpose   string // send, inbox
	State     string // pending, approved, denied, revoked
	Version   int64
	Config    []byte // sealed
	CreatedBy string
	CreatedAt time.Time
	DecidedBy string
	DecidedAt time.Time
	UpdatedAt time.Time
	// Region is where the endpoint is, a label such as se-sto (ENV-2).
	Region string
}

const endpointColumns = "tenant_id, id, name, host, purpose, state, version, config, created_by, created_at, decided_by, decided_at, updated_at, region"

func scanEndpoint(s interface{ Scan(...any) error }, r *EndpointRow) error {
	var created, decided, updated int64
	if err := s.Scan(&r.TenantID, &r.ID, &r.Name, &r.Host, &r.Purpose, &r.State, &r.Version, &r.Config, &r.CreatedBy, &created,
		&r.DecidedBy, &decided, &updated, &r.Region); err != nil {
		return err
	}
	r.CreatedAt, r.DecidedAt, r.UpdatedAt = fromMicros(created), fromMicros(decided), fromMicros(updated)
	return nil
}

// InsertEndpoint adds an endpoint.
func (t *Tx) InsertEndpoint(ctx context.Context, r EndpointRow) error {
	_, err := t.exec(ctx, `INSERT INTO message_endpoints (`+endpointColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		r.TenantID, r.ID, r.Name, r.Host, r.Purpose, r.State, r.Version, r.Config, r.CreatedBy, micros(r.CreatedAt),
		r.DecidedBy, micros(r.DecidedAt), micros(r.UpdatedAt), r.Region)
	return classify(err)
}

// UpdateEndpoint replaces an endpoint's name, host, purpose, state,
// version, config and decision, if its version is still version-1.
func (t *Tx) UpdateEndpoint(ctx context.Context, r EndpointRow) error {
	err := t.execOne(ctx, `UPDATE message_endpoints SET name = $3, host = $4, purpose = $5, state = $6, version = $7, config = $8,
		decided_by = $9, decided_at = $10, updated_at = $11 WHERE tenant_id = $1 AND id = $2 AND version = $12`,
		r.TenantID, r.ID, r.Name, r.Host, r.Purpose, r.State, r.Version, r.Config, r.DecidedBy, micros(r.DecidedAt), micros(r.UpdatedAt), r.Version-1)
	if err == ErrNotFound {
		return ErrConflict
	}
	return err
}

// DecideEndpoint sets an endpoint's state if it is in one of from and its
// version is version (so an approval is of what the approver saw).
func (t *Tx) DecideEndpoint(ctx context.Context, tenantID, id string, version int64, from []string, state, by string, at time.Time) error {
	q := `UPDATE message_endpoints SET state = $3, decided_by = $4, decided_at = $5, updated_at = $5
		WHERE tenant_id = $1 AND id = $2 AND version = $6 AND state IN (`
	args := []any{tenantID, id, state, by, micros(at), version}
	for i, s := range from {
		if i > 0 {
			q += ", "
		}
		args = append(args, s)
		q += "$" + itoa(len(args))
	}
	err := t.execOne(ctx, q+")", args...)
	if err == ErrNotFound {
		return ErrConflict
	}
	return err
}

// Endpoint returns one endpoint.
func (t *Tx) Endpoint(ctx context.Context, tenantID, id string) (EndpointRow, error) {
	var r EndpointRow
	err := scanEndpoint(t.row(ctx, `SELECT `+endpointColumns+` FROM message_endpoints WHERE tenant_id = $1 AND id = $2`, tenantID, id), &r)
	return r, classify(err)
}

// Endpoints lists endpoints: a tenant's ("" for every tenant's), in a
// state ("" for any), oldest first.
func (t *Tx) Endpoints(ctx context.Context, tenantID, state string) ([]EndpointRow, error) {
	var out []EndpointRow
	err := scanRows(ctx, t, func(rows *sql.Rows) error {
		var r EndpointRow
		if err := scanEndpoint(rows, &r); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	}, `SELECT `+endpointColumns+` FROM message_endpoints WHERE ($1 = '' OR tenant_id = $1) AND ($2 = '' OR state = $2)
		ORDER BY created_at, id LIMIT 1000`, tenantID, state)
	return out, err
}

// DeleteEndpoint removes an endpoint.
func (t *Tx) DeleteEndpoint(ctx context.Context, tenantID, id string) error {
	return t.execOne(ctx, `DELETE FROM message_endpoints WHERE tenant_id = $1 AND id = $2`, tenantID, id)
}

// CountEndpointMessages counts a tenant's messages waiting for delivery
// to an endpoint.
func (t *Tx) CountEndpointMessages(ctx context.Context, tenantID, endpointID string) (int64, error) {
	var n int64
	err := t.queryRow(ctx, `SELECT COUNT(*) FROM messages WHERE tenant_id = $1 AND endpoint_id = $2 AND next_at > 0`,
		[]any{tenantID, endpointID}, &n)
	return n, err
}

// MessageRow is a message's envelope and delivery state.
type MessageRow struct {
	TenantID    string
	ID          string
	Box         string // outbox, inbox
	Type        string
	PeerKind    string // tenant, endpoint, partner
	PeerID      string
	PeerMessage string
	DeliveryID  string
	EndpointID  string
	Status      string
	Attempts    int
	NextAt      time.Time // zero: nothing to deliver
	Deadline    time.Time
	LeaseHolder string
	LeaseUntil  time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

const messageColumns = `tenant_id, id, box, type, peer_kind, peer_id, peer_message, delivery_id, endpoint_id, status, attempts,
	next_at, deadline, lease_holder, lease_until, created_at, updated_at`

func scanMessage(s interface{ Scan(...any) error }, r *MessageRow) error {
	var next, deadline, lease, created, updated int64
	if err := s.Scan(&r.TenantID, &r.ID, &r.Box, &r.Type, &r.PeerKind, &r.PeerID, &r.PeerMessage, &r.DeliveryID, &r.EndpointID,
		&r.Status, &r.Attempts, &next, &deadline, &r.LeaseHolder, &lease, &created, &updated); err != nil {
		return err
	}
	r.NextAt, r.Deadline, r.LeaseUntil = fromMicros(next), fromMicros(deadline), fromMicros(lease)
	r.CreatedAt, r.UpdatedAt = fromMicros(created), fromMicros(updated)
	return nil
}

// InsertMessage adds a message's envelope.
func (t *Tx) InsertMessage(ctx context.Context, r MessageRow) error {
	_, err := t.exec(ctx, `INSERT INTO messages (`+messageColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
		r.TenantID, r.ID, r.Box, r.Type, r.PeerKind, r.PeerID, r.PeerMessage, r.DeliveryID, r.EndpointID, r.Status, r.Attempts,
		micros(r.NextAt), micros(r.Deadline), r.LeaseHolder, micros(r.LeaseUntil), micros(r.CreatedAt), micros(r.UpdatedAt))
	return classify(err)
}

// Message returns one message's envelope.
func (t *Tx) Message(ctx context.Context, tenantID, id string) (MessageRow, error) {
	var r MessageRow
	err := scanMessage(t.row(ctx, `SELECT `+messageColumns+` FROM messages WHERE tenant_id = $1 AND id = $2`, tenantID, id), &r)
	return r, classify(err)
}

// MessageFilter narrows a listing; empty fields do not filter.
type MessageFilter struct {
	Box    string
	Status string
	Type   string
}

// Messages lists a tenant's messages, newest first, before the id before
// ("" for the newest).
func (t *Tx) Messages(ctx context.Context, tenantID string, f MessageFilter, before string, limit int) ([]MessageRow, error) {
	var out []MessageRow
	err := scanRows(ctx, t, func(rows *sql.Rows) error {
		var r MessageRow
		if err := scanMessage(rows, &r); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	}, `SELECT `+messageColumns+` FROM messages WHERE tenant_id = $1 AND ($2 = '' OR box = $2) AND ($3 = '' OR status = $3)
		AND ($4 = '' OR type = $4) AND ($5 = '' OR id < $5) ORDER BY id DESC LIMIT $6`,
		tenantID, f.Box, f.Status, f.Type, before, limit)
	return out, err
}

// MessagesOf returns the envelopes of those of a tenant's documents (ids)
// that are messages.
func (t *Tx) MessagesOf(ctx context.Context, tenantID string, ids []string) ([]MessageRow, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	list, err := json.Marshal(ids)
	if err != nil {
		return nil, err
	}
	var out []MessageRow
	err = scanRows(ctx, t, func(rows *sql.Rows) error {
		var r MessageRow
		if err := scanMessage(rows, &r); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	}, `SELECT `+messageColumns+` FROM messages WHERE tenant_id = $1 AND id IN `+t.idList("2")+` ORDER BY id`, tenantID, string(list))
	return out, err
}

// DueMessages lists up to limit messages whose delivery is due at now and
// that no node holds.
func (t *Tx) DueMessages(ctx context.Context, now time.Time, limit int) ([]MessageRow, error) {
	var out []MessageRow
	err := scanRows(ctx, t, func(rows *sql.Rows) error {
		var r MessageRow
		if err := scanMessage(rows, &r); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	}, `SELECT `+messageColumns+` FROM messages WHERE next_at > 0 AND next_at <= $1 AND lease_until <= $1
		ORDER BY next_at LIMIT $2`, micros(now), limit)
	return out, err
}

// ClaimMessage takes the lease on a due message for holder until until;
// it reports false when it is not due or another node holds it.
func (t *Tx) ClaimMessage(ctx context.Context, tenantID, id, holder string, now, until time.Time) (bool, error) {
	res, err := t.exec(ctx, `UPDATE messages SET lease_holder = $3, lease_until = $4
		WHERE tenant_id = $1 AND id = $2 AND next_at > 0 AND next_at <= $5 AND lease_until <= $5`,
		tenantID, id, holder, micros(until), micros(now))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// SaveDelivery records the outcome of an attempt made under holder's
// lease: status, attempts, the next attempt (zero for none); the lease is
// released. ErrConflict means the lease was lost (another node took it)
// or the message is no longer queued (acknowledged meanwhile).
func (t *Tx) SaveDelivery(ctx context.Context, r MessageRow, holder string) error {
	err := t.execOne(ctx, `UPDATE messages SET status = $3, attempts = $4, next_at = $5, lease_holder = '', lease_until = 0, updated_at = $6
		WHERE tenant_id = $1 AND id = $2 AND lease_holder = $7 AND status = 'queued'`,
		r.TenantID, r.ID, r.Status, r.Attempts, micros(r.NextAt), micros(r.UpdatedAt), holder)
	if err == ErrNotFound {
		return ErrConflict
	}
	return err
}

// SetMessageStatus changes a message's status (and next attempt, deadline
// and attempts: a resend) if it is in one of from; it reports false
// otherwise.
func (t *Tx) SetMessageStatus(ctx context.Context, r MessageRow, from ...string) (bool, error) {
	q := `UPDATE messages SET status = $3, attempts = $4, next_at = $5, deadline = $6, updated_at = $7
		WHERE tenant_id = $1 AND id = $2 AND status IN (`
	args := []any{r.TenantID, r.ID, r.Status, r.Attempts, micros(r.NextAt), micros(r.Deadline), micros(r.UpdatedAt)}
	for i, s := range from {
		if i > 0 {
			q += ", "
		}
		args = append(args, s)
		q += "$" + itoa(len(args))
	}
	res, err := t.exec(ctx, q+")", args...)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// MessageEventRow is one step of a message's transaction log.
type MessageEventRow struct {
	TenantID  string
	MessageID string
	Seq       int64
	Time      time.Time
	Step      string
	Outcome   string
	Detail    string // JSON
}

// AddMessageEvent appends a step to a message's log (its Seq is set).
func (t *Tx) AddMessageEvent(ctx context.Context, e MessageEventRow) error {
	_, err := t.exec(ctx, `INSERT INTO message_events (tenant_id, message_id, seq, time, step, outcome, detail)
		VALUES ($1, $2, (SELECT COALESCE(MAX(seq), 0) + 1 FROM message_events WHERE tenant_id = $1 AND message_id = $2), $3, $4, $5, $6)`,
		e.TenantID, e.MessageID, micros(e.Time), e.Step, e.Outcome, e.Detail)
	return err
}

// MessageEvents returns a message's log in order.
func (t *Tx) MessageEvents(ctx context.Context, tenantID, id string) ([]MessageEventRow, error) {
	var out []MessageEventRow
	err := scanRows(ctx, t, func(rows *sql.Rows) error {
		var e MessageEventRow
		var at int64
		if err := rows.Scan(&e.TenantID, &e.MessageID, &e.Seq, &at, &e.Step, &e.Outcome, &e.Detail); err != nil {
			return err
		}
		e.Time = fromMicros(at)
		out = append(out, e)
		return nil
	}, `SELECT tenant_id, message_id, seq, time, step, outcome, detail FROM message_events
		WHERE tenant_id = $1 AND message_id = $2 ORDER BY seq LIMIT 10000`, tenantID, id)
	return out, err
}

// MessageByDelivery returns the message a peer delivered with an id.
func (t *Tx) MessageByDelivery(ctx context.Context, tenantID, peerKind, peerID, deliveryID string) (MessageRow, error) {
	var r MessageRow
	err := scanMessage(t.row(ctx, `SELECT `+messageColumns+` FROM messages WHERE peer_kind = $1 AND peer_id = $2 AND tenant_id = $3
		AND delivery_id = $4`, peerKind, peerID, tenantID, deliveryID), &r)
	return r, classify(err)
}
