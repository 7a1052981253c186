package web

import (
	"time"
	_ "time/tzdata" // Stockholm time without relying on the host's zone files
)

// msg is one label in both languages. Every label has both: the test
// TestEveryLabelTranslated fails on a key used by a page or the code that
// has no entry, or an entry with an empty language.
type msg struct{ sv, en string }

// stockholm is the zone dates are shown in.
var stockholm = func() *time.Location {
	l, err := time.LoadLocation("Europe/Stockholm")
	if err != nil {
		return time.UTC
	}
	return l
}()

func pick(lang string, m msg) string {
	if lang == "en" {
		return m.en
	}
	return m.sv
}

// translate returns key's label in lang; a missing key shows as itself in
// brackets, so that it is noticed (and the tests fail on it).
func translate(lang, key string) string {
	m, ok := catalog[key]
	if !ok {
		return "[" + key + "]"
	}
	return pick(lang, m)
}
