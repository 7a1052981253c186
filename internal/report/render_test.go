package report

import (
	"bytes"
	"encoding/json"
	"flag"
	"html/template"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valvhq/valv/internal/valvtest"
)

var update = flag.Bool("update", false, "rewrite golden files")

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func ptr(s string) *time.Time {
	t := at(s)
	return &t
}

// fixtureMeasures fills every field of a report. Times are fixed;
// Generated is given in CET to show that reports print UTC.
func fixtureMeasures() Measures {
	return Measures{
		Format:       FormatV1,
		Installation: "inst_7Q2X9",
		Environment:  "production",
		Version:      "v1.4.0 (abc1234)",
		Tenant:       Tenant{ID: "tnt_01HZX4", Slug: "akerlunds", Name: "Åkerlunds Bygg & Plåt AB"},
		Generated:    at("2026-03-05T15:30:00+01:00"),
		PeriodFrom:   at("2026-02-01T00:00:00Z"),
		PeriodTo:     at("2026-03-01T00:00:00Z"),
		Transport: Transport{
			MinVersion: "1.2",
			Versions:   []string{"TLS 1.2", "TLS 1.3"},
			CipherSuites: []string{
				"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
				"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256",
				"TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256",
			},
			HSTS: "max-age=63072000; includeSubDomains",
			Certificate: Certificate{
				Subject:  "CN=valv.example.se",
				Issuer:   "CN=R11,O=Let's Encrypt,C=US",
				NotAfter: at("2026-05-30T12:00:00Z"),
				SHA256:   "3F:A1:9C:22:7B:0E:55:D4:81:6A:C9:03:E7:12:4B:90:AD:5E:F8:61:2C:37:B4:0D:99:E2:17:6F:C3:58:0A:4E",
			},
		},
		Encryption: Encryption{
			Algorithm:        "AES-256-GCM, bound to tenant, table, row and field",
			Hierarchy:        []string{"root key", "tenant keyset", "data key"},
			RootProvider:     "shamir",
			KeyHolders:       5,
			Threshold:        3,
			RootKeyCreated:   ptr("2025-09-01T08:00:00Z"),
			TenantKeys:       3,
			TenantKeyCreated: ptr("2026-01-10T09:30:00Z"),
			BlindIndex:       "HMAC-SHA-256 with a per-tenant key",
		},
		Identity: Identity{
			Users: 9, UsersWithSecondFactor: 7, UsersWithPasskey: 3,
			Admins: 2, AdminsWithSecondFactor: 2,
			RequireTwoFactor:   true,
			IdleTimeoutSeconds: 7200,
			PasswordHash:       "argon2id (m=64 MiB, t=3, p=2)",
		},
		APIKeys: APIKeys{Active: 4, WithAllowlist: 3, WithoutAllowlist: 1, WithExpiry: 4},
		Backups: Backups{
			IntervalSeconds:            86400,
			KeepSeconds:                28 * 86400,
			RestoreTestIntervalSeconds: 7 * 86400,
			Targets: []BackupTarget{
				{
					Name: "primary-s3", Type: "s3", Region: "eu-north-1",
					LastBackup: ptr("2026-03-05T02:00:00Z"), LastRestoreTest: ptr("2026-03-01T03:00:00Z"),
					RestoreTestOK: true, LastSuccessfulRestoreTest: ptr("2026-03-01T03:00:00Z"),
				},
				{
					Name: "offsite-dir", Type: "dir", Region: "eu-central-fsn1",
					LastBackup: ptr("2026-03-05T02:10:00Z"), LastRestoreTest: ptr("2026-03-01T03:20:00Z"),
					RestoreTestOK: false, LastSuccessfulRestoreTest: ptr("2026-02-22T03:20:00Z"),
				},
			},
		},
		Audit: AuditTrail{
			Entries:      1234567,
			LastVerified: ptr("2026-03-05T03:00:00Z"),
			Verified:     true,
			Checkpoint: "valv.example.se/tnt_01HZX4\n1234567\nq5Yb0hXJ1k2m3n4o5p6q7r8s9t0u1v2w3x4y5z6A7B8=\n\n" +
				"— valv.example.se/audit Az3Xb1c2d3e4f5g6h7i8j9k0l1m2n3o4p5q6r7s8t9u0v1w2x3y4z5A6B7C8D9E0F1G2H3I4J5K6L7M8N9O0P==\n",
			CheckpointSize: 1234560,
			CheckpointTime: ptr("2026-03-05T13:00:00Z"),
			VerifierKey:    "valv.example.se/audit+1a2b3c4d+AY9k7Yb3Vn3zqG2vR0tQm1Xo8cP5sD6fJ4hL2wE9uK0i",
			PayloadHistory: false,
			RetentionDays:  365,
		},
		Retention: Retention{
			LegalArchive:   true,
			LegalYears:     7,
			StandardMonths: 12,
			Rules: []RetentionRule{
				{Type: "invoice", Archive: "legal", Months: 84},
				{Type: "einvoice", Archive: "message", Months: 12},
				{Type: "note", Archive: "standard", Months: 1},
			},
			LegalHolds: 2,
			LastCull:   ptr("2026-03-05T01:00:00Z"),
		},
		Firewall: Firewall{
			Mode: "blocking", RuleSet: "OWASP CRS 4.25.0 (tuned)", ParanoiaLevel: 1, InboundThreshold: 5,
			Detection: 0.961, RefusedInPeriod: 1284,
			WindowSeconds: 60, AddressLimit: 300, KeyLimit: 1200, UserLimit: 600, TenantLimit: 0,
			AutoBlock: true,
		},
		Scanner: Scanner{Enabled: true, Reachable: true, Version: "ClamAV 1.4.2/27568/Wed Mar  4 09:22:01 2026", Policy: "fail-closed"},
		OperatorAccess: OperatorAccess{
			ConsentRequired: true,
			Accesses: []AccessRecord{
				{ID: "acc_01J1", Scope: "documents_of_type invoice", Status: "expired", Requested: at("2026-02-10T10:00:00Z"), Expires: ptr("2026-02-10T14:00:00Z")},
				{ID: "acc_01J2", Scope: "audit", Status: "pending", Requested: at("2026-02-24T16:00:00Z")},
				{ID: "acc_01J3", Scope: "document doc_01HL1", Status: "active", BreakGlass: true, Requested: at("2026-02-28T11:00:00Z"), Expires: ptr("2026-02-28T12:00:00Z")},
			},
		},
		Requests: Requests{
			Open: []OpenRequest{
				{Kind: "access", Received: at("2026-03-02T09:15:00Z"), Deadline: at("2026-04-02T00:00:00Z")},
				{Kind: "erasure", Received: at("2026-01-20T08:00:00Z"), Deadline: at("2026-02-20T00:00:00Z"), Overdue: true},
			},
			CompletedInPeriod: 5,
		},
		Residency: Residency{
			Pin: "eu-eea",
			Locations: []ResidencyTarget{
				{Kind: "storage", Name: "primary database", Region: "eu-north-1", Country: "SE", Allowed: true},
				{Kind: "backup", Name: "primary-s3", Region: "eu-north-1", Country: "SE", Allowed: true},
				{Kind: "backup", Name: "offsite-dir", Region: "eu-central-fsn1", Country: "DE", Allowed: true},
				{Kind: "endpoint", Name: "Peppol access point", Region: "us-east-1", Country: "US", Allowed: false},
			},
		},
	}
}

