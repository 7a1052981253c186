package scan

import (
	"testing"

	"github.com/valvhq/valv/internal/problem"
)

func TestContentType(t *testing.T) {
	pdf := []byte("%PDF-1.7\n1 0 obj\n")
	png := []byte("\x89PNG\x0d\x0a\x1a\x0a\x00\x00\x00\x0dIHDR")
	zip := []byte("PK\x03\x04\x14\x00\x06\x00")
	html := []byte("<!DOCTYPE html><html><script>alert(1)</script>")
	text := []byte("namn;belopp\nÅsa;12\n")
	for _, tc := range []struct {
		declared string
		head     []byte
		want     string // "" = refused
	}{
		{"application/pdf", pdf, "application/pdf"},
		{"application/xml", []byte(`<?xml version="1.0"?><Invoice/>`), "application/xml"}, // XML's other name
		{"image/png", []byte(`<?xml version="1.0"?><Invoice/>`), ""},
		{"", pdf, "application/pdf"},
		{"application/octet-stream", png, "image/png"},
		{"image/png", pdf, ""},           // declared PNG, is a PDF
		{"application/pdf", text, ""},    // declared PDF, is text
		{"text/plain", pdf, ""},          // a PDF declared as text
		{"image/jpeg", html, ""},         // HTML declared as an image
		{"text/csv", html, ""},           // HTML declared as CSV
		{"text/html", html, "text/html"}, // declared as what it is
		{"text/csv; charset=utf-8", text, "text/csv; charset=utf-8"},
		{"application/json", []byte(`{"a":1}`), "application/json"},
		{"application/vnd.openxmlformats-officedocument.wordprocessingml.document", zip, "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
		{"application/zip", zip, "application/zip"},
		{"", text, "text/plain; charset=utf-8"},
		{"not a type", text, ""},
		{"application/pdf; x=\"", pdf, ""},
	} {
		got, err := ContentType(tc.declared, tc.head)
		if tc.want == "" {
			if p, ok := problem.As(err); !ok || p.Code != CodeContentTypeMismatch || p.Kind != problem.KindUnsupportedMedia {
				t.Errorf("ContentType(%q, %.8q) = %q, %v; want refused", tc.declared, tc.head, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ContentType(%q, %.8q) = %q, %v; want %q", tc.declared, tc.head, got, err, tc.want)
		}
	}
}

func FuzzContentType(f *testing.F) {
	f.Add("application/pdf", []byte("%PDF-1.7"))
	f.Add("", []byte("<html>"))
	f.Add("text/csv; charset=utf-8", []byte("a;b\n"))
	f.Fuzz(func(t *testing.T, declared string, head []byte) {
		got, err := ContentType(declared, head)
		if err == nil && got == "" {
			t.Fatal("accepted with no type")
		}
		if err != nil {
			if _, ok := problem.As(err); !ok {
				t.Fatalf("error is not a problem: %v", err)
			}
		}
	})
}
