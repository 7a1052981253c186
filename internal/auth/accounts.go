package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/problem"
	"github.com/valvhq/valv/internal/seal"
	"github.com/valvhq/valv/internal/store"
	"github.com/valvhq/valv/internal/validate"
)

// Link lifetimes.
const (
	setupLinkLifetime     = 72 * time.Hour
	bootstrapLinkLifetime = 24 * time.Hour
	resetLinkLifetime     = time.Hour
	maxResetsPerHour      = 3
)

// Account is a user or operator as shown to those allowed to see it.
type Account struct {
	ID          string    `json:"id"`
	Kind        string    `json:"kind"`
	Email       string    `json:"email"`
	DisplayName string    `json:"display_name,omitempty"`
	Role        string    `json:"role"`
	Status      string    `json:"status"`
	Language    string    `json:"language"`
	TOTP        bool      `json:"totp"`
	Locked      bool      `json:"locked"`
	CreatedAt   time.Time `json:"created_at"`
	LastLoginAt time.Time `json:"last_login_at,omitzero"`
}

// NewAccount is what CreateAccount needs.
type NewAccount struct {
	TenantID    string // "" for an operator
	Email       string
	DisplayName string
	Role        authz.Role
	Language    string
}

// Languages Valv speaks.
var Languages = []string{"sv", "en"}

// CheckEmail validates and normalises an e-mail address for an account.
func CheckEmail(s string) (string, error) {
	v, err := validate.Identifier(validate.KindEmail, s, time.Time{})
	if err != nil {
		msg := "Give one plain address, like anna@example.se."
		if p, ok := problem.As(err); ok {
			msg = p.Message
		}
		return "", problem.Invalid("invalid_email", "The e-mail address is not valid.", problem.Field("/email", "invalid_email", msg))
	}
	return v, nil
}

// PreparedAccount is an account ready to be inserted, with its setup link.
// Prepare does the slow work (sealing); Insert writes it inside the
// caller's transaction, so an account can be created together with its
// tenant.
type PreparedAccount struct {
	Row     store.AccountRow
	token   store.AuthTokenRow
	Link    string
	Account Account
}

// Insert writes the account and its setup token.
func (p PreparedAccount) Insert(ctx context.Context, tx *store.Tx) error {
	if err := tx.InsertAccount(ctx, p.Row); err != nil {
		return err
	}
	return tx.InsertAuthToken(ctx, p.token)
}

// Created finishes a creation after its transaction committed: it mails the
// setup link.
func (s *Service) Created(ctx context.Context, p PreparedAccount) {
	s.mailSetup(ctx, p.Row, p.Account.Email, p.Link)
}

// CreateAccount adds an invited account and returns it with a one-time
// setup link (also mailed to it). The caller has authorised the creation.
func (s *Service) CreateAccount(ctx context.Context, in NewAccount) (Account, string, error) {
	sealer, err := s.keys.Sealer(ctx, tenantKey(in.TenantID))
	if err != nil {
		return Account{}, "", err
	}
	p, err := s.PrepareAccount(sealer, in)
	if err != nil {
		return Account{}, "", err
	}
	err = s.change(ctx, "account.create", "account", p.Row.ID, p.Row.TenantID, func(tx *store.Tx) error { return p.Insert(ctx, tx) })
	if errors.Is(err, store.ErrConflict) {
		return Account{}, "", ErrAccountExists
	}
	if err != nil {
		return Account{}, "", fmt.Errorf("create account: %w", err)
	}
	s.Created(ctx, p)
	return p.Account, p.Link, nil
}

// ErrAccountExists is the problem for a duplicate e-mail address.
var ErrAccountExists = problem.Conflict("account_exists", "There is already an account with this e-mail address.")

