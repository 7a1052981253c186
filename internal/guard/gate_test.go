package guard

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/valvhq/valv/internal/call"
	"github.com/valvhq/valv/internal/store"
	"github.com/valvhq/valv/internal/valvtest"
)

// plainAddresses stands in for the keyring: an HMAC token and the address
// "sealed" as itself (the app's sealing is tested end to end there).
type plainAddresses struct{ sealed bool }

func (p plainAddresses) Token(_ context.Context, a netip.Addr) ([]byte, error) {
	if p.sealed {
		return nil, errors.New("sealed")
	}
	m := hmac.New(sha256.New, []byte("test key"))
	m.Write([]byte(a.Unmap().String()))
	return m.Sum(nil), nil
}
func (p plainAddresses) Seal(_ context.Context, a netip.Addr, _ []byte) ([]byte, error) {
	return []byte(a.String()), nil
}
func (p plainAddresses) Open(_ context.Context, b, _ []byte) (netip.Addr, error) {
	return netip.ParseAddr(string(b))
}

func openDB(t testing.TB) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), store.Options{Engine: store.SQLite, Path: valvtest.SQLitePath(t), GroupCommit: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}

func newGate(t *testing.T, db *store.DB, clock *valvtest.Clock, o GateOptions) *Gate {
	t.Helper()
	o.DB, o.Now = db, clock.Now
	if o.Addresses == nil {
		o.Addresses = plainAddresses{}
	}
	g, err := NewGate(o)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func hitFrom(h http.Handler, addr string) int {
	r := httptest.NewRequest("GET", "/", nil)
	r = r.WithContext(call.With(r.Context(), call.Info{RequestID: "testrequest1", ClientIP: netip.MustParseAddr(addr)}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec.Code
}

var ok200 = http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})

// TestLimitSharedAcrossNodes: two gates on one database (two nodes) that
// sync their counts every second together hold one limit, give or take
// what each counted since its last sync.
func TestLimitSharedAcrossNodes(t *testing.T) {
	db := openDB(t)
	clock := valvtest.NewClock(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC))
	o := GateOptions{Limits: Limits{Address: 10}, SyncInterval: time.Second}
	n1, n2 := newGate(t, db, clock, o).LimitAddress(ok200), newGate(t, db, clock, o).LimitAddress(ok200)
	passed := 0
	for i := range 40 {
		n := n1
		if i%2 == 1 {
			n = n2
		}
		if hitFrom(n, "198.51.100.1") == 200 {
			passed++
		}
		clock.Advance(500 * time.Millisecond) // a sync every other request
	}
	// Each node may let through what it counted since its last sync.
	if passed < 10 || passed > 12 {
		t.Fatalf("%d of 40 requests within 20 s passed the shared limit of 10 a minute", passed)
	}
	// IPv6 addresses in one /64 share a limit.
	g := newGate(t, db, clock, GateOptions{Limits: Limits{Address: 2}}).LimitAddress(ok200)
	codes := []int{hitFrom(g, "2001:db8::1"), hitFrom(g, "2001:db8::2"), hitFrom(g, "2001:db8::3"), hitFrom(g, "2001:db8:0:1::1")}
	if codes[0] != 200 || codes[1] != 200 || codes[2] != 429 || codes[3] != 200 {
		t.Fatalf("IPv6 /64 limit: %v", codes)
	}
}

// TestSealedGate: while sealed, addresses cannot be tokenised; limits
// still hold on the node, blocks cannot be read, nothing fails.
func TestSealedGate(t *testing.T) {
	db := openDB(t)
	clock := valvtest.NewClock(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC))
	g := newGate(t, db, clock, GateOptions{Addresses: plainAddresses{sealed: true}, Limits: Limits{Address: 1}, SyncInterval: time.Second})
	h := g.Blocklist(g.LimitAddress(ok200))
	if a, b := hitFrom(h, "192.0.2.1"), hitFrom(h, "192.0.2.1"); a != 200 || b != 429 {
		t.Fatalf("sealed: %d %d", a, b)
	}
	g.Offend(context.Background(), netip.MustParseAddr("192.0.2.1"), OffenceWAF)
}

func TestBlockLength(t *testing.T) {
	p := DefaultBlockPolicy
	for n, want := range map[int]time.Duration{1: 15 * time.Minute, 2: 30 * time.Minute, 3: time.Hour, 7: 16 * time.Hour, 8: 24 * time.Hour, 50: 24 * time.Hour} {
		if got := blockLength(p, n); got != want {
			t.Errorf("block %d: %v, want %v", n, got, want)
		}
	}
}

