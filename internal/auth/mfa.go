package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/valvhq/valv/internal/problem"
	"github.com/valvhq/valv/internal/store"
)

// E-mailed code limits.
const (
	codeLifetime     = 10 * time.Minute
	maxCodeSends     = 3 // per challenge
	maxCodesPerHour  = 6 // per account, across challenges
	recoveryCodeSets = 10
)

func problemNotFound(code, msg string) error { return problem.NotFound(code, msg) }

// SendEmailCode mails a one-time 6-digit code for a challenge. A new code
// replaces the previous one.
func (s *Service) SendEmailCode(ctx context.Context, challenge string) error {
	row, c, acc, err := s.loadChallenge(ctx, challenge)
	if err != nil {
		return err
	}
	now := s.now().UTC()
	if c.CodeSends >= maxCodeSends {
		return tooManyCodes()
	}
	recent, err := s.db.Reader().CountRecentAuthTokens(ctx, acc.ID, "email_code", now.Add(-time.Hour))
	if err != nil {
		return err
	}
	if recent >= maxCodesPerHour {
		return tooManyCodes()
	}
	code := sixDigits()
	c.CodeHash = codeHash(row.ID, code)
	c.CodeUntil = now.Add(codeLifetime)
	c.CodeSends++
	data, err := s.sealChallenge(ctx, row.TenantID, row.ID, c)
	if err != nil {
		return err
	}
	_, marker := newToken() // counts sends per account for the hourly limit
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		if err := tx.UpdateAuthTokenData(ctx, "mfa", row.ID, data); err != nil {
			return err
		}
		return tx.InsertAuthToken(ctx, store.AuthTokenRow{ID: marker, Kind: "email_code", AccountID: acc.ID, TenantID: acc.TenantID,
			CreatedAt: now, ExpiresAt: now.Add(time.Hour)})
	})
	if err != nil {
		return err
	}
	sealer, err := s.keys.Sealer(ctx, acc.TenantID)
	if err != nil {
		return err
	}
	email, err := sealer.OpenString(acc.Email, accountLocation(acc.ID, "email"))
	if err != nil {
		return err
	}
	if err := s.mail.LoginCode(ctx, email, acc.Language, code, codeLifetime); err != nil {
		return problem.Wrap(err, problem.KindUnavailable, "mail_unavailable", "The code could not be sent. Try again shortly, or use another method.")
	}
	return nil
}

func tooManyCodes() error {
	p := problem.New(problem.KindTooManyRequests, "too_many_codes", "Too many codes were sent. Wait a while, or use another method.")
	p.RetryAfter = 600
	return p
}

func sixDigits() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%06d", binary.BigEndian.Uint64(b[:])%1000000)
}

// codeHash binds a code to its challenge; the challenge id is secret (it
// is the hash of a 256-bit token), so the code cannot be brute-forced from
// the stored hash without it, and attempts are limited anyway.
func codeHash(challengeID []byte, code string) []byte {
	m := hmac.New(sha256.New, challengeID)
	m.Write([]byte(code))
	return m.Sum(nil)
}

