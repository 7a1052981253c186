package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/valvhq/valv/internal/audit"
	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/seal"
	"github.com/valvhq/valv/internal/store"
)

// LoginRequest is a password login. Tenant is the organisation's short name
// (slug); it is empty for operators.
type LoginRequest struct {
	Tenant   string
	Email    string
	Password string
}

// LoginResult is either a session (the login is complete) or a challenge
// for a second factor.
type LoginResult struct {
	Session   *NewSession
	Challenge string   // token for the second step
	Methods   []string // second factors the account can use
	ExpiresAt time.Time
}

// mfaChallenge is the sealed state of a second-factor challenge.
type mfaChallenge struct {
	Method     string          `json:"method"` // how the first step was done
	CodeHash   []byte          `json:"code_hash,omitempty"`
	CodeUntil  time.Time       `json:"code_until,omitempty"`
	CodeSends  int             `json:"code_sends,omitempty"`
	WebAuthn   json.RawMessage `json:"webauthn,omitempty"`
	FromOIDC   bool            `json:"from_oidc,omitempty"`
	RedirectTo string          `json:"redirect_to,omitempty"`
}

const (
	challengeLifetime = 5 * time.Minute
	maxCodeAttempts   = 5
)

var slugPattern = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$`)

// lookup finds the tenant and account for a login without revealing which
// step failed. The sealer is the account's keyset owner's.
func (s *Service) lookup(ctx context.Context, tenantSlug, email string) (store.AccountRow, *seal.Sealer, error) {
	tenantID := store.PlatformTenant
	if tenantSlug != "" {
		if !slugPattern.MatchString(tenantSlug) {
			return store.AccountRow{}, nil, store.ErrNotFound
		}
		t, err := s.db.Reader().TenantBySlug(ctx, tenantSlug)
		if err != nil {
			return store.AccountRow{}, nil, err
		}
		tenantID = t.ID
	}
	sealer, err := s.keys.Sealer(ctx, tenantID)
	if err != nil {
		return store.AccountRow{}, nil, err
	}
	idx, err := sealer.BlindIndex("email", normaliseEmail(email))
	if err != nil {
		return store.AccountRow{}, nil, err
	}
	acc, err := s.db.Reader().AccountByEmail(ctx, tenantID, idx)
	return acc, sealer, err
}

// Login checks a password. Unknown organisations and addresses, disabled
// and locked accounts and wrong passwords all answer ErrInvalidCredentials
// after the same work.
func (s *Service) Login(ctx context.Context, req LoginRequest) (LoginResult, error) {
	src := s.sourceToken(ctx)
	if err := s.checkSource(ctx, src); err != nil {
		return LoginResult{}, err
	}
	if len(req.Password) > 4*MaxPasswordLength || len(req.Email) > 320 {
		return LoginResult{}, ErrInvalidCredentials
	}
	acc, sealer, err := s.lookup(ctx, strings.ToLower(strings.TrimSpace(req.Tenant)), req.Email)
	if err != nil && !isNotFound(err) {
		return LoginResult{}, err
	}
	if isNotFound(err) || acc.PasswordHash == "" {
		s.hasher.Burn(ctx, req.Password)
		if werr := s.db.Write(ctx, func(tx *store.Tx) error { return s.recordSourceFailure(ctx, tx, src) }); werr != nil {
			return LoginResult{}, werr
		}
		return LoginResult{}, ErrInvalidCredentials
	}
	ok, rehash, err := s.hasher.Verify(ctx, acc.PasswordHash, req.Password)
	if err != nil && !errors.Is(err, errBadHash) {
		return LoginResult{}, err
	}
	now := s.now().UTC()
	locked := acc.LockedUntil.After(now)
	if !ok || locked || acc.Status != "active" {
		if err := s.recordFailure(ctx, acc, sealer, src); err != nil {
			return LoginResult{}, err
		}
		return LoginResult{}, ErrInvalidCredentials
	}
	newHash := ""
	if rehash {
		if h, err := s.hasher.Hash(ctx, req.Password); err == nil {
			newHash = h
		}
	}
	if acc.FailedLogins != 0 || acc.Lockouts != 0 || newHash != "" {
		err := s.db.Write(ctx, func(tx *store.Tx) error {
			cur, err := tx.AccountForUpdate(ctx, acc.TenantID, acc.ID)
			if err != nil {
				return err
			}
			cur.FailedLogins, cur.Lockouts, cur.LockedUntil, cur.UpdatedAt = 0, 0, time.Time{}, now
			if newHash != "" {
				cur.PasswordHash = newHash
			}
			acc = cur
			return tx.UpdateAccount(ctx, cur)
		})
		if err != nil {
			return LoginResult{}, err
		}
	}
	return s.afterFirstFactor(ctx, acc, "password", false)
}

// recordFailure counts a failed login of an existing account, locks it
// after too many, and tells the holder and the tenant's security contact.
func (s *Service) recordFailure(ctx context.Context, acc store.AccountRow, sealer *seal.Sealer, src []byte) error {
	now := s.now().UTC()
	lockedNow := false
	// The failure goes on the account's tenant's trail, naming the account
	// (the caller learns nothing from it).
	audit.Describe(ctx, audit.Description{TenantID: chainTenant(acc.TenantID), ResourceType: "account", ResourceID: acc.ID})
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		// Count on the current row, so concurrent failures all count.
		cur, err := tx.AccountForUpdate(ctx, acc.TenantID, acc.ID)
		if err != nil {
			return err
		}
		cur.FailedLogins++
		lockedNow = false
		if cur.FailedLogins >= accountFailureLimit && !cur.LockedUntil.After(now) {
			cur.Lockouts++
			cur.LockedUntil = now.Add(lockoutFor(cur.Lockouts))
			cur.FailedLogins = 0
			lockedNow = true
		}
		cur.UpdatedAt = now
		acc = cur
		if err := tx.UpdateAccount(ctx, cur); err != nil {
			return err
		}
		return s.recordSourceFailure(ctx, tx, src)
	})
	if err != nil {
		return err
	}
	if lockedNow {
		audit.Detail(ctx, "locked", "yes")
		// In the background: the mail's latency must not tell a caller that
		// the account exists (nor slow the answer).
		go s.notifyLockout(context.WithoutCancel(ctx), acc, sealer, now)
	}
	return nil
}

func (s *Service) notifyLockout(ctx context.Context, acc store.AccountRow, sealer *seal.Sealer, at time.Time) {
	var to []string
	if email, err := sealer.OpenString(acc.Email, accountLocation(acc.ID, "email")); err == nil {
		to = append(to, email)
	}
	if acc.Kind == string(authz.User) {
		if pol, err := s.policies.LoginPolicy(ctx, acc.TenantID); err == nil && pol.SecurityContact != "" {
			to = append(to, pol.SecurityContact)
		}
	}
	if len(to) == 0 || s.mail == nil {
		return
	}
	if err := s.mail.Lockout(ctx, to, acc.Language, at, acc.LockedUntil); err != nil {
		s.log.Warn("lock-out notice not sent", "account", acc.ID, "error", err)
	}
}

func accountLocation(id, field string) seal.Location {
	return seal.Location{Table: "accounts", Row: id, Field: field}
}

// afterFirstFactor either completes the login or asks for a second factor.
func (s *Service) afterFirstFactor(ctx context.Context, acc store.AccountRow, method string, strong bool) (LoginResult, error) {
	methods, err := s.secondFactors(ctx, acc)
	if err != nil {
		return LoginResult{}, err
	}
	need := !strong && (acc.Kind == string(authz.Operator) || len(methods) > 1) // "email" is always there
	if !need && acc.Kind == string(authz.User) && !strong {
		pol, err := s.policies.LoginPolicy(ctx, acc.TenantID)
		if err != nil {
			return LoginResult{}, err
		}
		if !pol.Active {
			return LoginResult{}, ErrTenantSuspended
		}
		need = pol.Require2FA
	}
	if !need {
		sess, err := s.startSession(ctx, acc, method, strong)
		if err != nil {
			return LoginResult{}, err
		}
		return LoginResult{Session: &sess}, nil
	}
	token, exp, err := s.newChallenge(ctx, acc, mfaChallenge{Method: method})
	if err != nil {
		return LoginResult{}, err
	}
	return LoginResult{Challenge: token, Methods: methods, ExpiresAt: exp}, nil
}

// secondFactors lists what the account can use: an e-mailed code always,
// and TOTP, recovery codes and passkeys when enrolled.
func (s *Service) secondFactors(ctx context.Context, acc store.AccountRow) ([]string, error) {
	methods := []string{"email"}
	if acc.TOTPEnabled {
		methods = append(methods, "totp")
		n, err := s.db.Reader().UnusedRecoveryCodes(ctx, acc.ID)
		if err != nil {
			return nil, err
		}
		if n > 0 {
			methods = append(methods, "recovery")
		}
	}
	keys, err := s.db.Reader().Passkeys(ctx, acc.TenantID, acc.ID)
	if err != nil {
		return nil, err
	}
	if len(keys) > 0 {
		methods = append(methods, "passkey")
	}
	return methods, nil
}

func (s *Service) newChallenge(ctx context.Context, acc store.AccountRow, c mfaChallenge) (string, time.Time, error) {
	token, id := newToken()
	data, err := s.sealChallenge(ctx, acc.TenantID, id, c)
	if err != nil {
		return "", time.Time{}, err
	}
	now := s.now().UTC()
	exp := now.Add(challengeLifetime)
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		return tx.InsertAuthToken(ctx, store.AuthTokenRow{ID: id, Kind: "mfa", AccountID: acc.ID, TenantID: acc.TenantID,
			Data: data, CreatedAt: now, ExpiresAt: exp})
	})
	return token, exp, err
}

func tokenLocation(kind string, id []byte) seal.Location {
	return seal.Location{Table: "auth_tokens", Row: fmt.Sprintf("%x", id), Field: kind}
}

func (s *Service) sealChallenge(ctx context.Context, tenantID string, id []byte, c mfaChallenge) ([]byte, error) {
	sealer, err := s.keys.Sealer(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	return sealer.Seal(raw, tokenLocation("mfa", id))
}

// loadChallenge returns a live challenge and its account.
func (s *Service) loadChallenge(ctx context.Context, token string) (store.AuthTokenRow, mfaChallenge, store.AccountRow, error) {
	if !validTokenForm(token) {
		return store.AuthTokenRow{}, mfaChallenge{}, store.AccountRow{}, ErrChallengeGone
	}
	row, err := s.db.Reader().AuthToken(ctx, "mfa", hashToken(token))
	if isNotFound(err) {
		return row, mfaChallenge{}, store.AccountRow{}, ErrChallengeGone
	}
	if err != nil {
		return row, mfaChallenge{}, store.AccountRow{}, err
	}
	if !row.UsedAt.IsZero() || !s.now().Before(row.ExpiresAt) || row.Attempts >= maxCodeAttempts {
		return row, mfaChallenge{}, store.AccountRow{}, ErrChallengeGone
	}
	sealer, err := s.keys.Sealer(ctx, row.TenantID)
	if err != nil {
		return row, mfaChallenge{}, store.AccountRow{}, err
	}
	raw, err := sealer.Open(row.Data, tokenLocation("mfa", row.ID))
	if err != nil {
		return row, mfaChallenge{}, store.AccountRow{}, ErrChallengeGone
	}
	var c mfaChallenge
	if err := json.Unmarshal(raw, &c); err != nil {
		return row, mfaChallenge{}, store.AccountRow{}, ErrChallengeGone
	}
	acc, err := s.db.Reader().Account(ctx, row.TenantID, row.AccountID)
	if err != nil || acc.Status != "active" {
		return row, mfaChallenge{}, store.AccountRow{}, ErrChallengeGone
	}
	return row, c, acc, nil
}
