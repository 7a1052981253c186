package einvoice

import (
	"cmp"
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"math/bits"
	"strconv"
)

// MaxDecimalDigits is the most significant digits a Decimal may have. XML
// Schema requires every processor to support xs:decimal values of at least
// 18 digits, so 18 is what a receiver can be relied on to read exactly; it
// also lets the coefficient live in an int64.
const MaxDecimalDigits = 18

// Decimal is an exact decimal number: an integer coefficient and the number
// of digits after the decimal point, as written ("1250.00" has scale 2 and
// stays "1250.00"). Amounts, quantities, prices and percentages are Decimals;
// no float64 is ever involved.
//
// The zero Decimal is absent ("not given"), which is not the same as a
// present zero ("0.00"). Decimals are values: copy and compare them freely
// (== compares the written form, Cmp the number).
type Decimal struct {
	coef  int64 // the number is coef × 10^-scale
	scale uint8 // digits after the decimal point, ≤ MaxDecimalDigits
	set   bool
}

var errDecimal = errors.New("einvoice: not a decimal number")

// ParseDecimal reads an xs:decimal: an optional sign, digits, and an
// optional fraction ("-12", "1250.00", ".5", "5."), with at most
// MaxDecimalDigits significant digits. Exponents, spaces, thousands
// separators and decimal commas are refused.
func ParseDecimal(s string) (Decimal, error) {
	i := 0
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	var coef int64
	var scale, digits, significant int
	seenPoint := false
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.' && !seenPoint:
			seenPoint = true
		case c >= '0' && c <= '9':
			digits++
			if seenPoint {
				scale++
			}
			if coef == 0 && c == '0' && !seenPoint {
				continue // a leading zero of the integer part is not significant
			}
			significant++
			if significant > MaxDecimalDigits {
				return Decimal{}, errDecimal
			}
			coef = coef*10 + int64(c-'0') // cannot overflow: at most 18 digits
		default:
			return Decimal{}, errDecimal
		}
	}
	if digits == 0 {
		return Decimal{}, errDecimal
	}
	if neg {
		coef = -coef
	}
	return Decimal{coef: coef, scale: uint8(scale), set: true}, nil
}

// MustParseDecimal is ParseDecimal for constants; it panics on bad input.
func MustParseDecimal(s string) Decimal {
	d, err := ParseDecimal(s)
	if err != nil {
		panic("einvoice: MustParseDecimal(" + strconv.Quote(s) + "): not a decimal")
	}
	return d
}

// IsSet reports whether d was given (the zero Decimal is absent).
func (d Decimal) IsSet() bool { return d.set }

// Scale is the number of digits after the decimal point as written.
func (d Decimal) Scale() int { return int(d.scale) }

// Sign returns -1, 0 or +1. An absent Decimal has sign 0.
func (d Decimal) Sign() int {
	switch {
	case d.coef < 0:
		return -1
	case d.coef > 0:
		return 1
	}
	return 0
}

// Rat returns d as a new big.Rat (0 when absent), for exact arithmetic.
func (d Decimal) Rat() *big.Rat {
	den := int64(1)
	for i := uint8(0); i < d.scale; i++ {
		den *= 10 // scale ≤ 18: 10^18 fits in an int64
	}
	return new(big.Rat).SetFrac64(d.coef, den)
}

// Cmp compares the numbers d and e (an absent Decimal counts as zero):
// -1 if d < e, 0 if equal, +1 if d > e. "25" and "25.0" are equal.
func (d Decimal) Cmp(e Decimal) int {
	if a, b, _, ok := align(d.coef, int(d.scale), e.coef, int(e.scale)); ok {
		return cmp.Compare(a, b)
	}
	return d.Rat().Cmp(e.Rat())
}

// normal returns d without trailing fraction zeros ("25.00" is "25").
func (d Decimal) normal() Decimal {
	for d.scale > 0 && d.coef%10 == 0 {
		d.coef /= 10
		d.scale--
	}
	return d
}

// String returns the decimal as written, normalised only in its sign and
// leading zeros ("+007.50" is "7.50"); "" when absent.
func (d Decimal) String() string {
	if !d.set {
		return ""
	}
	var buf [24]byte // sign, 18 digits, point, padding zeros
	return string(d.appendTo(buf[:0]))
}

func (d Decimal) appendTo(b []byte) []byte {
	c := d.coef
	if c < 0 {
		b = append(b, '-')
		c = -c
	}
	var buf [20]byte
	digits := strconv.AppendInt(buf[:0], c, 10)
	scale := int(d.scale)
	switch {
	case scale == 0:
		return append(b, digits...)
	case len(digits) <= scale: // 0.00ddd
		b = append(b, '0', '.')
		for i := len(digits); i < scale; i++ {
			b = append(b, '0')
		}
		return append(b, digits...)
	}
	cut := len(digits) - scale
	b = append(b, digits[:cut]...)
	b = append(b, '.')
	return append(b, digits[cut:]...)
}

