package region

import "testing"

func TestCountryAndAllowed(t *testing.T) {
	tests := []struct {
		label   string
		country string
		eea, se bool
	}{
		{"eu-north-1", "SE", true, true},
		{"eu-west-2", "GB", false, false},    // London: not in the EEA
		{"eu-central-2", "CH", false, false}, // Zurich
		{"eu-central-1", "DE", true, false},
		{"europe-north1", "FI", true, false},
		{"swedencentral", "SE", true, true},
		{"norwayeast", "NO", true, false},
		{"uksouth", "GB", false, false},
		{"us-east-1", "US", false, false},
		{"se-sto", "SE", true, true},
		{"SE", "SE", true, true},
		{" se-got-2 ", "SE", true, true},
		{"no-osl", "NO", true, false},
		{"de", "DE", true, false},
		{"ch-zrh", "CH", false, false},
		{"eu", "", false, false}, // "eu" is not a place
		{"eu-somewhere", "", false, false},
		{"", "", false, false},
		{"mars-1", "", false, false},
		{"xx-1", "", false, false},
	}
	for _, tt := range tests {
		if got := Country(tt.label); got != tt.country {
			t.Errorf("Country(%q) = %q, want %q", tt.label, got, tt.country)
		}
		if got := Allowed(EEA, tt.label); got != tt.eea {
			t.Errorf("Allowed(eu-eea, %q) = %v, want %v", tt.label, got, tt.eea)
		}
		if got := Allowed(Sweden, tt.label); got != tt.se {
			t.Errorf("Allowed(se, %q) = %v, want %v", tt.label, got, tt.se)
		}
		if !Allowed(None, tt.label) {
			t.Errorf("Allowed(none, %q) = false", tt.label)
		}
		if (Check(EEA, tt.label) == nil) != tt.eea {
			t.Errorf("Check(eu-eea, %q) disagrees with Allowed", tt.label)
		}
	}
	// An unknown pin is read as the EEA, never as "anything goes".
	if Allowed("mars", "us-east-1") {
		t.Error("an unknown pin allowed a US region")
	}
}

func TestStrictest(t *testing.T) {
	tests := []struct {
		pins []string
		want string
	}{
		{nil, None},
		{[]string{None, None}, None},
		{[]string{None, EEA}, EEA},
		{[]string{EEA, Sweden, None}, Sweden},
		{[]string{"unknown"}, EEA},
	}
	for _, tt := range tests {
		if got := Strictest(tt.pins...); got != tt.want {
			t.Errorf("Strictest(%v) = %q, want %q", tt.pins, got, tt.want)
		}
	}
}

func FuzzCountry(f *testing.F) {
	for _, s := range []string{"eu-north-1", "se-sto", "", "eu", "SE", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, label string) {
		c := Country(label)
		if c != "" && len(c) != 2 {
			t.Fatalf("Country(%q) = %q", label, c)
		}
		if Allowed(EEA, label) != InEEA(c) {
			t.Fatalf("Allowed and Country disagree on %q", label)
		}
		if Allowed(Sweden, label) && !Allowed(EEA, label) {
			t.Fatalf("%q is in Sweden but not in the EEA", label)
		}
	})
}
