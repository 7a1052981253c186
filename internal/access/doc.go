// Package access is operator access to tenants' data (OPS-1..3, AZ-4).
//
// Operators have no standing access to a tenant's data. An operator files a
// request naming the tenant, a scope (documents of one type, one document,
// the audit trail, or messages), a reason and a duration; a security
// operator other than the requester approves or denies it with a comment;
// where the tenant asks for it, its owner consents too. Only then does the
// request become a grant, which authz.Decide honours until it expires or is
// revoked. Grants are read from the database on every request of the
// operator (ActiveGrants), so an expiry or a revocation stops access on the
// next request. In an emergency a security operator may take break-glass
// access without an approval: it lasts at most an hour and everyone who
// must know is told at once.
//
// Every step is audited in the tenant's chain with the grant's id and the
// reason or comment (sealed), and mirrored into the platform's chain; so is
// every access made under a grant.
package access
