package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valvhq/valv/internal/jobs"
	"github.com/valvhq/valv/internal/store"
	"github.com/valvhq/valv/internal/valvtest"
)

func TestMain(m *testing.M) { valvtest.Main(m) }

type engine struct {
	name string
	open func(t *testing.T) *store.DB
}

func engines() []engine {
	return []engine{
		{"sqlite", func(t *testing.T) *store.DB {
			return open(t, store.Options{Engine: store.SQLite, Path: valvtest.SQLitePath(t), GroupCommit: true})
		}},
		{"postgres", func(t *testing.T) *store.DB {
			u := valvtest.PostgresURL(t)
			db := open(t, store.Options{Engine: store.Postgres, URL: u, MaxOpenConns: 8})
			urls.Store(db, u)
			return db
		}},
	}
}

func open(t *testing.T, o store.Options) *store.DB {
	db, err := store.Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}

var epoch = time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC)

// A job runs when due, once per period, and not again until the next.
func TestSchedule(t *testing.T) {
	for _, e := range engines() {
		t.Run(e.name, func(t *testing.T) {
			ctx := context.Background()
			db := e.open(t)
			clock := valvtest.NewClock(epoch)
			s := jobs.New(jobs.Options{DB: db, Now: clock.Now})
			var n atomic.Int64
			if err := s.Register(ctx, jobs.Job{Name: "tick", Every: time.Hour, Run: func(context.Context, *jobs.Run) error { n.Add(1); return nil }}); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 3; i++ {
				if _, err := s.RunDue(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if n.Load() != 1 {
				t.Fatalf("ran %d times at once, want 1", n.Load())
			}
			clock.Advance(59 * time.Minute)
			s.RunDue(ctx)
			if n.Load() != 1 {
				t.Fatalf("ran before its period was over")
			}
			clock.Advance(time.Minute)
			s.RunDue(ctx)
			if n.Load() != 2 {
				t.Fatalf("ran %d times after two periods, want 2", n.Load())
			}
			st, err := jobs.List(ctx, db, clock.Now())
			if err != nil || len(st) != 1 || st[0].Runs != 2 || st[0].LastStatus != "ok" {
				t.Fatalf("status = %+v, %v", st, err)
			}
		})
	}
}

// A daily job runs at its time of day, Swedish time.
func TestDailyAt(t *testing.T) {
	ctx := context.Background()
	db := engines()[0].open(t)
	clock := valvtest.NewClock(time.Date(2026, 11, 22, 5, 0, 0, 0, time.UTC)) // 06:00 in Stockholm
	s := jobs.New(jobs.Options{DB: db, Now: clock.Now})
	var n atomic.Int64
	s.Register(ctx, jobs.Job{Name: "digest", At: "07:00", Run: func(context.Context, *jobs.Run) error { n.Add(1); return nil }})
	s.RunDue(ctx)
	if n.Load() != 0 {
		t.Fatal("ran before 07:00")
	}
	clock.Set(time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC)) // 07:00
	s.RunDue(ctx)
	clock.Advance(23 * time.Hour)
	s.RunDue(ctx)
	if n.Load() != 1 {
		t.Fatalf("ran %d times on the first day, want 1", n.Load())
	}
	clock.Advance(time.Hour)
	s.RunDue(ctx)
	if n.Load() != 2 {
		t.Fatalf("ran %d times by the second day's 07:00, want 2", n.Load())
	}
	if err := s.Register(ctx, jobs.Job{Name: "bad", At: "7 o'clock", Run: func(context.Context, *jobs.Run) error { return nil }}); err == nil {
		t.Fatal("a bad time of day was accepted")
	}
}

// Several nodes polling one database run each job exactly once per period.
func TestNodesRunEachJobOnce(t *testing.T) {
	for _, e := range engines() {
		t.Run(e.name, func(t *testing.T) {
			ctx := context.Background()
			db := e.open(t)
			clock := valvtest.NewClock(epoch)
			var runs sync.Map // period -> count
			var nodes []*jobs.Scheduler
			for i := 0; i < 4; i++ {
				// Each node has its own connection pool, like a process.
				ndb := db
				if i > 0 && e.name == "postgres" {
					ndb = open(t, store.Options{Engine: store.Postgres, URL: dbURL(t, db), MaxOpenConns: 4})
				}
				s := jobs.New(jobs.Options{DB: ndb, Now: clock.Now, Node: "node" + strconv.Itoa(i)})
				s.Register(ctx, jobs.Job{Name: "tick", Every: time.Hour, Run: func(context.Context, *jobs.Run) error {
					p := clock.Now().Truncate(time.Hour)
					v, _ := runs.LoadOrStore(p, new(atomic.Int64))
					v.(*atomic.Int64).Add(1)
					time.Sleep(2 * time.Millisecond)
					return nil
				}})
				nodes = append(nodes, s)
			}
			const periods = 10
			for p := 0; p < periods; p++ {
				var wg sync.WaitGroup
				for _, s := range nodes {
					for k := 0; k < 3; k++ {
						wg.Add(1)
						go func() { defer wg.Done(); s.RunDue(ctx) }()
					}
				}
				wg.Wait()
				clock.Advance(time.Hour)
			}
			total := 0
			runs.Range(func(k, v any) bool {
				if c := v.(*atomic.Int64).Load(); c != 1 {
					t.Errorf("period %v: ran %d times", k, c)
				}
				total++
				return true
			})
			if total != periods {
				t.Fatalf("ran in %d periods, want %d", total, periods)
			}
		})
	}
}

var urls sync.Map // *store.DB -> URL

func dbURL(t *testing.T, db *store.DB) string {
	u, ok := urls.Load(db)
	if !ok {
		t.Fatal("no URL recorded")
	}
	return u.(string)
}

// A run that stops halfway (its node died) is resumed by the next holder
// once the lease has expired, from the state it saved.
func TestCrashedRunResumes(t *testing.T) {
	ctx := context.Background()
	db := engines()[0].open(t)
	clock := valvtest.NewClock(epoch)
	var done []int
	var mu sync.Mutex
	crash := errors.New("node died")
	work := func(die bool) func(context.Context, *jobs.Run) error {
		return func(ctx context.Context, r *jobs.Run) error {
			next := 0
			if r.State != "" {
				next, _ = strconv.Atoi(r.State)
			}
			for i := next; i < 10; i++ {
				if die && i == 4 {
					return crash
				}
				err := db.Write(ctx, func(tx *store.Tx) error {
					mu.Lock()
					done = append(done, i)
					mu.Unlock()
					return r.Save(ctx, tx, strconv.Itoa(i+1))
				})
				if err != nil {
					return err
				}
			}
			return nil
		}
	}
	a := jobs.New(jobs.Options{DB: db, Now: clock.Now, Node: "a"})
	a.Register(ctx, jobs.Job{Name: "batchy", Every: 24 * time.Hour, Run: work(true)})
	if _, err := a.RunDue(ctx); !errors.Is(err, crash) {
		t.Fatalf("first run: %v", err)
	}
	b := jobs.New(jobs.Options{DB: db, Now: clock.Now, Node: "b"})
	b.Register(ctx, jobs.Job{Name: "batchy", Every: 24 * time.Hour, Run: work(false)})
	clock.Advance(5 * time.Minute)
	ran, err := b.RunDue(ctx)
	if err != nil || len(ran) != 1 {
		t.Fatalf("resume: ran %v, %v", ran, err)
	}
	if fmt.Sprint(done) != "[0 1 2 3 4 5 6 7 8 9]" {
		t.Fatalf("work done = %v, want each step once", done)
	}
	st, _ := jobs.List(ctx, db, clock.Now())
	if st[0].LastStatus != "ok" || st[0].Runs != 1 {
		t.Fatalf("status = %+v", st[0])
	}
}

// A holder whose lease was taken over cannot save progress: its work is
// not committed.
func TestLostLeaseCannotSave(t *testing.T) {
	ctx := context.Background()
	db := engines()[0].open(t)
	clock := valvtest.NewClock(epoch)
	a := jobs.New(jobs.Options{DB: db, Now: clock.Now, Node: "a", Lease: time.Minute})
	b := jobs.New(jobs.Options{DB: db, Now: clock.Now, Node: "b", Lease: time.Minute})
	inA := make(chan struct{})
	resume := make(chan struct{})
	var saveErr error
	a.Register(ctx, jobs.Job{Name: "slow", Every: time.Hour, Run: func(ctx context.Context, r *jobs.Run) error {
		close(inA)
		<-resume
		saveErr = db.Write(ctx, func(tx *store.Tx) error { return r.Save(ctx, tx, "a") })
		return saveErr
	}})
	b.Register(ctx, jobs.Job{Name: "slow", Every: time.Hour, Run: func(ctx context.Context, r *jobs.Run) error {
		return db.Write(ctx, func(tx *store.Tx) error { return r.Save(ctx, tx, "b") })
	}})
	errc := make(chan error, 1)
	go func() { _, err := a.RunDue(ctx); errc <- err }()
	<-inA
	clock.Advance(2 * time.Minute) // a's lease expires (its renewals run on real time)
	if ran, err := b.RunDue(ctx); err != nil || len(ran) != 1 {
		t.Fatalf("b took over: %v %v", ran, err)
	}
	close(resume)
	<-errc
	if !errors.Is(saveErr, jobs.ErrLeaseLost) {
		t.Fatalf("a saved after losing its lease: %v", saveErr)
	}
}

// Queued tasks run once, are retried with back-off, and are given up
// after MaxAttempts.
func TestQueue(t *testing.T) {
	for _, e := range engines() {
		t.Run(e.name, func(t *testing.T) {
			ctx := context.Background()
			db := e.open(t)
			clock := valvtest.NewClock(epoch)
			s := jobs.New(jobs.Options{DB: db, Now: clock.Now})
			var got []string
			fails := 2
			s.Handle("echo", func(_ context.Context, p string) error {
				if p == "flaky" && fails > 0 {
					fails--
					return errors.New("not yet")
				}
				if p == "never" {
					return errors.New("never works")
				}
				got = append(got, p)
				return nil
			})
			var ids []string
			db.Write(ctx, func(tx *store.Tx) error {
				for _, p := range []string{"one", "flaky", "never"} {
					id, err := s.Enqueue(ctx, tx, "echo", p)
					if err != nil {
						return err
					}
					ids = append(ids, id)
				}
				return nil
			})
			s.RunQueue(ctx)
			if fmt.Sprint(got) != "[one]" {
				t.Fatalf("first pass ran %v", got)
			}
			if ran, _ := s.RunQueued(ctx, ids[0]); ran {
				t.Fatal("a finished task ran again")
			}
			for i := 0; i < jobs.MaxAttempts+2; i++ {
				clock.Advance(7 * time.Hour)
				s.RunQueue(ctx)
			}
			if fmt.Sprint(got) != "[one flaky]" {
				t.Fatalf("after retries ran %v", got)
			}
			q, err := db.Reader().QueuedJobByID(ctx, ids[2])
			if err != nil || q.State != "failed" || q.Attempts != jobs.MaxAttempts {
				t.Fatalf("the never-working task: %+v %v", q, err)
			}
		})
	}
}

// Start polls in the background and stops cleanly.
func TestStartStop(t *testing.T) {
	db := engines()[0].open(t)
	s := jobs.New(jobs.Options{DB: db, Poll: 10 * time.Millisecond})
	ran := make(chan struct{}, 10)
	s.Register(context.Background(), jobs.Job{Name: "bg", Every: time.Hour, Run: func(context.Context, *jobs.Run) error { ran <- struct{}{}; return nil }})
	ctx, cancel := context.WithCancel(context.Background())
	wait := s.Start(ctx)
	select {
	case <-ran:
	case <-time.After(5 * time.Second):
		t.Fatal("the background loop did not run the job")
	}
	cancel()
	wait()
}
