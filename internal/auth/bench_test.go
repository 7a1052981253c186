package auth

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/valvhq/valv/internal/audit"
	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/keyring"
	"github.com/valvhq/valv/internal/store"
	"github.com/valvhq/valv/internal/valvtest"
)

// unaudited commits the set-up's changes without audit entries: the
// benchmarks measure checks, which write none.
type unaudited struct{ db *store.DB }

func (u unaudited) Do(ctx context.Context, _ audit.Description, fn func(tx *store.Tx) error) error {
	return u.db.Write(ctx, fn)
}

// newBenchService builds the service on a real SQLite database with one
// operator account and returns a valid session token.
func newBenchService(b *testing.B) (*Service, string) {
	ctx := context.Background()
	db, err := store.Open(ctx, store.Options{Engine: store.SQLite, Path: valvtest.SQLitePath(b), GroupCommit: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	kr := keyring.New(keyring.Options{DB: db, Provider: keyring.ProviderFile})
	root, _ := keyring.NewMemoryRoot(make([]byte, 32))
	if err := kr.Unlock(ctx, root); err != nil {
		b.Fatal(err)
	}
	s, err := New(Options{DB: db, Keys: kr, PublicURL: "https://localhost:8443", Audit: unaudited{db}})
	if err != nil {
		b.Fatal(err)
	}
	acc, _, err := s.CreateAccount(ctx, NewAccount{Email: "ops@valv.test", Role: "security"})
	if err != nil {
		b.Fatal(err)
	}
	row, err := db.Reader().Account(ctx, store.PlatformTenant, acc.ID)
	if err != nil {
		b.Fatal(err)
	}
	row.Status = "active"
	if err := db.Write(ctx, func(tx *store.Tx) error { return tx.UpdateAccount(ctx, row) }); err != nil {
		b.Fatal(err)
	}
	sess, err := s.startSession(ctx, row, "password", true)
	if err != nil {
		b.Fatal(err)
	}
	return s, sess.Token
}

// BenchmarkSessionValidation is the per-request cost of checking a session
// cookie (one indexed read joining the account and tenant; the last-seen
// time is written at most once a minute).
func BenchmarkSessionValidation(b *testing.B) {
	s, token := newBenchService(b)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Authenticate(ctx, token); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTOTPCode is the cryptographic part of a TOTP check: the codes
// of three time steps (the allowed skew) compared in constant time.
func BenchmarkTOTPCode(b *testing.B) {
	key, _ := totp.Generate(totp.GenerateOpts{Issuer: "Valv", AccountName: "a@b.se"})
	now := time.Now()
	for i := 0; i < b.N; i++ {
		for skew := -1; skew <= 1; skew++ {
			if _, err := totp.GenerateCodeCustom(key.Secret(), now.Add(time.Duration(skew)*30*time.Second), totpOpts); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkAPIKeyAuth is the per-request cost of an API key: parsing,
// one indexed read of the key with its tenant's status, the allowlist,
// and the authorization decision (excluding TLS).
func BenchmarkAPIKeyAuth(b *testing.B) {
	s, _ := newBenchService(b)
	ctx := context.Background()
	now := time.Now().UTC()
	if err := s.db.Write(ctx, func(tx *store.Tx) error {
		return tx.InsertTenant(ctx, store.TenantRow{ID: "t1", Slug: "t1", Name: "T1", NameKey: "t1", Status: "active", Settings: []byte("{}"), CreatedAt: now, UpdatedAt: now})
	}); err != nil {
		b.Fatal(err)
	}
	owner := authz.Principal{Kind: authz.User, ID: "u1", TenantID: "t1", Role: authz.Owner}
	_, key, err := s.CreateAPIKey(ctx, owner, APIKeyInput{Name: "bench", Scopes: []authz.Scope{authz.ScopeDocumentsRead}, AllowedIPs: []string{"10.0.0.0/8", "192.0.2.7"}})
	if err != nil {
		b.Fatal(err)
	}
	ip := netip.MustParseAddr("10.1.2.3")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p, err := s.AuthenticateKey(ctx, key, ip)
		if err != nil {
			b.Fatal(err)
		}
		if d := authz.Decide(p, authz.TenantRead, authz.Resource{TenantID: "t1"}, now); d.Allowed {
			b.Fatal("tenant:read allowed without the scope")
		}
	}
}
