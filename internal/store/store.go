package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Engine is a database engine.
type Engine string

const (
	SQLite   Engine = "sqlite"
	Postgres Engine = "postgres"
)

// Driver names as registered with database/sql by the composition root
// (modernc.org/sqlite registers "sqlite"; pgx's stdlib registers "pgx").
const (
	sqliteDriver   = "sqlite"
	postgresDriver = "pgx"
)

// Options configures Open.
type Options struct {
	Engine Engine
	// Path is the SQLite database file.
	Path string
	// URL is the PostgreSQL connection URL.
	URL string
	// MaxOpenConns bounds the connection pool (for SQLite: the read pool).
	MaxOpenConns int
	// GroupCommit lets concurrent SQLite writes share one commit.
	GroupCommit bool
	// MaxBatch bounds how many writes share one commit (default 512).
	MaxBatch int
	Logger   *slog.Logger
}

// DB is an open database.
type DB struct {
	engine  Engine
	write   *sql.DB // SQLite: exactly one connection
	read    *sql.DB // SQLite: query_only connections; PostgreSQL: same as write
	batcher *batcher
	log     *slog.Logger
	reader  *Tx

	rebindMu    sync.RWMutex
	rebindCache map[string]string

	stmtMu sync.Mutex
	stmts  map[stmtKey]*sql.Stmt

	closeOnce sync.Once
}

// Open opens (and for SQLite, creates) the database. It does not migrate.
func Open(ctx context.Context, opts Options) (*DB, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxOpenConns <= 0 {
		opts.MaxOpenConns = 8
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 512
	}
	db := &DB{engine: opts.Engine, log: opts.Logger, rebindCache: map[string]string{}, stmts: map[stmtKey]*sql.Stmt{}}
	var err error
	switch opts.Engine {
	case SQLite:
		err = db.openSQLite(ctx, opts)
	case Postgres:
		err = db.openPostgres(ctx, opts)
	default:
		err = fmt.Errorf("unknown database engine %q", opts.Engine)
	}
	if err != nil {
		db.closePools()
		return nil, err
	}
	db.reader = &Tx{db: db, q: db.read, readOnly: true, pool: db.read}
	if opts.Engine == SQLite && opts.GroupCommit {
		db.batcher = newBatcher(db, opts.MaxBatch)
	}
	return db, nil
}

func (db *DB) openSQLite(ctx context.Context, opts Options) error {
	if opts.Path == "" {
		return errors.New("open database: no SQLite file given")
	}
	if err := checkSQLitePath(opts.Path); err != nil {
		return err
	}
	// busy_timeout first (it applies to the statements that follow), WAL for
	// concurrent readers, synchronous=FULL so an acknowledged commit survives
	// power loss (BAK-4), foreign keys on, and IMMEDIATE write transactions so
	// a writer never fails to upgrade a read lock. Pages are read through a
	// memory map (up to 256 MiB), which spares a system call and a copy per
	// page on scans (audit verification reads the whole trail). Page caches
	// are small — 8 MiB for the writer, 2 MiB for each reader — because the
	// operating system caches the file anyway, and because file chunks pass
	// through them: memory stays bounded whatever the size of the files.
	// The writer overwrites deleted content (secure_delete), so culled and
	// erased data does not linger in free pages of the file (RET-5).
	common := "_busy_timeout=10000&_foreign_keys=1&_pragma=temp_store(memory)&_pragma=mmap_size(268435456)"
	wdsn := opts.Path + "?" + common + "&_pragma=secure_delete(on)&_pragma=cache_size(-8000)&_journal_mode=WAL&_synchronous=FULL&_txlock=immediate"
	rdsn := opts.Path + "?" + common + "&_pragma=cache_size(-2000)&_query_only=1"
	var err error
	if db.write, err = sql.Open(sqliteDriver, wdsn); err != nil {
		return fmt.Errorf("open database %s: %w", opts.Path, err)
	}
	db.write.SetMaxOpenConns(1)
	db.write.SetMaxIdleConns(1)
	db.write.SetConnMaxLifetime(0)
	db.write.SetConnMaxIdleTime(0)
	// The first connection creates the file and switches it to WAL; check it
	// is really a database before opening readers.
	if err := checkSQLiteUsable(ctx, db.write, opts.Path); err != nil {
		return err
	}
	if db.read, err = sql.Open(sqliteDriver, rdsn); err != nil {
		return fmt.Errorf("open database %s: %w", opts.Path, err)
	}
	db.read.SetMaxOpenConns(opts.MaxOpenConns)
	db.read.SetMaxIdleConns(opts.MaxOpenConns)
	db.read.SetConnMaxIdleTime(0)
	db.read.SetConnMaxLifetime(0)
	return nil
}

