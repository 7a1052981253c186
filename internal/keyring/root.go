package keyring

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/tink-crypto/tink-go/v2/aead/aesgcm"
	"github.com/tink-crypto/tink-go/v2/insecuresecretdataaccess"
	"github.com/tink-crypto/tink-go/v2/secretdata"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// RootKey is the key at the top of the hierarchy. An implementation keeps
// the key where it lives (memory, an HSM) and only encrypts and decrypts
// small values — tenant keysets and the check value — with it.
type RootKey interface {
	Encrypt(plaintext, associatedData []byte) ([]byte, error)
	Decrypt(ciphertext, associatedData []byte) ([]byte, error)
}

var _ RootKey = tink.AEAD(nil)

// RootKeySize is the size of a software root key in bytes (AES-256).
const RootKeySize = 32

// Provider names, as stored in the root key record and in configuration.
const (
	ProviderFile   = "file"
	ProviderShamir = "shamir"
	ProviderPKCS11 = "pkcs11"
)

// memoryRoot is a root key held in process memory, used through Tink's
// AES-256-GCM with no output prefix (the root key is a single key, so a key
// id would add nothing).
type memoryRoot struct {
	aead tink.AEAD
}

// NewMemoryRoot makes a RootKey from 32 secret bytes.
func NewMemoryRoot(key []byte) (RootKey, error) {
	if len(key) != RootKeySize {
		return nil, fmt.Errorf("keyring: a root key is %d bytes, not %d", RootKeySize, len(key))
	}
	params, err := aesgcm.NewParameters(aesgcm.ParametersOpts{
		KeySizeInBytes: RootKeySize, IVSizeInBytes: 12, TagSizeInBytes: 16, Variant: aesgcm.VariantNoPrefix,
	})
	if err != nil {
		return nil, err
	}
	k, err := aesgcm.NewKey(secretdata.NewBytesFromData(key, insecuresecretdataaccess.Token{}), 0, params)
	if err != nil {
		return nil, err
	}
	a, err := aesgcm.NewAEAD(k)
	if err != nil {
		return nil, err
	}
	return &memoryRoot{aead: a}, nil
}

func (m *memoryRoot) Encrypt(pt, ad []byte) ([]byte, error) { return m.aead.Encrypt(pt, ad) }
func (m *memoryRoot) Decrypt(ct, ad []byte) ([]byte, error) { return m.aead.Decrypt(ct, ad) }

// String keeps the key out of fmt output.
func (m *memoryRoot) String() string { return "keyring.RootKey(memory)" }

// newFingerprint is a random public id for a root key generation. It is
// stored in the clear and bound into the check value; it says nothing
// about the key.
func newFingerprint() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// checkPlaintext is what the check value holds; only the right root key
// opens it (AES-GCM authenticates), so it tells a wrong key from the right
// one without revealing anything.
const checkPlaintext = "valv root key check v1"

func checkAD(fingerprint string) []byte { return []byte("valv/root-check/v1/" + fingerprint) }

func makeCheck(root RootKey, fingerprint string) ([]byte, error) {
	return root.Encrypt([]byte(checkPlaintext), checkAD(fingerprint))
}

func verifyCheck(root RootKey, fingerprint string, check []byte) error {
	pt, err := root.Decrypt(check, checkAD(fingerprint))
	if err != nil || string(pt) != checkPlaintext {
		return ErrWrongRootKey
	}
	return nil
}

// ErrWrongRootKey means a root key does not belong to this installation.
var ErrWrongRootKey = errors.New("keyring: the root key does not belong to this installation's data")
