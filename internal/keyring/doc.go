// Package keyring holds Valv's key hierarchy: a root key from a provider
// (a local file, Shamir shares held by key holders, or a PKCS#11 module),
// and per-tenant Tink keysets wrapped by it. It seals and unseals the
// installation, hands out a seal.Sealer per tenant, and rotates, re-wraps
// and destroys keys. docs/crypto.md describes the hierarchy.
//
// Invariants:
//   - The root key never reaches storage or a log. With Shamir it exists
//     only in memory, after K valid shares were given, until Seal.
//   - Every tenant keyset is stored encrypted by the root key, with the
//     tenant id and the keyset's purpose as associated data.
//   - While sealed, every operation that needs a key fails with ErrSealed.
//   - Blind-index (PRF) keys are never rotated: tokens must stay stable.
package keyring
