package app

import (
	"archive/zip"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/valvhq/valv/internal/archive"
	"github.com/valvhq/valv/internal/audit"
	"github.com/valvhq/valv/internal/gdpr"
	"github.com/valvhq/valv/internal/store"
)

var updateGolden = flag.Bool("update", false, "rewrite golden files")

const (
	anna     = "19811218-9876"
	annaMail = "anna@example.se"
	bertil   = "19121212-1212"
)

type gdprDoc struct {
	ID       string            `json:"id"`
	Type     string            `json:"type"`
	Archive  string            `json:"archive"`
	Version  int64             `json:"version"`
	Data     json.RawMessage   `json:"data"`
	Metadata map[string]string `json:"metadata"`
	Subjects []struct {
		Kind, Value string
	} `json:"subjects"`
}

type subjectRequest struct {
	ID       string        `json:"id"`
	Status   string        `json:"status"`
	Attempts int           `json:"attempts"`
	Progress gdpr.Progress `json:"progress"`
	Receipt  string        `json:"receipt"`
	Subjects []gdpr.Identifier
	Deadline string `json:"deadline"`
	DaysLeft int    `json:"days_left"`
}

// gdprFixture is a tenant with the 6+1 contract and payload history, and
// Anna's documents in every archive: a legal-archive invoice with a file,
// a standard-archive membership in three versions, a message; and one
// document about someone else.
type gdprFixture struct {
	owner                    *client
	tenantID, slug           string
	invoice, member, message string
	other                    string
	file                     []byte
}

func newGDPRFixture(t *testing.T, ts *testServer, op *client, name, email string) gdprFixture {
	t.Helper()
	slug, owner := ts.tenantWithOwner(op, name, email)
	var tn struct{ ID string }
	owner.must(200, "GET", "/api/v1/tenant", nil).json(t, &tn)
	owner.must(200, "PATCH", "/api/v1/retention", map[string]bool{"contract": true})
	owner.must(200, "PATCH", "/api/v1/tenant/settings", map[string]bool{"payload_history": true})
	owner.must(200, "PUT", "/api/v1/document-types/member", map[string]any{"schema": map[string]any{"type": "object",
		"properties": map[string]any{"name": map[string]any{"type": "string", "x-personal": true}, "plan": map[string]any{"type": "string"}}}})
	f := gdprFixture{owner: owner, tenantID: tn.ID, slug: slug, file: []byte("%PDF-1.7\nFaktura 1001 till Anna Andersson\n")}
	var d gdprDoc
	owner.upload(map[string]any{"type": "invoice", "archive": "legal", "document_date": "2025-03-01", "data": map[string]any{"number": "1001", "amount": 1250},
		"subjects": []map[string]string{{"kind": "personnummer", "value": anna}}}, "faktura-1001.pdf", "application/pdf", f.file, nil).json(t, &d)
	f.invoice = d.ID
	owner.must(201, "POST", "/api/v1/documents", map[string]any{"type": "member", "document_date": "2026-01-15", "data": map[string]string{"name": "Anna Andersson", "plan": "bas"},
		"metadata": map[string]string{"ref": "M-17"}, "subjects": []map[string]string{{"kind": "personnummer", "value": anna}, {"kind": "email", "value": annaMail}}}).json(t, &d)
	f.member = d.ID
	owner.must(200, "PATCH", "/api/v1/documents/"+f.member, map[string]any{"data": map[string]string{"plan": "guld"}})
	owner.must(200, "PATCH", "/api/v1/documents/"+f.member, map[string]any{"metadata": map[string]string{"ref": "M-17b"}})
	owner.must(201, "POST", "/api/v1/documents", map[string]any{"type": "note", "archive": "message", "document_date": "2026-11-01",
		"data": map[string]string{"text": "Välkommen Anna"}, "subjects": []map[string]string{{"kind": "email", "value": annaMail}}}).json(t, &d)
	f.message = d.ID
	owner.must(201, "POST", "/api/v1/documents", map[string]any{"type": "member", "document_date": "2026-02-01", "data": map[string]string{"name": "Bertil Berg", "plan": "bas"},
		"subjects": []map[string]string{{"kind": "personnummer", "value": bertil}}}).json(t, &d)
	f.other = d.ID
	owner.must(200, "GET", "/api/v1/documents/"+f.member, nil)
	return f
}

