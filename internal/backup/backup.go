package backup

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/valvhq/valv/internal/keyring"
	"github.com/valvhq/valv/internal/region"
	"github.com/valvhq/valv/internal/store"
)

// Options configures a Service.
type Options struct {
	DB      *store.DB
	Keys    *keyring.Keyring
	Targets []Target
	// Keep is how long backups are kept (default 28 days); KeepMonthly
	// keeps, besides, the first backup of each of that many recent months.
	Keep        time.Duration
	KeepMonthly int
	// ChunkSize is the data stream bytes per chunk (default 8 MiB).
	ChunkSize int
	Version   string
	// Environment is recorded in every manifest (production, test, development).
	Environment string
	// Pin returns the strictest data-residency pin of the installation's
	// tenants (ENV-2); targets outside it are not written to. Nil: none.
	Pin    func(ctx context.Context) (string, error)
	Now    func() time.Time
	Logger *slog.Logger
}

// Service makes, lists, checks and prunes backups.
type Service struct {
	o Options
}

// maxChunk bounds a chunk's data stream bytes.
const maxChunk = 64 << 20

// New returns a Service.
func New(o Options) *Service {
	if o.Keep <= 0 {
		o.Keep = 28 * 24 * time.Hour
	}
	if o.ChunkSize <= 0 || o.ChunkSize > maxChunk {
		o.ChunkSize = 8 << 20
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{o: o}
}

// Targets returns the configured targets.
func (s *Service) Targets() []Target { return s.o.Targets }

// FindTarget returns the target named name.
func FindTarget(targets []Target, name string) (Target, error) {
	for _, t := range targets {
		if t.Name() == name {
			return t, nil
		}
	}
	return nil, fmt.Errorf("no backup target named %q (see backup.targets)", name)
}

// Status of a backup run.
const (
	StatusOK       = "ok"
	StatusDegraded = "degraded"
	StatusFailed   = "failed"
)

// Report is what a backup run did.
type Report struct {
	ID         string         `json:"id"`
	Status     string         `json:"status"`
	Reason     string         `json:"reason,omitempty"`
	CreatedAt  time.Time      `json:"created_at"`
	Duration   time.Duration  `json:"duration_ns"`
	PlainBytes int64          `json:"plain_bytes"`
	Stored     int64          `json:"stored_bytes"`
	Chunks     int            `json:"chunks"`
	Rows       int64          `json:"rows"`
	Targets    []TargetResult `json:"targets"`
	Ledger     int            `json:"ledger_entries_written"`
}

// TargetResult is one target's part of a run.
type TargetResult struct {
	Name     string `json:"name"`
	Region   string `json:"region"`
	OK       bool   `json:"ok"`
	Verified bool   `json:"verified"`
	Error    string `json:"error,omitempty"`
}

// Progress is told how many rows were written of how many.
type Progress func(done, total int64)

// Run takes a backup: one consistent snapshot of every table, written to
// every target and read back from each. It is OK when every target has a
// verified copy and there are at least two; degraded when at least one
// target has one; failed otherwise (and then err is set too).
func (s *Service) Run(ctx context.Context, progress Progress) (Report, error) {
	start := s.o.Now()
	rep := Report{Status: StatusFailed}
	if len(s.o.Targets) == 0 {
		rep.Reason = "no backup targets are configured"
		return rep, errors.New("backup: no targets are configured (backup.targets)")
	}
	if progress == nil {
		progress = func(int64, int64) {}
	}
	key := make([]byte, keyring.RootKeySize)
	if _, err := rand.Read(key); err != nil {
		return rep, err
	}
	defer clear(key)
	rep.CreatedAt = start.UTC()
	rep.ID = newID(rep.CreatedAt)
	wrapped, rootRec, err := s.o.Keys.WrapBackupKey(ctx, rep.ID, key)
	if err != nil {
		rep.Reason = err.Error()
		return rep, fmt.Errorf("backup: %w", err)
	}
	c, err := newCipher(rep.ID, key)
	if err != nil {
		return rep, err
	}
	defer c.close()
	_, schema, err := s.o.DB.SchemaVersion(ctx)
	if err != nil {
		return rep, err
	}
	m := &Manifest{Format: FormatVersion, ID: rep.ID, CreatedAt: rep.CreatedAt, Engine: string(s.o.DB.Engine()),
		Schema: schema, Version: s.o.Version, Environment: s.o.Environment, RootKey: rootInfo(rootRec), WrappedKey: wrapped}

	// Ledger entries first: an erasure made before this backup is on
	// every target before the backup is.
	if n, err := s.SyncLedger(ctx); err != nil {
		s.o.Logger.Warn("erasure ledger not written to every target", "error", err)
	} else {
		rep.Ledger = n
	}

	w := newChunkWriter(ctx, c, s.o.Targets, s.o.ChunkSize)
	if err := s.refuseOutside(ctx, w); err != nil {
		w.close()
		return rep, err
	}
	err = s.dump(ctx, m, w, progress)
	if cerr := w.close(); err == nil {
		err = cerr
	}
	m.Chunks, m.PlainBytes = w.chunks, w.plain
	results := w.results()
	if err != nil {
		rep.Targets, rep.Reason = results, err.Error()
		s.removePartial(context.WithoutCancel(ctx), rep.ID)
		return rep, fmt.Errorf("backup %s: %w", rep.ID, err)
	}
	if err := m.seal(c); err != nil {
		return rep, err
	}
	body, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return rep, err
	}
	// The manifest goes last: a backup without one is incomplete and is
	// never listed or restored.
	s.forTargets(results, func(t Target, r *TargetResult) error {
		if err := t.Put(ctx, manifestKey(rep.ID), bytes.NewReader(body), int64(len(body))); err != nil {
			return fmt.Errorf("write manifest: %w", err)
		}
		if err := s.readBack(ctx, t, m, body); err != nil {
			return err
		}
		r.Verified = true
		return nil
	})
	rep.Targets = results
	rep.PlainBytes, rep.Stored, rep.Chunks, rep.Rows = m.PlainBytes, m.StoredBytes(), len(m.Chunks), m.Rows()
	good := 0
	for _, r := range results {
		if r.OK && r.Verified {
			good++
		}
	}
	switch {
	case good == 0:
		rep.Status, rep.Reason = StatusFailed, "no target holds a verified copy"
		err = fmt.Errorf("backup %s: no target holds a verified copy", rep.ID)
	case good < len(results):
		rep.Status, rep.Reason = StatusDegraded, fmt.Sprintf("%d of %d targets hold a verified copy", good, len(results))
	case good < 2:
		rep.Status, rep.Reason = StatusDegraded, "only one location is configured; BAK-1 asks for two"
	default:
		rep.Status = StatusOK
	}
	rep.Duration = s.o.Now().Sub(start)
	return rep, err
}