// TestOffencesForgotten: a source quiet for longer than Forget starts over
// with a first block.
func TestOffencesForgotten(t *testing.T) {
	db := openDB(t)
	clock := valvtest.NewClock(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC))
	var blocks []AutoBlock
	g := newGate(t, db, clock, GateOptions{OnBlocked: func(_ context.Context, b AutoBlock) { blocks = append(blocks, b) }})
	addr := netip.MustParseAddr("198.51.100.2")
	attack := func() {
		for range 4 {
			g.Offend(context.Background(), addr, OffenceWAF)
		}
	}
	attack()
	clock.Advance(time.Hour)
	attack()
	clock.Advance(8 * 24 * time.Hour)
	attack()
	if len(blocks) != 3 || blocks[0].Duration != 15*time.Minute || blocks[1].Duration != 30*time.Minute || blocks[2].Duration != 15*time.Minute {
		t.Fatalf("blocks: %+v", blocks)
	}
	// Offences spread wider than the window do not add up.
	other := netip.MustParseAddr("198.51.100.3")
	for range 19 {
		g.Offend(context.Background(), other, OffenceAuth)
		clock.Advance(time.Minute)
	}
	if len(blocks) != 3 {
		t.Fatalf("19 failures over 19 minutes blocked: %+v", blocks[3:])
	}
	if err := g.Maintain(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestParseTarget(t *testing.T) {
	for _, tc := range []struct {
		in     string
		want   string
		single bool
		bad    bool
	}{
		{in: "192.0.2.7", want: "192.0.2.7/32", single: true},
		{in: " 2001:db8::1 ", want: "2001:db8::1/128", single: true},
		{in: "::ffff:192.0.2.7", want: "192.0.2.7/32", single: true},
		{in: "192.0.2.7/24", want: "192.0.2.0/24"},
		{in: "192.0.2.7/32", want: "192.0.2.7/32", single: true},
		{in: "2001:db8::1/64", want: "2001:db8::/64"},
		{in: "::ffff:192.0.2.0/120", want: "192.0.2.0/24"},
		{in: "0.0.0.0/0", bad: true},
		{in: "::/0", bad: true},
		{in: "192.0.2.300", bad: true},
		{in: "fe80::1%eth0", bad: true},
		{in: "::ffff:0.0.0.0/90", bad: true},
		{in: "", bad: true},
		{in: "example.com", bad: true},
	} {
		p, single, err := ParseTarget(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("%q: accepted as %v", tc.in, p)
			}
			continue
		}
		if err != nil || p.String() != tc.want || single != tc.single {
			t.Errorf("%q: %v %v %v, want %s %v", tc.in, p, single, err, tc.want, tc.single)
		}
	}
}

func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{"192.0.2.7", "2001:db8::/64", "::ffff:1.2.3.4/100", "0.0.0.0/0", "1.2.3.4/33", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, single, err := ParseTarget(s)
		if err != nil {
			return
		}
		if !p.IsValid() || p.Bits() == 0 || p != p.Masked() || p.Addr().Is4In6() || single != p.IsSingleIP() {
			t.Fatalf("%q → %v (single %v)", s, p, single)
		}
		if q, _, err := ParseTarget(targetString(p, single)); err != nil || q != p {
			t.Fatalf("%q → %v does not round-trip: %v %v", s, p, q, err)
		}
	})
}

func TestSummarise(t *testing.T) {
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	rows := []store.GuardAlertRow{
		{ID: "1", At: at, Kind: "waf", Source: []byte("a"), Detail: `{"rules":[942100,949110],"score":5}`},
		{ID: "2", At: at.Add(time.Minute), Kind: "waf", Source: []byte("a"), Detail: `{"rules":[942100,941100],"score":10}`},
		{ID: "3", At: at.Add(2 * time.Minute), Kind: "waf", Source: []byte("b"), Detail: `{"rules":[941100],"score":5}`},
		{ID: "4", At: at.Add(3 * time.Minute), Kind: "block", Source: []byte("a"), Detail: `{"reason":"waf","duration_s":900,"count":1}`},
		{ID: "5", At: at.Add(4 * time.Minute), Kind: "block", Source: []byte("c"), Detail: `{"reason":"auth","duration_s":1800,"count":2}`},
		{ID: "6", At: at.Add(5 * time.Minute), Kind: "waf", Source: []byte("c"), Detail: `not json`},
	}
	s := summarise(rows)
	if s.WAFBlocks != 4 || s.WAFSources != 3 || s.AutoBlocks["waf"] != 1 || s.AutoBlocks["auth"] != 1 || s.Longest != 30*time.Minute ||
		!s.From.Equal(at) || !s.To.Equal(at.Add(5*time.Minute)) {
		t.Fatalf("summary: %+v", s)
	}
	want := []RuleCount{{941100, 2}, {942100, 2}, {949110, 1}}
	if len(s.Rules) != len(want) {
		t.Fatalf("rules: %+v", s.Rules)
	}
	for i := range want {
		if s.Rules[i] != want[i] {
			t.Fatalf("rules: %+v, want %+v", s.Rules, want)
		}
	}
}