// fixtureEmpty is a new development installation: nothing has happened
// yet, so every time that can be nil is, and every list is empty.
func fixtureEmpty() Measures {
	return Measures{
		Format:       FormatV1,
		Installation: "inst_dev",
		Environment:  "development",
		Version:      "dev",
		Tenant:       Tenant{ID: "tnt_TEST", Slug: "test", Name: "Testbolaget AB"},
		Generated:    at("2026-03-05T14:30:00Z"),
		PeriodFrom:   at("2026-02-01T00:00:00Z"),
		PeriodTo:     at("2026-03-01T00:00:00Z"),
		Transport:    Transport{MinVersion: "1.3", Versions: []string{"TLS 1.3"}, Certificate: Certificate{Subject: "CN=localhost", Issuer: "CN=localhost", NotAfter: at("2027-03-05T00:00:00Z"), SelfSigned: true}},
		Encryption:   Encryption{Algorithm: "AES-256-GCM", RootProvider: "file", KeyHolders: 1, Threshold: 1, TenantKeys: 1},
		Identity:     Identity{IdleTimeoutSeconds: 7200},
		Backups:      Backups{IntervalSeconds: 86400, KeepSeconds: 28 * 86400, RestoreTestIntervalSeconds: 7 * 86400},
		Retention:    Retention{StandardMonths: 12},
		Firewall:     Firewall{Mode: "detection", Detection: 1},
		Scanner:      Scanner{Policy: "fail-open"},
	}
}

