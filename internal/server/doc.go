// Package server is Valv's HTTPS server: TLS, timeouts, size limits,
// graceful shutdown, and the middleware chain and routes, declared together
// in routes.go.
//
// Invariants:
//   - Only HTTPS is served; the optional plain-HTTP listener only redirects.
//   - Every response carries a request id and the security headers; every
//     error is a JSON envelope (problem.Envelope) without internal details.
//   - Logs hold the route pattern, never the raw path or query (which may
//     carry identifiers), and never the client's address or user agent.
package server
