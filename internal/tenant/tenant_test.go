package tenant

import (
	"strings"
	"testing"
)

func TestNormaliseName(t *testing.T) {
	tests := []struct {
		in, name, key string
		bad           bool
	}{
		{in: "Acme AB", name: "Acme AB", key: "acme ab"},
		{in: "  Acme \t  AB ", name: "Acme AB", key: "acme ab"},
		{in: "A\u030asa Öberg", name: "Åsa Öberg", key: "åsa öberg"}, // NFC
		{in: "ＡＣＭＥ", name: "ＡＣＭＥ", key: "acme"},                      // NFKC key
		{in: "", bad: true},
		{in: "   ", bad: true},
		{in: "bad\x00name", bad: true},
		{in: "zero\u200bwidth", bad: true},
		{in: "\xff\xfe", bad: true},
		{in: strings.Repeat("x", MaxNameLength+1), bad: true},
		{in: strings.Repeat("å", MaxNameLength), name: strings.Repeat("å", MaxNameLength), key: strings.Repeat("å", MaxNameLength)},
	}
	for _, tt := range tests {
		name, key, err := NormaliseName(tt.in)
		if tt.bad {
			if err == nil {
				t.Errorf("NormaliseName(%q) accepted", tt.in)
			}
			continue
		}
		if err != nil || name != tt.name || key != tt.key {
			t.Errorf("NormaliseName(%q) = %q, %q, %v; want %q, %q", tt.in, name, key, err, tt.name, tt.key)
		}
	}
}

func TestSettingsValidate(t *testing.T) {
	s := DefaultSettings()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	s.IdleTimeout = Duration(0)
	if err := s.Validate(); err == nil {
		t.Fatal("zero idle timeout accepted")
	}
}

func FuzzNormaliseName(f *testing.F) {
	for _, s := range []string{"Acme AB", "Åsa", "\x00", " a ", "ＡＣＭＥ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		name, key, err := NormaliseName(in)
		if err != nil {
			return
		}
		// Normalising twice changes nothing.
		name2, key2, err := NormaliseName(name)
		if err != nil || name2 != name || key2 != key {
			t.Fatalf("not idempotent: %q → %q → %q (%v)", in, name, name2, err)
		}
	})
}
