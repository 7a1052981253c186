package auth

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/valvhq/valv/internal/problem"
	"github.com/valvhq/valv/internal/seal"
	"github.com/valvhq/valv/internal/store"
)

// OpenID Connect login per tenant (AUTH-3): a tenant plugs in an identity
// provider (for example a Swedish BankID broker). Identities are mapped to
// existing users only — a login never creates an account.

const (
	oidcStateLifetime = 10 * time.Minute
	oidcCacheTTL      = 10 * time.Minute
	// OIDCCallbackPath is where providers send users back.
	OIDCCallbackPath = "/api/v1/auth/oidc/callback"
)

// OIDCConfig is a tenant's identity-provider configuration.
type OIDCConfig struct {
	Issuer       string `json:"issuer"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret,omitempty"`
	// Claim is how identities map to users: "email" (a verified e-mail
	// address equal to the user's; the provider's subject is then linked) or
	// "sub" (only already-linked subjects).
	Claim string `json:"claim"`
	// SatisfiesMFA says the provider's login is strong (e.g. BankID), so it
	// meets the tenant's two-factor requirement on its own.
	SatisfiesMFA bool `json:"satisfies_mfa"`
	Enabled      bool `json:"enabled"`
}

type oidcEntry struct {
	provider *oidc.Provider
	issuer   string
	fetched  time.Time
}

type oidcState struct {
	Nonce    string `json:"nonce"`
	Verifier string `json:"verifier"`
}

func (s *Service) oidcContext(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, s.http)
}

func (s *Service) provider(ctx context.Context, tenantID, issuer string) (*oidc.Provider, error) {
	s.oidcMu.Lock()
	e := s.oidcCache[tenantID]
	s.oidcMu.Unlock()
	if e != nil && e.issuer == issuer && s.now().Sub(e.fetched) < oidcCacheTTL {
		return e.provider, nil
	}
	p, err := oidc.NewProvider(s.oidcContext(ctx), issuer)
	if err != nil {
		return nil, problem.Wrap(err, problem.KindUnavailable, "oidc_unavailable", "The identity provider could not be reached.")
	}
	s.oidcMu.Lock()
	s.oidcCache[tenantID] = &oidcEntry{provider: p, issuer: issuer, fetched: s.now()}
	s.oidcMu.Unlock()
	return p, nil
}

func oidcSecretLocation(tenantID string) seal.Location {
	return seal.Location{Table: "oidc_providers", Row: tenantID, Field: "client_secret"}
}

// ConfigureOIDC sets a tenant's provider after checking that its discovery
// document can be fetched. An empty client secret keeps the stored one.
// The caller has authorised the change.
func (s *Service) ConfigureOIDC(ctx context.Context, tenantID string, c OIDCConfig) error {
	var fields []problem.FieldError
	u, err := url.Parse(c.Issuer)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		fields = append(fields, problem.Field("/issuer", "invalid_url", "The issuer is the provider's https:// URL."))
	}
	if c.ClientID == "" || len(c.ClientID) > 255 {
		fields = append(fields, problem.Field("/client_id", "required", "Give the client id the provider issued."))
	}
	if len(c.ClientSecret) > 1024 {
		fields = append(fields, problem.Field("/client_secret", "too_long", "The secret is too long."))
	}
	if c.Claim != "email" && c.Claim != "sub" {
		fields = append(fields, problem.Field("/claim", "invalid_claim", "Use email or sub."))
	}
	if len(fields) > 0 {
		return problem.Invalid("invalid_oidc_config", "The identity provider settings are not valid.", fields...)
	}
	sealer, err := s.keys.Sealer(ctx, tenantID)
	if err != nil {
		return err
	}
	secret := []byte(nil)
	if c.ClientSecret != "" {
		if secret, err = sealer.SealString(c.ClientSecret, oidcSecretLocation(tenantID)); err != nil {
			return err
		}
	} else if old, err := s.db.Reader().OIDCProvider(ctx, tenantID); err == nil {
		secret = old.ClientSecret
	} else {
		return problem.Invalid("invalid_oidc_config", "The client secret is required.", problem.Field("/client_secret", "required", "Give the client secret."))
	}
	if c.Enabled {
		s.forgetProvider(tenantID)
		if _, err := s.provider(ctx, tenantID, c.Issuer); err != nil {
			return problem.Invalid("oidc_discovery_failed", "The provider's discovery document (/.well-known/openid-configuration) could not be read from the issuer URL.")
		}
	}
	return s.change(ctx, "tenant.oidc.configure", "tenant", tenantID, tenantID, func(tx *store.Tx) error {
		return tx.PutOIDCProvider(ctx, store.OIDCProviderRow{TenantID: tenantID, Issuer: c.Issuer, ClientID: c.ClientID, ClientSecret: secret,
			Claim: c.Claim, SatisfiesMFA: c.SatisfiesMFA, Enabled: c.Enabled, UpdatedAt: s.now().UTC()})
	})
}

