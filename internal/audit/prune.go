package audit

import (
	"context"
	"time"

	"github.com/valvhq/valv/internal/store"
)

// Prune removes a chain's entries older than before, in whole segments: it
// deletes up to the newest checkpoint whose entries are all older, and
// keeps that checkpoint (with its compact range and last hash) as the
// chain's new starting point, so verification and proofs go on across the
// pruned range. It returns how many entries it removed.
func (t *Trail) Prune(ctx context.Context, chain string, before time.Time) (int64, error) {
	cps, err := t.db.Reader().AuditCheckpoints(ctx, chain)
	if err != nil {
		return 0, err
	}
	pruned, err := t.db.Reader().AuditPruned(ctx, chain)
	if err != nil {
		return 0, err
	}
	var to int64
	for _, cp := range cps {
		if cp.Size <= pruned {
			continue
		}
		// Entry size-1 is the newest of the segment: all of it is old enough
		// when that one is.
		last, err := t.db.Reader().AuditEntry(ctx, chain, cp.Size-1)
		if err != nil {
			return 0, err
		}
		if !last.Time.Before(before) {
			break
		}
		to = cp.Size
	}
	if to == 0 {
		return 0, nil
	}
	var n int64
	err = t.db.Write(ctx, func(tx *store.Tx) error {
		var err error
		n, err = tx.PruneAudit(ctx, chain, to, t.now().UTC())
		return err
	})
	return n, err
}
