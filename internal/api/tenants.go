package api

import (
	"net/http"

	"github.com/valvhq/valv/internal/auth"
	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/tenant"
)

func (a *API) tenantRoutes() []Route {
	t := func(r Route) Route { return r.tag("tenants") }
	return []Route{
		a.route("GET", "/api/v1/tenants", "tenant.list", Session, 200, "List tenants (operators)", a.listTenants).with(t).returns(page[tenant.Tenant]{}),
		a.route("POST", "/api/v1/tenants", "tenant.create", Session, 201, "Create a tenant and, optionally, its owner (operators)", a.createTenant).with(t).body(createTenantRequest{}).returns(tenant.Created{}),
		a.route("GET", "/api/v1/tenants/{id}", "tenant.read", Session, 200, "One tenant (operators: metadata only)", a.getTenant).with(t).returns(tenant.Tenant{}),
		a.route("PATCH", "/api/v1/tenants/{id}", "tenant.suspend", Session, 200, "Suspend or re-activate a tenant (operators)", a.patchTenant).with(t).body(tenantStatusRequest{}).returns(tenant.Tenant{}),
		a.route("GET", "/api/v1/tenant", "tenant.read", Session, 200, "Your organisation", a.ownTenant).with(t).returns(tenant.Tenant{}),
		a.route("GET", "/api/v1/tenant/settings", "tenant.settings.read", Session, 200, "Your organisation's settings (owners and admins)", a.getSettings).with(t).returns(tenant.Settings{}),
		a.route("PATCH", "/api/v1/tenant/settings", "tenant.settings.update", Session, 200, "Change your organisation's settings (owners and admins)", a.patchSettings).with(t).body(settingsRequest{}).returns(tenant.Settings{}),
		a.route("GET", "/api/v1/tenant/oidc", "tenant.oidc.read", Session, 200, "Your organisation's single sign-on settings (owners and admins)", a.getOIDC).with(t).returns(auth.OIDCConfig{}),
		a.route("PUT", "/api/v1/tenant/oidc", "tenant.oidc.configure", Session, 200, "Set your organisation's identity provider (owners and admins)", a.putOIDC).with(t).body(auth.OIDCConfig{}).returns(auth.OIDCConfig{}),
	}
}

type createTenantRequest struct {
	Name            string `json:"name"`
	Slug            string `json:"slug,omitempty"`
	SecurityContact string `json:"security_contact,omitempty"`
	OwnerEmail      string `json:"owner_email,omitempty"`
	OwnerLanguage   string `json:"owner_language,omitempty"`
}

func (a *API) listTenants(w http.ResponseWriter, r *http.Request) error {
	cursor, limit, err := pageParams(r)
	if err != nil {
		return err
	}
	items, next, err := a.tenants.List(r.Context(), authz.PrincipalFrom(r.Context()), cursor, limit)
	if err != nil {
		return err
	}
	if items == nil {
		items = []tenant.Tenant{}
	}
	return writeJSON(w, http.StatusOK, page[tenant.Tenant]{Items: items, NextCursor: next})
}

func (a *API) createTenant(w http.ResponseWriter, r *http.Request) error {
	var req createTenantRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	c, err := a.tenants.Create(r.Context(), authz.PrincipalFrom(r.Context()), tenant.CreateInput{Name: req.Name, Slug: req.Slug,
		SecurityContact: req.SecurityContact, OwnerEmail: req.OwnerEmail, OwnerLanguage: req.OwnerLanguage})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, c)
}

func (a *API) getTenant(w http.ResponseWriter, r *http.Request) error {
	t, err := a.tenants.Get(r.Context(), authz.PrincipalFrom(r.Context()), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, t)
}

type tenantStatusRequest struct {
	Status tenant.Status `json:"status"`
}

func (a *API) patchTenant(w http.ResponseWriter, r *http.Request) error {
	var req tenantStatusRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	t, err := a.tenants.SetStatus(r.Context(), authz.PrincipalFrom(r.Context()), r.PathValue("id"), req.Status)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, t)
}

func (a *API) ownTenant(w http.ResponseWriter, r *http.Request) error {
	p := authz.PrincipalFrom(r.Context())
	if p.TenantID == "" {
		if p.Kind == authz.Anonymous {
			return auth.ErrUnauthenticated
		}
		return tenant.ErrNotFound
	}
	t, err := a.tenants.Get(r.Context(), p, p.TenantID)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, t)
}

func (a *API) getSettings(w http.ResponseWriter, r *http.Request) error {
	p := authz.PrincipalFrom(r.Context())
	st, err := a.tenants.Settings(r.Context(), p, p.TenantID)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, st)
}

type settingsRequest struct {
	tenant.SettingsPatch
	SecurityContact *string `json:"security_contact,omitempty"`
}

func (a *API) patchSettings(w http.ResponseWriter, r *http.Request) error {
	var req settingsRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	p := authz.PrincipalFrom(r.Context())
	if req.SecurityContact != nil {
		if err := a.tenants.SetSecurityContact(r.Context(), p, p.TenantID, *req.SecurityContact); err != nil {
			return err
		}
	}
	st, err := a.tenants.UpdateSettings(r.Context(), p, p.TenantID, req.SettingsPatch)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, st)
}

func (a *API) getOIDC(w http.ResponseWriter, r *http.Request) error {
	p := authz.PrincipalFrom(r.Context())
	c, err := a.tenants.OIDC(r.Context(), p, p.TenantID)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, c)
}

func (a *API) putOIDC(w http.ResponseWriter, r *http.Request) error {
	var req auth.OIDCConfig
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	p := authz.PrincipalFrom(r.Context())
	c, err := a.tenants.SetOIDC(r.Context(), p, p.TenantID, req)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, c)
}
