package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
)

// tokenBytes is the entropy of tokens (sessions, links, challenges): 256 bits.
const tokenBytes = 32

// newToken returns a random token and the hash under which it is stored.
// The token is high-entropy, so a plain SHA-256 is enough: it cannot be
// guessed from its hash, and looking it up needs no slow hash.
func newToken() (token string, id []byte) {
	b := make([]byte, tokenBytes)
	_, _ = rand.Read(b)
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, hashToken(token)
}

func hashToken(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// validTokenForm rejects input that cannot be a token before any lookup.
func validTokenForm(token string) bool {
	if len(token) != base64.RawURLEncoding.EncodedLen(tokenBytes) {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(token)
	return err == nil
}

// publicID is a short random id shown to users (session ids).
func publicID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
