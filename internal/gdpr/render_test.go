package gdpr

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"html/template"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/valvhq/valv/internal/valvtest"
)

var update = flag.Bool("update", false, "rewrite golden files")

// fixtureExtract is a register extract with something in every part of the
// report except messages. Times are fixed; GeneratedAt is given in CET to
// show that reports print UTC.
func fixtureExtract() *Extract {
	at := func(s string) time.Time {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			panic(err)
		}
		return t
	}
	anna := []Identifier{
		{Kind: "personnummer", Value: "19811218-9876"},
		{Kind: "email", Value: "anna@example.se"},
	}
	invoice := func(amount string) json.RawMessage {
		return json.RawMessage(`{"invoice_number":"F-2025-1043","amount":"` + amount + `","currency":"SEK",` +
			`"customer":{"name":"Anna Öberg","personnummer":"19811218-9876","email":"anna@example.se"},` +
			`"lines":[{"text":"Takläggning & plåt","qty":1}]}`)
	}
	file := &File{ID: "fil_01HQ8", Name: "faktura F-2025-1043.pdf", ContentType: "application/pdf", Size: 48213}
	return &Extract{
		Schema:      ExtractSchema,
		GeneratedAt: at("2026-03-05T15:30:00+01:00"),
		Tenant:      TenantInfo{ID: "tnt_01HZX4", Name: "Åkerlunds Bygg & Plåt AB"},
		Request: RequestInfo{
			ID:         "req_01J0ABC",
			Kind:       "access",
			ReceivedAt: at("2026-03-02T09:15:00Z"),
			Deadline:   "2026-04-02",
		},
		Subjects: anna,
		Documents: []Document{
			{
				ID:           "doc_01HL1",
				Type:         "invoice",
				Archive:      "legal",
				DocumentDate: "2025-11-30",
				CreatedAt:    at("2025-11-30T10:00:00Z"),
				UpdatedAt:    at("2025-12-04T08:20:00Z"),
				RetainUntil:  "2032-12-31",
				Basis:        "bokföringslagen 7 kap. 2 §",
				Version:      3,
				Data:         invoice("12 500,00"),
				Metadata: map[string]string{
					"source":      "fortnox",
					"cost_center": "Försäljning",
					"note":        `<script>alert("x")</script> 'quoted' a+b`,
					"project":     "P-77",
				},
				Subjects: anna,
				File:     file,
				Versions: []Version{
					{Version: 1, Time: at("2025-11-30T10:00:00Z"), ActorType: "api_key", ActorID: "key_7Q", Changed: []string{"data", "metadata", "subjects"}},
					{Version: 2, Time: at("2025-12-01T13:45:10Z"), ActorType: "user", ActorID: "usr_ERIK", Changed: []string{"data"}},
					{Version: 3, Time: at("2025-12-04T08:20:00Z"), ActorType: "user", ActorID: "usr_ERIK", Changed: []string{"file", "metadata"}},
				},
			},
			{
				ID:           "doc_01HM2",
				Type:         "note",
				Archive:      "standard",
				DocumentDate: "2026-01-15",
				CreatedAt:    at("2026-01-15T12:00:00Z"),
				UpdatedAt:    at("2026-02-20T07:05:00Z"),
				RetainUntil:  "2027-01-15",
				Basis:        "standard: 12 months",
				Restricted:   true,
				Version:      1,
				Data:         json.RawMessage(`{"text":"Kunden vill ha offert på altan","callback":true}`),
				Metadata:     map[string]string{"channel": "phone"},
				Subjects:     anna[:1],
				Versions: []Version{
					{Version: 1, Time: at("2026-01-15T12:00:00Z"), ActorType: "user", ActorID: "usr_SARA", Changed: []string{"data", "metadata", "subjects"}},
				},
			},
			{
				ID:           "doc_01HN3",
				Type:         "einvoice",
				Archive:      "message",
				DocumentDate: "2026-02-01",
				CreatedAt:    at("2026-02-01T06:30:00Z"),
				UpdatedAt:    at("2026-02-01T06:30:00Z"),
				RetainUntil:  "2027-02-01",
				Basis:        "message: 12 months",
				Version:      1,
				Data:         json.RawMessage(`{"peppol_id":"0007:5567891234","status":"delivered"}`),
				Subjects:     anna[1:],
				Versions: []Version{
					{Version: 1, Time: at("2026-02-01T06:30:00Z"), ActorType: "system", Changed: []string{"data", "subjects"}},
				},
			},
		},
		PayloadHistory: []Payload{
			{
				Time: at("2025-12-01T13:45:10Z"), Action: "document.update", ResourceType: "document", ResourceID: "doc_01HL1",
				RequestID: "req_7f3a9c", Payload: json.RawMessage(`{"data":{"amount":"12 500,00"}}`),
			},
		},
		Access: []Access{
			{Time: at("2025-11-30T10:00:00Z"), ActorType: "api_key", ActorID: "key_7Q", Action: "document.create", ResourceType: "document", ResourceID: "doc_01HL1", Outcome: "success"},
			{Time: at("2025-12-01T13:40:00Z"), ActorType: "user", ActorID: "usr_ERIK", Action: "document.read", ResourceType: "document", ResourceID: "doc_01HL1", Outcome: "success"},
			{Time: at("2026-01-20T16:02:33Z"), ActorType: "anonymous", Action: "document.read", ResourceType: "document", ResourceID: "doc_01HM2", Outcome: "denied"},
			{Time: at("2026-02-20T07:05:00Z"), ActorType: "user", ActorID: "usr_SARA", Action: "document.restrict", ResourceType: "document", ResourceID: "doc_01HM2", Outcome: "success"},
			{Time: at("2026-03-03T11:11:11Z"), ActorType: "operator", ActorID: "op_lena", Action: "document.read", ResourceType: "document", ResourceID: "doc_01HN3", Outcome: "success", Reason: "Supportärende #4711 <kund bad om hjälp>"},
		},
	}
}

