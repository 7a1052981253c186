package problem

import (
	"errors"
	"fmt"
	"strings"
)

// Kind classifies a problem. The HTTP edge maps each kind to one status.
type Kind int

const (
	KindInternal         Kind = iota // 500: a fault of ours; details only in the log
	KindInvalid                      // 400: the request is malformed or fails validation
	KindUnprocessable                // 422: well-formed, but refused by a rule (schema, malware, ...)
	KindUnauthenticated              // 401: no valid credentials
	KindForbidden                    // 403: credentials are valid but not enough
	KindNotFound                     // 404
	KindConflict                     // 409: state conflict, duplicate
	KindPrecondition                 // 412: If-Match and friends did not hold
	KindTooLarge                     // 413
	KindUnsupportedMedia             // 415
	KindTooManyRequests              // 429
	KindUnavailable                  // 503: sealed, dependency down, shutting down
	KindMethodNotAllowed             // 405
)

var kindNames = [...]string{
	KindInternal:         "internal",
	KindInvalid:          "invalid",
	KindUnprocessable:    "unprocessable",
	KindUnauthenticated:  "unauthenticated",
	KindForbidden:        "forbidden",
	KindNotFound:         "not_found",
	KindConflict:         "conflict",
	KindPrecondition:     "precondition_failed",
	KindTooLarge:         "too_large",
	KindUnsupportedMedia: "unsupported_media_type",
	KindTooManyRequests:  "too_many_requests",
	KindUnavailable:      "unavailable",
	KindMethodNotAllowed: "method_not_allowed",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// FieldError names one field of the input that was wrong. Field is a JSON
// pointer-like path ("/subjects/0/value"); Code is stable; Message is for people.
type FieldError struct {
	Field   string `json:"field"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Error is a client-facing error. Construct it with the helpers below.
type Error struct {
	Kind    Kind
	Code    string
	Message string
	Fields  []FieldError
	// RetryAfter, when positive, is sent as a Retry-After header (seconds).
	RetryAfter int
	// Cause is the internal error, for the server log only.
	Cause error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Code)
	b.WriteString(": ")
	b.WriteString(e.Message)
	for _, f := range e.Fields {
		fmt.Fprintf(&b, "; %s: %s", f.Field, f.Message)
	}
	if e.Cause != nil {
		b.WriteString(": ")
		b.WriteString(e.Cause.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Cause }

// Is reports whether target is a *Error with the same code, so that callers
// can write errors.Is(err, problem.New(problem.KindNotFound, "tenant_not_found", "")).
// Most code should prefer errors.As and compare Code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// New returns a problem of the given kind.
func New(kind Kind, code, message string) *Error {
	return &Error{Kind: kind, Code: code, Message: message}
}

// Wrap returns a problem that keeps cause for the log.
func Wrap(cause error, kind Kind, code, message string) *Error {
	return &Error{Kind: kind, Code: code, Message: message, Cause: cause}
}

// Invalid returns a 400-kind problem listing the fields that were wrong.
func Invalid(code, message string, fields ...FieldError) *Error {
	return &Error{Kind: KindInvalid, Code: code, Message: message, Fields: fields}
}

// Field is shorthand for a FieldError.
func Field(field, code, message string) FieldError {
	return FieldError{Field: field, Code: code, Message: message}
}

// NotFound returns a 404-kind problem.
func NotFound(code, message string) *Error { return New(KindNotFound, code, message) }

// Forbidden returns a 403-kind problem.
func Forbidden(code, message string) *Error { return New(KindForbidden, code, message) }

// Conflict returns a 409-kind problem.
func Conflict(code, message string) *Error { return New(KindConflict, code, message) }

// Unavailable returns a 503-kind problem.
func Unavailable(code, message string) *Error { return New(KindUnavailable, code, message) }

// As returns the *Error in err's chain, if any.
func As(err error) (*Error, bool) {
	var p *Error
	if errors.As(err, &p) {
		return p, true
	}
	return nil, false
}

// Internal is what a client sees for an error that is not a problem.
func Internal(cause error) *Error {
	return Wrap(cause, KindInternal, "internal_error",
		"Something went wrong on our side. The request id identifies it in our logs.")
}

// From returns err as a problem: the problem in its chain, or an internal error.
func From(err error) *Error {
	if p, ok := As(err); ok {
		return p
	}
	return Internal(err)
}
