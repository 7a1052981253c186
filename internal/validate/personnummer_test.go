package validate

import (
	"testing"
	"time"
)

// refDate is the "now" of the tables: 15 June 2025.
var refDate = time.Date(2025, time.June, 15, 12, 0, 0, 0, time.UTC)

func personnummerAt(now time.Time) func(string) (string, error) {
	return func(s string) (string, error) { return Personnummer(s, now) }
}

func samordningsnummerAt(now time.Time) func(string) (string, error) {
	return func(s string) (string, error) { return Samordningsnummer(s, now) }
}

func TestPersonnummer(t *testing.T) {
	checkVectors(t, personnummerAt(refDate), []vector{
		// The four ways of writing one number give one value.
		{in: "19811218-9876", want: "198112189876"},
		{in: "198112189876", want: "198112189876"},
		{in: "811218-9876", want: "198112189876"},
		{in: "8112189876", want: "198112189876"},
		{in: " 811218-9876\n", want: "198112189876"},
		// Skatteverket's example in SKV 704: a man born 23 August 1964.
		{in: "640823-3234", want: "196408233234"},
		// Tolvan Tolvansson, the well-known test number: born 1912, so
		// over 100 and written with "+"; with "-" the same digits are 2012.
		{in: "121212+1212", want: "191212121212"},
		{in: "19121212-1212", want: "191212121212"},
		{in: "121212-1212", want: "201212121212"},
		// Leap days: 2000 and 2024 are leap years, 1900 and 2023 are not.
		{in: luhnComplete("000229123"), want: "20" + luhnComplete("000229123")},
		{in: "2024" + luhnComplete("0229123"[0:0] + "240229123")[2:], want: "20" + luhnComplete("240229123")},
		{in: "1900" + luhnComplete("000229123")[2:], code: CodePersonnummerDate},
		{in: "2023" + luhnComplete("230229123")[2:], code: CodePersonnummerDate},
		{in: luhnComplete("230229123"), code: CodePersonnummerDate},
		// Born today is fine; tomorrow is not.
		{in: luhnComplete("250615123"), want: "20" + luhnComplete("250615123")},
		{in: luhnComplete("250616123"), code: CodePersonnummerDate},
		{in: "2030" + luhnComplete("300101123")[2:], code: CodePersonnummerDate},

		{in: "811218-9875", code: CodeInvalidLuhn},
		{in: "19811218-9875", code: CodeInvalidLuhn},
		{in: "811218-9786", code: CodeInvalidLuhn},                               // two digits swapped
		{in: luhnComplete("811318987"), code: CodePersonnummerDate},              // month 13
		{in: luhnComplete("811200987"), code: CodePersonnummerDate},              // day 0
		{in: luhnComplete("810431987"), code: CodePersonnummerDate},              // 31 April
		{in: "701063-2391", code: CodePersonnummerDate},                          // a samordningsnummer
		{in: "1700" + luhnComplete("000101123")[2:], code: CodePersonnummerDate}, // before 1800
		{in: "19811218+9876", code: CodePersonnummerFormat},                      // "+" only in the 10-digit form
		{in: "811218 9876", code: CodePersonnummerFormat},
		{in: "81121-89876", code: CodePersonnummerFormat},
		{in: "811218--9876", code: CodePersonnummerFormat},
		{in: "81121898761", code: CodePersonnummerFormat},
		{in: "８１１２１８-９８７６", code: CodePersonnummerFormat}, // full-width digits
		{in: "abcdefghij", code: CodePersonnummerFormat},
		{in: "", code: CodePersonnummerFormat},
	})
}

// TestPersonnummerCentury checks the century rule at its edges: a 10-digit
// number with "-" is someone under 100 in now's year, with "+" 100 to 199.
func TestPersonnummerCentury(t *testing.T) {
	tests := []struct {
		now      int
		in       string
		wantYear string
	}{
		{2025, "250101-", "2025"},
		{2025, "260101-", "1926"},
		{2025, "250101+", "1925"},
		{2025, "260101+", "1826"},
		{2000, "000101-", "2000"},
		{2000, "991231-", "1999"},
		{2000, "000101+", "1900"},
		{2099, "990101-", "2099"},
	}
	for _, tt := range tests {
		now := time.Date(tt.now, time.December, 31, 0, 0, 0, 0, time.UTC)
		body := tt.in[:6] + "123"
		in := tt.in + luhnComplete(body)[6:]
		got, err := Personnummer(in, now)
		if err != nil || got[:4] != tt.wantYear {
			t.Errorf("%s in %d: got %q, %v; want year %s", in, tt.now, got, err, tt.wantYear)
		}
	}
}

func TestSamordningsnummer(t *testing.T) {
	checkVectors(t, samordningsnummerAt(refDate), []vector{
		// Skatteverket's example: a man born 3 October 1970, number 239.
		{in: "701063-2391", want: "197010632391"},
		{in: "19701063-2391", want: "197010632391"},
		{in: "7010632391", want: "197010632391"},
		{in: luhnComplete("000289123"), want: "20" + luhnComplete("000289123")}, // 29 February 2000

		{in: "701063-2392", code: CodeInvalidLuhn},
		{in: "811218-9876", code: CodeSamordningsnummerDate},             // a personnummer
		{in: luhnComplete("701060123"), code: CodeSamordningsnummerDate}, // day 0
		{in: luhnComplete("701092123"), code: CodeSamordningsnummerDate}, // day 32
		{in: luhnComplete("010289123"), code: CodeSamordningsnummerDate}, // 29 February 2001
		{in: "701063 2391", code: CodeSamordningsnummerFormat},
	})
}

func BenchmarkPersonnummer(b *testing.B) {
	for b.Loop() {
		if _, err := Personnummer("811218-9876", refDate); err != nil {
			b.Fatal(err)
		}
	}
}
