package app

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/valvhq/valv/internal/archive"
	"github.com/valvhq/valv/internal/audit"
	"github.com/valvhq/valv/internal/config"
	"github.com/valvhq/valv/internal/document"
	"github.com/valvhq/valv/internal/tenant"
	"github.com/valvhq/valv/internal/valvtest"
)

// monthsAgo is the date n months (and a few days) before now, in Sweden.
func monthsAgo(now time.Time, n int) string {
	return now.AddDate(0, -n, -3).Format(time.DateOnly)
}

type retentionDoc struct {
	ID        string
	Retention struct {
		Until string `json:"until"`
		Basis string `json:"basis"`
		Held  bool   `json:"held"`
	} `json:"retention"`
}

// TestCulling: culling removes exactly the documents past retention and
// not held, with everything they left behind; a second run removes
// nothing (RET-1..3, RET-5).
func TestCulling(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			ts := startServer(t, e.opt(t), withClamd(t))
			op := ts.operator()
			_, owner := ts.tenantWithOwner(op, "Arkiv AB", "owner@arkiv.se")
			_, ownerB := ts.tenantWithOwner(op, "Bokföring AB", "owner@bokforing.se")
			now := ts.clock.Now()
			create := func(c *client, typ, archive, date string, subjects ...string) retentionDoc {
				t.Helper()
				body := map[string]any{"type": typ, "archive": archive, "document_date": date, "data": map[string]string{"note": "planted-" + typ + "-" + date}}
				var subs []map[string]string
				for _, s := range subjects {
					subs = append(subs, map[string]string{"kind": "personnummer", "value": s})
				}
				if subs != nil {
					body["subjects"] = subs
				}
				var d retentionDoc
				c.must(201, "POST", "/api/v1/documents", body).json(t, &d)
				return d
			}
			// Tenant B has the 6+1 archive contract; tenant A does not.
			ownerB.must(200, "PATCH", "/api/v1/retention", map[string]bool{"contract": true})
			owner.must(200, "PUT", "/api/v1/retention/rules/standard", map[string]any{"type": "agreement", "years": 5})

			expired := map[string]retentionDoc{
				"standard":        create(owner, "note", "standard", monthsAgo(now, 25), "19811218-9876"),
				"legal, no contr": create(owner, "invoice", "legal", monthsAgo(now, 3)),
				"message":         create(owner, "einvoice", "message", monthsAgo(now, 13)),
				"legal, contract": create(ownerB, "invoice", "legal", fmt.Sprintf("%d-06-30", now.Year()-9)),
			}
			var fileDoc retentionDoc
			owner.upload(map[string]any{"type": "scan", "document_date": monthsAgo(now, 30)}, "kvitto.pdf", "application/pdf",
				[]byte("%PDF-1.7\nplanted-file-content"), nil).json(t, &fileDoc)
			expired["with file"] = fileDoc

			kept := map[string]retentionDoc{
				"standard, young":     create(owner, "note", "standard", monthsAgo(now, 23)),
				"legal, this month":   create(owner, "invoice", "legal", now.Format(time.DateOnly)),
				"message, young":      create(owner, "einvoice", "message", monthsAgo(now, 11)),
				"legal, contract":     create(ownerB, "invoice", "legal", fmt.Sprintf("%d-01-01", now.Year()-6)),
				"type rule":           create(owner, "agreement", "standard", monthsAgo(now, 30)),
				"document hold":       create(owner, "note", "standard", monthsAgo(now, 40)),
				"type hold":           create(owner, "evidence", "standard", monthsAgo(now, 40)),
				"subject hold":        create(owner, "note", "standard", monthsAgo(now, 40), "811228-9874"),
				"extended by review":  create(owner, "note", "standard", monthsAgo(now, 40)),
				"tenant b, standard ": create(ownerB, "note", "standard", monthsAgo(now, 1)),
			}
			if got := expired["legal, contract"].Retention; got.Until != fmt.Sprintf("%d-12-31", now.Year()-2) || got.Basis != "legal_contract" {
				t.Errorf("legal archive under contract: retention %+v", got)
			}
			if got := kept["type rule"].Retention; got.Basis != "rule_type" {
				t.Errorf("type rule: retention %+v", got)
			}
			owner.must(201, "POST", "/api/v1/holds", map[string]any{"scope": "document", "document_id": kept["document hold"].ID, "reason": "Tvist"})
			owner.must(201, "POST", "/api/v1/holds", map[string]any{"scope": "type", "type": "evidence", "reason": "Revision"})
			owner.must(201, "POST", "/api/v1/holds", map[string]any{"scope": "subject", "subject": map[string]string{"kind": "personnummer", "value": "19811228-9874"}, "reason": "Begäran från myndighet"})
			var held retentionDoc
			owner.must(200, "GET", "/api/v1/documents/"+kept["subject hold"].ID, nil).json(t, &held)
			if !held.Retention.Held {
				t.Error("a document of a held subject does not show as held")
			}
			future := now.AddDate(1, 0, 0).Format(time.DateOnly)
			var ext retentionDoc
			owner.must(200, "POST", "/api/v1/documents/"+kept["extended by review"].ID+"/review", map[string]string{"decision": "extend", "keep_until": future}).json(t, &ext)
			if ext.Retention.Until != future || ext.Retention.Basis != "extended" {
				t.Errorf("extended: %+v", ext.Retention)
			}
			// A held document cannot be deleted; a legal one before its time neither.
			owner.must(409, "DELETE", "/api/v1/documents/"+kept["document hold"].ID, nil)
			owner.must(409, "DELETE", "/api/v1/documents/"+kept["legal, this month"].ID, nil)

			// What the culled documents leave in the database, before culling.
			db, pg := ts.rawDB()
			culledVersion := sealedBytes(t, db, pg, expired["standard"].ID)
			for name, d := range expired {
				if n := count(t, db, "SELECT COUNT(*) FROM payload_history WHERE resource_id = '"+d.ID+"'"); n == 0 {
					t.Errorf("%s: no payload history to cull", name)
				}
			}

			ctx := context.Background()
			dry, err := ts.app.Cull(ctx, nil, archive.CullOptions{DryRun: true})
			if err != nil || dry.Culled != int64(len(expired)) || dry.Held != 3 || len(dry.Reports) != 0 {
				t.Errorf("dry run: %+v %v", dry, err)
			}
			res, err := ts.app.Cull(ctx, nil, archive.CullOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if res.Culled != int64(len(expired)) || res.Held != 3 {
				t.Errorf("culled %d (held %d), want %d (3)", res.Culled, res.Held, len(expired))
			}
			for name, d := range expired {
				if r := owner.do("GET", "/api/v1/documents/"+d.ID, nil); r.Status == 200 {
					if r = ownerB.do("GET", "/api/v1/documents/"+d.ID, nil); r.Status == 200 {
						t.Errorf("%s: still there after culling", name)
					}
				}
				for _, table := range []string{"documents WHERE id", "document_versions WHERE document_id", "document_subjects WHERE document_id",
					"files WHERE document_id", "payload_history WHERE resource_id"} {
					if n := count(t, db, "SELECT COUNT(*) FROM "+table+" = '"+d.ID+"'"); n != 0 {
						t.Errorf("%s: %d rows left in %s", name, n, table)
					}
				}
			}
			if n := count(t, db, "SELECT COUNT(*) FROM file_chunks WHERE file_id NOT IN (SELECT id FROM files)"); n != 0 {
				t.Errorf("%d file chunks of culled files left", n)
			}
			for name, d := range kept {
				c := owner
				if strings.HasPrefix(name, "tenant b") || name == "legal, contract" {
					c = ownerB
				}
				c.must(200, "GET", "/api/v1/documents/"+d.ID, nil)
			}
			var found struct{ Items []any }
			owner.must(200, "POST", "/api/v1/documents/search", map[string]string{"kind": "personnummer", "value": "811218-9876"}).json(t, &found)
			if len(found.Items) != 0 {
				t.Errorf("search by subject still finds %d culled documents", len(found.Items))
			}
			if !pg {
				// The database file (and its write-ahead log) no longer hold
				// the culled version's sealed content.
				cfg := ts.app.Config()
				for _, f := range []string{cfg.SQLitePath(), cfg.SQLitePath() + "-wal"} {
					b, _ := os.ReadFile(f)
					if bytes.Contains(b, culledVersion) {
						t.Errorf("%s still holds the culled version's content", filepath.Base(f))
					}
					if bytes.Contains(b, []byte("planted-")) {
						t.Errorf("%s holds plaintext", filepath.Base(f))
					}
				}
			}

			// The reports: counts per archive and type, for owners and auditors.
			var reports struct {
				Items []archive.Report `json:"items"`
			}
			owner.must(200, "GET", "/api/v1/retention/reports", nil).json(t, &reports)
			if len(reports.Items) != 1 || reports.Items[0].Total != 4 {
				t.Fatalf("tenant A's reports: %+v", reports.Items)
			}
			got, _ := json.Marshal(reports.Items[0].Counts)
			if want := `[{"archive":"legal","type":"invoice","documents":1},{"archive":"message","type":"einvoice","documents":1},{"archive":"standard","type":"note","documents":1},{"archive":"standard","type":"scan","documents":1}]`; string(got) != want {
				t.Errorf("report counts = %s, want %s", got, want)
			}
			if strings.Contains(string(owner.must(200, "GET", "/api/v1/retention/reports/"+reports.Items[0].ID, nil).Body), "planted") {
				t.Error("the report holds content")
			}
			entries := ts.auditEntries(audit.Filter{Action: "retention.cull"})
			if len(entries) != 2 {
				t.Errorf("%d retention.cull audit entries, want one per tenant", len(entries))
			}

			// A second run removes nothing and writes no report.
			res, err = ts.app.Cull(ctx, nil, archive.CullOptions{})
			if err != nil || res.Culled != 0 || len(res.Reports) != 0 {
				t.Errorf("second run: %+v %v", res, err)
			}

			// Lifting the holds lets the next run cull what they held.
			var holds []archive.Hold
			owner.must(200, "GET", "/api/v1/holds", nil).json(t, &holds)
			for _, h := range holds {
				owner.must(204, "DELETE", "/api/v1/holds/"+h.ID, nil)
			}
			res, err = ts.app.Cull(ctx, nil, archive.CullOptions{})
			if err != nil || res.Culled != 3 {
				t.Errorf("after lifting the holds: %+v %v", res, err)
			}
		})
	}
}