func (f gdprFixture) request(t *testing.T, c *client, body map[string]any) subjectRequest {
	t.Helper()
	var r subjectRequest
	c.must(201, "POST", "/api/v1/subject-requests", body).json(t, &r)
	return r
}

var annaIDs = []map[string]string{{"kind": "personnummer", "value": anna}, {"kind": "email", "value": annaMail}}

var (
	uuidPattern = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	timePattern = regexp.MustCompile(`\d{4}-\d{2}-\d{2}(T| )\d{2}:\d{2}:\d{2}(\.\d+)?(Z| UTC)`)
)

// normaliseRun replaces ids (in order of appearance), times and the given
// dates, so that a golden file does not depend on the run.
func normaliseRun(b []byte, dates ...string) []byte {
	seen := map[string]string{}
	b = uuidPattern.ReplaceAllFunc(b, func(m []byte) []byte {
		if _, ok := seen[string(m)]; !ok {
			seen[string(m)] = fmt.Sprintf("id-%02d", len(seen)+1)
		}
		return []byte(seen[string(m)])
	})
	b = timePattern.ReplaceAll(b, []byte("<time>"))
	for _, d := range dates {
		b = bytes.ReplaceAll(b, []byte(d), []byte("<date>"))
	}
	return b
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *updateGolden {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden file (run with -update to create): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run with -update after checking):\n%s", name, firstN(got, 2000))
	}
}

func unzip(t *testing.T, raw []byte) map[string][]byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		t.Fatalf("package: %v", err)
	}
	out := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		out[f.Name] = b
	}
	return out
}

