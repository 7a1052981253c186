package pdfdoc

import "testing"

func TestText(t *testing.T) {
	tests := []struct {
		in    string
		limit int
		want  string
	}{
		{"Åsa Öberg – ”citat” › nyckel", 100, "Åsa Öberg – ”citat” › nyckel"},
		{"Łukasz → Erdős", 100, "?ukasz ? Erdos"},
		{"abcdef", 3, "abc…"},
		{"rad 1\nrad 2", 100, "rad 1 rad 2"},
		{"Åsa Öberg, Ärlinghem – é ü ß", 100, "Åsa Öberg, Ärlinghem – é ü ß"},
		{"Łukasz Wałęsa", 100, "?ukasz Wa?esa"}, // ł has no base letter; ę is e + ogonek
		{"Erdős", 100, "Erdos"},
		{"Ελλάδα", 100, "??????"},
		{"abc", 3, "abc"},
		{"rad 1\nrad 2\tslut", 100, "rad 1 rad 2 slut"},
		{"bad \xff byte", 100, "bad ? byte"},
	}
	for _, tt := range tests {
		if got := Text(tt.in, tt.limit); got != tt.want {
			t.Errorf("Text(%q, %d) = %q, want %q", tt.in, tt.limit, got, tt.want)
		}
	}
}