// sealedBytes returns a slice of a document's first sealed version.
func sealedBytes(t *testing.T, db *sql.DB, pg bool, id string) []byte {
	t.Helper()
	q := "SELECT content FROM document_versions WHERE document_id = ? AND version = 1"
	if pg {
		q = strings.Replace(q, "?", "$1", 1)
	}
	var b []byte
	if err := db.QueryRow(q, id).Scan(&b); err != nil {
		t.Fatal(err)
	}
	if len(b) < 80 {
		t.Fatalf("sealed content of %d bytes", len(b))
	}
	return b[40:80]
}

const cullChildEnv = "VALV_TEST_CULL_CHILD_DIR"

func cullConfig(dir string) config.Config {
	cfg := testConfig(dir)
	cfg.Retention.CullBatch = 20
	return cfg
}

// cullChild runs the culling job slowly, printing "batch" after each
// committed batch, until it is killed.
func cullChild(dir string) {
	ctx := context.Background()
	a, err := Open(ctx, Options{Config: cullConfig(dir)})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(3)
	}
	a.Archive.AfterCullBatch = func(int) error {
		fmt.Println("batch")
		time.Sleep(100 * time.Millisecond)
		return nil
	}
	if err := a.RegisterJobs(ctx, nil); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(3)
	}
	if _, err := a.Jobs.RunNamed(ctx, JobCull); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(4)
	}
	fmt.Fprintln(os.Stderr, "child: the run finished before it was killed")
	os.Exit(5)
}

