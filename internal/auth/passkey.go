package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/google/uuid"

	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/problem"
	"github.com/valvhq/valv/internal/store"
)

const (
	ceremonyLifetime   = 5 * time.Minute
	maxPasskeyResponse = 64 << 10
)

// waUser is an account as the WebAuthn library sees it. The user handle is
// the account id (a random UUID): it reveals nothing about the person.
type waUser struct {
	acc   store.AccountRow
	name  string
	creds []webauthn.Credential
}

func (u waUser) WebAuthnID() []byte                         { return []byte(u.acc.ID) }
func (u waUser) WebAuthnName() string                       { return u.name }
func (u waUser) WebAuthnDisplayName() string                { return u.name }
func (u waUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

func (s *Service) waUser(ctx context.Context, acc store.AccountRow) (waUser, []store.PasskeyRow, error) {
	sealer, err := s.keys.Sealer(ctx, acc.TenantID)
	if err != nil {
		return waUser{}, nil, err
	}
	email, err := sealer.OpenString(acc.Email, accountLocation(acc.ID, "email"))
	if err != nil {
		return waUser{}, nil, err
	}
	rows, err := s.db.Reader().Passkeys(ctx, acc.TenantID, acc.ID)
	if err != nil {
		return waUser{}, nil, err
	}
	u := waUser{acc: acc, name: email}
	for _, r := range rows {
		var c webauthn.Credential
		if err := json.Unmarshal(r.Credential, &c); err != nil {
			return waUser{}, nil, fmt.Errorf("passkey %s: %w", r.ID, err)
		}
		u.creds = append(u.creds, c)
	}
	return u, rows, nil
}

// ceremony stores a WebAuthn ceremony's session data under a new token.
func (s *Service) saveCeremony(ctx context.Context, kind string, acc *store.AccountRow, tenantID string, sd *webauthn.SessionData) (string, error) {
	raw, err := json.Marshal(sd)
	if err != nil {
		return "", err
	}
	token, id := newToken()
	sealer, err := s.keys.Sealer(ctx, tenantID)
	if err != nil {
		return "", err
	}
	data, err := sealer.Seal(raw, tokenLocation(kind, id))
	if err != nil {
		return "", err
	}
	now := s.now().UTC()
	row := store.AuthTokenRow{ID: id, Kind: kind, TenantID: tenantID, Data: data, CreatedAt: now, ExpiresAt: now.Add(ceremonyLifetime)}
	if acc != nil {
		row.AccountID = acc.ID
	}
	return token, s.db.Write(ctx, func(tx *store.Tx) error { return tx.InsertAuthToken(ctx, row) })
}

// takeCeremony loads and uses up a ceremony (it works once).
func (s *Service) takeCeremony(ctx context.Context, kind, token string) (store.AuthTokenRow, webauthn.SessionData, error) {
	gone := problem.New(problem.KindInvalid, "ceremony_expired", "This passkey request has expired or was used. Start again.")
	if !validTokenForm(token) {
		return store.AuthTokenRow{}, webauthn.SessionData{}, gone
	}
	id := hashToken(token)
	row, err := s.db.Reader().AuthToken(ctx, kind, id)
	if err != nil {
		return row, webauthn.SessionData{}, gone
	}
	if err := s.db.Write(ctx, func(tx *store.Tx) error { return tx.UseAuthToken(ctx, kind, id, s.now().UTC()) }); err != nil {
		return row, webauthn.SessionData{}, gone
	}
	sealer, err := s.keys.Sealer(ctx, row.TenantID)
	if err != nil {
		return row, webauthn.SessionData{}, err
	}
	raw, err := sealer.Open(row.Data, tokenLocation(kind, id))
	if err != nil {
		return row, webauthn.SessionData{}, gone
	}
	var sd webauthn.SessionData
	if err := json.Unmarshal(raw, &sd); err != nil {
		return row, webauthn.SessionData{}, gone
	}
	return row, sd, nil
}

func badPasskeyResponse(err error) error {
	return problem.Wrap(err, problem.KindInvalid, "invalid_passkey_response", "The passkey's answer could not be verified.")
}

// BeginPasskeyRegistration starts adding a passkey to the principal's
// account. It returns the options for navigator.credentials.create() and a
// ceremony token for the finish call.
func (s *Service) BeginPasskeyRegistration(ctx context.Context, p authz.Principal) (json.RawMessage, string, error) {
	acc, err := s.self(ctx, p, authz.SelfCredentials)
	if err != nil {
		return nil, "", err
	}
	u, _, err := s.waUser(ctx, acc)
	if err != nil {
		return nil, "", err
	}
	var exclude []protocol.CredentialDescriptor
	for _, c := range u.creds {
		exclude = append(exclude, c.Descriptor())
	}
	opts, sd, err := s.webauthn.BeginRegistration(u,
		webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementRequired),
		webauthn.WithExclusions(exclude),
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
			ResidentKey: protocol.ResidentKeyRequirementRequired, UserVerification: protocol.VerificationRequired,
		}))
	if err != nil {
		return nil, "", err
	}
	token, err := s.saveCeremony(ctx, "webauthn_reg", &acc, acc.TenantID, sd)
	if err != nil {
		return nil, "", err
	}
	raw, err := json.Marshal(opts)
	return raw, token, err
}

