package api

import (
	"net/http"

	"github.com/valvhq/valv/internal/access"
	"github.com/valvhq/valv/internal/authz"
)

// Operator access (OPS-1..3): operators ask for time-boxed, read-only
// access to one scope of a tenant's data; another security operator
// decides; the tenant's owner consents where the tenant asks for it; the
// tenant sees every request and may revoke a grant.
func (a *API) accessRoutes() []Route {
	t := func(r Route) Route { return r.tag("operator access") }
	return []Route{
		a.route("GET", "/api/v1/access-requests", "access.list", Session, 200,
			"Access requests, newest first: an organisation's owners, admins and auditors see those on it; an operator their own; a security operator everyone's",
			a.listAccessRequests).with(t).query(
			Param{Name: "tenant", Type: "string", Description: "operators: only requests for this tenant"},
			Param{Name: "state", Type: "string", Description: "pending, awaiting_consent, active, denied, refused, revoked, expired or lapsed"},
			Param{Name: "cursor", Type: "string", Description: "next_cursor of the previous page"},
			Param{Name: "limit", Type: "integer", Description: "1 to 200 (default 100)"}).returns(page[access.Request]{}),
		a.route("POST", "/api/v1/access-requests", "access.request", Session, 201,
			"An operator asks for read access to a tenant's data: scope, reason, optional ticket, duration (at most the configured maximum). A security operator other than the requester decides.",
			a.fileAccessRequest).with(t).body(access.RequestInput{}).returns(access.Request{}),
		a.route("POST", "/api/v1/access-requests/break-glass", "access.break_glass", Session, 201,
			"A security operator takes emergency access at once, without an approval: flagged, at most 1 hour, and every security operator and the tenant's owners are mailed",
			a.breakGlass).with(t).body(access.RequestInput{}).returns(access.Request{}),
		a.route("GET", "/api/v1/access-requests/{id}", "access.read", Session, 200, "One access request with its decision, consent and times",
			a.getAccessRequest).with(t).returns(access.Request{}),
		a.route("POST", "/api/v1/access-requests/{id}/decision", "access.decide", Session, 200,
			"A security operator (not the requester) approves or denies a pending request, with a comment",
			a.decideAccessRequest).with(t).body(access.Decision{}).returns(access.Request{}),
		a.route("POST", "/api/v1/access-requests/{id}/consent", "access.consent", Session, 200,
			"The organisation's owner gives or refuses consent to an approved request (where the organisation asks for consent)",
			a.consentAccessRequest).with(t).body(access.ConsentInput{}).returns(access.Request{}),
		a.route("POST", "/api/v1/access-requests/{id}/revoke", "access.revoke", Session, 200,
			"End a grant, or withdraw a request: security operators, the requester, or the organisation's owner. Access stops on the operator's next request.",
			a.revokeAccessRequest).with(t).body(access.Revocation{}).returns(access.Request{}),
	}
}

func (a *API) listAccessRequests(w http.ResponseWriter, r *http.Request) error {
	cursor, limit, err := pageParams(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	items, next, err := a.access.List(r.Context(), authz.PrincipalFrom(r.Context()), access.Filter{Tenant: q.Get("tenant"), State: q.Get("state")},
		cursor, min(limit, access.MaxPage))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, page[access.Request]{Items: items, NextCursor: next})
}

func (a *API) fileAccessRequest(w http.ResponseWriter, r *http.Request) error {
	var in access.RequestInput
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	v, err := a.access.File(r.Context(), authz.PrincipalFrom(r.Context()), in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, v)
}

func (a *API) breakGlass(w http.ResponseWriter, r *http.Request) error {
	var in access.RequestInput
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	v, err := a.access.BreakGlass(r.Context(), authz.PrincipalFrom(r.Context()), in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, v)
}

func (a *API) getAccessRequest(w http.ResponseWriter, r *http.Request) error {
	v, err := a.access.Get(r.Context(), authz.PrincipalFrom(r.Context()), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, v)
}

func (a *API) decideAccessRequest(w http.ResponseWriter, r *http.Request) error {
	var in access.Decision
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	v, err := a.access.Decide(r.Context(), authz.PrincipalFrom(r.Context()), r.PathValue("id"), in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, v)
}

func (a *API) consentAccessRequest(w http.ResponseWriter, r *http.Request) error {
	var in access.ConsentInput
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	v, err := a.access.Consent(r.Context(), authz.PrincipalFrom(r.Context()), r.PathValue("id"), in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, v)
}

func (a *API) revokeAccessRequest(w http.ResponseWriter, r *http.Request) error {
	var in access.Revocation
	if r.ContentLength != 0 {
		if err := decodeJSON(r, &in); err != nil {
			return err
		}
	}
	v, err := a.access.Revoke(r.Context(), authz.PrincipalFrom(r.Context()), r.PathValue("id"), in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, v)
}
