package app

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/valvhq/valv/internal/auth"
	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/config"
	"github.com/valvhq/valv/internal/server"
	"github.com/valvhq/valv/internal/tenant"
	"github.com/valvhq/valv/internal/valvtest"
)

// BenchmarkAuditedRead is the throughput of a read request (GET
// /api/v1/tenant with an API key, through the whole middleware chain,
// without TLS) with its audit entry written before the response through
// the group-commit writer, against the same request with no audit (AUD-1:
// the goal is an audit cost under 15% of read throughput). Run in parallel:
// group commit pays off under concurrency.
//
//	go test -run '^$' -bench AuditedRead ./internal/app/
func BenchmarkAuditedRead(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchAuditedRead(b, testConfig(b.TempDir())) })
	b.Run("postgres", func(b *testing.B) {
		cfg := testConfig(b.TempDir())
		cfg.Database.Driver = "postgres"
		cfg.Database.URL = config.Secret(valvtest.PostgresURL(b))
		benchAuditedRead(b, cfg)
	})
}

func benchAuditedRead(b *testing.B, cfg config.Config) {
	ctx := context.Background()
	a, err := Open(ctx, Options{Config: cfg})
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	op := authz.LocalOperator("bench")
	c, err := a.Tenants.Create(ctx, op, tenant.CreateInput{Name: "Bench AB"})
	if err != nil {
		b.Fatal(err)
	}
	owner := authz.Principal{Kind: authz.User, ID: "0198aaaa-bbbb-7ccc-8ddd-eeeeffff0001", TenantID: c.Tenant.ID, Role: authz.Owner}
	_, key, err := a.Auth.CreateAPIKey(ctx, owner, auth.APIKeyInput{Name: "bench", Scopes: []authz.Scope{authz.ScopeTenantRead}})
	if err != nil {
		b.Fatal(err)
	}
	for _, audited := range []bool{false, true} {
		name := "unaudited"
		if audited {
			name = "audited"
		}
		b.Run(name, func(b *testing.B) {
			o := server.Options{Config: a.cfg, Logger: a.log, Routes: a.Routes(), Sealed: a.Keys.Sealed,
				Authenticate: a.authenticate, Now: a.now}
			if audited {
				o.Audit = a.Trail.HTTP
			}
			srv, err := server.New(o)
			if err != nil {
				b.Fatal(err)
			}
			h := srv.Handler()
			b.ReportAllocs()
			b.ResetTimer()
			// Many requests in flight, as on a busy server: each waits for
			// its batch's commit, so throughput needs concurrency.
			b.SetParallelism(128)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					r := httptest.NewRequest("GET", "https://localhost/api/v1/tenant", nil)
					r.RemoteAddr = "127.0.0.1:40000"
					r.Header.Set("Authorization", "Bearer "+key)
					w := httptest.NewRecorder()
					h.ServeHTTP(w, r)
					if w.Code != http.StatusOK {
						b.Fatalf("status %d: %s", w.Code, w.Body)
					}
				}
			})
		})
	}
}
