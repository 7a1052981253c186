package scan_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/valvhq/valv/internal/problem"
	"github.com/valvhq/valv/internal/scan"
	"github.com/valvhq/valv/internal/valvtest"
)

// Every test here talks to a real clamd (valvtest.ClamdWith), one per test:
// it starts in about 40 ms, and tests that kill or freeze it need their own.

func TestEICARFromHarness(t *testing.T) {
	e := valvtest.EICAR()
	sum := md5.Sum(e)
	if len(e) != 68 || hex.EncodeToString(sum[:]) != "44d88612fea8a8f36de82e1278abb02f" {
		t.Fatalf("valvtest.EICAR() is not the EICAR test file (%d bytes, md5 %x)", len(e), sum)
	}
}

func newClient(t testing.TB, cfg scan.Config) *scan.Clamd {
	t.Helper()
	c, err := scan.New(cfg)
	if err != nil {
		t.Fatalf("scan.New: %v", err)
	}
	return c
}

// endpoints are the ways to reach srv: its unix socket and, if it has one,
// its TCP port.
func endpoints(srv *valvtest.ClamdServer) []scan.Config {
	eps := []scan.Config{{Network: "unix", Address: srv.Addr}}
	if srv.TCPAddr != "" {
		eps = append(eps, scan.Config{Network: "tcp", Address: srv.TCPAddr})
	}
	return eps
}

// pattern returns a reader of n bytes of clean text, without holding them.
func pattern(n int64) io.Reader { return &patternReader{left: n} }

type patternReader struct {
	left int64
	off  int
}

var patternLine = []byte("Valv clean test data: the quick brown fox jumps over the lazy dog 0123456789\n")

func (p *patternReader) Read(b []byte) (int, error) {
	if p.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(b)) > p.left {
		b = b[:p.left]
	}
	n := 0
	for n < len(b) {
		m := copy(b[n:], patternLine[p.off:])
		n += m
		p.off = (p.off + m) % len(patternLine)
	}
	p.left -= int64(n)
	return n, nil
}

func TestScan(t *testing.T) {
	t.Parallel()
	srv := valvtest.ClamdWith(t, valvtest.ClamdOptions{TCP: true})
	eicar := valvtest.EICAR()
	altered := bytes.Clone(eicar)
	altered[len(altered)-1] ^= 1

	tests := []struct {
		name    string
		input   func() io.Reader
		wantSig string // "" for clean
	}{
		{"eicar", func() io.Reader { return bytes.NewReader(eicar) }, valvtest.ClamdEICARFound},
		{"eicar across a chunk boundary", func() io.Reader {
			return io.MultiReader(pattern(64<<10-30), bytes.NewReader(eicar), pattern(100<<10))
		}, valvtest.ClamdEICARFound},
		{"eicar at the end of 1 MiB", func() io.Reader {
			return io.MultiReader(pattern(1<<20), bytes.NewReader(eicar))
		}, valvtest.ClamdEICARFound},
		{"eicar one byte per read", func() io.Reader { return iotest.OneByteReader(bytes.NewReader(eicar)) }, valvtest.ClamdEICARFound},
		{"eicar with EOF along with the data", func() io.Reader { return iotest.DataErrReader(bytes.NewReader(eicar)) }, valvtest.ClamdEICARFound},
		{"eicar with one bit flipped", func() io.Reader { return bytes.NewReader(altered) }, ""},
		{"clean text", func() io.Reader { return strings.NewReader("Hyresavtal för lägenhet 3B, Storgatan 1.\n") }, ""},
		{"empty", func() io.Reader { return strings.NewReader("") }, ""},
		{"clean 1 MiB", func() io.Reader { return pattern(1 << 20) }, ""},
	}
	for _, cfg := range endpoints(srv) {
		c := newClient(t, cfg)
		t.Run(cfg.Network, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					res, err := c.Scan(t.Context(), tt.input())
					if err != nil {
						t.Fatalf("Scan: %v", err)
					}
					want := scan.Result{Clean: tt.wantSig == "", Signature: tt.wantSig}
					if res != want {
						t.Fatalf("Scan = %+v, want %+v", res, want)
					}
				})
			}
			t.Run("ping", func(t *testing.T) {
				if err := c.Ping(t.Context()); err != nil {
					t.Fatalf("Ping: %v", err)
				}
			})
			t.Run("version", func(t *testing.T) {
				v, err := c.Version(t.Context())
				if err != nil {
					t.Fatalf("Version: %v", err)
				}
				if !strings.HasPrefix(v, "ClamAV 1.") {
					t.Fatalf("Version = %q", v)
				}
				t.Logf("Version = %q", v)
			})
		})
	}
}

