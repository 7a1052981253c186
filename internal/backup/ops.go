package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/valvhq/valv/internal/gdpr"
	"github.com/valvhq/valv/internal/keyring"
	"github.com/valvhq/valv/internal/store"
)

// Listing is one backup and the targets that hold a complete copy.
type Listing struct {
	ID         string    `json:"id"`
	CreatedAt  time.Time `json:"created_at"`
	Engine     string    `json:"engine"`
	Schema     int64     `json:"schema_version"`
	PlainBytes int64     `json:"plain_bytes"`
	Stored     int64     `json:"stored_bytes"`
	Rows       int64     `json:"rows"`
	Targets    []string  `json:"targets"`
}

// TargetError is a target that could not be listed.
type TargetError struct {
	Target string `json:"target"`
	Error  string `json:"error"`
}

// List returns the complete backups on every target, newest first, and
// the targets that could not be read.
func (s *Service) List(ctx context.Context) ([]Listing, []TargetError, error) {
	byID := map[string]*Listing{}
	var bad []TargetError
	for _, t := range s.o.Targets {
		ids, err := backupIDs(ctx, t)
		if err != nil {
			bad = append(bad, TargetError{Target: t.Name(), Error: err.Error()})
			continue
		}
		for _, id := range ids {
			l := byID[id]
			if l == nil {
				m, err := ReadManifest(ctx, t, id)
				if err != nil {
					bad = append(bad, TargetError{Target: t.Name(), Error: err.Error()})
					continue
				}
				l = &Listing{ID: id, CreatedAt: m.CreatedAt, Engine: m.Engine, Schema: m.Schema, PlainBytes: m.PlainBytes,
					Stored: m.StoredBytes(), Rows: m.Rows()}
				byID[id] = l
			}
			l.Targets = append(l.Targets, t.Name())
		}
	}
	out := make([]Listing, 0, len(byID))
	for _, l := range byID {
		out = append(out, *l)
	}
	slices.SortFunc(out, func(a, b Listing) int { return strings.Compare(b.ID, a.ID) })
	return out, bad, nil
}

// backupIDs lists the ids of complete backups (those with a manifest) on
// a target, oldest first.
func backupIDs(ctx context.Context, t Target) ([]string, error) {
	keys, err := t.List(ctx, backupsPrefix)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, k := range keys {
		rest, ok := strings.CutPrefix(k, backupsPrefix)
		if !ok {
			continue
		}
		id, name, ok := strings.Cut(rest, "/")
		if ok && name == manifestName && validID(id) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids, nil
}

// Latest returns the newest complete backup on a target.
func Latest(ctx context.Context, t Target) (string, error) {
	ids, err := backupIDs(ctx, t)
	if err != nil {
		return "", err
	}
	if len(ids) == 0 {
		return "", fmt.Errorf("%w: target %s holds no complete backup", ErrNoBackup, t.Name())
	}
	return ids[len(ids)-1], nil
}

// ErrNoBackup means a target holds no complete backup.
var ErrNoBackup = errors.New("backup: no backup")

// VerifyReport is what a verification found.
type VerifyReport struct {
	ID       string   `json:"id"`
	Target   string   `json:"target"`
	Chunks   int      `json:"chunks"`
	Rows     int64    `json:"rows"`
	OK       bool     `json:"ok"`
	Problems []string `json:"problems,omitempty"`
}

// Verify reads back every chunk of a backup on a target, checks its
// checksum, decrypts and decompresses it, parses the whole data stream
// and compares the row counts with the manifest. Every bad chunk is named.
func Verify(ctx context.Context, t Target, id string, root keyring.RootKey) (VerifyReport, error) {
	rep := VerifyReport{ID: id, Target: t.Name()}
	m, err := ReadManifest(ctx, t, id)
	if err != nil {
		return rep, err
	}
	c, err := openManifest(m, root)
	if err != nil {
		return rep, err
	}
	defer c.close()
	rep.Chunks = len(m.Chunks)
	counter := &countHandler{}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := newDecoder(pr).run(counter)
		pr.CloseWithError(err)
		done <- err
	}()
	broken := false
	for _, ch := range m.Chunks {
		plain, err := openChunk(ctx, t, c, ch)
		if err == nil && !broken {
			if _, werr := pw.Write(plain); werr != nil {
				broken = true
			}
		}
		if err != nil {
			rep.Problems = append(rep.Problems, err.Error())
			if !broken {
				broken = true
				pw.CloseWithError(err)
			}
		}
	}
	pw.Close()
	derr := <-done
	if len(rep.Problems) == 0 {
		if derr != nil {
			rep.Problems = append(rep.Problems, derr.Error())
		} else {
			rep.Problems = append(rep.Problems, compareCounts(m.Tables, counter.tables)...)
		}
	}
	rep.Rows = counter.rows
	rep.OK = len(rep.Problems) == 0
	return rep, nil
}