func (s *Service) forgetProvider(tenantID string) {
	s.oidcMu.Lock()
	delete(s.oidcCache, tenantID)
	s.oidcMu.Unlock()
}

// OIDCSettings returns a tenant's provider settings without the secret.
func (s *Service) OIDCSettings(ctx context.Context, tenantID string) (OIDCConfig, error) {
	r, err := s.db.Reader().OIDCProvider(ctx, tenantID)
	if isNotFound(err) {
		return OIDCConfig{Claim: "email"}, nil
	}
	if err != nil {
		return OIDCConfig{}, err
	}
	return OIDCConfig{Issuer: r.Issuer, ClientID: r.ClientID, Claim: r.Claim, SatisfiesMFA: r.SatisfiesMFA, Enabled: r.Enabled}, nil
}

var errNoOIDC = problem.NotFound("oidc_not_configured", "This organisation has no single sign-on.")

func (s *Service) oauthConfig(ctx context.Context, tenantID string) (*oauth2.Config, *oidc.Provider, store.OIDCProviderRow, error) {
	r, err := s.db.Reader().OIDCProvider(ctx, tenantID)
	if isNotFound(err) || (err == nil && !r.Enabled) {
		return nil, nil, r, errNoOIDC
	}
	if err != nil {
		return nil, nil, r, err
	}
	p, err := s.provider(ctx, tenantID, r.Issuer)
	if err != nil {
		return nil, nil, r, err
	}
	sealer, err := s.keys.Sealer(ctx, tenantID)
	if err != nil {
		return nil, nil, r, err
	}
	secret, err := sealer.OpenString(r.ClientSecret, oidcSecretLocation(tenantID))
	if err != nil {
		return nil, nil, r, err
	}
	cb := *s.publicURL
	cb.Path, cb.RawQuery = OIDCCallbackPath, ""
	return &oauth2.Config{ClientID: r.ClientID, ClientSecret: secret, Endpoint: p.Endpoint(), RedirectURL: cb.String(),
		Scopes: []string{oidc.ScopeOpenID, "email"}}, p, r, nil
}

// StartOIDC returns the provider's authorisation URL for a tenant's login,
// with state, nonce and PKCE.
func (s *Service) StartOIDC(ctx context.Context, tenantSlug string) (string, error) {
	t, err := s.db.Reader().TenantBySlug(ctx, strings.ToLower(strings.TrimSpace(tenantSlug)))
	if isNotFound(err) {
		return "", errNoOIDC
	}
	if err != nil {
		return "", err
	}
	conf, _, _, err := s.oauthConfig(ctx, t.ID)
	if err != nil {
		return "", err
	}
	st := oidcState{Nonce: randomString(), Verifier: oauth2.GenerateVerifier()}
	raw, _ := json.Marshal(st)
	token, id := newToken()
	sealer, err := s.keys.Sealer(ctx, t.ID)
	if err != nil {
		return "", err
	}
	data, err := sealer.Seal(raw, tokenLocation("oidc", id))
	if err != nil {
		return "", err
	}
	now := s.now().UTC()
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		return tx.InsertAuthToken(ctx, store.AuthTokenRow{ID: id, Kind: "oidc", TenantID: t.ID, Data: data, CreatedAt: now, ExpiresAt: now.Add(oidcStateLifetime)})
	})
	if err != nil {
		return "", err
	}
	return conf.AuthCodeURL(token, oidc.Nonce(st.Nonce), oauth2.S256ChallengeOption(st.Verifier)), nil
}

func randomString() string { t, _ := newToken(); return t }

