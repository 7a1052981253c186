// Package api is Valv's JSON API under /api/v1/: handlers that decode a
// request, call one service method, and encode its result, plus the OpenAPI
// document that describes every route.
//
// Invariants:
//   - Handlers hold no business rules and no authorization: services do.
//   - Every error is written as a problem envelope; internal causes go to
//     the log under the request id, never to the client.
//   - Every route is in openapi.json, and every path there is a route
//     (checked by a test).
package api
