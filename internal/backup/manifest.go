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
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/valvhq/valv/internal/keyring"
	"github.com/valvhq/valv/internal/store"
)

// FormatVersion names the backup format this build writes and reads.
const FormatVersion = "valv.backup/v1"

// Object names on a target.
const (
	backupsPrefix = "backups/"
	ledgerPrefix  = "ledger/"
	manifestName  = "manifest.json"
)

func manifestKey(id string) string { return backupsPrefix + id + "/" + manifestName }
func chunkKey(id string, index int) string {
	return fmt.Sprintf("%s%s/chunks/%06d", backupsPrefix, id, index)
}

// Manifest describes one backup. It is stored in the clear beside the
// chunks (it holds no personal data) and authenticated with the backup key.
type Manifest struct {
	Format    string    `json:"format"`
	ID        string    `json:"id"`
	CreatedAt time.Time `json:"created_at"` // when the snapshot was taken
	Engine    string    `json:"engine"`     // the engine it was read from
	Schema    int64     `json:"schema_version"`
	Version   string    `json:"valv_version"`
	// Environment is the environment of the installation the backup is of
	// (ENV-1): a restore into another environment is refused. Empty in
	// backups made before it was recorded.
	Environment string `json:"environment,omitempty"`
	// RootKey is the public part of the root key record the backup key is
	// wrapped with: enough to check a key file or shares, nothing more.
	RootKey    RootKeyInfo  `json:"root_key"`
	WrappedKey []byte       `json:"wrapped_key"`
	Chunks     []ChunkInfo  `json:"chunks"`
	Tables     []TableCount `json:"tables"`
	// PlainBytes is the size of the data stream before compression.
	PlainBytes int64 `json:"plain_bytes"`
	// LedgerHead is the newest erasure ledger entry in the snapshot.
	LedgerHead string `json:"ledger_head,omitempty"`
	// Auth authenticates everything above with the backup key.
	Auth []byte `json:"auth,omitempty"`
}

// ChunkInfo is one stored chunk.
type ChunkInfo struct {
	Index  int    `json:"index"`
	Size   int64  `json:"size"`   // stored (encrypted) bytes
	Plain  int64  `json:"plain"`  // bytes of the data stream it holds
	SHA256 string `json:"sha256"` // of the stored bytes
}

// TableCount is how many rows of a table the backup holds.
type TableCount struct {
	Name string `json:"name"`
	Rows int64  `json:"rows"`
}

// RootKeyInfo is the public part of a root key record.
type RootKeyInfo struct {
	Provider    string `json:"provider"`
	Fingerprint string `json:"fingerprint"`
	Check       []byte `json:"check"`
	Threshold   int    `json:"threshold,omitempty"`
	Shares      int    `json:"shares,omitempty"`
	Commitments []byte `json:"commitments,omitempty"`
}

func rootInfo(r store.RootKeyRow) RootKeyInfo {
	return RootKeyInfo{Provider: r.Provider, Fingerprint: r.Fingerprint, Check: r.CheckValue,
		Threshold: r.ShamirThreshold, Shares: r.ShamirShares, Commitments: r.ShamirCommitments}
}

// Record is the root key record the info describes (for checking a root
// key or shares against it).
func (i RootKeyInfo) Record() store.RootKeyRow {
	return store.RootKeyRow{Provider: i.Provider, Fingerprint: i.Fingerprint, CheckValue: i.Check,
		ShamirThreshold: i.Threshold, ShamirShares: i.Shares, ShamirCommitments: i.Commitments}
}

// Rows is the total row count.
func (m *Manifest) Rows() int64 {
	var n int64
	for _, t := range m.Tables {
		n += t.Rows
	}
	return n
}

// StoredBytes is the total size of the chunks.
func (m *Manifest) StoredBytes() int64 {
	var n int64
	for _, c := range m.Chunks {
		n += c.Size
	}
	return n
}

func manifestAD(id string) []byte { return []byte("valv/backup-manifest/v1/" + id) }

func (m *Manifest) digest() ([]byte, error) {
	c := *m
	c.Auth = nil
	b, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(b)
	return sum[:], nil
}

func (m *Manifest) seal(c *cipher) error {
	d, err := m.digest()
	if err != nil {
		return err
	}
	m.Auth, err = c.aead.Encrypt(d, manifestAD(m.ID))
	return err
}

func (m *Manifest) checkAuth(c *cipher) error {
	d, err := m.digest()
	if err != nil {
		return err
	}
	got, err := c.aead.Decrypt(m.Auth, manifestAD(m.ID))
	if err != nil || !bytes.Equal(got, d) {
		return errors.New("backup: the manifest was changed after the backup was written")
	}
	return nil
}

