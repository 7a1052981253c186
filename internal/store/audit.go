package store

import (
	"context"
	"database/sql"
	"strings"
	"time"
)

// AuditEntryRow is one entry of an audit chain.
type AuditEntryRow struct {
	ID           string
	Chain        string
	Seq          int64
	Time         time.Time
	TenantID     string
	ActorType    string
	ActorID      string
	Action       string
	ResourceType string
	ResourceID   string
	Outcome      string
	Status       int
	RequestID    string
	Channel      string
	IPToken      string
	UAToken      string
	Client       []byte // sealed
	Reason       []byte // sealed
	GrantID      string
	Details      string
	PrevHash     []byte
	Hash         []byte
}

const auditColumns = `id, chain, seq, time, tenant_id, actor_type, actor_id, action, resource_type, resource_id, outcome, status,
	request_id, channel, ip_token, ua_token, client, reason, grant_id, details, prev_hash, hash`

func scanAudit(s interface{ Scan(...any) error }, r *AuditEntryRow) error {
	var t int64
	if err := s.Scan(&r.ID, &r.Chain, &r.Seq, &t, &r.TenantID, &r.ActorType, &r.ActorID, &r.Action, &r.ResourceType, &r.ResourceID,
		&r.Outcome, &r.Status, &r.RequestID, &r.Channel, &r.IPToken, &r.UAToken, &r.Client, &r.Reason, &r.GrantID, &r.Details,
		&r.PrevHash, &r.Hash); err != nil {
		return err
	}
	r.Time = fromMicros(t)
	return nil
}

// AuditHead returns a chain's next sequence number and last hash; a chain
// without entries is ErrNotFound.
func (t *Tx) AuditHead(ctx context.Context, chain string) (next int64, last []byte, err error) {
	err = t.row(ctx, `SELECT next_seq, last_hash FROM audit_heads WHERE chain = $1`, chain).Scan(&next, &last)
	return next, last, classify(err)
}

// AuditHeadForUpdate is AuditHead inside a write transaction: it locks the
// head row on PostgreSQL, so that concurrent appends to a chain queue.
func (t *Tx) AuditHeadForUpdate(ctx context.Context, chain string) (next int64, last []byte, err error) {
	err = t.row(ctx, `SELECT next_seq, last_hash FROM audit_heads WHERE chain = $1`+t.forUpdate(), chain).Scan(&next, &last)
	return next, last, classify(err)
}

// PutAuditHead moves a chain's head.
func (t *Tx) PutAuditHead(ctx context.Context, chain string, next int64, last []byte, now time.Time) error {
	_, err := t.exec(ctx, `INSERT INTO audit_heads (chain, next_seq, last_hash, updated_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (chain) DO UPDATE SET next_seq = excluded.next_seq, last_hash = excluded.last_hash, updated_at = excluded.updated_at`,
		chain, next, last, micros(now))
	return err
}

// InsertAuditEntry appends an entry. A duplicate (chain, seq) is ErrConflict.
func (t *Tx) InsertAuditEntry(ctx context.Context, r AuditEntryRow) error {
	return t.InsertAuditEntries(ctx, []AuditEntryRow{r})
}

// auditInsertSizes are the row counts of the multi-row inserts: a few
// fixed sizes, so that their prepared statements are reused.
var auditInsertSizes = []int{64, 16, 4, 1}

// auditInsertSQL[i] inserts auditInsertSizes[i] rows, with $N parameters
// (PostgreSQL); auditInsertSQLite uses plain ? parameters, because SQLite
// looks numbered parameters up by name on every bind, which for a
// thousand of them costs more than the insert.
var auditInsertSQL, auditInsertSQLite = auditInserts("$"), auditInserts("?")

func auditInserts(style string) []string {
	out := make([]string, len(auditInsertSizes))
	for i, n := range auditInsertSizes {
		var b strings.Builder
		b.WriteString(`INSERT INTO audit_entries (` + auditColumns + `) VALUES `)
		for r := 0; r < n; r++ {
			if r > 0 {
				b.WriteString(", ")
			}
			b.WriteByte('(')
			for c := 0; c < 22; c++ {
				if c > 0 {
					b.WriteString(", ")
				}
				if style == "?" {
					b.WriteByte('?')
				} else {
					b.WriteString("$" + itoa(r*22+c+1))
				}
			}
			b.WriteByte(')')
		}
		out[i] = b.String()
	}
	return out
}

