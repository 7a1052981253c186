package einvoice

import (
	"strconv"
	"strings"

	"github.com/valvhq/valv/internal/problem"
)

// MaxFieldErrors is the most field errors one call reports; a document
// with more gets one last "too_many_errors" entry instead of the rest.
const MaxFieldErrors = 100

// Problem codes. Every error this package returns is a *problem.Error with
// one of these codes; invalid documents list their faults as field errors.
const (
	CodeInvalid   = "invoice_invalid"   // fields break rules; see the field errors
	CodeMalformed = "invoice_malformed" // not well-formed JSON or XML, or refused XML constructs
	CodeTooLarge  = "invoice_too_large" // bigger than MaxJSONSize or MaxUBLSize
)

// loc is where a value is, both as a JSON pointer into the Invoice JSON and
// as an XPath-like path into the UBL document, so that a rule can report
// against whichever form the caller gave us. It is a value holding its
// steps; the paths are only built when an error is reported, so checking a
// valid invoice builds no strings.
type loc struct {
	steps [maxSteps]step
	n     int
}

const maxSteps = 8 // the deepest path has six steps (/lines/0/allowances_charges/0/vat/rate)

// step is one step of a loc: a JSON name and the UBL path it maps to
// (several UBL steps, or none), with an array index (-1 for none).
type step struct {
	name, xp string
	idx      int
}

func rootLoc() loc {
	var l loc
	return l.add(step{xp: "Invoice", idx: -1})
}

func (l loc) add(s step) loc {
	if l.n == maxSteps {
		panic("einvoice: path too deep") // a programming error: paths are fixed by the code
	}
	l.steps[l.n] = s
	l.n++
	return l
}

// at is the child named name in JSON and xp in UBL (xp may be several
// steps). An empty name or xp stays where it is in that form.
func (l loc) at(name, xp string) loc { return l.add(step{name: name, xp: xp, idx: -1}) }

// idx is the i-th (0-based) element of the JSON array name, which is the
// i-th (1-based) element xp in UBL.
func (l loc) idx(name, xp string, i int) loc { return l.add(step{name: name, xp: xp, idx: i}) }

// ptr is the JSON pointer ("" for the whole document).
func (l loc) ptr() string {
	var b strings.Builder
	for _, s := range l.steps[:l.n] {
		if s.name != "" {
			b.WriteString("/" + s.name)
		}
		if s.idx >= 0 {
			b.WriteString("/" + strconv.Itoa(s.idx))
		}
	}
	return b.String()
}

// xpath is the XPath-like path, from /Invoice.
func (l loc) xpath() string {
	var b strings.Builder
	for _, s := range l.steps[:l.n] {
		if s.xp != "" {
			b.WriteString("/" + s.xp)
		}
		if s.idx >= 0 {
			b.WriteString("[" + strconv.Itoa(s.idx+1) + "]")
		}
	}
	return b.String()
}

// fieldErrors collects field errors up to MaxFieldErrors.
type fieldErrors struct {
	list []problem.FieldError
	xml  bool // report XPath-like paths instead of JSON pointers
}

func (e *fieldErrors) add(l loc, code, msg string) {
	if len(e.list) > MaxFieldErrors {
		return
	}
	if e.xml {
		e.addPath(l.xpath(), code, msg)
	} else {
		e.addPath(l.ptr(), code, msg)
	}
}

func (e *fieldErrors) addPath(path, code, msg string) {
	switch {
	case len(e.list) < MaxFieldErrors:
		e.list = append(e.list, problem.Field(path, code, msg))
	case len(e.list) == MaxFieldErrors:
		e.list = append(e.list, problem.Field("", "too_many_errors",
			"There are more problems than are listed; fix these and try again."))
	}
}

func (e *fieldErrors) err() error {
	if len(e.list) == 0 {
		return nil
	}
	return problem.Invalid(CodeInvalid,
		"The invoice breaks rules of Peppol BIS Billing 3.0, listed in the field errors.", e.list...)
}

// malformed is the problem for input that is not well-formed.
func malformed(path, code, msg string) error {
	return problem.Invalid(CodeMalformed, "The invoice could not be read.", problem.Field(path, code, msg))
}

// pointerToken escapes s for use as one JSON pointer token (RFC 6901).
func pointerToken(s string) string {
	if !strings.ContainsAny(s, "~/") {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}
