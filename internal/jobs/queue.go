package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/valvhq/valv/internal/store"
)

// Handler does one queued task; payload is what Enqueue was given.
type Handler func(ctx context.Context, payload string) error

// MaxAttempts is how often a queued task is tried before it is given up
// (and kept, failed, for an operator to see).
const MaxAttempts = 12

// Handle registers the handler of a kind of queued task.
func (s *Scheduler) Handle(kind string, h Handler) {
	s.mu.Lock()
	s.handlers[kind] = h
	s.mu.Unlock()
}

// Enqueue adds a task of kind inside tx (so it is queued exactly when the
// change that needs it commits) and returns its id.
func (s *Scheduler) Enqueue(ctx context.Context, tx *store.Tx, kind, payload string) (string, error) {
	id := uuid.Must(uuid.NewV7()).String()
	now := s.now()
	return id, tx.Enqueue(ctx, store.QueuedJob{ID: id, Kind: kind, Payload: payload, RunAt: now, CreatedAt: now})
}

// queueName marks the queue as running in the poll loop.
const queueName = "jobs.queue"

// RunQueue runs the queued tasks that are due and returns how many it ran.
func (s *Scheduler) RunQueue(ctx context.Context) (int, error) {
	var errs []error
	ran := 0
	for {
		due, err := s.db.Reader().DueQueuedJobs(ctx, s.now(), 20)
		if err != nil {
			return ran, err
		}
		if len(due) == 0 {
			return ran, errors.Join(errs...)
		}
		progressed := false
		for _, q := range due {
			did, err := s.RunQueued(ctx, q.ID)
			if did {
				ran++
				progressed = true
			}
			if err != nil {
				errs = append(errs, err)
			}
		}
		if !progressed || ctx.Err() != nil {
			return ran, errors.Join(errs...)
		}
		if len(errs) > 0 {
			// Failed tasks were rescheduled; do not spin on them.
			return ran, errors.Join(errs...)
		}
	}
}

// RunQueued claims and runs one queued task now; it reports whether this
// node ran it (false: done, or another node has it).
func (s *Scheduler) RunQueued(ctx context.Context, id string) (bool, error) {
	now := s.now()
	var claimed bool
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		var err error
		claimed, err = tx.ClaimQueuedJob(ctx, id, s.node, now, now.Add(s.lease))
		return err
	})
	if err != nil || !claimed {
		return false, err
	}
	q, err := s.db.Reader().QueuedJobByID(ctx, id)
	if err != nil {
		return true, err
	}
	s.mu.Lock()
	h := s.handlers[q.Kind]
	s.mu.Unlock()
	var runErr error
	if h == nil {
		runErr = fmt.Errorf("no handler for queued work of kind %q on this node", q.Kind)
	} else {
		runErr = safeHandle(ctx, h, q.Payload)
	}
	fin := s.now()
	state, errText, retry := "done", "", fin
	if runErr != nil {
		errText = errorText(runErr)
		state = "queued"
		// Back off: 30 s, 1 min, 2 min ... up to 6 h.
		d := min(30*time.Second<<min(q.Attempts-1, 10), 6*time.Hour)
		retry = fin.Add(d)
		if q.Attempts >= MaxAttempts {
			state = "failed"
		}
		s.log.Error("queued work failed", "kind", q.Kind, "id", q.ID, "attempt", q.Attempts, "error", runErr)
	}
	err = s.db.Write(context.WithoutCancel(ctx), func(tx *store.Tx) error {
		return tx.FinishQueuedJob(ctx, id, s.node, state, errText, fin, retry)
	})
	if runErr != nil {
		return true, fmt.Errorf("queued %s %s: %w", q.Kind, q.ID, runErr)
	}
	return true, err
}

func safeHandle(ctx context.Context, h Handler, payload string) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("queued work panicked: %v", p)
		}
	}()
	return h(ctx, payload)
}

// ExpireQueue deletes finished and given-up tasks older than keep.
func (s *Scheduler) ExpireQueue(ctx context.Context, keep time.Duration) error {
	return s.db.Write(ctx, func(tx *store.Tx) error {
		_, err := tx.ExpireQueuedJobs(ctx, s.now().Add(-keep))
		return err
	})
}
