package tenant

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"golang.org/x/text/unicode/norm"

	"github.com/valvhq/valv/internal/audit"
	"github.com/valvhq/valv/internal/auth"
	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/problem"
	"github.com/valvhq/valv/internal/seal"
	"github.com/valvhq/valv/internal/store"
	"github.com/valvhq/valv/internal/validate"
)

// Status is a tenant's life-cycle state.
type Status string

const (
	StatusActive    Status = "active"
	StatusSuspended Status = "suspended"
)

// Tenant is a customer organisation.
type Tenant struct {
	ID     string `json:"id"`
	Slug   string `json:"slug"`
	Name   string `json:"name"`
	Status Status `json:"status"`
	// Settings are shown to those who may read them (owners and admins).
	Settings *Settings `json:"settings,omitempty"`
	// SecurityContact receives security notifications (sealed at rest).
	SecurityContact string    `json:"security_contact,omitempty"`
	CreatedAt       time.Time `json:"created_at"`
	UpdatedAt       time.Time `json:"updated_at"`
}

// Keys is what the tenant service needs of the keyring.
type Keys interface {
	NewTenantKeys(tenant string) (store.KeysetRow, *seal.Sealer, error)
	Sealer(ctx context.Context, tenant string) (*seal.Sealer, error)
}

// Accounts is what the tenant service needs of authentication: accounts
// are created with their tenant, and managed by the tenant's admins.
type Accounts interface {
	PrepareAccount(sealer *seal.Sealer, in auth.NewAccount) (auth.PreparedAccount, error)
	Created(ctx context.Context, p auth.PreparedAccount)
	CreateAccount(ctx context.Context, in auth.NewAccount) (auth.Account, string, error)
	GetAccount(ctx context.Context, tenantID, id string) (auth.Account, error)
	ListAccounts(ctx context.Context, tenantID, cursor string, limit int) ([]auth.Account, string, error)
	UpdateAccount(ctx context.Context, tenantID, id string, ch auth.AccountChange) (auth.Account, error)
	DeleteAccount(ctx context.Context, tenantID, id string) error
	NewSetupLink(ctx context.Context, tenantID, id string) (string, error)
}

// OIDC is what the tenant service needs to manage single sign-on.
type OIDC interface {
	ConfigureOIDC(ctx context.Context, tenantID string, c auth.OIDCConfig) error
	OIDCSettings(ctx context.Context, tenantID string) (auth.OIDCConfig, error)
}

// Service manages tenants, their settings and their users.
type Service struct {
	db       *store.DB
	keys     Keys
	accounts Accounts
	oidc     OIDC
	audit    Auditor
	now      func() time.Time
	// pinCheck, when set, says why the installation cannot keep a pin.
	pinCheck func(pin string) error
}

// CheckPinsWith makes settings refuse a data-residency pin the
// installation cannot keep: f returns why (its storage or a backup target
// is outside it), or nil.
func (s *Service) CheckPinsWith(f func(pin string) error) { s.pinCheck = f }

// Auditor writes a change together with its audit entry (the audit trail).
type Auditor interface {
	Do(ctx context.Context, d audit.Description, fn func(tx *store.Tx) error) error
}

// NewService returns a tenant service. now may be nil for time.Now.
// The authentication service provides both accounts and oidc.
func NewService(db *store.DB, keys Keys, accounts Accounts, oidc OIDC, trail Auditor, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{db: db, keys: keys, accounts: accounts, oidc: oidc, audit: trail, now: now}
}

// ErrNotFound is the problem for a tenant that does not exist (or that the
// caller may not know about).
var ErrNotFound = problem.NotFound("tenant_not_found", "No such tenant.")

