package auth

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valvhq/valv/internal/problem"
)

func TestHashVerify(t *testing.T) {
	h := NewHasher(DefaultParams, 2)
	ctx := context.Background()
	enc, err := h.Hash(ctx, "korrekt häst batteri häftklammer")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=19456,t=2,p=1$") || strings.Contains(enc, "häst") {
		t.Fatalf("hash = %q", enc)
	}
	enc2, _ := h.Hash(ctx, "korrekt häst batteri häftklammer")
	if enc == enc2 {
		t.Fatal("no per-hash salt")
	}
	// NFKC: a decomposed å verifies against the composed one.
	if ok, _, err := h.Verify(ctx, enc, "korrekt ha\u0308st batteri ha\u0308ftklammer"); !ok || err != nil {
		t.Fatalf("decomposed input: %v %v", ok, err)
	}
	if ok, _, _ := h.Verify(ctx, enc, "korrekt häst batteri häftklammeR"); ok {
		t.Fatal("wrong password verified")
	}
	// A weaker stored hash asks to be re-hashed.
	weak := NewHasher(Params{Memory: 8192, Time: 1, Threads: 1}, 1)
	old, _ := weak.Hash(ctx, "x")
	if ok, rehash, _ := h.Verify(ctx, old, "x"); !ok || !rehash {
		t.Fatalf("old params: ok=%v rehash=%v", ok, rehash)
	}
	for _, bad := range []string{"", "$argon2id$v=19$m=1,t=1,p=1$AAAA$AAAA", "$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "$argon2id$v=19$m=99999999,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"} {
		if _, _, err := h.Verify(ctx, bad, "x"); err == nil {
			t.Errorf("malformed hash %q accepted", bad)
		}
	}
}

// TestHasherCap: never more than the cap hashes run at once.
func TestHasherCap(t *testing.T) {
	h := NewHasher(Params{Memory: 8192, Time: 1, Threads: 1}, 2)
	var running, peak atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = h.acquire(context.Background())
			n := running.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			time.Sleep(5 * time.Millisecond)
			running.Add(-1)
			h.release()
		}()
	}
	wg.Wait()
	if peak.Load() > 2 {
		t.Fatalf("%d hashes ran at once, cap 2", peak.Load())
	}
	// A caller that gives up while waiting gets a clear error.
	_ = h.acquire(context.Background())
	_ = h.acquire(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := h.acquire(ctx); err == nil {
		t.Fatal("acquire beyond the cap succeeded")
	}
}

func TestPasswordPolicy(t *testing.T) {
	tests := []struct {
		pw   string
		ok   bool
		ctx  []string
		code string
	}{
		{pw: "korrekt häst batteri", ok: true},
		{pw: "correct horse battery staple", ok: true},
		{pw: "Tv4 ålar simmar i Mälaren!", ok: true},
		{pw: "kort9", code: "too_short"},
		{pw: "elevenchars", code: "too_short"},
		{pw: strings.Repeat("x", 257), code: "too_long"},
		{pw: "Password2024!", code: "common_password"},
		{pw: "P@ssw0rd12345", code: "common_password"},
		{pw: "Sommar2023!!!", code: "common_password"},
		{pw: "qwertyuiopå1", code: "common_password"},
		{pw: "123456789012", code: "common_password"},
		{pw: "aaaaaaaaaaaa", code: "common_password"},
		{pw: "abcabcabcabc", code: "common_password"},
		{pw: "iloveyou1234", code: "common_password"},
		{pw: "Lösenord12345", code: "common_password"},
		{pw: "welcomevalv2026", code: "common_password"},
		{pw: "asa.oberg1981!", ctx: []string{"asa.oberg@acme.se"}, code: "common_password"},
		{pw: "acmeconsulting2024", ctx: []string{"Acme Consulting AB"}, code: "common_password"},
		{pw: "åsa öberg bor på ön", ok: true, ctx: []string{"x@y.se"}},
	}
	for _, tt := range tests {
		err := CheckNewPassword(tt.pw, tt.ctx...)
		if tt.ok {
			if err != nil {
				t.Errorf("%q refused: %v", tt.pw, err)
			}
			continue
		}
		if p, ok := problem.As(err); !ok || len(p.Fields) != 1 || p.Fields[0].Code != tt.code {
			t.Errorf("%q: err = %v, want %s", tt.pw, err, tt.code)
		}
		if err != nil && strings.Contains(err.Error(), tt.pw) {
			t.Errorf("error echoes the password: %v", err)
		}
	}
}

func FuzzCheckNewPassword(f *testing.F) {
	for _, s := range []string{"Password2024!", "korrekt häst batteri", "\xff\xfe", "", "ab"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, pw string) {
		_ = CheckNewPassword(pw, "a.b@c.se")
	})
}

func BenchmarkPasswordVerify(b *testing.B) {
	h := NewHasher(DefaultParams, 4)
	enc, _ := h.Hash(context.Background(), "korrekt häst batteri häftklammer")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if ok, _, _ := h.Verify(context.Background(), enc, "korrekt häst batteri häftklammer"); !ok {
			b.Fatal("no match")
		}
	}
}
