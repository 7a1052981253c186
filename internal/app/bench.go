package app

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/valvhq/valv/internal/auth"
	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/config"
	"github.com/valvhq/valv/internal/tenant"
)

// BenchFixture is what a load run needs to act as a tenant: its slug, an
// owner who logs in with a password, and an API key for documents and
// validation.
type BenchFixture struct {
	Tenant   string
	Email    string
	Password string
	APIKey   string
}

// PrepareBench makes a tenant for a load run ('valv bench'): its owner,
// with the given password set through the setup link as a person would,
// and an API key with the documents and validation scopes. The tenant's
// settings stay at their defaults (payload history on), so the run pays
// for every protection. A production installation refuses.
func (a *App) PrepareBench(ctx context.Context, name, email, password string) (BenchFixture, error) {
	if a.cfg.Environment == config.Production || a.Installation.Environment == string(config.Production) {
		return BenchFixture{}, errors.New("bench: this is a production installation; load runs go only into test and development installations")
	}
	op := authz.LocalOperator("bench")
	created, err := a.Tenants.Create(withAuditRecord(ctx, "tenant.create"), op, tenant.CreateInput{Name: name,
		OwnerEmail: email, OwnerLanguage: "en", SecurityContact: email})
	if err != nil {
		return BenchFixture{}, fmt.Errorf("bench: create the load run's tenant: %w", err)
	}
	if created.Owner == nil {
		return BenchFixture{}, errors.New("bench: the tenant was made without an owner")
	}
	link, err := url.Parse(created.SetupLink)
	if err != nil {
		return BenchFixture{}, fmt.Errorf("bench: read the owner's setup link: %w", err)
	}
	token := link.Query().Get("token")
	if token == "" {
		if frag, err := url.ParseQuery(link.Fragment); err == nil {
			token = frag.Get("token")
		}
	}
	if _, err := a.Auth.CompleteSetup(withAuditRecord(ctx, "account.setup"), auth.SetupRequest{Token: token, Password: password}); err != nil {
		return BenchFixture{}, fmt.Errorf("bench: set the owner's password: %w", err)
	}
	owner := authz.Principal{Kind: authz.User, ID: created.Owner.ID, TenantID: created.Tenant.ID, Role: authz.Owner}
	_, key, err := a.Auth.CreateAPIKey(withAuditRecord(ctx, "apikey.create"), owner, auth.APIKeyInput{Name: "bench",
		Scopes: []authz.Scope{authz.ScopeDocumentsRead, authz.ScopeDocumentsWrite, authz.ScopeValidate}})
	if err != nil {
		return BenchFixture{}, fmt.Errorf("bench: create the load run's API key: %w", err)
	}
	return BenchFixture{Tenant: created.Tenant.Slug, Email: email, Password: password, APIKey: key}, nil
}