// authorize applies authz.Decide; a denial on another tenant's resource is
// reported as not found, so ids of other tenants cannot be probed.
// It tells the call's audit record what is acted on and why it was
// decided so.
func (s *Service) authorize(ctx context.Context, p authz.Principal, a authz.Action, r authz.Resource) error {
	d := authz.Decide(p, a, r, s.now())
	desc := audit.Description{TenantID: r.TenantID, ResourceID: r.ID, ResourceType: resourceType(a)}
	if p.TenantID != "" && r.TenantID != "" && p.TenantID != r.TenantID {
		// A probe of another tenant stays in the prober's own trail.
		desc.TenantID = ""
	}
	audit.Describe(ctx, desc)
	audit.Decision(ctx, d)
	if d.Allowed {
		return nil
	}
	if p.Kind == authz.Anonymous {
		return auth.ErrUnauthenticated
	}
	if r.TenantID != "" && (p.Kind == authz.User || p.Kind == authz.APIKey) && p.TenantID != r.TenantID {
		return ErrNotFound
	}
	return problem.Forbidden("forbidden", "You do not have permission to do this.")
}

// resourceType is the kind of thing an action acts on: its first word.
func resourceType(a authz.Action) string {
	t, _, _ := strings.Cut(string(a), ".")
	return t
}

func contactLocation(id string) seal.Location {
	return seal.Location{Table: "tenants", Row: id, Field: "security_contact"}
}

