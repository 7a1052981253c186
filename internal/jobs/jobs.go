// Package jobs runs Valv's scheduled and queued work with leases in the
// database, so that with several nodes on one database each run happens
// once: a node claims a due job with one atomic update, renews its lease
// while it works, and saves the run's progress inside the transactions
// that do the work. A node that dies leaves its lease to expire, and the
// next node to claim the job resumes the run from its saved state.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/valvhq/valv/internal/store"
)

// Job is a piece of scheduled work.
type Job struct {
	// Name identifies the job across nodes ("retention.cull").
	Name string
	// Every is the time between the end of one run and the start of the next.
	Every time.Duration
	// At, if set ("07:00"), runs the job daily at that time of day in Zone
	// instead (Every is then ignored).
	At string
	// Run does the work. It saves progress with Run.Save inside the
	// transactions that do the work, and resumes from Run.State.
	Run func(ctx context.Context, r *Run) error
}

// Run is one run of a job, as its function sees it.
type Run struct {
	// ID identifies the run; a resumed run keeps it.
	ID string
	// State is the progress the run saved before, or "" for a fresh run.
	State string
	// Resumed says the run was begun by a holder that stopped.
	Resumed bool

	s    *Scheduler
	name string
}

// ErrLeaseLost means another node took over the job: the work must stop,
// and the transaction that found it must not commit.
var ErrLeaseLost = errors.New("jobs: the job's lease was lost to another node")

// Save records the run's progress inside tx, the transaction that did the
// work it describes. It fails with ErrLeaseLost if this node no longer
// holds the job.
func (r *Run) Save(ctx context.Context, tx *store.Tx, state string) error {
	err := tx.SaveJobState(ctx, r.name, r.s.node, r.ID, state)
	if errors.Is(err, store.ErrNotFound) {
		return ErrLeaseLost
	}
	if err == nil {
		r.State = state
	}
	return err
}

// Options configure a Scheduler.
type Options struct {
	DB *store.DB
	// Node names this process in leases (a random id if empty).
	Node string
	// Lease is how long a claim lasts without renewal (default 5 minutes);
	// a crashed node's jobs are resumed after it.
	Lease time.Duration
	// Poll is how often due work is looked for (default 5 seconds).
	Poll time.Duration
	// Ready, if set, must be true for any job to start (Valv is unsealed).
	Ready  func() bool
	Now    func() time.Time
	Logger *slog.Logger
	// Zone is the time zone of At (default Europe/Stockholm).
	Zone *time.Location
}

// Scheduler runs registered jobs and queued tasks.
type Scheduler struct {
	db    *store.DB
	node  string
	lease time.Duration
	poll  time.Duration
	ready func() bool
	now   func() time.Time
	log   *slog.Logger
	zone  *time.Location

	mu       sync.Mutex
	jobs     []*Job
	handlers map[string]Handler
	running  map[string]bool
}

