package problem

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// Status is the HTTP status for a kind.
func (k Kind) Status() int {
	switch k {
	case KindInvalid:
		return http.StatusBadRequest
	case KindUnprocessable:
		return http.StatusUnprocessableEntity
	case KindUnauthenticated:
		return http.StatusUnauthorized
	case KindForbidden:
		return http.StatusForbidden
	case KindNotFound:
		return http.StatusNotFound
	case KindConflict:
		return http.StatusConflict
	case KindPrecondition:
		return http.StatusPreconditionFailed
	case KindTooLarge:
		return http.StatusRequestEntityTooLarge
	case KindUnsupportedMedia:
		return http.StatusUnsupportedMediaType
	case KindTooManyRequests:
		return http.StatusTooManyRequests
	case KindUnavailable:
		return http.StatusServiceUnavailable
	case KindMethodNotAllowed:
		return http.StatusMethodNotAllowed
	default:
		return http.StatusInternalServerError
	}
}

// Envelope is the JSON shape of every API error:
//
//	{"error": {"code": "...", "message": "...", "request_id": "...", "fields": [...]}}
type Envelope struct {
	Error Body `json:"error"`
}

// Body is the inside of an Envelope.
type Body struct {
	Code      string       `json:"code"`
	Message   string       `json:"message"`
	RequestID string       `json:"request_id,omitempty"`
	Fields    []FieldError `json:"fields,omitempty"`
}

// Write writes err to w as a JSON envelope with the status of its kind. It
// never writes err's cause. It returns the problem it wrote so the caller can
// log the cause under the same request id.
func Write(w http.ResponseWriter, requestID string, err error) *Error {
	p := From(err)
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Del("Content-Length")
	h.Del("ETag")
	if p.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(p.RetryAfter))
	}
	w.WriteHeader(p.Kind.Status())
	body := Envelope{Error: Body{Code: p.Code, Message: p.Message, RequestID: requestID, Fields: p.Fields}}
	_ = json.NewEncoder(w).Encode(body) // the client may be gone; nothing to do then
	return p
}
