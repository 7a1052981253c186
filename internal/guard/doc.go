// Package guard protects Valv's HTTP edge from attack traffic (GRD-1). It
// holds the web application firewall: Coraza with the OWASP Core Rule Set
// (CRS 4, embedded), in blocking mode with anomaly scoring, tuned for a
// JSON API and a form-based portal. Rate limits and the IP block list will
// join it here.
//
// A WAF is built once by New and wraps handlers with Middleware, which the
// server places after the request id and client address are known (package
// call) and before authentication. A request the rules block gets a 403
// problem (code request_blocked) and Options.OnBlock gets an Event to
// audit, count and notify the security contact with. docs/waf.md describes
// the configuration, every exclusion, and how detection and cost are
// measured (TestCRSRegressionCorpus, TestFalsePositives, BenchmarkGuard).
//
// Invariants:
//   - Fail closed: a request reaches the next handler only after phases 1
//     and 2 of the rules ran over it and did not block it. A body that
//     cannot be read, parsed or fully inspected is refused, never passed on
//     uninspected; so is a failure of the WAF itself (500).
//   - The next handler reads exactly the bytes that were inspected: an
//     inspected body is read whole (at most Options.BodyLimit bytes, in
//     memory) and replayed.
//   - Bodies never reach the disk: Coraza's in-memory limit is above the
//     body limit, and a multipart body that may hold a file is refused on
//     inspected routes (Coraza would write the file to a temporary file).
//     Only Options.Stock, which exists for measurement, parses such files
//     as Coraza does.
//   - File content is not inspected here: routes for which
//     Options.InspectBody returns false (uploads, streams) pass their body
//     on untouched and unbuffered, and JSON members named *_base64 are
//     excluded from the rules. The API MUST decode such members as base64
//     and hand them, like uploads, to the malware scanner, and MUST NOT use
//     them as text. Responses are never inspected.
//   - Inspection is bounded: at most Options.TextLimit bytes of body text
//     and Options.ArgumentLimit arguments per source; more is refused.
//   - Every Coraza transaction is ended (ProcessLogging, Close) on every
//     path, which returns it to Coraza's pool.
//   - Events and errors hold rule ids, rule messages (with their macros
//     unexpanded), scores and the client address — never matched data or
//     any other part of the request, which may be personal data. The
//     client address is personal data too: it MUST NOT be logged.
package guard
