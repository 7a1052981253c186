package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// RootKeyRow is the public record of the root key.
type RootKeyRow struct {
	Provider          string
	Fingerprint       string
	CheckValue        []byte
	ShamirThreshold   int
	ShamirShares      int
	ShamirCommitments []byte
	CreatedAt         time.Time
	RotatedAt         time.Time
}

// RootKey returns the root key record, or ErrNotFound before initialisation.
func (t *Tx) RootKey(ctx context.Context) (RootKeyRow, error) {
	var r RootKeyRow
	var created, rotated int64
	err := t.queryRow(ctx, `SELECT provider, fingerprint, check_value, shamir_threshold, shamir_shares, shamir_commitments, created_at, rotated_at
		FROM root_key WHERE id = 1`, nil,
		&r.Provider, &r.Fingerprint, &r.CheckValue, &r.ShamirThreshold, &r.ShamirShares, &r.ShamirCommitments, &created, &rotated)
	r.CreatedAt, r.RotatedAt = fromMicros(created), fromMicros(rotated)
	return r, err
}

// InsertRootKey records the root key; a second record is ErrConflict.
func (t *Tx) InsertRootKey(ctx context.Context, r RootKeyRow) error {
	_, err := t.exec(ctx, `INSERT INTO root_key (id, provider, fingerprint, check_value, shamir_threshold, shamir_shares, shamir_commitments, created_at, rotated_at)
		VALUES (1, $1, $2, $3, $4, $5, $6, $7, $8)`,
		r.Provider, r.Fingerprint, r.CheckValue, r.ShamirThreshold, r.ShamirShares, r.ShamirCommitments, micros(r.CreatedAt), micros(r.RotatedAt))
	return err
}

// ReplaceRootKey updates the root key record after a rotation, but only if
// it still has the fingerprint the caller read (else ErrConflict).
func (t *Tx) ReplaceRootKey(ctx context.Context, oldFingerprint string, r RootKeyRow) error {
	err := t.execOne(ctx, `UPDATE root_key SET provider = $1, fingerprint = $2, check_value = $3, shamir_threshold = $4,
		shamir_shares = $5, shamir_commitments = $6, rotated_at = $7 WHERE id = 1 AND fingerprint = $8`,
		r.Provider, r.Fingerprint, r.CheckValue, r.ShamirThreshold, r.ShamirShares, r.ShamirCommitments, micros(r.RotatedAt), oldFingerprint)
	if err == ErrNotFound {
		return fmt.Errorf("%w: the root key changed meanwhile", ErrConflict)
	}
	return err
}

// KeysetRow is one tenant's wrapped keysets.
type KeysetRow struct {
	TenantID        string
	Version         int64
	AEAD            []byte
	PRF             []byte
	Stream          []byte
	RootFingerprint string
	CreatedAt       time.Time
	RotatedAt       time.Time
	DestroyedAt     time.Time
}

const keysetColumns = "tenant_id, version, aead, prf, stream, root_fingerprint, created_at, rotated_at, destroyed_at"

func scanKeyset(s interface{ Scan(...any) error }, r *KeysetRow) error {
	var created, rotated int64
	var destroyed sql.NullInt64
	if err := s.Scan(&r.TenantID, &r.Version, &r.AEAD, &r.PRF, &r.Stream, &r.RootFingerprint, &created, &rotated, &destroyed); err != nil {
		return err
	}
	r.CreatedAt, r.RotatedAt = fromMicros(created), fromMicros(rotated)
	if destroyed.Valid {
		r.DestroyedAt = fromMicros(destroyed.Int64)
	}
	return nil
}

// InsertKeyset stores a new tenant's keysets.
func (t *Tx) InsertKeyset(ctx context.Context, r KeysetRow) error {
	_, err := t.exec(ctx, `INSERT INTO keysets (`+keysetColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL)`,
		r.TenantID, r.Version, r.AEAD, r.PRF, r.Stream, r.RootFingerprint, micros(r.CreatedAt), micros(r.RotatedAt))
	return err
}

// Keyset returns one tenant's keysets.
func (t *Tx) Keyset(ctx context.Context, tenantID string) (KeysetRow, error) {
	var r KeysetRow
	row := t.row(ctx, `SELECT `+keysetColumns+` FROM keysets WHERE tenant_id = $1`, tenantID)
	if err := scanKeyset(row, &r); err != nil {
		return KeysetRow{}, classify(err)
	}
	return r, nil
}

// KeysetVersion returns the version of a tenant's keysets (cheap; for cache checks).
func (t *Tx) KeysetVersion(ctx context.Context, tenantID string) (int64, error) {
	var v int64
	err := t.queryRow(ctx, `SELECT version FROM keysets WHERE tenant_id = $1`, []any{tenantID}, &v)
	return v, err
}

// Keysets lists all keysets, ordered by tenant id.
func (t *Tx) Keysets(ctx context.Context) ([]KeysetRow, error) {
	var out []KeysetRow
	err := scanRows(ctx, t, func(rows *sql.Rows) error {
		var r KeysetRow
		if err := scanKeyset(rows, &r); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	}, `SELECT `+keysetColumns+` FROM keysets ORDER BY tenant_id`)
	return out, err
}

// UpdateKeyset replaces a tenant's keysets if the stored version is still
// r.Version-1 (optimistic concurrency; else ErrConflict).
func (t *Tx) UpdateKeyset(ctx context.Context, r KeysetRow) error {
	err := t.execOne(ctx, `UPDATE keysets SET version = $1, aead = $2, prf = $3, stream = $4, root_fingerprint = $5, rotated_at = $6
		WHERE tenant_id = $7 AND version = $8 AND destroyed_at IS NULL`,
		r.Version, r.AEAD, r.PRF, r.Stream, r.RootFingerprint, micros(r.RotatedAt), r.TenantID, r.Version-1)
	if err == ErrNotFound {
		return fmt.Errorf("%w: keyset of %s changed meanwhile or is destroyed", ErrConflict, r.TenantID)
	}
	return err
}

// DestroyKeyset erases a tenant's key material. Every value sealed under it
// becomes unreadable.
func (t *Tx) DestroyKeyset(ctx context.Context, tenantID string, now time.Time) error {
	return t.execOne(ctx, `UPDATE keysets SET version = version + 1, aead = $1, prf = $1, stream = $1, destroyed_at = $2
		WHERE tenant_id = $3 AND destroyed_at IS NULL`, []byte{}, micros(now), tenantID)
}
