package document

import (
	"bytes"
	"encoding/json"
	"reflect"
	"sort"
	"strings"

	"github.com/valvhq/valv/internal/problem"
)

// maxChanged bounds how many changed paths a version lists; beyond it the
// version lists the top-level field instead.
const maxChanged = 100

// changedFields lists, as JSON pointers, what differs between two versions'
// content: leaves of the data and metadata, the kinds of subjects, the
// clear fields and the file. Only paths, never values.
func changedFields(old, next content) []string {
	var out []string
	for _, f := range []struct {
		path string
		a, b string
	}{{"/archive", old.Archive, next.Archive}, {"/document_date", old.DocumentDate, next.DocumentDate}, {"/review_date", old.ReviewDate, next.ReviewDate}} {
		if f.a != f.b {
			out = append(out, f.path)
		}
	}
	var data []string
	diffJSON("/data", decode(old.Data), decode(next.Data), &data)
	if len(data) > maxChanged {
		data = []string{"/data"}
	}
	out = append(out, data...)
	for _, k := range unionKeys(old.Metadata, next.Metadata) {
		a, aok := old.Metadata[k]
		b, bok := next.Metadata[k]
		if a != b || aok != bok {
			out = append(out, "/metadata/"+escape(k))
		}
	}
	kinds := map[string]bool{}
	for _, s := range symmetricDifference(old.Subjects, next.Subjects) {
		kinds[s.Kind] = true
	}
	for _, k := range sortedSet(kinds) {
		out = append(out, "/subjects/"+k)
	}
	if !reflect.DeepEqual(old.File, next.File) {
		out = append(out, "/file")
	}
	return out
}

func decode(raw json.RawMessage) any {
	if len(raw) == 0 {
		return nil
	}
	var v any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if d.Decode(&v) != nil {
		return nil
	}
	return v
}

// diffJSON appends the paths under which a and b differ.
func diffJSON(path string, a, b any, out *[]string) {
	if len(*out) > maxChanged {
		return
	}
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		keys := map[string]bool{}
		for k := range am {
			keys[k] = true
		}
		for k := range bm {
			keys[k] = true
		}
		for _, k := range sortedSet(keys) {
			av, ain := am[k]
			bv, bin := bm[k]
			if ain != bin {
				*out = append(*out, path+"/"+escape(k))
				continue
			}
			diffJSON(path+"/"+escape(k), av, bv, out)
		}
		return
	}
	if !reflect.DeepEqual(a, b) {
		*out = append(*out, path)
	}
}

// escape escapes a JSON pointer token (RFC 6901).
func escape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

func unionKeys(a, b map[string]string) []string {
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	return sortedSet(keys)
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func symmetricDifference(a, b []Subject) []Subject {
	in := func(s Subject, list []Subject) bool {
		for _, x := range list {
			if x == s {
				return true
			}
		}
		return false
	}
	var out []Subject
	for _, s := range a {
		if !in(s, b) {
			out = append(out, s)
		}
	}
	for _, s := range b {
		if !in(s, a) {
			out = append(out, s)
		}
	}
	return out
}

// mergePatch applies a JSON merge patch (RFC 7386) to a JSON object.
func mergePatch(target, patch json.RawMessage) (json.RawMessage, error) {
	p := decode(patch)
	if p == nil && len(bytes.TrimSpace(patch)) > 0 && !bytes.Equal(bytes.TrimSpace(patch), []byte("null")) {
		return nil, problem.Invalid("invalid_document", "The data patch is not valid JSON.", problem.Field("/data", "invalid_json", "Send a JSON object."))
	}
	pm, ok := p.(map[string]any)
	if !ok {
		return nil, problem.Invalid("invalid_document", "The data patch is a JSON object (a merge patch).",
			problem.Field("/data", "not_an_object", "Send the fields to change; null removes a field."))
	}
	t, _ := decode(target).(map[string]any)
	merged := merge(t, pm)
	out, err := json.Marshal(merged)
	if err != nil {
		return nil, err
	}
	return out, nil
}

func merge(target any, patch map[string]any) map[string]any {
	t, ok := target.(map[string]any)
	if !ok || t == nil {
		t = map[string]any{}
	}
	for k, v := range patch {
		if v == nil {
			delete(t, k)
			continue
		}
		if pm, ok := v.(map[string]any); ok {
			t[k] = merge(t[k], pm)
			continue
		}
		t[k] = v
	}
	return t
}
