package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/valvhq/valv/internal/store"
)

// Finding is the first thing in a chain that does not match.
type Finding struct {
	Chain string `json:"chain"`
	// Seq is the first entry that does not match (or, for a checkpoint,
	// the checkpoint's size).
	Seq     int64  `json:"seq"`
	Kind    string `json:"kind"` // changed, missing, link, truncated, checkpoint, head
	Message string `json:"message"`
}

func (f *Finding) Error() string {
	return fmt.Sprintf("audit chain %s: entry %d: %s", f.Chain, f.Seq, f.Message)
}

// Report is the result of verifying a chain.
type Report struct {
	Chain       string   `json:"chain"`
	From        int64    `json:"from"`
	Entries     int64    `json:"entries"`
	Checkpoints int      `json:"checkpoints"`
	OK          bool     `json:"ok"`
	Finding     *Finding `json:"finding,omitempty"`
}

// verifyBatch is how many entries are read per query.
const verifyBatch = 20000

// Verify recomputes a chain — every entry's hash and link, and the Merkle
// root and signature of every checkpoint — and reports the first entry that
// does not match. With since > 0 it starts at the checkpoint of that size
// (trusting it after checking its signature); a pruned chain starts at its
// prune checkpoint.
func (t *Trail) Verify(ctx context.Context, chain string, since int64) (Report, error) {
	return t.VerifyWith(ctx, chain, since, nil)
}

// VerifyWith is Verify reporting its progress: progress (if not nil) is
// called after each batch with the entries checked and the entries to check.
func (t *Trail) VerifyWith(ctx context.Context, chain string, since int64, progress func(done, total int64)) (Report, error) {
	rep := Report{Chain: chain}
	fail := func(seq int64, kind, msg string) (Report, error) {
		rep.Finding = &Finding{Chain: chain, Seq: seq, Kind: kind, Message: msg}
		t.verifies.WithLabelValues("failed").Inc()
		return rep, nil
	}
	cps, err := t.db.Reader().AuditCheckpoints(ctx, chain)
	if err != nil {
		return rep, err
	}
	bySize := map[int64]store.AuditCheckpointRow{}
	for _, cp := range cps {
		if _, err := t.checkNote(ctx, cp); err != nil {
			return fail(cp.Size, "checkpoint", "the checkpoint of this size is not a valid signed checkpoint of this chain: "+err.Error())
		}
		bySize[cp.Size] = cp
	}
	pruned, err := t.db.Reader().AuditPruned(ctx, chain)
	if err != nil {
		return rep, err
	}
	start := max(pruned, since)
	prev := zeroHash
	rng := rangeFactory.NewEmptyRange(0)
	if start > 0 {
		cp, ok := bySize[start]
		if !ok {
			return fail(start, "checkpoint", "there is no checkpoint of this size to start from")
		}
		hs, err := unpackHashes(cp.Compact)
		if err == nil {
			rng, err = rangeFactory.NewRange(0, uint64(start), hs)
		}
		var root []byte
		if err == nil {
			root, err = rng.GetRootHash(nil)
		}
		if err != nil || !bytes.Equal(root, cp.Root) {
			return fail(start, "checkpoint", "the stored tree state of the starting checkpoint does not match its signed root")
		}
		prev = cp.LastHash
	}
	rep.From = start
	head, last, err := t.db.Reader().AuditHead(ctx, chain)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return rep, err
	}
	// Read and hash batches in parallel (each on its own read connection);
	// check them here in order. The last batch runs to the end of the table,
	// so entries beyond the head are seen too.
	end := max(head, start)
	next := start
	var finding *Finding
	err = scanBatches(ctx, t.db, chain, start, end, func(b *batch) error {
		for i := range b.seq {
			seq := b.seq[i]
			switch {
			case seq != next:
				finding = &Finding{Seq: next, Kind: "missing", Message: fmt.Sprintf("entries %d to %d are missing", next, seq-1)}
			case !bytes.Equal(b.prev[i], prev):
				finding = &Finding{Seq: seq, Kind: "link", Message: "its link to the previous entry is broken: an entry before it was removed, inserted or moved"}
			case !b.ok[i]:
				finding = &Finding{Seq: seq, Kind: "changed", Message: "its content does not match its hash: it was changed"}
			}
			if finding != nil {
				return errStop
			}
			prev = b.hash[i]
			if err := rng.Append(prev, nil); err != nil {
				return err
			}
			next++
			rep.Entries++
			if cp, ok := bySize[next]; ok {
				root, err := rng.GetRootHash(nil)
				if err != nil {
					return err
				}
				if !bytes.Equal(root, cp.Root) || !bytes.Equal(prev, cp.LastHash) {
					finding = &Finding{Seq: next, Kind: "checkpoint", Message: "the signed checkpoint of this size does not match the entries before it"}
					return errStop
				}
				rep.Checkpoints++
			}
		}
		if progress != nil {
			progress(next-start, max(end-start, next-start))
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return rep, err
	}
	if finding != nil {
		return fail(finding.Seq, finding.Kind, finding.Message)
	}
	if next == 0 && head == 0 {
		rep.OK = true
		t.verifies.WithLabelValues("ok").Inc()
		return rep, nil
	}
	for size := range bySize {
		if size > next {
			return fail(next, "truncated", fmt.Sprintf("a signed checkpoint covers %d entries, but only %d exist: entries at the end were removed", size, next))
		}
	}
	if head != next {
		return fail(next, "truncated", fmt.Sprintf("the chain's head says %d entries, but %d exist", head, next))
	}
	if !bytes.Equal(last, prev) {
		return fail(next-1, "head", "the chain's head does not hold the last entry's hash")
	}
	rep.OK = true
	t.verifies.WithLabelValues("ok").Inc()
	return rep, nil
}

// checkNote verifies a checkpoint's signature and that its text matches
// the stored columns.
func (t *Trail) checkNote(ctx context.Context, cp store.AuditCheckpointRow) (string, error) {
	text, err := t.OpenSigned(ctx, []byte(cp.Note))
	if err != nil {
		return "", err
	}
	origin, size, root, last, _, err := parseCheckpoint(text)
	if err != nil {
		return "", err
	}
	if origin != t.origin(cp.Chain) || size != cp.Size || !bytes.Equal(root, cp.Root) || !bytes.Equal(last, cp.LastHash) {
		return "", errors.New("the signed text does not match the stored checkpoint")
	}
	return text, nil
}

// Chains returns the name of every chain (every chain with a head, an
// entry or a checkpoint), in order.
func (t *Trail) Chains(ctx context.Context) ([]string, error) {
	return t.db.Reader().AuditChainsEverywhere(ctx)
}

// Size returns how many entries a chain has had (its head).
func (t *Trail) Size(ctx context.Context, chain string) (int64, error) {
	next, _, err := t.db.Reader().AuditHead(ctx, chain)
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil
	}
	return next, err
}