func TestRenderHTMLGolden(t *testing.T) {
	tests := []struct {
		lang, golden string
		want         []string // fixed text that must be there
	}{
		{"sv", "testdata/extract-sv.html.golden", []string{
			`<html lang="sv">`, "<h1>Registerutdrag</h1>", "Räkenskapsarkiv (lagkrav)", "Standardarkiv", "Meddelandearkiv",
			"BEGRÄNSAD", "Integritetsskyddsmyndigheten (IMY)", "Meddelanden (0)", "Inga.", "2026-03-05 14:30:00 UTC",
		}},
		{"en", "testdata/extract-en.html.golden", []string{
			`<html lang="en">`, "<h1>Register extract</h1>", "Legal archive (required by law)", "Standard archive", "Message archive",
			"RESTRICTED", "Integritetsskyddsmyndigheten (IMY)", "Messages (0)", "None.", "2026-03-05 14:30:00 UTC",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.lang, func(t *testing.T) {
			var got bytes.Buffer
			if err := RenderHTML(&got, fixtureExtract(), tt.lang); err != nil {
				t.Fatal(err)
			}
			var again bytes.Buffer
			if err := RenderHTML(&again, fixtureExtract(), tt.lang); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), again.Bytes()) {
				t.Fatal("two renderings of the same extract differ")
			}
			for _, s := range tt.want {
				if !strings.Contains(got.String(), s) {
					t.Errorf("output lacks %q", s)
				}
			}
			for _, s := range []string{"<script", "<link", "src=", "http://", "https://"} {
				if strings.Contains(got.String(), s) {
					t.Errorf("output contains %q: the page must be self-contained and script-free", s)
				}
			}
			if *update {
				if err := os.WriteFile(tt.golden, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(tt.golden)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/gdpr -run Render -update)", err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("output differs from %s (run go test ./internal/gdpr -run Render -update and review the diff)", tt.golden)
			}
		})
	}
}

