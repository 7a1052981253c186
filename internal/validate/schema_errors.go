package validate

import (
	"cmp"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"github.com/valvhq/valv/internal/problem"
)

// fieldErrors flattens the library's tree of validation errors into field
// errors, sorted by field, without duplicates, and at most maxFieldErrors.
//
// The library's own messages are not used: several quote the value
// ("'x' does not match pattern ..."), and a value may be personal data.
func fieldErrors(verr *jsonschema.ValidationError) []problem.FieldError {
	var out []problem.FieldError
	collectFieldErrors(verr, &out)
	slices.SortFunc(out, func(a, b problem.FieldError) int {
		return cmp.Or(cmp.Compare(a.Field, b.Field), cmp.Compare(a.Code, b.Code), cmp.Compare(a.Message, b.Message))
	})
	out = slices.Compact(out)
	if len(out) > maxFieldErrors {
		out = append(out[:maxFieldErrors-1], problem.Field("", CodeTooManyFieldErrors,
			fmt.Sprintf("The document has more than %d errors; only the first are listed.", maxFieldErrors-1)))
	}
	return out
}

// collectFieldErrors appends the field errors of e and its causes to out.
// Errors that only group others (the whole schema, allOf, a $ref, several
// keywords of one subschema) are looked through. An anyOf or oneOf that
// nothing matched is reported once, at its value, rather than as every
// reason every alternative failed, which reads as a contradiction; but if
// only one alternative fits the value itself and fails deeper down (a
// section of a document tree with a bad paragraph inside), its errors are
// the useful ones and are reported instead.
func collectFieldErrors(e *jsonschema.ValidationError, out *[]problem.FieldError) {
	if isGrouping(e) {
		for _, c := range e.Causes {
			collectFieldErrors(c, out)
		}
		return
	}
	if isNoMatch(e) {
		if c := onlyCloseAlternative(e); c != nil {
			collectFieldErrors(c, out)
			return
		}
	}
	at := jsonPointer(e.InstanceLocation)
	switch k := e.ErrorKind.(type) {
	case *kind.Required:
		for _, name := range k.Missing {
			*out = append(*out, problem.Field(at+"/"+escapePointer(name), "required", "This field is required."))
		}
	case *kind.DependentRequired:
		for _, name := range k.Missing {
			*out = append(*out, problem.Field(at+"/"+escapePointer(name), "required",
				fmt.Sprintf("This field is required when %q is present.", k.Prop)))
		}
	case *kind.Dependency:
		for _, name := range k.Missing {
			*out = append(*out, problem.Field(at+"/"+escapePointer(name), "required",
				fmt.Sprintf("This field is required when %q is present.", k.Prop)))
		}
	case *kind.AdditionalProperties:
		for _, name := range k.Properties {
			*out = append(*out, problem.Field(at+"/"+escapePointer(name), "not_allowed", "This field is not allowed here."))
		}
	case *kind.PropertyNames:
		*out = append(*out, problem.Field(at+"/"+escapePointer(k.Property), "invalid_field_name",
			"The name of this field is not allowed here."))
	default:
		code, msg := describe(e.ErrorKind)
		*out = append(*out, problem.Field(at, code, msg))
	}
}

// isGrouping reports whether e only groups the errors that are its causes.
func isGrouping(e *jsonschema.ValidationError) bool {
	switch e.ErrorKind.(type) {
	case *kind.Schema, *kind.Group, *kind.AllOf, *kind.Reference:
		return true
	}
	return false
}

// isNoMatch reports whether e is an anyOf or oneOf that no alternative
// matched; its causes are the alternatives' errors.
func isNoMatch(e *jsonschema.ValidationError) bool {
	switch k := e.ErrorKind.(type) {
	case *kind.AnyOf:
		return true
	case *kind.OneOf:
		return len(k.Subschemas) == 0
	}
	return false
}

// onlyCloseAlternative returns the one alternative of a failed anyOf or
// oneOf whose errors all lie below the value, if exactly one has that.
func onlyCloseAlternative(e *jsonschema.ValidationError) *jsonschema.ValidationError {
	var only *jsonschema.ValidationError
	for _, c := range e.Causes {
		if failsAt(c, len(e.InstanceLocation)) {
			continue
		}
		if only != nil {
			return nil
		}
		only = c
	}
	return only
}

