package auth

import (
	"context"
	"strings"

	"github.com/google/uuid"

	"github.com/valvhq/valv/internal/audit"
	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/store"
)

// SetupRequest completes an account from a setup link. Email is needed
// only for the first operator's bootstrap link.
type SetupRequest struct {
	Token    string
	Password string
	Email    string
}

// CompleteSetup sets the password of an invited account from its setup
// link (or creates the first operator from a bootstrap link) and returns
// the account. The link works once.
func (s *Service) CompleteSetup(ctx context.Context, req SetupRequest) (Account, error) {
	if !validTokenForm(req.Token) {
		return Account{}, ErrInvalidLink
	}
	id := hashToken(req.Token)
	if tok, err := s.db.Reader().AuthToken(ctx, "operator_setup", id); err == nil {
		return s.bootstrapOperator(ctx, tok, req)
	}
	tok, err := s.db.Reader().AuthToken(ctx, "setup", id)
	if isNotFound(err) {
		return Account{}, ErrInvalidLink
	}
	if err != nil {
		return Account{}, err
	}
	if !tok.UsedAt.IsZero() || !s.now().Before(tok.ExpiresAt) {
		return Account{}, ErrInvalidLink
	}
	acc, err := s.db.Reader().Account(ctx, tok.TenantID, tok.AccountID)
	if err != nil || acc.Status != "invited" {
		return Account{}, ErrInvalidLink
	}
	if err := s.checkPasswordFor(ctx, acc, req.Password); err != nil {
		return Account{}, err
	}
	hash, err := s.hasher.Hash(ctx, req.Password)
	if err != nil {
		return Account{}, err
	}
	now := s.now().UTC()
	acc.PasswordHash, acc.PasswordChangedAt, acc.Status, acc.UpdatedAt = hash, now, "active", now
	audit.SetActor(ctx, principalOf(acc, "", false))
	err = s.change(ctx, "account.setup", "account", acc.ID, acc.TenantID, func(tx *store.Tx) error {
		if err := tx.UseAuthToken(ctx, "setup", id, now); err != nil {
			return err
		}
		return tx.UpdateAccount(ctx, acc)
	})
	if isNotFound(err) {
		return Account{}, ErrInvalidLink
	}
	if err != nil {
		return Account{}, err
	}
	return s.view(ctx, acc)
}

// BootstrapLink returns a one-time link to create the first operator, or
// "" when an operator exists already. Each call replaces the previous link.
func (s *Service) BootstrapLink(ctx context.Context) (string, error) {
	n, err := s.db.Reader().CountAccounts(ctx, store.PlatformTenant, "")
	if err != nil || n > 0 {
		return "", err
	}
	token, id := newToken()
	now := s.now().UTC()
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		if err := tx.InvalidateAuthTokens(ctx, "", "operator_setup", now); err != nil {
			return err
		}
		return tx.InsertAuthToken(ctx, store.AuthTokenRow{ID: id, Kind: "operator_setup", TenantID: store.PlatformTenant, CreatedAt: now, ExpiresAt: now.Add(bootstrapLinkLifetime)})
	})
	if err != nil {
		return "", err
	}
	return s.link("/setup", token), nil
}

func (s *Service) bootstrapOperator(ctx context.Context, tok store.AuthTokenRow, req SetupRequest) (Account, error) {
	if !tok.UsedAt.IsZero() || !s.now().Before(tok.ExpiresAt) {
		return Account{}, ErrInvalidLink
	}
	email, err := CheckEmail(req.Email)
	if err != nil {
		return Account{}, err
	}
	if err := CheckNewPassword(req.Password, email); err != nil {
		return Account{}, err
	}
	sealer, err := s.keys.Sealer(ctx, store.PlatformTenant)
	if err != nil {
		return Account{}, err
	}
	hash, err := s.hasher.Hash(ctx, req.Password)
	if err != nil {
		return Account{}, err
	}
	id := uuid.Must(uuid.NewV7()).String()
	idx, err := sealer.BlindIndex("email", email)
	if err != nil {
		return Account{}, err
	}
	sealed, err := sealer.SealString(email, accountLocation(id, "email"))
	if err != nil {
		return Account{}, err
	}
	now := s.now().UTC()
	row := store.AccountRow{ID: id, TenantID: store.PlatformTenant, Kind: string(authz.Operator), Role: string(authz.RoleSecurity),
		Status: "active", Email: sealed, EmailIndex: idx, Language: "en", PasswordHash: hash, PasswordChangedAt: now, CreatedAt: now, UpdatedAt: now}
	audit.SetActor(ctx, principalOf(row, "", false))
	err = s.change(ctx, "operator.bootstrap", "account", id, store.PlatformTenant, func(tx *store.Tx) error {
		n, err := tx.CountAccounts(ctx, store.PlatformTenant, "")
		if err != nil {
			return err
		}
		if n > 0 {
			return store.ErrNotFound // an operator appeared meanwhile: the link is void
		}
		if err := tx.UseAuthToken(ctx, "operator_setup", tok.ID, now); err != nil {
			return err
		}
		return tx.InsertAccount(ctx, row)
	})
	if isNotFound(err) {
		return Account{}, ErrInvalidLink
	}
	if err != nil {
		return Account{}, err
	}
	return viewAccount(row, email, ""), nil
}

