package store

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
)

// batcher is SQLite's group commit. SQLite allows one writer, and with
// synchronous=FULL each commit costs an fsync, so committing each request on
// its own caps writes at the disk's fsync rate. The batcher instead runs
// every write that is waiting when the previous commit finishes in one
// transaction, each inside its own savepoint, and commits once: a function
// that fails rolls back to its savepoint without touching the others, and
// no caller is answered before the commit that holds its changes is durable.
type batcher struct {
	db       *DB
	reqs     chan *writeReq
	maxBatch int

	mu     sync.RWMutex // guards closed against concurrent submit
	closed bool
	done   chan struct{}
}

type writeReq struct {
	ctx  context.Context
	fn   func(*Tx) error
	done chan error
}

func newBatcher(db *DB, maxBatch int) *batcher {
	b := &batcher{
		db:       db,
		reqs:     make(chan *writeReq, maxBatch),
		maxBatch: maxBatch,
		done:     make(chan struct{}),
	}
	go b.run()
	return b
}

func (b *batcher) submit(ctx context.Context, fn func(*Tx) error) error {
	r := &writeReq{ctx: ctx, fn: fn, done: make(chan error, 1)}
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		return ErrClosed
	}
	select {
	case b.reqs <- r:
	case <-ctx.Done():
		b.mu.RUnlock()
		return ctx.Err()
	}
	b.mu.RUnlock()
	// Once queued, wait for the outcome even if ctx ends: the write may
	// already be committed, and the caller must not be told otherwise.
	return <-r.done
}

func (b *batcher) close() {
	b.mu.Lock()
	b.closed = true
	close(b.reqs)
	b.mu.Unlock()
	<-b.done
}

func (b *batcher) run() {
	defer close(b.done)
	batch := make([]*writeReq, 0, b.maxBatch)
	for first := range b.reqs {
		batch = append(batch[:0], first)
	fill:
		for len(batch) < b.maxBatch {
			select {
			case r, ok := <-b.reqs:
				if !ok {
					break fill
				}
				batch = append(batch, r)
			default:
				break fill
			}
		}
		b.commit(batch)
	}
}

func (b *batcher) commit(batch []*writeReq) {
	results := make([]error, len(batch))
	finish := func() {
		for i, r := range batch {
			r.done <- results[i]
		}
	}
	defer finish()

	// Skip callers that gave up before their turn; they were never started.
	live := 0
	for i, r := range batch {
		if err := r.ctx.Err(); err != nil {
			results[i] = err
		} else {
			live++
		}
	}
	if live == 0 {
		return
	}
	sqlTx, err := b.db.write.BeginTx(context.Background(), nil)
	if err != nil {
		err = classify(err)
		for i := range batch {
			if results[i] == nil {
				results[i] = err
			}
		}
		return
	}
	ctx := context.Background()
	tx := &Tx{db: b.db, q: sqlTx, pool: b.db.write, tx: sqlTx}
	tx.local = map[string]*sql.Stmt{} // closed with the transaction
	// Once the connection is free again, the statements this batch had to
	// prepare are prepared on it for good, so later batches only re-bind
	// them.
	defer func() {
		for q := range tx.local {
			b.db.stmt(ctx, b.db.write, q, true)
		}
	}()
	useSavepoints := live > 1
	ok := 0
	for i, r := range batch {
		if results[i] != nil {
			continue
		}
		if !useSavepoints {
			results[i] = runWrite(r.fn, tx)
		} else {
			results[i] = runInSavepoint(ctx, sqlTx, r.fn, tx)
			if results[i] == errBatchBroken {
				_ = sqlTx.Rollback()
				for j := range batch {
					if results[j] == nil || j == i {
						results[j] = fmt.Errorf("store: group commit failed: savepoint could not be rolled back")
					}
				}
				return
			}
		}
		if results[i] == nil {
			ok++
		}
	}
	if ok == 0 {
		_ = sqlTx.Rollback()
		return
	}
	if err := sqlTx.Commit(); err != nil {
		err = classify(fmt.Errorf("commit: %w", err))
		for i := range batch {
			if results[i] == nil {
				results[i] = err
			}
		}
	}
}

var errBatchBroken = fmt.Errorf("store: batch broken")

func runWrite(fn func(*Tx) error, tx *Tx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("store: write function panicked: %v", r)
		}
	}()
	return fn(tx)
}

func runInSavepoint(ctx context.Context, sqlTx *sql.Tx, fn func(*Tx) error, tx *Tx) error {
	if _, err := sqlTx.ExecContext(ctx, "SAVEPOINT w"); err != nil {
		return errBatchBroken
	}
	if err := runWrite(fn, tx); err != nil {
		if _, rerr := sqlTx.ExecContext(ctx, "ROLLBACK TO w"); rerr != nil {
			return errBatchBroken
		}
		if _, rerr := sqlTx.ExecContext(ctx, "RELEASE w"); rerr != nil {
			return errBatchBroken
		}
		return err
	}
	if _, err := sqlTx.ExecContext(ctx, "RELEASE w"); err != nil {
		return errBatchBroken
	}
	return nil
}