func checkSQLitePath(path string) error {
	dir := filepath.Dir(path)
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("open database %s: directory %s: %w", path, dir, errors.Unwrap(err))
	}
	if !st.IsDir() {
		return fmt.Errorf("open database %s: %s is not a directory", path, dir)
	}
	if st, err := os.Stat(path); err == nil {
		if !st.Mode().IsRegular() {
			return fmt.Errorf("open database %s: not a regular file", path)
		}
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			return fmt.Errorf("open database %s: cannot write the file: %w", path, errors.Unwrap(err))
		}
		f.Close()
		return nil
	}
	// The file is new: SQLite needs to create it and its -wal and -shm files.
	probe, err := os.CreateTemp(dir, ".valv-write-probe-*")
	if err != nil {
		return fmt.Errorf("open database %s: cannot write in directory %s", path, dir)
	}
	probe.Close()
	os.Remove(probe.Name())
	return nil
}

func checkSQLiteUsable(ctx context.Context, db *sql.DB, path string) error {
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("open database %s: %s", path, sqliteOpenMessage(err))
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&n); err != nil {
		return fmt.Errorf("open database %s: %s", path, sqliteOpenMessage(err))
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("open database %s: cannot switch to WAL journal mode (got %q)", path, mode)
	}
	return nil
}

func sqliteOpenMessage(err error) string {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "not a database"), strings.Contains(msg, "malformed"), strings.Contains(msg, "corrupt"):
		return "the file is not a SQLite database or is corrupt; restore it from a backup"
	case strings.Contains(msg, "readonly"), strings.Contains(msg, "read-only"), strings.Contains(msg, "unable to open"):
		return "cannot open the file for writing"
	}
	return msg
}

func (db *DB) openPostgres(ctx context.Context, opts Options) error {
	if opts.URL == "" {
		return errors.New("open database: no PostgreSQL URL given")
	}
	var err error
	if db.write, err = sql.Open(postgresDriver, opts.URL); err != nil {
		return fmt.Errorf("open database: %s", redactURLError(err, opts.URL))
	}
	db.write.SetMaxOpenConns(opts.MaxOpenConns)
	db.write.SetMaxIdleConns(opts.MaxOpenConns)
	db.write.SetConnMaxIdleTime(5 * time.Minute)
	db.write.SetConnMaxLifetime(time.Hour)
	db.read = db.write
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := db.write.PingContext(pctx); err != nil {
		return fmt.Errorf("open database: connect to PostgreSQL: %s", redactURLError(err, opts.URL))
	}
	return nil
}

// redactURLError removes the connection URL (which may hold a password) from
// a driver's error message.
func redactURLError(err error, url string) string {
	msg := err.Error()
	if url != "" {
		msg = strings.ReplaceAll(msg, url, "[database url]")
	}
	return msg
}

// Engine reports the engine.
func (db *DB) Engine() Engine { return db.engine }

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.read.PingContext(ctx); err != nil {
		return classify(err)
	}
	var one int
	if err := db.read.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return classify(err)
	}
	return nil
}

// Close stops the writer and closes all connections. Pending writes fail.
func (db *DB) Close() error {
	var err error
	db.closeOnce.Do(func() {
		if db.batcher != nil {
			db.batcher.close()
		}
		db.stmtMu.Lock()
		for _, st := range db.stmts {
			st.Close()
		}
		db.stmts = nil
		db.stmtMu.Unlock()
		err = db.closePools()
	})
	return err
}

func (db *DB) closePools() error {
	var errs []error
	if db.read != nil && db.read != db.write {
		errs = append(errs, db.read.Close())
	}
	if db.write != nil {
		errs = append(errs, db.write.Close())
	}
	return errors.Join(errs...)
}

// Reader returns a handle that runs each query on its own, outside any
// transaction, on the read connections. Use Read for a consistent snapshot
// across several queries.
func (db *DB) Reader() *Tx { return db.reader }

// Read runs fn in a read-only transaction: every query in it sees the same
// snapshot.
func (db *DB) Read(ctx context.Context, fn func(tx *Tx) error) error {
	sqlTx, err := db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: db.engine == Postgres, Isolation: db.snapshotIsolation()})
	if err != nil {
		return classify(err)
	}
	defer sqlTx.Rollback() //nolint:errcheck // read-only: nothing to lose
	return fn(&Tx{db: db, q: sqlTx, readOnly: true, pool: db.read, tx: sqlTx})
}

