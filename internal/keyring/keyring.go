package keyring

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/tink-crypto/tink-go/v2/keyset"

	"github.com/valvhq/valv/internal/problem"
	"github.com/valvhq/valv/internal/seal"
	"github.com/valvhq/valv/internal/store"
)

// Platform is the keyset owner for platform data that belongs to no tenant
// (operator accounts, the audit signing key).
const Platform = "platform"

var (
	// ErrSealed means the installation is sealed: no key is available.
	ErrSealed = &problem.Error{Kind: problem.KindUnavailable, Code: "sealed",
		Message: "Valv is sealed: key holders must unseal it first (valv operator unseal).", RetryAfter: 5}
	// ErrNoKeyset means a tenant has no keyset (it does not exist).
	ErrNoKeyset = errors.New("keyring: tenant has no keyset")
	// ErrDestroyed means a tenant's keyset was destroyed; its data is unreadable.
	ErrDestroyed = errors.New("keyring: tenant keyset destroyed")
	// ErrNotInitialised means no root key was ever set up.
	ErrNotInitialised = errors.New("keyring: not initialised (run 'valv operator init')")
)

// Options configures a Keyring.
type Options struct {
	DB *store.DB
	// Provider is the configured root-key provider: file, shamir or pkcs11.
	Provider string
	Logger   *slog.Logger
	Now      func() time.Time
	// CacheTTL is how long an unwrapped keyset is used before its version is
	// checked again (a rotation or destruction on another node shows up
	// within this time). Default 5s.
	CacheTTL time.Duration
}

// Keyring is the key hierarchy of one installation. It is safe for
// concurrent use. It starts sealed.
type Keyring struct {
	db       *store.DB
	provider string
	log      *slog.Logger
	now      func() time.Time
	ttl      time.Duration

	mu          sync.RWMutex
	root        RootKey // nil while sealed
	fingerprint string
	pending     map[int]parsedShare // Shamir shares given so far
	cache       map[string]*cached
}

type cached struct {
	sealer  *seal.Sealer
	version int64
	checked time.Time
}

// New returns a sealed keyring.
func New(opts Options) *Keyring {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.CacheTTL <= 0 {
		opts.CacheTTL = 5 * time.Second
	}
	return &Keyring{db: opts.DB, provider: opts.Provider, log: opts.Logger, now: opts.Now, ttl: opts.CacheTTL,
		pending: map[int]parsedShare{}, cache: map[string]*cached{}}
}

// Status describes the seal state.
type Status struct {
	Initialised bool   `json:"initialized"`
	Sealed      bool   `json:"sealed"`
	Provider    string `json:"provider"`
	Threshold   int    `json:"threshold,omitempty"`
	Shares      int    `json:"shares,omitempty"`
	Progress    int    `json:"progress"`
	Fingerprint string `json:"root_key_fingerprint,omitempty"`
	RotatedAt   time.Time
}

// Sealed reports whether no root key is loaded.
func (k *Keyring) Sealed() bool {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.root == nil
}

// Status reads the seal state.
func (k *Keyring) Status(ctx context.Context) (Status, error) {
	rec, err := k.db.Reader().RootKey(ctx)
	k.mu.RLock()
	st := Status{Sealed: k.root == nil, Provider: k.provider, Progress: len(k.pending)}
	k.mu.RUnlock()
	if errors.Is(err, store.ErrNotFound) {
		return st, nil
	}
	if err != nil {
		return Status{}, err
	}
	st.Initialised = true
	st.Provider = rec.Provider
	st.Threshold, st.Shares = rec.ShamirThreshold, rec.ShamirShares
	st.Fingerprint, st.RotatedAt = rec.Fingerprint, rec.RotatedAt
	return st, nil
}

// Unlock loads a root key from a provider that needs no shares (file,
// pkcs11). On a new installation it records the key; otherwise the key must
// open the stored check value.
func (k *Keyring) Unlock(ctx context.Context, root RootKey) error {
	rec, err := k.db.Reader().RootKey(ctx)
	switch {
	case errors.Is(err, store.ErrNotFound):
		fp := newFingerprint()
		check, err := makeCheck(root, fp)
		if err != nil {
			return fmt.Errorf("keyring: %w", err)
		}
		now := k.now().UTC()
		err = k.db.Write(ctx, func(tx *store.Tx) error {
			return tx.InsertRootKey(ctx, store.RootKeyRow{Provider: k.provider, Fingerprint: fp, CheckValue: check, CreatedAt: now, RotatedAt: now})
		})
		if errors.Is(err, store.ErrConflict) {
			return k.Unlock(ctx, root) // another node initialised first
		}
		if err != nil {
			return fmt.Errorf("keyring: record root key: %w", err)
		}
		rec.Fingerprint = fp
	case err != nil:
		return fmt.Errorf("keyring: read root key record: %w", err)
	default:
		if rec.Provider != k.provider {
			return fmt.Errorf("keyring: this installation's root key is held by the %s provider, but keys.provider is %s", rec.Provider, k.provider)
		}
		if err := verifyCheck(root, rec.Fingerprint, rec.CheckValue); err != nil {
			return err
		}
	}
	k.setRoot(root, rec.Fingerprint)
	return k.ensurePlatformKeys(ctx)
}

