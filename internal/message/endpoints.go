package message

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/valvhq/valv/internal/audit"
	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/notify"
	"github.com/valvhq/valv/internal/problem"
	"github.com/valvhq/valv/internal/region"
	"github.com/valvhq/valv/internal/seal"
	"github.com/valvhq/valv/internal/store"
)

// Endpoint purposes: what an approved endpoint may receive.
const (
	// PurposeSend: the tenant's messages to a partner (its outbox).
	PurposeSend = "send"
	// PurposeInbox: the tenant's own system, which gets every message that
	// arrives in its inbox pushed to it.
	PurposeInbox = "inbox"
)

// Endpoint states.
const (
	EndpointPending  = "pending"
	EndpointApproved = "approved"
	EndpointDenied   = "denied"
	EndpointRevoked  = "revoked"
)

// EndpointView is an endpoint as tenants and operators see it: never its
// URL's path, its secret or its key.
type EndpointView struct {
	ID       string `json:"id"`
	TenantID string `json:"tenant_id"`
	Name     string `json:"name"`
	// Host is where messages go: the URL's host name.
	Host    string `json:"host"`
	Purpose string `json:"purpose"`
	// Region is where the endpoint is, as its tenant labelled it.
	Region string `json:"region"`
	State  string `json:"state"`
	// Version changes with every change of the endpoint; an approval is of
	// one version.
	Version        int64     `json:"version"`
	MutualTLS      bool      `json:"mutual_tls"`
	PinnedSHA256   string    `json:"pin_sha256,omitempty"`
	CreatedBy      string    `json:"created_by"`
	CreatedAt      time.Time `json:"created_at"`
	DecidedBy      string    `json:"decided_by,omitempty"`
	DecidedAt      time.Time `json:"decided_at,omitzero"`
	UpdatedAt      time.Time `json:"updated_at"`
	DecisionReason string    `json:"-"`
}

// EndpointInput registers an endpoint.
type EndpointInput struct {
	Name string `json:"name"`
	// URL is the https:// address messages are POSTed to; its host must be
	// a DNS name.
	URL     string `json:"url"`
	Purpose string `json:"purpose,omitempty"`
	// ClientCertificate and ClientKey (PEM), when given, are presented to
	// the endpoint for mutual TLS.
	ClientCertificate string `json:"client_certificate,omitempty"`
	ClientKey         string `json:"client_key,omitempty"`
	// PinSHA256 is the hex SHA-256 of the endpoint's certificate (DER): the
	// connection is accepted only with that certificate.
	PinSHA256 string `json:"pin_sha256,omitempty"`
	// Region is where the endpoint's receiver keeps what it gets (se-sto,
	// eu-north-1, ...); it must be inside the tenant's residency pin.
	Region string `json:"region,omitempty"`
}

// Registered is a new endpoint with its signing secret, shown this once.
type Registered struct {
	Endpoint EndpointView `json:"endpoint"`
	// Secret signs every delivery (Standard Webhooks, whsec_...); give it
	// to the receiver so it can verify them. It is not shown again.
	Secret string `json:"secret"`
}

// Decision is an operator's decision on an endpoint.
type Decision struct {
	// Decision is approve, deny or revoke.
	Decision string `json:"decision"`
	// Version is the endpoint version the operator looked at.
	Version int64 `json:"version"`
	// Comment says why (kept sealed in the audit trail).
	Comment string `json:"comment"`
}

// endpointConfig is the sealed part of an endpoint.
type endpointConfig struct {
	URL        string `json:"url"`
	Secret     string `json:"secret"`
	ClientCert string `json:"client_certificate,omitempty"`
	ClientKey  string `json:"client_key,omitempty"`
	Pin        string `json:"pin_sha256,omitempty"`
}

var namePattern = regexp.MustCompile(`^[\p{L}\p{N}][\p{L}\p{N} _.,:/()&'-]{0,79}$`)

// ErrEndpointNotFound is the problem for an unknown endpoint.
var ErrEndpointNotFound = problem.NotFound("endpoint_not_found", "No such endpoint.")

