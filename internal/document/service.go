package document

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/valvhq/valv/internal/audit"
	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/problem"
	"github.com/valvhq/valv/internal/seal"
	"github.com/valvhq/valv/internal/store"
	"github.com/valvhq/valv/internal/validate"
)

// Keys hands out a tenant's sealer (the keyring).
type Keys interface {
	Sealer(ctx context.Context, tenant string) (*seal.Sealer, error)
}

// Scanner checks an uploaded file for malware (scan.Clamd).
type Scanner interface {
	Check(ctx context.Context, r io.Reader) error
}

// Alerts tells a tenant's security contact about events (the app).
type Alerts interface {
	MalwareFound(ctx context.Context, tenantID, signature string)
}

// Options configures the document service.
type Options struct {
	DB       *store.DB
	Keys     Keys
	Trail    Trail
	Settings Settings
	// Scanner scans uploads; nil means no scanner is configured, and files
	// are refused unless AllowUnscanned.
	Scanner Scanner
	// AllowUnscanned stores a file unscanned when no scanner is configured
	// or the scanner's policy is fail-open and it cannot be reached; the
	// file is marked so and the audit entry says so. Off by default.
	AllowUnscanned bool
	Alerts         Alerts
	Logger         *slog.Logger
	Now            func() time.Time
	// MaxFileSize bounds an uploaded file (DefaultMaxFileSize when zero).
	MaxFileSize int64
	// Policies gives tenants' retention policies; without it documents
	// carry no computed retention (tests of this package alone).
	Policies Policies
}

// DefaultMaxFileSize is the default bound on an uploaded file: 50 MiB.
const DefaultMaxFileSize = 50 << 20

// Service is documents: storage, versions, subjects, search, files.
type Service struct {
	db             *store.DB
	keys           Keys
	trail          Trail
	settings       Settings
	scanner        Scanner
	allowUnscanned bool
	alerts         Alerts
	log            *slog.Logger
	now            func() time.Time
	maxFile        int64
	policies       Policies

	schemaMu sync.Mutex
	schemas  map[string]cachedSchema
}

type cachedSchema struct {
	updated time.Time
	schema  *validate.Schema // nil: the type has no schema
}

// New builds the document service.
func New(o Options) *Service {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxFileSize <= 0 {
		o.MaxFileSize = DefaultMaxFileSize
	}
	return &Service{db: o.DB, keys: o.Keys, trail: o.Trail, settings: o.Settings, scanner: o.Scanner,
		allowUnscanned: o.AllowUnscanned, alerts: o.Alerts, log: o.Logger, now: o.Now, maxFile: o.MaxFileSize, policies: o.Policies,
		schemas: map[string]cachedSchema{}}
}

// MaxFileSize is the bound on an uploaded file.
func (s *Service) MaxFileSize() int64 { return s.maxFile }

// Problems the service returns.
var (
	ErrNotFound        = problem.NotFound("document_not_found", "No such document.")
	errUnauthenticated = problem.New(problem.KindUnauthenticated, "unauthenticated", "Log in first.")
	errForbidden       = problem.Forbidden("forbidden", "You do not have permission to do this.")
)

// authorize decides whether p may do a to a resource of its own tenant, and
// tells the call's audit record what is acted on and why.
func (s *Service) authorize(ctx context.Context, p authz.Principal, a authz.Action, r authz.Resource, resType string) error {
	if p.Kind == authz.Anonymous {
		return errUnauthenticated
	}
	audit.Describe(ctx, audit.Description{TenantID: r.TenantID, ResourceType: resType, ResourceID: r.ID})
	d := authz.Decide(p, a, r, s.now())
	audit.Decision(ctx, d)
	if !d.Allowed {
		return errForbidden
	}
	return nil
}

// tenantOf is the tenant a principal's document calls act in: an
// operator's is the tenant the request names, whose documents they may
// read only under an access grant for it (authz.Decide checks).
func tenantOf(p authz.Principal) string {
	if p.Kind == authz.Operator {
		return p.Within
	}
	return p.TenantID
}
