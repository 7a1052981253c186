package app

import (
	"context"
	"net/http"
	"strings"

	"github.com/valvhq/valv/internal/audit"
	"github.com/valvhq/valv/internal/auth"
	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/call"
	"github.com/valvhq/valv/internal/problem"
)

// authenticate establishes the principal of a request: from an API key in
// "Authorization: Bearer valv_...", or else from the session cookie. A bad
// key is refused (401, or 403 from a disallowed address); a missing,
// expired or revoked session leaves the request anonymous, and routes that
// need a login then answer 401.
func (a *App) authenticate(r *http.Request) (context.Context, error) {
	ctx := r.Context()
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, key, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return nil, auth.ErrInvalidAPIKey
		}
		key = strings.TrimSpace(key)
		p, err := a.Auth.AuthenticateKey(ctx, key, call.From(ctx).ClientIP)
		if err != nil {
			if id, _, perr := auth.ParseAPIKey(key); perr == nil {
				// The key's id is not secret; it tells which key failed.
				audit.Detail(ctx, "api_key_id", id)
			}
			return nil, err
		}
		audit.SetActor(ctx, p)
		return authz.WithPrincipal(ctx, p), nil
	}
	c, err := r.Cookie(auth.CookieName)
	if err != nil || c.Value == "" {
		return authz.WithPrincipal(ctx, authz.Principal{}), nil
	}
	p, err := a.Auth.Authenticate(ctx, c.Value)
	if err != nil {
		if pr, ok := problem.As(err); ok && pr.Kind == problem.KindUnauthenticated {
			return authz.WithPrincipal(ctx, authz.Principal{}), nil
		}
		return nil, err
	}
	if p, err = a.withGrants(ctx, p); err != nil {
		return nil, err
	}
	audit.SetActor(ctx, p)
	return authz.WithPrincipal(ctx, p), nil
}
