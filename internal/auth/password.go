package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
	"golang.org/x/text/unicode/norm"

	"github.com/valvhq/valv/internal/problem"
)

// Password policy (NIST SP 800-63B): length limits and a check against
// common passwords; no composition rules.
const (
	MinPasswordLength = 12
	MaxPasswordLength = 256
)

// Params are argon2id parameters. They are stored with each hash, so they
// can be raised later: a hash made with weaker parameters is re-hashed at
// the next successful login.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
}

// DefaultParams are OWASP's argon2id minimum (m=19 MiB, t=2, p=1): about
// 20–40 ms on this class of machine.
var DefaultParams = Params{Memory: 19456, Time: 2, Threads: 1}

const (
	saltSize = 16
	hashSize = 32
)

// Hasher hashes and verifies passwords, running at most a fixed number of
// hashes at once so that a flood of logins cannot exhaust memory (each
// hash holds Params.Memory KiB while it runs).
type Hasher struct {
	params Params
	slots  chan struct{}
	dummy  string
}

// NewHasher returns a hasher allowing maxConcurrent hashes at once.
func NewHasher(p Params, maxConcurrent int) *Hasher {
	if maxConcurrent < 1 {
		maxConcurrent = 1
	}
	h := &Hasher{params: p, slots: make(chan struct{}, maxConcurrent)}
	h.dummy = h.encode(p, make([]byte, saltSize), argon2.IDKey([]byte("valv dummy"), make([]byte, saltSize), p.Time, p.Memory, p.Threads, hashSize))
	return h
}

// Capacity is how many hashes may run at once.
func (h *Hasher) Capacity() int { return cap(h.slots) }

func (h *Hasher) acquire(ctx context.Context) error {
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return problem.Wrap(ctx.Err(), problem.KindUnavailable, "busy", "The server is busy. Try again shortly.")
	}
}

func (h *Hasher) release() { <-h.slots }

// normalise applies NFKC so that the same password typed on different
// keyboards (composed or decomposed å) verifies.
func normalise(password string) []byte { return []byte(norm.NFKC.String(password)) }

// Hash returns the PHC-format argon2id hash of password.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	salt := make([]byte, saltSize)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	key := argon2.IDKey(normalise(password), salt, h.params.Time, h.params.Memory, h.params.Threads, hashSize)
	return h.encode(h.params, salt, key), nil
}

func (h *Hasher) encode(p Params, salt, key []byte) string {
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

var errBadHash = errors.New("auth: stored password hash is malformed")

func decode(encoded string) (Params, []byte, []byte, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return Params{}, nil, nil, errBadHash
	}
	var p Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return Params{}, nil, nil, errBadHash
	}
	// Refuse absurd parameters from a tampered row rather than run them.
	if p.Memory < 8 || p.Memory > 1<<21 || p.Time < 1 || p.Time > 64 || p.Threads < 1 {
		return Params{}, nil, nil, errBadHash
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	key, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(salt) < 8 || len(key) < 16 || len(key) > 64 {
		return Params{}, nil, nil, errBadHash
	}
	return p, salt, key, nil
}

// Verify reports whether password matches encoded, and whether the hash
// should be replaced because its parameters are below the current ones.
func (h *Hasher) Verify(ctx context.Context, encoded, password string) (ok, rehash bool, err error) {
	p, salt, want, err := decode(encoded)
	if err != nil {
		return false, false, err
	}
	if err := h.acquire(ctx); err != nil {
		return false, false, err
	}
	defer h.release()
	got := argon2.IDKey(normalise(password), salt, p.Time, p.Memory, p.Threads, uint32(len(want))) // #nosec G115 -- decode checked 16 <= len(want) <= 64
	ok = subtle.ConstantTimeCompare(got, want) == 1
	rehash = p.Memory < h.params.Memory || p.Time < h.params.Time || p.Threads < h.params.Threads
	return ok, rehash, nil
}

// Burn verifies password against a fixed dummy hash, taking the same time
// as a real verification. Used when there is no account, so that timing
// does not reveal whether one exists.
func (h *Hasher) Burn(ctx context.Context, password string) {
	_, _, _ = h.Verify(ctx, h.dummy, password)
}

// CheckNewPassword applies the password policy. context holds words the
// password must not be built from (the e-mail address, the tenant name).
func CheckNewPassword(password string, context ...string) error {
	n := utf8.RuneCountInString(norm.NFKC.String(password))
	field := "/password"
	switch {
	case !utf8.ValidString(password):
		return problem.Invalid("weak_password", "The password is not valid text.", problem.Field(field, "invalid_utf8", "Use ordinary characters."))
	case n < MinPasswordLength:
		return problem.Invalid("weak_password", "The password is too short.",
			problem.Field(field, "too_short", fmt.Sprintf("Use at least %d characters; a few unrelated words work well.", MinPasswordLength)))
	case n > MaxPasswordLength:
		return problem.Invalid("weak_password", "The password is too long.",
			problem.Field(field, "too_long", fmt.Sprintf("Use at most %d characters.", MaxPasswordLength)))
	case isWeak(password, context):
		return problem.Invalid("weak_password", "The password is too easy to guess.",
			problem.Field(field, "common_password", "It is a common password or built from one, or from your name or address. Choose something less predictable."))
	}
	return nil
}
