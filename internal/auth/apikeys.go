package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/valvhq/valv/internal/audit"
	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/problem"
	"github.com/valvhq/valv/internal/store"
)

// API keys (AUTH-6) look like valv_<id>_<secret>: "valv_", 16 characters
// of lower-case base32 (an 80-bit public id), "_", and 43 characters of
// base64url (a 256-bit secret). Only SHA-256 of the secret is stored; the
// key is shown once, when it is made.
const (
	apiKeyPrefix    = "valv_"
	apiKeyIDLen     = 16
	apiKeySecretLen = 43
	apiKeyLen       = len(apiKeyPrefix) + apiKeyIDLen + 1 + apiKeySecretLen
	// MaxAllowedIPs bounds a key's allowlist.
	MaxAllowedIPs = 100
	// MaxKeyLifetime bounds a key's expiry.
	MaxKeyLifetime = 5 * 365 * 24 * time.Hour
	// keyTouchInterval is how stale a key's last-used time may get.
	keyTouchInterval = time.Minute
)

var keyIDEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// Errors of API-key authentication.
var (
	ErrInvalidAPIKey = problem.New(problem.KindUnauthenticated, "invalid_api_key", "The API key is not valid: it may be mistyped or revoked.")
	ErrAPIKeyExpired = problem.New(problem.KindUnauthenticated, "api_key_expired", "The API key has expired. Ask an administrator for a new one.")
	ErrIPNotAllowed  = problem.Forbidden("ip_not_allowed", "This API key may not be used from your network address.")
)

// ParseAPIKey splits a key into its id and secret, checking its form.
func ParseAPIKey(s string) (id, secret string, err error) {
	if len(s) != apiKeyLen || !strings.HasPrefix(s, apiKeyPrefix) || s[len(apiKeyPrefix)+apiKeyIDLen] != '_' {
		return "", "", ErrInvalidAPIKey
	}
	id = s[len(apiKeyPrefix) : len(apiKeyPrefix)+apiKeyIDLen]
	secret = s[len(apiKeyPrefix)+apiKeyIDLen+1:]
	if _, err := keyIDEncoding.DecodeString(id); err != nil {
		return "", "", ErrInvalidAPIKey
	}
	if _, err := base64.RawURLEncoding.DecodeString(secret); err != nil {
		return "", "", ErrInvalidAPIKey
	}
	return id, secret, nil
}

func newAPIKey() (key, id string, hash []byte) {
	idb := make([]byte, 10)
	_, _ = rand.Read(idb)
	id = keyIDEncoding.EncodeToString(idb)
	sb := make([]byte, 32)
	_, _ = rand.Read(sb)
	secret := base64.RawURLEncoding.EncodeToString(sb)
	sum := sha256.Sum256([]byte(secret))
	return apiKeyPrefix + id + "_" + secret, id, sum[:]
}

// Allowlist is a set of addresses and ranges a key may be used from; an
// empty list allows any address.
type Allowlist []netip.Prefix

// ParseAllowlist parses addresses ("192.0.2.7", "2001:db8::1") and CIDR
// ranges ("10.0.0.0/8"). It refuses anything else, and ranges with bits
// set beyond their prefix, which are usually typing mistakes.
func ParseAllowlist(entries []string) (Allowlist, error) {
	if len(entries) > MaxAllowedIPs {
		return nil, problem.Invalid("invalid_allowlist", fmt.Sprintf("At most %d addresses or ranges.", MaxAllowedIPs))
	}
	out := make(Allowlist, 0, len(entries))
	for i, e := range entries {
		field := fmt.Sprintf("/allowed_ips/%d", i)
		e = strings.TrimSpace(e)
		var p netip.Prefix
		var err error
		if strings.Contains(e, "/") {
			p, err = netip.ParsePrefix(e)
			if err == nil && p.Masked() != p {
				return nil, problem.Invalid("invalid_allowlist", "A range has bits set after its prefix.",
					problem.Field(field, "not_masked", fmt.Sprintf("Did you mean %s?", p.Masked())))
			}
		} else {
			var a netip.Addr
			if a, err = netip.ParseAddr(e); err == nil {
				if a.Zone() != "" {
					err = errors.New("zoned address")
				}
				a = a.Unmap()
				p = netip.PrefixFrom(a, a.BitLen())
			}
		}
		if err != nil || p.Addr().Zone() != "" {
			return nil, problem.Invalid("invalid_allowlist", "An entry is not an address or a range.",
				problem.Field(field, "invalid_ip", "Use an IPv4 or IPv6 address, or a range such as 10.0.0.0/8."))
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p)
	}
	return out, nil
}