// PrepareAccount checks and seals a new invited account with sealer (the
// keyset of its tenant, or the platform's for an operator).
func (s *Service) PrepareAccount(sealer *seal.Sealer, in NewAccount) (PreparedAccount, error) {
	email, err := CheckEmail(in.Email)
	if err != nil {
		return PreparedAccount{}, err
	}
	kind := authz.User
	if in.TenantID == "" {
		kind = authz.Operator
		if !authz.ValidOperatorRole(in.Role) {
			return PreparedAccount{}, problem.Invalid("invalid_role", "Operators are operator or security.", problem.Field("/role", "invalid_role", "Use operator or security."))
		}
	} else if !authz.ValidTenantRole(in.Role) {
		return PreparedAccount{}, problem.Invalid("invalid_role", "Users are owner, admin, member or auditor.", problem.Field("/role", "invalid_role", "Use owner, admin, member or auditor."))
	}
	lang := in.Language
	if lang == "" {
		lang = "sv"
	}
	if lang != "sv" && lang != "en" {
		return PreparedAccount{}, problem.Invalid("invalid_language", "The language is sv or en.", problem.Field("/language", "invalid_language", "Use sv or en."))
	}
	name := strings.TrimSpace(in.DisplayName)
	if utf8.RuneCountInString(name) > 200 {
		return PreparedAccount{}, problem.Invalid("invalid_name", "The name is too long.", problem.Field("/display_name", "too_long", "Use at most 200 characters."))
	}
	tk := tenantKey(in.TenantID)
	if sealer.Tenant() != tk {
		return PreparedAccount{}, fmt.Errorf("auth: sealer of %s used for an account of %s", sealer.Tenant(), tk)
	}
	id := uuid.Must(uuid.NewV7()).String()
	idx, err := sealer.BlindIndex("email", email)
	if err != nil {
		return PreparedAccount{}, err
	}
	sealedEmail, err := sealer.SealString(email, accountLocation(id, "email"))
	if err != nil {
		return PreparedAccount{}, err
	}
	var sealedName []byte
	if name != "" {
		if sealedName, err = sealer.SealString(name, accountLocation(id, "display_name")); err != nil {
			return PreparedAccount{}, err
		}
	}
	now := s.now().UTC()
	row := store.AccountRow{ID: id, TenantID: tk, Kind: string(kind), Role: string(in.Role), Status: "invited",
		Email: sealedEmail, EmailIndex: idx, DisplayName: sealedName, Language: lang, CreatedAt: now, UpdatedAt: now}
	token, tokID := newToken()
	return PreparedAccount{
		Row:     row,
		token:   store.AuthTokenRow{ID: tokID, Kind: "setup", AccountID: id, TenantID: tk, CreatedAt: now, ExpiresAt: now.Add(setupLinkLifetime)},
		Link:    s.link("/setup", token),
		Account: viewAccount(row, email, name),
	}, nil
}

func (s *Service) mailSetup(ctx context.Context, row store.AccountRow, email, link string) {
	if s.mail == nil {
		return
	}
	org := ""
	if row.Kind == string(authz.User) {
		if pol, err := s.policies.LoginPolicy(ctx, row.TenantID); err == nil {
			org = pol.Name
		}
	}
	if err := s.mail.AccountSetup(ctx, email, row.Language, row.Role, org, link, setupLinkLifetime); err != nil {
		s.log.Warn("setup link not mailed", "account", row.ID, "error", err)
	}
}

func viewAccount(r store.AccountRow, email, name string) Account {
	return Account{ID: r.ID, Kind: r.Kind, Email: email, DisplayName: name, Role: r.Role, Status: r.Status, Language: r.Language,
		TOTP: r.TOTPEnabled, Locked: r.LockedUntil.After(time.Now()), CreatedAt: r.CreatedAt, LastLoginAt: r.LastLoginAt}
}

// view opens an account row's sealed fields.
func (s *Service) view(ctx context.Context, r store.AccountRow) (Account, error) {
	sealer, err := s.keys.Sealer(ctx, r.TenantID)
	if err != nil {
		return Account{}, err
	}
	email, err := sealer.OpenString(r.Email, accountLocation(r.ID, "email"))
	if err != nil {
		return Account{}, fmt.Errorf("account %s: %w", r.ID, err)
	}
	var name string
	if len(r.DisplayName) > 0 {
		if name, err = sealer.OpenString(r.DisplayName, accountLocation(r.ID, "display_name")); err != nil {
			return Account{}, fmt.Errorf("account %s: %w", r.ID, err)
		}
	}
	a := viewAccount(r, email, name)
	a.Locked = r.LockedUntil.After(s.now())
	return a, nil
}

// ErrAccountNotFound is the problem for a missing account.
var ErrAccountNotFound = problem.NotFound("account_not_found", "No such user.")

// GetAccount returns one account of a tenant ("" = operators).
func (s *Service) GetAccount(ctx context.Context, tenantID, id string) (Account, error) {
	r, err := s.db.Reader().Account(ctx, tenantKey(tenantID), id)
	if isNotFound(err) {
		return Account{}, ErrAccountNotFound
	}
	if err != nil {
		return Account{}, err
	}
	return s.view(ctx, r)
}

// ListAccounts pages through a tenant's accounts.
func (s *Service) ListAccounts(ctx context.Context, tenantID, cursor string, limit int) ([]Account, string, error) {
	if limit <= 0 || limit > 500 {
		limit = 500
	}
	rows, err := s.db.Reader().Accounts(ctx, tenantKey(tenantID), cursor, limit+1)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(rows) > limit {
		rows = rows[:limit]
		next = rows[limit-1].ID
	}
	out := make([]Account, 0, len(rows))
	for _, r := range rows {
		a, err := s.view(ctx, r)
		if err != nil {
			return nil, "", err
		}
		out = append(out, a)
	}
	return out, next, nil
}

