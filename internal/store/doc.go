// Package store is Valv's only door to the database. It owns every SQL
// statement, hides the differences between SQLite and PostgreSQL, runs the
// embedded schema migrations, and commits writes durably.
//
// Invariants:
//   - The store only ever sees ciphertext and blind-index tokens for personal
//     or secret values: it MUST NOT import seal or keyring.
//   - Every method that reads or writes tenant data takes the tenant id and
//     puts it in the WHERE clause itself, so no caller can forget it.
//   - A Write returns nil only after its changes are durably committed
//     (SQLite: WAL with synchronous=FULL; PostgreSQL: synchronous_commit).
//   - Write functions MUST only touch the database through their Tx and MUST
//     be safe to run more than once: PostgreSQL retries serialization
//     failures, and on SQLite many callers' functions share one commit (group
//     commit), each inside its own savepoint. They MUST NOT do slow work
//     (hashing, sealing, network): do that before calling Write.
//   - SQL is written once, with PostgreSQL's $1 placeholders; the SQLite
//     dialect rewrites them to ?1.
package store