func TestScanConcurrent(t *testing.T) {
	t.Parallel()
	network, addr := valvtest.Clamd(t)
	c := newClient(t, scan.Config{Network: network, Address: addr})
	const n = 16
	errs := make(chan error, n)
	for i := range n {
		go func() {
			var r io.Reader = pattern(256 << 10)
			want := scan.Result{Clean: true}
			if i%2 == 0 {
				r = io.MultiReader(r, bytes.NewReader(valvtest.EICAR()))
				want = scan.Result{Signature: valvtest.ClamdEICARFound}
			}
			res, err := c.Scan(t.Context(), r)
			if err == nil && res != want {
				err = errors.New("scan " + strconv.Itoa(i) + ": wrong verdict")
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// TestScanLargeBoundedMemory streams 20 MiB and checks that the client
// allocated far less than that. It does not run in parallel, so that the
// allocation count is its own.
func TestScanLargeBoundedMemory(t *testing.T) {
	network, addr := valvtest.Clamd(t)
	c := newClient(t, scan.Config{Network: network, Address: addr, MaxStreamSize: valvtest.DefaultClamdStreamMaxLength})
	const size = 20 << 20
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	res, err := c.Scan(t.Context(), pattern(size))
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	if err != nil || !res.Clean {
		t.Fatalf("Scan = %+v, %v; want clean", res, err)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("20 MiB in %v (%.0f MB/s), %d bytes allocated", elapsed, size/elapsed.Seconds()/1e6, alloc)
	if alloc > 1<<20 {
		t.Fatalf("scanning 20 MiB allocated %d bytes; want under 1 MiB", alloc)
	}
}

func TestScanTooLarge(t *testing.T) {
	t.Parallel()
	const limit = 1 << 20
	srv := valvtest.ClamdWith(t, valvtest.ClamdOptions{StreamMaxLength: limit, TCP: true})
	for _, cfg := range endpoints(srv) {
		// The client allows more than clamd, to see clamd's own refusal.
		cfg.MaxStreamSize = 64 << 20
		c := newClient(t, cfg)
		t.Run(cfg.Network, func(t *testing.T) {
			for _, tt := range []struct {
				name     string
				size     int64
				tooLarge bool
			}{
				{"at clamd's limit", limit, false},
				{"one byte over: clamd answers", limit + 1, true},
				{"far over: broken pipe, then clamd's answer", 16 * limit, true},
			} {
				t.Run(tt.name, func(t *testing.T) {
					start := time.Now()
					res, err := c.Scan(t.Context(), pattern(tt.size))
					if !tt.tooLarge {
						if err != nil || !res.Clean {
							t.Fatalf("Scan = %+v, %v; want clean", res, err)
						}
						return
					}
					if !errors.Is(err, scan.ErrTooLarge) {
						t.Fatalf("Scan = %+v, %v; want ErrTooLarge", res, err)
					}
					if errors.Is(err, scan.ErrUnavailable) {
						t.Fatalf("too large is also unavailable: %v", err)
					}
					if d := time.Since(start); d > 5*time.Second {
						t.Fatalf("took %v", d)
					}
					cerr := c.Check(t.Context(), pattern(tt.size))
					p, ok := problem.As(cerr)
					if !ok || p.Kind != problem.KindTooLarge || p.Code != scan.CodeTooLargeToScan || !errors.Is(cerr, scan.ErrTooLarge) {
						t.Fatalf("Check = %v; want a 413 %s problem", cerr, scan.CodeTooLargeToScan)
					}
				})
			}
		})
	}

	t.Run("client limit", func(t *testing.T) {
		c := newClient(t, scan.Config{Network: "unix", Address: srv.Addr, MaxStreamSize: 512 << 10})
		if res, err := c.Scan(t.Context(), pattern(512<<10)); err != nil || !res.Clean {
			t.Fatalf("Scan at the limit = %+v, %v; want clean", res, err)
		}
		if _, err := c.Scan(t.Context(), pattern(512<<10+1)); !errors.Is(err, scan.ErrTooLarge) {
			t.Fatalf("Scan over the limit: %v; want ErrTooLarge", err)
		}
	})
}

// checkUnavailable asserts that err is a prompt ErrUnavailable.
func checkUnavailable(t *testing.T, what string, err error, start time.Time) {
	t.Helper()
	if !errors.Is(err, scan.ErrUnavailable) {
		t.Fatalf("%s: %v; want ErrUnavailable", what, err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("%s took %v; want a prompt failure", what, d)
	}
}

func TestUnavailable(t *testing.T) {
	t.Parallel()
	port, err := valvtest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	for _, cfg := range []scan.Config{
		{Network: "unix", Address: filepath.Join(t.TempDir(), "nothing.sock")},
		{Network: "tcp", Address: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))},
	} {
		t.Run(cfg.Network, func(t *testing.T) {
			c := newClient(t, cfg)
			start := time.Now()
			_, err := c.Scan(t.Context(), strings.NewReader("hello"))
			checkUnavailable(t, "Scan", err, start)
			checkUnavailable(t, "Ping", c.Ping(t.Context()), start)
			_, err = c.Version(t.Context())
			checkUnavailable(t, "Version", err, start)
		})
	}
}

func TestKilledClamd(t *testing.T) {
	t.Parallel()
	srv := valvtest.ClamdWith(t, valvtest.ClamdOptions{})
	c := newClient(t, scan.Config{Network: srv.Network, Address: srv.Addr})
	if err := c.Check(t.Context(), strings.NewReader("hello")); err != nil {
		t.Fatalf("Check before the kill: %v", err)
	}
	srv.Kill()

	start := time.Now()
	_, err := c.Scan(t.Context(), strings.NewReader("hello"))
	checkUnavailable(t, "Scan", err, start)
	checkUnavailable(t, "Ping", c.Ping(t.Context()), start)

	t.Run("fail closed", func(t *testing.T) {
		err := c.Check(t.Context(), strings.NewReader("hello"))
		p, ok := problem.As(err)
		if !ok || p.Kind != problem.KindUnavailable || p.Code != scan.CodeScannerUnavailable || p.RetryAfter != 30 {
			t.Fatalf("Check = %#v; want a 503 %s problem with Retry-After 30", err, scan.CodeScannerUnavailable)
		}
		if errors.Is(err, scan.ErrNotScanned) {
			t.Fatal("fail-closed Check matches ErrNotScanned")
		}
		rec := httptest.NewRecorder()
		problem.Write(rec, "req1", err)
		if rec.Code != 503 || rec.Header().Get("Retry-After") != "30" || strings.Contains(rec.Body.String(), srv.Addr) {
			t.Fatalf("response %d %v %s", rec.Code, rec.Header(), rec.Body)
		}
	})
	t.Run("fail open", func(t *testing.T) {
		open := newClient(t, scan.Config{Network: srv.Network, Address: srv.Addr, Policy: scan.FailOpen})
		err := open.Check(t.Context(), strings.NewReader("hello"))
		if !errors.Is(err, scan.ErrNotScanned) || !errors.Is(err, scan.ErrUnavailable) {
			t.Fatalf("fail-open Check = %v; want ErrNotScanned and ErrUnavailable", err)
		}
		if p, ok := problem.As(err); !ok || p.Code != scan.CodeScannerUnavailable {
			t.Fatalf("fail-open Check = %v; want it still to be the 503 problem", err)
		}
	})
}

// killingReader kills clamd once it has given half its bytes.
type killingReader struct {
	io.Reader
	srv  *valvtest.ClamdServer
	at   int64
	read int64
}

func (k *killingReader) Read(b []byte) (int, error) {
	if k.read >= k.at && k.srv != nil {
		k.srv.Kill()
		k.srv = nil
	}
	n, err := k.Reader.Read(b)
	k.read += int64(n)
	return n, err
}

// TestKilledMidStreamNeverFailsOpen: a connection that breaks after the
// stream began gives no verdict, and FailOpen does not let the file through
// (a crafted file that crashes clamd must not skip the scan).
func TestKilledMidStreamNeverFailsOpen(t *testing.T) {
	t.Parallel()
	srv := valvtest.ClamdWith(t, valvtest.ClamdOptions{})
	c := newClient(t, scan.Config{Network: srv.Network, Address: srv.Addr, Policy: scan.FailOpen})
	start := time.Now()
	err := c.Check(t.Context(), &killingReader{Reader: pattern(8 << 20), srv: srv, at: 1 << 20})
	checkUnavailable(t, "Check", err, start)
	if errors.Is(err, scan.ErrNotScanned) {
		t.Fatalf("Check = %v: fails open after the stream began", err)
	}
}

func TestDeadline(t *testing.T) {
	t.Parallel()
	srv := valvtest.ClamdWith(t, valvtest.ClamdOptions{})
	if err := srv.Pause(); err != nil {
		t.Fatal(err)
	}
	const wait = 300 * time.Millisecond
	c := newClient(t, scan.Config{Network: srv.Network, Address: srv.Addr, Policy: scan.FailOpen})

	t.Run("context deadline, clamd hung", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), wait)
		defer cancel()
		start := time.Now()
		_, err := c.Scan(ctx, bytes.NewReader(valvtest.EICAR()))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Scan: %v; want context.DeadlineExceeded", err)
		}
		if d := time.Since(start); d > wait+time.Second {
			t.Fatalf("Scan returned after %v", d)
		}
		ctx, cancel = context.WithTimeout(t.Context(), wait)
		defer cancel()
		if err := c.Ping(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Ping: %v; want context.DeadlineExceeded", err)
		}
	})
	t.Run("cancel, clamd hung", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(wait, cancel)
		start := time.Now()
		if _, err := c.Scan(ctx, pattern(4<<20)); !errors.Is(err, context.Canceled) {
			t.Fatalf("Scan: %v; want context.Canceled", err)
		}
		if d := time.Since(start); d > wait+time.Second {
			t.Fatalf("Scan returned after %v", d)
		}
	})
	t.Run("verdict timeout, clamd hung", func(t *testing.T) {
		c := newClient(t, scan.Config{Network: srv.Network, Address: srv.Addr, Policy: scan.FailOpen,
			IOTimeout: wait, VerdictTimeout: wait})
		start := time.Now()
		err := c.Check(t.Context(), strings.NewReader("hello"))
		checkUnavailable(t, "Check", err, start)
		if errors.Is(err, scan.ErrNotScanned) {
			t.Fatalf("Check = %v: a clamd that was reached but hung fails open", err)
		}
	})
	t.Run("context deadline, slow reader", func(t *testing.T) {
		if err := srv.Resume(); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), wait)
		defer cancel()
		start := time.Now()
		_, err := c.Scan(ctx, &slowReader{every: 20 * time.Millisecond})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Scan: %v; want context.DeadlineExceeded", err)
		}
		if d := time.Since(start); d > wait+time.Second {
			t.Fatalf("Scan returned after %v", d)
		}
	})
}