var errOIDCFailed = problem.New(problem.KindUnauthenticated, "oidc_failed", "The login with your organisation's identity provider did not succeed. Start again.")

// FinishOIDC completes a provider login from the callback's state and code.
func (s *Service) FinishOIDC(ctx context.Context, state, code string) (LoginResult, error) {
	if !validTokenForm(state) || code == "" || len(code) > 4096 {
		return LoginResult{}, errOIDCFailed
	}
	id := hashToken(state)
	row, err := s.db.Reader().AuthToken(ctx, "oidc", id)
	if err != nil {
		return LoginResult{}, errOIDCFailed
	}
	if err := s.db.Write(ctx, func(tx *store.Tx) error { return tx.UseAuthToken(ctx, "oidc", id, s.now().UTC()) }); err != nil {
		return LoginResult{}, errOIDCFailed
	}
	sealer, err := s.keys.Sealer(ctx, row.TenantID)
	if err != nil {
		return LoginResult{}, err
	}
	raw, err := sealer.Open(row.Data, tokenLocation("oidc", id))
	if err != nil {
		return LoginResult{}, errOIDCFailed
	}
	var st oidcState
	if err := json.Unmarshal(raw, &st); err != nil {
		return LoginResult{}, errOIDCFailed
	}
	conf, p, cfg, err := s.oauthConfig(ctx, row.TenantID)
	if err != nil {
		return LoginResult{}, err
	}
	tok, err := conf.Exchange(s.oidcContext(ctx), code, oauth2.VerifierOption(st.Verifier))
	if err != nil {
		return LoginResult{}, problem.Wrap(err, problem.KindUnauthenticated, "oidc_failed", errOIDCFailed.Message)
	}
	rawID, _ := tok.Extra("id_token").(string)
	idt, err := p.Verifier(&oidc.Config{ClientID: cfg.ClientID, Now: s.now}).Verify(s.oidcContext(ctx), rawID)
	if err != nil || idt.Nonce != st.Nonce {
		return LoginResult{}, problem.Wrap(err, problem.KindUnauthenticated, "oidc_failed", errOIDCFailed.Message)
	}
	var claims struct {
		Email         string `json:"email"`
		EmailVerified bool   `json:"email_verified"`
	}
	if err := idt.Claims(&claims); err != nil {
		return LoginResult{}, errOIDCFailed
	}
	if claims.Email == "" && cfg.Claim == "email" {
		// Many providers put the address only in the UserInfo response.
		info, err := p.UserInfo(s.oidcContext(ctx), oauth2.StaticTokenSource(tok))
		if err != nil || info.Subject != idt.Subject {
			return LoginResult{}, problem.Wrap(err, problem.KindUnauthenticated, "oidc_failed", errOIDCFailed.Message)
		}
		claims.Email, claims.EmailVerified = info.Email, info.EmailVerified
	}
	subject, err := sealer.BlindIndex("oidc-subject", idt.Issuer+"\x00"+idt.Subject)
	if err != nil {
		return LoginResult{}, err
	}
	acc, err := s.db.Reader().AccountByOIDCSubject(ctx, row.TenantID, subject)
	if isNotFound(err) && cfg.Claim == "email" && claims.EmailVerified && claims.Email != "" {
		idx, ierr := sealer.BlindIndex("email", normaliseEmail(claims.Email))
		if ierr != nil {
			return LoginResult{}, ierr
		}
		acc, err = s.db.Reader().AccountByEmail(ctx, row.TenantID, idx)
		if err == nil && len(acc.OIDCSubject) == 0 {
			acc.OIDCSubject = subject // link the identity for next time
		}
	}
	if isNotFound(err) {
		return LoginResult{}, problem.Forbidden("oidc_no_account",
			"You logged in with your identity provider, but no user in this organisation matches. Ask an administrator to add you.")
	}
	if err != nil {
		return LoginResult{}, err
	}
	if acc.Status != "active" {
		return LoginResult{}, errOIDCFailed
	}
	if err := s.db.Write(ctx, func(tx *store.Tx) error { return tx.UpdateAccount(ctx, acc) }); err != nil {
		return LoginResult{}, fmt.Errorf("link identity: %w", err)
	}
	return s.afterFirstFactor(ctx, acc, "oidc", cfg.SatisfiesMFA)
}
