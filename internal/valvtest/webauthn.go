package valvtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
)

// Authenticator is a software WebAuthn authenticator for protocol-level
// tests: it makes "none" attestations and ES256 assertions the way a
// platform authenticator does, with user presence and verification. One
// Authenticator holds one credential.
type Authenticator struct {
	Origin     string
	key        *ecdsa.PrivateKey
	credID     []byte
	userHandle []byte
	rpID       string
	signCount  uint32
}

// NewAuthenticator returns an authenticator for pages at origin
// (https://localhost:8443).
func NewAuthenticator(origin string) *Authenticator {
	return &Authenticator{Origin: origin}
}

var b64 = base64.RawURLEncoding

// CredentialID is the credential's id, once registered.
func (a *Authenticator) CredentialID() []byte { return a.credID }

type creationOptions struct {
	PublicKey struct {
		Challenge string `json:"challenge"`
		RP        struct {
			ID string `json:"id"`
		} `json:"rp"`
		User struct {
			ID string `json:"id"`
		} `json:"user"`
	} `json:"publicKey"`
}

// Create answers navigator.credentials.create() options (the JSON a
// relying party sends) with a new credential, as JSON for the relying party.
func (a *Authenticator) Create(options []byte) ([]byte, error) {
	var o creationOptions
	if err := json.Unmarshal(options, &o); err != nil {
		return nil, err
	}
	if o.PublicKey.Challenge == "" || o.PublicKey.RP.ID == "" {
		return nil, errors.New("webauthn: options lack challenge or rp.id")
	}
	var err error
	if a.key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return nil, err
	}
	a.credID = make([]byte, 32)
	_, _ = rand.Read(a.credID)
	if a.userHandle, err = b64.DecodeString(o.PublicKey.User.ID); err != nil {
		return nil, fmt.Errorf("webauthn: user id: %w", err)
	}
	a.rpID = o.PublicKey.RP.ID
	cdj, _ := json.Marshal(map[string]any{"type": "webauthn.create", "challenge": o.PublicKey.Challenge, "origin": a.Origin, "crossOrigin": false})
	point, err := a.key.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		return nil, err
	}
	x, y := point[1:33], point[33:65]
	// COSE_Key: {1: 2 (EC2), 3: -7 (ES256), -1: 1 (P-256), -2: x, -3: y}
	cose := cborMap([][2][]byte{
		{cborInt(1), cborInt(2)}, {cborInt(3), cborInt(-7)}, {cborInt(-1), cborInt(1)},
		{cborInt(-2), cborBytes(x)}, {cborInt(-3), cborBytes(y)},
	})
	auth := a.authData(0x45)                                          // UP | UV | AT
	auth = append(auth, make([]byte, 16)...)                          // AAGUID
	auth = binary.BigEndian.AppendUint16(auth, uint16(len(a.credID))) // #nosec G115 -- credID is always 32 bytes (made just above)
	auth = append(auth, a.credID...)
	auth = append(auth, cose...)
	att := cborMap([][2][]byte{
		{cborText("fmt"), cborText("none")},
		{cborText("attStmt"), cborMap(nil)},
		{cborText("authData"), cborBytes(auth)},
	})
	return json.Marshal(map[string]any{
		"id": b64.EncodeToString(a.credID), "rawId": b64.EncodeToString(a.credID), "type": "public-key",
		"response": map[string]any{"clientDataJSON": b64.EncodeToString(cdj), "attestationObject": b64.EncodeToString(att)},
	})
}

type requestOptions struct {
	PublicKey struct {
		Challenge string `json:"challenge"`
		RPID      string `json:"rpId"`
	} `json:"publicKey"`
}

// Get answers navigator.credentials.get() options with an assertion.
func (a *Authenticator) Get(options []byte) ([]byte, error) {
	if a.key == nil {
		return nil, errors.New("webauthn: no credential")
	}
	var o requestOptions
	if err := json.Unmarshal(options, &o); err != nil {
		return nil, err
	}
	cdj, _ := json.Marshal(map[string]any{"type": "webauthn.get", "challenge": o.PublicKey.Challenge, "origin": a.Origin, "crossOrigin": false})
	a.signCount++
	auth := a.authData(0x05) // UP | UV
	h := sha256.Sum256(cdj)
	digest := sha256.Sum256(append(append([]byte{}, auth...), h[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, a.key, digest[:])
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{
		"id": b64.EncodeToString(a.credID), "rawId": b64.EncodeToString(a.credID), "type": "public-key",
		"response": map[string]any{
			"clientDataJSON":    b64.EncodeToString(cdj),
			"authenticatorData": b64.EncodeToString(auth),
			"signature":         b64.EncodeToString(sig),
			"userHandle":        b64.EncodeToString(a.userHandle),
		},
	})
}

// RollBack makes the next assertion reuse an old counter, as a cloned
// authenticator would.
func (a *Authenticator) RollBack() { a.signCount = 0 }

func (a *Authenticator) authData(flags byte) []byte {
	h := sha256.Sum256([]byte(a.rpID))
	out := append([]byte{}, h[:]...)
	out = append(out, flags)
	return binary.BigEndian.AppendUint32(out, a.signCount)
}

// A minimal CBOR encoder for the few shapes WebAuthn needs.

func cborHead(major byte, n uint64) []byte {
	switch {
	case n < 24:
		return []byte{major<<5 | byte(n)}
	case n < 256:
		return []byte{major<<5 | 24, byte(n)}
	case n < 65536:
		return binary.BigEndian.AppendUint16([]byte{major<<5 | 25}, uint16(n))
	case n <= math.MaxUint32:
		return binary.BigEndian.AppendUint32([]byte{major<<5 | 26}, uint32(n))
	default:
		return binary.BigEndian.AppendUint64([]byte{major<<5 | 27}, n)
	}
}

func cborInt(v int) []byte {
	if v >= 0 {
		return cborHead(0, uint64(v))
	}
	return cborHead(1, uint64(-1-v))
}

func cborBytes(b []byte) []byte { return append(cborHead(2, uint64(len(b))), b...) }
func cborText(s string) []byte  { return append(cborHead(3, uint64(len(s))), s...) }

func cborMap(pairs [][2][]byte) []byte {
	out := cborHead(5, uint64(len(pairs)))
	for _, p := range pairs {
		out = append(out, p[0]...)
		out = append(out, p[1]...)
	}
	return out
}
