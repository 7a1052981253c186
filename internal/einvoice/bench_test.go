package einvoice

import (
	"math/big"
	"strconv"
	"testing"
)

// invoiceWithLines is minimal.json with n lines at 25 % VAT, totals computed.
func invoiceWithLines(tb testing.TB, n int) Invoice {
	tb.Helper()
	inv := base(tb)
	proto := inv.Lines[0]
	inv.Lines = nil
	sum := new(big.Rat)
	for i := 0; i < n; i++ {
		ln := proto
		ln.ID = strconv.Itoa(i + 1)
		ln.Quantity = MustParseDecimal(strconv.Itoa(i%7 + 1))
		ln.Price.Amount = MustParseDecimal("123.45")
		ln.Item.Description = "Rad " + strconv.Itoa(i+1)
		net := new(big.Rat).Mul(ln.Quantity.Rat(), ln.Price.Amount.Rat())
		ln.NetAmount = mustDecimal(tb, net)
		sum.Add(sum, net)
		inv.Lines = append(inv.Lines, ln)
	}
	vat := round2(new(big.Rat).Mul(sum, big.NewRat(25, 100)))
	total := new(big.Rat).Add(sum, vat)
	inv.VATBreakdown[0].TaxableAmount = mustDecimal(tb, sum)
	inv.VATBreakdown[0].TaxAmount = mustDecimal(tb, vat)
	inv.Totals = Totals{
		LineExtension: mustDecimal(tb, sum), TaxExclusive: mustDecimal(tb, sum), VAT: mustDecimal(tb, vat),
		TaxInclusive: mustDecimal(tb, total), Payable: mustDecimal(tb, total),
	}
	if err := inv.Validate(); err != nil {
		tb.Fatal(err)
	}
	return inv
}

func mustDecimal(tb testing.TB, r *big.Rat) Decimal {
	tb.Helper()
	d, ok := decimalFromRat(r, 2)
	if !ok {
		tb.Fatalf("%v has no two-decimal form", r)
	}
	return d
}

func BenchmarkToUBL(b *testing.B) {
	inv := invoiceWithLines(b, 50)
	x, _ := ToUBL(inv)
	b.SetBytes(int64(len(x)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ToUBL(inv); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFromUBL(b *testing.B) {
	x, err := ToUBL(invoiceWithLines(b, 50))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(x)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := FromUBL(x); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidate(b *testing.B) {
	inv := invoiceWithLines(b, 50)
	b.ReportAllocs()
	for b.Loop() {
		if err := inv.Validate(); err != nil {
			b.Fatal(err)
		}
	}
}

// decimalFromRat returns r as a Decimal with the given scale when r has an
// exact representation with at most that many fraction digits and fits in
// MaxDecimalDigits; ok is false otherwise.
func decimalFromRat(r *big.Rat, scale int) (d Decimal, ok bool) {
	n := new(big.Int).Mul(r.Num(), pow10(scale))
	q, m := new(big.Int).QuoRem(n, r.Denom(), new(big.Int))
	if m.Sign() != 0 || !q.IsInt64() {
		return Decimal{}, false
	}
	c := q.Int64()
	if c > 999_999_999_999_999_999 || c < -999_999_999_999_999_999 {
		return Decimal{}, false
	}
	return Decimal{coef: c, scale: uint8(scale), set: true}, true
}

// pow10 returns 10^n as a new big.Int.
func pow10(n int) *big.Int {
	return new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil)
}