// failsAt reports whether e has an error at depth, the value itself rather
// than something inside it (a wrong type, a missing property, ...).
func failsAt(e *jsonschema.ValidationError, depth int) bool {
	if isGrouping(e) {
		for _, c := range e.Causes {
			if failsAt(c, depth) {
				return true
			}
		}
		return false
	}
	return len(e.InstanceLocation) <= depth
}

// describe returns the code and message for a failed keyword. The codes are
// stable, like the Code constants. Limits come from the schema and may be
// quoted; the value may not.
func describe(k jsonschema.ErrorKind) (code, message string) {
	switch k := k.(type) {
	case *kind.Format:
		if p, ok := problem.As(k.Err); ok {
			return p.Code, p.Message // one of this package's formats
		}
		return "invalid_format", fmt.Sprintf("This is not a valid %s.", k.Want)
	case *kind.Type:
		return "wrong_type", "This must be " + strings.Join(typeNames(k.Want), " or ") + "."
	case *kind.Enum:
		return "not_allowed_value", "This is not one of the allowed values."
	case *kind.Const:
		return "not_allowed_value", "This is not the value the schema requires."
	case *kind.Pattern:
		return "pattern_mismatch", "This does not have the form the schema requires."
	case *kind.MinLength:
		return "too_short", fmt.Sprintf("This must have at least %d characters.", k.Want)
	case *kind.MaxLength:
		return "too_long", fmt.Sprintf("This must have at most %d characters.", k.Want)
	case *kind.Minimum:
		return "too_small", "This must be at least " + number(k.Want) + "."
	case *kind.ExclusiveMinimum:
		return "too_small", "This must be more than " + number(k.Want) + "."
	case *kind.Maximum:
		return "too_large", "This must be at most " + number(k.Want) + "."
	case *kind.ExclusiveMaximum:
		return "too_large", "This must be less than " + number(k.Want) + "."
	case *kind.MultipleOf:
		return "not_multiple", "This must be a multiple of " + number(k.Want) + "."
	case *kind.MinItems:
		return "too_few_items", fmt.Sprintf("This must have at least %d items.", k.Want)
	case *kind.MaxItems:
		return "too_many_items", fmt.Sprintf("This must have at most %d items.", k.Want)
	case *kind.AdditionalItems:
		return "too_many_items", "This has more items than the schema allows."
	case *kind.UniqueItems:
		return "duplicate_items", fmt.Sprintf("Items %d and %d are the same; items must be unique.", k.Duplicates[0], k.Duplicates[1])
	case *kind.Contains, *kind.MinContains:
		return "contains_mismatch", "Too few items have the form the schema requires."
	case *kind.MaxContains:
		return "contains_mismatch", "Too many items have the form the schema limits."
	case *kind.MinProperties:
		return "too_few_fields", fmt.Sprintf("This must have at least %d fields.", k.Want)
	case *kind.MaxProperties:
		return "too_many_fields", fmt.Sprintf("This must have at most %d fields.", k.Want)
	case *kind.FalseSchema:
		return "not_allowed", "This field is not allowed here."
	case *kind.Not:
		return "forbidden_match", "This has a form the schema forbids."
	case *kind.AnyOf:
		return "no_match", "This does not match any of the forms the schema allows."
	case *kind.OneOf:
		if len(k.Subschemas) == 0 {
			return "no_match", "This does not match any of the forms the schema allows."
		}
		return "ambiguous_match", "This matches more than one of the forms the schema allows, and must match exactly one."
	case *kind.InvalidJsonValue:
		return CodeInvalidValue, "This is not a JSON value."
	}
	return "invalid", "This is not valid."
}

// typeNames turns JSON Schema type names into words for a message.
func typeNames(types []string) []string {
	words := make([]string, len(types))
	for i, t := range types {
		switch t {
		case "object", "array", "integer":
			words[i] = "an " + t
		case "null":
			words[i] = "null"
		default:
			words[i] = "a " + t
		}
	}
	return words
}

// number formats a limit from the schema.
func number(r *big.Rat) string {
	if r.IsInt() {
		return r.Num().String()
	}
	f, _ := r.Float64()
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// jsonPointer returns the RFC 6901 JSON pointer for a path of tokens.
func jsonPointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(escapePointer(t))
	}
	return b.String()
}

// escapePointer escapes one JSON pointer token: "~" as "~0", "/" as "~1".
func escapePointer(token string) string {
	return strings.ReplaceAll(strings.ReplaceAll(token, "~", "~0"), "/", "~1")
}
