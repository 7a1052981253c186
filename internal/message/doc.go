// Package message is Valv's messages (SPEC MSG-1..4, RET-2): a tenant
// sends structured data to another tenant's inbox or to an agreed external
// endpoint, receives messages from partners, and every message keeps a
// transaction log of each step.
//
// A message is a document in the message archive (its data and payload
// are sealed there, and it is culled with its log after 12 months); the
// messages table is its envelope: box, the other party, delivery state.
// Sending converts the data with the document type's converter (MSG-4),
// stores the message, and either puts it in the recipient tenant's inbox in
// the same transaction or queues it in the outbox. The outbox is worked by
// Deliver (a job on every node, with a lease per message): a signed HTTPS
// POST (Standard Webhooks) through Transport, retried with exponential
// back-off and jitter until the retry period ends, then kept as a dead
// letter that can be sent again.
//
// Invariants:
//   - Nothing leaves the platform except to an endpoint the tenant
//     registered and a platform operator approved, for the purpose it was
//     approved for (MSG-2). Anything else is refused with
//     destination_not_agreed, audited, and reported to the tenant's
//     security contact. Transport refuses addresses outside the network
//     policy at connection time, after DNS, and never follows redirects.
//   - A message, its envelope and the first entries of its log commit in
//     one transaction with the call's audit entry (and, for another
//     tenant's inbox, the recipient's copy and an entry in its chain).
//   - Every attempt is logged with its time, endpoint, HTTP status and
//     latency; the delivery id is the same on every attempt, so an
//     idempotent receiver acts once even when a node dies after sending and
//     before recording it.
//   - The log and the envelope hold no personal data: ids, types, states,
//     times, codes. Errors and log lines never carry a URL's path, a
//     payload or a secret.
package message