// AccountChange is a change to an account; nil fields stay as they are.
type AccountChange struct {
	Role        *authz.Role
	Status      *string // active | disabled
	DisplayName *string
	Language    *string
}

// UpdateAccount applies a change. A new role or a disabled account ends
// every session of the account (a new session is needed after a change of
// privilege). The caller has authorised the change, including whether the
// owner role may be given or taken.
func (s *Service) UpdateAccount(ctx context.Context, tenantID, id string, ch AccountChange) (Account, error) {
	tk := tenantKey(tenantID)
	r, err := s.db.Reader().Account(ctx, tk, id)
	if isNotFound(err) {
		return Account{}, ErrAccountNotFound
	}
	if err != nil {
		return Account{}, err
	}
	revoke := false
	if ch.Role != nil {
		valid := authz.ValidTenantRole(*ch.Role)
		if r.Kind == string(authz.Operator) {
			valid = authz.ValidOperatorRole(*ch.Role)
		}
		if !valid {
			return Account{}, problem.Invalid("invalid_role", "That role does not exist here.", problem.Field("/role", "invalid_role", "Use owner, admin, member or auditor."))
		}
		revoke = revoke || r.Role != string(*ch.Role)
		r.Role = string(*ch.Role)
	}
	if ch.Status != nil {
		switch *ch.Status {
		case "active":
			if r.Status == "invited" {
				return Account{}, problem.Conflict("account_invited", "The user has not finished setting up the account yet.")
			}
		case "disabled":
			revoke = true
		default:
			return Account{}, problem.Invalid("invalid_status", "The status is active or disabled.", problem.Field("/status", "invalid_status", "Use active or disabled."))
		}
		r.Status = *ch.Status
	}
	if ch.Language != nil {
		if *ch.Language != "sv" && *ch.Language != "en" {
			return Account{}, problem.Invalid("invalid_language", "The language is sv or en.", problem.Field("/language", "invalid_language", "Use sv or en."))
		}
		r.Language = *ch.Language
	}
	if ch.DisplayName != nil {
		name := strings.TrimSpace(*ch.DisplayName)
		r.DisplayName = nil
		if name != "" {
			sealer, err := s.keys.Sealer(ctx, tk)
			if err != nil {
				return Account{}, err
			}
			if r.DisplayName, err = sealer.SealString(name, accountLocation(r.ID, "display_name")); err != nil {
				return Account{}, err
			}
		}
	}
	r.UpdatedAt = s.now().UTC()
	err = s.change(ctx, "account.update", "account", r.ID, r.TenantID, func(tx *store.Tx) error {
		if err := tx.UpdateAccount(ctx, r); err != nil {
			return err
		}
		if revoke {
			return s.RevokeAccountSessions(ctx, tx, tk, r.ID)
		}
		return nil
	})
	if err != nil {
		return Account{}, err
	}
	return s.view(ctx, r)
}

// DeleteAccount removes an account with its sessions and credentials.
func (s *Service) DeleteAccount(ctx context.Context, tenantID, id string) error {
	err := s.change(ctx, "account.delete", "account", id, tenantKey(tenantID), func(tx *store.Tx) error { return tx.DeleteAccount(ctx, tenantKey(tenantID), id) })
	if isNotFound(err) {
		return ErrAccountNotFound
	}
	return err
}

// NewSetupLink replaces an invited account's setup link (the old one stops
// working) and mails the new one.
func (s *Service) NewSetupLink(ctx context.Context, tenantID, id string) (string, error) {
	tk := tenantKey(tenantID)
	r, err := s.db.Reader().Account(ctx, tk, id)
	if isNotFound(err) {
		return "", ErrAccountNotFound
	}
	if err != nil {
		return "", err
	}
	if r.Status != "invited" {
		return "", problem.Conflict("account_active", "The account is already set up; use a password reset instead.")
	}
	token, tokID := newToken()
	now := s.now().UTC()
	err = s.change(ctx, "account.setup_link", "account", r.ID, r.TenantID, func(tx *store.Tx) error {
		if err := tx.InvalidateAuthTokens(ctx, r.ID, "setup", now); err != nil {
			return err
		}
		return tx.InsertAuthToken(ctx, store.AuthTokenRow{ID: tokID, Kind: "setup", AccountID: r.ID, TenantID: tk, CreatedAt: now, ExpiresAt: now.Add(setupLinkLifetime)})
	})
	if err != nil {
		return "", err
	}
	link := s.link("/setup", token)
	if a, err := s.view(ctx, r); err == nil {
		s.mailSetup(ctx, r, a.Email, link)
	}
	return link, nil
}
