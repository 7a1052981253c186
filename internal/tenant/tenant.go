package tenant

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"golang.org/x/text/unicode/norm"

	"github.com/valvhq/valv/internal/problem"
	"github.com/valvhq/valv/internal/seal"
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
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Status   Status   `json:"status"`
	Settings Settings `json:"settings"`
	// SecurityContact receives security notifications (sealed at rest).
	SecurityContact string    `json:"security_contact,omitempty"`
	CreatedAt       time.Time `json:"created_at"`
	UpdatedAt       time.Time `json:"updated_at"`
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

// Keys is what the tenant service needs of the keyring.
type Keys interface {
	NewTenantKeys(tenant string) (store.KeysetRow, *seal.Sealer, error)
	Sealer(ctx context.Context, tenant string) (*seal.Sealer, error)
}

// Service manages tenants.
type Service struct {
	db   *store.DB
	keys Keys
	now  func() time.Time
}

// NewService returns a tenant service. now may be nil for time.Now.
func NewService(db *store.DB, keys Keys, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{db: db, keys: keys, now: now}
}

func contactLocation(id string) seal.Location {
	return seal.Location{Table: "tenants", Row: id, Field: "security_contact"}
}

// maxEmailLength is RFC 5321's limit on a forward path.
const maxEmailLength = 254

// checkContact validates a security contact address.
func checkContact(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s || len(s) > maxEmailLength {
		return "", problem.Invalid("invalid_security_contact", "The security contact is not an email address.",
			problem.Field("/security_contact", "invalid_email", "Give one plain address, like security@example.se."))
	}
	return s, nil
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
	Name            string
	SecurityContact string
}

// Create adds a tenant with default settings.
func (s *Service) Create(ctx context.Context, in CreateInput) (Tenant, error) {
	name, key, err := NormaliseName(in.Name)
	if err != nil {
		return Tenant{}, err
	}
	contact, err := checkContact(in.SecurityContact)
	if err != nil {
		return Tenant{}, err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	t := Tenant{
		ID:              uuid.Must(uuid.NewV7()).String(),
		Name:            name,
		Status:          StatusActive,
		Settings:        DefaultSettings(),
		SecurityContact: contact,
		CreatedAt:       now,
		UpdatedAt:       now,
	}
	settings, err := json.Marshal(t.Settings)
	if err != nil {
		return Tenant{}, err
	}
	keys, sealer, err := s.keys.NewTenantKeys(t.ID)
	if err != nil {
		return Tenant{}, fmt.Errorf("create tenant keys: %w", err)
	}
	var sealedContact []byte
	if contact != "" {
		if sealedContact, err = sealer.SealString(contact, contactLocation(t.ID)); err != nil {
			return Tenant{}, err
		}
	}
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		if err := tx.InsertTenant(ctx, store.TenantRow{
			ID: t.ID, Name: t.Name, NameKey: key, Status: string(t.Status),
			Settings: settings, SecurityContact: sealedContact, CreatedAt: now, UpdatedAt: now,
		}); err != nil {
			return err
		}
		return tx.InsertKeyset(ctx, keys)
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
	t, err := fromRow(row)
	if err != nil {
		return Tenant{}, err
	}
	if len(row.SecurityContact) > 0 {
		sealer, err := s.keys.Sealer(ctx, id)
		if err != nil {
			return Tenant{}, fmt.Errorf("get tenant %s: %w", id, err)
		}
		if t.SecurityContact, err = sealer.OpenString(row.SecurityContact, contactLocation(id)); err != nil {
			return Tenant{}, fmt.Errorf("get tenant %s: security contact: %w", id, err)
		}
	}
	return t, nil
}

// SetSecurityContact replaces a tenant's security contact ("" clears it).
func (s *Service) SetSecurityContact(ctx context.Context, id, email string) error {
	contact, err := checkContact(email)
	if err != nil {
		return err
	}
	var sealed []byte
	if contact != "" {
		sealer, err := s.keys.Sealer(ctx, id)
		if err != nil {
			return err
		}
		if sealed, err = sealer.SealString(contact, contactLocation(id)); err != nil {
			return err
		}
	}
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		return tx.UpdateTenantSecurityContact(ctx, id, sealed, s.now().UTC())
	})
	if errors.Is(err, store.ErrNotFound) {
		return ErrNotFound
	}
	return err
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
