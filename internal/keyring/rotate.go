package keyring

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/streamingaead"

	"github.com/valvhq/valv/internal/seal"
	"github.com/valvhq/valv/internal/store"
)

// loadRow reads and unwraps a tenant's keysets (bypassing the cache).
func (k *Keyring) loadRow(ctx context.Context, tenant string) (store.KeysetRow, seal.Keysets, error) {
	root, fp, err := k.rootKey()
	if err != nil {
		return store.KeysetRow{}, seal.Keysets{}, err
	}
	row, err := k.db.Reader().Keyset(ctx, tenant)
	if errors.Is(err, store.ErrNotFound) {
		return row, seal.Keysets{}, ErrNoKeyset
	}
	if err != nil {
		return row, seal.Keysets{}, err
	}
	if !row.DestroyedAt.IsZero() {
		return row, seal.Keysets{}, ErrDestroyed
	}
	if row.RootFingerprint != fp {
		return row, seal.Keysets{}, ErrSealed
	}
	ks, err := unwrapKeysets(root, row)
	return row, ks, err
}

// storeKeysets wraps ks and replaces the tenant's row, bumping its version.
func (k *Keyring) storeKeysets(ctx context.Context, row store.KeysetRow, ks seal.Keysets) error {
	root, fp, err := k.rootKey()
	if err != nil {
		return err
	}
	a, p, s, err := wrapKeysets(root, row.TenantID, ks)
	if err != nil {
		return err
	}
	next := row
	next.Version++
	next.AEAD, next.PRF, next.Stream, next.RootFingerprint = a, p, s, fp
	next.RotatedAt = k.now().UTC()
	err = k.db.Write(ctx, func(tx *store.Tx) error { return tx.UpdateKeyset(ctx, next) })
	k.forget(row.TenantID)
	return err
}

// Rotate adds a new primary key to a tenant's value and file keysets. New
// values are sealed with it at once (on other nodes within CacheTTL); old
// values stay readable until Reencrypt moves them and RetireOldKeys removes
// the old keys. The blind-index key is not rotated.
func (k *Keyring) Rotate(ctx context.Context, tenant string) (uint32, error) {
	row, ks, err := k.loadRow(ctx, tenant)
	if err != nil {
		return 0, err
	}
	am := keyset.NewManagerFromHandle(ks.AEAD)
	id, err := am.Add(aead.AES256GCMKeyTemplate())
	if err != nil {
		return 0, fmt.Errorf("keyring: add key: %w", err)
	}
	if err := am.SetPrimary(id); err != nil {
		return 0, err
	}
	if ks.AEAD, err = am.Handle(); err != nil {
		return 0, err
	}
	sm := keyset.NewManagerFromHandle(ks.Stream)
	sid, err := sm.Add(streamingaead.AES256GCMHKDF4KBKeyTemplate())
	if err != nil {
		return 0, err
	}
	if err := sm.SetPrimary(sid); err != nil {
		return 0, err
	}
	if ks.Stream, err = sm.Handle(); err != nil {
		return 0, err
	}
	if err := k.storeKeysets(ctx, row, ks); err != nil {
		return 0, fmt.Errorf("keyring: rotate keys of %s: %w", tenant, err)
	}
	return id, nil
}

// KeyInfo describes one key of a tenant's value keyset.
type KeyInfo struct {
	ID      uint32 `json:"id"`
	Status  string `json:"status"`
	Primary bool   `json:"primary"`
	// Values is how many stored values are sealed with this key.
	Values int64 `json:"values"`
}

// TenantKeys describes a tenant's keys.
type TenantKeys struct {
	Tenant    string    `json:"tenant"`
	Version   int64     `json:"version"`
	Keys      []KeyInfo `json:"keys"`
	Destroyed bool      `json:"destroyed"`
}

