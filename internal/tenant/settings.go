package tenant

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/valvhq/valv/internal/audit"
	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/problem"
	"github.com/valvhq/valv/internal/region"
	"github.com/valvhq/valv/internal/store"
)

// Settings are a tenant's own choices (TEN-2).
type Settings struct {
	// IdleTimeout ends a session after this long without a request (AUTH-4).
	IdleTimeout Duration `json:"idle_timeout"`
	// Require2FA makes every user of the tenant use a second factor (AUTH-2).
	Require2FA bool `json:"require_2fa"`
	// Region is the data-residency label the tenant is pinned to (ENV-2).
	Region string `json:"region"`
	// Language is the default language of new users and mails: sv or en.
	Language string `json:"language"`
	// PayloadHistory keeps what the tenant submits (sealed, 12 months) in
	// its history; off keeps nothing of it (AUD-4).
	PayloadHistory bool `json:"payload_history"`
	// AuditRetentionDays is how long the tenant's audit entries are kept.
	AuditRetentionDays int `json:"audit_retention_days"`
	// OperatorAccessConsent makes every operator access request wait for
	// an owner's consent after the platform approves it (OPS-3).
	OperatorAccessConsent bool `json:"operator_access_consent"`
}

// DefaultSettings are a new tenant's settings.
func DefaultSettings() Settings {
	return Settings{IdleTimeout: Duration(2 * time.Hour), Region: "eu-eea", Language: "sv", PayloadHistory: true, AuditRetentionDays: 365}
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
		fields = append(fields, problem.Field("/idle_timeout", "out_of_range", "The idle timeout must be between 5 minutes and 12 hours."))
	}
	if !region.ValidPin(s.Region) {
		fields = append(fields, problem.Field("/region", "invalid_region", "Use eu-eea (data stays in the EU/EEA), se (in Sweden) or none (not pinned)."))
	}
	if s.AuditRetentionDays < 30 || s.AuditRetentionDays > 3650 {
		fields = append(fields, problem.Field("/audit_retention_days", "out_of_range", "Keep the audit trail between 30 days and 10 years."))
	}
	if s.Language != "sv" && s.Language != "en" {
		fields = append(fields, problem.Field("/language", "invalid_language", "Use sv or en."))
	}
	if len(fields) > 0 {
		return problem.Invalid("invalid_settings", "The tenant settings are not valid.", fields...)
	}
	return nil
}

// SettingsPatch changes some settings; nil fields stay as they are.
type SettingsPatch struct {
	IdleTimeout        *Duration `json:"idle_timeout"`
	Require2FA         *bool     `json:"require_2fa"`
	Language           *string   `json:"language"`
	PayloadHistory     *bool     `json:"payload_history"`
	AuditRetentionDays *int      `json:"audit_retention_days"`
	// Region pins the tenant's data to eu-eea, se or none (ENV-2); owners only.
	Region *string `json:"region"`
	// OperatorAccessConsent: an owner must consent to operator access.
	OperatorAccessConsent *bool `json:"operator_access_consent"`
	// PurgeHistory, with payload_history false, also deletes the history kept so far.
	PurgeHistory bool `json:"purge_history,omitempty"`
}

// Settings returns a tenant's settings.
func (s *Service) Settings(ctx context.Context, p authz.Principal, tenantID string) (Settings, error) {
	if err := s.authorize(ctx, p, authz.TenantSettingsRead, authz.Resource{TenantID: tenantID}); err != nil {
		return Settings{}, err
	}
	row, err := s.db.Reader().Tenant(ctx, tenantID)
	if errors.Is(err, store.ErrNotFound) {
		return Settings{}, ErrNotFound
	}
	if err != nil {
		return Settings{}, err
	}
	return parseSettings(row)
}

// SettingsOf returns a tenant's settings for Valv's own use (jobs, payload
// history): it needs no principal.
func (s *Service) SettingsOf(ctx context.Context, tenantID string) (Settings, error) {
	row, err := s.db.Reader().Tenant(ctx, tenantID)
	if errors.Is(err, store.ErrNotFound) {
		return Settings{}, ErrNotFound
	}
	if err != nil {
		return Settings{}, err
	}
	return parseSettings(row)
}

