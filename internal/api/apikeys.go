package api

import (
	"net/http"

	"github.com/valvhq/valv/internal/auth"
	"github.com/valvhq/valv/internal/authz"
)

func (a *API) apiKeyRoutes() []Route {
	t := func(r Route) Route { return r.tag("api-keys") }
	return []Route{
		a.route("GET", "/api/v1/api-keys", "apikey.list", Session, 200, "List your organisation's API keys (owners and admins)", a.listKeys).with(t).returns([]auth.APIKey{}),
		a.route("POST", "/api/v1/api-keys", "apikey.create", Session, 201, "Create an API key: scoped, optionally expiring and limited to addresses; the key is shown once", a.createKey).with(t).body(auth.APIKeyInput{}).returns(newKeyResponse{}),
		a.route("GET", "/api/v1/api-keys/{id}", "apikey.read", Session, 200, "One API key", a.getKey).with(t).returns(auth.APIKey{}),
		a.route("PUT", "/api/v1/api-keys/{id}", "apikey.update", Session, 200, "Change a key's name, scopes, allowed addresses and expiry", a.updateKey).with(t).body(auth.APIKeyInput{}).returns(auth.APIKey{}),
		a.route("DELETE", "/api/v1/api-keys/{id}", "apikey.revoke", Session, 204, "Revoke a key; its next request is refused", a.revokeKey).with(t),
	}
}

// newKeyResponse carries a new key; Key is shown only in this response.
type newKeyResponse struct {
	APIKey auth.APIKey `json:"api_key"`
	Key    string      `json:"key"`
}

func (a *API) listKeys(w http.ResponseWriter, r *http.Request) error {
	keys, err := a.auth.APIKeys(r.Context(), authz.PrincipalFrom(r.Context()))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, keys)
}

func (a *API) createKey(w http.ResponseWriter, r *http.Request) error {
	var in auth.APIKeyInput
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	k, secret, err := a.auth.CreateAPIKey(r.Context(), authz.PrincipalFrom(r.Context()), in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, newKeyResponse{APIKey: k, Key: secret})
}

func (a *API) getKey(w http.ResponseWriter, r *http.Request) error {
	k, err := a.auth.GetAPIKey(r.Context(), authz.PrincipalFrom(r.Context()), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, k)
}

func (a *API) updateKey(w http.ResponseWriter, r *http.Request) error {
	var in auth.APIKeyInput
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	k, err := a.auth.UpdateAPIKey(r.Context(), authz.PrincipalFrom(r.Context()), r.PathValue("id"), in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, k)
}

func (a *API) revokeKey(w http.ResponseWriter, r *http.Request) error {
	if err := a.auth.RevokeAPIKey(r.Context(), authz.PrincipalFrom(r.Context()), r.PathValue("id")); err != nil {
		return err
	}
	return noContent(w)
}