func endpointLocation(tenantID, id string) seal.Location {
	return seal.Location{Table: "message_endpoints", Row: tenantID + "/" + id, Field: "config"}
}

func endpointView(r store.EndpointRow, cfg *endpointConfig) EndpointView {
	v := EndpointView{ID: r.ID, TenantID: r.TenantID, Name: r.Name, Host: r.Host, Purpose: r.Purpose, Region: r.Region, State: r.State, Version: r.Version,
		CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt, DecidedBy: r.DecidedBy, DecidedAt: r.DecidedAt, UpdatedAt: r.UpdatedAt}
	if cfg != nil {
		v.MutualTLS = cfg.ClientCert != ""
		v.PinnedSHA256 = cfg.Pin
	}
	return v
}

// RegisterEndpoint registers an endpoint of the caller's tenant. It waits
// for a platform operator's approval before anything is sent to it.
func (s *Service) RegisterEndpoint(ctx context.Context, p authz.Principal, in EndpointInput) (Registered, error) {
	tenantID := p.TenantID
	if err := s.authorize(ctx, p, authz.EndpointManage, authz.Resource{TenantID: tenantID}, "message_endpoint"); err != nil {
		return Registered{}, err
	}
	in.Name = strings.TrimSpace(in.Name)
	if in.Purpose == "" {
		in.Purpose = PurposeSend
	}
	var fields []problem.FieldError
	if !namePattern.MatchString(in.Name) {
		fields = append(fields, problem.Field("/name", "invalid_name", "A name is 1 to 80 letters, digits, spaces and simple punctuation."))
	}
	if in.Purpose != PurposeSend && in.Purpose != PurposeInbox {
		fields = append(fields, problem.Field("/purpose", "invalid_purpose", "Use send (messages to a partner) or inbox (push received messages to your own system)."))
	}
	host, err := CheckURL(in.URL)
	if err != nil {
		if pe, ok := problem.As(err); ok {
			fields = append(fields, pe.Fields...)
		} else {
			fields = append(fields, problem.Field("/url", "invalid_url", "Give an https:// URL with a host name."))
		}
	}
	in.PinSHA256 = strings.ToLower(strings.TrimSpace(in.PinSHA256))
	if err := CheckTLS([]byte(in.ClientCertificate), []byte(in.ClientKey), in.PinSHA256); err != nil {
		if pe, ok := problem.As(err); ok {
			fields = append(fields, pe.Fields...)
		} else {
			fields = append(fields, problem.Field("/client_certificate", "invalid_certificate", "The certificate, key or pin is not valid."))
		}
	}
	in.Region = strings.ToLower(strings.TrimSpace(in.Region))
	if len(in.Region) > 64 {
		fields = append(fields, problem.Field("/region", "invalid_region", "A region label is at most 64 characters, for example se-sto or eu-north-1."))
	}
	if len(fields) > 0 {
		return Registered{}, problem.Invalid("invalid_endpoint", "The endpoint is not valid; see the fields.", fields...)
	}
	if err := s.checkRegion(ctx, tenantID, in.Region); err != nil {
		return Registered{}, err
	}
	secret, err := notify.GenerateWebhookSecret(nil)
	if err != nil {
		return Registered{}, err
	}
	cfg := endpointConfig{URL: in.URL, Secret: string(secret), ClientCert: in.ClientCertificate, ClientKey: in.ClientKey, Pin: in.PinSHA256}
	now := s.now().UTC().Truncate(time.Microsecond)
	row := store.EndpointRow{TenantID: tenantID, ID: uuid.Must(uuid.NewV7()).String(), Name: in.Name, Host: host, Purpose: in.Purpose,
		State: EndpointPending, Version: 1, CreatedBy: p.ID, CreatedAt: now, UpdatedAt: now, Region: in.Region}
	if row.Config, err = s.sealConfig(ctx, tenantID, row.ID, cfg); err != nil {
		return Registered{}, err
	}
	audit.Detail(ctx, "purpose", in.Purpose)
	err = s.trail.Do(ctx, audit.Description{TenantID: tenantID, ResourceType: "message_endpoint", ResourceID: row.ID}, func(tx *store.Tx) error {
		return tx.InsertEndpoint(ctx, row)
	})
	if err != nil {
		return Registered{}, err
	}
	return Registered{Endpoint: endpointView(row, &cfg), Secret: string(secret)}, nil
}