// UpdateSettings applies a patch. A new idle timeout applies to the
// tenant's open sessions at once.
func (s *Service) UpdateSettings(ctx context.Context, p authz.Principal, tenantID string, patch SettingsPatch) (Settings, error) {
	if err := s.authorize(ctx, p, authz.TenantSettingsUpdate, authz.Resource{TenantID: tenantID}); err != nil {
		return Settings{}, err
	}
	if patch.OperatorAccessConsent != nil || patch.Region != nil {
		// Sent back unchanged (a settings form sends every field): no
		// change, so no owner is needed for it.
		cur, err := s.SettingsOf(ctx, tenantID)
		if err != nil {
			return Settings{}, err
		}
		if patch.OperatorAccessConsent != nil && *patch.OperatorAccessConsent == cur.OperatorAccessConsent {
			patch.OperatorAccessConsent = nil
		}
		if patch.Region != nil && *patch.Region == cur.Region {
			patch.Region = nil
		}
	}
	if patch.OperatorAccessConsent != nil && !authz.Decide(p, authz.AccessConsent, authz.Resource{TenantID: tenantID}, s.now()).Allowed {
		// Whether operators need the organisation's consent is the owners'
		// decision, as consenting is (OPS-3).
		return Settings{}, problem.Forbidden("owner_only", "Only an owner can change whether operator access needs the organisation's consent.")
	}
	if patch.Region != nil {
		switch {
		case !authz.Decide(p, authz.AccessConsent, authz.Resource{TenantID: tenantID}, s.now()).Allowed:
			// Where the organisation's data may be is the owners' decision.
			return Settings{}, problem.Forbidden("owner_only", "Only an owner can change the data-residency region.")
		case region.ValidPin(*patch.Region) && s.pinCheck != nil:
			if err := s.pinCheck(*patch.Region); err != nil {
				return Settings{}, problem.Invalid("region_not_kept", "This installation cannot keep your data in "+region.Describe(*patch.Region)+": "+err.Error()+". Ask the operators.",
					problem.Field("/region", "region_not_kept", "Choose a region the installation's storage and backups are in."))
			}
		}
	}
	if patch.PurgeHistory && (patch.PayloadHistory == nil || *patch.PayloadHistory) {
		return Settings{}, problem.Invalid("purge_needs_history_off", "History can only be purged when payload history is switched off.",
			problem.Field("/purge_history", "purge_needs_history_off", "Send payload_history: false with purge_history: true."))
	}
	for name, set := range map[string]bool{"idle_timeout": patch.IdleTimeout != nil, "require_2fa": patch.Require2FA != nil,
		"language": patch.Language != nil, "payload_history": patch.PayloadHistory != nil, "audit_retention_days": patch.AuditRetentionDays != nil,
		"operator_access_consent": patch.OperatorAccessConsent != nil, "region": patch.Region != nil} {
		if set {
			audit.Detail(ctx, "set."+name, "yes")
		}
	}
	if patch.PayloadHistory != nil {
		audit.Detail(ctx, "payload_history", onOff(*patch.PayloadHistory))
	}
	if patch.PurgeHistory {
		audit.Detail(ctx, "purge_history", "yes")
	}
	if patch.OperatorAccessConsent != nil {
		audit.Detail(ctx, "operator_access_consent", onOff(*patch.OperatorAccessConsent))
	}
	if patch.Region != nil && region.ValidPin(*patch.Region) {
		audit.Detail(ctx, "region", *patch.Region)
	}
	var out Settings
	err := s.audit.Do(ctx, audit.Description{Action: "tenant.settings.update"}, func(tx *store.Tx) error {
		row, err := tx.Tenant(ctx, tenantID)
		if err != nil {
			return err
		}
		st, err := parseSettings(row)
		if err != nil {
			return err
		}
		idleChanged := false
		if patch.IdleTimeout != nil {
			idleChanged = *patch.IdleTimeout != st.IdleTimeout
			st.IdleTimeout = *patch.IdleTimeout
		}
		if patch.Require2FA != nil {
			st.Require2FA = *patch.Require2FA
		}
		if patch.Language != nil {
			st.Language = *patch.Language
		}
		if patch.PayloadHistory != nil {
			st.PayloadHistory = *patch.PayloadHistory
		}
		if patch.AuditRetentionDays != nil {
			st.AuditRetentionDays = *patch.AuditRetentionDays
		}
		if patch.OperatorAccessConsent != nil {
			st.OperatorAccessConsent = *patch.OperatorAccessConsent
		}
		if patch.Region != nil {
			st.Region = *patch.Region
		}
		if err := st.Validate(); err != nil {
			return err
		}
		raw, err := json.Marshal(st)
		if err != nil {
			return err
		}
		if err := tx.UpdateTenantSettings(ctx, tenantID, raw, s.now().UTC()); err != nil {
			return err
		}
		if idleChanged {
			if err := tx.SetTenantSessionIdle(ctx, tenantID, int64(time.Duration(st.IdleTimeout)/time.Second)); err != nil {
				return err
			}
		}
		if patch.PurgeHistory {
			if _, err := audit.PurgeHistory(ctx, tx, tenantID); err != nil {
				return err
			}
		}
		out = st
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return Settings{}, ErrNotFound
	}
	return out, err
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// Pins returns every tenant's data-residency pin, by tenant id (ENV-2).
func (s *Service) Pins(ctx context.Context) (map[string]string, error) {
	out := map[string]string{}
	after := ""
	for {
		rows, err := s.db.Reader().Tenants(ctx, after, MaxPage)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			st, err := parseSettings(r)
			if err != nil {
				return nil, err
			}
			out[r.ID] = st.Region
		}
		if len(rows) < MaxPage {
			return out, nil
		}
		after = rows[len(rows)-1].ID
	}
}