// TestCullingSurvivesAKill kills a culling run with SIGKILL halfway; once
// its lease has expired the next run finishes the work: every expired
// document is culled once, and the tenant gets exactly one report whose
// counts cover the whole run (RET-5).
func TestCullingSurvivesAKill(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	a, err := Open(ctx, Options{Config: cullConfig(dir)})
	if err != nil {
		t.Fatal(err)
	}
	tn, err := a.Tenants.Create(ctx, op, tenant.CreateInput{Name: "Gallring AB"})
	if err != nil {
		t.Fatal(err)
	}
	owner := crashOwner(tn.Tenant.ID)
	var docs []document.Input
	for i := 0; i < 200; i++ {
		docs = append(docs, document.Input{Type: fmt.Sprintf("t%d", i%3), DocumentDate: "2001-01-01", Data: json.RawMessage(`{"n":1}`),
			Subjects: []document.Subject{{Kind: "customer_number", Value: fmt.Sprintf("K-%d", i)}}})
	}
	keep, _ := a.Documents.ImportBatch(withAuditRecord(ctx, "document.import"), owner, []document.Input{{Type: "t0", Data: json.RawMessage(`{"n":2}`)}}, nil)
	if _, err := a.Documents.ImportBatch(withAuditRecord(ctx, "document.import"), owner, docs, nil); err != nil {
		t.Fatal(err)
	}
	a.Close()

	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), cullChildEnv+"="+dir)
	stdout, _ := cmd.StdoutPipe()
	var stderr syncWriter
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	batches := 0
	for batches < 3 && sc.Scan() {
		if sc.Text() == "batch" {
			batches++
		}
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	go io.Copy(io.Discard, stdout)
	_ = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
		t.Fatalf("child was not killed (after %d batches): %s", batches, stderr.String())
	}

	// Restart, past the dead node's lease.
	later := func() time.Time { return time.Now().Add(10 * time.Minute) }
	a, err = Open(ctx, Options{Config: cullConfig(dir), Now: later})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	left, _ := a.db.Reader().CountDocuments(ctx, tn.Tenant.ID)
	if left <= 1 || left >= 201 {
		t.Fatalf("%d documents left after the kill: the child did not stop halfway", left)
	}
	if err := a.RegisterJobs(ctx, nil); err != nil {
		t.Fatal(err)
	}
	ran, err := a.Jobs.RunNamed(ctx, JobCull)
	if err != nil || !ran {
		t.Fatalf("resumed run: %v %v", ran, err)
	}
	if n, _ := a.db.Reader().CountDocuments(ctx, tn.Tenant.ID); n != 1 {
		t.Fatalf("%d documents left, want 1 (%s)", n, keep)
	}
	reports, err := a.db.Reader().CullingReports(ctx, tn.Tenant.ID, "", 10)
	if err != nil || len(reports) != 1 || reports[0].Total != 200 {
		t.Fatalf("reports: %+v %v", reports, err)
	}
	var counts []archive.Count
	json.Unmarshal([]byte(reports[0].Counts), &counts)
	for _, c := range counts {
		if want := map[string]int64{"t0": 67, "t1": 67, "t2": 66}[c.Type]; c.Documents != want {
			t.Errorf("type %s: %d culled, want %d", c.Type, c.Documents, want)
		}
	}
	// A second run finds nothing.
	res, err := a.Cull(ctx, nil, archive.CullOptions{})
	if err != nil || res.Culled != 0 {
		t.Fatalf("second run: %+v %v", res, err)
	}
}

