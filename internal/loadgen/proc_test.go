package loadgen

import (
	"math"
	"os"
	"testing"
)

func TestParseStat(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want float64
		ok   bool
	}{
		{"plain", "1234 (valv) S 1 1234 1234 0 -1 4194560 2000 0 0 0 250 50 0 0 20 0 12 0 100 0 0", 3, true},
		{"name with spaces and parentheses", "99 (a (b) c) R 1 2 3 4 5 6 7 8 9 10 1 2 0 0", 0.03, true},
		{"no name", "1234 valv S 1", 0, false},
		{"too short", "1 (x) S 1 2 3", 0, false},
		{"not numbers", "1 (x) S 1 2 3 4 5 6 7 8 9 10 a b 0 0", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseStat([]byte(tt.in))
			if (err == nil) != tt.ok || got != tt.want {
				t.Fatalf("ParseStat = %v, %v; want %v (ok %v)", got, err, tt.want, tt.ok)
			}
		})
	}
}

func TestParseStatus(t *testing.T) {
	in := "Name:\tvalv\nVmPeak:\t  900000 kB\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\nRssAnon:\t   81920 kB\nRssFile:\t   20480 kB\nThreads:\t12\n"
	m, err := ParseStatus([]byte(in))
	if err != nil || m["VmHWM"] != 200<<20 || m["VmRSS"] != 100<<20 || m["RssAnon"] != 80<<20 || m["RssFile"] != 20<<20 || len(m) != 4 {
		t.Fatalf("ParseStatus = %v, %v", m, err)
	}
	for _, bad := range []string{"Name:\tx\n", "VmHWM:\t1 kB\n", "VmRSS:\t1 kB\n", "VmHWM:\t12 MB\nVmRSS:\t1 kB\n", "VmHWM:\t-1 kB\nVmRSS:\t1 kB\n", "VmHWM:\tx kB\nVmRSS:\t1 kB\n"} {
		if _, err := ParseStatus([]byte(bad)); err == nil {
			t.Errorf("ParseStatus(%q) accepted", bad)
		}
	}
}

// This process reads itself: /proc is there on the machines Valv runs on.
func TestReadUsage(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc here")
	}
	if err := ResetPeak(os.Getpid()); err != nil {
		t.Fatal(err)
	}
	u, err := ReadUsage(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if u.PeakRSS <= 0 || u.RSS <= 0 || u.RSS > u.PeakRSS || u.CPUSeconds < 0 || u.RSSAnon <= 0 || u.RSSAnon+u.RSSFile > u.RSS {
		t.Fatalf("usage %+v", u)
	}
}

func FuzzParseStat(f *testing.F) {
	f.Add([]byte("1234 (valv) S 1 1234 1234 0 -1 4194560 2000 0 0 0 250 50 0 0 20 0 12 0 100 0 0"))
	f.Add([]byte("1 ()) S"))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := ParseStat(b)
		if err == nil && (v < 0 || math.IsNaN(v)) {
			t.Fatalf("CPU time %v", v)
		}
		if err != nil && v != 0 {
			t.Fatalf("an error with a value %v", v)
		}
	})
}

func FuzzParseStatus(f *testing.F) {
	f.Add([]byte("VmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\n"))
	f.Add([]byte("VmHWM: 1 kB"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseStatus(b)
		if err != nil {
			return
		}
		for k, v := range m {
			if v < 0 || !statusFields[k] {
				t.Fatalf("%s = %d", k, v)
			}
		}
	})
}
