// Package problem is the one error type Valv shows to a client: a kind (what
// went wrong, in HTTP's vocabulary but without HTTP), a stable snake_case code
// that client programs can switch on, a message a person can act on, and,
// for invalid input, the fields that were wrong.
//
// Invariants:
//   - A problem's code and message MUST NOT contain personal data, secrets or
//     internal details (SQL, file paths, stack traces). The internal cause, if
//     any, is kept in Cause for the server log and never written to a client.
//   - Any error that is not a *Error is shown to clients as an opaque
//     internal_error with the request id, so a forgotten wrap cannot leak.
package problem
