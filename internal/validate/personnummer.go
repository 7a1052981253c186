package validate

import (
	"strconv"
	"time"
)

const (
	// minBirthYear is the earliest year of birth accepted. Skatteverket
	// stores the century of a personnummer as 18, 19 or 20.
	minBirthYear = 1800

	// coordinationDayOffset is what a samordningsnummer adds to the day of
	// birth (folkbokföringslagen 18 a §): someone born on the 3rd has 63.
	coordinationDayOffset = 60

	// maxYear keeps the normalised form at 12 digits whatever clock is passed.
	maxYear = 9999
)

// swedishID describes the two kinds of Swedish person number. They differ
// only in the day offset and in what the messages call them.
type swedishID struct {
	name       string // for messages: "personnummer"
	formatCode string
	dateCode   string
	dayOffset  int
}

var (
	personnummerID = swedishID{
		name:       "personnummer",
		formatCode: CodePersonnummerFormat,
		dateCode:   CodePersonnummerDate,
	}
	samordningsnummerID = swedishID{
		name:       "samordningsnummer",
		formatCode: CodeSamordningsnummerFormat,
		dateCode:   CodeSamordningsnummerDate,
		dayOffset:  coordinationDayOffset,
	}
)

// Personnummer validates a Swedish personal identity number and returns it
// as 12 digits, YYYYMMDDNNNC, so that every way of writing one number
// normalises to the same value (it is the input of a blind index):
// "19811218-9876", "198112189876", "811218-9876" and "8112189876" all give
// "198112189876" (for any now from 1982 to 2080).
//
// Accepted forms are YYMMDD-NNNC, YYMMDD+NNNC, YYMMDDNNNC, YYYYMMDD-NNNC and
// YYYYMMDDNNNC. In the 10-digit forms the century is inferred from now: the
// number belongs to someone younger than 100 in now's year, or, with the "+"
// that replaces the hyphen from the year a person turns 100, to someone 100
// to 199. The date must exist (leap years included), must not be after now,
// and the last digit must be the Luhn check digit of the 10-digit form.
func Personnummer(s string, now time.Time) (string, error) {
	return personnummerID.parse(s, now)
}

// Samordningsnummer validates a Swedish coordination number, given to people
// who are not or have not been registered in Sweden. It is written like a
// personnummer with 60 added to the day of birth ("701063-2391" is someone
// born on 3 October 1970), and is normalised the same way, to 12 digits with
// the day as written ("197010632391").
func Samordningsnummer(s string, now time.Time) (string, error) {
	return samordningsnummerID.parse(s, now)
}

func (k swedishID) parse(s string, now time.Time) (string, error) {
	digits, sep, ok := splitSwedishID(trimSpace(s))
	if !ok {
		return "", invalid(k.formatCode, "A "+k.name+" is written YYMMDD-NNNC or YYYYMMDD-NNNC (the hyphen is optional).")
	}
	var year int
	if len(digits) == 12 {
		year = atoi(digits[:4])
		digits = digits[2:]
	} else {
		year = inferBirthYear(atoi(digits[:2]), sep == '+', now)
	}
	// digits is now the 10-digit form YYMMDDNNNC.
	if err := k.checkDate(year, atoi(digits[2:4]), atoi(digits[4:6]), now); err != nil {
		return "", err
	}
	if !luhnValid(digits) {
		return "", invalid(CodeInvalidLuhn, "The check digit (the last digit) of the "+k.name+" does not match; check for a mistyped digit.")
	}
	return strconv.Itoa(year) + digits[2:], nil
}

// splitSwedishID returns the digits of s, one of the accepted forms, and its
// separator (0 if none). In the 12-digit form only a hyphen is accepted: the
// "+" is meaningful only where the century is not written.
func splitSwedishID(s string) (digits string, sep byte, ok bool) {
	switch len(s) {
	case 10, 12:
		digits = s
	case 11:
		sep, digits = s[6], s[:6]+s[7:]
		if sep != '-' && sep != '+' {
			return "", 0, false
		}
	case 13:
		sep, digits = s[8], s[:8]+s[9:]
		if sep != '-' {
			return "", 0, false
		}
	default:
		return "", 0, false
	}
	return digits, sep, allDigits(digits)
}

// inferBirthYear returns the year of birth for the two-digit year yy: the
// latest year ending in yy that is at most now's year, or, if hundred (the
// "+" separator), at most now's year minus 100.
func inferBirthYear(yy int, hundred bool, now time.Time) int {
	base := now.Year()
	if hundred {
		base -= 100
	}
	return base - ((base-yy)%100+100)%100
}

func (k swedishID) checkDate(year, month, day int, now time.Time) error {
	if k.dayOffset == 0 && day > coordinationDayOffset {
		return invalid(k.dateCode, "The day of birth is more than 60, which marks a samordningsnummer, not a personnummer.")
	}
	if k.dayOffset > 0 && day <= k.dayOffset {
		return invalid(k.dateCode, "A samordningsnummer has 60 added to the day of birth, so its day is 61 to 91.")
	}
	day -= k.dayOffset
	if year < minBirthYear || year > maxYear || month < 1 || month > 12 || day < 1 || day > daysIn(year, month) {
		return invalid(k.dateCode, "The date of birth in the "+k.name+" does not exist.")
	}
	ny, nm, nd := now.Date()
	if year > ny || year == ny && (month > int(nm) || month == int(nm) && day > nd) {
		return invalid(k.dateCode, "The date of birth in the "+k.name+" is in the future.")
	}
	return nil
}

// daysIn returns the number of days in month of year, leap years included.
func daysIn(year, month int) int {
	return time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// atoi converts a short run of ASCII digits, which the caller has checked.
func atoi(digits string) int {
	n := 0
	for i := 0; i < len(digits); i++ {
		n = n*10 + int(digits[i]-'0')
	}
	return n
}
