package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// Tx is a handle for the store's queries. Inside Write it is a read-write
// transaction; inside Read a read-only snapshot; from DB.Reader it runs each
// query on its own. The store's table methods are defined on Tx.
type Tx struct {
	db       *DB
	q        querier
	readOnly bool
	pool     *sql.DB // the pool q belongs to (its statements are cached per pool)
	tx       *sql.Tx // nil outside a transaction
	// local caches statements prepared on the transaction itself, for the
	// group-commit batch: its many writes share a few statements.
	local map[string]*sql.Stmt
}

type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// errReadOnly is returned when a write is attempted through a read handle.
var errReadOnly = errors.New("store: write attempted through a read-only handle")

func (t *Tx) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if t.readOnly {
		return nil, errReadOnly
	}
	var res sql.Result
	var err error
	if st := t.prepared(ctx, query); st != nil {
		res, err = st.ExecContext(ctx, args...)
	} else {
		res, err = t.q.ExecContext(ctx, t.db.rebind(query), args...)
	}
	if err != nil {
		return nil, classify(err)
	}
	return res, nil
}

// prepared returns the cached prepared statement for query, bound to the
// transaction if there is one, or nil when statements are not cached
// (PostgreSQL: pgx caches prepared statements per connection itself).
// On SQLite, parsing and planning a statement costs more than running a
// simple one, so every statement is prepared once per connection.
//
// A statement is prepared only outside transactions: preparing takes a
// connection from the pool, and inside a transaction (which holds one, and
// on SQLite's write pool the only one) that could wait forever. Inside a
// transaction an already prepared statement is re-bound to its connection.
func (t *Tx) prepared(ctx context.Context, query string) *sql.Stmt {
	if t.db.engine != SQLite || t.pool == nil {
		return nil
	}
	if t.local != nil {
		if st, ok := t.local[query]; ok {
			return st
		}
		if st := t.db.stmt(ctx, t.pool, query, false); st != nil {
			st = t.tx.StmtContext(ctx, st)
			t.local[query] = st
			return st
		}
		st, err := t.tx.PrepareContext(ctx, t.db.rebind(query))
		if err != nil {
			return nil
		}
		t.local[query] = st
		return st
	}
	st := t.db.stmt(ctx, t.pool, query, t.tx == nil)
	if st == nil || t.tx == nil {
		return st
	}
	return t.tx.StmtContext(ctx, st)
}

// row runs a query that returns one row.
func (t *Tx) row(ctx context.Context, query string, args ...any) *sql.Row {
	if st := t.prepared(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return t.q.QueryRowContext(ctx, t.db.rebind(query), args...)
}

// execOne runs a statement that must change exactly one row; zero rows is
// ErrNotFound.
func (t *Tx) execOne(ctx context.Context, query string, args ...any) error {
	res, err := t.exec(ctx, query, args...)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return classify(err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

func (t *Tx) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	var rows *sql.Rows
	var err error
	if st := t.prepared(ctx, query); st != nil {
		rows, err = st.QueryContext(ctx, args...)
	} else {
		rows, err = t.q.QueryContext(ctx, t.db.rebind(query), args...)
	}
	if err != nil {
		return nil, classify(err)
	}
	return rows, nil
}

// queryRow scans one row into dest; no row is ErrNotFound.
func (t *Tx) queryRow(ctx context.Context, query string, args []any, dest ...any) error {
	err := t.row(ctx, query, args...).Scan(dest...)
	if err != nil {
		return classify(err)
	}
	return nil
}

// Engine reports the engine behind the handle.
func (t *Tx) Engine() Engine { return t.db.engine }

// forUpdate is the row-lock suffix for SELECTs that precede an update of the
// same row. SQLite has one writer at a time and needs none.
func (t *Tx) forUpdate() string {
	if t.db.engine == Postgres {
		return " FOR UPDATE"
	}
	return ""
}

// Times are stored as microseconds since the Unix epoch, UTC, in both
// engines: exact, sortable, and the same in a backup from either.
func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

// scanRows runs query and calls scan for each row.
func scanRows(ctx context.Context, t *Tx, scan func(*sql.Rows) error, query string, args ...any) error {
	rows, err := t.query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return classify(err)
		}
	}
	return classify(rows.Err())
}
