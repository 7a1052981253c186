package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// Backups (BAK-1) read every table in one snapshot and write them out in an
// engine-independent form; a restore loads them into a new database of
// either engine. Every column is BIGINT/INTEGER, TEXT or BYTEA/BLOB and
// times are microseconds in both engines, so a row's values are int64,
// string, []byte or nil whichever engine it came from.

// backupTables is every table a backup holds, each after the tables it
// references. A test checks it against the schema, so a new table fails
// until it is placed here or in skippedTables.
var backupTables = []string{
	"installation", "tenants", "root_key", "keysets", "reencrypt_cursors",
	"accounts", "recovery_codes", "passkeys", "oidc_providers", "api_keys",
	"audit_entries", "audit_heads", "audit_checkpoints", "audit_pruned", "audit_keys", "payload_history", "audit_forward",
	"document_types", "documents", "document_versions", "document_subjects", "files", "file_chunks", "idempotency_keys",
	"retention_policies", "retention_rules", "legal_holds", "culling_reports", "jobs", "job_queue",
	"subject_requests", "subject_request_tokens", "erasure_ledger", "tenant_terminations",
	"backup_runs", "message_endpoints", "messages", "message_events", "access_grants",
	"guard_networks",
}

// skippedTables are left out of backups: short-lived login state that a
// restored installation must not bring back (sessions, one-time tokens,
// throttles, the guard's counters, automatic blocks and queued alerts), and
// the migration tool's own bookkeeping (the manifest records the schema
// version instead).
var skippedTables = []string{"sessions", "auth_tokens", "login_throttle", "guard_sources", "guard_counters", "guard_alerts", "doctor_runs", versionTable}

// SkippedTables returns the tables backups leave out.
func SkippedTables() []string { return append([]string(nil), skippedTables...) }

// BackupTables returns the tables a backup holds, in load order.
func BackupTables() []string { return append([]string(nil), backupTables...) }

// DumpTable calls header with table's column names, then row for each row
// (values are int64, string, []byte or nil; the slice is reused between
// calls). Run it inside DB.Read so that every table comes from the same
// snapshot.
func (t *Tx) DumpTable(ctx context.Context, table string, header func(columns []string) error, row func(values []any) error) error {
	if !isBackupTable(table) {
		return fmt.Errorf("store: %q is not a backed-up table", table)
	}
	rows, err := t.q.QueryContext(ctx, "SELECT * FROM "+table)
	if err != nil {
		return classify(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return classify(err)
	}
	if err := header(cols); err != nil {
		return err
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return classify(err)
		}
		for i, v := range vals {
			switch x := v.(type) {
			case nil, int64, string, []byte:
			case int32:
				vals[i] = int64(x)
			case int16:
				vals[i] = int64(x)
			case int:
				vals[i] = int64(x)
			case bool:
				vals[i] = int64(0)
				if x {
					vals[i] = int64(1)
				}
			default:
				return fmt.Errorf("store: %s.%s holds a %T, which backups do not know", table, cols[i], v)
			}
		}
		if err := row(vals); err != nil {
			return err
		}
	}
	return classify(rows.Err())
}

func isBackupTable(name string) bool {
	for _, t := range backupTables {
		if t == name {
			return true
		}
	}
	return false
}

// SchemaTables lists the tables that exist in the database, sorted.
func (db *DB) SchemaTables(ctx context.Context) ([]string, error) {
	q := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`
	if db.engine == Postgres {
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`
	}
	rows, err := db.read.QueryContext(ctx, q)
	if err != nil {
		return nil, classify(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, classify(err)
		}
		out = append(out, n)
	}
	return out, classify(rows.Err())
}

// ErrNotEmpty means a restore's destination already holds Valv data.
var ErrNotEmpty = errors.New("store: the database already holds a Valv installation")

// CheckEmpty returns ErrNotEmpty unless no backed-up table has a row: a
// restore only ever goes into a new database, never over a running
// installation.
func (db *DB) CheckEmpty(ctx context.Context) error {
	present, err := db.SchemaTables(ctx)
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, t := range present {
		have[t] = true
	}
	for _, t := range backupTables {
		if !have[t] {
			continue
		}
		var one int
		err := db.read.QueryRowContext(ctx, "SELECT 1 FROM "+t+" LIMIT 1").Scan(&one)
		if err == nil {
			return fmt.Errorf("%w (table %s has rows)", ErrNotEmpty, t)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return classify(err)
		}
	}
	return nil
}

// MigrateTo applies migrations up to and including version (a restore
// loads a backup into the schema it was taken with, then migrates up).
func (db *DB) MigrateTo(ctx context.Context, version int64) error {
	p, err := db.migrationProvider()
	if err != nil {
		return err
	}
	if _, err := p.UpTo(ctx, version); err != nil {
		return fmt.Errorf("apply migrations up to %d: %w", version, classify(err))
	}
	return nil
}

// A Loader inserts a restored table's rows into a new database, many rows
// to a statement and many statements to a transaction.
type Loader struct {
	db      *DB
	table   string
	cols    []string
	kinds   []byte // per column: 'i' integer, 't' text, 'b' blob
	pending [][]any
	bytes   int
	Rows    int64
}

// loaderFlushBytes and loaderMaxParams bound one transaction's work: a
// statement may have at most 32766 parameters on SQLite and 65535 on
// PostgreSQL.
const (
	loaderFlushBytes = 8 << 20
	loaderMaxParams  = 30000
)

