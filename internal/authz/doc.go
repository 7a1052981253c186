// Package authz decides, for every call, whether a principal may perform an
// action on a resource. Decide is a pure function of its arguments: it reads
// nothing, caches nothing and has no side effects, so it is table-tested
// exhaustively and the same decision is made for the API, the portal and
// the CLI.
//
// Invariants:
//   - Deny by default: an action that is not in the matrix is denied, and so
//     is an unknown role or kind of principal.
//   - A user or API key never acts on another tenant's resource.
//   - Operators have no standing access to tenant data; only an active,
//     matching access grant allows them to read it.
//   - Every decision carries a reason, for the audit trail.
package authz