// InsertAuditEntries appends entries, many rows per statement. A duplicate
// (chain, seq) is ErrConflict.
func (t *Tx) InsertAuditEntries(ctx context.Context, rows []AuditEntryRow) error {
	for len(rows) > 0 {
		i := 0
		for auditInsertSizes[i] > len(rows) {
			i++
		}
		n := auditInsertSizes[i]
		args := make([]any, 0, n*22)
		for _, r := range rows[:n] {
			args = append(args, r.ID, r.Chain, r.Seq, micros(r.Time), r.TenantID, r.ActorType, r.ActorID, r.Action, r.ResourceType,
				r.ResourceID, r.Outcome, r.Status, r.RequestID, r.Channel, r.IPToken, r.UAToken, r.Client, r.Reason, r.GrantID,
				r.Details, r.PrevHash, r.Hash)
		}
		q := auditInsertSQL[i]
		if t.db.engine == SQLite {
			q = auditInsertSQLite[i]
		}
		if _, err := t.exec(ctx, q, args...); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

// AuditChains lists every chain with its head.
func (t *Tx) AuditChains(ctx context.Context) (map[string]int64, error) {
	out := map[string]int64{}
	err := scanRows(ctx, t, func(rows *sql.Rows) error {
		var c string
		var n int64
		if err := rows.Scan(&c, &n); err != nil {
			return err
		}
		out[c] = n
		return nil
	}, `SELECT chain, next_seq FROM audit_heads`)
	return out, err
}

// AuditChainsEverywhere returns every chain that has a head, an entry or a
// checkpoint — so that a chain whose head was deleted is still verified.
// It reads the whole entry index: for verification, not for routine work.
func (t *Tx) AuditChainsEverywhere(ctx context.Context) ([]string, error) {
	var out []string
	err := scanRows(ctx, t, func(rows *sql.Rows) error {
		var c string
		if err := rows.Scan(&c); err != nil {
			return err
		}
		out = append(out, c)
		return nil
	}, `SELECT chain FROM audit_heads UNION SELECT chain FROM audit_checkpoints UNION SELECT DISTINCT chain FROM audit_entries ORDER BY 1`)
	return out, err
}

// AuditEntries streams a chain's entries with seq >= from, in order, to fn.
func (t *Tx) AuditEntries(ctx context.Context, chain string, from int64, limit int, fn func(AuditEntryRow) error) error {
	return scanRows(ctx, t, func(rows *sql.Rows) error {
		var r AuditEntryRow
		if err := scanAudit(rows, &r); err != nil {
			return err
		}
		return fn(r)
	}, `SELECT `+auditColumns+` FROM audit_entries WHERE chain = $1 AND seq >= $2 ORDER BY seq LIMIT $3`, chain, from, limit)
}

// AuditEntry reads one entry.
func (t *Tx) AuditEntry(ctx context.Context, chain string, seq int64) (AuditEntryRow, error) {
	var r AuditEntryRow
	if err := scanAudit(t.row(ctx, `SELECT `+auditColumns+` FROM audit_entries WHERE chain = $1 AND seq = $2`, chain, seq), &r); err != nil {
		return AuditEntryRow{}, classify(err)
	}
	return r, nil
}

// AuditLeafHashes returns the hashes of entries [from, to) of a chain.
func (t *Tx) AuditLeafHashes(ctx context.Context, chain string, from, to int64) ([][]byte, error) {
	out := make([][]byte, 0, max(0, to-from))
	err := scanRows(ctx, t, func(rows *sql.Rows) error {
		var h []byte
		if err := rows.Scan(&h); err != nil {
			return err
		}
		out = append(out, h)
		return nil
	}, `SELECT hash FROM audit_entries WHERE chain = $1 AND seq >= $2 AND seq < $3 ORDER BY seq`, chain, from, to)
	return out, err
}

// AuditFilter narrows a trail query; empty fields do not filter.
type AuditFilter struct {
	From, To     time.Time
	ActorType    string
	ActorID      string
	Action       string // exact, or a prefix ending in "."
	ResourceType string
	ResourceID   string
	Outcome      string
	RequestID    string
}

// QueryAudit returns a chain's entries matching f, newest first, with seq
// below before (0 = from the newest).
func (t *Tx) QueryAudit(ctx context.Context, chain string, f AuditFilter, before int64, limit int) ([]AuditEntryRow, error) {
	q := strings.Builder{}
	q.WriteString(`SELECT ` + auditColumns + ` FROM audit_entries WHERE chain = $1`)
	args := []any{chain}
	add := func(cond string, v any) {
		args = append(args, v)
		q.WriteString(" AND " + strings.ReplaceAll(cond, "?", "$"+itoa(len(args))))
	}
	if before > 0 {
		add("seq < ?", before)
	}
	if !f.From.IsZero() {
		add("time >= ?", micros(f.From))
	}
	if !f.To.IsZero() {
		add("time < ?", micros(f.To))
	}
	if f.ActorType != "" {
		add("actor_type = ?", f.ActorType)
	}
	if f.ActorID != "" {
		add("actor_id = ?", f.ActorID)
	}
	if f.Action != "" {
		if strings.HasSuffix(f.Action, ".") {
			add("substr(action, 1, "+itoa(len(f.Action))+") = ?", f.Action)
		} else {
			add("action = ?", f.Action)
		}
	}
	if f.ResourceType != "" {
		add("resource_type = ?", f.ResourceType)
	}
	if f.ResourceID != "" {
		add("resource_id = ?", f.ResourceID)
	}
	if f.Outcome != "" {
		add("outcome = ?", f.Outcome)
	}
	if f.RequestID != "" {
		add("request_id = ?", f.RequestID)
	}
	args = append(args, limit)
	q.WriteString(" ORDER BY seq DESC LIMIT $" + itoa(len(args)))
	var out []AuditEntryRow
	err := scanRows(ctx, t, func(rows *sql.Rows) error {
		var r AuditEntryRow
		if err := scanAudit(rows, &r); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	}, q.String(), args...)
	return out, err
}

func itoa(n int) string {
	const digits = "0123456789"
	if n < 10 {
		return digits[n : n+1]
	}
	return itoa(n/10) + digits[n%10:n%10+1]
}

// AuditCheckpointRow is a signed checkpoint of a chain.
type AuditCheckpointRow struct {
	Chain    string
	Size     int64
	Root     []byte
	LastHash []byte
	Time     time.Time
	Note     string
	Compact  []byte // the compact range's hashes, concatenated
}

const checkpointColumns = "chain, size, root, last_hash, time, note, compact"

func scanCheckpoint(s interface{ Scan(...any) error }, r *AuditCheckpointRow) error {
	var tm int64
	if err := s.Scan(&r.Chain, &r.Size, &r.Root, &r.LastHash, &tm, &r.Note, &r.Compact); err != nil {
		return err
	}
	r.Time = fromMicros(tm)
	return nil
}

// InsertAuditCheckpoint stores a checkpoint; one of the same size is ErrConflict.
func (t *Tx) InsertAuditCheckpoint(ctx context.Context, r AuditCheckpointRow) error {
	_, err := t.exec(ctx, `INSERT INTO audit_checkpoints (`+checkpointColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		r.Chain, r.Size, r.Root, r.LastHash, micros(r.Time), r.Note, r.Compact)
	return err
}

// AuditCheckpoints lists a chain's checkpoints by size.
func (t *Tx) AuditCheckpoints(ctx context.Context, chain string) ([]AuditCheckpointRow, error) {
	var out []AuditCheckpointRow
	err := scanRows(ctx, t, func(rows *sql.Rows) error {
		var r AuditCheckpointRow
		if err := scanCheckpoint(rows, &r); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	}, `SELECT `+checkpointColumns+` FROM audit_checkpoints WHERE chain = $1 ORDER BY size`, chain)
	return out, err
}

// AuditCheckpoint reads one checkpoint.
func (t *Tx) AuditCheckpoint(ctx context.Context, chain string, size int64) (AuditCheckpointRow, error) {
	var r AuditCheckpointRow
	if err := scanCheckpoint(t.row(ctx, `SELECT `+checkpointColumns+` FROM audit_checkpoints WHERE chain = $1 AND size = $2`, chain, size), &r); err != nil {
		return AuditCheckpointRow{}, classify(err)
	}
	return r, nil
}

// AuditPruned returns how far a chain was pruned (0 = never).
func (t *Tx) AuditPruned(ctx context.Context, chain string) (int64, error) {
	var n int64
	err := t.queryRow(ctx, `SELECT pruned_to FROM audit_pruned WHERE chain = $1`, []any{chain}, &n)
	if err == ErrNotFound {
		return 0, nil
	}
	return n, err
}

// PruneAudit deletes a chain's entries below seq and records it.
func (t *Tx) PruneAudit(ctx context.Context, chain string, below int64, now time.Time) (int64, error) {
	res, err := t.exec(ctx, `DELETE FROM audit_entries WHERE chain = $1 AND seq < $2`, chain, below)
	if err != nil {
		return 0, err
	}
	n, _ := res.RowsAffected()
	_, err = t.exec(ctx, `INSERT INTO audit_pruned (chain, pruned_to, pruned_at) VALUES ($1, $2, $3)
		ON CONFLICT (chain) DO UPDATE SET pruned_to = excluded.pruned_to, pruned_at = excluded.pruned_at`, chain, below, micros(now))
	return n, err
}

// AuditKeyRow is an audit signing key.
type AuditKeyRow struct {
	ID        string
	Name      string
	Verifier  string
	Signer    []byte // sealed under the platform keyset
	CreatedAt time.Time
	RetiredAt time.Time
}

// InsertAuditKey stores a signing key.
func (t *Tx) InsertAuditKey(ctx context.Context, r AuditKeyRow) error {
	_, err := t.exec(ctx, `INSERT INTO audit_keys (id, name, verifier, signer, created_at, retired_at) VALUES ($1, $2, $3, $4, $5, NULL)`,
		r.ID, r.Name, r.Verifier, r.Signer, micros(r.CreatedAt))
	return err
}

// AuditKeys lists every signing key, the current one (not retired, newest) first.
func (t *Tx) AuditKeys(ctx context.Context) ([]AuditKeyRow, error) {
	var out []AuditKeyRow
	err := scanRows(ctx, t, func(rows *sql.Rows) error {
		var r AuditKeyRow
		var created int64
		var retired sql.NullInt64
		if err := rows.Scan(&r.ID, &r.Name, &r.Verifier, &r.Signer, &created, &retired); err != nil {
			return err
		}
		r.CreatedAt, r.RetiredAt = fromMicros(created), fromNull(retired)
		out = append(out, r)
		return nil
	}, `SELECT id, name, verifier, signer, created_at, retired_at FROM audit_keys ORDER BY (retired_at IS NULL) DESC, created_at DESC`)
	return out, err
}

// PayloadRow is a submitted payload kept in a tenant's history.
type PayloadRow struct {
	ID           string
	TenantID     string
	Time         time.Time
	RequestID    string
	Action       string
	ResourceType string
	ResourceID   string
	Payload      []byte // sealed
}

// InsertPayload keeps a payload.
func (t *Tx) InsertPayload(ctx context.Context, r PayloadRow) error {
	_, err := t.exec(ctx, `INSERT INTO payload_history (id, tenant_id, time, request_id, action, resource_type, resource_id, payload)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, r.ID, r.TenantID, micros(r.Time), r.RequestID, r.Action, r.ResourceType, r.ResourceID, r.Payload)
	return err
}

// Payloads lists a tenant's payload history, newest first, with id below
// before ("" = from the newest).
func (t *Tx) Payloads(ctx context.Context, tenantID, resourceType, resourceID, before string, limit int) ([]PayloadRow, error) {
	q := `SELECT id, tenant_id, time, request_id, action, resource_type, resource_id, payload FROM payload_history WHERE tenant_id = $1`
	args := []any{tenantID}
	if before != "" {
		args = append(args, before)
		q += ` AND id < $2`
	}
	if resourceType != "" {
		args = append(args, resourceType, resourceID)
		q += ` AND resource_type = $` + itoa(len(args)-1) + ` AND resource_id = $` + itoa(len(args))
	}
	args = append(args, limit)
	q += ` ORDER BY id DESC LIMIT $` + itoa(len(args))
	var out []PayloadRow
	err := scanRows(ctx, t, func(rows *sql.Rows) error {
		var r PayloadRow
		var tm int64
		if err := rows.Scan(&r.ID, &r.TenantID, &tm, &r.RequestID, &r.Action, &r.ResourceType, &r.ResourceID, &r.Payload); err != nil {
			return err
		}
		r.Time = fromMicros(tm)
		out = append(out, r)
		return nil
	}, q, args...)
	return out, err
}

// DeletePayloads removes a tenant's payload history older than before
// (zero time = all of it) and returns how many it removed.
func (t *Tx) DeletePayloads(ctx context.Context, tenantID string, before time.Time) (int64, error) {
	var res sql.Result
	var err error
	if before.IsZero() {
		res, err = t.exec(ctx, `DELETE FROM payload_history WHERE tenant_id = $1`, tenantID)
	} else {
		res, err = t.exec(ctx, `DELETE FROM payload_history WHERE tenant_id = $1 AND time < $2`, tenantID, micros(before))
	}
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// ExpirePayloads removes every tenant's payload history older than before.
func (t *Tx) ExpirePayloads(ctx context.Context, before time.Time) (int64, error) {
	res, err := t.exec(ctx, `DELETE FROM payload_history WHERE time < $1`, micros(before))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// AuditForwarded returns how far a sink has been sent a chain (-1 = nothing).
func (t *Tx) AuditForwarded(ctx context.Context, sink, chain string) (int64, error) {
	var seq int64
	err := t.queryRow(ctx, `SELECT seq FROM audit_forward WHERE sink = $1 AND chain = $2`, []any{sink, chain}, &seq)
	if err == ErrNotFound {
		return -1, nil
	}
	return seq, err
}

// SetAuditForwarded records that a sink has a chain up to seq.
func (t *Tx) SetAuditForwarded(ctx context.Context, sink, chain string, seq int64) error {
	_, err := t.exec(ctx, `INSERT INTO audit_forward (sink, chain, seq) VALUES ($1, $2, $3)
		ON CONFLICT (sink, chain) DO UPDATE SET seq = excluded.seq`, sink, chain, seq)
	return err
}

// EnsureAuditHead creates a chain's head if it has none (a no-op else).
func (t *Tx) EnsureAuditHead(ctx context.Context, chain string, zero []byte, now time.Time) error {
	_, err := t.exec(ctx, `INSERT INTO audit_heads (chain, next_seq, last_hash, updated_at) VALUES ($1, 0, $2, $3)
		ON CONFLICT (chain) DO NOTHING`, chain, zero, micros(now))
	return err
}

// AuditScanRow is the part of an entry that its hash covers, as raw bytes
// valid only during the callback (no copies: verification reads millions).
type AuditScanRow struct {
	Seq, Time                                                                       int64
	Status                                                                          int64
	ID, Chain, TenantID, ActorType, ActorID, Action, ResourceType, ResourceID       sql.RawBytes
	Outcome, RequestID, Channel, IPToken, UAToken, GrantID, Details, PrevHash, Hash sql.RawBytes
}

// ScanAudit streams a chain's entries with seq >= from, in order, to fn,
// without the sealed columns.
func (t *Tx) ScanAudit(ctx context.Context, chain string, from int64, limit int, fn func(*AuditScanRow) error) error {
	rows, err := t.query(ctx, `SELECT seq, time, status, id, chain, tenant_id, actor_type, actor_id, action, resource_type, resource_id,
		outcome, request_id, channel, ip_token, ua_token, grant_id, details, prev_hash, hash
		FROM audit_entries WHERE chain = $1 AND seq >= $2 ORDER BY seq LIMIT $3`, chain, from, limit)
	if err != nil {
		return err
	}
	defer rows.Close()
	var r AuditScanRow
	for rows.Next() {
		if err := rows.Scan(&r.Seq, &r.Time, &r.Status, &r.ID, &r.Chain, &r.TenantID, &r.ActorType, &r.ActorID, &r.Action,
			&r.ResourceType, &r.ResourceID, &r.Outcome, &r.RequestID, &r.Channel, &r.IPToken, &r.UAToken, &r.GrantID, &r.Details,
			&r.PrevHash, &r.Hash); err != nil {
			return classify(err)
		}
		if err := fn(&r); err != nil {
			return err
		}
	}
	return classify(rows.Err())
}
