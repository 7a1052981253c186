package valvtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// SoftHSMToken is an initialised SoftHSM2 token.
type SoftHSMToken struct {
	Module string
	Label  string
	PIN    string
}

// SoftHSM initialises a fresh SoftHSM2 token in a temporary directory and
// points SOFTHSM2_CONF at it for the rest of the test binary. Without
// SoftHSM2 the test is skipped (or fails under VALV_REQUIRE_INTEGRATION=1).
func SoftHSM(t testing.TB) SoftHSMToken {
	t.Helper()
	module := ""
	for _, p := range []string{"/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so", "/usr/local/lib/softhsm/libsofthsm2.so"} {
		if _, err := os.Stat(p); err == nil {
			module = p
			break
		}
	}
	util, err := exec.LookPath("softhsm2-util")
	if module == "" || err != nil {
		Missing(t, "SoftHSM2", "libsofthsm2.so or softhsm2-util not found; install the softhsm2 package")
	}
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.MkdirAll(tokens, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n", tokens)), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOFTHSM2_CONF", conf)
	tok := SoftHSMToken{Module: module, Label: "valv-test", PIN: "246810"}
	out, err := exec.Command(util, "--init-token", "--free", "--label", tok.Label, "--pin", tok.PIN, "--so-pin", "13579111").CombinedOutput()
	if err != nil {
		t.Fatalf("softhsm2-util --init-token: %v: %s", err, out)
	}
	return tok
}