// SecondFactor completes a login with a second factor: method is "totp",
// "recovery" or "email".
func (s *Service) SecondFactor(ctx context.Context, challenge, method, code string) (NewSession, error) {
	row, c, acc, err := s.loadChallenge(ctx, challenge)
	if err != nil {
		return NewSession{}, err
	}
	code = strings.TrimSpace(code)
	now := s.now().UTC()
	ok := false
	switch method {
	case "email":
		ok = len(c.CodeHash) > 0 && now.Before(c.CodeUntil) && subtle.ConstantTimeCompare(codeHash(row.ID, code), c.CodeHash) == 1
	case "totp":
		ok, err = s.checkTOTP(ctx, acc, code)
		if err != nil {
			return NewSession{}, err
		}
	case "recovery":
		ok, err = s.useRecoveryCode(ctx, acc, code)
		if err != nil {
			return NewSession{}, err
		}
	default:
		return NewSession{}, problem.Invalid("invalid_method", "Choose a second factor: totp, email or recovery.", problem.Field("/method", "unknown", "Use totp, email or recovery."))
	}
	if !ok {
		n := 0
		err := s.db.Write(ctx, func(tx *store.Tx) error {
			var err error
			n, err = tx.CountAuthTokenAttempt(ctx, "mfa", row.ID)
			return err
		})
		if err != nil {
			return NewSession{}, err
		}
		if n >= maxCodeAttempts {
			return NewSession{}, ErrChallengeGone
		}
		return NewSession{}, ErrInvalidCode
	}
	if err := s.db.Write(ctx, func(tx *store.Tx) error { return tx.UseAuthToken(ctx, "mfa", row.ID, now) }); err != nil {
		if isNotFound(err) {
			return NewSession{}, ErrChallengeGone
		}
		return NewSession{}, err
	}
	return s.startSession(ctx, acc, c.Method, true)
}

// totpOpts are RFC 6238 defaults: 30-second steps, 6 digits, SHA-1 (what
// authenticator apps implement), one step of clock skew either way.
var totpOpts = totp.ValidateOpts{Period: 30, Skew: 1, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// checkTOTP verifies a TOTP code and records its time step, so the same
// code (or an older one) cannot be used again.
func (s *Service) checkTOTP(ctx context.Context, acc store.AccountRow, code string) (bool, error) {
	if !acc.TOTPEnabled || len(acc.TOTPSecret) == 0 || len(code) != 6 {
		return false, nil
	}
	secret, err := s.openTOTPSecret(ctx, acc)
	if err != nil {
		return false, err
	}
	now := s.now()
	for skew := -1; skew <= 1; skew++ {
		t := now.Add(time.Duration(skew) * 30 * time.Second)
		want, err := totp.GenerateCodeCustom(secret, t, totpOpts)
		if err != nil {
			return false, err
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) != 1 {
			continue
		}
		step := t.Unix() / 30
		err = s.db.Write(ctx, func(tx *store.Tx) error { return tx.UseTOTPStep(ctx, acc.TenantID, acc.ID, step) })
		if err != nil {
			return false, nil // a replayed code
		}
		return true, nil
	}
	return false, nil
}

func (s *Service) openTOTPSecret(ctx context.Context, acc store.AccountRow) (string, error) {
	sealer, err := s.keys.Sealer(ctx, acc.TenantID)
	if err != nil {
		return "", err
	}
	return sealer.OpenString(acc.TOTPSecret, accountLocation(acc.ID, "totp_secret"))
}

// recoveryCodeHash hashes a recovery code for storage. Codes have 60 bits
// of entropy and are single-use, so a keyed hash (bound to the account) is
// enough; a slow hash would add nothing.
func recoveryCodeHash(accountID, code string) []byte {
	m := hmac.New(sha256.New, []byte("valv/recovery-code/v1/"+accountID))
	m.Write([]byte(strings.ToLower(strings.ReplaceAll(strings.TrimSpace(code), "-", ""))))
	return m.Sum(nil)
}

func (s *Service) useRecoveryCode(ctx context.Context, acc store.AccountRow, code string) (bool, error) {
	if len(code) > 32 {
		return false, nil
	}
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		return tx.UseRecoveryCode(ctx, acc.ID, recoveryCodeHash(acc.ID, code), s.now().UTC())
	})
	if isNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

var recoveryEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// newRecoveryCodes returns ten codes like "k3fq7-xw9ht" and their hashes.
func newRecoveryCodes(accountID string) ([]string, [][]byte) {
	codes := make([]string, recoveryCodeSets)
	hashes := make([][]byte, recoveryCodeSets)
	for i := range codes {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		c := recoveryEncoding.EncodeToString(b)[:10]
		codes[i] = c[:5] + "-" + c[5:]
		hashes[i] = recoveryCodeHash(accountID, codes[i])
	}
	return codes, hashes
}