// New returns a scheduler; register jobs before Start.
func New(o Options) *Scheduler {
	s := &Scheduler{db: o.DB, node: o.Node, lease: o.Lease, poll: o.Poll, ready: o.Ready, now: o.Now, log: o.Logger, zone: o.Zone,
		handlers: map[string]Handler{}, running: map[string]bool{}}
	if s.node == "" {
		s.node = "node-" + uuid.NewString()[:8]
	}
	if s.lease <= 0 {
		s.lease = 5 * time.Minute
	}
	if s.poll <= 0 {
		s.poll = 5 * time.Second
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.zone == nil {
		s.zone = time.UTC
		if loc, err := time.LoadLocation("Europe/Stockholm"); err == nil {
			s.zone = loc
		}
	}
	if s.ready == nil {
		s.ready = func() bool { return true }
	}
	return s
}

// Node is the name this scheduler leases under.
func (s *Scheduler) Node() string { return s.node }

// Register adds a job and makes sure its row exists, due now.
func (s *Scheduler) Register(ctx context.Context, j Job) error {
	if j.Name == "" || j.Run == nil || (j.Every <= 0 && j.At == "") {
		return fmt.Errorf("jobs: job %q needs a name, a function and a schedule", j.Name)
	}
	if j.At != "" {
		if _, err := time.Parse("15:04", j.At); err != nil {
			return fmt.Errorf("jobs: job %s: time of day %q is not HH:MM", j.Name, j.At)
		}
	}
	first := s.now()
	if j.At != "" {
		first = s.nextAt(j.At, first)
	}
	if err := s.db.Write(ctx, func(tx *store.Tx) error { return tx.EnsureJob(ctx, j.Name, first) }); err != nil {
		return fmt.Errorf("register job %s: %w", j.Name, err)
	}
	s.mu.Lock()
	s.jobs = append(s.jobs, &j)
	s.mu.Unlock()
	return nil
}

// nextAt is the first time after t that is hh:mm in the zone.
func (s *Scheduler) nextAt(at string, t time.Time) time.Time {
	hm, _ := time.Parse("15:04", at)
	local := t.In(s.zone)
	next := time.Date(local.Year(), local.Month(), local.Day(), hm.Hour(), hm.Minute(), 0, 0, s.zone)
	if !next.After(t) {
		next = time.Date(local.Year(), local.Month(), local.Day()+1, hm.Hour(), hm.Minute(), 0, 0, s.zone)
	}
	return next
}

func (s *Scheduler) next(j *Job, t time.Time) time.Time {
	if j.At != "" {
		return s.nextAt(j.At, t)
	}
	return t.Add(j.Every)
}

// retryAfter is when a failed run is tried again.
func (s *Scheduler) retryAfter(j *Job, t time.Time) time.Time {
	d := 5 * time.Minute
	if j.Every > 0 && j.Every < d {
		d = j.Every
	}
	return t.Add(d)
}

// Start runs due work every Poll until ctx ends; the returned function
// waits for runs under way to stop.
func (s *Scheduler) Start(ctx context.Context) (wait func()) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(s.poll)
		defer t.Stop()
		for {
			s.startDue(ctx, &wg)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return wg.Wait
}

// startDue starts every due job this node is not already running, each in
// its own goroutine, and the queue.
func (s *Scheduler) startDue(ctx context.Context, wg *sync.WaitGroup) {
	if !s.ready() {
		return
	}
	s.mu.Lock()
	jobs := append([]*Job(nil), s.jobs...)
	s.mu.Unlock()
	if s.begin(queueName) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer s.end(queueName)
			if _, err := s.RunQueue(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("queued work failed", "error", err)
			}
		}()
	}
	for _, j := range jobs {
		if !s.begin(j.Name) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer s.end(j.Name)
			if _, err := s.runJob(ctx, j); err != nil && ctx.Err() == nil {
				s.log.Error("job failed", "job", j.Name, "error", err)
			}
		}()
	}
}

func (s *Scheduler) begin(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running[name] {
		return false
	}
	s.running[name] = true
	return true
}

func (s *Scheduler) end(name string) {
	s.mu.Lock()
	delete(s.running, name)
	s.mu.Unlock()
}

// RunDue runs every due job and queued task once, here and now, and
// returns the names of the jobs this node ran (tests and the CLI).
func (s *Scheduler) RunDue(ctx context.Context) ([]string, error) {
	if !s.ready() {
		return nil, nil
	}
	s.mu.Lock()
	jobs := append([]*Job(nil), s.jobs...)
	s.mu.Unlock()
	var ran []string
	var errs []error
	for _, j := range jobs {
		if !s.begin(j.Name) {
			continue
		}
		did, err := s.runJob(ctx, j)
		s.end(j.Name)
		if did {
			ran = append(ran, j.Name)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("job %s: %w", j.Name, err))
		}
	}
	if _, err := s.RunQueue(ctx); err != nil {
		errs = append(errs, err)
	}
	return ran, errors.Join(errs...)
}

// RunNamed runs one registered job now if it is due, and reports whether
// it ran.
func (s *Scheduler) RunNamed(ctx context.Context, name string) (bool, error) {
	s.mu.Lock()
	var job *Job
	for _, j := range s.jobs {
		if j.Name == name {
			job = j
		}
	}
	s.mu.Unlock()
	if job == nil {
		return false, fmt.Errorf("jobs: no job %q", name)
	}
	if !s.begin(name) {
		return false, nil
	}
	defer s.end(name)
	return s.runJob(ctx, job)
}

// ErrBusy means another node holds the job's lease.
var ErrBusy = errors.New("jobs: the job is running on another node")

