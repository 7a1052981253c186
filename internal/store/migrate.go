package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"strings"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations
var migrations embed.FS

// versionTable is where goose records applied migrations.
const versionTable = "valv_schema_version"

func (db *DB) migrationProvider() (*goose.Provider, error) {
	var dialect goose.Dialect
	var dir string
	var opts []goose.ProviderOption
	switch db.engine {
	case SQLite:
		dialect, dir = goose.DialectSQLite3, "migrations/sqlite"
	case Postgres:
		dialect, dir = goose.DialectPostgres, "migrations/postgres"
		// Several nodes may start at once; an advisory lock lets one migrate.
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return nil, fmt.Errorf("migrations: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	fsys, err := fs.Sub(migrations, dir)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	opts = append(opts, goose.WithTableName(versionTable), goose.WithDisableGlobalRegistry(true))
	p, err := goose.NewProvider(dialect, db.write, fsys, opts...)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	return p, nil
}

// Migrate applies every pending migration and returns their names.
func (db *DB) Migrate(ctx context.Context) ([]string, error) {
	p, err := db.migrationProvider()
	if err != nil {
		return nil, err
	}
	results, err := p.Up(ctx)
	if err != nil {
		return nil, fmt.Errorf("apply migrations: %w", classify(err))
	}
	names := make([]string, 0, len(results))
	for _, r := range results {
		names = append(names, r.Source.Path)
	}
	return names, nil
}

// SchemaVersion reports the applied and the latest known schema version.
func (db *DB) SchemaVersion(ctx context.Context) (current, latest int64, err error) {
	p, err := db.migrationProvider()
	if err != nil {
		return 0, 0, err
	}
	current, latest, err = p.GetVersions(ctx)
	if err != nil {
		if strings.Contains(err.Error(), "no such table") || strings.Contains(err.Error(), "does not exist") {
			return 0, latestVersion(p), nil
		}
		return 0, 0, fmt.Errorf("read schema version: %w", classify(err))
	}
	return current, latest, nil
}

func latestVersion(p *goose.Provider) int64 {
	var v int64
	for _, s := range p.ListSources() {
		if s.Version > v {
			v = s.Version
		}
	}
	return v
}

// ErrSchemaNewer means the database was migrated by a newer Valv.
var ErrSchemaNewer = fmt.Errorf("store: the database schema is newer than this Valv")

// CheckSchema returns nil if the schema is exactly current.
func (db *DB) CheckSchema(ctx context.Context) error {
	cur, latest, err := db.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	switch {
	case cur < latest:
		return fmt.Errorf("store: %d schema migrations are pending (run 'valv migrate')", countPending(cur, latest))
	case cur > latest:
		return fmt.Errorf("%w (schema %d, this build knows %d)", ErrSchemaNewer, cur, latest)
	}
	return nil
}

func countPending(cur, latest int64) int64 { return latest - cur }
