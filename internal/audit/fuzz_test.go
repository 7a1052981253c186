package audit

import (
	"bytes"
	"testing"
	"time"
)

func TestSafeID(t *testing.T) {
	for _, tc := range []struct {
		id   string
		safe bool
	}{
		{"0198aaaa-bbbb-7ccc-8ddd-eeeeffff0000", true},
		{"0198AAAA-BBBB-7CCC-8DDD-EEEEFFFF0000", false}, // not canonical
		{"platform", true},
		{"7k2m9x4q1z8h3n5b", true},         // an API key id
		{"a3f09c1b2d4e5f6a7b8c9d0e", true}, // a session's public id
		{"4111111111111111", false},        // a card number
		{"198112189876", false},            // a personnummer
		{"19811218-9876", false},
		{"anna@example.se", false},
		{"anna svensson", false},
		{"annasvenssonxyzz", false}, // 16 letters, but o is not in the key alphabet
		{"", false},
	} {
		if got := safeID(tc.id); got != tc.safe {
			t.Errorf("safeID(%q) = %v, want %v", tc.id, got, tc.safe)
		}
	}
}

func FuzzSafeID(f *testing.F) {
	for _, s := range []string{"0198aaaa-bbbb-7ccc-8ddd-eeeeffff0000", "7k2m9x4q1z8h3n5b", "4111111111111111", "anna@example.se"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if safeID(s) && (len(s) < 8 || onlyChars(s, "0123456789")) {
			t.Fatalf("safeID(%q) is true for a short or all-digit value", s)
		}
	})
}

// FuzzParseCheckpoint: any text either parses into a checkpoint that
// prints back to the same text, or is refused; it never panics.
func FuzzParseCheckpoint(f *testing.F) {
	f.Add(checkpointText("valv.audit/x/t1", 12, make([]byte, 32), make([]byte, 32), time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)))
	f.Add("valv.audit/x/t1\n0\nAA==\nlast AA==\ntime x\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, text string) {
		origin, size, root, last, at, err := parseCheckpoint(text)
		if err != nil {
			return
		}
		if size < 1 || len(root) != 32 || len(last) != 32 {
			t.Fatalf("accepted a bad checkpoint: %q", text)
		}
		again := checkpointText(origin, size, root, last, at)
		if _, s2, r2, l2, _, err := parseCheckpoint(again); err != nil || s2 != size || !bytes.Equal(r2, root) || !bytes.Equal(l2, last) {
			t.Fatalf("round trip of %q: %v", text, err)
		}
	})
}