// slowReader gives 1 KiB of clean text every so often, without end.
type slowReader struct{ every time.Duration }

func (s *slowReader) Read(b []byte) (int, error) {
	time.Sleep(s.every)
	return copy(b, bytes.Repeat([]byte("slow "), 205)), nil
}

func TestCheck(t *testing.T) {
	t.Parallel()
	network, addr := valvtest.Clamd(t)
	c := newClient(t, scan.Config{Network: network, Address: addr})

	if err := c.Check(t.Context(), strings.NewReader("clean")); err != nil {
		t.Fatalf("Check(clean) = %v", err)
	}
	eicar := valvtest.EICAR()
	err := c.Check(t.Context(), bytes.NewReader(eicar))
	p, ok := problem.As(err)
	if !ok || p.Kind != problem.KindUnprocessable || p.Code != scan.CodeMalwareDetected {
		t.Fatalf("Check(eicar) = %v; want a 422 %s problem", err, scan.CodeMalwareDetected)
	}
	if !errors.Is(err, scan.ErrInfected) {
		t.Fatalf("Check(eicar) = %v; does not match ErrInfected", err)
	}
	var ie *scan.InfectedError
	if !errors.As(err, &ie) || ie.Signature != valvtest.ClamdEICARFound {
		t.Fatalf("Check(eicar) cause = %v; want an *InfectedError for %s", err, valvtest.ClamdEICARFound)
	}
	if !strings.Contains(p.Message, valvtest.ClamdEICARFound) {
		t.Fatalf("message %q does not name the signature", p.Message)
	}
	rec := httptest.NewRecorder()
	problem.Write(rec, "req1", err)
	if rec.Code != 422 || bytes.Contains(rec.Body.Bytes(), eicar[20:40]) {
		t.Fatalf("response %d %s", rec.Code, rec.Body)
	}
}

