//go:build pkcs11

package hsm

import (
	"crypto/rand"
	"errors"
	"fmt"
	"sync"

	"github.com/miekg/pkcs11"
)

// Options selects the module, token and key.
type Options struct {
	Module     string // path of the PKCS#11 module
	TokenLabel string
	PIN        string
	KeyLabel   string
	// Create generates the key in the token when it is missing.
	Create bool
}

const (
	nonceSize = 12
	tagBits   = 128
)

// Key is a root key inside an HSM. It is safe for concurrent use (one
// session, serialised: PKCS#11 sessions are not thread-safe).
type Key struct {
	mu      sync.Mutex
	ctx     *pkcs11.Ctx
	session pkcs11.SessionHandle
	key     pkcs11.ObjectHandle
}

// Open logs in to the token and finds (or, with Create, generates) the key.
func Open(o Options) (*Key, error) {
	c := pkcs11.New(o.Module)
	if c == nil {
		return nil, fmt.Errorf("hsm: cannot load PKCS#11 module %s", o.Module)
	}
	if err := c.Initialize(); err != nil && !errors.Is(err, pkcs11.Error(pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED)) {
		c.Destroy()
		return nil, fmt.Errorf("hsm: initialise module: %w", err)
	}
	k := &Key{ctx: c}
	fail := func(err error) (*Key, error) {
		k.Close()
		return nil, err
	}
	slot, err := findSlot(c, o.TokenLabel)
	if err != nil {
		return fail(err)
	}
	if k.session, err = c.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION); err != nil {
		return fail(fmt.Errorf("hsm: open session: %w", err))
	}
	if err := c.Login(k.session, pkcs11.CKU_USER, o.PIN); err != nil && !errors.Is(err, pkcs11.Error(pkcs11.CKR_USER_ALREADY_LOGGED_IN)) {
		return fail(fmt.Errorf("hsm: log in to token %q: %w (check keys.pkcs11.pin)", o.TokenLabel, err))
	}
	if k.key, err = findKey(c, k.session, o.KeyLabel); err != nil {
		if !o.Create || !errors.Is(err, errNoKey) {
			return fail(err)
		}
		if k.key, err = generateKey(c, k.session, o.KeyLabel); err != nil {
			return fail(err)
		}
	}
	return k, nil
}

// findSlot finds the slot whose token has the label (SoftHSM moves a token
// to a random slot when it is initialised, so slots are found by label).
func findSlot(c *pkcs11.Ctx, label string) (uint, error) {
	slots, err := c.GetSlotList(true)
	if err != nil {
		return 0, fmt.Errorf("hsm: list slots: %w", err)
	}
	for _, s := range slots {
		ti, err := c.GetTokenInfo(s)
		if err == nil && ti.Label == label {
			return s, nil
		}
	}
	return 0, fmt.Errorf("hsm: no token labelled %q (check keys.pkcs11.token_label)", label)
}

var errNoKey = errors.New("hsm: no root key in the token")

func findKey(c *pkcs11.Ctx, s pkcs11.SessionHandle, label string) (pkcs11.ObjectHandle, error) {
	tmpl := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
	}
	if err := c.FindObjectsInit(s, tmpl); err != nil {
		return 0, fmt.Errorf("hsm: find key: %w", err)
	}
	objs, _, err := c.FindObjects(s, 2)
	_ = c.FindObjectsFinal(s)
	if err != nil {
		return 0, fmt.Errorf("hsm: find key: %w", err)
	}
	switch len(objs) {
	case 0:
		return 0, fmt.Errorf("%w labelled %q", errNoKey, label)
	case 1:
		return objs[0], nil
	}
	return 0, fmt.Errorf("hsm: more than one key labelled %q", label)
}

func generateKey(c *pkcs11.Ctx, s pkcs11.SessionHandle, label string) (pkcs11.ObjectHandle, error) {
	h, err := c.GenerateKey(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_GEN, nil)}, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, 32),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
		pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, true),
		pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, true),
	})
	if err != nil {
		return 0, fmt.Errorf("hsm: generate root key: %w", err)
	}
	return h, nil
}

// Encrypt seals plaintext with AES-256-GCM inside the module. The nonce is
// random (crypto/rand) and prepended: nonce || ciphertext || tag.
func (k *Key) Encrypt(plaintext, ad []byte) ([]byte, error) {
	nonce := make([]byte, nonceSize)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	params := pkcs11.NewGCMParams(nonce, ad, tagBits)
	defer params.Free()
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.ctx.EncryptInit(k.session, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_GCM, params)}, k.key); err != nil {
		return nil, fmt.Errorf("hsm: encrypt: %w", err)
	}
	ct, err := k.ctx.Encrypt(k.session, plaintext)
	if err != nil {
		return nil, fmt.Errorf("hsm: encrypt: %w", err)
	}
	return append(nonce, ct...), nil
}

// Decrypt opens what Encrypt sealed; a changed byte or different ad fails.
func (k *Key) Decrypt(ciphertext, ad []byte) ([]byte, error) {
	if len(ciphertext) < nonceSize+tagBits/8 {
		return nil, errors.New("hsm: ciphertext too short")
	}
	params := pkcs11.NewGCMParams(ciphertext[:nonceSize], ad, tagBits)
	defer params.Free()
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.ctx.DecryptInit(k.session, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_GCM, params)}, k.key); err != nil {
		return nil, fmt.Errorf("hsm: decrypt: %w", err)
	}
	pt, err := k.ctx.Decrypt(k.session, ciphertext[nonceSize:])
	if err != nil {
		return nil, errors.New("hsm: decrypt: authentication failed")
	}
	return pt, nil
}

// Close closes the session. It neither logs out nor finalises the module:
// in PKCS#11 both act on the whole process, and would break other open
// Keys; closing the last session logs the process out.
func (k *Key) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.ctx == nil {
		return nil
	}
	if k.session != 0 {
		_ = k.ctx.CloseSession(k.session)
	}
	k.ctx = nil
	return nil
}

// String keeps the handle out of logs.
func (k *Key) String() string { return "hsm.Key" }