// Passkey is a registered passkey as its owner sees it.
type Passkey struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
}

// FinishPasskeyRegistration verifies the authenticator's answer and stores
// the passkey.
func (s *Service) FinishPasskeyRegistration(ctx context.Context, p authz.Principal, ceremony, name string, response []byte) (Passkey, error) {
	acc, err := s.self(ctx, p, authz.SelfCredentials)
	if err != nil {
		return Passkey{}, err
	}
	name = strings.TrimSpace(name)
	if name == "" {
		name = "Passkey"
	}
	if utf8.RuneCountInString(name) > 100 {
		return Passkey{}, problem.Invalid("invalid_name", "The name is too long.", problem.Field("/name", "too_long", "Use at most 100 characters."))
	}
	if len(response) > maxPasskeyResponse {
		return Passkey{}, badPasskeyResponse(errors.New("response too large"))
	}
	row, sd, err := s.takeCeremony(ctx, "webauthn_reg", ceremony)
	if err != nil {
		return Passkey{}, err
	}
	if row.AccountID != acc.ID {
		return Passkey{}, problem.New(problem.KindInvalid, "ceremony_expired", "This passkey request belongs to another session.")
	}
	u, _, err := s.waUser(ctx, acc)
	if err != nil {
		return Passkey{}, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return Passkey{}, badPasskeyResponse(err)
	}
	cred, err := s.webauthn.CreateCredential(u, sd, parsed)
	if err != nil {
		return Passkey{}, badPasskeyResponse(err)
	}
	raw, err := json.Marshal(cred)
	if err != nil {
		return Passkey{}, err
	}
	now := s.now().UTC()
	pk := store.PasskeyRow{ID: uuid.Must(uuid.NewV7()).String(), AccountID: acc.ID, TenantID: acc.TenantID, CredentialID: cred.ID,
		Credential: raw, Name: name, CreatedAt: now}
	err = s.change(ctx, "account.passkey.add", "passkey", pk.ID, acc.TenantID, func(tx *store.Tx) error { return tx.InsertPasskey(ctx, pk) })
	if errors.Is(err, store.ErrConflict) {
		return Passkey{}, problem.Conflict("passkey_exists", "This passkey is registered already.")
	}
	if err != nil {
		return Passkey{}, err
	}
	return Passkey{ID: pk.ID, Name: name, CreatedAt: now}, nil
}

// Passkeys lists the principal's passkeys.
func (s *Service) Passkeys(ctx context.Context, p authz.Principal) ([]Passkey, error) {
	if err := s.requireSelf(p, authz.SelfCredentials); err != nil {
		return nil, err
	}
	rows, err := s.db.Reader().Passkeys(ctx, tenantKey(p.TenantID), p.ID)
	if err != nil {
		return nil, err
	}
	out := make([]Passkey, 0, len(rows))
	for _, r := range rows {
		out = append(out, Passkey{ID: r.ID, Name: r.Name, CreatedAt: r.CreatedAt, LastUsedAt: r.LastUsedAt})
	}
	return out, nil
}

// DeletePasskey removes one of the principal's passkeys.
func (s *Service) DeletePasskey(ctx context.Context, p authz.Principal, id string) error {
	if err := s.requireSelf(p, authz.SelfCredentials); err != nil {
		return err
	}
	err := s.change(ctx, "account.passkey.delete", "passkey", id, tenantKey(p.TenantID), func(tx *store.Tx) error { return tx.DeletePasskey(ctx, tenantKey(p.TenantID), p.ID, id) })
	if isNotFound(err) {
		return problem.NotFound("passkey_not_found", "No such passkey.")
	}
	return err
}

// BeginPasskeySecondFactor asks for an assertion from one of the account's
// passkeys, as the second step of a password login.
func (s *Service) BeginPasskeySecondFactor(ctx context.Context, challenge string) (json.RawMessage, error) {
	row, c, acc, err := s.loadChallenge(ctx, challenge)
	if err != nil {
		return nil, err
	}
	u, _, err := s.waUser(ctx, acc)
	if err != nil {
		return nil, err
	}
	if len(u.creds) == 0 {
		return nil, problem.Conflict("no_passkey", "This account has no passkey.")
	}
	opts, sd, err := s.webauthn.BeginLogin(u, webauthn.WithUserVerification(protocol.VerificationPreferred))
	if err != nil {
		return nil, err
	}
	if c.WebAuthn, err = json.Marshal(sd); err != nil {
		return nil, err
	}
	data, err := s.sealChallenge(ctx, row.TenantID, row.ID, c)
	if err != nil {
		return nil, err
	}
	if err := s.db.Write(ctx, func(tx *store.Tx) error { return tx.UpdateAuthTokenData(ctx, "mfa", row.ID, data) }); err != nil {
		return nil, err
	}
	return json.Marshal(opts)
}