// MarshalJSON writes d as a JSON string ("1250.00"), or null when absent.
func (d Decimal) MarshalJSON() ([]byte, error) {
	if !d.set {
		return []byte("null"), nil
	}
	b := append([]byte{'"'}, d.String()...)
	return append(b, '"'), nil
}

// UnmarshalJSON reads a JSON string holding a decimal, or null (absent).
// JSON numbers are refused: many producers round them through binary
// floating point before they are written, which an invoice cannot allow.
func (d *Decimal) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*d = Decimal{}
		return nil
	}
	var s string
	if len(b) == 0 || b[0] != '"' || json.Unmarshal(b, &s) != nil {
		return errors.New("einvoice: a decimal must be a JSON string")
	}
	v, err := ParseDecimal(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// mul10 returns c × 10^n, and false if that overflows an int64.
func mul10(c int64, n int) (int64, bool) {
	for ; n > 0; n-- {
		if c > math.MaxInt64/10 || c < math.MinInt64/10 {
			return 0, false
		}
		c *= 10
	}
	return c, true
}

// align returns a and b (at scales sa, sb) at the larger scale s, and false
// if either overflows an int64 there.
func align(a int64, sa int, b int64, sb int) (x, y int64, s int, ok bool) {
	if sa < sb {
		a, ok = mul10(a, sb-sa)
		return a, b, sb, ok
	}
	b, ok = mul10(b, sa-sb)
	return a, b, sa, ok
}

// exact is an exact running sum of Decimals. It stays an int64 coefficient
// at the largest scale seen while that is exact, which is nearly always,
// and becomes a big.Rat when it is not.
type exact struct {
	coef  int64
	scale int
	r     *big.Rat // set once the int64 form would overflow
}

func (x *exact) add(d Decimal) { x.addSign(d, false) }
func (x *exact) sub(d Decimal) { x.addSign(d, true) }

func (x *exact) addSign(d Decimal, neg bool) {
	if x.r == nil {
		a, b, s, ok := align(x.coef, x.scale, d.coef, int(d.scale))
		if neg {
			b = -b
		}
		if sum := a + b; ok && (b >= 0) == (sum >= a) { // no overflow in the sum
			x.coef, x.scale = sum, s
			return
		}
		x.r = x.rat()
	}
	if neg {
		x.r.Sub(x.r, d.Rat())
	} else {
		x.r.Add(x.r, d.Rat())
	}
}

// rat returns the sum as a new big.Rat.
func (x *exact) rat() *big.Rat {
	if x.r != nil {
		return new(big.Rat).Set(x.r)
	}
	return Decimal{coef: x.coef, scale: uint8(x.scale)}.Rat() // #nosec G115 -- x.scale is always some Decimal's scale (0..MaxDecimalDigits)
}

// cmp compares the sum with d (absent counts as zero).
func (x *exact) cmp(d Decimal) int {
	if x.r == nil {
		if a, b, _, ok := align(x.coef, x.scale, d.coef, int(d.scale)); ok {
			return cmp.Compare(a, b)
		}
	}
	return x.rat().Cmp(d.Rat())
}

// mulDecimal returns a × b exactly, shifted right by extra decimal places
// (extra 2 divides by 100), and false if the result does not fit an int64
// coefficient with a scale of at most MaxDecimalDigits. It is the fast path
// of exact arithmetic; callers fall back to big.Rat.
func mulDecimal(a, b Decimal, extra int) (Decimal, bool) {
	scale := int(a.scale) + int(b.scale) + extra
	if scale < 0 || scale > MaxDecimalDigits {
		return Decimal{}, false
	}
	hi, lo := bits.Mul64(abs64(a.coef), abs64(b.coef))
	if hi != 0 || lo > math.MaxInt64 {
		return Decimal{}, false
	}
	c := int64(lo)
	if (a.coef < 0) != (b.coef < 0) {
		c = -c
	}
	return Decimal{coef: c, scale: uint8(scale), set: true}, true
}

func abs64(c int64) uint64 {
	if c < 0 {
		return uint64(-c) // coefficients are far from math.MinInt64
	}
	return uint64(c)
}

// within reports whether |x| ≤ hundredths/100.
func (x *exact) within(hundredths int64) bool {
	return x.cmp(Decimal{coef: hundredths, scale: 2, set: true}) <= 0 &&
		x.cmp(Decimal{coef: -hundredths, scale: 2, set: true}) >= 0
}
