package api

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestOpenAPIDocument checks the generated document and keeps the committed
// copy in docs/api/openapi.json equal to it (refresh with -update).
func TestOpenAPIDocument(t *testing.T) {
	a := New(Deps{})
	doc, err := a.OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	var parsed struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(doc, &parsed); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(parsed.OpenAPI, "3.1") {
		t.Fatalf("openapi %q", parsed.OpenAPI)
	}
	n := 0
	for _, r := range a.Routes() {
		n++
		if _, ok := parsed.Paths[r.Pattern][strings.ToLower(r.Method)]; !ok {
			t.Errorf("route %s %s is not in the document", r.Method, r.Pattern)
		}
		if r.Summary == "" {
			t.Errorf("route %s %s has no summary", r.Method, r.Pattern)
		}
		if !strings.HasPrefix(r.Pattern, "/api/v1/") {
			t.Errorf("route %s is outside /api/v1/", r.Pattern)
		}
	}
	ops := 0
	for _, m := range parsed.Paths {
		ops += len(m)
	}
	if ops != n {
		t.Errorf("document has %d operations for %d routes", ops, n)
	}
	const golden = "../../docs/api/openapi.json"
	doc = append(doc, '\n')
	if *update {
		if err := os.WriteFile(golden, doc, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/api -update)", err)
	}
	if !bytes.Equal(want, doc) {
		t.Fatal("docs/api/openapi.json is out of date: run go test ./internal/api -update")
	}
}
