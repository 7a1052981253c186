// Package auth establishes who is calling: passwords (argon2id), second
// factors (TOTP, e-mailed codes, recovery codes, passkeys), OpenID Connect,
// one-time links (account setup, password reset) and server-side sessions
// with idle and absolute expiry. It turns a request's credentials into an
// authz.Principal.
//
// Invariants:
//   - No password, code, secret or token is stored in the clear: passwords
//     as argon2id hashes, tokens and codes as keyed or plain SHA-256 hashes
//     (they are high-entropy or short-lived and attempt-limited), TOTP
//     secrets sealed. None appears in a log or an error.
//   - A response never tells whether an account exists: unknown, disabled,
//     locked and wrong-password logins answer alike, and take the same time
//     (a dummy hash is computed when there is no account).
//   - Sessions are checked on every request against the database: a revoked
//     session, a disabled account or a suspended tenant stops working on the
//     next request.
package auth
