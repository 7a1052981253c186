package notify

import (
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// TestTemplatesComplete checks that every template exists in every language,
// renders with its sample data, and that no template file is left over.
func TestTemplatesComplete(t *testing.T) {
	want := map[string]bool{}
	for _, lang := range langs() {
		want["templates/"+lang+"/_common.txt"] = true
		want["templates/"+lang+"/_layout.html"] = true
		for _, d := range samples() {
			name := d.template()
			for _, ext := range []string{".txt", ".html"} {
				p := "templates/" + lang + "/" + name + ext
				if _, err := fs.Stat(templateFS, p); err != nil {
					t.Errorf("template %s has no %s version: %s is missing", name, lang, p)
				}
				want[p] = true
			}
			msg, err := Render(name, lang, d)
			if err != nil {
				t.Errorf("Render(%s, %s, sample): %v", name, lang, err)
				continue
			}
			if msg.Subject == "" || strings.TrimSpace(msg.Text) == "" || msg.HTML == "" {
				t.Errorf("Render(%s, %s): empty subject, text or HTML", name, lang)
			}
			if msg.Template != name || msg.Lang != lang {
				t.Errorf("Render(%s, %s): template %q, lang %q", name, lang, msg.Template, msg.Lang)
			}
			if !strings.Contains(msg.HTML, `<html lang="`+lang+`">`) {
				t.Errorf("Render(%s, %s): HTML does not declare its language", name, lang)
			}
			if strings.Contains(msg.Text+msg.HTML, "<no value>") {
				t.Errorf("Render(%s, %s): a field is missing", name, lang)
			}
			to := msg
			to.To = []string{"someone@example.com"}
			if err := to.validate(); err != nil {
				t.Errorf("Render(%s, %s): the message is not valid: %v", name, lang, err)
			}
		}
	}
	err := fs.WalkDir(templateFS, "templates", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if !want[p] {
			t.Errorf("%s belongs to no template in samples()", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestTemplatesGolden compares every rendered sample with
// testdata/golden/<name>.<lang>.golden; go test -run Golden -update rewrites
// them, so that a change of wording shows in review.
func TestTemplatesGolden(t *testing.T) {
	for _, d := range samples() {
		for _, lang := range langs() {
			name := d.template()
			msg, err := Render(name, lang, d)
			if err != nil {
				t.Fatal(err)
			}
			got := "Subject: " + msg.Subject + "\n\n----- text -----\n" + msg.Text + "\n----- html -----\n" + msg.HTML
			file := filepath.Join("testdata", "golden", name+"."+lang+".golden")
			if *update {
				if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (run go test -run Golden -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("%s/%s differs from %s (run with -update if the change is intended):\n%s", lang, name, file, got)
			}
		}
	}
}

func TestRenderLanguage(t *testing.T) {
	d := LoginCode{Code: "123456", ValidFor: 10 * time.Minute}
	for _, tc := range []struct{ tag, want string }{
		{"sv", "sv"}, {"SV", "sv"}, {"sv-SE", "sv"}, {"sv_FI", "sv"},
		{"en", "en"}, {"en-GB", "en"}, {"de", "en"}, {"", "en"}, {"svenska", "en"}, {"../sv", "en"},
	} {
		msg, err := Render(TemplateLoginCode, tc.tag, d)
		if err != nil {
			t.Fatalf("Render(%q): %v", tc.tag, err)
		}
		if msg.Lang != tc.want {
			t.Errorf("Render(%q): lang %q, want %q", tc.tag, msg.Lang, tc.want)
		}
	}
	sv, _ := Render(TemplateLoginCode, "sv", d)
	if !strings.Contains(sv.Text, "Koden gäller i 10 minuter") {
		t.Errorf("Swedish text: %q", sv.Text)
	}
}

// TestRenderEscapes puts markup and line breaks into every string field and
// checks that the HTML has them escaped and the subject stays one line.
func TestRenderEscapes(t *testing.T) {
	const evil = "<script>alert(1)</script>\r\nBcc: x@example.com"
	at := time.Date(2025, 3, 4, 14, 5, 0, 0, time.UTC)
	for _, d := range []templateData{
		AccountSetup{Role: AccountUser, Organisation: evil, Link: "https://valv.example.com/s#t=1", ValidFor: time.Hour},
		AccountSetup{Role: AccountOwner, Organisation: evil, Link: "https://valv.example.com/s#t=1", ValidFor: time.Hour},
		SecurityAlert{Organisation: evil, Title: evil, Lines: []string{evil, "a & b"}, At: at},
		PasswordReset{Link: `https://valv.example.com/r?x="><script>alert(1)</script>`, ValidFor: time.Hour},
		ReviewDigest{Organisation: evil, Date: "2025-03-04", Due: 1, Types: []ReviewCount{{Type: "invoice", Due: 1}}, Link: `https://valv.example.com/r?x="><script>alert(1)</script>`},
	} {
		for _, lang := range langs() {
			msg, err := Render(d.template(), lang, d)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(msg.HTML, "<script") {
				t.Errorf("%s/%s: HTML contains an unescaped <script>:\n%s", lang, d.template(), msg.HTML)
			}
			if strings.Contains(msg.HTML, "</script>") {
				t.Errorf("%s/%s: markup was not escaped:\n%s", lang, d.template(), msg.HTML)
			}
			if strings.ContainsAny(msg.Subject, "\r\n") {
				t.Errorf("%s/%s: subject has a line break: %q", lang, d.template(), msg.Subject)
			}
			if strings.Contains(msg.Text, "\r") {
				t.Errorf("%s/%s: text has a carriage return", lang, d.template())
			}
			if _, ok := d.(SecurityAlert); ok && !strings.Contains(msg.HTML, "&lt;script&gt;alert(1)&lt;/script&gt;") {
				t.Errorf("%s/%s: HTML lacks the escaped markup:\n%s", lang, d.template(), msg.HTML)
			}
		}
	}
}

func TestRenderRefusesBadData(t *testing.T) {
	at := time.Date(2025, 3, 4, 14, 5, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		data any
	}{
		{TemplateLoginCode, LoginCode{Code: "12345", ValidFor: time.Minute}},
		{TemplateLoginCode, LoginCode{Code: "12345a", ValidFor: time.Minute}},
		{TemplateLoginCode, LoginCode{Code: "123456"}},
		{TemplateLoginCode, &LoginCode{Code: "123456", ValidFor: time.Minute}},
		{TemplateLoginCode, PasswordReset{Link: "https://x.example", ValidFor: time.Hour}},
		{TemplateLoginCode, map[string]any{"Code": "123456"}},
		{TemplatePasswordReset, PasswordReset{Link: "http://x.example/r", ValidFor: time.Hour}},
		{TemplatePasswordReset, PasswordReset{Link: "javascript:alert(1)", ValidFor: time.Hour}},
		{TemplatePasswordReset, PasswordReset{Link: "/relative", ValidFor: time.Hour}},
		{TemplateAccountSetup, AccountSetup{Role: "admin", Organisation: "X", Link: "https://x.example", ValidFor: time.Hour}},
		{TemplateAccountSetup, AccountSetup{Role: AccountOwner, Link: "https://x.example", ValidFor: time.Hour}},
		{TemplateLockout, Lockout{LockedFor: time.Hour}},
		{TemplateSecurityAlert, SecurityAlert{Organisation: "X", At: at}},
		{TemplateSecurityAlert, SecurityAlert{Organisation: "X", Title: "T", At: at, Lines: make([]string, MaxAlertLines+1)}},
		{TemplateEmailChange, EmailChange{Link: "https://x.example"}},
		{TemplateReviewDigest, digest(func(d *ReviewDigest) { d.Organisation = " " })},
		{TemplateReviewDigest, digest(func(d *ReviewDigest) { d.Date = "" })},
		{TemplateReviewDigest, digest(func(d *ReviewDigest) { d.Date = "2025-02-29" })},
		{TemplateReviewDigest, digest(func(d *ReviewDigest) { d.Date = "4 March 2025" })},
		{TemplateReviewDigest, digest(func(d *ReviewDigest) { d.Due, d.Overdue, d.Types = 0, 0, nil })},
		{TemplateReviewDigest, digest(func(d *ReviewDigest) { d.Overdue = -1 })},
		{TemplateReviewDigest, digest(func(d *ReviewDigest) { d.Overdue = d.Due + 1 })},
		{TemplateReviewDigest, digest(func(d *ReviewDigest) { d.Link = "http://valv.example.com/reviews" })},
		{TemplateReviewDigest, digest(func(d *ReviewDigest) { d.Link = "" })},
		{TemplateReviewDigest, digest(func(d *ReviewDigest) { d.Types[0].Type = "" })},
		{TemplateReviewDigest, digest(func(d *ReviewDigest) { d.Types[0].Type = "Anna Andersson" })},
		{TemplateReviewDigest, digest(func(d *ReviewDigest) { d.Types[0].Type = "198112189876@x" })},
		{TemplateReviewDigest, digest(func(d *ReviewDigest) { d.Types[0].Type = "-invoice" })},
		{TemplateReviewDigest, digest(func(d *ReviewDigest) { d.Types[0].Type = strings.Repeat("a", 65) })},
		{TemplateReviewDigest, digest(func(d *ReviewDigest) { d.Types[1].Type = d.Types[0].Type })},
		{TemplateReviewDigest, digest(func(d *ReviewDigest) { d.Types[0].Due = 0 })},
		{TemplateReviewDigest, digest(func(d *ReviewDigest) { d.Types[0].Due++ })},
		{TemplateReviewDigest, digest(func(d *ReviewDigest) { d.Types[0].Due = -d.Due })},
		{TemplateReviewDigest, digest(func(d *ReviewDigest) {
			d.Due = MaxDigestTypes + 1
			d.Types = nil
			for i := range MaxDigestTypes + 1 {
				d.Types = append(d.Types, ReviewCount{Type: "t" + strconv.Itoa(i), Due: 1})
			}
		})},
		{TemplateReviewDigest, &ReviewDigest{Organisation: "X", Date: "2025-03-04", Due: 1, Link: "https://x.example"}},
	} {
		if _, err := Render(tc.name, "en", tc.data); err == nil {
			t.Errorf("Render(%s, %#v) succeeded", tc.name, tc.data)
		}
	}
	if _, err := Render("welcome", "en", LoginCode{}); !errors.Is(err, ErrUnknownTemplate) {
		t.Errorf("unknown template: %v", err)
	}
	// The error says what is wrong without quoting the data.
	_, err := Render(TemplateLoginCode, "en", LoginCode{Code: "98765x", ValidFor: time.Minute})
	if err == nil || strings.Contains(err.Error(), "98765x") {
		t.Errorf("error quotes the data: %v", err)
	}
}

func TestFormatDuration(t *testing.T) {
	for _, tc := range []struct {
		d      time.Duration
		en, sv string
	}{
		{time.Minute, "1 minute", "1 minut"},
		{59 * time.Second, "1 minute", "1 minut"},
		{10 * time.Minute, "10 minutes", "10 minuter"},
		{90 * time.Second, "2 minutes", "2 minuter"},
		{90 * time.Minute, "90 minutes", "90 minuter"},
		{time.Hour, "1 hour", "1 timme"},
		{3 * time.Hour, "3 hours", "3 timmar"},
		{24 * time.Hour, "1 day", "1 dag"},
		{72 * time.Hour, "3 days", "3 dagar"},
		{36 * time.Hour, "36 hours", "36 timmar"},
	} {
		if got := formatDuration(LangEnglish, tc.d); got != tc.en {
			t.Errorf("en %v: %q, want %q", tc.d, got, tc.en)
		}
		if got := formatDuration(LangSwedish, tc.d); got != tc.sv {
			t.Errorf("sv %v: %q, want %q", tc.d, got, tc.sv)
		}
	}
}

// TestAccountSetupRoles renders the branches that the sample does not take.
func TestAccountSetupRoles(t *testing.T) {
	for _, role := range []AccountRole{AccountOwner, AccountUser, AccountOperator} {
		for _, lang := range langs() {
			d := AccountSetup{Role: role, Organisation: "Exempel AB", Link: "https://valv.example.com/s#t=1", ValidFor: 72 * time.Hour}
			msg, err := Render(TemplateAccountSetup, lang, d)
			if err != nil {
				t.Fatal(err)
			}
			hasOrg := strings.Contains(msg.Text, "Exempel AB")
			if hasOrg == (role == AccountOperator) {
				t.Errorf("%s/%s: organisation shown: %v", lang, role, hasOrg)
			}
			if !slices.Contains(strings.Split(msg.Text, "\n"), d.Link) {
				t.Errorf("%s/%s: link is not on a line of its own", lang, role)
			}
		}
	}
}

// digest returns the sample ReviewDigest, changed by change.
func digest(change func(*ReviewDigest)) ReviewDigest {
	d := ReviewDigest{
		Organisation: "Exempel AB",
		Date:         "2025-03-04",
		Due:          17,
		Overdue:      3,
		Types:        []ReviewCount{{Type: "contract", Due: 9}, {Type: "invoice", Due: 6}, {Type: "payslip", Due: 2}},
		Link:         "https://valv.example.com/reviews",
	}
	change(&d)
	return d
}

// TestReviewDigest renders the branches that the sample does not take, and
// checks that the digest says what a reviewer can do, and nothing more.
func TestReviewDigest(t *testing.T) {
	types := make([]ReviewCount, MaxDigestTypes)
	for i := range types {
		types[i] = ReviewCount{Type: "type_" + strconv.Itoa(i), Due: 2}
	}
	for _, tc := range []struct {
		name string
		d    ReviewDigest
		// lines must each be a whole line of the text, in this language.
		en, sv []string
	}{
		{"sample", digest(func(*ReviewDigest) {}),
			[]string{"Due for review: 17", "Of these, overdue (review date before 4 March 2025): 3", "- contract: 9", "- payslip: 2"},
			[]string{"Att granska: 17", "Varav försenade (granskningsdatum före 2025-03-04): 3", "- contract: 9", "- payslip: 2"}},
		{"more types than listed", digest(func(d *ReviewDigest) { d.Due, d.Overdue, d.Types = 2*MaxDigestTypes+5, 0, types }),
			[]string{"Due for review: 45", "Of these, overdue (review date before 4 March 2025): 0", "- type_19: 2", "- other types: 5"},
			[]string{"Att granska: 45", "Varav försenade (granskningsdatum före 2025-03-04): 0", "- type_19: 2", "- övriga typer: 5"}},
		{"no types", digest(func(d *ReviewDigest) { d.Due, d.Overdue, d.Types = 1, 1, nil }),
			[]string{"Due for review: 1", "Of these, overdue (review date before 4 March 2025): 1"},
			[]string{"Att granska: 1", "Varav försenade (granskningsdatum före 2025-03-04): 1"}},
	} {
		for _, lang := range langs() {
			msg, err := Render(TemplateReviewDigest, lang, tc.d)
			if err != nil {
				t.Fatalf("%s/%s: %v", lang, tc.name, err)
			}
			want, actions, other := tc.en, []string{"- keep it and set a new review date", "- extend its retention to a later date", "- delete it"}, "other types"
			if lang == LangSwedish {
				want, actions, other = tc.sv, []string{"- behålla det och sätta ett nytt granskningsdatum", "- förlänga bevarandetiden till ett senare datum", "- radera det"}, "övriga typer"
			}
			lines := strings.Split(msg.Text, "\n")
			for _, l := range append(append(want, actions...), tc.d.Link) {
				if !slices.Contains(lines, l) {
					t.Errorf("%s/%s: the text has no line %q:\n%s", lang, tc.name, l, msg.Text)
				}
			}
			if got := strings.Contains(msg.Text, other) || strings.Contains(msg.HTML, other); got != (len(tc.d.Types) > 0 && tc.d.Others() > 0) {
				t.Errorf("%s/%s: %q shown: %v, with %d others", lang, tc.name, other, got, tc.d.Others())
			}
			if tc.d.Types == nil && (strings.Contains(msg.Text, "- contract") || strings.Contains(msg.HTML, "<li>contract")) {
				t.Errorf("%s/%s: a type is listed", lang, tc.name)
			}
			// Anonymisation is not offered until the GDPR toolkit exists.
			for _, word := range []string{"anonym", "Anonym"} {
				if strings.Contains(msg.Text+msg.HTML, word) {
					t.Errorf("%s/%s: mentions %q", lang, tc.name, word)
				}
			}
			if !strings.Contains(msg.Subject, tc.d.Organisation) {
				t.Errorf("%s/%s: subject %q lacks the organisation", lang, tc.name, msg.Subject)
			}
		}
	}
}

func TestFormatDate(t *testing.T) {
	for _, tc := range []struct{ in, en, sv string }{
		{"2025-03-04", "4 March 2025", "2025-03-04"},
		{"2024-12-31", "31 December 2024", "2024-12-31"},
		{"2024-02-30", "2024-02-30", "2024-02-30"},
	} {
		if got := formatDate(LangEnglish, tc.in); got != tc.en {
			t.Errorf("en %s: %q, want %q", tc.in, got, tc.en)
		}
		if got := formatDate(LangSwedish, tc.in); got != tc.sv {
			t.Errorf("sv %s: %q, want %q", tc.in, got, tc.sv)
		}
	}
}

// TestReviewDigestOverflow checks that counts near the largest int cannot
// wrap around and pass as a digest whose types add up.
func TestReviewDigestOverflow(t *testing.T) {
	const big = int(^uint(0) >> 1)
	d := digest(func(d *ReviewDigest) {
		d.Due, d.Overdue = big, 0
		d.Types = []ReviewCount{{Type: "a", Due: big}, {Type: "b", Due: big}, {Type: "c", Due: 2}}
	})
	if _, err := Render(TemplateReviewDigest, "en", d); err == nil {
		t.Error("Render accepted types that count more documents than are due")
	}
}