// htmlEscaped is s as html/template writes it in element text.
func htmlEscaped(t *testing.T, s string) string {
	t.Helper()
	var b strings.Builder
	if err := template.Must(template.New("").Parse("{{.}}")).Execute(&b, s); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// fixtureValues lists every free-text value of an extract: each must be in
// the report, escaped.
func fixtureValues(e *Extract) []string {
	vs := []string{e.Tenant.ID, e.Tenant.Name, e.Request.ID, e.Request.Kind, e.Request.Deadline}
	for _, id := range e.Subjects {
		vs = append(vs, id.Kind, id.Value)
	}
	for _, d := range e.Documents {
		vs = append(vs, d.ID, d.Type, d.DocumentDate, d.RetainUntil, d.Basis)
		for k, v := range d.Metadata {
			vs = append(vs, k, v)
		}
		for _, id := range d.Subjects {
			vs = append(vs, id.Kind, id.Value)
		}
		if d.File != nil {
			vs = append(vs, d.File.Name, d.File.ContentType)
		}
		for _, v := range d.Versions {
			vs = append(vs, v.Changed...)
		}
		var pretty bytes.Buffer
		if err := json.Indent(&pretty, d.Data, "", "  "); err == nil {
			vs = append(vs, strings.Split(pretty.String(), "\n")...)
		}
	}
	for _, p := range e.PayloadHistory {
		vs = append(vs, p.Action, p.ResourceType, p.ResourceID, p.RequestID)
	}
	for _, a := range e.Access {
		vs = append(vs, a.ActorID, a.Action, a.ResourceType, a.ResourceID, a.Reason)
	}
	return vs
}

func TestRenderHTMLEscapesEveryValue(t *testing.T) {
	e := fixtureExtract()
	for _, lang := range []string{"sv", "en"} {
		var b bytes.Buffer
		if err := RenderHTML(&b, e, lang); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		for _, v := range fixtureValues(e) {
			if v == "" {
				continue
			}
			if esc := htmlEscaped(t, v); !strings.Contains(out, esc) {
				t.Errorf("%s: value %q not in the output as %q", lang, v, esc)
			}
		}
		if strings.Contains(out, "<script") || strings.Contains(out, "<kund") {
			t.Errorf("%s: a value was written unescaped", lang)
		}
		if !strings.Contains(out, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;") {
			t.Errorf("%s: the metadata <script> is not escaped as expected", lang)
		}
	}
}

func TestRenderUnknownLanguage(t *testing.T) {
	for _, lang := range []string{"", "de", "SV", "sv-SE", "english"} {
		if err := RenderHTML(&bytes.Buffer{}, fixtureExtract(), lang); err == nil {
			t.Errorf("RenderHTML(lang %q): no error", lang)
		}
		if err := RenderPDF(&bytes.Buffer{}, fixtureExtract(), lang); err == nil {
			t.Errorf("RenderPDF(lang %q): no error", lang)
		}
	}
	if err := RenderHTML(&bytes.Buffer{}, nil, "sv"); err == nil {
		t.Error("RenderHTML(nil): no error")
	}
	if err := RenderPDF(&bytes.Buffer{}, nil, "sv"); err == nil {
		t.Error("RenderPDF(nil): no error")
	}
}

func TestRenderHTMLEmpty(t *testing.T) {
	var b bytes.Buffer
	if err := RenderHTML(&b, &Extract{}, "en"); err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"Documents (0)", "Messages (0)", "Kept requests (0)", "Access log (0)"} {
		i := strings.Index(b.String(), h)
		if i < 0 || !strings.Contains(b.String()[i:], `<p class="none">None.</p>`) {
			t.Errorf("section %q lacks its None line", h)
		}
	}
}