// KeyStatus lists a tenant's value keys and how many values each seals.
func (k *Keyring) KeyStatus(ctx context.Context, tenant string) (TenantKeys, error) {
	row, ks, err := k.loadRow(ctx, tenant)
	if errors.Is(err, ErrDestroyed) {
		return TenantKeys{Tenant: tenant, Version: row.Version, Destroyed: true}, nil
	}
	if err != nil {
		return TenantKeys{}, err
	}
	counts, err := k.valuesByKey(ctx, tenant)
	if err != nil {
		return TenantKeys{}, err
	}
	info := ks.AEAD.KeysetInfo()
	out := TenantKeys{Tenant: tenant, Version: row.Version}
	for _, ki := range info.GetKeyInfo() {
		out.Keys = append(out.Keys, KeyInfo{ID: ki.GetKeyId(), Status: ki.GetStatus().String(),
			Primary: ki.GetKeyId() == info.GetPrimaryKeyId(), Values: counts[ki.GetKeyId()]})
	}
	return out, nil
}

// valuesByKey counts a tenant's sealed values by the key that sealed them.
func (k *Keyring) valuesByKey(ctx context.Context, tenant string) (map[uint32]int64, error) {
	counts := map[uint32]int64{}
	for _, col := range store.SealedColumns() {
		after := ""
		for {
			vals, err := k.db.Reader().SealedValues(ctx, col, tenant, after, 1000)
			if err != nil {
				return nil, err
			}
			if len(vals) == 0 {
				break
			}
			for _, v := range vals {
				id, err := seal.KeyID(v.Value)
				if err != nil {
					return nil, fmt.Errorf("keyring: %s.%s row %s: %w", col.Table, col.Column, v.RowID, err)
				}
				counts[id]++
			}
			after = vals[len(vals)-1].RowID
		}
	}
	return counts, nil
}

// ReencryptProgress reports re-encryption progress.
type ReencryptProgress func(done, total int64)

// ReencryptResult says what Reencrypt did.
type ReencryptResult struct {
	Examined    int64 `json:"examined"`
	Reencrypted int64 `json:"reencrypted"`
}

// reencryptBatch is how many values one transaction re-encrypts.
const reencryptBatch = 500

// Reencrypt moves every value of a tenant that is sealed with an old key to
// the primary key. It is resumable: progress is recorded per column after
// each batch, so a run that is interrupted continues where it stopped. A
// value changed meanwhile is left alone (it was just sealed anew anyway).
func (k *Keyring) Reencrypt(ctx context.Context, tenant string, progress ReencryptProgress) (ReencryptResult, error) {
	s, err := k.load(ctx, tenant)
	if err != nil {
		return ReencryptResult{}, err
	}
	var total int64
	cols := store.SealedColumns()
	for _, col := range cols {
		n, err := k.db.Reader().CountSealedValues(ctx, col, tenant)
		if err != nil {
			return ReencryptResult{}, err
		}
		total += n
	}
	var res ReencryptResult
	for _, col := range cols {
		after, err := k.db.Reader().ReencryptCursor(ctx, tenant, col)
		if err != nil {
			return res, err
		}
		for {
			if err := ctx.Err(); err != nil {
				return res, err
			}
			vals, err := k.db.Reader().SealedValues(ctx, col, tenant, after, reencryptBatch)
			if err != nil {
				return res, err
			}
			if len(vals) == 0 {
				break
			}
			type update struct {
				row      string
				old, new []byte
			}
			var updates []update
			for _, v := range vals {
				res.Examined++
				id, err := seal.KeyID(v.Value)
				if err != nil {
					return res, fmt.Errorf("keyring: %s.%s row %s: %w", col.Table, col.Column, v.RowID, err)
				}
				if id == s.PrimaryKeyID() {
					continue
				}
				loc := seal.Location{Table: col.Table, Row: v.RowID, Field: col.Field}
				pt, err := s.Open(v.Value, loc)
				if err != nil {
					return res, fmt.Errorf("keyring: %s.%s row %s: %w", col.Table, col.Column, v.RowID, err)
				}
				nv, err := s.Seal(pt, loc)
				clear(pt)
				if err != nil {
					return res, err
				}
				updates = append(updates, update{v.RowID, v.Value, nv})
			}
			last := vals[len(vals)-1].RowID
			err = k.db.Write(ctx, func(tx *store.Tx) error {
				for _, u := range updates {
					if err := tx.UpdateSealedValue(ctx, col, tenant, u.row, u.old, u.new); err != nil {
						return err
					}
				}
				return tx.SetReencryptCursor(ctx, tenant, col, last)
			})
			if err != nil {
				return res, fmt.Errorf("keyring: re-encrypt %s.%s: %w", col.Table, col.Column, err)
			}
			res.Reencrypted += int64(len(updates))
			after = last
			if progress != nil {
				progress(res.Examined, total)
			}
		}
		if err := k.db.Write(ctx, func(tx *store.Tx) error { return tx.SetReencryptCursor(ctx, tenant, col, "") }); err != nil {
			return res, err
		}
	}
	return res, nil
}

