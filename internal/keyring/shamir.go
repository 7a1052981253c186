package keyring

import (
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/cloudflare/circl/group"
	"github.com/cloudflare/circl/secretsharing"
)

// The Shamir provider splits a random secret into N shares, any K of which
// recover it (circl's secret sharing over the Ristretto255 scalar field).
// The root key is HKDF-SHA256 of the secret; it is never written anywhere.
// Feldman commitments to the sharing polynomial are stored with the root key
// record, so each share can be verified on its own when it is given: a
// wrong or foreign share is rejected and does not count towards K.

// MaxShares bounds N (and so K).
const MaxShares = 16

var shareGroup = group.Ristretto255

const shareVersion = "valv1"

// ErrBadShare means a share is malformed, mistyped, or not one of this
// installation's current shares.
var ErrBadShare = errors.New("keyring: invalid unseal share")

// shamirSplit makes a new secret, its root key, n shares with threshold k,
// and the commitments to verify them. fingerprint names the root key
// generation and is written into each share.
func shamirSplit(n, k int, fingerprint string) (root []byte, shares []string, commitments []byte, err error) {
	if k < 1 || n < k || n > MaxShares {
		return nil, nil, nil, fmt.Errorf("keyring: key shares must be 1 to %d and the threshold 1 to the number of shares (got %d of %d)", MaxShares, k, n)
	}
	secret := shareGroup.RandomScalar(rand.Reader)
	ss := secretsharing.New(rand.Reader, uint(k-1), secret)
	root, err = deriveRoot(secret)
	if err != nil {
		return nil, nil, nil, err
	}
	for _, c := range ss.CommitSecret() {
		b, err := c.MarshalBinaryCompress()
		if err != nil {
			return nil, nil, nil, err
		}
		commitments = append(commitments, b...)
	}
	for i, s := range ss.Share(uint(n)) {
		v, err := s.Value.MarshalBinary()
		if err != nil {
			return nil, nil, nil, err
		}
		shares = append(shares, encodeShare(fingerprint, i+1, v))
	}
	return root, shares, commitments, nil
}

func deriveRoot(secret group.Scalar) ([]byte, error) {
	b, err := secret.MarshalBinary()
	if err != nil {
		return nil, err
	}
	return hkdf.Key(sha256.New, b, nil, "valv root key v1", RootKeySize)
}

func encodeShare(fingerprint string, index int, value []byte) string {
	body := shareVersion + "." + fingerprint + "." + strconv.Itoa(index) + "." + base64.RawURLEncoding.EncodeToString(value)
	return body + "." + shareChecksum(body)
}

func shareChecksum(body string) string {
	sum := sha256.Sum256([]byte(body))
	return hex.EncodeToString(sum[:4])
}

// parsedShare is a share taken apart.
type parsedShare struct {
	fingerprint string
	index       int
	share       secretsharing.Share
}

// parseShare checks a share's form and checksum. It does not yet know
// whether the share belongs to this installation.
func parseShare(text string) (parsedShare, error) {
	text = strings.TrimSpace(text)
	if len(text) > 200 {
		return parsedShare{}, fmt.Errorf("%w: too long", ErrBadShare)
	}
	parts := strings.Split(text, ".")
	if len(parts) != 5 || parts[0] != shareVersion {
		return parsedShare{}, fmt.Errorf("%w: not a Valv unseal share", ErrBadShare)
	}
	body := strings.Join(parts[:4], ".")
	if shareChecksum(body) != parts[4] {
		return parsedShare{}, fmt.Errorf("%w: checksum mismatch (mistyped?)", ErrBadShare)
	}
	idx, err := strconv.Atoi(parts[2])
	if err != nil || idx < 1 || idx > MaxShares {
		return parsedShare{}, fmt.Errorf("%w: bad share number", ErrBadShare)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[3])
	if err != nil {
		return parsedShare{}, fmt.Errorf("%w: bad encoding", ErrBadShare)
	}
	v := shareGroup.NewScalar()
	if err := v.UnmarshalBinary(raw); err != nil {
		return parsedShare{}, fmt.Errorf("%w: bad value", ErrBadShare)
	}
	id := shareGroup.NewScalar()
	id.SetUint64(uint64(idx))
	return parsedShare{fingerprint: parts[1], index: idx, share: secretsharing.Share{ID: id, Value: v}}, nil
}

// verifyShare checks a parsed share against the installation's commitments.
func verifyShare(p parsedShare, threshold int, commitments []byte) bool {
	cs, err := decodeCommitments(commitments)
	if err != nil || len(cs) != threshold {
		return false
	}
	return secretsharing.Verify(uint(threshold-1), p.share, cs)
}

func decodeCommitments(b []byte) (secretsharing.SecretCommitment, error) {
	size := int(shareGroup.Params().CompressedElementLength)
	if size == 0 || len(b)%size != 0 {
		return nil, errors.New("keyring: corrupt share commitments")
	}
	var out secretsharing.SecretCommitment
	for i := 0; i < len(b); i += size {
		e := shareGroup.NewElement()
		if err := e.UnmarshalBinary(b[i : i+size]); err != nil {
			return nil, errors.New("keyring: corrupt share commitments")
		}
		out = append(out, e)
	}
	return out, nil
}

// shamirRecover recovers the root key from threshold verified shares.
func shamirRecover(threshold int, shares []parsedShare) ([]byte, error) {
	if len(shares) < threshold {
		return nil, fmt.Errorf("keyring: %d of %d shares given", len(shares), threshold)
	}
	ss := make([]secretsharing.Share, 0, threshold)
	for _, p := range shares[:threshold] {
		ss = append(ss, p.share)
	}
	secret, err := secretsharing.Recover(uint(threshold-1), ss)
	if err != nil {
		return nil, fmt.Errorf("keyring: recover root key: %w", err)
	}
	return deriveRoot(secret)
}
