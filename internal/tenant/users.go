package tenant

import (
	"context"

	"github.com/valvhq/valv/internal/auth"
	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/problem"
)

// The users of a tenant are managed by its owners and admins (AZ-3).
// Accounts themselves belong to authentication; these methods decide who
// may do what, then ask it.

// Users lists a tenant's users.
func (s *Service) Users(ctx context.Context, p authz.Principal, tenantID, cursor string, limit int) ([]auth.Account, string, error) {
	if err := s.authorize(ctx, p, authz.UserList, authz.Resource{TenantID: tenantID}); err != nil {
		return nil, "", err
	}
	return s.accounts.ListAccounts(ctx, tenantID, cursor, limit)
}

// User returns one user (admins, or the user themself).
func (s *Service) User(ctx context.Context, p authz.Principal, tenantID, id string) (auth.Account, error) {
	if err := s.authorize(ctx, p, authz.UserRead, authz.Resource{TenantID: tenantID, ID: id, Owner: id}); err != nil {
		return auth.Account{}, err
	}
	return s.accounts.GetAccount(ctx, tenantID, id)
}

// InviteInput is a new user.
type InviteInput struct {
	Email       string     `json:"email"`
	DisplayName string     `json:"display_name"`
	Role        authz.Role `json:"role"`
	Language    string     `json:"language"`
}

// Invite creates a user who sets up the account from a one-time link.
// Only an owner may create another owner.
func (s *Service) Invite(ctx context.Context, p authz.Principal, tenantID string, in InviteInput) (auth.Account, string, error) {
	if err := s.authorize(ctx, p, authz.UserCreate, authz.Resource{TenantID: tenantID}); err != nil {
		return auth.Account{}, "", err
	}
	if in.Role == authz.Owner {
		if err := s.authorize(ctx, p, authz.UserMakeOwner, authz.Resource{TenantID: tenantID}); err != nil {
			return auth.Account{}, "", err
		}
	}
	if in.Role == "" {
		in.Role = authz.Member
	}
	return s.accounts.CreateAccount(ctx, auth.NewAccount{TenantID: tenantID, Email: in.Email, DisplayName: in.DisplayName, Role: in.Role, Language: in.Language})
}

// UserPatch changes a user; nil fields stay.
type UserPatch struct {
	Role        *authz.Role `json:"role"`
	Status      *string     `json:"status"`
	DisplayName *string     `json:"display_name"`
	Language    *string     `json:"language"`
}

// UpdateUser changes a user's role, status, name or language. Giving or
// taking the owner role needs an owner, and a tenant always keeps at least
// one active owner. A changed role or status ends the user's sessions.
func (s *Service) UpdateUser(ctx context.Context, p authz.Principal, tenantID, id string, patch UserPatch) (auth.Account, error) {
	if err := s.authorize(ctx, p, authz.UserUpdate, authz.Resource{TenantID: tenantID, ID: id}); err != nil {
		return auth.Account{}, err
	}
	cur, err := s.accounts.GetAccount(ctx, tenantID, id)
	if err != nil {
		return auth.Account{}, err
	}
	touchesOwner := cur.Role == string(authz.Owner) || (patch.Role != nil && *patch.Role == authz.Owner)
	if touchesOwner && (patch.Role != nil || patch.Status != nil) {
		if err := s.authorize(ctx, p, authz.UserMakeOwner, authz.Resource{TenantID: tenantID}); err != nil {
			return auth.Account{}, err
		}
	}
	losesOwner := cur.Role == string(authz.Owner) && cur.Status == "active" &&
		((patch.Role != nil && *patch.Role != authz.Owner) || (patch.Status != nil && *patch.Status != "active"))
	if losesOwner {
		if err := s.keepsAnOwner(ctx, tenantID); err != nil {
			return auth.Account{}, err
		}
	}
	return s.accounts.UpdateAccount(ctx, tenantID, id, auth.AccountChange{Role: patch.Role, Status: patch.Status, DisplayName: patch.DisplayName, Language: patch.Language})
}

func (s *Service) keepsAnOwner(ctx context.Context, tenantID string) error {
	n, err := s.db.Reader().CountAccounts(ctx, tenantID, string(authz.Owner))
	if err != nil {
		return err
	}
	if n <= 1 {
		return problem.Conflict("last_owner", "A tenant needs at least one active owner. Make someone else owner first.")
	}
	return nil
}

// DeleteUser removes a user with their sessions and credentials.
func (s *Service) DeleteUser(ctx context.Context, p authz.Principal, tenantID, id string) error {
	if err := s.authorize(ctx, p, authz.UserDelete, authz.Resource{TenantID: tenantID, ID: id}); err != nil {
		return err
	}
	cur, err := s.accounts.GetAccount(ctx, tenantID, id)
	if err != nil {
		return err
	}
	if cur.Role == string(authz.Owner) {
		if err := s.authorize(ctx, p, authz.UserMakeOwner, authz.Resource{TenantID: tenantID}); err != nil {
			return err
		}
		if cur.Status == "active" {
			if err := s.keepsAnOwner(ctx, tenantID); err != nil {
				return err
			}
		}
	}
	return s.accounts.DeleteAccount(ctx, tenantID, id)
}

// ResendSetupLink replaces an invited user's setup link.
func (s *Service) ResendSetupLink(ctx context.Context, p authz.Principal, tenantID, id string) (string, error) {
	if err := s.authorize(ctx, p, authz.UserCreate, authz.Resource{TenantID: tenantID, ID: id}); err != nil {
		return "", err
	}
	return s.accounts.NewSetupLink(ctx, tenantID, id)
}

// CreateOperator creates an operator account (security operators only).
func (s *Service) CreateOperator(ctx context.Context, p authz.Principal, email string, role authz.Role, lang string) (auth.Account, string, error) {
	if err := s.authorize(ctx, p, authz.OperatorCreate, authz.Resource{}); err != nil {
		return auth.Account{}, "", err
	}
	return s.accounts.CreateAccount(ctx, auth.NewAccount{Email: email, Role: role, Language: lang})
}

// Operators lists operator accounts (security operators only).
func (s *Service) Operators(ctx context.Context, p authz.Principal) ([]auth.Account, error) {
	if err := s.authorize(ctx, p, authz.OperatorList, authz.Resource{}); err != nil {
		return nil, err
	}
	out, _, err := s.accounts.ListAccounts(ctx, "", "", 500)
	return out, err
}

// OIDC returns the tenant's identity-provider settings (no secret).
func (s *Service) OIDC(ctx context.Context, p authz.Principal, tenantID string) (auth.OIDCConfig, error) {
	if err := s.authorize(ctx, p, authz.OIDCConfigure, authz.Resource{TenantID: tenantID}); err != nil {
		return auth.OIDCConfig{}, err
	}
	return s.oidc.OIDCSettings(ctx, tenantID)
}

// SetOIDC configures the tenant's identity provider.
func (s *Service) SetOIDC(ctx context.Context, p authz.Principal, tenantID string, c auth.OIDCConfig) (auth.OIDCConfig, error) {
	if err := s.authorize(ctx, p, authz.OIDCConfigure, authz.Resource{TenantID: tenantID}); err != nil {
		return auth.OIDCConfig{}, err
	}
	if err := s.oidc.ConfigureOIDC(ctx, tenantID, c); err != nil {
		return auth.OIDCConfig{}, err
	}
	return s.oidc.OIDCSettings(ctx, tenantID)
}
