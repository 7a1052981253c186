package einvoice

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// golden compares got with testdata/golden/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (run go test -update to accept):\n%s", path, firstDiff(got, want))
	}
}

// firstDiff shows the first line where got and want differ.
func firstDiff(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return "line " + strconv.Itoa(i+1) + ":\n got: " + gl + "\nwant: " + wl
		}
	}
	return "(no line differs)"
}

func fixtures(t testing.TB, pattern string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "fixtures", pattern))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures %s: %v", pattern, err)
	}
	return files
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func indentJSON(t testing.TB, inv Invoice) []byte {
	t.Helper()
	b, err := json.MarshalIndent(inv, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// TestFixturesUBL reads each UBL fixture (written in the structure of the
// published Peppol examples, not by this package) and checks the round
// trip FromUBL → ToUBL → FromUBL gives the same Invoice, that ToUBL's
// output is a fixed point, and that the output matches its golden file.
func TestFixturesUBL(t *testing.T) {
	for _, f := range fixtures(t, "*.xml") {
		name := strings.TrimSuffix(filepath.Base(f), ".xml")
		t.Run(name, func(t *testing.T) {
			inv1, err := FromUBL(mustRead(t, f))
			if err != nil {
				t.Fatalf("FromUBL(fixture): %v", err)
			}
			x1, err := ToUBL(inv1)
			if err != nil {
				t.Fatalf("ToUBL: %v", err)
			}
			inv2, err := FromUBL(x1)
			if err != nil {
				t.Fatalf("FromUBL(ToUBL(fixture)): %v", err)
			}
			if !reflect.DeepEqual(inv1, inv2) {
				t.Errorf("round trip changed the invoice:\n%s", firstDiff(indentJSON(t, inv2), indentJSON(t, inv1)))
			}
			x2, err := ToUBL(inv2)
			if err != nil {
				t.Fatalf("ToUBL again: %v", err)
			}
			if !bytes.Equal(x1, x2) {
				t.Errorf("ToUBL output is not stable:\n%s", firstDiff(x2, x1))
			}
			golden(t, name+".xml", x1)
			golden(t, name+".json", indentJSON(t, inv1))
		})
	}
}

// TestFixturesJSON converts each JSON fixture to UBL and back.
func TestFixturesJSON(t *testing.T) {
	for _, f := range fixtures(t, "*.json") {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			inv, err := DecodeJSON(mustRead(t, f))
			if err != nil {
				t.Fatalf("DecodeJSON: %v", err)
			}
			x, err := ToUBL(inv)
			if err != nil {
				t.Fatalf("ToUBL: %v", err)
			}
			back, err := FromUBL(x)
			if err != nil {
				t.Fatalf("FromUBL(ToUBL(fixture)): %v", err)
			}
			if inv.TypeCode == "" {
				inv.TypeCode = "380" // what ToUBL writes for an empty type code
			}
			if want, got := indentJSON(t, inv), indentJSON(t, back); !bytes.Equal(want, got) {
				t.Errorf("round trip changed the invoice:\n%s", firstDiff(got, want))
			}
			golden(t, name+".xml", x)
		})
	}
}

// TestFixturesCoverAllFields checks that every field of the model is set in
// at least one fixture, so that the round trips above exercise the whole
// mapping in both directions.
func TestFixturesCoverAllFields(t *testing.T) {
	set := map[string]bool{}
	for _, f := range fixtures(t, "*.xml") {
		inv, err := FromUBL(mustRead(t, f))
		if err != nil {
			t.Fatal(err)
		}
		markSet(reflect.ValueOf(inv), "", set)
	}
	for _, f := range fixtures(t, "*.json") {
		inv, err := DecodeJSON(mustRead(t, f))
		if err != nil {
			t.Fatal(err)
		}
		markSet(reflect.ValueOf(inv), "", set)
	}
	// Fields the shared types have but the rules forbid (TestRules checks
	// that they are refused).
	forbidden := map[string]bool{
		"/buyer/legal_form":                          true, // BT-33 is the seller's only
		"/buyer/tax_registration_id":                 true, // BT-32 is the seller's only
		"/lines/*/allowances_charges/*/vat/category": true, // line allowances have no VAT
		"/lines/*/allowances_charges/*/vat/rate":     true,
		"/lines/*/period/description_code":           true, // BT-8 is the invoice period's only
	}
	var missing []string
	for _, p := range leafPaths(reflect.TypeFor[Invoice](), "") {
		if !set[p] && !forbidden[p] {
			missing = append(missing, p)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("no fixture sets these fields:\n%s", strings.Join(missing, "\n"))
	}
}

func isLeaf(t reflect.Type) bool {
	return t.Kind() != reflect.Struct && !(t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct) ||
		t == reflect.TypeFor[Decimal]() || t == reflect.TypeFor[Date]()
}

func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	return name
}

// leafPaths lists the JSON paths of every leaf of t, with * for array indices.
func leafPaths(t reflect.Type, prefix string) []string {
	if isLeaf(t) {
		return []string{prefix}
	}
	if t.Kind() == reflect.Slice {
		return leafPaths(t.Elem(), prefix+"/*")
	}
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		out = append(out, leafPaths(f.Type, prefix+"/"+jsonName(f))...)
	}
	return out
}

func markSet(v reflect.Value, prefix string, set map[string]bool) {
	if isLeaf(v.Type()) {
		if !v.IsZero() || v.Kind() == reflect.Bool { // a bool is given either way
			set[prefix] = true
		}
		return
	}
	if v.Kind() == reflect.Slice {
		for i := 0; i < v.Len(); i++ {
			markSet(v.Index(i), prefix+"/*", set)
		}
		return
	}
	for i := 0; i < v.NumField(); i++ {
		markSet(v.Field(i), prefix+"/"+jsonName(v.Type().Field(i)), set)
	}
}