// renderPDFFile renders e in lang to a file in dir.
func renderPDFFile(t *testing.T, e *Extract, lang, dir string) string {
	t.Helper()
	var b bytes.Buffer
	if err := RenderPDF(&b, e, lang); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b.Bytes(), []byte("%PDF-")) {
		t.Fatalf("output does not start with %%PDF-: %q", b.Bytes()[:min(16, b.Len())])
	}
	path := filepath.Join(dir, "extract-"+lang+".pdf")
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// pdfToText extracts a PDF's text with poppler's pdftotext.
func pdfToText(t *testing.T, path string) string {
	t.Helper()
	if _, err := exec.LookPath("pdftotext"); err != nil {
		valvtest.Missing(t, "pdftotext", "install poppler-utils")
	}
	out, err := exec.Command("pdftotext", "-enc", "UTF-8", "-layout", path, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	return string(out)
}

func TestRenderPDF(t *testing.T) {
	tests := []struct {
		lang string
		// want must be in the PDF's text. The Swedish labels and the
		// fixture's values carry å, ä, ö, Å, Ä and Ö, so finding them shows
		// they were encoded (Windows-1252) and can be read back.
		want []string
	}{
		{"sv", []string{
			"Registerutdrag", "19811218-9876", "anna@example.se", "Åkerlunds Bygg & Plåt AB",
			"Åtkomstlogg", "Dina rättigheter", "Sparade förfrågningar", "Räkenskapsarkiv (lagkrav)",
			"BEGRÄNSAD", "Anna Öberg", "Integritetsskyddsmyndigheten", "2026-03-05 14:30:00 UTC", "Sida 1 av",
		}},
		{"en", []string{
			"Register extract", "19811218-9876", "anna@example.se", "Åkerlunds Bygg & Plåt AB",
			"Access log", "Your rights", "Legal archive (required by law)", "RESTRICTED", "Anna Öberg",
			"Integritetsskyddsmyndigheten", "2026-03-05 14:30:00 UTC", "Page 1 of",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.lang, func(t *testing.T) {
			dir := t.TempDir()
			path := renderPDFFile(t, fixtureExtract(), tt.lang, dir)

			if _, err := exec.LookPath("pdftoppm"); err != nil {
				valvtest.Missing(t, "pdftoppm", "install poppler-utils")
			}
			out, err := exec.Command("pdftoppm", "-r", "50", "-png", path, filepath.Join(dir, "page")).CombinedOutput()
			if err != nil {
				t.Fatalf("pdftoppm: %v\n%s", err, out)
			}
			pages, err := filepath.Glob(filepath.Join(dir, "page*.png"))
			if err != nil || len(pages) == 0 {
				t.Fatalf("pdftoppm produced no pages (%v)", err)
			}
			for _, page := range pages {
				if fi, err := os.Stat(page); err != nil || fi.Size() < 2000 {
					t.Errorf("%s: page image missing or too small (%v)", filepath.Base(page), err)
				}
			}
			if ink := inkFraction(t, pages[0]); ink < 0.01 {
				t.Errorf("first page is nearly blank: %.4f of pixels are not white", ink)
			}

			text := pdfToText(t, path)
			for _, s := range tt.want {
				if !strings.Contains(text, s) {
					t.Errorf("PDF text lacks %q", s)
				}
			}
		})
	}
}

// inkFraction is the share of a PNG's pixels that are not white.
func inkFraction(t *testing.T, path string) float64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return ink(img)
}

func ink(img image.Image) float64 {
	b := img.Bounds()
	n := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if r, g, bl, _ := img.At(x, y).RGBA(); r < 0xf000 || g < 0xf000 || bl < 0xf000 {
				n++
			}
		}
	}
	return float64(n) / float64(b.Dx()*b.Dy())
}

func TestRenderPDFLongData(t *testing.T) {
	e := fixtureExtract()
	fields := make([]string, 0, 300)
	for i := range 300 {
		fields = append(fields, fmt.Sprintf(`"field_%03d":"value %d"`, i, i))
	}
	// 300 fields indent to 302 lines: "{" and the first 199 fields are shown.
	e.Documents[0].Data = json.RawMessage("{" + strings.Join(fields, ",") + "}")
	text := pdfToText(t, renderPDFFile(t, e, "en", t.TempDir()))
	for _, s := range []string{`"field_198": "value 198"`, "… (102 more lines; see the JSON form of the extract)"} {
		if !strings.Contains(text, s) {
			t.Errorf("PDF text lacks %q", s)
		}
	}
	if strings.Contains(text, `"field_199"`) {
		t.Error("PDF shows JSON past the line limit")
	}
}
