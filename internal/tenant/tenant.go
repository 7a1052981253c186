package tenant

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"golang.org/x/text/unicode/norm"

	"github.com/valvhq/valv/internal/problem"
	"github.com/valvhq/valv/internal/store"
)

// Status is a tenant's life-cycle state.
type Status string

const (
	StatusActive    Status = "active"
	StatusSuspended Status = "suspended"
)

// Tenant is a customer organisation.
type Tenant struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Status    Status    `json:"status"`
	Settings  Settings  `json:"settings"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Settings are a tenant's own choices (TEN-2).
type Settings struct {
	// IdleTimeout ends a session after this long without a request (AUTH-4).
	IdleTimeout Duration `json:"idle_timeout"`
	// Region is the data-residency label the tenant is pinned to (ENV-2).
	Region string `json:"region"`
}

// DefaultSettings are a new tenant's settings.
func DefaultSettings() Settings {
	return Settings{IdleTimeout: Duration(2 * time.Hour), Region: "eu-eea"}
}

// Duration is a time.Duration that is written as "2h0m0s" in JSON.
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New("a duration is a string such as \"2h\" or \"30m\"")
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration such as \"2h\" or \"30m\"", s)
	}
	*d = Duration(v)
	return nil
}

// Validate checks settings and lists every field that is wrong.
func (s Settings) Validate() error {
	var fields []problem.FieldError
	if d := time.Duration(s.IdleTimeout); d < 5*time.Minute || d > 12*time.Hour {
		fields = append(fields, problem.Field("/settings/idle_timeout", "out_of_range", "The idle timeout must be between 5 minutes and 12 hours."))
	}
	if s.Region == "" {
		fields = append(fields, problem.Field("/settings/region", "required", "A data-residency region is required, for example eu-eea."))
	}
	if len(fields) > 0 {
		return problem.Invalid("invalid_settings", "The tenant settings are not valid.", fields...)
	}
	return nil
}

// Service manages tenants.
type Service struct {
	db  *store.DB
	now func() time.Time
}

// NewService returns a tenant service. now may be nil for time.Now.
func NewService(db *store.DB, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{db: db, now: now}
}

// MaxNameLength is the longest tenant name, in characters.
const MaxNameLength = 100

// NormaliseName trims and NFC-normalises a name and checks it. It returns
// the name to store and the key that makes names unique.
func NormaliseName(name string) (string, string, error) {
	if !utf8.ValidString(name) {
		return "", "", problem.Invalid("invalid_name", "The name is not valid UTF-8.", problem.Field("/name", "invalid_utf8", "Use UTF-8 text."))
	}
	name = strings.Join(strings.Fields(norm.NFC.String(name)), " ")
	if name == "" {
		return "", "", problem.Invalid("invalid_name", "A tenant needs a name.", problem.Field("/name", "required", "Give the tenant a name."))
	}
	if utf8.RuneCountInString(name) > MaxNameLength {
		return "", "", problem.Invalid("invalid_name", "The name is too long.",
			problem.Field("/name", "too_long", fmt.Sprintf("Use at most %d characters.", MaxNameLength)))
	}
	for _, r := range name {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return "", "", problem.Invalid("invalid_name", "The name holds invisible or control characters.",
				problem.Field("/name", "invalid_character", "Remove control and formatting characters."))
		}
	}
	key := strings.ToLower(norm.NFKC.String(name))
	return name, key, nil
}

// CreateInput is what Create needs.
type CreateInput struct {
	Name string
}

// Create adds a tenant with default settings.
func (s *Service) Create(ctx context.Context, in CreateInput) (Tenant, error) {
	name, key, err := NormaliseName(in.Name)
	if err != nil {
		return Tenant{}, err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	t := Tenant{
		ID:        uuid.Must(uuid.NewV7()).String(),
		Name:      name,
		Status:    StatusActive,
		Settings:  DefaultSettings(),
		CreatedAt: now,
		UpdatedAt: now,
	}
	settings, err := json.Marshal(t.Settings)
	if err != nil {
		return Tenant{}, err
	}
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		return tx.InsertTenant(ctx, store.TenantRow{
			ID: t.ID, Name: t.Name, NameKey: key, Status: string(t.Status),
			Settings: settings, CreatedAt: now, UpdatedAt: now,
		})
	})
	if errors.Is(err, store.ErrConflict) {
		return Tenant{}, problem.Conflict("tenant_exists", "A tenant with this name already exists.")
	}
	if err != nil {
		return Tenant{}, fmt.Errorf("create tenant: %w", err)
	}
	return t, nil
}

// Get returns one tenant.
func (s *Service) Get(ctx context.Context, id string) (Tenant, error) {
	row, err := s.db.Reader().Tenant(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return Tenant{}, ErrNotFound
	}
	if err != nil {
		return Tenant{}, fmt.Errorf("get tenant: %w", err)
	}
	return fromRow(row)
}

// ErrNotFound is the problem for a tenant that does not exist.
var ErrNotFound = problem.NotFound("tenant_not_found", "No such tenant.")

// MaxPage is the largest page List returns.
const MaxPage = 500

// List returns up to limit tenants after the cursor, and the cursor for the
// next page ("" when there is none).
func (s *Service) List(ctx context.Context, cursor string, limit int) ([]Tenant, string, error) {
	if limit <= 0 || limit > MaxPage {
		limit = MaxPage
	}
	rows, err := s.db.Reader().Tenants(ctx, cursor, limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("list tenants: %w", err)
	}
	next := ""
	if len(rows) > limit {
		rows = rows[:limit]
		next = rows[limit-1].ID
	}
	out := make([]Tenant, 0, len(rows))
	for _, r := range rows {
		t, err := fromRow(r)
		if err != nil {
			return nil, "", err
		}
		out = append(out, t)
	}
	return out, next, nil
}

func fromRow(r store.TenantRow) (Tenant, error) {
	t := Tenant{ID: r.ID, Name: r.Name, Status: Status(r.Status), CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, Settings: DefaultSettings()}
	if err := json.Unmarshal(r.Settings, &t.Settings); err != nil {
		return Tenant{}, fmt.Errorf("tenant %s: stored settings are not valid: %w", r.ID, err)
	}
	return t, nil
}
