package app

import (
	"context"
	"net/http"

	"github.com/valvhq/valv/internal/auth"
	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/problem"
)

// authenticate establishes the principal of a request from its session
// cookie. A missing, expired or revoked session leaves the request
// anonymous: routes that need a login then answer 401.
func (a *App) authenticate(r *http.Request) (context.Context, error) {
	ctx := r.Context()
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
	return authz.WithPrincipal(ctx, p), nil
}
