package document

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSanitizeFileName(t *testing.T) {
	for in, want := range map[string]string{
		"faktura.pdf":                     "faktura.pdf",
		"../../etc/passwd":                "passwd",
		`C:\Users\anna\Avtal 2026.docx`:   "Avtal 2026.docx",
		"Avtal \u202eFDP.exe.pdf":         "Avtal FDP.exe.pdf",
		"noll\u200bbredd.txt":             "nollbredd.txt",
		"tab\there.txt":                   "tab here.txt",
		"...hidden":                       "hidden",
		"":                                "file",
		"..":                              "file",
		"/":                               "file",
		`"citat".txt`:                     "citat.txt",
		"A\u030angström.txt":              "Ångström.txt", // NFC
		strings.Repeat("å", 150) + ".pdf": strings.Repeat("å", 100),
	} {
		if got := SanitizeFileName(in); got != want {
			t.Errorf("SanitizeFileName(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzSanitizeFileName(f *testing.F) {
	for _, s := range []string{"a.pdf", "../x", "\u202e", "..", strings.Repeat("ö", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := SanitizeFileName(s)
		if got == "" || len(got) > maxFileName || !utf8.ValidString(got) || strings.ContainsAny(got, "/\\\"\x00\n\r") ||
			strings.HasPrefix(got, ".") || got != SanitizeFileName(got) {
			t.Fatalf("SanitizeFileName(%q) = %q", s, got)
		}
	})
}

func TestETag(t *testing.T) {
	for in, want := range map[string]int64{`"v3"`: 3, `W/"v12"`: 12, "*": 0, `"v0"`: -1, `"3"`: -1, `v3`: -1, `"vx"`: -1, "": -1} {
		if got := ParseETag(in); got != want {
			t.Errorf("ParseETag(%q) = %d, want %d", in, got, want)
		}
	}
	if ParseETag(ETag(7)) != 7 {
		t.Error("ETag does not round-trip")
	}
}

func TestMergePatch(t *testing.T) {
	for _, tc := range []struct{ target, patch, want string }{
		{`{"a":1,"b":{"c":2,"d":3}}`, `{"b":{"c":null,"e":4},"f":"x"}`, `{"a":1,"b":{"d":3,"e":4},"f":"x"}`},
		{`{"a":[1,2]}`, `{"a":[3]}`, `{"a":[3]}`},
		{``, `{"a":1}`, `{"a":1}`},
		{`{"a":1}`, `{"a":null}`, `{}`},
	} {
		got, err := mergePatch(json.RawMessage(tc.target), json.RawMessage(tc.patch))
		if err != nil || string(got) != tc.want {
			t.Errorf("mergePatch(%s, %s) = %s, %v; want %s", tc.target, tc.patch, got, err, tc.want)
		}
	}
	for _, bad := range []string{`[1]`, `"x"`, `{`} {
		if _, err := mergePatch(json.RawMessage(`{}`), json.RawMessage(bad)); err == nil {
			t.Errorf("mergePatch accepted %s", bad)
		}
	}
}

func TestChangedFields(t *testing.T) {
	old := content{Type: "invoice", Archive: "standard", DocumentDate: "2026-01-01",
		Data:     json.RawMessage(`{"amount":100,"address":{"street":"Storgatan 1","city":"Lund"},"a/b":1}`),
		Metadata: map[string]string{"src": "api"},
		Subjects: []Subject{{Kind: "email", Value: "a@b.se"}, {Kind: "personnummer", Value: "198112189876"}}}
	next := old
	next.Data = json.RawMessage(`{"amount":100,"address":{"street":"Storgatan 2","city":"Lund"},"new":true,"a/b":2}`)
	next.Metadata = map[string]string{"src": "api", "ref": "x"}
	next.Subjects = []Subject{{Kind: "email", Value: "c@d.se"}, {Kind: "personnummer", Value: "198112189876"}}
	next.ReviewDate = "2027-01-01"
	next.File = &FileInfo{Name: "a.pdf"}
	got := strings.Join(changedFields(old, next), ",")
	want := "/review_date,/data/a~1b,/data/address/street,/data/new,/metadata/ref,/subjects/email,/file"
	if got != want {
		t.Errorf("changed = %s\nwant      %s", got, want)
	}
	for _, v := range []string{"Storgatan", "c@d.se", "198112189876"} {
		if strings.Contains(got, v) {
			t.Errorf("changed fields hold the value %q", v)
		}
	}
	if len(changedFields(old, old)) != 0 {
		t.Error("no change listed changes")
	}
}