// countHandler counts rows per table and checks each table's declared count.
type countHandler struct {
	tables []TableCount
	rows   int64
	cur    int64
}

func (h *countHandler) begin(string, []string) error { h.cur = 0; return nil }
func (h *countHandler) row([]any) error              { h.cur++; h.rows++; return nil }
func (h *countHandler) end(name string, declared int64) error {
	if declared != h.cur {
		return corrupt("table %s declares %d rows but holds %d", name, declared, h.cur)
	}
	h.tables = append(h.tables, TableCount{Name: name, Rows: h.cur})
	return nil
}

func compareCounts(want, got []TableCount) []string {
	var out []string
	g := map[string]int64{}
	for _, t := range got {
		g[t.Name] = t.Rows
	}
	for _, t := range want {
		n, ok := g[t.Name]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("table %s is missing from the data", t.Name))
		case n != t.Rows:
			out = append(out, fmt.Sprintf("table %s holds %d rows; the manifest says %d", t.Name, n, t.Rows))
		}
	}
	if len(got) != len(want) {
		out = append(out, fmt.Sprintf("the data holds %d tables; the manifest lists %d", len(got), len(want)))
	}
	return out
}

// PruneReport lists what pruning deleted and kept, per target.
type PruneReport struct {
	Deleted map[string][]string `json:"deleted"`
	Kept    map[string][]string `json:"kept"`
	Errors  []TargetError       `json:"errors,omitempty"`
}

// Prune deletes backups older than Keep from every target, except the
// first backup of each of the last KeepMonthly months and, always, the
// newest complete backup on the target (pruning never leaves a target
// without one). Incomplete backups (no manifest) older than a day are
// removed too.
func (s *Service) Prune(ctx context.Context) (PruneReport, error) {
	rep := PruneReport{Deleted: map[string][]string{}, Kept: map[string][]string{}}
	now := s.o.Now()
	for _, t := range s.o.Targets {
		del, keep, err := s.pruneTarget(ctx, t, now)
		rep.Deleted[t.Name()], rep.Kept[t.Name()] = del, keep
		if err != nil {
			rep.Errors = append(rep.Errors, TargetError{Target: t.Name(), Error: err.Error()})
		}
	}
	if len(rep.Errors) > 0 {
		return rep, fmt.Errorf("backup: pruning failed on %d targets", len(rep.Errors))
	}
	return rep, nil
}