func TestProblems(t *testing.T) {
	if p := scan.Infected("Win.Test.EICAR_HDB-1"); !strings.Contains(p.Message, "Win.Test.EICAR_HDB-1") || p.Kind.Status() != 422 {
		t.Fatalf("Infected = %+v", p)
	}
	for _, sig := range []string{"<script>alert(1)</script>", "a b", strings.Repeat("x", 101), ""} {
		if p := scan.Infected(sig); sig != "" && strings.Contains(p.Message, sig) {
			t.Fatalf("Infected(%q) shows the signature: %q", sig, p.Message)
		}
	}
	for _, tt := range []struct {
		d    time.Duration
		want int
	}{{0, 1}, {time.Millisecond, 1}, {1500 * time.Millisecond, 2}, {30 * time.Second, 30}, {1000 * time.Hour, 86400}} {
		if got := scan.Unavailable(nil, tt.d).RetryAfter; got != tt.want {
			t.Errorf("Unavailable(%v).RetryAfter = %d, want %d", tt.d, got, tt.want)
		}
	}
	if p := scan.TooLarge(nil); p.Kind.Status() != 413 {
		t.Fatalf("TooLarge = %+v", p)
	}
}

func TestNew(t *testing.T) {
	ok := scan.Config{Network: "unix", Address: "/run/clamav/clamd.ctl"}
	c, err := scan.New(ok)
	if err != nil {
		t.Fatal(err)
	}
	got := c.Config()
	if got.Policy != scan.FailClosed || got.MaxStreamSize != scan.DefaultMaxStreamSize || got.IOTimeout != scan.DefaultIOTimeout ||
		got.DialTimeout != scan.DefaultDialTimeout || got.VerdictTimeout != scan.DefaultVerdictTimeout || got.RetryAfter != scan.DefaultRetryAfter {
		t.Fatalf("defaults not filled in: %+v", got)
	}
	for _, bad := range []func(*scan.Config){
		func(c *scan.Config) { c.Network = "udp" },
		func(c *scan.Config) { c.Network = "" },
		func(c *scan.Config) { c.Address = "" },
		func(c *scan.Config) { c.IOTimeout = -1 },
		func(c *scan.Config) { c.MaxStreamSize = -1 },
		func(c *scan.Config) { c.Policy = 7 },
	} {
		cfg := ok
		bad(&cfg)
		if _, err := scan.New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}
