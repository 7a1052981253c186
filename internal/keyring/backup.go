package keyring

import (
	"context"
	"fmt"

	"github.com/valvhq/valv/internal/store"
)

// A backup's data is encrypted under a key of its own, which is stored in
// the backup wrapped by the root key: without the root key (the key file,
// the HSM, or the key holders' shares) a backup cannot be opened.

func backupKeyAD(fingerprint, backupID string) []byte {
	return []byte("valv/backup-key/v1/" + fingerprint + "/" + backupID)
}

// WrapBackupKey encrypts a backup's key under the root key. It returns the
// wrapped key and the root key record it was wrapped with (the public part
// a restore needs to check a key or shares against).
func (k *Keyring) WrapBackupKey(ctx context.Context, backupID string, key []byte) ([]byte, store.RootKeyRow, error) {
	root, fp, err := k.rootKey()
	if err != nil {
		return nil, store.RootKeyRow{}, err
	}
	rec, err := k.db.Reader().RootKey(ctx)
	if err != nil {
		return nil, store.RootKeyRow{}, fmt.Errorf("keyring: read root key record: %w", err)
	}
	if rec.Fingerprint != fp {
		return nil, store.RootKeyRow{}, fmt.Errorf("keyring: the root key was rotated on another node; try again")
	}
	ct, err := root.Encrypt(key, backupKeyAD(fp, backupID))
	if err != nil {
		return nil, store.RootKeyRow{}, fmt.Errorf("keyring: wrap backup key: %w", err)
	}
	return ct, rec, nil
}

// UnwrapBackupKey opens a backup's key with a root key that CheckRoot
// accepted for the backup's root key record.
func UnwrapBackupKey(root RootKey, rec store.RootKeyRow, backupID string, wrapped []byte) ([]byte, error) {
	key, err := root.Decrypt(wrapped, backupKeyAD(rec.Fingerprint, backupID))
	if err != nil {
		return nil, fmt.Errorf("keyring: the backup key does not open with this root key: %w", ErrWrongRootKey)
	}
	return key, nil
}

// Root returns the loaded root key, for opening this installation's
// backups in a restore test. ErrSealed while sealed.
func (k *Keyring) Root() (RootKey, error) {
	root, _, err := k.rootKey()
	return root, err
}

// CheckRoot reports whether root is the key of the root key record rec
// (ErrWrongRootKey if not).
func CheckRoot(rec store.RootKeyRow, root RootKey) error {
	return verifyCheck(root, rec.Fingerprint, rec.CheckValue)
}

// ShareSet collects Shamir shares against a root key record without a
// database: a restore recovers the root key of a backup this way.
type ShareSet struct {
	rec store.RootKeyRow
	got map[int]parsedShare
}

// NewShareSet starts collecting shares for rec.
func NewShareSet(rec store.RootKeyRow) (*ShareSet, error) {
	if rec.Provider != ProviderShamir {
		return nil, fmt.Errorf("keyring: the root key is held by the %s provider, not by shares", rec.Provider)
	}
	return &ShareSet{rec: rec, got: map[int]parsedShare{}}, nil
}

// Progress is how many shares were accepted, and how many are needed.
func (s *ShareSet) Progress() (int, int) { return len(s.got), s.rec.ShamirThreshold }

// Add checks and keeps one share; it reports whether enough were given.
// A bad share is an ErrBadShare and is not counted.
func (s *ShareSet) Add(text string) (bool, error) {
	p, err := parseShare(text)
	if err != nil {
		return false, err
	}
	if p.fingerprint != s.rec.Fingerprint || !verifyShare(p, s.rec.ShamirThreshold, s.rec.ShamirCommitments) {
		return false, fmt.Errorf("%w: it does not belong to this backup's root key", ErrBadShare)
	}
	if _, dup := s.got[p.index]; dup {
		return false, fmt.Errorf("%w: share %d was already given", ErrBadShare, p.index)
	}
	s.got[p.index] = p
	return len(s.got) >= s.rec.ShamirThreshold, nil
}

// Root recovers the root key once enough shares were added.
func (s *ShareSet) Root() (RootKey, error) {
	if len(s.got) < s.rec.ShamirThreshold {
		return nil, fmt.Errorf("keyring: %d of %d shares given", len(s.got), s.rec.ShamirThreshold)
	}
	shares := make([]parsedShare, 0, len(s.got))
	for _, p := range s.got {
		shares = append(shares, p)
	}
	b, err := shamirRecover(s.rec.ShamirThreshold, shares)
	if err != nil {
		return nil, err
	}
	root, err := NewMemoryRoot(b)
	clear(b)
	if err != nil {
		return nil, err
	}
	if err := CheckRoot(s.rec, root); err != nil {
		return nil, err
	}
	return root, nil
}
