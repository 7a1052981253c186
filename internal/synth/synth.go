package synth

import (
	"math/rand/v2"
	"strings"
	"time"
)

// pcgStream is the second half of the PCG seed. It is fixed, so the seed
// alone decides the output. Changing it changes every generated value.
const pcgStream = 0x76616c7673796e74 // "valvsynt"

// window is how far back generated dates reach from now.
const windowYears = 5

// Generator makes synthetic data from a seed. The same seed and the same
// sequence of calls give the same values. A Generator is not safe for
// concurrent use.
type Generator struct {
	r *rand.Rand

	// pnr is a permutation of the test-personnummer block. Person takes
	// the next one and reshuffles when all are used.
	pnr     []int
	pnrNext int

	emails map[string]bool // local@domain already given to a person
	orgnrs map[string]bool // organisationsnummer already given

	invoiceSeq int
	memberSeq  int
}

// New returns a Generator for seed.
func New(seed uint64) *Generator {
	return &Generator{
		// Not crypto/rand on purpose: the output must follow from the seed,
		// and nothing made here is a secret.
		r:      rand.New(rand.NewPCG(seed, pcgStream)), // #nosec G404 -- deterministic test data, not secrets
		emails: map[string]bool{},
		orgnrs: map[string]bool{},
	}
}

// intn returns a number in [0, n).
func (g *Generator) intn(n int) int { return g.r.IntN(n) }

// between returns a number in [lo, hi].
func (g *Generator) between(lo, hi int) int { return lo + g.r.IntN(hi-lo+1) }

// pick returns a random element of list.
func pick[T any](g *Generator, list []T) T { return list[g.r.IntN(len(list))] }

// digits returns n random decimal digits.
func (g *Generator) digits(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = "0123456789"[g.r.IntN(10)]
	}
	return string(b)
}

// today returns the calendar date of now (in now's location) as midnight
// UTC, the form every generated date has.
func today(now time.Time) time.Time {
	y, m, d := now.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// dateWithin returns a date from the windowYears years before now, at
// least minAgo days ago.
func (g *Generator) dateWithin(now time.Time, minAgo int) time.Time {
	end := today(now)
	start := end.AddDate(-windowYears, 0, 0)
	days := int(end.Sub(start).Hours()/24) - minAgo
	return start.AddDate(0, 0, g.intn(days+1))
}

// luhnDigit returns the Luhn (modulus 10) check digit to append to payload,
// which MUST be ASCII digits.
func luhnDigit(payload string) byte {
	sum := 0
	for i := len(payload) - 1; i >= 0; i-- {
		d := int(payload[i] - '0')
		if (len(payload)-1-i)%2 == 0 { // doubled: it will be second from the right
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return byte('0' + (10-sum%10)%10)
}

// luhnValid reports whether s, ASCII digits, ends in its Luhn check digit.
func luhnValid(s string) bool {
	return len(s) >= 2 && luhnDigit(s[:len(s)-1]) == s[len(s)-1]
}

// asciiFold writes s in lower-case ASCII for an email address or a domain
// label: Swedish letters lose their marks, and anything else that is not a
// letter or digit becomes sep (runs collapse, none at the ends).
func asciiFold(s string, sep byte) string {
	s = strings.NewReplacer("å", "a", "ä", "a", "ö", "o", "é", "e", "ü", "u",
		"Å", "a", "Ä", "a", "Ö", "o", "É", "e", "Ü", "u").Replace(strings.ToLower(s))
	var b strings.Builder
	pending := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || '0' <= c && c <= '9' {
			if pending && b.Len() > 0 {
				b.WriteByte(sep)
			}
			pending = false
			b.WriteByte(c)
			continue
		}
		pending = true
	}
	return b.String()
}
