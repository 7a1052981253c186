package seal

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/prf"
	"github.com/tink-crypto/tink-go/v2/streamingaead"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// FormatV1 is the first byte of every value sealed by this version.
const FormatV1 byte = 0x01

// Sizes of the v1 format: version byte, Tink's 5-byte output prefix (0x01
// and a 4-byte key id), 12-byte nonce, 16-byte tag.
const (
	prefixSize = 5
	nonceSize  = 12
	tagSize    = 16
	// Overhead is how many bytes sealing adds to a value.
	Overhead = 1 + prefixSize + nonceSize + tagSize
	// BlindIndexSize is the length of a blind index in bytes (128 bits:
	// collisions are negligible, and a shorter token reveals less).
	BlindIndexSize = 16
	// MaxLocationPart bounds each part of a Location (they are ids and names).
	MaxLocationPart = 256
)

var (
	// ErrTruncated means the input is too short to be a sealed value.
	ErrTruncated = errors.New("seal: ciphertext is truncated")
	// ErrFormat means the input does not start with a known format version.
	ErrFormat = errors.New("seal: unknown ciphertext format")
	// ErrOpen means the value could not be opened: it was changed, sealed
	// for another location, or sealed under a key this keyset does not hold.
	ErrOpen = errors.New("seal: ciphertext does not open (tampered, moved, or unknown key)")
)

// Location is where a sealed value lives; it is bound into the ciphertext.
type Location struct {
	Table string // "documents"
	Row   string // the row's id
	Field string // "data", "security_contact"
}

// Sealer seals and opens one tenant's values. It is safe for concurrent use.
type Sealer struct {
	tenant  string
	aead    tink.AEAD
	prf     *prf.Set
	stream  tink.StreamingAEAD
	primary uint32
	keyIDs  []uint32
}

// Keysets are the three keysets of one tenant, unwrapped.
type Keysets struct {
	AEAD   *keyset.Handle // AES-256-GCM, for values
	PRF    *keyset.Handle // HMAC-SHA256, for blind indexes; never rotated
	Stream *keyset.Handle // AES-256-GCM-HKDF 4 KiB segments, for files
}

// NewKeysets creates fresh keysets for a tenant.
func NewKeysets() (Keysets, error) {
	a, err := keyset.NewHandle(aead.AES256GCMKeyTemplate())
	if err != nil {
		return Keysets{}, fmt.Errorf("seal: new AEAD keyset: %w", err)
	}
	p, err := keyset.NewHandle(prf.HMACSHA256PRFKeyTemplate())
	if err != nil {
		return Keysets{}, fmt.Errorf("seal: new PRF keyset: %w", err)
	}
	s, err := keyset.NewHandle(streamingaead.AES256GCMHKDF4KBKeyTemplate())
	if err != nil {
		return Keysets{}, fmt.Errorf("seal: new streaming keyset: %w", err)
	}
	return Keysets{AEAD: a, PRF: p, Stream: s}, nil
}

// New returns a Sealer for tenant over its keysets.
func New(tenant string, ks Keysets) (*Sealer, error) {
	if tenant == "" || len(tenant) > MaxLocationPart {
		return nil, errors.New("seal: tenant id must be 1 to 256 bytes")
	}
	a, err := aead.New(ks.AEAD)
	if err != nil {
		return nil, fmt.Errorf("seal: AEAD primitive: %w", err)
	}
	p, err := prf.NewPRFSet(ks.PRF)
	if err != nil {
		return nil, fmt.Errorf("seal: PRF primitive: %w", err)
	}
	st, err := streamingaead.New(ks.Stream)
	if err != nil {
		return nil, fmt.Errorf("seal: streaming primitive: %w", err)
	}
	info := ks.AEAD.KeysetInfo()
	var ids []uint32
	for _, k := range info.GetKeyInfo() {
		ids = append(ids, k.GetKeyId())
	}
	return &Sealer{tenant: tenant, aead: a, prf: p, stream: st, primary: info.GetPrimaryKeyId(), keyIDs: ids}, nil
}

// Tenant is the tenant whose values this sealer handles.
func (s *Sealer) Tenant() string { return s.tenant }

// PrimaryKeyID is the id of the key new values are sealed with.
func (s *Sealer) PrimaryKeyID() uint32 { return s.primary }

// associatedData encodes the location unambiguously: a domain string, then
// each part with a two-byte length.
func (s *Sealer) associatedData(domain string, loc Location) ([]byte, error) {
	parts := [...]string{s.tenant, loc.Table, loc.Row, loc.Field}
	n := len(domain)
	for _, p := range parts {
		if p == "" || len(p) > MaxLocationPart {
			return nil, fmt.Errorf("seal: location part %q must be 1 to %d bytes", p, MaxLocationPart)
		}
		n += 2 + len(p)
	}
	ad := make([]byte, 0, n)
	ad = append(ad, domain...)
	for _, p := range parts {
		ad = binary.BigEndian.AppendUint16(ad, uint16(len(p))) // #nosec G115 -- every part was checked above: at most MaxLocationPart (256) bytes
		ad = append(ad, p...)
	}
	return ad, nil
}

