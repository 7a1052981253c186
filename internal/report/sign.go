package report

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/valvhq/valv/internal/audit"
)

// A report is signed with the installation's audit key (Ed25519, in the
// signed-note format of golang.org/x/mod/sumdb/note). The signature is
// detached: a short statement that names the report and the SHA-256 of its
// bytes, signed. Anyone with the audit verifier key checks it offline
// (Verify, 'valv report verify'); a changed byte in the report, or a
// changed statement, is detected.

// statementHeader is the first line of every signed statement.
const statementHeader = "valv measures report v1"

// Statement is what a signature says about one report file.
type Statement struct {
	Tenant    string
	Format    string // json, html or pdf
	Language  string // sv, en; "-" for json
	Generated time.Time
	SHA256    string // hex
}

func (s Statement) text() string {
	return fmt.Sprintf("%s\ntenant %s\nformat %s\nlanguage %s\ngenerated %s\nsha256 %s\n",
		statementHeader, s.Tenant, s.Format, s.Language, s.Generated.UTC().Format(time.RFC3339Nano), s.SHA256)
}

func parseStatement(text string) (Statement, error) {
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) != 6 || lines[0] != statementHeader {
		return Statement{}, errors.New("report: the signed text is not a Valv measures report statement")
	}
	var s Statement
	for i, key := range []string{"tenant", "format", "language", "generated", "sha256"} {
		v, ok := strings.CutPrefix(lines[i+1], key+" ")
		if !ok {
			return Statement{}, fmt.Errorf("report: the statement's line %d is not %q", i+2, key)
		}
		switch key {
		case "tenant":
			s.Tenant = v
		case "format":
			s.Format = v
		case "language":
			s.Language = v
		case "generated":
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return Statement{}, fmt.Errorf("report: the statement's time: %w", err)
			}
			s.Generated = t
		case "sha256":
			s.SHA256 = v
		}
	}
	return s, nil
}

// Signer signs a text with the audit key (audit.Trail).
type Signer interface {
	Sign(ctx context.Context, text string) ([]byte, error)
}

// File is one rendered and signed form of a report.
type File struct {
	Name        string // measures-<slug>-<date>.<ext>
	ContentType string
	Body        []byte
	// Signature is the signed statement (a signed note); it is written
	// beside the file as Name + ".sig".
	Signature []byte
}

// Formats Render knows.
var Formats = []string{"json", "html", "pdf"}

// Render renders m in one format and language and signs it.
func Render(ctx context.Context, m Measures, format, lang string, s Signer) (File, error) {
	var f File
	var err error
	switch format {
	case "json":
		lang = "-"
		f.ContentType = "application/json"
		f.Body, err = JSON(m)
	case "html":
		f.ContentType = "text/html; charset=utf-8"
		f.Body, err = HTML(m, lang)
	case "pdf":
		f.ContentType = "application/pdf"
		f.Body, err = PDF(m, lang)
	default:
		return File{}, fmt.Errorf("report: unknown format %q (json, html, pdf or zip)", format)
	}
	if err != nil {
		return File{}, err
	}
	f.Name = fileName(m, lang, format)
	sum := sha256.Sum256(f.Body)
	st := Statement{Tenant: m.Tenant.ID, Format: format, Language: lang, Generated: m.Generated, SHA256: hex.EncodeToString(sum[:])}
	if f.Signature, err = s.Sign(ctx, st.text()); err != nil {
		return File{}, fmt.Errorf("report: sign: %w", err)
	}
	return f, nil
}

func fileName(m Measures, lang, ext string) string {
	name := "measures-" + m.Tenant.Slug + "-" + m.Generated.UTC().Format("2006-01-02")
	if lang != "-" && lang != "" {
		name += "-" + lang
	}
	return name + "." + ext
}

// JSON is the report's JSON form, indented.
func JSON(m Measures) ([]byte, error) {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// Bundle is every form (JSON, and HTML and PDF in lang) with its signature
// and a README that says how to check them, in one zip file.
func Bundle(ctx context.Context, m Measures, lang string, s Signer) (File, error) {
	var buf bytes.Buffer
	z := zip.NewWriter(&buf)
	add := func(name string, body []byte) error {
		w, err := z.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: m.Generated.UTC()})
		if err != nil {
			return err
		}
		_, err = w.Write(body)
		return err
	}
	var names []string
	for _, format := range Formats {
		f, err := Render(ctx, m, format, lang, s)
		if err != nil {
			return File{}, err
		}
		if err := add(f.Name, f.Body); err != nil {
			return File{}, err
		}
		if err := add(f.Name+".sig", f.Signature); err != nil {
			return File{}, err
		}
		names = append(names, f.Name)
	}
	// The README names no key: a key shipped with the files proves
	// nothing, since whoever forged the files could ship their own.
	readme := fmt.Sprintf("Valv measures report of %s, generated %s.\n\n"+
		"Each file has a signature beside it (.sig), made with the installation's audit key.\n"+
		"Check one with:\n\n  valv report verify --key '<verifier key>' --signature %s.sig %s\n\n"+
		"Take the verifier key from a source you trust: the installation's GET /api/v1/audit/key,\n"+
		"or a copy you kept from its operators. Not from these files.\n",
		m.Tenant.Slug, m.Generated.UTC().Format(time.RFC3339), names[len(names)-1], names[len(names)-1])
	if err := add("README.txt", []byte(readme)); err != nil {
		return File{}, err
	}
	if err := z.Close(); err != nil {
		return File{}, err
	}
	return File{Name: fileName(m, lang, "zip"), ContentType: "application/zip", Body: buf.Bytes()}, nil
}

// Verify checks a report file against its signature and the audit
// verifier key, and returns what the signature states.
func Verify(body, signature []byte, verifierKey string) (Statement, error) {
	text, err := audit.VerifySigned(signature, verifierKey)
	if err != nil {
		return Statement{}, err
	}
	st, err := parseStatement(text)
	if err != nil {
		return Statement{}, err
	}
	sum := sha256.Sum256(body)
	if hex.EncodeToString(sum[:]) != st.SHA256 {
		return st, errors.New("report: the file does not match its signature: it was changed after it was signed, or it is another report")
	}
	return st, nil
}