// Allows reports whether a key with this list may be used from ip.
func (a Allowlist) Allows(ip netip.Addr) bool {
	if len(a) == 0 {
		return true
	}
	ip = ip.Unmap()
	for _, p := range a {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

func (a Allowlist) strings() []string {
	out := make([]string, len(a))
	for i, p := range a {
		if p.IsSingleIP() {
			out[i] = p.Addr().String()
		} else {
			out[i] = p.String()
		}
	}
	return out
}

// APIKey is a key as its tenant's admins see it (never the secret).
type APIKey struct {
	ID         string        `json:"id"`
	Name       string        `json:"name"`
	Scopes     []authz.Scope `json:"scopes"`
	AllowedIPs []string      `json:"allowed_ips"`
	CreatedBy  string        `json:"created_by"`
	CreatedAt  time.Time     `json:"created_at"`
	ExpiresAt  time.Time     `json:"expires_at,omitzero"`
	LastUsedAt time.Time     `json:"last_used_at,omitzero"`
	RevokedAt  time.Time     `json:"revoked_at,omitzero"`
}

// APIKeyInput describes a new key or a change to one.
type APIKeyInput struct {
	Name       string        `json:"name"`
	Scopes     []authz.Scope `json:"scopes"`
	AllowedIPs []string      `json:"allowed_ips"`
	ExpiresAt  *time.Time    `json:"expires_at,omitempty"`
}

func (s *Service) checkKeyInput(in APIKeyInput) (string, []authz.Scope, Allowlist, time.Time, error) {
	var fields []problem.FieldError
	name := strings.TrimSpace(in.Name)
	if name == "" || utf8.RuneCountInString(name) > 100 {
		fields = append(fields, problem.Field("/name", "invalid_name", "Give the key a name of 1 to 100 characters, e.g. what uses it."))
	}
	if len(in.Scopes) == 0 {
		fields = append(fields, problem.Field("/scopes", "required", "Give the key at least one scope."))
	}
	var scopes []authz.Scope
	for i, sc := range in.Scopes {
		if !authz.ValidScope(sc) {
			fields = append(fields, problem.Field(fmt.Sprintf("/scopes/%d", i), "unknown_scope", "Not a scope; see docs/roles.md."))
		} else if !slices.Contains(scopes, sc) {
			scopes = append(scopes, sc)
		}
	}
	var exp time.Time
	if in.ExpiresAt != nil {
		exp = in.ExpiresAt.UTC()
		if now := s.now(); !exp.After(now) || exp.Sub(now) > MaxKeyLifetime {
			fields = append(fields, problem.Field("/expires_at", "out_of_range", "The expiry must be in the future and within five years."))
		}
	}
	if len(fields) > 0 {
		return "", nil, nil, time.Time{}, problem.Invalid("invalid_api_key_request", "The key's settings are not valid.", fields...)
	}
	allow, err := ParseAllowlist(in.AllowedIPs)
	if err != nil {
		return "", nil, nil, time.Time{}, err
	}
	slices.Sort(scopes)
	return name, scopes, allow, exp, nil
}

func viewKey(r store.APIKeyRow) (APIKey, error) {
	k := APIKey{ID: r.ID, Name: r.Name, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt, LastUsedAt: r.LastUsedAt, RevokedAt: r.RevokedAt}
	if err := json.Unmarshal([]byte(r.Scopes), &k.Scopes); err != nil {
		return APIKey{}, fmt.Errorf("api key %s: scopes: %w", r.ID, err)
	}
	if err := json.Unmarshal([]byte(r.AllowedIPs), &k.AllowedIPs); err != nil {
		return APIKey{}, fmt.Errorf("api key %s: allowlist: %w", r.ID, err)
	}
	return k, nil
}

func (s *Service) authorizeTenant(p authz.Principal, a authz.Action) error {
	if p.Kind == authz.Anonymous {
		return ErrUnauthenticated
	}
	if d := authz.Decide(p, a, authz.Resource{TenantID: p.TenantID}, s.now()); !d.Allowed {
		return problem.Forbidden("forbidden", "You do not have permission to do this.")
	}
	return nil
}

var errKeyNotFound = problem.NotFound("api_key_not_found", "No such API key.")

// CreateAPIKey makes a key for the principal's tenant and returns it with
// the key itself, which is shown only now.
func (s *Service) CreateAPIKey(ctx context.Context, p authz.Principal, in APIKeyInput) (APIKey, string, error) {
	if err := s.authorizeTenant(p, authz.APIKeyCreate); err != nil {
		return APIKey{}, "", err
	}
	name, scopes, allow, exp, err := s.checkKeyInput(in)
	if err != nil {
		return APIKey{}, "", err
	}
	key, id, hash := newAPIKey()
	rawScopes, _ := json.Marshal(scopes)
	rawAllow, _ := json.Marshal(allow.strings())
	row := store.APIKeyRow{ID: id, TenantID: p.TenantID, Name: name, SecretHash: hash, Scopes: string(rawScopes), AllowedIPs: string(rawAllow),
		CreatedBy: p.ID, CreatedAt: s.now().UTC(), ExpiresAt: exp}
	if err := s.change(ctx, "apikey.create", "api_key", id, p.TenantID, func(tx *store.Tx) error { return tx.InsertAPIKey(ctx, row) }); err != nil {
		return APIKey{}, "", err
	}
	k, err := viewKey(row)
	return k, key, err
}

// APIKeys lists the principal's tenant's keys.
func (s *Service) APIKeys(ctx context.Context, p authz.Principal) ([]APIKey, error) {
	if err := s.authorizeTenant(p, authz.APIKeyList); err != nil {
		return nil, err
	}
	rows, err := s.db.Reader().APIKeys(ctx, p.TenantID)
	if err != nil {
		return nil, err
	}
	out := make([]APIKey, 0, len(rows))
	for _, r := range rows {
		k, err := viewKey(r)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, nil
}

// GetAPIKey returns one of the principal's tenant's keys.
func (s *Service) GetAPIKey(ctx context.Context, p authz.Principal, id string) (APIKey, error) {
	if err := s.authorizeTenant(p, authz.APIKeyList); err != nil {
		return APIKey{}, err
	}
	r, err := s.db.Reader().APIKey(ctx, p.TenantID, id)
	if isNotFound(err) {
		return APIKey{}, errKeyNotFound
	}
	if err != nil {
		return APIKey{}, err
	}
	return viewKey(r)
}

// UpdateAPIKey changes a key's name, scopes, allowlist and expiry. The
// change applies to the key's next request.
func (s *Service) UpdateAPIKey(ctx context.Context, p authz.Principal, id string, in APIKeyInput) (APIKey, error) {
	if err := s.authorizeTenant(p, authz.APIKeyUpdate); err != nil {
		return APIKey{}, err
	}
	name, scopes, allow, exp, err := s.checkKeyInput(in)
	if err != nil {
		return APIKey{}, err
	}
	r, err := s.db.Reader().APIKey(ctx, p.TenantID, id)
	if isNotFound(err) {
		return APIKey{}, errKeyNotFound
	}
	if err != nil {
		return APIKey{}, err
	}
	rawScopes, _ := json.Marshal(scopes)
	rawAllow, _ := json.Marshal(allow.strings())
	r.Name, r.Scopes, r.AllowedIPs, r.ExpiresAt = name, string(rawScopes), string(rawAllow), exp
	err = s.change(ctx, "apikey.update", "api_key", id, p.TenantID, func(tx *store.Tx) error { return tx.UpdateAPIKey(ctx, r) })
	if isNotFound(err) {
		return APIKey{}, problem.Conflict("api_key_revoked", "A revoked key cannot be changed.")
	}
	if err != nil {
		return APIKey{}, err
	}
	return viewKey(r)
}

// RevokeAPIKey revokes a key: its next request is refused.
func (s *Service) RevokeAPIKey(ctx context.Context, p authz.Principal, id string) error {
	if err := s.authorizeTenant(p, authz.APIKeyRevoke); err != nil {
		return err
	}
	err := s.change(ctx, "apikey.revoke", "api_key", id, p.TenantID, func(tx *store.Tx) error { return tx.RevokeAPIKey(ctx, p.TenantID, id, s.now().UTC()) })
	if isNotFound(err) {
		return errKeyNotFound
	}
	return err
}

// AuthenticateKey checks an API key presented from ip and returns its
// principal. It reads the key and its tenant on every call, so revocation,
// expiry, a changed scope or allowlist, and a suspended tenant take effect
// on the next request, on every node.
func (s *Service) AuthenticateKey(ctx context.Context, raw string, ip netip.Addr) (authz.Principal, error) {
	id, secret, err := ParseAPIKey(raw)
	if err != nil {
		return authz.Principal{}, err
	}
	sum := sha256.Sum256([]byte(secret))
	row, err := s.db.Reader().APIKeyForAuth(ctx, id)
	if isNotFound(err) {
		return authz.Principal{}, ErrInvalidAPIKey
	}
	if err != nil {
		return authz.Principal{}, err
	}
	// A refused key of a tenant goes on that tenant's trail, naming the key.
	refuse := func(reason string, err error) (authz.Principal, error) {
		audit.Describe(ctx, audit.Description{TenantID: row.TenantID, ResourceType: "api_key", ResourceID: id})
		audit.Detail(ctx, "refused", reason)
		return authz.Principal{}, err
	}
	if subtle.ConstantTimeCompare(sum[:], row.SecretHash) != 1 {
		return refuse("wrong secret", ErrInvalidAPIKey)
	}
	if !row.RevokedAt.IsZero() {
		return refuse("revoked", ErrInvalidAPIKey)
	}
	now := s.now()
	if !row.ExpiresAt.IsZero() && !now.Before(row.ExpiresAt) {
		return refuse("expired", ErrAPIKeyExpired)
	}
	if row.TenantStatus != "active" {
		return refuse("tenant suspended", ErrTenantSuspended)
	}
	var allowed []string
	if err := json.Unmarshal([]byte(row.AllowedIPs), &allowed); err != nil {
		return authz.Principal{}, err
	}
	if len(allowed) > 0 {
		list, err := ParseAllowlist(allowed)
		if err != nil {
			return authz.Principal{}, err
		}
		if !ip.IsValid() || !list.Allows(ip) {
			return refuse("address not allowed", ErrIPNotAllowed)
		}
	}
	var scopes []authz.Scope
	if err := json.Unmarshal([]byte(row.Scopes), &scopes); err != nil {
		return authz.Principal{}, err
	}
	if now.Sub(row.LastUsedAt) >= keyTouchInterval {
		if err := s.db.Write(ctx, func(tx *store.Tx) error { return tx.TouchAPIKey(ctx, id, now.UTC()) }); err != nil {
			return authz.Principal{}, err
		}
	}
	return authz.Principal{Kind: authz.APIKey, ID: id, TenantID: row.TenantID, Scopes: scopes}, nil
}
