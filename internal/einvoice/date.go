package einvoice

import (
	"encoding/json"
	"errors"
	"time"
)

// Date is a calendar date without time or zone, written YYYY-MM-DD as
// Peppol requires (PEPPOL-EN16931-F001). The zero Date is absent.
type Date struct {
	year       uint16
	month, day uint8
}

var errDate = errors.New("einvoice: not a date in the form YYYY-MM-DD")

// ParseDate reads a date written exactly YYYY-MM-DD (ten characters, no
// zone) that exists in the calendar, year 0001 to 9999.
func ParseDate(s string) (Date, error) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return Date{}, errDate
	}
	for i, c := range []byte(s) {
		if i != 4 && i != 7 && (c < '0' || c > '9') {
			return Date{}, errDate
		}
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil || t.Year() < 1 {
		return Date{}, errDate
	}
	return Date{year: uint16(t.Year()), month: uint8(t.Month()), day: uint8(t.Day())}, nil // #nosec G115 -- four digits checked, year >= 1: year 1..9999, month 1..12, day 1..31
}

// MustParseDate is ParseDate for constants; it panics on bad input.
func MustParseDate(s string) Date {
	d, err := ParseDate(s)
	if err != nil {
		panic("einvoice: MustParseDate: not a date in the form YYYY-MM-DD")
	}
	return d
}

// DateOf returns the calendar date of t in t's location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	if y < 1 || y > 9999 {
		return Date{}
	}
	return Date{year: uint16(y), month: uint8(m), day: uint8(d)} // #nosec G115 -- year checked 1..9999; t.Date gives month 1..12, day 1..31
}

// IsSet reports whether d was given.
func (d Date) IsSet() bool { return d.year != 0 }

// Time returns midnight UTC at the start of d (the zero time when absent).
func (d Date) Time() time.Time {
	if !d.IsSet() {
		return time.Time{}
	}
	return time.Date(int(d.year), time.Month(d.month), int(d.day), 0, 0, 0, 0, time.UTC)
}

// Compare returns -1, 0 or +1 as d is before, equal to or after e.
func (d Date) Compare(e Date) int {
	a := int(d.year)<<16 | int(d.month)<<8 | int(d.day)
	b := int(e.year)<<16 | int(e.month)<<8 | int(e.day)
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// String returns YYYY-MM-DD, or "" when absent.
func (d Date) String() string {
	if !d.IsSet() {
		return ""
	}
	return string(d.appendTo(nil))
}

func (d Date) appendTo(b []byte) []byte {
	b = append(b, byte('0'+d.year/1000), byte('0'+d.year/100%10), byte('0'+d.year/10%10), byte('0'+d.year%10), '-') // #nosec G115 -- year <= 9999, so each digit is 0..9
	b = append(b, byte('0'+d.month/10), byte('0'+d.month%10), '-')
	return append(b, byte('0'+d.day/10), byte('0'+d.day%10))
}

// MarshalJSON writes "YYYY-MM-DD", or null when absent.
func (d Date) MarshalJSON() ([]byte, error) {
	if !d.IsSet() {
		return []byte("null"), nil
	}
	return []byte(`"` + d.String() + `"`), nil
}

// UnmarshalJSON reads a JSON string "YYYY-MM-DD", or null (absent).
func (d *Date) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*d = Date{}
		return nil
	}
	var s string
	if len(b) == 0 || b[0] != '"' || json.Unmarshal(b, &s) != nil {
		return errors.New("einvoice: a date must be a JSON string")
	}
	v, err := ParseDate(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}