// TestReviews: documents appear in the due-review list on their review
// date (Swedish calendar), the reviewers get a daily digest with counts
// only, and each decision is audited (RET-4).
func TestReviews(t *testing.T) {
	ts := startServer(t)
	// 05:30 UTC on 22 November: 06:30 in Stockholm, before the digest.
	ts.clock.Set(time.Date(2026, 11, 22, 5, 30, 0, 0, time.UTC))
	op := ts.operator()
	_, owner := ts.tenantWithOwner(op, "Bevakning AB", "owner@bevakning.se")
	key := ts.keyClient(owner, "documents:read", "documents:write", "retention:manage")
	var doc, other document.Document
	key.must(201, "POST", "/api/v1/documents", map[string]any{"type": "contract", "review_date": "2026-11-23",
		"data": map[string]string{"party": "planted-party"}}).json(t, &doc)
	key.must(201, "POST", "/api/v1/documents", map[string]any{"type": "contract", "review_date": "2027-01-10"}).json(t, &other)
	due := func() []string {
		var p struct{ Items []document.Summary }
		key.must(200, "GET", "/api/v1/reviews/due", nil).json(t, &p)
		var ids []string
		for _, s := range p.Items {
			ids = append(ids, s.ID)
		}
		return ids
	}
	if got := due(); len(got) != 0 {
		t.Fatalf("due before the date: %v", got)
	}
	ctx := context.Background()
	if _, err := ts.app.Jobs.RunDue(ctx); err != nil {
		t.Fatal(err)
	}
	// 22:59 UTC on the 22nd is still the 22nd... and 23:00 UTC is the 23rd in Stockholm.
	ts.clock.Set(time.Date(2026, 11, 22, 22, 59, 0, 0, time.UTC))
	if got := due(); len(got) != 0 {
		t.Fatalf("due a minute early: %v", got)
	}
	ts.clock.Set(time.Date(2026, 11, 22, 23, 0, 0, 0, time.UTC))
	if got := due(); len(got) != 1 || got[0] != doc.ID {
		t.Fatalf("due on the day = %v, want [%s]", got, doc.ID)
	}
	// The digest goes out at 07:00 Swedish time, to the owner (no reviewers named).
	ts.clock.Set(time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC))
	ran, err := ts.app.Jobs.RunDue(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(ran, " "), JobReviewDigest) {
		t.Fatalf("the digest did not run at 07:00: ran %v", ran)
	}
	mail := ts.mail.Wait(t, "owner@bevakning.se", regexp.MustCompile(`(?s)contract`))
	if strings.Contains(mail, "planted") || strings.Contains(mail, doc.ID) {
		t.Errorf("the digest holds document content: %s", mail)
	}
	// Decisions.
	key.must(400, "POST", "/api/v1/documents/"+doc.ID+"/review", map[string]string{"decision": "keep"})
	key.must(400, "POST", "/api/v1/documents/"+doc.ID+"/review", map[string]string{"decision": "keep", "review_date": "2026-11-01"})
	key.must(400, "POST", "/api/v1/documents/"+doc.ID+"/review", map[string]string{"decision": "shred"})
	var anon document.Document
	key.must(200, "POST", "/api/v1/documents/"+doc.ID+"/review", map[string]string{"decision": "anonymise"}).json(t, &anon)
	if len(anon.Subjects) != 0 {
		t.Errorf("anonymised: %+v", anon.Subjects)
	}
	var kept document.Document
	key.must(200, "POST", "/api/v1/documents/"+doc.ID+"/review", map[string]string{"decision": "keep", "review_date": "2027-06-01"}).json(t, &kept)
	if kept.ReviewDate != "2027-06-01" {
		t.Errorf("kept: review date %s", kept.ReviewDate)
	}
	if got := due(); len(got) != 0 {
		t.Fatalf("due after the decision: %v", got)
	}
	var versions []document.Version
	key.must(200, "GET", "/api/v1/documents/"+doc.ID+"/versions", nil).json(t, &versions)
	if last := versions[len(versions)-1]; fmt.Sprint(last.Changed) != "[/review_date]" {
		t.Errorf("the version history records %v", last.Changed)
	}
	key.must(204, "POST", "/api/v1/documents/"+other.ID+"/review", map[string]string{"decision": "delete"})
	key.must(404, "GET", "/api/v1/documents/"+other.ID, nil)
	decisions := map[string]int{}
	for _, e := range ts.auditEntries(audit.Filter{Action: "document.review"}) {
		decisions[e.Details["review"]+" "+e.Outcome]++
	}
	if decisions["keep success"] != 1 || decisions["delete success"] != 1 || decisions["anonymise success"] != 1 {
		t.Errorf("audited decisions: %v", decisions)
	}
}

