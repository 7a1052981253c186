package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/valvhq/valv/internal/problem"
)

// decodeJSON decodes the request body into v strictly: the content type
// must be JSON, unknown fields and trailing data are errors, and every
// error says what was wrong and where.
func decodeJSON(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return problem.New(problem.KindUnsupportedMedia, "unsupported_media_type", "Send the body as application/json.")
		}
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonProblem(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return problem.Invalid("invalid_json", "The body holds more than one JSON value.")
	}
	return nil
}

func jsonProblem(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return problem.New(problem.KindTooLarge, "body_too_large", fmt.Sprintf("The request body is larger than the limit of %d bytes.", tooBig.Limit))
	case errors.Is(err, io.EOF):
		return problem.Invalid("invalid_json", "The body is empty; send a JSON object.")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return problem.Invalid("invalid_json", "The JSON body ends too early.")
	case errors.As(err, &syn):
		return problem.Invalid("invalid_json", fmt.Sprintf("The body is not valid JSON (at byte %d).", syn.Offset))
	case errors.As(err, &typ):
		field := "/" + strings.ReplaceAll(typ.Field, ".", "/")
		return problem.Invalid("invalid_json", "A field has the wrong type.",
			problem.Field(field, "wrong_type", fmt.Sprintf("Expected %s.", jsonTypeName(typ.Type.Kind().String()))))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return problem.Invalid("invalid_json", "The body has a field this endpoint does not know.",
			problem.Field("/"+name, "unknown_field", "Remove this field."))
	}
	return problem.Invalid("invalid_json", "The body could not be read as JSON.")
}

func jsonTypeName(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "struct", "map":
		return "an object"
	case "slice", "array":
		return "an array"
	}
	if strings.HasPrefix(kind, "int") || strings.HasPrefix(kind, "uint") || strings.HasPrefix(kind, "float") {
		return "a number"
	}
	return "another type"
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}