type goldenCase struct {
	name, lang string
	m          Measures
	want       []string // fixed text that must be there
}

func goldenCases() []goldenCase {
	return []goldenCase{
		{"measures", "sv", fixtureMeasures(), []string{
			`<html lang="sv">`, "<h1>Tekniska och organisatoriska åtgärder</h1>", "2026-03-05 14:30 UTC",
			"96,1 %", "24 tim", "7 dygn", "28 dygn", "2 tim", "365 dygn", "3 av 5 krävs för att låsa upp",
			"7 av 9 (77,8 %)", "1 234 567", "7 år", "84 månader", "1 månad", "EU/EES", "underkänt",
			"Styrker: ENC-5 (GDPR art. 32.1 a) — förlaga 001 ”Kryptering i transit”",
			"valv report verify --key &lt;verifieringsnyckel&gt; --signature &lt;fil&gt;.sig &lt;fil&gt;",
		}},
		{"measures", "en", fixtureMeasures(), []string{
			`<html lang="en">`, "<h1>Technical and organisational measures</h1>", "2026-03-05 14:30 UTC",
			"96.1 %", "24 h", "7 d", "28 d", "2 h", "365 d", "3 of 5 needed to unseal",
			"7 of 9 (77.8 %)", "1,234,567", "7 years", "84 months", "1 month", "EU/EEA", "failed",
			"Evidences: ENC-5 (GDPR art. 32(1)(a)) — seed 001 “Kryptering i transit”",
			"valv report verify --key &lt;verifier key&gt; --signature &lt;file&gt;.sig &lt;file&gt;",
		}},
		{"empty", "sv", fixtureEmpty(), []string{
			"Inte en produktionsinstallation: test- eller utvecklingsdata", "aldrig", "inga", "utveckling",
			"ingen begränsning", "100,0 %",
		}},
		{"empty", "en", fixtureEmpty(), []string{
			"Not a production installation: test/development data", "never", "none", "development",
			"no restriction", "100.0 %",
		}},
	}
}

func TestHTMLGolden(t *testing.T) {
	for _, tt := range goldenCases() {
		t.Run(tt.name+"-"+tt.lang, func(t *testing.T) {
			got, err := HTML(tt.m, tt.lang)
			if err != nil {
				t.Fatal(err)
			}
			again, err := HTML(tt.m, tt.lang)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, again) {
				t.Fatal("two renderings of the same report differ")
			}
			for _, s := range tt.want {
				if !bytes.Contains(got, []byte(s)) {
					t.Errorf("output lacks %q", s)
				}
			}
			for _, s := range []string{"<script", "<link", "<img", "src=", "http://", "https://"} {
				if bytes.Contains(got, []byte(s)) {
					t.Errorf("output contains %q: the page must be self-contained and script-free", s)
				}
			}
			golden := filepath.Join("testdata", tt.name+"-"+tt.lang+".html.golden")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/report -run HTMLGolden -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("output differs from %s (run go test ./internal/report -run HTMLGolden -update and review the diff)", golden)
			}
		})
	}
}