// TestSubjectRights: a register extract (golden JSON and HTML, a PDF),
// portability into another tenant, anonymisation, erasure with a signed
// receipt and restriction of what the law keeps, and the ledger replayed
// against an older copy of the database (GDPR-1..5).
func TestSubjectRights(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			ts := startServer(t, e.opt(t), withClamd(t))
			op := ts.operator()
			f := newGDPRFixture(t, ts, op, "Registret AB", "owner@registret.se")
			ctx := context.Background()

			// Access: the extract holds every document of Anna's, each
			// version, the payload history and who used them.
			acc := f.request(t, f.owner, map[string]any{"kind": "access", "subjects": annaIDs})
			if acc.Status != gdpr.StatusCompleted || acc.Progress.Documents != 3 {
				t.Fatalf("access request: %+v", acc)
			}
			if acc.DaysLeft != 0 || acc.Deadline == "" {
				t.Errorf("deadline: %s, %d days left", acc.Deadline, acc.DaysLeft)
			}
			raw := f.owner.must(200, "GET", "/api/v1/subject-requests/"+acc.ID+"/extract", nil).Body
			var ex gdpr.Extract
			if err := json.Unmarshal(raw, &ex); err != nil {
				t.Fatal(err)
			}
			if len(ex.Documents) != 3 || strings.Contains(string(raw), "Bertil") {
				t.Fatalf("extract documents: %d", len(ex.Documents))
			}
			var versions, reads int
			for _, d := range ex.Documents {
				versions += len(d.Versions)
			}
			for _, a := range ex.Access {
				if a.Action == "document.read" {
					reads++
				}
			}
			if versions != 5 || len(ex.PayloadHistory) < 3 || reads < 1 {
				t.Errorf("extract: %d versions, %d payloads, %d reads", versions, len(ex.PayloadHistory), reads)
			}
			if e.name == "sqlite" {
				var pretty bytes.Buffer
				json.Indent(&pretty, raw, "", "  ")
				html := f.owner.must(200, "GET", "/api/v1/subject-requests/"+acc.ID+"/extract?format=html&lang=sv", nil).Body
				// Request ids are random: each is named by its order.
				out := [][]byte{pretty.Bytes(), html}
				for i, p := range ex.PayloadHistory {
					for j := range out {
						out[j] = bytes.ReplaceAll(out[j], []byte(p.RequestID), []byte(fmt.Sprintf("request-%02d", i+1)))
					}
				}
				golden(t, "gdpr/extract.json.golden", normaliseRun(out[0], acc.Deadline))
				golden(t, "gdpr/extract-sv.html.golden", normaliseRun(out[1], acc.Deadline))
			}
			pdf := f.owner.must(200, "GET", "/api/v1/subject-requests/"+acc.ID+"/extract?format=pdf&lang=en", nil).Body
			if !bytes.HasPrefix(pdf, []byte("%PDF-")) {
				t.Errorf("the PDF extract is no PDF: %q", firstN(pdf, 20))
			}
			f.owner.must(400, "GET", "/api/v1/subject-requests/"+acc.ID+"/extract?format=doc", nil)

			// Portability: the package imports into another tenant.
			port := f.request(t, f.owner, map[string]any{"kind": "portability", "subjects": annaIDs})
			pkg := f.owner.must(200, "GET", "/api/v1/subject-requests/"+port.ID+"/package", nil).Body
			files := unzip(t, pkg)
			if _, ok := files["subject.json"]; !ok {
				t.Fatalf("package entries: %v", len(files))
			}
			_, owner2 := ts.tenantWithOwner(op, "Mottagaren AB", "owner@mottagaren.se")
			r := owner2.send("POST", "/api/v1/subject-imports", bytes.NewReader(pkg), "application/zip", nil)
			if r.Status != 201 {
				t.Fatalf("import: %d %s", r.Status, r.Body)
			}
			var imp gdpr.ImportResult
			r.json(t, &imp)
			if len(imp.Documents) != 3 || imp.Files != 1 {
				t.Fatalf("import: %+v", imp)
			}
			for from, to := range imp.Documents {
				var a, b gdprDoc
				f.owner.must(200, "GET", "/api/v1/documents/"+from, nil).json(t, &a)
				owner2.must(200, "GET", "/api/v1/documents/"+to, nil).json(t, &b)
				if string(a.Data) != string(b.Data) || fmt.Sprint(a.Subjects) != fmt.Sprint(b.Subjects) || fmt.Sprint(a.Metadata) != fmt.Sprint(b.Metadata) ||
					a.Type != b.Type || a.Archive != b.Archive {
					t.Errorf("imported %s differs:\n%+v\n%+v", from, a, b)
				}
				if from == f.invoice {
					got := owner2.must(200, "GET", "/api/v1/documents/"+to+"/content", nil).Body
					if !bytes.Equal(got, f.file) {
						t.Errorf("imported file differs")
					}
				}
			}
			damaged := bytes.Clone(pkg)
			damaged[len(damaged)/3] ^= 0xff
			if r := owner2.send("POST", "/api/v1/subject-imports", bytes.NewReader(damaged), "application/zip", nil); r.Status != 400 {
				t.Errorf("damaged package: %d %s", r.Status, r.Body)
			}

			// Anonymisation in the receiving tenant: Anna's identifiers and
			// the named field go, with every earlier version.
			anon := f.request(t, owner2, map[string]any{"kind": "anonymisation", "subjects": annaIDs, "fields": []string{"/data/name", "/metadata/ref"}})
			if anon.Status != gdpr.StatusCompleted || len(anon.Progress.Anonymised) != 3 {
				t.Fatalf("anonymisation: %+v", anon)
			}
			var m gdprDoc
			owner2.must(200, "GET", "/api/v1/documents/"+imp.Documents[f.member], nil).json(t, &m)
			if strings.Contains(string(m.Data), "Anna") || len(m.Subjects) != 0 || m.Metadata["ref"] != "" || !strings.Contains(string(m.Data), "guld") {
				t.Errorf("anonymised member: %+v", m)
			}
			var vs []any
			owner2.must(200, "GET", "/api/v1/documents/"+imp.Documents[f.member]+"/versions", nil).json(t, &vs)
			if len(vs) != 1 {
				t.Errorf("anonymised document keeps %d versions", len(vs))
			}
			var found struct{ Items []any }
			owner2.must(200, "POST", "/api/v1/documents/search", map[string]string{"kind": "personnummer", "value": anna}).json(t, &found)
			if len(found.Items) != 0 {
				t.Errorf("search finds %d anonymised documents", len(found.Items))
			}

			// A copy of the database before the erasure: a "backup".
			var backup string
			if e.name == "sqlite" {
				db, _ := ts.rawDB()
				backup = filepath.Join(t.TempDir(), "backup.db")
				if _, err := db.Exec(`VACUUM INTO '` + backup + `'`); err != nil {
					t.Fatal(err)
				}
			}

			// Erasure: the membership and the message go; the invoice is
			// kept by the law, restricted until 31 December 2032.
			er := f.request(t, f.owner, map[string]any{"kind": "erasure", "subjects": annaIDs})
			if er.Status != gdpr.StatusCompleted || len(er.Progress.Erased) != 2 || len(er.Progress.Restricted) != 1 {
				t.Fatalf("erasure: %+v", er)
			}
			if rs := er.Progress.Restricted[0]; rs.ID != f.invoice || rs.Until != "2032-12-31" || rs.Reason != "legal_archive" {
				t.Errorf("restricted: %+v", rs)
			}
			for _, id := range []string{f.invoice, f.member, f.message} {
				f.owner.must(404, "GET", "/api/v1/documents/"+id, nil)
				f.owner.must(404, "GET", "/api/v1/documents/"+id+"/versions", nil)
			}
			f.owner.must(404, "GET", "/api/v1/documents/"+f.invoice+"/content", nil)
			f.owner.must(200, "GET", "/api/v1/documents/"+f.other, nil)
			for _, sub := range annaIDs {
				f.owner.must(200, "POST", "/api/v1/documents/search", sub).json(t, &found)
				if len(found.Items) != 0 {
					t.Errorf("search by %s finds %d documents", sub["kind"], len(found.Items))
				}
			}
			var list struct{ Items []struct{ ID string } }
			f.owner.must(200, "GET", "/api/v1/documents", nil).json(t, &list)
			if len(list.Items) != 1 || list.Items[0].ID != f.other {
				t.Errorf("list after erasure: %+v", list.Items)
			}
			// Nothing of the erased documents is in the database; earlier
			// extracts and the requests' identifiers are gone.
			db, _ := ts.rawDB()
			in := fmt.Sprintf("('%s', '%s')", f.member, f.message)
			for _, q := range []string{
				"SELECT COUNT(*) FROM documents WHERE id IN " + in,
				"SELECT COUNT(*) FROM document_versions WHERE document_id IN " + in,
				"SELECT COUNT(*) FROM document_subjects WHERE document_id IN " + in,
				"SELECT COUNT(*) FROM payload_history WHERE resource_id IN " + in,
				fmt.Sprintf("SELECT COUNT(*) FROM subject_requests WHERE tenant_id = '%s' AND (subjects IS NOT NULL OR result IS NOT NULL)", f.tenantID),
			} {
				if n := count(t, db, q); n != 0 {
					t.Errorf("%s: %d", q, n)
				}
			}
			f.owner.must(409, "GET", "/api/v1/subject-requests/"+acc.ID+"/extract", nil)
			f.owner.must(409, "GET", "/api/v1/subject-requests/"+port.ID+"/package", nil)
			var after subjectRequest
			f.owner.must(200, "GET", "/api/v1/subject-requests/"+er.ID, nil).json(t, &after)
			if len(after.Subjects) != 0 {
				t.Errorf("the erasure request keeps the identifiers")
			}
			// A new extract shows only the restricted invoice, marked.
			acc2 := f.request(t, f.owner, map[string]any{"kind": "access", "subjects": annaIDs})
			var ex2 gdpr.Extract
			f.owner.must(200, "GET", "/api/v1/subject-requests/"+acc2.ID+"/extract", nil).json(t, &ex2)
			if len(ex2.Documents) != 1 || !ex2.Documents[0].Restricted || ex2.Documents[0].RetainUntil != "2032-12-31" {
				t.Errorf("extract after erasure: %+v", ex2.Documents)
			}

			// The receipt verifies with the published audit key.
			var keys struct{ Keys []string }
			f.owner.must(200, "GET", "/api/v1/audit/key", nil).json(t, &keys)
			text, err := audit.VerifySigned([]byte(er.Receipt), keys.Keys[0])
			if err != nil {
				t.Fatalf("receipt: %v", err)
			}
			for _, want := range []string{"erased " + f.member, "erased " + f.message, "restricted " + f.invoice + " until 2032-12-31 legal_archive"} {
				if !strings.Contains(text, want) {
					t.Errorf("receipt lacks %q:\n%s", want, text)
				}
			}
			if strings.Contains(text, anna) || strings.Contains(text, annaMail) {
				t.Errorf("receipt holds personal data:\n%s", text)
			}

			// The ledger replayed against the copy erases there too.
			if backup != "" {
				entries, err := gdpr.Ledger(ctx, ts.app.db, "", 1000)
				if err != nil || len(entries) < 5 {
					t.Fatalf("ledger: %d entries, %v", len(entries), err)
				}
				old, err := store.Open(ctx, store.Options{Engine: store.SQLite, Path: backup})
				if err != nil {
					t.Fatal(err)
				}
				res, err := gdpr.Replay(ctx, old, entries)
				if err != nil || res.Erased != 2 || res.Restricted != 1 {
					t.Fatalf("replay: %+v %v", res, err)
				}
				raw, err := sql.Open("sqlite", backup)
				if err != nil {
					t.Fatal(err)
				}
				defer raw.Close()
				n := count(t, raw, "SELECT COUNT(*) FROM documents WHERE id IN "+in)
				var restricted string
				if err := raw.QueryRow("SELECT restricted FROM documents WHERE id = '" + f.invoice + "'").Scan(&restricted); err != nil {
					t.Fatal(err)
				}
				if n != 0 || restricted != "erasure" {
					t.Errorf("after replay: %d erased documents left, invoice restricted %q", n, restricted)
				}
				again, err := gdpr.Replay(ctx, old, entries)
				if err != nil || again.Entries != len(entries) {
					t.Errorf("second replay: %+v %v", again, err)
				}
				old.Close()
			}

			// When the law lets it go, culling erases the invoice.
			ts.clock.Set(time.Date(2033, 1, 2, 12, 0, 0, 0, time.UTC))
			if _, err := ts.app.Cull(ctx, nil, archive.CullOptions{}); err != nil {
				t.Fatal(err)
			}
			if n := count(t, db, "SELECT COUNT(*) FROM documents WHERE id = '"+f.invoice+"'"); n != 0 {
				t.Errorf("the restricted invoice outlived its retention")
			}
			if n := count(t, db, "SELECT COUNT(*) FROM file_chunks"); n != 0 {
				t.Errorf("%d file chunks left", n)
			}
		})
	}
}