// Load starts loading table, whose rows have the given columns. The
// table must exist in the destination's schema with the same columns.
func (db *DB) Load(ctx context.Context, table string, columns []string) (*Loader, error) {
	if !isBackupTable(table) {
		return nil, fmt.Errorf("store: the backup holds table %q, which this schema does not back up", table)
	}
	types, err := db.columnTypes(ctx, table)
	if err != nil {
		return nil, err
	}
	l := &Loader{db: db, table: table, cols: columns, kinds: make([]byte, len(columns))}
	for i, c := range columns {
		k, ok := types[c]
		if !ok {
			return nil, fmt.Errorf("store: table %s has no column %s", table, c)
		}
		l.kinds[i] = k
	}
	if len(types) != len(columns) {
		return nil, fmt.Errorf("store: table %s has %d columns here but %d in the backup", table, len(types), len(columns))
	}
	return l, nil
}

// columnTypes maps each column of table to 'i', 't' or 'b'.
func (db *DB) columnTypes(ctx context.Context, table string) (map[string]byte, error) {
	q := `SELECT name, type FROM pragma_table_info(?)`
	if db.engine == Postgres {
		q = `SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1`
	}
	rows, err := db.read.QueryContext(ctx, q, table)
	if err != nil {
		return nil, classify(err)
	}
	defer rows.Close()
	out := map[string]byte{}
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			return nil, classify(err)
		}
		switch t := strings.ToLower(typ); {
		case strings.Contains(t, "int"):
			out[name] = 'i'
		case t == "blob" || t == "bytea":
			out[name] = 'b'
		default:
			out[name] = 't'
		}
	}
	if err := rows.Err(); err != nil {
		return nil, classify(err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("store: no table %s in the destination", table)
	}
	return out, nil
}

// Add queues one row (copied) and writes a batch when enough is queued.
func (l *Loader) Add(ctx context.Context, values []any) error {
	if len(values) != len(l.cols) {
		return fmt.Errorf("store: a row of %s has %d values, not %d", l.table, len(values), len(l.cols))
	}
	row := make([]any, len(values))
	for i, v := range values {
		cv, err := convert(v, l.kinds[i])
		if err != nil {
			return fmt.Errorf("store: %s.%s: %w", l.table, l.cols[i], err)
		}
		row[i] = cv
		switch x := cv.(type) {
		case string:
			l.bytes += len(x)
		case []byte:
			l.bytes += len(x)
		default:
			l.bytes += 8
		}
	}
	l.pending = append(l.pending, row)
	if l.bytes >= loaderFlushBytes {
		return l.Flush(ctx)
	}
	return nil
}

// convert makes a value fit its destination column (a text value may come
// back as bytes from SQLite and the other way round).
func convert(v any, kind byte) (any, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case int64:
		if kind != 'i' {
			return nil, errors.New("a number in a non-number column")
		}
		return x, nil
	case string:
		switch kind {
		case 't':
			return x, nil
		case 'b':
			return []byte(x), nil
		}
	case []byte:
		switch kind {
		case 't':
			return string(x), nil
		case 'b':
			return append([]byte{}, x...), nil
		}
	}
	return nil, fmt.Errorf("a %T does not fit the column", v)
}

// Flush writes the queued rows in one transaction.
func (l *Loader) Flush(ctx context.Context) error {
	if len(l.pending) == 0 {
		return nil
	}
	perStmt := max(1, loaderMaxParams/len(l.cols))
	rows := l.pending
	err := l.db.writeDirect(ctx, func(tx *Tx) error {
		for start := 0; start < len(rows); start += perStmt {
			batch := rows[start:min(start+perStmt, len(rows))]
			var b strings.Builder
			b.WriteString("INSERT INTO " + l.table + " (" + strings.Join(l.cols, ", ") + ") VALUES ")
			args := make([]any, 0, len(batch)*len(l.cols))
			n := 0
			for i, r := range batch {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteByte('(')
				for j := range r {
					if j > 0 {
						b.WriteString(", ")
					}
					n++
					fmt.Fprintf(&b, "$%d", n)
				}
				b.WriteByte(')')
				args = append(args, r...)
			}
			if _, err := tx.q.ExecContext(ctx, l.db.rebindRaw(b.String()), args...); err != nil {
				return classify(err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: load %s: %w", l.table, err)
	}
	l.Rows += int64(len(rows))
	l.pending, l.bytes = l.pending[:0], 0
	return nil
}

// rebindRaw rebinds a one-off query without caching it.
func (db *DB) rebindRaw(query string) string {
	if db.engine == SQLite {
		return rebindSQLite(query)
	}
	return query
}

// CountTable counts a backed-up table's rows.
func (t *Tx) CountTable(ctx context.Context, table string) (int64, error) {
	if !isBackupTable(table) {
		return 0, fmt.Errorf("store: %q is not a backed-up table", table)
	}
	var n int64
	if err := t.q.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
		return 0, classify(err)
	}
	return n, nil
}

// LastErasure is the id of the newest erasure ledger entry ("" if none).
func (t *Tx) LastErasure(ctx context.Context) (string, error) {
	var id sql.NullString
	if err := t.q.QueryRowContext(ctx, "SELECT MAX(id) FROM erasure_ledger").Scan(&id); err != nil {
		return "", classify(err)
	}
	return id.String, nil
}
