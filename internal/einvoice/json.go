package einvoice

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strconv"
	"strings"

	"github.com/valvhq/valv/internal/problem"
)

// MaxJSONSize is the largest invoice JSON DecodeJSON reads.
const MaxJSONSize = 16 << 20

// DecodeJSON reads an Invoice from JSON strictly: one object, no unknown
// or repeated fields, every value of the right JSON type, amounts and
// quantities as strings holding decimals ("1250.00"), dates as
// "YYYY-MM-DD". Every problem is reported with a JSON pointer to it. It
// does not apply the invoice rules; Validate and ToUBL do.
func DecodeJSON(data []byte) (Invoice, error) {
	if len(data) > MaxJSONSize {
		return Invoice{}, problem.New(problem.KindTooLarge, CodeTooLarge,
			"The invoice is larger than "+strconv.Itoa(MaxJSONSize>>20)+" MiB.")
	}
	w := jsonWalker{dec: json.NewDecoder(bytes.NewReader(data))}
	w.dec.UseNumber()
	if err := w.value(reflect.TypeFor[Invoice](), ""); err != nil {
		return Invoice{}, syntaxProblem(err)
	}
	if _, err := w.dec.Token(); err != io.EOF {
		return Invoice{}, malformed("", "trailing_data", "The body must hold exactly one JSON object.")
	}
	if err := w.errs.err(); err != nil {
		return Invoice{}, err
	}
	var inv Invoice
	if err := json.Unmarshal(data, &inv); err != nil {
		// The walk above accepts only what Unmarshal reads; this is a bug.
		return Invoice{}, problem.Internal(err)
	}
	return inv, nil
}

func syntaxProblem(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return malformed("", "malformed_json", "The body is not valid JSON (error at byte "+strconv.FormatInt(se.Offset, 10)+").")
	}
	return malformed("", "malformed_json", "The body is not valid JSON (it ends too early).")
}

// jsonWalker checks a JSON document against the Go type it will be
// decoded into, token by token, so that each problem is reported with the
// JSON pointer of the value at fault (encoding/json reports only the
// first, and without array indices).
type jsonWalker struct {
	dec  *json.Decoder
	errs fieldErrors
}

// value checks the next JSON value against t. The error is a syntax error
// of the document; problems with the value are collected in w.errs.
func (w *jsonWalker) value(t reflect.Type, ptr string) error {
	tok, err := w.dec.Token()
	if err != nil {
		return err
	}
	if tok == nil {
		return nil // null: the field keeps its zero value, i.e. absent
	}
	switch {
	case t == reflect.TypeFor[Decimal]():
		s, ok := tok.(string)
		if !ok {
			return w.wrongType(tok, ptr, "a string holding a decimal number, such as \"1250.00\"")
		}
		if _, err := ParseDecimal(s); err != nil {
			w.errs.addPath(ptr, "invalid_decimal", "Not a decimal number: digits with an optional sign and decimal point, such as \"1250.00\", at most "+
				strconv.Itoa(MaxDecimalDigits)+" digits; no exponent, spaces or decimal comma.")
		}
	case t == reflect.TypeFor[Date]():
		s, ok := tok.(string)
		if !ok {
			return w.wrongType(tok, ptr, "a string holding a date, such as \"2026-01-31\"")
		}
		if _, err := ParseDate(s); err != nil {
			w.errs.addPath(ptr, "invalid_date", "A date must exist and be written YYYY-MM-DD [PEPPOL-EN16931-F001].")
		}
	case t.Kind() == reflect.String:
		if _, ok := tok.(string); !ok {
			return w.wrongType(tok, ptr, "a string")
		}
	case t.Kind() == reflect.Bool:
		if _, ok := tok.(bool); !ok {
			return w.wrongType(tok, ptr, "true or false")
		}
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8:
		s, ok := tok.(string)
		if !ok {
			return w.wrongType(tok, ptr, "a base64 string")
		}
		if _, err := base64.StdEncoding.DecodeString(s); err != nil {
			w.errs.addPath(ptr, "invalid_base64", "The content must be standard base64.")
		}
	case t.Kind() == reflect.Slice:
		if tok != json.Delim('[') {
			return w.wrongType(tok, ptr, "an array")
		}
		for i := 0; w.dec.More(); i++ {
			if err := w.value(t.Elem(), ptr+"/"+strconv.Itoa(i)); err != nil {
				return err
			}
		}
		_, err = w.dec.Token() // ]
		return err
	case t.Kind() == reflect.Struct:
		if tok != json.Delim('{') {
			return w.wrongType(tok, ptr, "an object")
		}
		seen := map[string]bool{}
		for w.dec.More() {
			tok, err := w.dec.Token()
			if err != nil {
				return err
			}
			key, _ := tok.(string) // object keys are always strings
			kp := ptr + "/" + pointerToken(key)
			f, ok := jsonField(t, key)
			switch {
			case !ok:
				w.errs.addPath(kp, "unknown_field", "Unknown field; names are snake_case as docs/einvoice.md lists them.")
				if err := w.skip(); err != nil {
					return err
				}
				continue
			case seen[key]:
				w.errs.addPath(kp, "duplicate_field", "This field appears more than once.")
			}
			seen[key] = true
			if err := w.value(f.Type, kp); err != nil {
				return err
			}
		}
		_, err = w.dec.Token() // }
		return err
	default:
		panic("einvoice: no JSON check for " + t.String())
	}
	return nil
}

// wrongType records that the value at ptr is not what was wanted and
// skips the rest of it.
func (w *jsonWalker) wrongType(tok json.Token, ptr, want string) error {
	w.errs.addPath(ptr, "wrong_type", "Must be "+want+".")
	if d, ok := tok.(json.Delim); ok && (d == '{' || d == '[') {
		return w.skipRest()
	}
	return nil
}

// skip skips the next value.
func (w *jsonWalker) skip() error {
	tok, err := w.dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); ok && (d == '{' || d == '[') {
		return w.skipRest()
	}
	return nil
}

// skipRest skips to the end of an object or array whose opening was read.
func (w *jsonWalker) skipRest() error {
	for depth := 1; depth > 0; {
		tok, err := w.dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
	return nil
}

// jsonField finds the exported field of struct type t whose JSON name is
// exactly key. (encoding/json would also accept other letter cases; the
// walk does not, so a misspelt name is reported instead of half-matched.)
func jsonField(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}
