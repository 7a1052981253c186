package cli

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestParseSizes(t *testing.T) {
	tests := []struct {
		in   string
		want []int
	}{
		{"10000", []int{10000}},
		{"10k,100k,1M", []int{10000, 100000, 1000000}},
		{" 5 , 7K ", []int{5, 7000}},
		{"10M", []int{10000000}},
		{"0", nil},
		{"11M", nil},
		{"-3", nil},
		{"ten", nil},
		{"", nil},
		{"1,,2", nil},
	}
	for _, tt := range tests {
		got, err := parseSizes(tt.in)
		if (err == nil) != (tt.want != nil) || !slices.Equal(got, tt.want) {
			t.Errorf("parseSizes(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestParseOps(t *testing.T) {
	got, err := parseOps("login,create,read,create")
	if err != nil || !slices.Equal(got, []string{"create", "read", "login"}) {
		t.Fatalf("parseOps = %v, %v: want them once each, in running order", got, err)
	}
	if _, err := parseOps("create,drop"); err == nil {
		t.Fatal("an unknown operation was accepted")
	}
}

// The performance page from a recorded run (testdata/bench/report.json):
// go test ./internal/cli -run PerformancePage -update rewrites the golden.
func TestPerformancePage(t *testing.T) {
	raw, err := os.ReadFile("testdata/bench/report.json")
	if err != nil {
		t.Fatal(err)
	}
	var rep benchReport
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	writePerformancePage(&buf, rep, "## Analysis\n\nWritten by hand.\n")
	const golden = "testdata/bench/performance.md.golden"
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("the page differs from %s (run with -update and review the diff):\n%s", golden, buf.String())
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -4500: "-4,500"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

// The server's CPU profile goes only to a new file.
func TestCPUProfileNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "kept.pprof")
	if err := os.WriteFile(existing, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := startCPUProfile(existing); err == nil {
		t.Fatal("an existing file was accepted for the profile")
	}
	if b, _ := os.ReadFile(existing); string(b) != "keep me" {
		t.Fatalf("the existing file was changed: %q", b)
	}
	fresh := filepath.Join(dir, "new.pprof")
	stop, err := startCPUProfile(fresh)
	if err != nil {
		t.Fatal(err)
	}
	stop()
	if st, err := os.Stat(fresh); err != nil || st.Size() == 0 || st.Mode().Perm() != 0o600 {
		t.Fatalf("profile file: %v, %v", st, err)
	}
}

// The child gets this process's environment without VALV_* settings,
// which would change the scratch installation's configuration.
func TestBenchEnvironDropsValvSettings(t *testing.T) {
	t.Setenv("VALV_DATA_DIR", "/srv/production")
	for _, kv := range benchEnviron() {
		if strings.HasPrefix(kv, "VALV_") {
			t.Fatalf("the child would get %s", kv)
		}
	}
}