// RunNow runs a registered job now, due or not, with fn in place of its
// function (the CLI runs culling by hand with a progress bar this way). It
// fails with ErrBusy if the job is running elsewhere.
func (s *Scheduler) RunNow(ctx context.Context, name string, fn func(ctx context.Context, r *Run) error) error {
	s.mu.Lock()
	var job *Job
	for _, j := range s.jobs {
		if j.Name == name {
			c := *j
			job = &c
		}
	}
	s.mu.Unlock()
	if job == nil {
		return fmt.Errorf("jobs: no job %q", name)
	}
	if fn != nil {
		job.Run = fn
	}
	if !s.begin(name) {
		return ErrBusy
	}
	defer s.end(name)
	ran, err := s.claimAndRun(ctx, job, true)
	if err == nil && !ran {
		return ErrBusy
	}
	return err
}

// runJob claims j if it is due and runs it; it reports whether it ran.
func (s *Scheduler) runJob(ctx context.Context, j *Job) (bool, error) {
	return s.claimAndRun(ctx, j, false)
}

func (s *Scheduler) claimAndRun(ctx context.Context, j *Job, force bool) (bool, error) {
	now := s.now()
	runID := uuid.Must(uuid.NewV7()).String()
	var claimed bool
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		var err error
		claimed, err = tx.ClaimJob(ctx, j.Name, s.node, runID, now, now.Add(s.lease), force)
		return err
	})
	if err != nil || !claimed {
		return false, err
	}
	row, err := s.db.Reader().Job(ctx, j.Name)
	if err != nil {
		return false, err
	}
	run := &Run{ID: row.RunID, State: row.State, Resumed: row.RunID != runID, s: s, name: j.Name}
	if run.Resumed {
		s.log.Info("resuming a job run that another holder left unfinished", "job", j.Name, "run", run.ID)
	}

	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopRenew := s.renew(rctx, cancel, j.Name, run.ID)
	runErr := safeRun(rctx, j, run)
	stopRenew()

	fin := s.now()
	ok := runErr == nil
	next := s.next(j, fin)
	errText := ""
	if !ok {
		next = s.retryAfter(j, fin)
		errText = errorText(runErr)
	}
	err = s.db.Write(context.WithoutCancel(ctx), func(tx *store.Tx) error {
		return tx.FinishJob(ctx, j.Name, s.node, run.ID, ok, errText, fin, next)
	})
	if errors.Is(err, store.ErrNotFound) {
		err = ErrLeaseLost
	}
	return true, errors.Join(runErr, err)
}

// safeRun runs a job's function, turning a panic into an error so that
// one bad run does not take the node down.
func safeRun(ctx context.Context, j *Job, r *Run) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("job %s panicked: %v", j.Name, p)
		}
	}()
	return j.Run(ctx, r)
}

// errorText is what is kept of an error: its first 300 bytes.
func errorText(err error) string {
	s := err.Error()
	if len(s) > 300 {
		s = s[:300]
	}
	return s
}

// renew extends the lease every third of its length until stopped; if the
// lease is lost it cancels the run.
func (s *Scheduler) renew(ctx context.Context, cancel func(), name, runID string) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(s.lease / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				err := s.db.Write(ctx, func(tx *store.Tx) error {
					return tx.ExtendJobLease(ctx, name, s.node, runID, s.now().Add(s.lease))
				})
				if errors.Is(err, store.ErrNotFound) {
					s.log.Error("job lease lost; stopping the run", "job", name)
					cancel()
					return
				}
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// Status is a job's schedule and last run, for `valv jobs list`.
type Status struct {
	Name         string    `json:"name"`
	NextRun      time.Time `json:"next_run"`
	Running      bool      `json:"running"`
	LeaseOwner   string    `json:"lease_owner,omitempty"`
	Runs         int64     `json:"runs"`
	LastStarted  time.Time `json:"last_started,omitzero"`
	LastFinished time.Time `json:"last_finished,omitzero"`
	LastStatus   string    `json:"last_status,omitempty"`
	LastError    string    `json:"last_error,omitempty"`
}

// List returns every job's status.
func List(ctx context.Context, db *store.DB, now time.Time) ([]Status, error) {
	rows, err := db.Reader().Jobs(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Status, len(rows))
	for i, r := range rows {
		out[i] = Status{Name: r.Name, NextRun: r.NextRun, Running: r.LeaseUntil.After(now), Runs: r.Runs,
			LastStarted: r.LastStarted, LastFinished: r.LastFinished, LastStatus: r.LastStatus, LastError: r.LastError}
		if out[i].Running {
			out[i].LeaseOwner = r.LeaseOwner
		}
	}
	return out, nil
}
