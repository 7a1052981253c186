// Package loadgen drives load: N concurrent workers call an operation
// until a time or count bound, closed-loop (as fast as answers come) or
// open-loop at a fixed rate, and it summarises throughput and latency.
// It knows nothing of Valv; the bench command supplies the operations.
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Op is one operation: worker is the calling worker (0..Clients-1) and i
// the operation's sequence number across all workers (0, 1, 2, ...).
type Op func(ctx context.Context, worker, i int) error

// Options bound a run. At least one of Duration and Count must be set.
type Options struct {
	Clients  int           // concurrent workers
	Duration time.Duration // stop starting operations after this long (0: no time bound)
	Count    int           // stop after this many operations (0: no count bound)
	// Rate, when set, paces the run open-loop: operation i is due at
	// start + i/Rate, and its latency counts from when it was due, so a
	// slow server's queueing shows (no coordinated omission).
	Rate float64
}

// Result summarises a run. Latencies are in milliseconds.
type Result struct {
	Ops        int     `json:"ops"`
	Errors     int     `json:"errors"`
	FirstError string  `json:"first_error,omitempty"`
	Seconds    float64 `json:"seconds"`
	PerSecond  float64 `json:"per_second"`
	P50        float64 `json:"p50_ms"`
	P90        float64 `json:"p90_ms"`
	P99        float64 `json:"p99_ms"`
	Max        float64 `json:"max_ms"`
}

// Run calls op from o.Clients workers until the bounds are met or ctx
// ends. Failed operations count as errors (their latency is not in the
// percentiles); the first one's message is kept.
func Run(ctx context.Context, o Options, op Op) (Result, error) {
	if o.Clients < 1 {
		return Result{}, errors.New("loadgen: give at least one client")
	}
	if o.Duration <= 0 && o.Count <= 0 {
		return Result{}, errors.New("loadgen: give a duration or a count")
	}
	if o.Rate < 0 || math.IsNaN(o.Rate) || math.IsInf(o.Rate, 0) {
		return Result{}, fmt.Errorf("loadgen: rate %v is not a positive number", o.Rate)
	}
	if o.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Duration)
		defer cancel()
	}
	var (
		next     atomic.Int64
		mu       sync.Mutex
		all      []time.Duration
		failed   int
		firstErr string
		wg       sync.WaitGroup
	)
	start := time.Now()
	for w := range o.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]time.Duration, 0, 1024)
			bad, first := 0, ""
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if o.Count > 0 && i >= o.Count {
					break
				}
				t0 := time.Now()
				if o.Rate > 0 {
					t0 = start.Add(time.Duration(float64(i) / o.Rate * float64(time.Second)))
					if d := time.Until(t0); d > 0 {
						select {
						case <-ctx.Done():
						case <-time.After(d):
						}
						if ctx.Err() != nil {
							break
						}
					}
				}
				err := op(ctx, w, i)
				if err != nil {
					if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
						break // cut off by the time bound: not a failure
					}
					if bad++; first == "" {
						first = err.Error()
					}
					continue
				}
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			all = append(all, lat...)
			if failed += bad; firstErr == "" {
				firstErr = first
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	return summarise(all, failed, firstErr, elapsed), nil
}

// summarise turns latencies into a Result.
func summarise(lat []time.Duration, failed int, firstErr string, elapsed time.Duration) Result {
	slices.Sort(lat)
	r := Result{Ops: len(lat), Errors: failed, FirstError: firstErr, Seconds: elapsed.Seconds()}
	if elapsed > 0 {
		r.PerSecond = float64(len(lat)) / elapsed.Seconds()
	}
	r.P50, r.P90, r.P99 = ms(Percentile(lat, 50)), ms(Percentile(lat, 90)), ms(Percentile(lat, 99))
	if len(lat) > 0 {
		r.Max = ms(lat[len(lat)-1])
	}
	return r
}

// Percentile is the nearest-rank percentile p (0 < p <= 100) of sorted
// latencies: the smallest value with at least p% of the values at or
// below it. It is 0 for no values.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

func ms(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Microsecond)) / 1000
}