// FinishPasskeySecondFactor completes a password login with a passkey.
func (s *Service) FinishPasskeySecondFactor(ctx context.Context, challenge string, response []byte) (NewSession, error) {
	row, c, acc, err := s.loadChallenge(ctx, challenge)
	if err != nil {
		return NewSession{}, err
	}
	if len(c.WebAuthn) == 0 {
		return NewSession{}, problem.Conflict("no_passkey_request", "Ask for the passkey first.")
	}
	var sd webauthn.SessionData
	if err := json.Unmarshal(c.WebAuthn, &sd); err != nil {
		return NewSession{}, ErrChallengeGone
	}
	u, rows, err := s.waUser(ctx, acc)
	if err != nil {
		return NewSession{}, err
	}
	if err := s.verifyAssertion(ctx, u, rows, sd, response); err != nil {
		_ = s.db.Write(ctx, func(tx *store.Tx) error { _, err := tx.CountAuthTokenAttempt(ctx, "mfa", row.ID); return err })
		return NewSession{}, err
	}
	if err := s.db.Write(ctx, func(tx *store.Tx) error { return tx.UseAuthToken(ctx, "mfa", row.ID, s.now().UTC()) }); err != nil {
		return NewSession{}, ErrChallengeGone
	}
	return s.startSession(ctx, acc, c.Method, true)
}

// verifyAssertion checks an assertion for a known user and saves the
// credential's new signature counter. A counter that went backwards (a
// cloned authenticator) is refused.
func (s *Service) verifyAssertion(ctx context.Context, u waUser, rows []store.PasskeyRow, sd webauthn.SessionData, response []byte) error {
	if len(response) > maxPasskeyResponse {
		return badPasskeyResponse(errors.New("response too large"))
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return badPasskeyResponse(err)
	}
	cred, err := s.webauthn.ValidateLogin(u, sd, parsed)
	if err != nil {
		return badPasskeyResponse(err)
	}
	return s.savePasskeyUse(ctx, u.acc.TenantID, rows, cred)
}

func (s *Service) savePasskeyUse(ctx context.Context, tenantID string, rows []store.PasskeyRow, cred *webauthn.Credential) error {
	if cred.Authenticator.CloneWarning {
		return problem.New(problem.KindUnauthenticated, "passkey_cloned", "This passkey's counter went backwards, which suggests it was copied. It was refused.")
	}
	raw, err := json.Marshal(cred)
	if err != nil {
		return err
	}
	for _, r := range rows {
		if string(r.CredentialID) == string(cred.ID) {
			return s.db.Write(ctx, func(tx *store.Tx) error { return tx.UpdatePasskeyUse(ctx, tenantID, r.ID, raw, s.now().UTC()) })
		}
	}
	return badPasskeyResponse(errors.New("unknown credential"))
}

// BeginPasskeyLogin starts a passwordless login into a tenant (or as an
// operator with tenant ""): the browser offers the passkeys it holds.
func (s *Service) BeginPasskeyLogin(ctx context.Context, tenantSlug string) (json.RawMessage, string, error) {
	tenantID := store.PlatformTenant
	if tenantSlug = strings.ToLower(strings.TrimSpace(tenantSlug)); tenantSlug != "" {
		t, err := s.db.Reader().TenantBySlug(ctx, tenantSlug)
		if err != nil {
			if isNotFound(err) {
				return nil, "", problem.NotFound("tenant_not_found", "No organisation has that short name.")
			}
			return nil, "", err
		}
		tenantID = t.ID
	}
	opts, sd, err := s.webauthn.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return nil, "", err
	}
	token, err := s.saveCeremony(ctx, "webauthn_login", nil, tenantID, sd)
	if err != nil {
		return nil, "", err
	}
	raw, err := json.Marshal(opts)
	return raw, token, err
}

// FinishPasskeyLogin completes a passwordless login. A passkey with user
// verification is phishing-resistant and counts as two factors.
func (s *Service) FinishPasskeyLogin(ctx context.Context, ceremony string, response []byte) (NewSession, error) {
	if len(response) > maxPasskeyResponse {
		return NewSession{}, badPasskeyResponse(errors.New("response too large"))
	}
	row, sd, err := s.takeCeremony(ctx, "webauthn_login", ceremony)
	if err != nil {
		return NewSession{}, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return NewSession{}, badPasskeyResponse(err)
	}
	var found waUser
	var foundRows []store.PasskeyRow
	handler := func(rawID, userHandle []byte) (webauthn.User, error) {
		acc, err := s.db.Reader().Account(ctx, row.TenantID, string(userHandle))
		if err != nil || acc.Status != "active" {
			return nil, errors.New("no such account")
		}
		u, rows, err := s.waUser(ctx, acc)
		if err != nil {
			return nil, err
		}
		found, foundRows = u, rows
		return u, nil
	}
	cred, err := s.webauthn.ValidateDiscoverableLogin(handler, sd, parsed)
	if err != nil {
		return NewSession{}, badPasskeyResponse(err)
	}
	if err := s.savePasskeyUse(ctx, row.TenantID, foundRows, cred); err != nil {
		return NewSession{}, err
	}
	return s.startSession(ctx, found.acc, "passkey", true)
}
