package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/valvhq/valv/internal/audit"
	"github.com/valvhq/valv/internal/problem"
	"github.com/valvhq/valv/internal/seal"
	"github.com/valvhq/valv/internal/store"
)

// Keys hands out tenants' sealers (the keyring).
type Keys interface {
	Sealer(ctx context.Context, tenant string) (*seal.Sealer, error)
}

// Policy is what login needs to know about a tenant.
type Policy struct {
	Name            string
	Active          bool
	Require2FA      bool
	IdleTimeout     time.Duration
	SecurityContact string
}

// Policies reads tenants' login policies (the tenant service).
type Policies interface {
	LoginPolicy(ctx context.Context, tenantID string) (Policy, error)
}

// Mailer sends the mails authentication needs.
type Mailer interface {
	LoginCode(ctx context.Context, to, lang, code string, validFor time.Duration) error
	PasswordReset(ctx context.Context, to, lang, link string, validFor time.Duration) error
	// AccountSetup mails a setup link; role is the account's role, org the
	// tenant's name ("" for operators).
	AccountSetup(ctx context.Context, to, lang, role, org, link string, validFor time.Duration) error
	Lockout(ctx context.Context, to []string, lang string, at, until time.Time) error
}

// Options configures a Service.
type Options struct {
	DB       *store.DB
	Keys     Keys
	Policies Policies
	Mailer   Mailer
	Logger   *slog.Logger
	Now      func() time.Time
	// PublicURL is where users reach Valv (links, WebAuthn origin).
	PublicURL string
	// SessionLifetime is a session's absolute lifetime (default 12h).
	SessionLifetime time.Duration
	// OperatorIdleTimeout is operators' idle timeout (default 2h).
	OperatorIdleTimeout time.Duration
	// Hasher hashes passwords; nil means DefaultParams with a cap of 4.
	Hasher *Hasher
	// HTTPClient reaches OIDC providers; nil means a default client.
	HTTPClient *http.Client
	// Audit records changes with their entries.
	Audit Auditor
}

// Service is authentication.
type Service struct {
	db        *store.DB
	keys      Keys
	policies  Policies
	mail      Mailer
	log       *slog.Logger
	now       func() time.Time
	publicURL *url.URL
	lifetime  time.Duration
	opIdle    time.Duration
	hasher    *Hasher
	audit     Auditor
	webauthn  *webauthn.WebAuthn
	http      *http.Client

	oidcMu    sync.Mutex
	oidcCache map[string]*oidcEntry
}

// SetPublicURL changes where users reach Valv (links, the WebAuthn relying
// party). It is called once at start, after the listener picked its port,
// before requests are served.
func (s *Service) SetPublicURL(public string) error {
	u, wa, err := relyingParty(public)
	if err != nil {
		return err
	}
	s.publicURL, s.webauthn = u, wa
	return nil
}

// PublicURL is where users reach Valv.
func (s *Service) PublicURL() string { return s.publicURL.String() }

func relyingParty(public string) (*url.URL, *webauthn.WebAuthn, error) {
	u, err := url.Parse(public)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, nil, fmt.Errorf("auth: public URL %q is not an https:// URL", public)
	}
	wa, err := webauthn.New(&webauthn.Config{
		RPDisplayName: "Valv",
		RPID:          u.Hostname(),
		RPOrigins:     []string{u.Scheme + "://" + u.Host},
	})
	if err != nil {
		return nil, nil, fmt.Errorf("auth: WebAuthn: %w", err)
	}
	return u, wa, nil
}

// New builds the service.
func New(o Options) (*Service, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.SessionLifetime <= 0 {
		o.SessionLifetime = 12 * time.Hour
	}
	if o.OperatorIdleTimeout <= 0 {
		o.OperatorIdleTimeout = 2 * time.Hour
	}
	if o.Hasher == nil {
		o.Hasher = NewHasher(DefaultParams, 4)
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 15 * time.Second}
	}
	u, wa, err := relyingParty(o.PublicURL)
	if err != nil {
		return nil, err
	}
	return &Service{db: o.DB, keys: o.Keys, policies: o.Policies, mail: o.Mailer, log: o.Logger, now: o.Now,
		publicURL: u, lifetime: o.SessionLifetime, opIdle: o.OperatorIdleTimeout, hasher: o.Hasher, webauthn: wa, audit: o.Audit,
		http: o.HTTPClient, oidcCache: map[string]*oidcEntry{}}, nil
}

// Hasher returns the password hasher (for benchmarks and reports).
func (s *Service) Hasher() *Hasher { return s.hasher }

// Errors a client sees.
var (
	ErrInvalidCredentials = &problem.Error{Kind: problem.KindUnauthenticated, Code: "invalid_credentials",
		Message: "The organisation, e-mail address or password is not right. If this keeps happening, the account may be locked for a while: check your e-mail."}
	ErrUnauthenticated = problem.New(problem.KindUnauthenticated, "unauthenticated", "Log in first.")
	ErrSessionExpired  = problem.New(problem.KindUnauthenticated, "session_expired", "Your session has ended. Log in again.")
	ErrInvalidCode     = problem.New(problem.KindUnauthenticated, "invalid_code", "The code is not right or has expired.")
	ErrChallengeGone   = problem.New(problem.KindUnauthenticated, "challenge_expired", "This login has expired or was used. Start again with your password.")
	ErrInvalidLink     = problem.New(problem.KindNotFound, "invalid_link", "This link is not valid any more: it was used, has expired, or was replaced by a newer one.")
	ErrTenantSuspended = problem.Forbidden("tenant_suspended", "Your organisation's account is suspended. Contact the platform's support.")
)

func tooManyAttempts(retry time.Duration) error {
	p := problem.New(problem.KindTooManyRequests, "too_many_attempts", "Too many failed attempts from your network. Wait a while and try again.")
	p.RetryAfter = int(retry.Seconds()) + 1
	return p
}

// tenantKey returns the keyset owner for a tenant id ("" = operators).
func tenantKey(tenantID string) string {
	if tenantID == "" {
		return store.PlatformTenant
	}
	return tenantID
}

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }

// normaliseEmail is the form e-mail addresses are indexed in.
func normaliseEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

func (s *Service) link(path, token string) string {
	u := *s.publicURL
	u.Path = path
	u.RawQuery = url.Values{"token": {token}}.Encode()
	return u.String()
}

// Auditor writes a change together with its audit entry (the audit trail).
type Auditor interface {
	Do(ctx context.Context, d audit.Description, fn func(tx *store.Tx) error) error
}

// change runs fn with the audit entry of a change to a resource owned by
// tenantKey (a tenant id, or store.PlatformTenant): both commit or neither.
// The call's action names the entry; action is used when it has none.
func (s *Service) change(ctx context.Context, action, resType, resID, tenantKey string, fn func(tx *store.Tx) error) error {
	return s.audit.Do(ctx, audit.Description{Action: action, TenantID: chainTenant(tenantKey), ResourceType: resType, ResourceID: resID}, fn)
}

// chainTenant is the audit entry's tenant for a tenant key ("" for the
// platform's own accounts).
func chainTenant(tenantKey string) string {
	if tenantKey == store.PlatformTenant {
		return ""
	}
	return tenantKey
}
