package audit

import (
	"context"
	"errors"
	"fmt"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"

	"github.com/valvhq/valv/internal/store"
)

// Proofs are computed from the stored leaf hashes (and, below a prune
// point, from the compact range kept with the prune checkpoint). This reads
// the chain's hashes up to the tree size: about 32 bytes per entry.

// nodeSource computes the hash of any Merkle node of a chain.
type nodeSource struct {
	base   int64          // leaves below base are pruned
	baseRg *compact.Range // compact range of [0, base)
	leaves [][]byte       // hashes of [base, size)
}

func (t *Trail) nodeSource(ctx context.Context, chain string, size int64) (*nodeSource, error) {
	ns := &nodeSource{}
	err := t.db.Read(ctx, func(tx *store.Tx) error {
		pruned, err := tx.AuditPruned(ctx, chain)
		if err != nil {
			return err
		}
		if pruned > 0 {
			cp, err := tx.AuditCheckpoint(ctx, chain, pruned)
			if err != nil {
				return err
			}
			hs, err := unpackHashes(cp.Compact)
			if err != nil {
				return err
			}
			if ns.baseRg, err = rangeFactory.NewRange(0, uint64(pruned), hs); err != nil {
				return err
			}
			ns.base = pruned
		}
		ns.leaves, err = tx.AuditLeafHashes(ctx, chain, ns.base, size)
		if err != nil {
			return err
		}
		if int64(len(ns.leaves)) != size-ns.base {
			return fmt.Errorf("audit: chain %s has %d entries below %d", chain, int64(len(ns.leaves))+ns.base, size)
		}
		return nil
	})
	return ns, err
}

var errPruned = errors.New("audit: the proof needs entries that were pruned")

// hash returns the hash of node id.
func (ns *nodeSource) hash(id compact.NodeID) ([]byte, error) {
	a, b := id.Coverage()
	begin, end := int64(a), int64(b) // #nosec G115 -- proof nodes come from trees whose sizes are int64, so their coverage fits
	if end <= ns.base {
		// Only a node of the prune point's compact range is known.
		for i, nid := range compact.RangeNodes(0, uint64(ns.base), nil) { // #nosec G115 -- ns.base is the prune point, an entry count (never negative)
			if nid == id {
				return ns.baseRg.Hashes()[i], nil
			}
		}
		return nil, errPruned
	}
	var rng *compact.Range
	if begin >= ns.base {
		rng = rangeFactory.NewEmptyRange(uint64(begin)) // #nosec G115 -- begin >= ns.base >= 0 here
	} else {
		// The node spans the prune point: its left part is a suffix of the
		// prune point's compact range.
		var hs [][]byte
		for i, nid := range compact.RangeNodes(0, uint64(ns.base), nil) { // #nosec G115 -- ns.base is the prune point, an entry count (never negative)
			if lo, _ := nid.Coverage(); int64(lo) >= begin { // #nosec G115 -- lo is below ns.base, an int64 entry count
				hs = append(hs, ns.baseRg.Hashes()[i])
			}
		}
		var err error
		if rng, err = rangeFactory.NewRange(uint64(begin), uint64(ns.base), hs); err != nil { // #nosec G115 -- begin is a node coverage start (from uint64) and ns.base an entry count, both non-negative
			return nil, errPruned
		}
		begin = ns.base
	}
	for i := begin; i < end; i++ {
		if err := rng.Append(ns.leaves[i-ns.base], nil); err != nil {
			return nil, err
		}
	}
	// The node is a perfect subtree: its compact range is the one hash.
	if hs := rng.Hashes(); len(hs) == 1 {
		return hs[0], nil
	}
	return nil, fmt.Errorf("audit: node %v is not a complete subtree", id)
}

func (ns *nodeSource) build(nodes proof.Nodes) ([][]byte, error) {
	hs := make([][]byte, len(nodes.IDs))
	for i, id := range nodes.IDs {
		h, err := ns.hash(id)
		if err != nil {
			return nil, err
		}
		hs[i] = h
	}
	return nodes.Rehash(hs, hasher.HashChildren)
}

// InclusionProof proves that entry seq is in the chain's tree of size.
func (t *Trail) InclusionProof(ctx context.Context, chain string, seq, size int64) ([][]byte, error) {
	if seq < 0 || size < 1 || seq >= size {
		return nil, fmt.Errorf("audit: entry %d is not in a tree of size %d", seq, size)
	}
	nodes, err := proof.Inclusion(uint64(seq), uint64(size))
	if err != nil {
		return nil, err
	}
	ns, err := t.nodeSource(ctx, chain, size)
	if err != nil {
		return nil, err
	}
	return ns.build(nodes)
}

// ConsistencyProof proves that the chain's tree of size1 is a prefix of
// its tree of size2 (nothing was changed or removed in between).
func (t *Trail) ConsistencyProof(ctx context.Context, chain string, size1, size2 int64) ([][]byte, error) {
	if size1 < 1 || size1 > size2 {
		return nil, fmt.Errorf("audit: no consistency proof from %d to %d", size1, size2)
	}
	nodes, err := proof.Consistency(uint64(size1), uint64(size2)) // #nosec G115 -- checked above: 1 <= size1 <= size2
	if err != nil {
		return nil, err
	}
	ns, err := t.nodeSource(ctx, chain, size2)
	if err != nil {
		return nil, err
	}
	return ns.build(nodes)
}

// VerifyInclusion checks an inclusion proof against a root (what an outside
// party does with a kept checkpoint).
func VerifyInclusion(seq, size int64, leafHash []byte, p [][]byte, root []byte) error {
	if seq < 0 || size < 0 {
		return fmt.Errorf("audit: entry %d is not in a tree of size %d", seq, size)
	}
	return proof.VerifyInclusion(hasher, uint64(seq), uint64(size), leafHash, p, root)
}

// VerifyConsistency checks a consistency proof between two roots.
func VerifyConsistency(size1, size2 int64, p [][]byte, root1, root2 []byte) error {
	if size1 < 0 || size2 < 0 {
		return fmt.Errorf("audit: no consistency proof from %d to %d", size1, size2)
	}
	return proof.VerifyConsistency(hasher, uint64(size1), uint64(size2), p, root1, root2)
}