// VerifyAll verifies every chain and returns the reports of those that
// failed (none when the whole trail verifies).
func (t *Trail) VerifyAll(ctx context.Context) ([]Report, int64, error) {
	chains, err := t.Chains(ctx)
	if err != nil {
		return nil, 0, err
	}
	var bad []Report
	var total int64
	for _, chain := range chains {
		rep, err := t.Verify(ctx, chain, 0)
		if err != nil {
			return bad, total, err
		}
		total += rep.Entries
		if !rep.OK {
			bad = append(bad, rep)
		}
	}
	return bad, total, nil
}

var errStop = errors.New("stop")

// batch is a run of entries read and hashed by a worker.
type batch struct {
	seq  []int64
	prev [][]byte
	hash [][]byte
	ok   []bool // the stored hash matches the content
}

// verifyWorkers read and hash in parallel; the checks are sequential.
const verifyWorkers = 2

// scanBatches reads entries [start, end) — and any beyond end — in batches
// of verifyBatch by sequence number, hashing them in parallel, and calls fn
// with the batches in order.
func scanBatches(ctx context.Context, db *store.DB, chain string, start, end int64, fn func(*batch) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	nb := int((end-start+verifyBatch-1)/verifyBatch) + 1 // +1: the open-ended tail
	results := make([]chan *batch, nb)
	for i := range results {
		results[i] = make(chan *batch, 1)
	}
	errc := make(chan error, verifyWorkers)
	jobs := make(chan int)
	go func() {
		defer close(jobs)
		for i := 0; i < nb; i++ {
			select {
			case jobs <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	for w := 0; w < verifyWorkers; w++ {
		go func() {
			var buf []byte
			for i := range jobs {
				from := start + int64(i)*verifyBatch
				limit := verifyBatch
				last := i == nb-1
				if last {
					limit = 1 << 30
				}
				b := &batch{}
				err := db.Reader().ScanAudit(ctx, chain, from, limit, func(r *store.AuditScanRow) error {
					if !last && r.Seq >= from+verifyBatch {
						return nil
					}
					buf = canonicalRaw(buf, r)
					b.seq = append(b.seq, r.Seq)
					b.prev = append(b.prev, bytes.Clone(r.PrevHash))
					h := bytes.Clone(r.Hash)
					b.hash = append(b.hash, h)
					b.ok = append(b.ok, bytes.Equal(hasher.HashLeaf(buf), h))
					return nil
				})
				if err != nil {
					errc <- err
					return
				}
				results[i] <- b
			}
			errc <- nil
		}()
	}
	for i := 0; i < nb; i++ {
		select {
		case b := <-results[i]:
			if err := fn(b); err != nil {
				return err
			}
		case err := <-errc:
			if err != nil {
				return err
			}
			i-- // a worker finished; wait for the batch again
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