// RetireOldKeys deletes a tenant's non-primary value keys once no stored
// value uses them, and returns how many it deleted. It refuses while any
// value is still sealed with an old key (run Reencrypt first).
func (k *Keyring) RetireOldKeys(ctx context.Context, tenant string) (int, error) {
	row, ks, err := k.loadRow(ctx, tenant)
	if err != nil {
		return 0, err
	}
	counts, err := k.valuesByKey(ctx, tenant)
	if err != nil {
		return 0, err
	}
	info := ks.AEAD.KeysetInfo()
	m := keyset.NewManagerFromHandle(ks.AEAD)
	retired := 0
	for _, ki := range info.GetKeyInfo() {
		id := ki.GetKeyId()
		if id == info.GetPrimaryKeyId() {
			continue
		}
		if counts[id] > 0 {
			return 0, fmt.Errorf("keyring: key %d of %s still seals %d values; run re-encryption first", id, tenant, counts[id])
		}
		if err := m.Delete(id); err != nil {
			return 0, err
		}
		retired++
	}
	if retired == 0 {
		return 0, nil
	}
	if ks.AEAD, err = m.Handle(); err != nil {
		return 0, err
	}
	if err := k.storeKeysets(ctx, row, ks); err != nil {
		return 0, err
	}
	return retired, nil
}

// ShamirRecord is the Shamir part of a new root key record.
type ShamirRecord struct {
	Threshold, Shares int
	Commitments       []byte
}

// RotateRoot re-wraps every keyset with newRoot, in one transaction, and
// replaces the root key record. The keyring must be unsealed (it needs the
// old root to unwrap). Other nodes seal themselves when they notice.
func (k *Keyring) RotateRoot(ctx context.Context, newRoot RootKey, provider string, sh *ShamirRecord) error {
	return k.rotateRootWithFingerprint(ctx, newRoot, provider, sh, newFingerprint())
}

