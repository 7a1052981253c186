package internal_test

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// The layering rules of ARCHITECTURE.md, enforced on the direct imports of
// every non-test Go file under internal/. Every package must be listed in
// layers, so a new package fails this test until someone decides where it
// belongs.

const module = "github.com/valvhq/valv/internal/"

// layers classifies every package under internal/.
var layers = map[string]string{
	"app":     "root",
	"cli":     "edge",
	"api":     "edge",
	"web":     "edge",
	"server":  "transport",
	"config":  "base",
	"problem": "base",
	"call":    "base",
	"store":   "store",

	"store/storetest": "test",
	"valvtest":        "test",

	"guard":   "low",
	"auth":    "low",
	"authz":   "low",
	"audit":   "low",
	"keyring": "low",

	"keyring/hsm": "provider",
	"seal":        "low",
	"validate":    "low",
	"scan":        "low",
	"notify":      "low",
	"jobs":        "low",
	"report":      "low",
	"pdfdoc":      "low",
	"einvoice":    "low",
	"region":      "base", // a leaf: config checks labels with it
	"synth":       "low",
	"doctor":      "low",
	"loadgen":     "low",

	"tenant":    "domain",
	"document":  "domain",
	"message":   "domain",
	"retention": "domain",
	"archive":   "domain",
	"gdpr":      "domain",
	"access":    "domain",
	"backup":    "domain",
}

var domain = []string{"tenant", "document", "message", "retention", "archive", "gdpr", "access", "backup"}

// drivers are concrete database drivers and key providers: only app (and
// test harnesses) may import them.
var drivers = []string{
	"modernc.org/sqlite",
	"github.com/jackc/pgx/v5",
	"github.com/jackc/pgx/v5/stdlib",
	"github.com/lib/pq",
	"github.com/miekg/pkcs11",
}

type rule struct {
	why    string
	from   func(pkg string) bool
	denied func(imp string) bool
}

func in(list ...string) func(string) bool {
	return func(s string) bool {
		for _, x := range list {
			if s == x {
				return true
			}
		}
		return false
	}
}

func internalPkg(names ...string) func(string) bool {
	return func(imp string) bool {
		for _, n := range names {
			if imp == module+n {
				return true
			}
		}
		return false
	}
}

func layer(names ...string) func(string) bool {
	return func(pkg string) bool { return in(names...)(layers[pkg]) }
}

var rules = []rule{
	{
		why:    "guard, auth, authz, audit, keyring, seal, validate, scan import no domain package",
		from:   in("guard", "auth", "authz", "audit", "keyring", "seal", "validate", "scan"),
		denied: internalPkg(domain...),
	},
	{
		why:    "api, web and cli never import store, seal, keyring or database/sql",
		from:   in("api", "web", "cli"),
		denied: func(imp string) bool { return internalPkg("store", "seal", "keyring")(imp) || imp == "database/sql" },
	},
	{
		why:  "domain packages never import net/http (except message's delivery client) or a database driver",
		from: layer("domain"),
		denied: func(imp string) bool {
			return imp == "net/http" || in(drivers...)(imp)
		},
	},
	{
		why:    "store never imports seal or keyring: it only sees ciphertext",
		from:   in("store"),
		denied: internalPkg("seal", "keyring"),
	},
	{
		why:    "only app (and the provider packages themselves) import concrete drivers",
		from:   func(pkg string) bool { return pkg != "app" && layers[pkg] != "test" && layers[pkg] != "provider" },
		denied: in(drivers...),
	},
	{
		why:  "only app imports concrete key providers",
		from: func(pkg string) bool { return pkg != "app" && layers[pkg] != "test" },
		denied: func(imp string) bool {
			return layers[strings.TrimPrefix(imp, module)] == "provider" && strings.HasPrefix(imp, module)
		},
	},
	{
		why:  "base packages import no other Valv package but base ones",
		from: layer("base"),
		denied: func(imp string) bool {
			return strings.HasPrefix(imp, module) && layers[strings.TrimPrefix(imp, module)] != "base"
		},
	},
	{
		why:    "nothing but app and cli imports app",
		from:   func(pkg string) bool { return pkg != "cli" },
		denied: internalPkg("app"),
	},
	{
		why:    "nothing but app imports cli",
		from:   func(string) bool { return true },
		denied: internalPkg("cli"),
	},
}

// exceptions allow one package one import that a rule would refuse.
var exceptions = map[string][]string{
	"message": {"net/http"}, // delivery to external HTTPS endpoints
}

func TestLayering(t *testing.T) {
	pkgs := packages(t)
	if len(pkgs) == 0 {
		t.Fatal("found no packages")
	}
	for _, pkg := range sortedKeys(pkgs) {
		if _, ok := layers[pkg]; !ok {
			t.Errorf("package internal/%s is not in the layers table of deps_test.go; add it where it belongs", pkg)
			continue
		}
		if bad := []string{"util", "utils", "common", "helpers", "misc", "models", "services"}; in(bad...)(filepath.Base(pkg)) {
			t.Errorf("package internal/%s has a name that says nothing about what it provides", pkg)
		}
		for _, imp := range pkgs[pkg] {
			if in(exceptions[pkg]...)(imp) {
				continue
			}
			for _, r := range rules {
				if r.from(pkg) && r.denied(imp) {
					t.Errorf("internal/%s imports %s: %s", pkg, imp, r.why)
				}
			}
		}
	}
}

// packages maps each package under internal/ (by path relative to it) to
// the imports of its non-test files.
func packages(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() || strings.Contains(path, "testdata") {
			return nil
		}
		if path == "." {
			return nil
		}
		// Parse every non-test file whatever its build tags, so files behind
		// a tag (pkcs11) are checked too.
		files, err := filepath.Glob(filepath.Join(path, "*.go"))
		if err != nil {
			return err
		}
		seen := map[string]bool{}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
			if err != nil {
				return err
			}
			for _, is := range af.Imports {
				imp, _ := strconv.Unquote(is.Path.Value)
				if !seen[imp] {
					seen[imp] = true
					out[filepath.ToSlash(path)] = append(out[filepath.ToSlash(path)], imp)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sortedKeys(m map[string][]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