// regionAllowed reports whether an endpoint labelled label is inside the
// tenant's residency pin (ENV-2). An endpoint without a region is outside
// every pin.
func (s *Service) regionAllowed(ctx context.Context, tenantID, label string) (bool, error) {
	if s.pins == nil {
		return true, nil
	}
	pin, err := s.pins.Pin(ctx, tenantID)
	if err != nil {
		return false, err
	}
	return region.Allowed(pin, label), nil
}

// checkRegion refuses an endpoint region outside the tenant's residency
// pin with a problem that says why.
func (s *Service) checkRegion(ctx context.Context, tenantID, label string) error {
	if s.pins == nil {
		return nil
	}
	pin, err := s.pins.Pin(ctx, tenantID)
	if err != nil {
		return err
	}
	if err := region.Check(pin, label); err != nil {
		audit.Detail(ctx, "refused", "region_not_allowed")
		return problem.Invalid("region_not_allowed", "The destination is outside the region your organisation's data must stay in: "+err.Error()+".",
			problem.Field("/region", "region_not_allowed", "Give the region the receiver keeps the data in (for example se-sto or eu-north-1); it must be inside "+region.Describe(pin)+"."))
	}
	return nil
}

func (s *Service) sealConfig(ctx context.Context, tenantID, id string, cfg endpointConfig) ([]byte, error) {
	sealer, err := s.keys.Sealer(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	return sealer.Seal(raw, endpointLocation(tenantID, id))
}

func (s *Service) openConfig(ctx context.Context, r store.EndpointRow) (endpointConfig, error) {
	var cfg endpointConfig
	sealer, err := s.keys.Sealer(ctx, r.TenantID)
	if err != nil {
		return cfg, err
	}
	raw, err := sealer.Open(r.Config, endpointLocation(r.TenantID, r.ID))
	if err != nil {
		return cfg, err
	}
	return cfg, json.Unmarshal(raw, &cfg)
}

// Endpoints lists the caller's tenant's endpoints.
func (s *Service) Endpoints(ctx context.Context, p authz.Principal) ([]EndpointView, error) {
	tenantID := p.TenantID
	if p.Kind == authz.Operator {
		return nil, errForbidden // operators use PendingEndpoints
	}
	if err := s.authorize(ctx, p, authz.EndpointRead, authz.Resource{TenantID: tenantID}, "message_endpoint"); err != nil {
		return nil, err
	}
	return s.endpointList(ctx, tenantID, "")
}

func (s *Service) endpointList(ctx context.Context, tenantID, state string) ([]EndpointView, error) {
	rows, err := s.db.Reader().Endpoints(ctx, tenantID, state)
	if err != nil {
		return nil, err
	}
	out := make([]EndpointView, 0, len(rows))
	for _, r := range rows {
		cfg, err := s.openConfig(ctx, r)
		if err != nil {
			return nil, err
		}
		out = append(out, endpointView(r, &cfg))
	}
	return out, nil
}

// GetEndpoint returns one of the caller's tenant's endpoints.
func (s *Service) GetEndpoint(ctx context.Context, p authz.Principal, id string) (EndpointView, error) {
	tenantID := p.TenantID
	if p.Kind == authz.Operator {
		return EndpointView{}, errForbidden // operators use PendingEndpoints
	}
	if err := s.authorize(ctx, p, authz.EndpointRead, authz.Resource{TenantID: tenantID, ID: id}, "message_endpoint"); err != nil {
		return EndpointView{}, err
	}
	r, err := s.db.Reader().Endpoint(ctx, tenantID, id)
	if errors.Is(err, store.ErrNotFound) {
		return EndpointView{}, ErrEndpointNotFound
	}
	if err != nil {
		return EndpointView{}, err
	}
	cfg, err := s.openConfig(ctx, r)
	if err != nil {
		return EndpointView{}, err
	}
	return endpointView(r, &cfg), nil
}

// DeleteEndpoint removes an endpoint; messages still queued for it become
// dead letters at their next attempt.
func (s *Service) DeleteEndpoint(ctx context.Context, p authz.Principal, id string) error {
	tenantID := p.TenantID
	if err := s.authorize(ctx, p, authz.EndpointManage, authz.Resource{TenantID: tenantID, ID: id}, "message_endpoint"); err != nil {
		return err
	}
	err := s.trail.Do(ctx, audit.Description{TenantID: tenantID, ResourceType: "message_endpoint", ResourceID: id}, func(tx *store.Tx) error {
		return tx.DeleteEndpoint(ctx, tenantID, id)
	})
	if errors.Is(err, store.ErrNotFound) {
		return ErrEndpointNotFound
	}
	return err
}

// PendingEndpoints lists every tenant's endpoints in a state ("" for all)
// for platform operators.
func (s *Service) PendingEndpoints(ctx context.Context, p authz.Principal, state string) ([]EndpointView, error) {
	if err := s.authorize(ctx, p, authz.EndpointRead, authz.Resource{}, "message_endpoint"); err != nil {
		return nil, err
	}
	switch state {
	case "", EndpointPending, EndpointApproved, EndpointDenied, EndpointRevoked:
	default:
		return nil, problem.Invalid("invalid_state", "state is pending, approved, denied or revoked.")
	}
	list, err := s.endpointList(ctx, "", state)
	for i := range list {
		list[i].CreatedBy = "" // a tenant's user: not the platform's business
	}
	return list, err
}

// Decide records a platform operator's decision on a tenant's endpoint:
// approve or deny a pending one, or revoke an approved one. The decision
// is of the version the operator saw; a changed endpoint is refused
// (409 endpoint_changed).
func (s *Service) Decide(ctx context.Context, p authz.Principal, tenantID, id string, d Decision) (EndpointView, error) {
	if err := s.authorize(ctx, p, authz.EndpointApprove, authz.Resource{TenantID: tenantID, ID: id}, "message_endpoint"); err != nil {
		return EndpointView{}, err
	}
	var state string
	var from []string
	switch d.Decision {
	case "approve":
		state, from = EndpointApproved, []string{EndpointPending}
	case "deny":
		state, from = EndpointDenied, []string{EndpointPending}
	case "revoke":
		state, from = EndpointRevoked, []string{EndpointApproved, EndpointPending}
	default:
		return EndpointView{}, problem.Invalid("invalid_decision", "The decision is approve, deny or revoke.",
			problem.Field("/decision", "invalid_decision", "Use approve, deny or revoke."))
	}
	d.Comment = strings.TrimSpace(d.Comment)
	if d.Comment == "" || len(d.Comment) > 2000 {
		return EndpointView{}, problem.Invalid("invalid_comment", "Say why, in 1 to 2000 characters.",
			problem.Field("/comment", "required", "Say why you decide so; it is kept in the audit trail."))
	}
	r, err := s.db.Reader().Endpoint(ctx, tenantID, id)
	if errors.Is(err, store.ErrNotFound) {
		return EndpointView{}, ErrEndpointNotFound
	}
	if err != nil {
		return EndpointView{}, err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	audit.Detail(ctx, "decision_of", d.Decision)
	err = s.trail.Do(ctx, audit.Description{TenantID: tenantID, ResourceType: "message_endpoint", ResourceID: id, Reason: d.Comment},
		func(tx *store.Tx) error {
			return tx.DecideEndpoint(ctx, tenantID, id, d.Version, from, state, p.ID, now)
		})
	if errors.Is(err, store.ErrConflict) {
		return EndpointView{}, problem.Conflict("endpoint_changed", "The endpoint changed, or is not in a state that decision applies to; read it again.")
	}
	if err != nil {
		return EndpointView{}, err
	}
	r.State, r.DecidedBy, r.DecidedAt, r.UpdatedAt = state, p.ID, now, now
	cfg, err := s.openConfig(ctx, r)
	if err != nil {
		return EndpointView{}, err
	}
	return endpointView(r, &cfg), nil
}
