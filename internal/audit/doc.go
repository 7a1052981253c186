// Package audit is Valv's tamper-evident audit trail (AUD-1..AUD-6): an
// entry for every call and change, in one hash chain per tenant and one for
// the platform, with signed Merkle checkpoints that a tenant or an outside
// party can keep and check, proofs of inclusion and consistency, a verifier
// that names the first entry that does not match, forwarding to outside log
// systems, and the optional history of submitted payloads. docs/audit.md
// describes the formats.
//
// Invariants:
//   - No response is sent for a call that is not on the trail: a change and
//     its entry commit in one transaction (Do), and a read or a refusal is
//     written before the response's first byte (HTTP); if that fails, the
//     caller gets 503 instead (fail closed).
//   - Entries hold ids, codes and keyed tokens, never personal data. The
//     client's address and user agent, and free-text reasons, are sealed
//     beside the entry and only their keyed tokens are in the chain, so that
//     keys can rotate without breaking it.
//   - An entry's hash is the RFC 6962 leaf hash of its canonical encoding,
//     which includes the previous entry's hash: it is both the chain link
//     and the Merkle leaf.
package audit
