package loadgen

import (
	"bytes"
	"testing"

	"github.com/google/pprof/profile"
)

// cpuProfile builds a CPU profile whose samples have the given stacks
// (leaf first) and values.
func cpuProfile(t *testing.T, samples map[string][]string, values map[string]int64) []byte {
	t.Helper()
	p := &profile.Profile{SampleType: []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
		PeriodType: &profile.ValueType{Type: "cpu", Unit: "nanoseconds"}, Period: 10_000_000}
	funcs := map[string]*profile.Location{}
	loc := func(name string) *profile.Location {
		if l, ok := funcs[name]; ok {
			return l
		}
		f := &profile.Function{ID: uint64(len(p.Function) + 1), Name: name}
		p.Function = append(p.Function, f)
		l := &profile.Location{ID: uint64(len(p.Location) + 1), Line: []profile.Line{{Function: f}}}
		p.Location = append(p.Location, l)
		funcs[name] = l
		return l
	}
	for key, stack := range samples {
		s := &profile.Sample{Value: []int64{1, values[key]}}
		for _, fn := range stack {
			s.Location = append(s.Location, loc(fn))
		}
		p.Sample = append(p.Sample, s)
	}
	var buf bytes.Buffer
	if err := p.Write(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestSummarise(t *testing.T) {
	raw := cpuProfile(t, map[string][]string{
		"waf regexp":  {"regexp.(*machine).add", "github.com/corazawaf/coraza/v3.eval", "app.serve"},
		"waf alloc":   {"runtime.mallocgc", "github.com/corazawaf/coraza/v3.eval", "app.serve"},
		"db fsync":    {"syscall.Syscall6", "modernc.org/sqlite.commit", "app.serve"},
		"recursion":   {"app.walk", "app.walk", "app.serve"},
		"unclaimed":   {"runtime.futex", "runtime.schedule"},
		"db in waf??": {"modernc.org/sqlite.read", "github.com/corazawaf/coraza/v3.eval"},
	}, map[string]int64{"waf regexp": 500, "waf alloc": 100, "db fsync": 200, "recursion": 100, "unclaimed": 50, "db in waf??": 50})
	comps := []Component{{"github.com/corazawaf/", "WAF"}, {"modernc.org/", "SQLite"}, {"app.", "app"}}
	got, err := Summarise(raw, comps, 3)
	if err != nil {
		t.Fatal(err)
	}
	want := []Share{{"WAF", 65}, {"SQLite", 20}, {"app", 10}, {Other, 5}}
	if len(got.Components) != len(want) {
		t.Fatalf("components %+v, want %+v", got.Components, want)
	}
	for i := range want {
		if got.Components[i] != want[i] {
			t.Fatalf("components %+v, want %+v", got.Components, want)
		}
	}
	// Flat: the leaf's own time; the recursive function counts once in
	// its total.
	wantFlat := []Hot{{"regexp.(*machine).add", 50, 50}, {"syscall.Syscall6", 20, 20}, {"app.walk", 10, 10}}
	for i := range wantFlat {
		if got.Flat[i] != wantFlat[i] {
			t.Fatalf("flat %+v, want %+v", got.Flat, wantFlat)
		}
	}
	if _, err := Summarise([]byte("not a profile"), comps, 3); err == nil {
		t.Fatal("garbage accepted as a profile")
	}
}
