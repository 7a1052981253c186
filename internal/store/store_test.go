package store_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valvhq/valv/internal/store"
	"github.com/valvhq/valv/internal/store/storetest"
	"github.com/valvhq/valv/internal/valvtest"
)

func TestMain(m *testing.M) { valvtest.Main(m) }

func openSQLite(t testing.TB, groupCommit bool) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), store.Options{Engine: store.SQLite, Path: valvtest.SQLitePath(t), GroupCommit: groupCommit})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}

func openPostgres(t testing.TB) *store.DB {
	t.Helper()
	url := valvtest.PostgresURL(t)
	db, err := store.Open(context.Background(), store.Options{Engine: store.Postgres, URL: url, MaxOpenConns: 16})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}

func TestConformanceSQLite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) *store.DB { return openSQLite(t, true) })
}

func TestConformanceSQLiteNoGroupCommit(t *testing.T) {
	storetest.Run(t, func(t *testing.T) *store.DB { return openSQLite(t, false) })
}

func TestConformancePostgres(t *testing.T) {
	storetest.Run(t, func(t *testing.T) *store.DB { return openPostgres(t) })
}

// BenchmarkTenantCreate measures one durable tenant insert per Write, with
// as many concurrent writers as -cpu × RunParallel gives.
func BenchmarkTenantCreate(b *testing.B) {
	engines := []struct {
		name string
		open func(testing.TB) *store.DB
	}{
		{"sqlite", func(t testing.TB) *store.DB { return openSQLite(t, true) }},
		{"sqlite-nogroup", func(t testing.TB) *store.DB { return openSQLite(t, false) }},
		{"postgres", openPostgres},
	}
	for _, e := range engines {
		b.Run(e.name, func(b *testing.B) {
			db := e.open(b)
			var seq atomic.Int64
			now := time.Now()
			b.SetParallelism(16)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := seq.Add(1)
					r := store.TenantRow{ID: fmt.Sprintf("b%09d", i), Slug: fmt.Sprintf("b%d", i), Name: "n", NameKey: fmt.Sprintf("n%d", i),
						Status: "active", Settings: []byte("{}"), CreatedAt: now, UpdatedAt: now}
					if err := db.Write(context.Background(), func(tx *store.Tx) error { return tx.InsertTenant(context.Background(), r) }); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
