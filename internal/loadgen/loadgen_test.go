package loadgen

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		out := make([]time.Duration, len(ns))
		for i, n := range ns {
			out[i] = time.Duration(n) * time.Millisecond
		}
		return out
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"none", nil, 50, 0},
		{"one", ms(7), 99, 7 * time.Millisecond},
		{"median of four is the second", ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"p90 of ten", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 90, 9 * time.Millisecond},
		{"p99 of ten is the largest", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 99, 10 * time.Millisecond},
		{"p100", ms(1, 2, 3), 100, 3 * time.Millisecond},
		{"tiny p is the smallest", ms(1, 2, 3), 0.001, time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Percentile(tt.sorted, tt.p); got != tt.want {
				t.Fatalf("Percentile(%v, %v) = %v, want %v", tt.sorted, tt.p, got, tt.want)
			}
		})
	}
}

func TestRunCountsEveryOperationOnce(t *testing.T) {
	var calls atomic.Int64
	seen := make([]atomic.Bool, 1000)
	r, err := Run(context.Background(), Options{Clients: 8, Count: 1000}, func(_ context.Context, worker, i int) error {
		if worker < 0 || worker >= 8 {
			t.Errorf("worker %d", worker)
		}
		if seen[i].Swap(true) {
			t.Errorf("operation %d ran twice", i)
		}
		calls.Add(1)
		if i%10 == 0 {
			return errors.New("refused")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 1000 || r.Ops != 900 || r.Errors != 100 || r.FirstError != "refused" {
		t.Fatalf("calls %d, result %+v; want 1000 calls, 900 ops and 100 errors", calls.Load(), r)
	}
	if r.PerSecond <= 0 || r.P50 > r.P90 || r.P90 > r.P99 || r.P99 > r.Max {
		t.Fatalf("figures out of order: %+v", r)
	}
}

func TestRunStopsAtItsDuration(t *testing.T) {
	start := time.Now()
	r, err := Run(context.Background(), Options{Clients: 4, Duration: 100 * time.Millisecond}, func(ctx context.Context, _, _ int) error {
		select {
		case <-ctx.Done():
			return ctx.Err() // cut off: not an error
		case <-time.After(time.Millisecond):
			return nil
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("a 100 ms run took %v", took)
	}
	if r.Ops == 0 || r.Errors != 0 {
		t.Fatalf("result %+v: want operations and no errors", r)
	}
}

// An open-loop run starts operation i no earlier than i/Rate after the
// start, and counts latency from then: a slow operation makes the ones
// due behind it late, and their latency shows it.
func TestRunPacesAtItsRate(t *testing.T) {
	start := time.Now()
	// One client: operation 0 holds it for 60 ms, so operations 1 to 11
	// (due every 5 ms) start late, and 1 to 8 are 20 ms or more late.
	r, err := Run(context.Background(), Options{Clients: 1, Count: 20, Rate: 200}, func(_ context.Context, _, i int) error {
		due := start.Add(time.Duration(i) * 5 * time.Millisecond)
		if time.Now().Before(due.Add(-time.Millisecond)) {
			t.Errorf("operation %d started %v before it was due", i, time.Until(due))
		}
		if i == 0 {
			time.Sleep(60 * time.Millisecond)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if r.Ops != 20 {
		t.Fatalf("ops %d, want 20", r.Ops)
	}
	// 9 of 20 took 20 ms or more counted from when they were due; counted
	// from when they started, only operation 0 would.
	if r.P90 < 20 {
		t.Fatalf("p90 latency %v ms: the queued operations' wait is not counted", r.P90)
	}
}

func TestRunRefusesBadOptions(t *testing.T) {
	op := func(context.Context, int, int) error { return nil }
	for _, o := range []Options{{Clients: 0, Count: 1}, {Clients: 1}, {Clients: 1, Count: 1, Rate: -1}} {
		if _, err := Run(context.Background(), o, op); err == nil {
			t.Errorf("Run(%+v) accepted", o)
		}
	}
}
