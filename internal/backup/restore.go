package backup

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/valvhq/valv/internal/gdpr"
	"github.com/valvhq/valv/internal/keyring"
	"github.com/valvhq/valv/internal/store"
)

// RestoreOptions says what to restore where.
type RestoreOptions struct {
	Target Target
	ID     string
	// Root is the installation's root key (from the key file, the HSM or
	// the key holders' shares); it must match the backup's root key record.
	Root keyring.RootKey
	// Dest is a new, empty database; a restore never goes over data.
	Dest *store.DB
	// Ledger is where erasures made after the backup are read from
	// (default: Target). Every entry the backup does not hold is re-applied.
	Ledger   Target
	Progress Progress
	// Environment is the restoring installation's environment; a backup of
	// another environment is refused before anything is loaded (ENV-1).
	Environment string
}

// RestoreReport is what a restore did.
type RestoreReport struct {
	ID         string            `json:"id"`
	Target     string            `json:"target"`
	CreatedAt  time.Time         `json:"created_at"`
	Rows       int64             `json:"rows"`
	PlainBytes int64             `json:"plain_bytes"`
	Stored     int64             `json:"stored_bytes"`
	Tables     []TableCount      `json:"tables"`
	Replayed   gdpr.ReplayResult `json:"replayed"`
	Duration   time.Duration     `json:"duration_ns"`
}

// Restore loads a backup into a new database: it checks the destination
// is empty, migrates it to the backup's schema, loads every table (each
// chunk's checksum and authentication checked), compares the row counts
// with the manifest, migrates to this build's schema, and re-applies every
// erasure ledger entry newer than the backup (GDPR-5). If it fails the
// destination is incomplete and must be discarded.
func Restore(ctx context.Context, o RestoreOptions) (RestoreReport, error) {
	start := time.Now()
	rep := RestoreReport{ID: o.ID, Target: o.Target.Name()}
	if o.Progress == nil {
		o.Progress = func(int64, int64) {}
	}
	if o.Ledger == nil {
		o.Ledger = o.Target
	}
	m, err := ReadManifest(ctx, o.Target, o.ID)
	if err != nil {
		return rep, err
	}
	rep.CreatedAt, rep.PlainBytes, rep.Stored = m.CreatedAt, m.PlainBytes, m.StoredBytes()
	if m.Environment != "" && o.Environment != "" && m.Environment != o.Environment {
		return rep, fmt.Errorf("backup: %s is a backup of a %s installation; a %s installation refuses it (ENV-1): restore it with a %s configuration",
			m.ID, m.Environment, o.Environment, m.Environment)
	}
	c, err := openManifest(m, o.Root)
	if err != nil {
		return rep, err
	}
	defer c.close()
	// Read the ledger before loading anything: a restore that cannot
	// re-apply erasures must not begin.
	ledger, err := ReadLedger(ctx, o.Ledger)
	if err != nil {
		return rep, fmt.Errorf("backup: the erasure ledger cannot be read, so erasures after the backup could not be re-applied: %w", err)
	}
	_, latest, err := o.Dest.SchemaVersion(ctx)
	if err != nil {
		return rep, err
	}
	if m.Schema > latest {
		return rep, fmt.Errorf("backup: %s has schema version %d; this Valv knows %d — restore it with a newer Valv", m.ID, m.Schema, latest)
	}
	if err := o.Dest.CheckEmpty(ctx); err != nil {
		return rep, fmt.Errorf("backup: restore only goes into a new data directory or an empty database: %w", err)
	}
	if err := o.Dest.MigrateTo(ctx, m.Schema); err != nil {
		return rep, err
	}
	if err := o.Dest.CheckEmpty(ctx); err != nil {
		return rep, err
	}

	loader := &loadHandler{ctx: ctx, db: o.Dest, total: m.Rows(), progress: o.Progress}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := newDecoder(pr).run(loader)
		pr.CloseWithError(err)
		done <- err
	}()
	var ferr error
	for _, ch := range m.Chunks {
		var plain []byte
		plain, ferr = openChunk(ctx, o.Target, c, ch)
		if ferr != nil {
			pw.CloseWithError(ferr)
			break
		}
		if _, err := pw.Write(plain); err != nil {
			break // the loader failed: its error is in done
		}
	}
	pw.Close()
	if err := <-done; err != nil {
		if ferr != nil {
			err = ferr
		}
		return rep, fmt.Errorf("backup: restore %s: %w", m.ID, err)
	}
	if problems := compareCounts(m.Tables, loader.tables); len(problems) > 0 {
		return rep, fmt.Errorf("backup: restore %s: %s", m.ID, problems[0])
	}
	rep.Tables, rep.Rows = loader.tables, loader.rows
	o.Progress(loader.rows, loader.rows)
	if _, err := o.Dest.Migrate(ctx); err != nil {
		return rep, err
	}
	rep.Replayed, err = replayNewer(ctx, o.Dest, ledger)
	if err != nil {
		return rep, fmt.Errorf("backup: re-apply erasures made after the backup: %w", err)
	}
	rep.Duration = time.Since(start)
	return rep, nil
}

// replayNewer re-applies the ledger entries the restored database lacks.
func replayNewer(ctx context.Context, db *store.DB, ledger []gdpr.LedgerEntry) (gdpr.ReplayResult, error) {
	restored, err := wholeLedger(ctx, db)
	if err != nil {
		return gdpr.ReplayResult{}, err
	}
	have := map[string]bool{}
	for _, e := range restored {
		have[e.ID] = true
	}
	var todo []gdpr.LedgerEntry
	for _, e := range ledger {
		if !have[e.ID] {
			todo = append(todo, e)
		}
	}
	return gdpr.Replay(ctx, db, todo)
}

// loadHandler loads the decoded tables into the destination.
type loadHandler struct {
	ctx      context.Context
	db       *store.DB
	l        *store.Loader
	tables   []TableCount
	rows     int64
	total    int64
	progress Progress
}

func (h *loadHandler) begin(name string, cols []string) error {
	l, err := h.db.Load(h.ctx, name, cols)
	h.l = l
	return err
}

func (h *loadHandler) row(vals []any) error {
	h.rows++
	if h.rows%1000 == 0 {
		h.progress(h.rows, h.total)
	}
	return h.l.Add(h.ctx, vals)
}

func (h *loadHandler) end(name string, declared int64) error {
	if err := h.l.Flush(h.ctx); err != nil {
		return err
	}
	if declared != h.l.Rows {
		return corrupt("table %s declares %d rows but holds %d", name, declared, h.l.Rows)
	}
	h.tables = append(h.tables, TableCount{Name: name, Rows: h.l.Rows})
	return nil
}