// maxManifestSize bounds what a manifest read accepts.
const maxManifestSize = 64 << 20

// ReadManifest reads and parses a backup's manifest from a target. It
// checks the shape, not the authenticity (that needs the key: Open).
func ReadManifest(ctx context.Context, t Target, id string) (*Manifest, error) {
	if !validID(id) {
		return nil, fmt.Errorf("backup: %q is not a backup id", id)
	}
	rc, err := t.Get(ctx, manifestKey(id))
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxManifestSize+1))
	if err != nil {
		return nil, fmt.Errorf("backup: read manifest of %s on %s: %w", id, t.Name(), err)
	}
	if len(b) > maxManifestSize {
		return nil, fmt.Errorf("backup: the manifest of %s on %s is too large", id, t.Name())
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("backup: the manifest of %s on %s is not valid JSON: %w", id, t.Name(), err)
	}
	if m.Format != FormatVersion {
		return nil, fmt.Errorf("backup: %s on %s has format %q; this Valv reads %s", id, t.Name(), m.Format, FormatVersion)
	}
	if m.ID != id {
		return nil, fmt.Errorf("backup: the manifest under %s on %s is for backup %s", id, t.Name(), m.ID)
	}
	for i, c := range m.Chunks {
		if c.Index != i || c.Size <= 0 || len(c.SHA256) != 64 {
			return nil, fmt.Errorf("backup: the manifest of %s on %s lists a malformed chunk %d", id, t.Name(), i)
		}
	}
	return &m, nil
}

// newID makes a backup id: the snapshot time and a random suffix, so ids
// sort by time and are readable in a target listing.
func newID(at time.Time) string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return at.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b)
}

// validID reports whether id has newID's shape.
func validID(id string) bool {
	ts, suffix, ok := strings.Cut(id, "-")
	if !ok || len(suffix) != 6 {
		return false
	}
	if _, err := hex.DecodeString(suffix); err != nil {
		return false
	}
	_, err := time.Parse("20060102T150405Z", ts)
	return err == nil
}

// idTime is the snapshot time an id names.
func idTime(id string) time.Time {
	ts, _, _ := strings.Cut(id, "-")
	t, _ := time.Parse("20060102T150405Z", ts)
	return t
}

// cipher seals and opens a backup's chunks: zstd, then AES-256-GCM (Tink)
// under the backup key with the backup id and chunk index as associated
// data, so a chunk moved to another place or backup does not open.
type cipher struct {
	id   string
	aead keyring.RootKey
	enc  *zstd.Encoder
	dec  *zstd.Decoder
}

func newCipher(id string, key []byte) (*cipher, error) {
	a, err := keyring.NewMemoryRoot(key)
	if err != nil {
		return nil, err
	}
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
	if err != nil {
		return nil, err
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(2*maxChunk))
	if err != nil {
		return nil, err
	}
	return &cipher{id: id, aead: a, enc: enc, dec: dec}, nil
}

func (c *cipher) close() { c.dec.Close() }

func (c *cipher) chunkAD(index int) []byte {
	return fmt.Appendf(nil, "valv/backup-chunk/v1/%s/%d", c.id, index)
}

func (c *cipher) seal(index int, plain []byte) ([]byte, error) {
	z := c.enc.EncodeAll(plain, make([]byte, 0, len(plain)/2+64))
	return c.aead.Encrypt(z, c.chunkAD(index))
}

func (c *cipher) open(index int, sealed []byte) ([]byte, error) {
	z, err := c.aead.Decrypt(sealed, c.chunkAD(index))
	if err != nil {
		return nil, errors.New("does not decrypt (wrong key, or changed)")
	}
	plain, err := c.dec.DecodeAll(z, nil)
	if err != nil {
		return nil, fmt.Errorf("does not decompress: %w", err)
	}
	return plain, nil
}

// Open checks a manifest's authenticity with the root key and returns its
// chunk cipher.
func openManifest(m *Manifest, root keyring.RootKey) (*cipher, error) {
	rec := m.RootKey.Record()
	if err := keyring.CheckRoot(rec, root); err != nil {
		return nil, fmt.Errorf("backup %s was made under root key %s: %w", m.ID, rec.Fingerprint, err)
	}
	key, err := keyring.UnwrapBackupKey(root, rec, m.ID, m.WrappedKey)
	if err != nil {
		return nil, err
	}
	defer clear(key)
	c, err := newCipher(m.ID, key)
	if err != nil {
		return nil, err
	}
	if err := m.checkAuth(c); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}
