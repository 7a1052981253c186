package api

import (
	"net/http"
	"strconv"

	"github.com/valvhq/valv/internal/auth"
	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/problem"
	"github.com/valvhq/valv/internal/tenant"
)

func (a *API) userRoutes() []Route {
	t := func(r Route) Route { return r.tag("users") }
	return []Route{
		a.route("GET", "/api/v1/users", "user.list", Session, 200, "List the users of your organisation (owners and admins)", a.listUsers).with(t).returns(page[auth.Account]{}),
		a.route("POST", "/api/v1/users", "user.create", Session, 201, "Invite a user; they set up the account from a one-time link", a.inviteUser).with(t).body(tenant.InviteInput{}).returns(invited{}),
		a.route("GET", "/api/v1/users/{id}", "user.read", Session, 200, "One user (owners and admins, or the user)", a.getUser).with(t).returns(auth.Account{}),
		a.route("PATCH", "/api/v1/users/{id}", "user.update", Session, 200, "Change a user's role, status, name or language; a new role ends their sessions", a.updateUser).with(t).body(tenant.UserPatch{}).returns(auth.Account{}),
		a.route("DELETE", "/api/v1/users/{id}", "user.delete", Session, 204, "Remove a user", a.deleteUser).with(t),
		a.route("POST", "/api/v1/users/{id}/setup-link", "user.setup_link", Session, 200, "Replace an invited user's setup link", a.resendSetup).with(t).returns(invited{}),
		a.route("GET", "/api/v1/operators", "operator.list", Session, 200, "List operator accounts (security operators)", a.listOperators).with(t).returns([]auth.Account{}),
		a.route("POST", "/api/v1/operators", "operator.create", Session, 201, "Create an operator account (security operators)", a.createOperator).with(t).body(operatorRequest{}).returns(invited{}),
	}
}

// page is one page of a list with the cursor of the next ("" at the end).
type page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// invited is a new account with its one-time setup link.
type invited struct {
	Account   *auth.Account `json:"account,omitempty"`
	SetupLink string        `json:"setup_link"`
}

func pageParams(r *http.Request) (string, int, error) {
	q := r.URL.Query()
	limit := 100
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 500 {
			return "", 0, problem.Invalid("invalid_limit", "limit is a number from 1 to 500.", problem.Field("/limit", "out_of_range", "Use 1 to 500."))
		}
		limit = n
	}
	cursor := q.Get("cursor")
	if len(cursor) > 200 {
		return "", 0, problem.Invalid("invalid_cursor", "The cursor is not valid.", problem.Field("/cursor", "invalid", "Use the next_cursor of the previous page."))
	}
	return cursor, limit, nil
}

func (a *API) listUsers(w http.ResponseWriter, r *http.Request) error {
	cursor, limit, err := pageParams(r)
	if err != nil {
		return err
	}
	p := authz.PrincipalFrom(r.Context())
	items, next, err := a.tenants.Users(r.Context(), p, p.TenantID, cursor, limit)
	if err != nil {
		return err
	}
	if items == nil {
		items = []auth.Account{}
	}
	return writeJSON(w, http.StatusOK, page[auth.Account]{Items: items, NextCursor: next})
}

func (a *API) inviteUser(w http.ResponseWriter, r *http.Request) error {
	var in tenant.InviteInput
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	p := authz.PrincipalFrom(r.Context())
	acc, link, err := a.tenants.Invite(r.Context(), p, p.TenantID, in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, invited{Account: &acc, SetupLink: link})
}

func (a *API) getUser(w http.ResponseWriter, r *http.Request) error {
	p := authz.PrincipalFrom(r.Context())
	acc, err := a.tenants.User(r.Context(), p, p.TenantID, r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, acc)
}

func (a *API) updateUser(w http.ResponseWriter, r *http.Request) error {
	var patch tenant.UserPatch
	if err := decodeJSON(r, &patch); err != nil {
		return err
	}
	p := authz.PrincipalFrom(r.Context())
	acc, err := a.tenants.UpdateUser(r.Context(), p, p.TenantID, r.PathValue("id"), patch)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, acc)
}

func (a *API) deleteUser(w http.ResponseWriter, r *http.Request) error {
	p := authz.PrincipalFrom(r.Context())
	if err := a.tenants.DeleteUser(r.Context(), p, p.TenantID, r.PathValue("id")); err != nil {
		return err
	}
	return noContent(w)
}

func (a *API) resendSetup(w http.ResponseWriter, r *http.Request) error {
	p := authz.PrincipalFrom(r.Context())
	link, err := a.tenants.ResendSetupLink(r.Context(), p, p.TenantID, r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, invited{SetupLink: link})
}

func (a *API) listOperators(w http.ResponseWriter, r *http.Request) error {
	ops, err := a.tenants.Operators(r.Context(), authz.PrincipalFrom(r.Context()))
	if err != nil {
		return err
	}
	if ops == nil {
		ops = []auth.Account{}
	}
	return writeJSON(w, http.StatusOK, ops)
}

type operatorRequest struct {
	Email    string     `json:"email"`
	Role     authz.Role `json:"role"`
	Language string     `json:"language,omitempty"`
}

func (a *API) createOperator(w http.ResponseWriter, r *http.Request) error {
	var req operatorRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	acc, link, err := a.tenants.CreateOperator(r.Context(), authz.PrincipalFrom(r.Context()), req.Email, req.Role, req.Language)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, invited{Account: &acc, SetupLink: link})
}