// checkContact validates a security contact address.
func checkContact(s string) (string, error) {
	if strings.TrimSpace(s) == "" {
		return "", nil
	}
	v, err := validate.Email(s)
	if err != nil {
		return "", problem.Invalid("invalid_security_contact", "The security contact is not an email address.",
			problem.Field("/security_contact", "invalid_email", "Give one plain address, like security@example.se."))
	}
	return v, nil
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

var slugPattern = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$`)

var slugFold = strings.NewReplacer("å", "a", "ä", "a", "ö", "o", "é", "e", "è", "e", "ü", "u", "æ", "ae", "ø", "o", "ß", "ss")

// SlugFrom derives a short name from a tenant name ("Åsa Öberg Konsult AB"
// → "asa-oberg-konsult-ab").
func SlugFrom(name string) string {
	s := slugFold.Replace(strings.ToLower(norm.NFC.String(name)))
	var b strings.Builder
	dash := false
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		case !dash && b.Len() > 0:
			b.WriteByte('-')
			dash = true
		}
		if b.Len() >= 40 {
			break
		}
	}
	out := strings.Trim(b.String(), "-")
	if len(out) > 40 {
		out = strings.Trim(out[:40], "-")
	}
	if out == "" {
		out = "tenant"
	}
	return out
}

// CreateInput is what Create needs.
type CreateInput struct {
	Name string
	// Slug is the short name used to log in; derived from Name if empty.
	Slug            string
	SecurityContact string
	// OwnerEmail, if set, creates the tenant's owner (invited, with a
	// one-time setup link) in the same transaction.
	OwnerEmail    string
	OwnerLanguage string
}

// Created is a new tenant and, if one was asked for, its owner's setup link.
type Created struct {
	Tenant    Tenant        `json:"tenant"`
	Owner     *auth.Account `json:"owner,omitempty"`
	SetupLink string        `json:"setup_link,omitempty"`
}

// Create adds a tenant with its keys and default settings, and optionally
// its owner, all in one transaction.
func (s *Service) Create(ctx context.Context, p authz.Principal, in CreateInput) (Created, error) {
	if err := s.authorize(ctx, p, authz.TenantCreate, authz.Resource{}); err != nil {
		return Created{}, err
	}
	name, key, err := NormaliseName(in.Name)
	if err != nil {
		return Created{}, err
	}
	contact, err := checkContact(in.SecurityContact)
	if err != nil {
		return Created{}, err
	}
	slug, explicit := strings.ToLower(strings.TrimSpace(in.Slug)), in.Slug != ""
	if !explicit {
		slug = SlugFrom(name)
	}
	if !slugPattern.MatchString(slug) {
		return Created{}, problem.Invalid("invalid_slug", "The short name is not valid.",
			problem.Field("/slug", "invalid_slug", "Use 1 to 40 lower-case letters, digits and hyphens, starting and ending with a letter or digit."))
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	settings := DefaultSettings()
	t := Tenant{ID: uuid.Must(uuid.NewV7()).String(), Slug: slug, Name: name, Status: StatusActive, Settings: &settings,
		SecurityContact: contact, CreatedAt: now, UpdatedAt: now}
	rawSettings, err := json.Marshal(settings)
	if err != nil {
		return Created{}, err
	}
	keys, sealer, err := s.keys.NewTenantKeys(t.ID)
	if err != nil {
		return Created{}, fmt.Errorf("create tenant keys: %w", err)
	}
	var sealedContact []byte
	if contact != "" {
		if sealedContact, err = sealer.SealString(contact, contactLocation(t.ID)); err != nil {
			return Created{}, err
		}
	}
	var owner *auth.PreparedAccount
	if in.OwnerEmail != "" {
		lang := in.OwnerLanguage
		if lang == "" {
			lang = settings.Language
		}
		po, err := s.accounts.PrepareAccount(sealer, auth.NewAccount{TenantID: t.ID, Email: in.OwnerEmail, Role: authz.Owner, Language: lang})
		if err != nil {
			return Created{}, err
		}
		owner = &po
	}
	err = s.audit.Do(ctx, audit.Description{Action: "tenant.create", ResourceType: "tenant", ResourceID: t.ID}, func(tx *store.Tx) error {
		// A free short name: the derived one, else with -2, -3, ...
		for i := 2; ; i++ {
			if _, err := tx.TenantBySlug(ctx, t.Slug); errors.Is(err, store.ErrNotFound) {
				break
			} else if err != nil {
				return err
			}
			if explicit || i > 50 {
				return errSlugTaken
			}
			t.Slug = fmt.Sprintf("%s-%d", strings.TrimRight(slug[:min(len(slug), 36)], "-"), i)
		}
		if err := tx.InsertTenant(ctx, store.TenantRow{ID: t.ID, Slug: t.Slug, Name: t.Name, NameKey: key, Status: string(t.Status),
			Settings: rawSettings, SecurityContact: sealedContact, CreatedAt: now, UpdatedAt: now}); err != nil {
			return err
		}
		if err := tx.InsertKeyset(ctx, keys); err != nil {
			return err
		}
		if owner != nil {
			return owner.Insert(ctx, tx)
		}
		return nil
	})
	switch {
	case errors.Is(err, errSlugTaken):
		return Created{}, problem.Conflict("slug_taken", "Another tenant has this short name.")
	case errors.Is(err, store.ErrConflict):
		return Created{}, problem.Conflict("tenant_exists", "A tenant with this name already exists.")
	case err != nil:
		return Created{}, fmt.Errorf("create tenant: %w", err)
	}
	out := Created{Tenant: t}
	if owner != nil {
		s.accounts.Created(ctx, *owner)
		out.Owner, out.SetupLink = &owner.Account, owner.Link
	}
	return out, nil
}

var errSlugTaken = errors.New("slug taken")

// Get returns one tenant. Settings and the security contact are included
// only for those allowed to read the settings.
func (s *Service) Get(ctx context.Context, p authz.Principal, id string) (Tenant, error) {
	if err := s.authorize(ctx, p, authz.TenantRead, authz.Resource{TenantID: id, ID: id}); err != nil {
		return Tenant{}, err
	}
	row, err := s.db.Reader().Tenant(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return Tenant{}, ErrNotFound
	}
	if err != nil {
		return Tenant{}, fmt.Errorf("get tenant: %w", err)
	}
	full := authz.Decide(p, authz.TenantSettingsRead, authz.Resource{TenantID: id}, s.now()).Allowed
	return s.view(ctx, row, full)
}

func (s *Service) view(ctx context.Context, row store.TenantRow, full bool) (Tenant, error) {
	t := Tenant{ID: row.ID, Slug: row.Slug, Name: row.Name, Status: Status(row.Status), CreatedAt: row.CreatedAt, UpdatedAt: row.UpdatedAt}
	if !full {
		return t, nil
	}
	st, err := parseSettings(row)
	if err != nil {
		return Tenant{}, err
	}
	t.Settings = &st
	if len(row.SecurityContact) > 0 {
		sealer, err := s.keys.Sealer(ctx, row.ID)
		if err != nil {
			return Tenant{}, fmt.Errorf("tenant %s: %w", row.ID, err)
		}
		if t.SecurityContact, err = sealer.OpenString(row.SecurityContact, contactLocation(row.ID)); err != nil {
			return Tenant{}, fmt.Errorf("tenant %s: security contact: %w", row.ID, err)
		}
	}
	return t, nil
}

func parseSettings(row store.TenantRow) (Settings, error) {
	st := DefaultSettings()
	if err := json.Unmarshal(row.Settings, &st); err != nil {
		return Settings{}, fmt.Errorf("tenant %s: stored settings are not valid: %w", row.ID, err)
	}
	return st, nil
}

// MaxPage is the largest page List returns.
const MaxPage = 500

// List returns up to limit tenants after the cursor (operators only), and
// the cursor for the next page ("" when there is none).
func (s *Service) List(ctx context.Context, p authz.Principal, cursor string, limit int) ([]Tenant, string, error) {
	if err := s.authorize(ctx, p, authz.TenantList, authz.Resource{}); err != nil {
		return nil, "", err
	}
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
		t, err := s.view(ctx, r, false)
		if err != nil {
			return nil, "", err
		}
		out = append(out, t)
	}
	return out, next, nil
}

// SetStatus suspends or re-activates a tenant (operators). Suspension ends
// its users' sessions at their next request.
func (s *Service) SetStatus(ctx context.Context, p authz.Principal, id string, st Status) (Tenant, error) {
	if err := s.authorize(ctx, p, authz.TenantSuspend, authz.Resource{TenantID: id, ID: id}); err != nil {
		return Tenant{}, err
	}
	if st != StatusActive && st != StatusSuspended {
		return Tenant{}, problem.Invalid("invalid_status", "The status is active or suspended.", problem.Field("/status", "invalid_status", "Use active or suspended."))
	}
	audit.Detail(ctx, "status", string(st))
	err := s.audit.Do(ctx, audit.Description{Action: "tenant.status.change"}, func(tx *store.Tx) error {
		return tx.UpdateTenantStatus(ctx, id, string(st), s.now().UTC())
	})
	if errors.Is(err, store.ErrNotFound) {
		return Tenant{}, ErrNotFound
	}
	if err != nil {
		return Tenant{}, err
	}
	return s.Get(ctx, p, id)
}

// SetSecurityContact replaces a tenant's security contact ("" clears it).
func (s *Service) SetSecurityContact(ctx context.Context, p authz.Principal, id, email string) error {
	if err := s.authorize(ctx, p, authz.TenantSettingsUpdate, authz.Resource{TenantID: id}); err != nil {
		return err
	}
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
	err = s.audit.Do(ctx, audit.Description{Action: "tenant.contact.change"}, func(tx *store.Tx) error {
		return tx.UpdateTenantSecurityContact(ctx, id, sealed, s.now().UTC())
	})
	if errors.Is(err, store.ErrNotFound) {
		return ErrNotFound
	}
	return err
}

// LoginPolicy is what authentication needs to know about a tenant. It is
// internal (no principal): authentication calls it before anyone is known.
func (s *Service) LoginPolicy(ctx context.Context, tenantID string) (auth.Policy, error) {
	row, err := s.db.Reader().Tenant(ctx, tenantID)
	if err != nil {
		return auth.Policy{}, err
	}
	st, err := parseSettings(row)
	if err != nil {
		return auth.Policy{}, err
	}
	pol := auth.Policy{Name: row.Name, Active: row.Status == string(StatusActive), Require2FA: st.Require2FA, IdleTimeout: time.Duration(st.IdleTimeout)}
	if len(row.SecurityContact) > 0 {
		if sealer, err := s.keys.Sealer(ctx, tenantID); err == nil {
			pol.SecurityContact, _ = sealer.OpenString(row.SecurityContact, contactLocation(tenantID))
		}
	}
	return pol, nil
}