// forTargets runs fn for each target that has not failed yet, at once.
func (s *Service) forTargets(results []TargetResult, fn func(Target, *TargetResult) error) {
	var wg sync.WaitGroup
	for i, t := range s.o.Targets {
		if !results[i].OK {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(t, &results[i]); err != nil {
				results[i].OK, results[i].Error = false, err.Error()
			}
		}()
	}
	wg.Wait()
}

// refuseOutside marks the targets outside the tenants' strictest
// data-residency pin as failed before anything is written (ENV-2): a
// backup holds every tenant's data, so one pinned tenant is enough.
func (s *Service) refuseOutside(ctx context.Context, w *chunkWriter) error {
	if s.o.Pin == nil {
		return nil
	}
	pin, err := s.o.Pin(ctx)
	if err != nil {
		return fmt.Errorf("backup: tenants' data-residency pins: %w", err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, t := range w.targets {
		if err := region.Check(pin, t.Region()); err != nil {
			w.res[i].OK, w.res[i].Error = false, "refused: "+err.Error()+", where tenants' data must stay"
			s.o.Logger.Warn("backup target outside the data-residency region refused", "target", t.Name(), "region", t.Region(), "pin", pin)
		}
	}
	return nil
}

// readBack checks that a target returns every chunk and the manifest as
// written.
func (s *Service) readBack(ctx context.Context, t Target, m *Manifest, manifest []byte) error {
	got, err := readAll(ctx, t, manifestKey(m.ID), maxManifestSize)
	if err != nil {
		return fmt.Errorf("read back manifest: %w", err)
	}
	if !bytes.Equal(got, manifest) {
		return errors.New("read back manifest: it differs from what was written")
	}
	for _, ch := range m.Chunks {
		if _, err := fetchChunk(ctx, t, m.ID, ch); err != nil {
			return fmt.Errorf("read back: %w", err)
		}
	}
	return nil
}

func readAll(ctx context.Context, t Target, key string, limit int64) ([]byte, error) {
	rc, err := t.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", key, limit)
	}
	return b, nil
}

// ChunkError names a chunk that is missing or does not match.
type ChunkError struct {
	Target string
	Index  int
	Key    string
	Reason string
}

func (e *ChunkError) Error() string {
	return fmt.Sprintf("chunk %d (%s) on target %s: %s", e.Index, e.Key, e.Target, e.Reason)
}

// fetchChunk reads a chunk and checks its size and checksum.
func fetchChunk(ctx context.Context, t Target, id string, ch ChunkInfo) ([]byte, error) {
	key := chunkKey(id, ch.Index)
	b, err := readAll(ctx, t, key, ch.Size)
	if err != nil {
		reason := err.Error()
		if errors.Is(err, ErrNotExist) {
			reason = "missing"
		}
		return nil, &ChunkError{Target: t.Name(), Index: ch.Index, Key: key, Reason: reason}
	}
	sum := sha256.Sum256(b)
	if int64(len(b)) != ch.Size || hex.EncodeToString(sum[:]) != ch.SHA256 {
		return nil, &ChunkError{Target: t.Name(), Index: ch.Index, Key: key, Reason: "checksum mismatch (the stored bytes changed)"}
	}
	return b, nil
}

// openChunk fetches a chunk, checks it, and decrypts and decompresses it.
func openChunk(ctx context.Context, t Target, c *cipher, ch ChunkInfo) ([]byte, error) {
	sealed, err := fetchChunk(ctx, t, c.id, ch)
	if err != nil {
		return nil, err
	}
	plain, err := c.open(ch.Index, sealed)
	if err != nil {
		return nil, &ChunkError{Target: t.Name(), Index: ch.Index, Key: chunkKey(c.id, ch.Index), Reason: err.Error()}
	}
	return plain, nil
}

// removePartial deletes the chunks of a backup that did not complete.
func (s *Service) removePartial(ctx context.Context, id string) {
	for _, t := range s.o.Targets {
		keys, err := t.List(ctx, backupsPrefix+id+"/")
		if err != nil {
			continue
		}
		for _, k := range keys {
			_ = t.Delete(ctx, k)
		}
	}
}

// dump writes every table, in one read snapshot, into w.
func (s *Service) dump(ctx context.Context, m *Manifest, w *chunkWriter, progress Progress) error {
	enc, err := newEncoder(w)
	if err != nil {
		return err
	}
	return s.o.DB.Read(ctx, func(tx *store.Tx) error {
		var total, done int64
		counts := map[string]int64{}
		for _, t := range store.BackupTables() {
			n, err := tx.CountTable(ctx, t)
			if err != nil {
				return err
			}
			counts[t], total = n, total+n
		}
		progress(0, total)
		head, err := tx.LastErasure(ctx)
		if err != nil {
			return err
		}
		m.LedgerHead = head
		for _, table := range store.BackupTables() {
			var rows int64
			err := tx.DumpTable(ctx, table, func(cols []string) error {
				return enc.table(table, cols)
			}, func(vals []any) error {
				if err := enc.row(vals); err != nil {
					return err
				}
				rows++
				done++
				if done%1000 == 0 {
					progress(done, total)
					if err := w.failed(); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("read %s: %w", table, err)
			}
			if err := enc.endTable(rows); err != nil {
				return err
			}
			m.Tables = append(m.Tables, TableCount{Name: table, Rows: rows})
		}
		progress(done, total)
		if err := enc.finish(); err != nil {
			return err
		}
		return w.failed()
	})
}

// chunkWriter cuts the data stream into chunks, seals them on several
// cores and writes each to every target that has not failed.
type chunkWriter struct {
	ctx     context.Context
	c       *cipher
	targets []Target
	size    int
	buf     []byte
	index   int
	plain   int64

	work chan plainChunk
	wg   sync.WaitGroup

	mu     sync.Mutex
	err    error // sealing failed, or every target failed
	chunks []ChunkInfo
	res    []TargetResult
}

type plainChunk struct {
	index int
	data  []byte
}

func newChunkWriter(ctx context.Context, c *cipher, targets []Target, size int) *chunkWriter {
	w := &chunkWriter{ctx: ctx, c: c, targets: targets, size: size, buf: make([]byte, 0, size),
		work: make(chan plainChunk, 2), res: make([]TargetResult, len(targets))}
	for i, t := range targets {
		w.res[i] = TargetResult{Name: t.Name(), Region: t.Region(), OK: true}
	}
	for range max(1, min(runtime.GOMAXPROCS(0), 4)) {
		w.wg.Add(1)
		go w.worker()
	}
	return w
}

func (w *chunkWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		k := min(len(p), w.size-len(w.buf))
		w.buf = append(w.buf, p[:k]...)
		p = p[k:]
		if len(w.buf) == w.size {
			if err := w.emit(); err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}

func (w *chunkWriter) emit() error {
	if err := w.failed(); err != nil {
		return err
	}
	if len(w.buf) == 0 {
		return nil
	}
	ch := plainChunk{index: w.index, data: w.buf}
	w.index++
	w.plain += int64(len(w.buf))
	w.buf = make([]byte, 0, w.size)
	select {
	case w.work <- ch:
		return nil
	case <-w.ctx.Done():
		return w.ctx.Err()
	}
}

func (w *chunkWriter) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

func (w *chunkWriter) fail(err error) {
	w.mu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.mu.Unlock()
}

func (w *chunkWriter) worker() {
	defer w.wg.Done()
	for ch := range w.work {
		if w.failed() != nil {
			continue
		}
		sealed, err := w.c.seal(ch.index, ch.data)
		if err != nil {
			w.fail(fmt.Errorf("seal chunk %d: %w", ch.index, err))
			continue
		}
		sum := sha256.Sum256(sealed)
		info := ChunkInfo{Index: ch.index, Size: int64(len(sealed)), Plain: int64(len(ch.data)), SHA256: hex.EncodeToString(sum[:])}
		w.put(ch.index, sealed)
		w.mu.Lock()
		w.chunks = append(w.chunks, info)
		w.mu.Unlock()
	}
}

// put writes one sealed chunk to every target still OK, at once.
func (w *chunkWriter) put(index int, sealed []byte) {
	var wg sync.WaitGroup
	key := chunkKey(w.c.id, index)
	for i, t := range w.targets {
		w.mu.Lock()
		ok := w.res[i].OK
		w.mu.Unlock()
		if !ok {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := t.Put(w.ctx, key, bytes.NewReader(sealed), int64(len(sealed)))
			if err != nil {
				w.mu.Lock()
				w.res[i].OK, w.res[i].Error = false, fmt.Sprintf("write chunk %d: %v", index, err)
				w.mu.Unlock()
			}
		}()
	}
	wg.Wait()
	w.mu.Lock()
	alive := false
	for _, r := range w.res {
		alive = alive || r.OK
	}
	w.mu.Unlock()
	if !alive {
		w.fail(errors.New("every target failed"))
	}
}

// close flushes the last chunk and waits for the workers; chunks are then
// in index order.
func (w *chunkWriter) close() error {
	err := w.emit()
	close(w.work)
	w.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	slices.SortFunc(w.chunks, func(a, b ChunkInfo) int { return a.Index - b.Index })
	if err == nil {
		err = w.err
	}
	if err == nil && len(w.chunks) != w.index {
		err = fmt.Errorf("%d of %d chunks written", len(w.chunks), w.index)
	}
	return err
}

func (w *chunkWriter) results() []TargetResult {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]TargetResult(nil), w.res...)
}
