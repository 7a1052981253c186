package audit

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/transparency-dev/merkle/compact"

	"github.com/valvhq/valv/internal/store"
)

// A checkpoint is a signed statement of a chain's Merkle tree at a size,
// in the transparency-log checkpoint layout:
//
//	valv.audit/<installation>/<chain>
//	<size>
//	<root hash, base64>
//	last <hash of entry size-1, base64>
//	time <RFC 3339>
//
// followed by the signature lines of the signed-note format. A tenant can
// keep its checkpoints outside Valv and later ask for a consistency proof
// from an old one to a new one, or an inclusion proof for any entry.

var rangeFactory = compact.RangeFactory{Hash: hasher.HashChildren}

// Checkpoint is a parsed checkpoint.
type Checkpoint struct {
	Chain    string    `json:"chain"`
	Size     int64     `json:"size"`
	Root     []byte    `json:"root"`
	LastHash []byte    `json:"last_hash"`
	Time     time.Time `json:"time"`
	Note     string    `json:"note"`
}

func (t *Trail) origin(chain string) string {
	return "valv.audit/" + t.installation + "/" + chain
}

func checkpointText(origin string, size int64, root, last []byte, at time.Time) string {
	b64 := base64.StdEncoding
	return fmt.Sprintf("%s\n%d\n%s\nlast %s\ntime %s\n", origin, size, b64.EncodeToString(root), b64.EncodeToString(last), at.UTC().Format(time.RFC3339))
}

// parseCheckpoint reads the text of a checkpoint.
func parseCheckpoint(text string) (origin string, size int64, root, last []byte, at time.Time, err error) {
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[3], "last ") || !strings.HasPrefix(lines[4], "time ") {
		return "", 0, nil, nil, time.Time{}, errors.New("audit: not a checkpoint")
	}
	origin = lines[0]
	if size, err = strconv.ParseInt(lines[1], 10, 64); err != nil || size < 1 {
		return "", 0, nil, nil, time.Time{}, errors.New("audit: checkpoint size")
	}
	if root, err = base64.StdEncoding.DecodeString(lines[2]); err != nil || len(root) != 32 {
		return "", 0, nil, nil, time.Time{}, errors.New("audit: checkpoint root")
	}
	if last, err = base64.StdEncoding.DecodeString(strings.TrimPrefix(lines[3], "last ")); err != nil || len(last) != 32 {
		return "", 0, nil, nil, time.Time{}, errors.New("audit: checkpoint last hash")
	}
	if at, err = time.Parse(time.RFC3339, strings.TrimPrefix(lines[4], "time ")); err != nil {
		return "", 0, nil, nil, time.Time{}, errors.New("audit: checkpoint time")
	}
	return origin, size, root, last, at, nil
}

func packHashes(hs [][]byte) []byte { return bytes.Join(hs, nil) }

func unpackHashes(b []byte) ([][]byte, error) {
	if len(b)%32 != 0 {
		return nil, errors.New("audit: corrupt compact range")
	}
	out := make([][]byte, 0, len(b)/32)
	for i := 0; i < len(b); i += 32 {
		out = append(out, b[i:i+32])
	}
	return out, nil
}

// Checkpoint signs the chain's current tree, if it grew since the last
// checkpoint, and returns the newest checkpoint (nil for an empty chain).
// Only the entries added since the last checkpoint are read: each
// checkpoint keeps the compact range of its tree.
func (t *Trail) Checkpoint(ctx context.Context, chain string) (*Checkpoint, error) {
	var row store.AuditCheckpointRow
	var rng *compact.Range
	var head int64
	var last []byte
	var latest *store.AuditCheckpointRow
	err := t.db.Read(ctx, func(tx *store.Tx) error {
		var err error
		head, last, err = tx.AuditHead(ctx, chain)
		if err != nil {
			return err
		}
		cps, err := tx.AuditCheckpoints(ctx, chain)
		if err != nil {
			return err
		}
		from := int64(0)
		rng = rangeFactory.NewEmptyRange(0)
		if len(cps) > 0 {
			latest = &cps[len(cps)-1]
			if latest.Size == head {
				return nil
			}
			hs, err := unpackHashes(latest.Compact)
			if err != nil {
				return err
			}
			if rng, err = rangeFactory.NewRange(0, uint64(latest.Size), hs); err != nil { // #nosec G115 -- a checkpoint size is an entry count (never negative)
				return err
			}
			from = latest.Size
		} else if pruned, err := tx.AuditPruned(ctx, chain); err != nil || pruned > 0 {
			return fmt.Errorf("audit: chain %s was pruned but has no checkpoint", chain)
		}
		leaves, err := tx.AuditLeafHashes(ctx, chain, from, head)
		if err != nil {
			return err
		}
		if int64(len(leaves)) != head-from {
			return fmt.Errorf("audit: chain %s: %d entries between %d and %d, want %d", chain, len(leaves), from, head, head-from)
		}
		for _, h := range leaves {
			if err := rng.Append(h, nil); err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if latest != nil && latest.Size == head {
		return toCheckpoint(*latest), nil
	}
	root, err := rng.GetRootHash(nil)
	if err != nil {
		return nil, err
	}
	at := t.now().UTC().Truncate(time.Second)
	signed, err := t.Sign(ctx, checkpointText(t.origin(chain), head, root, last, at))
	if err != nil {
		return nil, err
	}
	row = store.AuditCheckpointRow{Chain: chain, Size: head, Root: root, LastHash: last, Time: at, Note: string(signed), Compact: packHashes(rng.Hashes())}
	err = t.db.Write(ctx, func(tx *store.Tx) error { return tx.InsertAuditCheckpoint(ctx, row) })
	if errors.Is(err, store.ErrConflict) {
		// Another node signed this size first; use its checkpoint.
		r, err := t.db.Reader().AuditCheckpoint(ctx, chain, head)
		if err != nil {
			return nil, err
		}
		return toCheckpoint(r), nil
	}
	if err != nil {
		return nil, err
	}
	return toCheckpoint(row), nil
}

func toCheckpoint(r store.AuditCheckpointRow) *Checkpoint {
	return &Checkpoint{Chain: r.Chain, Size: r.Size, Root: r.Root, LastHash: r.LastHash, Time: r.Time, Note: r.Note}
}

// CheckpointAll checkpoints every chain that grew, and returns how many it
// signed.
func (t *Trail) CheckpointAll(ctx context.Context) (int, error) {
	chains, err := t.db.Reader().AuditChains(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for chain := range chains {
		cp, err := t.Checkpoint(ctx, chain)
		if err != nil {
			return n, fmt.Errorf("audit: checkpoint %s: %w", chain, err)
		}
		if cp != nil {
			n++
		}
	}
	return n, nil
}

// Checkpoints lists a chain's checkpoints.
func (t *Trail) Checkpoints(ctx context.Context, chain string) ([]Checkpoint, error) {
	rows, err := t.db.Reader().AuditCheckpoints(ctx, chain)
	if err != nil {
		return nil, err
	}
	out := make([]Checkpoint, 0, len(rows))
	for _, r := range rows {
		out = append(out, *toCheckpoint(r))
	}
	return out, nil
}