// TestRetentionRules: changing a rule recomputes the documents it applies
// to and is audited; the law's periods cannot be shortened; the contract
// is the owner's to declare (RET-1..3).
func TestRetentionRules(t *testing.T) {
	ts := startServer(t)
	op := ts.operator()
	_, owner := ts.tenantWithOwner(op, "Regler AB", "owner@regler.se")
	key := ts.keyClient(owner, "documents:read", "documents:write", "retention:manage")
	var inv, note retentionDoc
	key.must(201, "POST", "/api/v1/documents", map[string]any{"type": "invoice", "archive": "legal", "document_date": "2026-03-15"}).json(t, &inv)
	key.must(201, "POST", "/api/v1/documents", map[string]any{"type": "note", "document_date": "2026-03-15"}).json(t, &note)
	if inv.Retention.Until != "2026-04-30" || note.Retention.Until != "2028-03-15" {
		t.Fatalf("initial retention: %+v %+v", inv.Retention, note.Retention)
	}
	// Only an owner declares the contract: an API key cannot.
	key.must(403, "PATCH", "/api/v1/retention", map[string]bool{"contract": true})
	owner.must(200, "PATCH", "/api/v1/retention", map[string]any{"contract": true, "standard_months": 36})
	get := func(id string) retentionDoc {
		var d retentionDoc
		key.must(200, "GET", "/api/v1/documents/"+id, nil).json(t, &d)
		return d
	}
	if got := get(inv.ID).Retention; got.Until != "2033-12-31" {
		t.Errorf("after the contract: %+v", got)
	}
	if got := get(note.ID).Retention; got.Until != "2029-03-15" {
		t.Errorf("after standard_months 36: %+v", got)
	}
	key.must(400, "PUT", "/api/v1/retention/rules/legal", map[string]int{"years": 5})
	key.must(400, "PUT", "/api/v1/retention/rules/message", map[string]int{"months": 24})
	key.must(400, "PUT", "/api/v1/retention/rules/legal", map[string]int{"years": 10, "months": 2})
	key.must(200, "PUT", "/api/v1/retention/rules/legal", map[string]any{"type": "invoice", "years": 10})
	if got := get(inv.ID).Retention; got.Until != "2036-12-31" || got.Basis != "rule_type" {
		t.Errorf("after a 10-year rule: %+v", got)
	}
	// The stored date is what culling scans: it was recomputed too.
	db, _ := ts.rawDB()
	if n := count(t, db, "SELECT COUNT(*) FROM documents WHERE id = '"+inv.ID+"' AND retain_until = '2036-12-31'"); n != 1 {
		t.Error("the stored retention was not recomputed")
	}
	key.must(204, "DELETE", "/api/v1/retention/rules/legal?type=invoice", nil)
	key.must(404, "DELETE", "/api/v1/retention/rules/legal?type=invoice", nil)
	if got := get(inv.ID).Retention; got.Until != "2033-12-31" {
		t.Errorf("after removing the rule: %+v", got)
	}
	// Moving a document out of the legal archive while the law keeps it is refused.
	key.must(409, "PATCH", "/api/v1/documents/"+inv.ID, map[string]string{"archive": "standard"})
	if n := len(ts.auditEntries(audit.Filter{Action: "retention.rule.put"})); n != 4 {
		t.Errorf("%d audited rule changes, want 4 (3 refused, 1 set)", n)
	}
	var pol archive.PolicyView
	key.must(200, "GET", "/api/v1/retention", nil).json(t, &pol)
	if !pol.Contract || pol.LegalYears != 7 || pol.StandardMonths != 36 || len(pol.Rules) != 0 {
		t.Errorf("policy = %+v", pol)
	}
}

