package store_test

import (
	"context"
	"slices"
	"testing"

	"github.com/valvhq/valv/internal/store"
)

// TestBackupTablesCoverSchema: every table of the schema is either in a
// backup or deliberately left out, on both engines, so a new table cannot
// be forgotten by backups.
func TestBackupTablesCoverSchema(t *testing.T) {
	skipped := store.SkippedTables()
	for name, open := range map[string]func(testing.TB) *store.DB{
		"sqlite":   func(t testing.TB) *store.DB { return openSQLite(t, false) },
		"postgres": openPostgres,
	} {
		t.Run(name, func(t *testing.T) {
			db := open(t)
			got, err := db.SchemaTables(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			want := append(store.BackupTables(), skipped...)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("schema tables %v\nbacked up or skipped %v", got, want)
			}
			if err := db.CheckEmpty(context.Background()); err != nil {
				t.Fatalf("a migrated, unused database: %v", err)
			}
		})
	}
}
