// Package storetest is the store's conformance suite: the same tests, run
// against every engine, so that SQL that only one engine accepts is caught.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/valvhq/valv/internal/store"
)

// Opener opens a fresh, empty, migrated database for one test.
type Opener func(t *testing.T) *store.DB

// Run runs the whole suite.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, db *store.DB)
	}{
		{"Migrations", testMigrations},
		{"Installation", testInstallation},
		{"TenantCRUD", testTenantCRUD},
		{"WriteRollsBackOnError", testWriteRollsBack},
		{"WritePanicIsAnError", testWritePanic},
		{"CanceledWriteDoesNothing", testCanceledWrite},
		{"ConcurrentWritesAllLand", testConcurrentWrites},
		{"FailedWriteDoesNotSpoilOthers", testFailedWriteIsolated},
		{"ReadIsASnapshot", testReadSnapshot},
		{"ReaderRefusesWrites", testReaderRefusesWrites},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, open(t))
		})
	}
}

var ctx = context.Background()

func tenant(i int) store.TenantRow {
	now := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	return store.TenantRow{
		ID:        fmt.Sprintf("t%06d", i),
		Slug:      fmt.Sprintf("tenant-%d", i),
		Name:      fmt.Sprintf("Tenant %d", i),
		NameKey:   fmt.Sprintf("tenant %d", i),
		Status:    "active",
		Settings:  []byte(`{"idle_timeout":"2h"}`),
		CreatedAt: now,
		UpdatedAt: now,
	}
}