// TestTwoNodesRunEachJobOnce: two Valv instances on one PostgreSQL
// database, each with its own connection pool and scheduler, poll for due
// jobs at the same moments; every job runs exactly once per period.
func TestTwoNodesRunEachJobOnce(t *testing.T) {
	url := valvtest.PostgresURL(t)
	clock := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	ctx := context.Background()
	var nodes []*App
	for i := 0; i < 2; i++ {
		cfg := testConfig(t.TempDir())
		cfg.Database.Driver = "postgres"
		cfg.Database.URL = config.Secret(url)
		if i > 0 {
			// The first node made the installation and its root key; the
			// second uses the same key file, as nodes sharing a key would.
			first := nodes[0].Config()
			cfg.Keys.File = first.RootKeyFile()
		}
		a, err := Open(ctx, Options{Config: cfg, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { a.Close() })
		if err := a.RegisterJobs(ctx, nil); err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, a)
	}
	const periods = 4
	for p := 0; p < periods; p++ {
		var wg sync.WaitGroup
		for _, a := range nodes {
			for k := 0; k < 2; k++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, err := a.Jobs.RunDue(ctx); err != nil {
						t.Errorf("RunDue: %v", err)
					}
				}()
			}
		}
		wg.Wait()
		mu.Lock()
		clock = clock.Add(25 * time.Hour)
		mu.Unlock()
	}
	st, err := nodes[1].JobStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		if s.Name == JobReviewDigest {
			continue // daily at 07:00: its periods do not line up with these
		}
		if s.Runs != periods || s.LastStatus != "ok" {
			t.Errorf("job %s: %d runs (%s %s), want %d", s.Name, s.Runs, s.LastStatus, s.LastError, periods)
		}
	}
}