func (s *Service) pruneTarget(ctx context.Context, t Target, now time.Time) (deleted, kept []string, err error) {
	keys, err := t.List(ctx, backupsPrefix)
	if err != nil {
		return nil, nil, err
	}
	complete := map[string]bool{}
	all := map[string]bool{}
	for _, k := range keys {
		rest, _ := strings.CutPrefix(k, backupsPrefix)
		id, name, _ := strings.Cut(rest, "/")
		if !validID(id) {
			continue
		}
		all[id] = true
		if name == manifestName {
			complete[id] = true
		}
	}
	ids := make([]string, 0, len(complete))
	for id := range complete {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	keep := map[string]bool{}
	if len(ids) > 0 {
		keep[ids[len(ids)-1]] = true // never the last good one
	}
	cutoff := now.Add(-s.o.Keep)
	months := map[string]bool{}
	for _, id := range ids {
		at := idTime(id)
		if !at.Before(cutoff) {
			keep[id] = true
		}
		if s.o.KeepMonthly > 0 {
			month := at.Format("2006-01")
			first := now.AddDate(0, -(s.o.KeepMonthly - 1), 0).Format("2006-01")
			if !months[month] && month >= first {
				months[month] = true
				keep[id] = true
			}
		}
	}
	for id := range all {
		switch {
		case keep[id]:
			kept = append(kept, id)
		case !complete[id] && now.Sub(idTime(id)) < 24*time.Hour:
			// possibly a backup being written now
		default:
			if err := deleteBackup(ctx, t, id); err != nil {
				return deleted, kept, err
			}
			deleted = append(deleted, id)
		}
	}
	slices.Sort(deleted)
	slices.Sort(kept)
	return deleted, kept, nil
}

// deleteBackup removes the manifest first, so a backup half deleted is
// never taken for a complete one.
func deleteBackup(ctx context.Context, t Target, id string) error {
	if err := t.Delete(ctx, manifestKey(id)); err != nil {
		return err
	}
	keys, err := t.List(ctx, backupsPrefix+id+"/")
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := t.Delete(ctx, k); err != nil {
			return err
		}
	}
	return nil
}

// ledgerKey is where a ledger entry is kept on a target.
func ledgerKey(id string) string { return ledgerPrefix + id + ".json" }

// SyncLedger writes every erasure ledger entry that a target lacks to it,
// create-only: entries on a target are never changed or deleted. It
// returns how many objects it wrote.
func (s *Service) SyncLedger(ctx context.Context) (int, error) {
	entries, err := wholeLedger(ctx, s.o.DB)
	if err != nil {
		return 0, err
	}
	// Every target gets the ledger, also one refused for backups by a
	// residency pin (it holds tokens, no personal data): a backup written
	// there before the pin changed must still be restored without the
	// erased data (GDPR-5).
	written := 0
	var errs []error
	for _, t := range s.o.Targets {
		keys, err := t.List(ctx, ledgerPrefix)
		if err != nil {
			errs = append(errs, fmt.Errorf("target %s: %w", t.Name(), err))
			continue
		}
		have := map[string]bool{}
		for _, k := range keys {
			have[k] = true
		}
		for _, e := range entries {
			k := ledgerKey(e.ID)
			if have[k] {
				continue
			}
			b, err := json.Marshal(e)
			if err != nil {
				return written, err
			}
			err = t.PutNew(ctx, k, bytes.NewReader(b), int64(len(b)))
			if errors.Is(err, ErrExists) {
				continue
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("target %s: %w", t.Name(), err))
				break
			}
			written++
		}
	}
	return written, errors.Join(errs...)
}

// wholeLedger reads a database's whole erasure ledger, oldest first.
func wholeLedger(ctx context.Context, db *store.DB) ([]gdpr.LedgerEntry, error) {
	var out []gdpr.LedgerEntry
	after := ""
	for {
		page, err := gdpr.Ledger(ctx, db, after, 1000)
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		if len(page) < 1000 {
			return out, nil
		}
		after = page[len(page)-1].ID
	}
}

// maxLedgerEntry bounds one ledger object.
const maxLedgerEntry = 64 << 10

// ReadLedger reads every erasure ledger entry kept on a target, oldest
// first.
func ReadLedger(ctx context.Context, t Target) ([]gdpr.LedgerEntry, error) {
	keys, err := t.List(ctx, ledgerPrefix)
	if err != nil {
		return nil, err
	}
	out := make([]gdpr.LedgerEntry, 0, len(keys))
	for _, k := range keys {
		if !strings.HasSuffix(k, ".json") {
			continue
		}
		b, err := readAll(ctx, t, k, maxLedgerEntry)
		if err != nil {
			return nil, fmt.Errorf("backup: ledger entry %s on %s: %w", k, t.Name(), err)
		}
		var e gdpr.LedgerEntry
		if err := json.Unmarshal(b, &e); err != nil || ledgerKey(e.ID) != k {
			return nil, fmt.Errorf("backup: ledger entry %s on %s is malformed", k, t.Name())
		}
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b gdpr.LedgerEntry) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}
