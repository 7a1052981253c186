package cli

import (
	"net"
	"os"
	"regexp"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"valv": func() { os.Exit(Main()) },
	})
}

// TestScripts runs the CLI end to end from testdata/script/*.txtar.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			env.Setenv("VALV_LOG_LEVEL", "warn")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// busyport occupies a port on 127.0.0.1 for the rest of the
			// script and sets $BUSYPORT to it.
			"busyport": func(ts *testscript.TestScript, neg bool, args []string) {
				l, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					ts.Fatalf("busyport: %v", err)
				}
				ts.Defer(func() { l.Close() })
				ts.Setenv("BUSYPORT", strconv.Itoa(l.Addr().(*net.TCPAddr).Port))
			},
			// capture NAME REGEXP sets $NAME to the first submatch of
			// REGEXP in the last command's standard output.
			"capture": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 2 {
					ts.Fatalf("usage: capture NAME REGEXP")
				}
				m := regexp.MustCompile(args[1]).FindStringSubmatch(ts.ReadFile("stdout"))
				if len(m) < 2 {
					ts.Fatalf("capture: %s does not match the output", args[1])
				}
				ts.Setenv(args[0], m[1])
			},
		},
	})
}