// TestHTMLWarningOnlyOutsideProduction: the warning line is there exactly
// when the environment is not production.
func TestHTMLWarningOnlyOutsideProduction(t *testing.T) {
	for _, env := range []string{"production", "test", "development", ""} {
		m := fixtureMeasures()
		m.Environment = env
		for _, lang := range []string{"sv", "en"} {
			out, err := HTML(m, lang)
			if err != nil {
				t.Fatal(err)
			}
			l, _ := labelsFor(lang)
			if got, want := bytes.Contains(out, []byte(htmlEscaped(t, l.NotProduction))), env != "production"; got != want {
				t.Errorf("environment %q, %s: warning shown %v, want %v", env, lang, got, want)
			}
		}
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

// codeFields are Measures' string fields whose value is a code the report
// translates (or, for Format, does not show), so it need not appear as it is.
var codeFields = map[string]bool{
	"Format": true, "Environment": true, "RootProvider": true, "Archive": true, "Mode": true,
	"Policy": true, "Status": true, "Kind": true, "Pin": true, "MinVersion": true,
}

// shownValues walks m and lists every free-text value, and every time
// formatted, that the report must show.
func shownValues(v reflect.Value, field string, out *[]string) {
	switch v.Kind() {
	case reflect.String:
		if s := v.String(); s != "" && !codeFields[field] {
			*out = append(*out, strings.TrimRight(s, "\n"))
		}
	case reflect.Pointer:
		if !v.IsNil() {
			shownValues(v.Elem(), field, out)
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			shownValues(v.Index(i), field, out)
		}
	case reflect.Struct:
		if t, ok := v.Interface().(time.Time); ok {
			*out = append(*out, t.UTC().Format(timeLayout))
			return
		}
		for i := 0; i < v.NumField(); i++ {
			shownValues(v.Field(i), v.Type().Field(i).Name, out)
		}
	}
}

func TestHTMLShowsEveryValueEscaped(t *testing.T) {
	for _, m := range []Measures{fixtureMeasures(), fixtureEmpty()} {
		var values []string
		shownValues(reflect.ValueOf(m), "", &values)
		for _, lang := range []string{"sv", "en"} {
			out, err := HTML(m, lang)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range values {
				if esc := htmlEscaped(t, v); !strings.Contains(string(out), esc) {
					t.Errorf("%s: value %q not in the output as %q", lang, v, esc)
				}
			}
		}
	}
}

func TestHTMLEscapesTenantName(t *testing.T) {
	m := fixtureMeasures()
	m.Tenant.Name = "<script>alert(1)</script>"
	m.Tenant.Slug = `"><img src=x onerror=alert(2)>`
	m.OperatorAccess.Accesses[0].Scope = "<b>all</b>"
	m.Audit.Checkpoint = "</pre><script>alert(3)</script>"
	for _, lang := range []string{"sv", "en"} {
		out, err := HTML(m, lang)
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{"<script", "<img", "<b>", "</pre><"} {
			if bytes.Contains(out, []byte(bad)) {
				t.Errorf("%s: output contains %q unescaped", lang, bad)
			}
		}
		for _, want := range []string{
			"<title>" + htmlEscaped(t, titleFor(t, lang)+" – ") + "&lt;script&gt;alert(1)&lt;/script&gt;</title>",
			`<p class="sub">&lt;script&gt;alert(1)&lt;/script&gt;</p>`,
			"&#34;&gt;&lt;img src=x onerror=alert(2)&gt;",
			"&lt;b&gt;all&lt;/b&gt;",
		} {
			if !bytes.Contains(out, []byte(want)) {
				t.Errorf("%s: output lacks %q", lang, want)
			}
		}
	}
}

func titleFor(t *testing.T, lang string) string {
	t.Helper()
	l, err := labelsFor(lang)
	if err != nil {
		t.Fatal(err)
	}
	return l.Title
}

func TestUnknownLanguage(t *testing.T) {
	for _, lang := range []string{"", "de", "SV", "sv-SE", "english"} {
		if _, err := HTML(fixtureMeasures(), lang); err == nil {
			t.Errorf("HTML(lang %q): no error", lang)
		}
		if _, err := PDF(fixtureMeasures(), lang); err == nil {
			t.Errorf("PDF(lang %q): no error", lang)
		}
	}
}

// fmtVerbs lists the fmt verbs of a format string, in order.
var fmtVerbs = regexp.MustCompile(`%[-+# 0]*[0-9]*(\.[0-9]+)?[a-zA-Z%]`)

// TestLabelsComplete: every Swedish label has an English one and vice
// versa, code tables translate the same codes, and format strings take
// the same arguments.
func TestLabelsComplete(t *testing.T) {
	sv, en := reflect.ValueOf(*swedish()), reflect.ValueOf(*english())
	typ := sv.Type()
	for i := 0; i < typ.NumField(); i++ {
		name := typ.Field(i).Name
		a, b := sv.Field(i), en.Field(i)
		switch a.Kind() {
		case reflect.String:
			if a.String() == "" {
				t.Errorf("sv.%s is empty", name)
			}
			if b.String() == "" {
				t.Errorf("en.%s is empty", name)
			}
			va, vb := fmtVerbs.FindAllString(a.String(), -1), fmtVerbs.FindAllString(b.String(), -1)
			if !reflect.DeepEqual(va, vb) {
				t.Errorf("%s: sv takes %v, en takes %v", name, va, vb)
			}
		case reflect.Map:
			ma, mb := a.Interface().(map[string]string), b.Interface().(map[string]string)
			if len(ma) == 0 {
				t.Errorf("sv.%s is empty", name)
			}
			for k, v := range ma {
				if v == "" {
					t.Errorf("sv.%s[%q] is empty", name, k)
				}
				if mb[k] == "" {
					t.Errorf("sv.%s has %q, en.%s does not", name, k, name)
				}
			}
			for k := range mb {
				if ma[k] == "" {
					t.Errorf("en.%s has %q, sv.%s does not", name, k, name)
				}
			}
		default:
			t.Errorf("labels.%s is a %s: extend this test to check it", name, a.Kind())
		}
	}
	for _, ev := range Evidence() {
		if swedish().Sections[ev.Section] == "" || english().Sections[ev.Section] == "" {
			t.Errorf("section %q has no heading", ev.Section)
		}
	}
	if len(swedish().Sections) != len(Evidence()) {
		t.Errorf("%d section headings for %d sections", len(swedish().Sections), len(Evidence()))
	}
}

func TestFormatter(t *testing.T) {
	sv, en := formatter{swedish()}, formatter{english()}
	durations := []struct {
		sec    int64
		sv, en string
	}{
		{0, "inte inställt", "not set"},
		{45, "45 s", "45 s"},
		{90, "1 min 30 s", "1 min 30 s"},
		{60, "1 min", "1 min"},
		{5400, "90 min", "90 min"},
		{7200, "2 tim", "2 h"},
		{86400, "24 tim", "24 h"},
		{2 * 86400, "2 dygn", "2 d"},
		{7 * 86400, "7 dygn", "7 d"},
		{28 * 86400, "28 dygn", "28 d"},
		{3661, "1 tim 1 min 1 s", "1 h 1 min 1 s"},
		{2*86400 + 30, "2 dygn 30 s", "2 d 30 s"},
	}
	for _, d := range durations {
		if got := sv.duration(d.sec); got != d.sv {
			t.Errorf("sv duration(%d) = %q, want %q", d.sec, got, d.sv)
		}
		if got := en.duration(d.sec); got != d.en {
			t.Errorf("en duration(%d) = %q, want %q", d.sec, got, d.en)
		}
	}
	percents := []struct {
		x      float64
		sv, en string
	}{
		{0.961, "96,1 %", "96.1 %"},
		{1, "100,0 %", "100.0 %"},
		{0, "0,0 %", "0.0 %"},
		{0.95, "95,0 %", "95.0 %"},
	}
	for _, p := range percents {
		if got := sv.percent(p.x); got != p.sv {
			t.Errorf("sv percent(%v) = %q, want %q", p.x, got, p.sv)
		}
		if got := en.percent(p.x); got != p.en {
			t.Errorf("en percent(%v) = %q, want %q", p.x, got, p.en)
		}
	}
	ints := []struct {
		n      int64
		sv, en string
	}{
		{0, "0", "0"}, {999, "999", "999"}, {1000, "1 000", "1,000"}, {-1234567, "-1 234 567", "-1,234,567"},
	}
	for _, i := range ints {
		if got := sv.int(i.n); got != i.sv {
			t.Errorf("sv int(%d) = %q, want %q", i.n, got, i.sv)
		}
		if got := en.int(i.n); got != i.en {
			t.Errorf("en int(%d) = %q, want %q", i.n, got, i.en)
		}
	}
	if got := en.timePtr(nil); got != "never" {
		t.Errorf("en timePtr(nil) = %q", got)
	}
	if got := sv.timePtr(nil); got != "aldrig" {
		t.Errorf("sv timePtr(nil) = %q", got)
	}
	if got := en.time(at("2026-07-01T02:03:04+02:00")); got != "2026-07-01 00:03 UTC" {
		t.Errorf("en time = %q", got)
	}
	if got, want := sv.article(Article{Number: 32, Paragraph: 1, Point: "a"}), "art. 32.1 a"; got != want {
		t.Errorf("sv article = %q, want %q", got, want)
	}
	if got, want := en.article(Article{Number: 32, Paragraph: 1, Point: "a"}), "art. 32(1)(a)"; got != want {
		t.Errorf("en article = %q, want %q", got, want)
	}
	if got, want := en.article(Article{Number: 44}), "art. 44"; got != want {
		t.Errorf("en article = %q, want %q", got, want)
	}
}

// seedsDir holds copies of the seed pages (the Swedish security pages the
// specification comes from), so that the quotes are checked against their
// source; VALV_TEST_SEEDS names another copy.
func seedsDir() string {
	if d := os.Getenv("VALV_TEST_SEEDS"); d != "" {
		return d
	}
	return filepath.Join("testdata", "seeds")
}

// TestEvidence: the evidence table covers exactly the sections of
// Measures, cites well-formed requirement ids, and quotes its seeds word
// for word.
func TestEvidence(t *testing.T) {
	// The sections are Measures' struct fields other than the header's.
	var want []string
	mt := reflect.TypeOf(Measures{})
	for i := 0; i < mt.NumField(); i++ {
		f := mt.Field(i)
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Time{}) && f.Type != reflect.TypeOf(Tenant{}) {
			want = append(want, strings.Split(f.Tag.Get("json"), ",")[0])
		}
	}
	var got []string
	for _, ev := range Evidence() {
		got = append(got, ev.Section)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("evidence sections %v, want Measures' sections in order %v", got, want)
	}

	seeds := map[string]string{}
	files, err := filepath.Glob(filepath.Join(seedsDir(), "00?_*.txt"))
	if err != nil || len(files) != 5 {
		t.Fatalf("seed pages: found %d in %s (%v)", len(files), seedsDir(), err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		seeds[filepath.Base(f)[:3]] = string(b)
	}
	id := regexp.MustCompile(`^(TEN|AUTH|AZ|ENC|VAL|DOC|MSG|RET|AUD|OPS|GDPR|BAK|GRD|EVD|ENV|UI)-[1-9][0-9]*$`)
	for _, ev := range Evidence() {
		if len(ev.Requirements) == 0 || len(ev.Articles) == 0 || len(ev.Promises) == 0 {
			t.Errorf("%s: requirements, articles and promises must all be given", ev.Section)
		}
		for _, r := range ev.Requirements {
			if !id.MatchString(r) {
				t.Errorf("%s: %q is not a requirement id", ev.Section, r)
			}
		}
		for _, a := range ev.Articles {
			if a.Number < 1 || a.Number > 99 || a.Paragraph < 0 {
				t.Errorf("%s: %+v is not a GDPR article", ev.Section, a)
			}
		}
		for _, p := range ev.Promises {
			page, ok := seeds[p.Seed]
			if !ok {
				t.Errorf("%s: no seed %q", ev.Section, p.Seed)
				continue
			}
			if p.Quote == "" || !strings.Contains(page, p.Quote) {
				t.Errorf("%s: seed %s does not say %q", ev.Section, p.Seed, p.Quote)
			}
		}
	}

	// Evidence returns a fresh table: a caller cannot change the next.
	first := Evidence()
	first[0].Requirements[0] = "changed"
	first[0].Promises = nil
	if again := Evidence(); again[0].Requirements[0] == "changed" || len(again[0].Promises) == 0 {
		t.Error("changing Evidence's result changed the table")
	}

	// The JSON form a consumer lists.
	b, err := json.Marshal(Evidence())
	if err != nil {
		t.Fatal(err)
	}
	var decoded []map[string]any
	if err := json.Unmarshal(b, &decoded); err != nil {
		t.Fatal(err)
	}
	if len(decoded) != len(want) || decoded[0]["section"] != "transport" || decoded[0]["requirements"] == nil ||
		decoded[0]["gdpr_articles"] == nil || decoded[0]["promises"] == nil {
		t.Errorf("unexpected JSON form: %s", b[:min(len(b), 300)])
	}
}

// TestHTMLShowsEvidence: every section shows its requirement ids and its
// seeds' words.
func TestHTMLShowsEvidence(t *testing.T) {
	for _, lang := range []string{"sv", "en"} {
		out, err := HTML(fixtureMeasures(), lang)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range Evidence() {
			i := bytes.Index(out, []byte(`<section id="`+ev.Section+`">`))
			if i < 0 {
				t.Errorf("%s: no section %s", lang, ev.Section)
				continue
			}
			sec := out[i:]
			sec = sec[:bytes.Index(sec, []byte("</section>"))]
			for _, r := range ev.Requirements {
				if !bytes.Contains(sec, []byte(r)) {
					t.Errorf("%s: section %s does not cite %s", lang, ev.Section, r)
				}
			}
			for _, p := range ev.Promises {
				if !bytes.Contains(sec, []byte(" "+p.Seed+" ")) || !bytes.Contains(sec, []byte(htmlEscaped(t, p.Quote))) {
					t.Errorf("%s: section %s does not quote seed %s %q", lang, ev.Section, p.Seed, p.Quote)
				}
			}
		}
	}
}

// renderPDFFile renders m in lang to a file in dir.
func renderPDFFile(t *testing.T, m Measures, lang, dir, name string) string {
	t.Helper()
	b, err := PDF(m, lang)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("%PDF-")) {
		t.Fatalf("output does not start with %%PDF-: %q", b[:min(16, len(b))])
	}
	path := filepath.Join(dir, name+".pdf")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// poppler runs one of poppler's tools, skipping (or failing, when
// integration tests are required) when it is not installed.
func poppler(t *testing.T, tool string, args ...string) []byte {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		valvtest.Missing(t, tool, "install poppler-utils")
	}
	out, err := exec.Command(tool, args...).Output()
	if err != nil {
		t.Fatalf("%s %v: %v", tool, args, err)
	}
	return out
}

// pdfPages renders a PDF's pages to PNG at 50 dpi and returns their files.
func pdfPages(t *testing.T, path, prefix string) []string {
	t.Helper()
	poppler(t, "pdftoppm", "-png", "-r", "50", path, prefix)
	pages, err := filepath.Glob(prefix + "*.png")
	if err != nil || len(pages) == 0 {
		t.Fatalf("pdftoppm produced no pages (%v)", err)
	}
	return pages
}

// pdfInfo reads a field of pdfinfo's output.
func pdfInfo(t *testing.T, path, field string) string {
	t.Helper()
	for ln := range strings.SplitSeq(string(poppler(t, "pdfinfo", "-isodates", path)), "\n") {
		if k, v, ok := strings.Cut(ln, ":"); ok && k == field {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("pdfinfo shows no %s", field)
	return ""
}

func TestPDF(t *testing.T) {
	tests := []struct {
		name, lang string
		m          Measures
		// want must be in the PDF's text. Swedish labels and values carry
		// å, ä, ö and Å, so finding them shows they were encoded
		// (Windows-1252) and can be read back.
		want []string
	}{
		{"measures", "sv", fixtureMeasures(), []string{
			"Tekniska och organisatoriska åtgärder", "Åkerlunds Bygg & Plåt AB", "akerlunds", "tnt_01HZX4", "inst_7Q2X9",
			"2026-03-05 14:30 UTC", "96,1 %", "24 tim", "7 dygn", "28 dygn", "underkänt", "Säkerhetskopior",
			"förlaga 003 ”Säkerhetskopior görs dagligen och sparas i fyra veckor”", "ENC-1, ENC-2, ENC-3, ENC-4",
			"valv report verify --key <verifieringsnyckel>", "Sida 1 av",
		}},
		{"measures", "en", fixtureMeasures(), []string{
			"Technical and organisational measures", "Åkerlunds Bygg & Plåt AB", "2026-03-05 14:30 UTC",
			"96.1 %", "24 h", "28 d", "failed", "Evidences: AUTH-6", "seed 004 “anti-malware detektering",
			"valv report verify --key <verifier key> --signature <file>.sig <file>", "Page 1 of",
		}},
		{"empty", "sv", fixtureEmpty(), []string{
			"Inte en produktionsinstallation: test- eller utvecklingsdata", "aldrig", "inga", "Testbolaget AB",
		}},
		{"empty", "en", fixtureEmpty(), []string{
			"Not a production installation: test/development data", "never", "none", "Testbolaget AB",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name+"-"+tt.lang, func(t *testing.T) {
			dir := t.TempDir()
			path := renderPDFFile(t, tt.m, tt.lang, dir, tt.name)
			pages := pdfPages(t, path, filepath.Join(dir, "page"))
			if n, err := strconv.Atoi(pdfInfo(t, path, "Pages")); err != nil || n != len(pages) {
				t.Errorf("pdfinfo counts %d pages (%v); pdftoppm drew %d", n, err, len(pages))
			}
			if got, want := pdfInfo(t, path, "CreationDate"), tt.m.Generated.UTC().Format("2006-01-02T15:04:05"); !strings.HasPrefix(got, want) {
				t.Errorf("CreationDate %q, want %s", got, want)
			}
			text := string(poppler(t, "pdftotext", "-enc", "UTF-8", path, "-"))
			// pdftotext breaks lines where the PDF wraps them.
			flat := strings.Join(strings.Fields(text), " ")
			for _, s := range tt.want {
				if !strings.Contains(flat, s) {
					t.Errorf("PDF text lacks %q", s)
				}
			}
		})
	}
}

// TestPDFDeterministic: the same report draws the same pages. The bytes
// differ between runs (see PDF), so what is compared is what a reader
// sees: the text and the rendered pixels.
func TestPDFDeterministic(t *testing.T) {
	dir := t.TempDir()
	a := renderPDFFile(t, fixtureMeasures(), "sv", dir, "a")
	b := renderPDFFile(t, fixtureMeasures(), "sv", dir, "b")
	ta := poppler(t, "pdftotext", "-enc", "UTF-8", "-layout", a, "-")
	tb := poppler(t, "pdftotext", "-enc", "UTF-8", "-layout", b, "-")
	if !bytes.Equal(ta, tb) {
		t.Error("two renderings of the same report have different text")
	}
	pa := pdfPages(t, a, filepath.Join(dir, "a"))
	pb := pdfPages(t, b, filepath.Join(dir, "b"))
	if len(pa) != len(pb) {
		t.Fatalf("%d pages, then %d", len(pa), len(pb))
	}
	for i := range pa {
		if !samePixels(t, pa[i], pb[i]) {
			t.Errorf("page %d differs between two renderings", i+1)
		}
	}
}

// samePixels compares two pages as pdftoppm drew them: it writes the same
// PNG bytes for the same pixels.
func samePixels(t *testing.T, a, b string) bool {
	t.Helper()
	ia, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	ib, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Equal(ia, ib)
}