const (
	valueDomain  = "valv/seal/v1"
	streamDomain = "valv/stream/v1"
	indexDomain  = "valv/blind-index/v1"
)

// Seal encrypts plaintext for loc.
func (s *Sealer) Seal(plaintext []byte, loc Location) ([]byte, error) {
	ad, err := s.associatedData(valueDomain, loc)
	if err != nil {
		return nil, err
	}
	ct, err := s.aead.Encrypt(plaintext, ad)
	if err != nil {
		return nil, fmt.Errorf("seal: encrypt: %w", err)
	}
	out := make([]byte, 0, 1+len(ct))
	out = append(out, FormatV1)
	return append(out, ct...), nil
}

// SealString is Seal for text.
func (s *Sealer) SealString(plaintext string, loc Location) ([]byte, error) {
	return s.Seal([]byte(plaintext), loc)
}

// Open decrypts a value sealed for loc.
func (s *Sealer) Open(ciphertext []byte, loc Location) ([]byte, error) {
	if len(ciphertext) < Overhead {
		return nil, ErrTruncated
	}
	if ciphertext[0] != FormatV1 {
		return nil, ErrFormat
	}
	ad, err := s.associatedData(valueDomain, loc)
	if err != nil {
		return nil, err
	}
	pt, err := s.aead.Decrypt(ciphertext[1:], ad)
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}

// OpenString is Open for text.
func (s *Sealer) OpenString(ciphertext []byte, loc Location) (string, error) {
	pt, err := s.Open(ciphertext, loc)
	return string(pt), err
}

// KeyID returns the id of the key a sealed value was sealed with, read from
// its header (without opening it).
func KeyID(ciphertext []byte) (uint32, error) {
	if len(ciphertext) < Overhead {
		return 0, ErrTruncated
	}
	if ciphertext[0] != FormatV1 {
		return 0, ErrFormat
	}
	if ciphertext[1] != 0x01 { // Tink's TINK output prefix
		return 0, ErrFormat
	}
	return binary.BigEndian.Uint32(ciphertext[2:6]), nil
}

// BlindIndex is a keyed, deterministic token for a normalised value of a
// kind ("personnummer", "email"): equal inputs give equal tokens within a
// tenant, different tenants get unrelated tokens, and the token reveals
// nothing about the value without the tenant's key.
func (s *Sealer) BlindIndex(kind, normalised string) ([]byte, error) {
	if kind == "" || len(kind) > MaxLocationPart {
		return nil, errors.New("seal: blind index kind must be 1 to 256 bytes")
	}
	var in bytes.Buffer
	in.Grow(len(indexDomain) + 4 + len(kind) + len(normalised))
	in.WriteString(indexDomain)
	_ = binary.Write(&in, binary.BigEndian, uint16(len(kind))) // #nosec G115 -- checked above: len(kind) <= MaxLocationPart (256)
	in.WriteString(kind)
	in.WriteString(normalised)
	out, err := s.prf.ComputePrimaryPRF(in.Bytes(), BlindIndexSize)
	if err != nil {
		return nil, fmt.Errorf("seal: blind index: %w", err)
	}
	return out, nil
}

// Token is a BlindIndex in hex, for keyed correlation ids in audit entries.
func (s *Sealer) Token(kind, value string) (string, error) {
	b, err := s.BlindIndex(kind, value)
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// EncryptStream returns a writer that seals everything written to it into
// w for loc; Close MUST be called to finish the stream.
func (s *Sealer) EncryptStream(w io.Writer, loc Location) (io.WriteCloser, error) {
	ad, err := s.associatedData(streamDomain, loc)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write([]byte{FormatV1}); err != nil {
		return nil, err
	}
	return s.stream.NewEncryptingWriter(w, ad)
}

// DecryptStream returns a reader of the plaintext of a stream sealed for
// loc. Reading fails with an error if any part was changed or the stream was
// cut short.
func (s *Sealer) DecryptStream(r io.Reader, loc Location) (io.Reader, error) {
	ad, err := s.associatedData(streamDomain, loc)
	if err != nil {
		return nil, err
	}
	var v [1]byte
	if _, err := io.ReadFull(r, v[:]); err != nil {
		return nil, ErrTruncated
	}
	if v[0] != FormatV1 {
		return nil, ErrFormat
	}
	dr, err := s.stream.NewDecryptingReader(r, ad)
	if err != nil {
		return nil, ErrOpen
	}
	return &streamReader{r: dr}, nil
}

// streamReader maps Tink's decryption errors to ErrOpen.
type streamReader struct{ r io.Reader }

func (s *streamReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		return n, fmt.Errorf("%w: %v", ErrOpen, err)
	}
	return n, err
}