func (db *DB) snapshotIsolation() sql.IsolationLevel {
	if db.engine == Postgres {
		return sql.LevelRepeatableRead
	}
	return sql.LevelDefault // a SQLite read transaction is a snapshot
}

// Write runs fn in a read-write transaction and returns once it is durably
// committed. See the package documentation for what fn may do.
func (db *DB) Write(ctx context.Context, fn func(tx *Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if db.batcher != nil {
		return db.batcher.submit(ctx, fn)
	}
	return db.writeDirect(ctx, fn)
}

// maxWriteAttempts bounds retries of serialization failures and deadlocks.
const maxWriteAttempts = 5

func (db *DB) writeDirect(ctx context.Context, fn func(tx *Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := db.writeOnce(ctx, fn)
		if err == nil || !isRetryable(err) || attempt == maxWriteAttempts {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt*attempt) * 5 * time.Millisecond):
		}
	}
}

func (db *DB) writeOnce(ctx context.Context, fn func(tx *Tx) error) (err error) {
	sqlTx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return classify(err)
	}
	defer func() {
		if r := recover(); r != nil {
			_ = sqlTx.Rollback()
			err = fmt.Errorf("store: write function panicked: %v", r)
		}
	}()
	if err := fn(&Tx{db: db, q: sqlTx, pool: db.write, tx: sqlTx}); err != nil {
		_ = sqlTx.Rollback()
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return classify(fmt.Errorf("commit: %w", err))
	}
	return nil
}

// stmtKey names a prepared statement of one pool.
type stmtKey struct {
	pool  *sql.DB
	query string
}

// maxStmts bounds the statement cache; statements are constants, so it
// is a safety net.
const maxStmts = 2000

// stmt returns the pool's prepared statement for query. With prepare set
// it prepares one on first use; it returns nil if there is none (the
// caller then runs the query unprepared, and gets any error from there).
func (db *DB) stmt(ctx context.Context, pool *sql.DB, query string, prepare bool) *sql.Stmt {
	key := stmtKey{pool, query}
	db.stmtMu.Lock()
	st, ok := db.stmts[key]
	full := db.stmts == nil || len(db.stmts) >= maxStmts
	db.stmtMu.Unlock()
	if ok || !prepare || full {
		return st
	}
	// Prepare without the lock held: it waits for a connection.
	st, err := pool.PrepareContext(ctx, db.rebind(query))
	if err != nil {
		return nil
	}
	db.stmtMu.Lock()
	defer db.stmtMu.Unlock()
	if db.stmts == nil { // closed meanwhile
		st.Close()
		return nil
	}
	if old, ok := db.stmts[key]; ok {
		st.Close()
		return old
	}
	db.stmts[key] = st
	return st
}

// rebind rewrites $N placeholders for SQLite (?N). It skips quoted text.
func (db *DB) rebind(query string) string {
	if db.engine != SQLite {
		return query
	}
	db.rebindMu.RLock()
	q, ok := db.rebindCache[query]
	db.rebindMu.RUnlock()
	if ok {
		return q
	}
	q = rebindSQLite(query)
	db.rebindMu.Lock()
	if len(db.rebindCache) < 10000 { // statements are constants; this bound is a safety net
		db.rebindCache[query] = q
	}
	db.rebindMu.Unlock()
	return q
}

func rebindSQLite(query string) string {
	var b strings.Builder
	b.Grow(len(query))
	var quote byte
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '$' && i+1 < len(query) && query[i+1] >= '0' && query[i+1] <= '9':
			c = '?'
		}
		b.WriteByte(c)
	}
	return b.String()
}

// IntegrityCheck runs SQLite's full integrity check and returns nil when it
// reports ok. On PostgreSQL it only checks that the database answers.
func (db *DB) IntegrityCheck(ctx context.Context) error {
	if db.engine != SQLite {
		return db.Ping(ctx)
	}
	rows, err := db.read.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		return classify(err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return err
		}
		if s != "ok" {
			problems = append(problems, s)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(problems) > 0 {
		return fmt.Errorf("store: integrity check failed: %s", strings.Join(problems, "; "))
	}
	return nil
}

// TruncateLog checkpoints SQLite's write-ahead log into the database file
// and truncates it, so pages that held deleted content are gone from it
// too (with secure_delete, the database file's are overwritten). Readers
// that still hold old snapshots can leave part of it; that is no error.
// On PostgreSQL it does nothing.
func (db *DB) TruncateLog(ctx context.Context) error {
	if db.engine != SQLite {
		return nil
	}
	_, err := db.write.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
	return err
}
