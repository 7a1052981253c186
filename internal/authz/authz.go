package authz

import (
	"context"
	"slices"
	"time"
)

// Kind is what sort of principal is acting.
type Kind string

const (
	Anonymous Kind = ""
	User      Kind = "user"
	Operator  Kind = "operator"
	APIKey    Kind = "api_key"
	System    Kind = "system" // Valv's own jobs
)

// Role is a user's role in a tenant, or an operator's role.
type Role string

const (
	Owner   Role = "owner"
	Admin   Role = "admin"
	Member  Role = "member"
	Auditor Role = "auditor"

	RoleOperator Role = "operator"
	RoleSecurity Role = "security"
)

// TenantRoles are the roles a user can have.
var TenantRoles = []Role{Owner, Admin, Member, Auditor}

// OperatorRoles are the roles an operator can have.
var OperatorRoles = []Role{RoleOperator, RoleSecurity}

// ValidTenantRole reports whether r is a user role.
func ValidTenantRole(r Role) bool { return slices.Contains(TenantRoles, r) }

// ValidOperatorRole reports whether r is an operator role.
func ValidOperatorRole(r Role) bool { return slices.Contains(OperatorRoles, r) }

// Scope is a permission an API key carries.
type Scope string

// Principal is who is acting, as established by authentication on this
// request (never cached across requests).
type Principal struct {
	Kind     Kind
	ID       string // account id, API key id, or the job's name
	TenantID string // "" for operators, the system and anonymous callers
	Role     Role
	Scopes   []Scope // API keys only
	// Session is the public id of the login session, if any.
	Session string
	// MFA reports whether this login used a second factor.
	MFA bool
	// Grants are an operator's active access grants, read from the
	// database on this request (so a revoked or expired grant stops at once).
	Grants []Grant
	// Within is, for an operator, the tenant the request names (?tenant=)
	// to read its data under a grant; Decide still needs the grant.
	Within string
}

// Grant is an operator's approved, time-boxed access to a tenant's data.
type Grant struct {
	ID       string
	TenantID string
	Scope    GrantScope
	DocType  string // for GrantDocumentsOfType
	DocID    string // for GrantDocument
	Reason   string
	Expires  time.Time
	// BreakGlass marks emergency access a security operator took without
	// an approval.
	BreakGlass bool
}

// GrantScope is what an access grant covers.
type GrantScope string

const (
	GrantDocumentsOfType GrantScope = "documents_of_type"
	GrantDocument        GrantScope = "document"
	GrantAudit           GrantScope = "audit"
	GrantMessages        GrantScope = "messages"
)

// Resource is what an action is performed on.
type Resource struct {
	// TenantID owns the resource; "" for platform resources.
	TenantID string
	// ID is the resource's id, if it has one.
	ID string
	// Owner is the account the resource belongs to (own sessions, own
	// second factors), for actions anyone may perform on their own things.
	Owner string
	// DocType is a document's type, for grants scoped to a type.
	DocType string
}

// Decision is the outcome of Decide.
type Decision struct {
	Allowed bool
	// Reason says why, in words for the audit trail.
	Reason string
	// Grant is the access grant that allowed an operator, if one did.
	Grant *Grant
}

func deny(reason string) Decision  { return Decision{Reason: reason} }
func allow(reason string) Decision { return Decision{Allowed: true, Reason: reason} }

// Decide decides whether p may perform a on r at time now (grants expire).
func Decide(p Principal, a Action, r Resource, now time.Time) Decision {
	rule, ok := matrix[a]
	if !ok {
		return deny("unknown action " + string(a))
	}
	switch p.Kind {
	case Anonymous:
		return deny("not authenticated")
	case System:
		if rule.system {
			return allow("system job")
		}
		return deny("not a system action")
	case User, APIKey:
		if p.TenantID == "" {
			return deny("principal has no tenant")
		}
		if r.TenantID != p.TenantID {
			return deny("resource belongs to another tenant")
		}
		if rule.self && r.Owner != "" && r.Owner == p.ID && p.Kind == User {
			return allow("own " + string(a))
		}
		if p.Kind == APIKey {
			if rule.scope == "" {
				return deny("not available to API keys")
			}
			if !slices.Contains(p.Scopes, rule.scope) {
				return deny("API key lacks scope " + string(rule.scope))
			}
			return allow("API key scope " + string(rule.scope))
		}
		if slices.Contains(rule.roles, p.Role) {
			return allow("role " + string(p.Role))
		}
		return deny("role " + string(p.Role) + " may not " + string(a))
	case Operator:
		if rule.self && r.Owner != "" && r.Owner == p.ID {
			return allow("own " + string(a))
		}
		if slices.Contains(rule.operators, p.Role) && (r.TenantID == "" || rule.tenantMetadata) {
			return allow("operator role " + string(p.Role))
		}
		if rule.grant != "" && r.TenantID != "" {
			for i := range p.Grants {
				g := p.Grants[i]
				if g.TenantID == r.TenantID && g.Expires.After(now) && grantCovers(g, rule.grant, r) {
					return Decision{Allowed: true, Reason: "access grant " + g.ID + ": " + g.Reason, Grant: &g}
				}
			}
			return deny("no active access grant for this tenant's data")
		}
		return deny("operator role " + string(p.Role) + " may not " + string(a))
	}
	return deny("unknown kind of principal")
}

func grantCovers(g Grant, need GrantScope, r Resource) bool {
	switch need {
	case GrantDocumentsOfType:
		switch g.Scope {
		case GrantDocumentsOfType:
			return r.DocType != "" && g.DocType == r.DocType
		case GrantDocument:
			return r.ID != "" && g.DocID == r.ID
		}
		return false
	default:
		return g.Scope == need
	}
}

type principalKey struct{}

// WithPrincipal returns a context carrying p (set by authentication).
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal in ctx, or an anonymous one.
func PrincipalFrom(ctx context.Context) Principal {
	p, _ := ctx.Value(principalKey{}).(Principal)
	return p
}

// LocalOperator is the principal of an operator at the server's own console:
// the CLI working on the data directory, which holds the root key (or
// needed the key holders' shares). name identifies the person (the OS user).
func LocalOperator(name string) Principal {
	return Principal{Kind: Operator, ID: "cli:" + name, Role: RoleSecurity}
}