func (k *Keyring) rotateRootWithFingerprint(ctx context.Context, newRoot RootKey, provider string, sh *ShamirRecord, newFP string) error {
	oldRoot, oldFP, err := k.rootKey()
	if err != nil {
		return err
	}
	rows, err := k.db.Reader().Keysets(ctx)
	if err != nil {
		return err
	}
	now := k.now().UTC()
	var next []store.KeysetRow
	for _, row := range rows {
		if !row.DestroyedAt.IsZero() {
			continue
		}
		if row.RootFingerprint != oldFP {
			return fmt.Errorf("keyring: keyset of %s is wrapped by root key %s, not the one held (%s)", row.TenantID, row.RootFingerprint, oldFP)
		}
		ks, err := unwrapKeysets(oldRoot, row)
		if err != nil {
			return err
		}
		a, p, s, err := wrapKeysets(newRoot, row.TenantID, ks)
		if err != nil {
			return err
		}
		n := row
		n.Version++
		n.AEAD, n.PRF, n.Stream, n.RootFingerprint, n.RotatedAt = a, p, s, newFP, now
		next = append(next, n)
	}
	check, err := makeCheck(newRoot, newFP)
	if err != nil {
		return err
	}
	rec := store.RootKeyRow{Provider: provider, Fingerprint: newFP, CheckValue: check, RotatedAt: now}
	if sh != nil {
		rec.ShamirThreshold, rec.ShamirShares, rec.ShamirCommitments = sh.Threshold, sh.Shares, sh.Commitments
	}
	err = k.db.Write(ctx, func(tx *store.Tx) error {
		if err := tx.ReplaceRootKey(ctx, oldFP, rec); err != nil {
			return err
		}
		for _, n := range next {
			if err := tx.UpdateKeyset(ctx, n); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("keyring: rotate root key: %w", err)
	}
	k.mu.Lock()
	k.provider = provider
	k.mu.Unlock()
	k.setRoot(newRoot, newFP)
	return nil
}

// Rekey replaces a Shamir root key: given threshold current shares, it
// makes a new root key split into n shares with threshold t, re-wraps every
// keyset with it, and returns the new shares. The old shares stop working.
func (k *Keyring) Rekey(ctx context.Context, current []string, n, t int) ([]string, error) {
	rec, err := k.db.Reader().RootKey(ctx)
	if err != nil {
		return nil, err
	}
	if rec.Provider != ProviderShamir {
		return nil, errors.New("keyring: rekey needs the shamir provider")
	}
	seen := map[int]bool{}
	var shares []parsedShare
	for _, text := range current {
		p, err := parseShare(text)
		if err != nil {
			return nil, err
		}
		if p.fingerprint != rec.Fingerprint || !verifyShare(p, rec.ShamirThreshold, rec.ShamirCommitments) {
			return nil, fmt.Errorf("%w: share %d does not match this installation's key", ErrBadShare, p.index)
		}
		if !seen[p.index] {
			seen[p.index] = true
			shares = append(shares, p)
		}
	}
	if len(shares) < rec.ShamirThreshold {
		return nil, fmt.Errorf("keyring: rekey needs %d distinct current shares, got %d", rec.ShamirThreshold, len(shares))
	}
	oldBytes, err := shamirRecover(rec.ShamirThreshold, shares)
	if err != nil {
		return nil, err
	}
	oldRoot, err := NewMemoryRoot(oldBytes)
	clear(oldBytes)
	if err != nil {
		return nil, err
	}
	if err := verifyCheck(oldRoot, rec.Fingerprint, rec.CheckValue); err != nil {
		return nil, err
	}
	k.mu.Lock()
	if k.root == nil {
		k.root, k.fingerprint = oldRoot, rec.Fingerprint
	}
	k.mu.Unlock()
	// The new split carries the fingerprint RotateRoot will assign; make it
	// first, then pass the same one through.
	newFP := newFingerprint()
	newBytes, newShares, commitments, err := shamirSplit(n, t, newFP)
	if err != nil {
		return nil, err
	}
	newRoot, err := NewMemoryRoot(newBytes)
	clear(newBytes)
	if err != nil {
		return nil, err
	}
	if err := k.rotateRootWithFingerprint(ctx, newRoot, ProviderShamir, &ShamirRecord{Threshold: t, Shares: n, Commitments: commitments}, newFP); err != nil {
		return nil, err
	}
	return newShares, nil
}

// KeySummary is how many value keys a tenant's keyset holds and when its
// primary key was made (its creation, or its last rotation).
func (k *Keyring) KeySummary(ctx context.Context, tenant string) (keys int, primarySince time.Time, err error) {
	row, ks, err := k.loadRow(ctx, tenant)
	if err != nil {
		return 0, time.Time{}, err
	}
	since := row.CreatedAt
	if !row.RotatedAt.IsZero() {
		since = row.RotatedAt
	}
	return len(ks.AEAD.KeysetInfo().GetKeyInfo()), since, nil
}
