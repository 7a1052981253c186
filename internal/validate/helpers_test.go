package validate

import (
	"strings"
	"testing"

	"github.com/valvhq/valv/internal/problem"
)

// vector is one row of a validator's table: an input and either the
// normalised value it must give or the code of the error it must give.
type vector struct {
	in   string
	want string // normalised value; "" when code is set
	code string // error code; "" for a valid input
}

// checkVectors runs a validator over vectors and checks, for every input,
// the result, that errors are invalid-kind problems that do not echo the
// input, and that normalising the result again gives the result.
func checkVectors(t *testing.T, fn func(string) (string, error), vectors []vector) {
	t.Helper()
	for _, v := range vectors {
		got, err := fn(v.in)
		if v.code != "" {
			assertProblem(t, v.in, err, v.code)
			continue
		}
		if err != nil {
			t.Errorf("%q: unexpected error %v", v.in, err)
			continue
		}
		if got != v.want {
			t.Errorf("%q: got %q, want %q", v.in, got, v.want)
			continue
		}
		again, err := fn(got)
		if err != nil || again != got {
			t.Errorf("%q: normalised %q does not normalise to itself: %q, %v", v.in, got, again, err)
		}
	}
}

// assertProblem checks that err is an invalid-kind problem with code whose
// message does not contain the input.
func assertProblem(t *testing.T, in string, err error, code string) {
	t.Helper()
	p, ok := err.(*problem.Error)
	if !ok {
		t.Errorf("%q: error %v (%T) is not a *problem.Error", in, err, err)
		return
	}
	if p.Kind != problem.KindInvalid || p.Code != code {
		t.Errorf("%q: got %s/%s (%s), want invalid/%s", in, p.Kind, p.Code, p.Message, code)
	}
	if p.Message == "" {
		t.Errorf("%q: empty message", in)
	}
	if s := strings.TrimSpace(in); len(s) >= 4 && strings.Contains(p.Message, s) {
		t.Errorf("%q: message echoes the input: %s", in, p.Message)
	}
}

// luhnComplete appends the Luhn check digit to body (ASCII digits), for
// vectors whose point is not the check digit (leap days, centuries).
func luhnComplete(body string) string {
	for d := byte('0'); d <= '9'; d++ {
		if luhnValid(body + string(d)) {
			return body + string(d)
		}
	}
	panic("unreachable")
}