func insert(t *testing.T, db *store.DB, rows ...store.TenantRow) {
	t.Helper()
	err := db.Write(ctx, func(tx *store.Tx) error {
		for _, r := range rows {
			if err := tx.InsertTenant(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("insert: %v", err)
	}
}

func count(t *testing.T, db *store.DB) int64 {
	t.Helper()
	n, err := db.Reader().CountTenants(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func testMigrations(t *testing.T, db *store.DB) {
	if err := db.CheckSchema(ctx); err != nil {
		t.Fatalf("schema not current after migrate: %v", err)
	}
	applied, err := db.Migrate(ctx)
	if err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	if len(applied) != 0 {
		t.Fatalf("second migrate applied %v", applied)
	}
	cur, latest, err := db.SchemaVersion(ctx)
	if err != nil || cur != latest || cur == 0 {
		t.Fatalf("SchemaVersion = %d, %d, %v", cur, latest, err)
	}
}

func testInstallation(t *testing.T, db *store.DB) {
	want := store.InstallationRow{ID: "inst1", Environment: "test", CreatedAt: time.Unix(1700000000, 0).UTC()}
	var got store.InstallationRow
	for i := 0; i < 2; i++ {
		err := db.Write(ctx, func(tx *store.Tx) error {
			r := want
			if i == 1 {
				r.ID = "other" // must not replace the first
			}
			var err error
			got, err = tx.EnsureInstallation(ctx, r)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("EnsureInstallation #%d = %+v, want %+v", i, got, want)
		}
	}
}

func testTenantCRUD(t *testing.T, db *store.DB) {
	want := tenant(1)
	insert(t, db, want)
	got, err := db.Reader().Tenant(ctx, want.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != want.ID || got.Name != want.Name || got.Status != want.Status ||
		string(got.Settings) != string(want.Settings) || !got.CreatedAt.Equal(want.CreatedAt) {
		t.Fatalf("Tenant = %+v, want %+v", got, want)
	}
	if _, err := db.Reader().Tenant(ctx, "missing"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing tenant: err = %v, want ErrNotFound", err)
	}
	dup := tenant(2)
	dup.NameKey = want.NameKey
	err = db.Write(ctx, func(tx *store.Tx) error { return tx.InsertTenant(ctx, dup) })
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate name: err = %v, want ErrConflict", err)
	}
	insert(t, db, tenant(2), tenant(3))
	page, err := db.Reader().Tenants(ctx, "", 2)
	if err != nil || len(page) != 2 || page[0].ID != "t000001" || page[1].ID != "t000002" {
		t.Fatalf("first page = %+v, %v", page, err)
	}
	page, err = db.Reader().Tenants(ctx, page[1].ID, 2)
	if err != nil || len(page) != 1 || page[0].ID != "t000003" {
		t.Fatalf("second page = %+v, %v", page, err)
	}
	later := want.UpdatedAt.Add(time.Hour)
	if err := db.Write(ctx, func(tx *store.Tx) error { return tx.UpdateTenantStatus(ctx, want.ID, "suspended", later) }); err != nil {
		t.Fatal(err)
	}
	got, _ = db.Reader().Tenant(ctx, want.ID)
	if got.Status != "suspended" || !got.UpdatedAt.Equal(later) {
		t.Fatalf("after update: %+v", got)
	}
	err = db.Write(ctx, func(tx *store.Tx) error { return tx.UpdateTenantStatus(ctx, "missing", "x", later) })
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("update missing: %v", err)
	}
}

func testWriteRollsBack(t *testing.T, db *store.DB) {
	boom := errors.New("boom")
	err := db.Write(ctx, func(tx *store.Tx) error {
		if err := tx.InsertTenant(ctx, tenant(1)); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	if n := count(t, db); n != 0 {
		t.Fatalf("%d tenants after a failed write", n)
	}
}

func testWritePanic(t *testing.T, db *store.DB) {
	err := db.Write(ctx, func(tx *store.Tx) error {
		_ = tx.InsertTenant(ctx, tenant(1))
		panic("bug")
	})
	if err == nil {
		t.Fatal("panicking write returned nil")
	}
	if n := count(t, db); n != 0 {
		t.Fatalf("%d tenants after a panicking write", n)
	}
	insert(t, db, tenant(2)) // the store still works
}

func testCanceledWrite(t *testing.T, db *store.DB) {
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	ran := false
	err := db.Write(cctx, func(tx *store.Tx) error { ran = true; return tx.InsertTenant(ctx, tenant(1)) })
	if err == nil || ran {
		t.Fatalf("canceled write: err = %v, ran = %v", err, ran)
	}
}

func testConcurrentWrites(t *testing.T, db *store.DB) {
	const workers, each = 16, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				r := tenant(w*each + i)
				errs <- db.Write(ctx, func(tx *store.Tx) error { return tx.InsertTenant(ctx, r) })
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := count(t, db); n != workers*each {
		t.Fatalf("%d tenants, want %d", n, workers*each)
	}
}

func testFailedWriteIsolated(t *testing.T, db *store.DB) {
	insert(t, db, tenant(0))
	const n = 64
	var wg sync.WaitGroup
	results := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r := tenant(i + 1)
			if i%4 == 0 {
				r.NameKey = tenant(0).NameKey // conflicts
			}
			results[i] = db.Write(ctx, func(tx *store.Tx) error {
				// Two statements, so a half-done write would be visible.
				if err := tx.InsertTenant(ctx, tenant(1000+i)); err != nil {
					return err
				}
				return tx.InsertTenant(ctx, r)
			})
		}(i)
	}
	wg.Wait()
	for i, err := range results {
		wantErr := i%4 == 0
		if wantErr != (err != nil) {
			t.Fatalf("write %d: err = %v", i, err)
		}
		if wantErr && !errors.Is(err, store.ErrConflict) {
			t.Fatalf("write %d: err = %v, want ErrConflict", i, err)
		}
		_, err := db.Reader().Tenant(ctx, tenant(1000+i).ID)
		if wantErr != errors.Is(err, store.ErrNotFound) {
			t.Fatalf("write %d: first row present = %v; a failed write must leave nothing", i, err == nil)
		}
	}
	if got := count(t, db); got != 1+2*(n-n/4) {
		t.Fatalf("%d tenants, want %d", got, 1+2*(n-n/4))
	}
}

func testReadSnapshot(t *testing.T, db *store.DB) {
	insert(t, db, tenant(1))
	err := db.Read(ctx, func(tx *store.Tx) error {
		before, err := tx.CountTenants(ctx)
		if err != nil {
			return err
		}
		insert(t, db, tenant(2))
		after, err := tx.CountTenants(ctx)
		if err != nil {
			return err
		}
		if before != after {
			return fmt.Errorf("snapshot moved: %d then %d", before, after)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := count(t, db); n != 2 {
		t.Fatalf("count after = %d", n)
	}
}

func testReaderRefusesWrites(t *testing.T, db *store.DB) {
	if err := db.Reader().InsertTenant(ctx, tenant(1)); err == nil {
		t.Fatal("reader accepted a write")
	}
	err := db.Read(ctx, func(tx *store.Tx) error { return tx.InsertTenant(ctx, tenant(2)) })
	if err == nil {
		t.Fatal("read transaction accepted a write")
	}
	if n := count(t, db); n != 0 {
		t.Fatalf("%d tenants", n)
	}
}