// ForgotPassword mails a single-use reset link if the account exists and
// is active. It answers the same either way.
func (s *Service) ForgotPassword(ctx context.Context, tenantSlug, email string) error {
	acc, sealer, err := s.lookup(ctx, strings.ToLower(strings.TrimSpace(tenantSlug)), email)
	if isNotFound(err) || (err == nil && acc.Status != "active") {
		return nil
	}
	if err != nil {
		return err
	}
	now := s.now().UTC()
	n, err := s.db.Reader().CountRecentAuthTokens(ctx, acc.ID, "reset", now.Add(-1*resetLinkLifetime))
	if err != nil {
		return err
	}
	if n >= maxResetsPerHour {
		return nil // silently: a flood of reset mails is itself an attack
	}
	token, id := newToken()
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		if err := tx.InvalidateAuthTokens(ctx, acc.ID, "reset", now); err != nil {
			return err
		}
		return tx.InsertAuthToken(ctx, store.AuthTokenRow{ID: id, Kind: "reset", AccountID: acc.ID, TenantID: acc.TenantID, CreatedAt: now, ExpiresAt: now.Add(resetLinkLifetime)})
	})
	if err != nil {
		return err
	}
	addr, err := sealer.OpenString(acc.Email, accountLocation(acc.ID, "email"))
	if err != nil {
		return err
	}
	if s.mail != nil {
		// In the background, so that the answer takes the same time whether
		// or not the account exists.
		link := s.link("/reset-password", token)
		go func(ctx context.Context) {
			if err := s.mail.PasswordReset(ctx, addr, acc.Language, link, resetLinkLifetime); err != nil {
				s.log.Warn("reset link not mailed", "account", acc.ID, "error", err)
			}
		}(context.WithoutCancel(ctx))
	}
	return nil
}

// ResetPassword sets a new password from a reset link, lifts a lock-out,
// and ends every session of the account.
func (s *Service) ResetPassword(ctx context.Context, token, password string) error {
	if !validTokenForm(token) {
		return ErrInvalidLink
	}
	id := hashToken(token)
	tok, err := s.db.Reader().AuthToken(ctx, "reset", id)
	if isNotFound(err) {
		return ErrInvalidLink
	}
	if err != nil {
		return err
	}
	if !tok.UsedAt.IsZero() || !s.now().Before(tok.ExpiresAt) {
		return ErrInvalidLink
	}
	acc, err := s.db.Reader().Account(ctx, tok.TenantID, tok.AccountID)
	if err != nil || acc.Status != "active" {
		return ErrInvalidLink
	}
	if err := s.checkPasswordFor(ctx, acc, password); err != nil {
		return err
	}
	hash, err := s.hasher.Hash(ctx, password)
	if err != nil {
		return err
	}
	now := s.now().UTC()
	acc.PasswordHash, acc.PasswordChangedAt, acc.UpdatedAt = hash, now, now
	acc.FailedLogins, acc.LockedUntil = 0, now
	audit.SetActor(ctx, principalOf(acc, "", false))
	err = s.change(ctx, "account.password.reset", "account", acc.ID, acc.TenantID, func(tx *store.Tx) error {
		if err := tx.UseAuthToken(ctx, "reset", id, now); err != nil {
			return err
		}
		if err := tx.UpdateAccount(ctx, acc); err != nil {
			return err
		}
		_, err := tx.DeleteAccountSessions(ctx, acc.TenantID, acc.ID, nil)
		return err
	})
	if isNotFound(err) {
		return ErrInvalidLink
	}
	return err
}

// IsBootstrapLink reports whether token is the first operator's setup
// link, whose form also asks for the e-mail address. It tells nothing
// else: any other token, valid or not, is false.
func (s *Service) IsBootstrapLink(ctx context.Context, token string) bool {
	if !validTokenForm(token) {
		return false
	}
	tok, err := s.db.Reader().AuthToken(ctx, "operator_setup", hashToken(token))
	return err == nil && tok.UsedAt.IsZero() && s.now().Before(tok.ExpiresAt)
}