func (k *Keyring) setRoot(root RootKey, fp string) {
	k.mu.Lock()
	k.root, k.fingerprint = root, fp
	k.pending = map[int]parsedShare{}
	k.cache = map[string]*cached{}
	k.mu.Unlock()
	k.log.Info("keyring unsealed", "root_key_fingerprint", fp)
}

// Seal drops the root key and every unwrapped keyset from memory.
func (k *Keyring) Seal() {
	k.drop()
	k.log.Warn("keyring sealed")
}

// Close drops the keys from memory when the process is done with them.
func (k *Keyring) Close() { k.drop() }

func (k *Keyring) drop() {
	k.mu.Lock()
	k.root, k.fingerprint = nil, ""
	k.pending = map[int]parsedShare{}
	k.cache = map[string]*cached{}
	k.mu.Unlock()
}

// InitShamir creates a root key split into n shares with threshold t, and
// returns the shares. It refuses when a root key already exists. The
// keyring stays sealed: the key holders unseal it.
func (k *Keyring) InitShamir(ctx context.Context, n, t int) ([]string, error) {
	if _, err := k.db.Reader().RootKey(ctx); err == nil {
		return nil, errors.New("keyring: this installation is already initialised")
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	fp := newFingerprint()
	rootBytes, shares, commitments, err := shamirSplit(n, t, fp)
	if err != nil {
		return nil, err
	}
	root, err := NewMemoryRoot(rootBytes)
	clear(rootBytes)
	if err != nil {
		return nil, err
	}
	check, err := makeCheck(root, fp)
	if err != nil {
		return nil, err
	}
	now := k.now().UTC()
	rec := store.RootKeyRow{Provider: ProviderShamir, Fingerprint: fp, CheckValue: check,
		ShamirThreshold: t, ShamirShares: n, ShamirCommitments: commitments, CreatedAt: now, RotatedAt: now}
	platform, err := k.newKeysetRow(root, fp, Platform)
	if err != nil {
		return nil, err
	}
	err = k.db.Write(ctx, func(tx *store.Tx) error {
		if err := tx.InsertRootKey(ctx, rec); err != nil {
			return err
		}
		return tx.InsertKeyset(ctx, platform)
	})
	if errors.Is(err, store.ErrConflict) {
		return nil, errors.New("keyring: this installation is already initialised")
	}
	if err != nil {
		return nil, fmt.Errorf("keyring: record root key: %w", err)
	}
	return shares, nil
}

// SubmitShare gives one Shamir share. A share that is malformed or not one
// of this installation's current shares is rejected and does not count.
// When the threshold is reached the keyring unseals.
func (k *Keyring) SubmitShare(ctx context.Context, text string) (Status, error) {
	rec, err := k.db.Reader().RootKey(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return Status{}, ErrNotInitialised
	}
	if err != nil {
		return Status{}, err
	}
	if rec.Provider != ProviderShamir {
		return Status{}, fmt.Errorf("keyring: this installation's root key is held by the %s provider, not by shares", rec.Provider)
	}
	p, err := parseShare(text)
	if err != nil {
		return k.statusAfter(ctx), err
	}
	if p.fingerprint != rec.Fingerprint {
		return k.statusAfter(ctx), fmt.Errorf("%w: it belongs to another installation or an earlier root key (share key %s, this installation %s)",
			ErrBadShare, p.fingerprint, rec.Fingerprint)
	}
	if !verifyShare(p, rec.ShamirThreshold, rec.ShamirCommitments) {
		return k.statusAfter(ctx), fmt.Errorf("%w: it does not match this installation's key", ErrBadShare)
	}
	k.mu.Lock()
	if k.root != nil {
		k.mu.Unlock()
		return k.statusAfter(ctx), nil // already unsealed
	}
	if _, dup := k.pending[p.index]; dup {
		k.mu.Unlock()
		return k.statusAfter(ctx), fmt.Errorf("%w: share %d was already given", ErrBadShare, p.index)
	}
	k.pending[p.index] = p
	if len(k.pending) < rec.ShamirThreshold {
		k.mu.Unlock()
		return k.statusAfter(ctx), nil
	}
	shares := make([]parsedShare, 0, len(k.pending))
	for _, s := range k.pending {
		shares = append(shares, s)
	}
	k.pending = map[int]parsedShare{}
	k.mu.Unlock()

	rootBytes, err := shamirRecover(rec.ShamirThreshold, shares)
	if err != nil {
		return k.statusAfter(ctx), err
	}
	root, err := NewMemoryRoot(rootBytes)
	clear(rootBytes)
	if err != nil {
		return k.statusAfter(ctx), err
	}
	if err := verifyCheck(root, rec.Fingerprint, rec.CheckValue); err != nil {
		return k.statusAfter(ctx), err
	}
	k.setRoot(root, rec.Fingerprint)
	if err := k.ensurePlatformKeys(ctx); err != nil {
		return k.statusAfter(ctx), err
	}
	return k.statusAfter(ctx), nil
}

// ResetShares forgets the shares given so far.
func (k *Keyring) ResetShares() {
	k.mu.Lock()
	k.pending = map[int]parsedShare{}
	k.mu.Unlock()
}

// VerifyShare reports whether text is a valid current share, without
// counting it (used to authorise sealing by a key holder).
func (k *Keyring) VerifyShare(ctx context.Context, text string) error {
	rec, err := k.db.Reader().RootKey(ctx)
	if err != nil {
		return err
	}
	if rec.Provider != ProviderShamir {
		return errors.New("keyring: this installation has no unseal shares")
	}
	p, err := parseShare(text)
	if err != nil {
		return err
	}
	if p.fingerprint != rec.Fingerprint || !verifyShare(p, rec.ShamirThreshold, rec.ShamirCommitments) {
		return fmt.Errorf("%w: it does not match this installation's key", ErrBadShare)
	}
	return nil
}

func (k *Keyring) statusAfter(ctx context.Context) Status {
	st, err := k.Status(ctx)
	if err != nil {
		k.mu.RLock()
		st = Status{Sealed: k.root == nil, Provider: k.provider, Progress: len(k.pending)}
		k.mu.RUnlock()
	}
	return st
}

func (k *Keyring) rootKey() (RootKey, string, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.root == nil {
		return nil, "", ErrSealed
	}
	return k.root, k.fingerprint, nil
}

func keysetAD(tenant, purpose string) []byte {
	return []byte("valv/keyset/v1/" + tenant + "/" + purpose)
}

func wrapHandle(root RootKey, h *keyset.Handle, tenant, purpose string) ([]byte, error) {
	var buf bytes.Buffer
	if err := h.WriteWithAssociatedData(keyset.NewBinaryWriter(&buf), root, keysetAD(tenant, purpose)); err != nil {
		return nil, fmt.Errorf("keyring: wrap %s keyset: %w", purpose, err)
	}
	return buf.Bytes(), nil
}

func unwrapHandle(root RootKey, blob []byte, tenant, purpose string) (*keyset.Handle, error) {
	h, err := keyset.ReadWithAssociatedData(keyset.NewBinaryReader(bytes.NewReader(blob)), root, keysetAD(tenant, purpose))
	if err != nil {
		return nil, fmt.Errorf("keyring: unwrap %s keyset of %s: %w", purpose, tenant, err)
	}
	return h, nil
}

func wrapKeysets(root RootKey, tenant string, ks seal.Keysets) (a, p, s []byte, err error) {
	if a, err = wrapHandle(root, ks.AEAD, tenant, "aead"); err != nil {
		return
	}
	if p, err = wrapHandle(root, ks.PRF, tenant, "prf"); err != nil {
		return
	}
	s, err = wrapHandle(root, ks.Stream, tenant, "stream")
	return
}

func unwrapKeysets(root RootKey, row store.KeysetRow) (seal.Keysets, error) {
	var ks seal.Keysets
	var err error
	if ks.AEAD, err = unwrapHandle(root, row.AEAD, row.TenantID, "aead"); err != nil {
		return ks, err
	}
	if ks.PRF, err = unwrapHandle(root, row.PRF, row.TenantID, "prf"); err != nil {
		return ks, err
	}
	ks.Stream, err = unwrapHandle(root, row.Stream, row.TenantID, "stream")
	return ks, err
}

func (k *Keyring) newKeysetRow(root RootKey, fp, tenant string) (store.KeysetRow, error) {
	row, _, err := k.newKeys(root, fp, tenant)
	return row, err
}

func (k *Keyring) newKeys(root RootKey, fp, tenant string) (store.KeysetRow, *seal.Sealer, error) {
	ks, err := seal.NewKeysets()
	if err != nil {
		return store.KeysetRow{}, nil, err
	}
	a, p, st, err := wrapKeysets(root, tenant, ks)
	if err != nil {
		return store.KeysetRow{}, nil, err
	}
	s, err := seal.New(tenant, ks)
	if err != nil {
		return store.KeysetRow{}, nil, err
	}
	now := k.now().UTC()
	return store.KeysetRow{TenantID: tenant, Version: 1, AEAD: a, PRF: p, Stream: st, RootFingerprint: fp, CreatedAt: now, RotatedAt: now}, s, nil
}

// NewTenantKeys makes fresh keysets for a new tenant, wrapped by the root
// key, and a sealer over them (to seal the tenant's first values). The
// caller stores the row (tx.InsertKeyset) in the same transaction that
// creates the tenant.
func (k *Keyring) NewTenantKeys(tenant string) (store.KeysetRow, *seal.Sealer, error) {
	root, fp, err := k.rootKey()
	if err != nil {
		return store.KeysetRow{}, nil, err
	}
	return k.newKeys(root, fp, tenant)
}

func (k *Keyring) ensurePlatformKeys(ctx context.Context) error {
	_, err := k.db.Reader().KeysetVersion(ctx, Platform)
	if err == nil {
		return nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	row, _, err := k.NewTenantKeys(Platform)
	if err != nil {
		return err
	}
	err = k.db.Write(ctx, func(tx *store.Tx) error { return tx.InsertKeyset(ctx, row) })
	if errors.Is(err, store.ErrConflict) {
		return nil
	}
	return err
}

// Sealer returns the sealer of a tenant (or Platform). Unwrapped keysets
// are cached; a cached one is used for CacheTTL before its version is
// checked again.
func (k *Keyring) Sealer(ctx context.Context, tenant string) (*seal.Sealer, error) {
	now := k.now()
	k.mu.RLock()
	if k.root == nil {
		k.mu.RUnlock()
		return nil, ErrSealed
	}
	c := k.cache[tenant]
	k.mu.RUnlock()
	if c != nil && now.Sub(c.checked) < k.ttl {
		return c.sealer, nil
	}
	if c != nil {
		v, err := k.db.Reader().KeysetVersion(ctx, tenant)
		if err == nil && v == c.version {
			k.mu.Lock()
			if k.cache[tenant] == c {
				k.cache[tenant] = &cached{sealer: c.sealer, version: v, checked: now}
			}
			k.mu.Unlock()
			return c.sealer, nil
		}
	}
	return k.load(ctx, tenant)
}

func (k *Keyring) load(ctx context.Context, tenant string) (*seal.Sealer, error) {
	root, fp, err := k.rootKey()
	if err != nil {
		return nil, err
	}
	row, err := k.db.Reader().Keyset(ctx, tenant)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNoKeyset
	}
	if err != nil {
		return nil, err
	}
	if !row.DestroyedAt.IsZero() {
		k.forget(tenant)
		return nil, ErrDestroyed
	}
	if row.RootFingerprint != fp {
		// The root key was replaced (rekeyed) by another node: this node's
		// key is stale. Seal, so that the key holders unseal with the new shares.
		k.log.Warn("root key changed on another node; sealing", "stored", row.RootFingerprint, "held", fp)
		k.Seal()
		return nil, ErrSealed
	}
	ks, err := unwrapKeysets(root, row)
	if err != nil {
		return nil, err
	}
	s, err := seal.New(tenant, ks)
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	if k.root != nil {
		k.cache[tenant] = &cached{sealer: s, version: row.Version, checked: k.now()}
	}
	k.mu.Unlock()
	return s, nil
}

func (k *Keyring) forget(tenant string) {
	k.mu.Lock()
	delete(k.cache, tenant)
	k.mu.Unlock()
}

// Destroy erases a tenant's key material: every value sealed for it becomes
// unreadable, everywhere, including in backups.
func (k *Keyring) Destroy(ctx context.Context, tenant string) error {
	if tenant == Platform {
		return errors.New("keyring: the platform keyset cannot be destroyed")
	}
	err := k.db.Write(ctx, func(tx *store.Tx) error { return tx.DestroyKeyset(ctx, tenant, k.now().UTC()) })
	k.forget(tenant)
	if errors.Is(err, store.ErrNotFound) {
		return ErrNoKeyset
	}
	return err
}
