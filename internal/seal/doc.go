// Package seal encrypts Valv's values at rest: envelope encryption under a
// tenant's keysets, with associated data that binds every ciphertext to its
// tenant, table, row and field, and keyed blind indexes for lookups without
// decrypting. docs/crypto.md describes the formats.
//
// Invariants:
//   - Every sealed value starts with a format version byte and carries the id
//     of the key that sealed it (Tink's output prefix).
//   - A ciphertext opens only at the location (tenant, table, row, field) it
//     was sealed for: copied anywhere else it fails to open.
//   - Only vetted primitives are used (Tink AES-256-GCM, AES-256-GCM-HKDF
//     streaming, HMAC-SHA256 PRF); nothing here invents a mode.
//   - Inputs are length-checked before they are sliced; malformed input is
//     an error, never a panic.
package seal