// TestErasureResumes: an erasure that stops after two batches is saved as
// retrying with what it did; run again, it carries on from there and
// completes, erasing each document once.
func TestErasureResumes(t *testing.T) {
	ts := startServer(t)
	op := ts.operator()
	_, owner := ts.tenantWithOwner(op, "Avbrottet AB", "owner@avbrottet.se")
	var ids []string
	for i := range 7 {
		var d gdprDoc
		owner.must(201, "POST", "/api/v1/documents", map[string]any{"type": "note", "data": map[string]int{"n": i},
			"subjects": []map[string]string{{"kind": "personnummer", "value": anna}}}).json(t, &d)
		ids = append(ids, d.ID)
	}
	errStop := errors.New("stopped after batch 2 (test)")
	stopped := true
	a := ts.app
	gdpr.New(gdpr.Options{DB: a.db, Keys: a.Keys, Documents: a.Documents, Trail: a.Trail, Jobs: a.Jobs, Law: a.Archive, Now: a.now, Batch: 2,
		AfterBatch: func(_ string, batch int) error {
			if stopped && batch == 2 {
				return errStop
			}
			return nil
		}})
	var r subjectRequest
	owner.must(201, "POST", "/api/v1/subject-requests", map[string]any{"kind": "erasure", "subjects": []map[string]string{{"kind": "personnummer", "value": anna}}}).json(t, &r)
	if r.Status != gdpr.StatusRetrying || r.Attempts != 1 || r.Progress.Batches != 2 || len(r.Progress.Erased) != 4 || r.Receipt != "" {
		t.Fatalf("after the stop: %+v", r)
	}
	db, _ := ts.rawDB()
	if n := count(t, db, "SELECT COUNT(*) FROM documents"); n != 3 {
		t.Errorf("%d documents left after the stop, want 3", n)
	}
	stopped = false
	ts.clock.Advance(time.Minute)
	if _, err := a.Jobs.RunQueue(context.Background()); err != nil {
		t.Fatal(err)
	}
	owner.must(200, "GET", "/api/v1/subject-requests/"+r.ID, nil).json(t, &r)
	if r.Status != gdpr.StatusCompleted || r.Attempts != 2 || len(r.Progress.Erased) != 7 || r.Progress.Documents != 7 {
		t.Fatalf("after the resume: %+v", r)
	}
	seen := map[string]int{}
	for _, id := range r.Progress.Erased {
		seen[id]++
	}
	for _, id := range ids {
		if seen[id] != 1 {
			t.Errorf("document %s erased %d times", id, seen[id])
		}
	}
	if n := count(t, db, "SELECT COUNT(*) FROM documents"); n != 0 {
		t.Errorf("%d documents left", n)
	}
}

