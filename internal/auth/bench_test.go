package auth

import (
	"context"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/valvhq/valv/internal/keyring"
	"github.com/valvhq/valv/internal/store"
	"github.com/valvhq/valv/internal/valvtest"
)

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
	s, err := New(Options{DB: db, Keys: kr, PublicURL: "https://localhost:8443"})
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