// TestTermination: an owner terminates the account; it can be exported and
// cancelled in the grace period; after it, everything goes but the
// invoice the law keeps, restricted; when that is culled the keyset is
// destroyed (TEN-3).
func TestTermination(t *testing.T) {
	ts := startServer(t)
	op := ts.operator()
	slug, owner := ts.tenantWithOwner(op, "Slutet AB", "owner@slutet.se")
	var tn struct{ ID string }
	owner.must(200, "GET", "/api/v1/tenant", nil).json(t, &tn)
	owner.must(200, "PATCH", "/api/v1/retention", map[string]bool{"contract": true})
	var inv, note gdprDoc
	owner.must(201, "POST", "/api/v1/documents", map[string]any{"type": "invoice", "archive": "legal", "document_date": "2025-06-01", "data": map[string]int{"amount": 5}}).json(t, &inv)
	owner.must(201, "POST", "/api/v1/documents", map[string]any{"type": "note", "data": map[string]string{"text": "x"}}).json(t, &note)
	owner.must(201, "POST", "/api/v1/api-keys", map[string]any{"name": "ci", "scopes": []string{"validate"}})

	var term gdpr.Termination
	owner.must(202, "POST", "/api/v1/termination", nil).json(t, &term)
	if term.State != "pending" || !term.EraseAfter.Equal(ts.clock.Now().Add(30*24*time.Hour).UTC()) {
		t.Fatalf("termination: %+v", term)
	}
	owner.must(409, "POST", "/api/v1/termination", nil)
	exp := unzip(t, owner.must(200, "GET", "/api/v1/termination/export", nil).Body)
	var all gdpr.Extract
	if err := json.Unmarshal(exp["subject.json"], &all); err != nil || len(all.Documents) != 2 {
		t.Fatalf("export: %d documents, %v", len(all.Documents), err)
	}
	owner.must(200, "DELETE", "/api/v1/termination", nil).json(t, &term)
	if term.State != "cancelled" {
		t.Fatalf("cancel: %+v", term)
	}
	owner.must(202, "POST", "/api/v1/termination", nil)

	ctx := ts.app.systemContext(context.Background(), "tenant.terminate")
	if n, err := ts.app.GDPR.RunTerminations(ctx); err != nil || n != 0 {
		t.Fatalf("before the grace period ends: %d %v", n, err)
	}
	ts.clock.Advance(31 * 24 * time.Hour)
	if n, err := ts.app.GDPR.RunTerminations(ctx); err != nil || n != 1 {
		t.Fatalf("terminate: %d %v", n, err)
	}
	db, _ := ts.rawDB()
	for q, want := range map[string]int{
		"SELECT COUNT(*) FROM documents WHERE tenant_id = '" + tn.ID + "'":                                    1,
		"SELECT COUNT(*) FROM documents WHERE tenant_id = '" + tn.ID + "' AND restricted = 'erasure'":         1,
		"SELECT COUNT(*) FROM accounts WHERE tenant_id = '" + tn.ID + "'":                                     0,
		"SELECT COUNT(*) FROM api_keys WHERE tenant_id = '" + tn.ID + "'":                                     0,
		"SELECT COUNT(*) FROM sessions WHERE tenant_id = '" + tn.ID + "'":                                     0,
		"SELECT COUNT(*) FROM tenants WHERE id = '" + tn.ID + "' AND status = 'terminated'":                   1,
		"SELECT COUNT(*) FROM keysets WHERE tenant_id = '" + tn.ID + "' AND destroyed_at IS NULL":             1,
		"SELECT COUNT(*) FROM tenant_terminations WHERE tenant_id = '" + tn.ID + "' AND state = 'restricted'": 1,
		"SELECT COUNT(*) FROM erasure_ledger WHERE tenant_id = '" + tn.ID + "' AND scope = 'tenant'":          1,
	} {
		if n := count(t, db, q); n != want {
			t.Errorf("%s: %d, want %d", q, n, want)
		}
	}
	owner.must(401, "GET", "/api/v1/tenant", nil)
	if r := ts.client().do("POST", "/api/v1/auth/login", map[string]string{"tenant": slug, "email": "owner@slutet.se", "password": testPassword}); r.Status == 200 {
		t.Errorf("the terminated owner can still log in")
	}

	// The law lets the invoice go after 2032; then the keyset goes too.
	ts.clock.Set(time.Date(2033, 1, 3, 12, 0, 0, 0, time.UTC))
	if _, err := ts.app.Cull(context.Background(), nil, archive.CullOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.app.GDPR.RunTerminations(ctx); err != nil {
		t.Fatal(err)
	}
	for q, want := range map[string]int{
		"SELECT COUNT(*) FROM documents WHERE tenant_id = '" + tn.ID + "'":                              0,
		"SELECT COUNT(*) FROM keysets WHERE tenant_id = '" + tn.ID + "' AND destroyed_at IS NOT NULL":   1,
		"SELECT COUNT(*) FROM tenant_terminations WHERE tenant_id = '" + tn.ID + "' AND state = 'done'": 1,
	} {
		if n := count(t, db, q); n != want {
			t.Errorf("%s: %d, want %d", q, n, want)
		}
	}
}
