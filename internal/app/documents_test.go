package app

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/valvhq/valv/internal/audit"
	"github.com/valvhq/valv/internal/config"
	"github.com/valvhq/valv/internal/valvtest"
)

// keyClient returns a client that calls with a new API key of the owner's
// tenant with the given scopes.
func (ts *testServer) keyClient(owner *client, scopes ...string) *client {
	ts.t.Helper()
	var k struct {
		Key string `json:"key"`
	}
	owner.must(201, "POST", "/api/v1/api-keys", map[string]any{"name": fmt.Sprintf("key %d", time.Now().UnixNano()), "scopes": scopes}).json(ts.t, &k)
	c := ts.client()
	c.header = http.Header{"Authorization": {"Bearer " + k.Key}}
	return c
}

type docView struct {
	ID           string            `json:"id"`
	Type         string            `json:"type"`
	Archive      string            `json:"archive"`
	DocumentDate string            `json:"document_date"`
	Version      int64             `json:"version"`
	Data         map[string]any    `json:"data"`
	Subjects     []map[string]any  `json:"subjects"`
	Metadata     map[string]string `json:"metadata"`
	File         *struct {
		Name        string `json:"name"`
		ContentType string `json:"content_type"`
		Size        int64  `json:"size"`
		Scanned     string `json:"scanned"`
	} `json:"file"`
}

type docPage struct {
	Items []struct {
		ID string `json:"id"`
	} `json:"items"`
	NextCursor string `json:"next_cursor"`
}

func ids(p docPage) []string {
	var out []string
	for _, it := range p.Items {
		out = append(out, it.ID)
	}
	return out
}

// TestDocumentsEndToEnd runs the document life cycle over HTTPS with an API
// key, on SQLite and PostgreSQL (DOC-1, VAL-2).
func TestDocumentsEndToEnd(t *testing.T) {
	for _, eng := range engines {
		t.Run(eng.name, func(t *testing.T) {
			ts := startServer(t, eng.opt(t))
			sec := ts.operator()
			_, owner := ts.tenantWithOwner(sec, "Tenant Dok AB", "owner@dok.se")
			_, other := ts.tenantWithOwner(sec, "Tenant Annan AB", "owner@annan.se")
			api := ts.keyClient(owner, "documents:read", "documents:write")
			reader := ts.keyClient(owner, "documents:read")
			otherKey := ts.keyClient(other, "documents:read", "documents:write")
			db, _ := ts.rawDB()

			// A type with a schema: documents of it must match.
			owner.must(200, "PUT", "/api/v1/document-types/invoice", map[string]any{"default_archive": "legal", "schema": map[string]any{
				"type": "object", "required": []string{"amount", "iban"},
				"properties": map[string]any{"amount": map[string]any{"type": "number"}, "iban": map[string]any{"type": "string", "format": "iban"}},
			}})
			create := map[string]any{"type": "invoice", "document_date": "2026-11-01",
				"data":     map[string]any{"amount": 100, "iban": "SE4550000000058398257466", "note": "första"},
				"subjects": []map[string]string{{"kind": "personnummer", "value": "811218-9876"}, {"kind": "email", "value": "Anna.Svensson@Example.se"}},
				"metadata": map[string]string{"source": "portal"}}
			idem := http.Header{"Idempotency-Key": {"order-4711"}}
			raw, _ := json.Marshal(create)
			r := api.send("POST", "/api/v1/documents", bytes.NewReader(raw), "application/json", idem)
			if r.Status != 201 || r.Header.Get("ETag") != `"v1"` || !strings.HasPrefix(r.Header.Get("Location"), "/api/v1/documents/") {
				t.Fatalf("create = %d %v %s", r.Status, r.Header, r.Body)
			}
			var doc docView
			r.json(t, &doc)
			if doc.Archive != "legal" || doc.Version != 1 || len(doc.Subjects) != 2 {
				t.Fatalf("created = %+v", doc)
			}
			// Subjects are kept normalised.
			got := map[string]any{}
			for _, s := range doc.Subjects {
				got[s["kind"].(string)] = s["value"]
			}
			if got["personnummer"] != "198112189876" || got["email"] != "anna.svensson@example.se" {
				t.Errorf("subjects = %v", doc.Subjects)
			}

			// A retry with the same key is the same document; the same key
			// for another request is refused.
			r = api.send("POST", "/api/v1/documents", bytes.NewReader(raw), "application/json", idem)
			var again docView
			r.json(t, &again)
			if r.Status != 201 || again.ID != doc.ID || r.Header.Get("Idempotent-Replayed") != "true" {
				t.Fatalf("retry = %d %s", r.Status, r.Body)
			}
			if r := api.send("POST", "/api/v1/documents", strings.NewReader(`{"type":"note"}`), "application/json", idem); r.Status != 422 || r.code() != "idempotency_key_reused" {
				t.Fatalf("key reuse = %d %s", r.Status, r.Body)
			}

			// Data that does not match the schema: 422 with the fields, and
			// nothing stored.
			before := count(t, db, `SELECT count(*) FROM documents`)
			r = api.do("POST", "/api/v1/documents", map[string]any{"type": "invoice", "data": map[string]any{"amount": "lots", "iban": "SE00"}})
			if r.Status != 422 || r.code() != "document_invalid" || !strings.Contains(string(r.Body), `"/amount"`) || !strings.Contains(string(r.Body), `"/iban"`) {
				t.Fatalf("invalid document = %d %s", r.Status, r.Body)
			}
			if bytes.Contains(r.Body, []byte("lots")) {
				t.Error("the error echoes the value")
			}
			r = api.do("POST", "/api/v1/documents", map[string]any{"type": "note", "subjects": []map[string]string{{"kind": "personnummer", "value": "811218-9875"}}})
			if r.Status != 400 || !strings.Contains(string(r.Body), "/subjects/0/value") {
				t.Fatalf("bad subject = %d %s", r.Status, r.Body)
			}
			if n := count(t, db, `SELECT count(*) FROM documents`); n != before {
				t.Fatalf("refused documents were stored: %d -> %d", before, n)
			}
			// A key without documents:write cannot create.
			reader.must(403, "POST", "/api/v1/documents", map[string]any{"type": "note"})

			// Read.
			r = reader.must(200, "GET", "/api/v1/documents/"+doc.ID, nil)
			var read docView
			r.json(t, &read)
			if read.Data["note"] != "första" || read.Metadata["source"] != "portal" || r.Header.Get("ETag") != `"v1"` {
				t.Fatalf("read = %+v", read)
			}

			// Update: a merge patch; the history lists the fields, not
			// their values; a stale If-Match is refused.
			r = api.send("PATCH", "/api/v1/documents/"+doc.ID, strings.NewReader(`{"data":{"amount":250,"note":null},"review_date":"2027-01-15"}`),
				"application/merge-patch+json", http.Header{"If-Match": {`"v1"`}})
			var upd docView
			r.json(t, &upd)
			if r.Status != 200 || upd.Version != 2 || upd.Data["amount"] != float64(250) || upd.Data["note"] != nil || r.Header.Get("ETag") != `"v2"` {
				t.Fatalf("update = %d %s", r.Status, r.Body)
			}
			if r := api.send("PATCH", "/api/v1/documents/"+doc.ID, strings.NewReader(`{"data":{"amount":1}}`), "application/json",
				http.Header{"If-Match": {`"v1"`}}); r.Status != 412 || r.code() != "version_mismatch" {
				t.Fatalf("stale update = %d %s", r.Status, r.Body)
			}
			var versions []struct {
				Version   int64    `json:"version"`
				ActorType string   `json:"actor_type"`
				ActorID   string   `json:"actor_id"`
				Changed   []string `json:"changed"`
			}
			r = reader.must(200, "GET", "/api/v1/documents/"+doc.ID+"/versions", nil)
			r.json(t, &versions)
			if len(versions) != 2 || versions[1].ActorType != "api_key" || strings.Join(versions[1].Changed, ",") != "/review_date,/data/amount,/data/note" {
				t.Fatalf("versions = %+v", versions)
			}
			for _, planted := range []string{"första", "198112189876", "anna.svensson", "SE4550000000058398257466"} {
				if bytes.Contains(r.Body, []byte(planted)) {
					t.Errorf("the version history holds %q", planted)
				}
			}
			var v1 docView
			reader.must(200, "GET", "/api/v1/documents/"+doc.ID+"/versions/1", nil).json(t, &v1)
			if v1.Version != 1 || v1.Data["amount"] != float64(100) || v1.Data["note"] != "första" {
				t.Fatalf("version 1 = %+v", v1)
			}

			// Search by every form of the identifier (in the body, never the
			// URL), and by the address in another case.
			for _, form := range []map[string]string{
				{"kind": "personnummer", "value": "19811218-9876"},
				{"kind": "personnummer", "value": "811218-9876"},
				{"kind": "personnummer", "value": "198112189876"},
				{"kind": "personnummer", "value": "8112189876"},
				{"kind": "email", "value": "ANNA.SVENSSON@example.SE"},
			} {
				var p docPage
				reader.must(200, "POST", "/api/v1/documents/search", form).json(t, &p)
				if len(p.Items) != 1 || p.Items[0].ID != doc.ID {
					t.Errorf("search %v = %v", form, ids(p))
				}
			}
			var none docPage
			reader.must(200, "POST", "/api/v1/documents/search", map[string]string{"kind": "personnummer", "value": "19121212-1212"}).json(t, &none)
			if len(none.Items) != 0 {
				t.Errorf("another person's search found %v", ids(none))
			}
			if r := reader.do("POST", "/api/v1/documents/search", map[string]string{"kind": "personnummer", "value": "19811218-9875"}); r.Status != 400 {
				t.Errorf("search with a bad personnummer = %d", r.Status)
			}

			// Lists and filters.
			api.must(201, "POST", "/api/v1/documents", map[string]any{"type": "note", "document_date": "2025-05-05", "data": map[string]string{"t": "x"}})
			for q, want := range map[string]int{"": 2, "?type=invoice": 1, "?archive=standard": 1, "?from=2026-01-01": 1, "?to=2025-12-31": 1, "?review_due=true": 0, "?limit=1": 1} {
				var p docPage
				reader.must(200, "GET", "/api/v1/documents"+q, nil).json(t, &p)
				if len(p.Items) != want {
					t.Errorf("list %q = %d items, want %d", q, len(p.Items), want)
				}
				if q == "?limit=1" {
					var p2 docPage
					reader.must(200, "GET", "/api/v1/documents?limit=1&cursor="+p.NextCursor, nil).json(t, &p2)
					if len(p2.Items) != 1 || p2.Items[0].ID == p.Items[0].ID {
						t.Errorf("second page = %v", ids(p2))
					}
				}
			}
			ts.clock.Advance(70 * 24 * time.Hour) // the review date comes
			var due docPage
			reader.must(200, "GET", "/api/v1/documents?review_due=true", nil).json(t, &due)
			if len(due.Items) != 1 || due.Items[0].ID != doc.ID {
				t.Errorf("review due = %v", ids(due))
			}

			// Another tenant sees nothing of it.
			otherKey.must(404, "GET", "/api/v1/documents/"+doc.ID, nil)
			otherKey.must(404, "PATCH", "/api/v1/documents/"+doc.ID, map[string]any{"metadata": map[string]string{"x": "y"}})
			otherKey.must(404, "DELETE", "/api/v1/documents/"+doc.ID, nil)
			var theirs docPage
			otherKey.must(200, "POST", "/api/v1/documents/search", map[string]string{"kind": "personnummer", "value": "811218-9876"}).json(t, &theirs)
			if len(theirs.Items) != 0 {
				t.Error("another tenant's search found the document")
			}

			// Delete: everything of it goes.
			if r := api.send("DELETE", "/api/v1/documents/"+doc.ID, nil, "", http.Header{"If-Match": {`"v1"`}}); r.Status != 412 {
				t.Fatalf("delete with a stale If-Match = %d", r.Status)
			}
			api.must(204, "DELETE", "/api/v1/documents/"+doc.ID, nil)
			reader.must(404, "GET", "/api/v1/documents/"+doc.ID, nil)
			for _, table := range []string{"document_versions", "document_subjects"} {
				q := `SELECT count(*) FROM ` + table + ` WHERE document_id = '` + doc.ID + `'`
				if n := count(t, db, q); n != 0 {
					t.Errorf("%d rows left in %s", n, table)
				}
			}

			// Every call is on the trail, with the document as resource.
			entries := ts.auditEntries(audit.Filter{ResourceID: doc.ID})
			actions := map[string]bool{}
			for _, e := range entries {
				actions[e.Action+"/"+e.Outcome] = true
			}
			for _, want := range []string{"document.create/success", "document.read/success", "document.update/success", "document.delete/success", "document.update/failed"} {
				if !actions[want] {
					t.Errorf("no %s entry for the document: %v", want, actions)
				}
			}
		})
	}
}

// TestDocumentFiles: files are scanned by a real clamd, sealed, streamed
// back intact; malware, a wrong type and a stopped scanner store nothing
// (DOC-2, DOC-3).
func TestDocumentFiles(t *testing.T) {
	clamd := valvtest.ClamdWith(t, valvtest.ClamdOptions{})
	ts := startServer(t, func(c *config.Config, _ *Options) {
		c.Scan.Address = clamd.Addr
		c.Scan.MaxStreamSize = clamd.StreamMaxLength
	})
	sec := ts.operator()
	_, owner := ts.tenantWithOwner(sec, "Tenant Fil AB", "owner@fil.se")
	api := ts.keyClient(owner, "documents:read", "documents:write")
	db, _ := ts.rawDB()
	nothingStored := func(what string) {
		t.Helper()
		for _, table := range []string{"documents", "files", "file_chunks"} {
			if n := count(t, db, `SELECT count(*) FROM `+table); n != 0 {
				t.Errorf("%s: %d rows in %s", what, n, table)
			}
		}
	}

	// A clean PDF of 1.5 MiB (three chunks and a bit).
	pdf := append([]byte("%PDF-1.7\n"), randomBytes(t, 3<<19)...)
	r := api.upload(map[string]any{"type": "contract", "subjects": []map[string]string{{"kind": "customer_number", "value": "K-1001"}}},
		"../../Avtal \u202eFDP.exe.pdf", "application/pdf", pdf, nil)
	var doc docView
	r.json(t, &doc)
	if r.Status != 201 || doc.File == nil || doc.File.Size != int64(len(pdf)) || doc.File.ContentType != "application/pdf" || doc.File.Scanned != "clean" {
		t.Fatalf("upload = %d %s", r.Status, r.Body)
	}
	if doc.File.Name != "Avtal FDP.exe.pdf" {
		t.Errorf("file name kept as %q", doc.File.Name)
	}
	r = api.must(200, "GET", "/api/v1/documents/"+doc.ID+"/content", nil)
	if !bytes.Equal(r.Body, pdf) || r.Header.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(r.Header.Get("Content-Disposition"), "attachment;") {
		t.Fatalf("download: %d bytes, %v", len(r.Body), r.Header)
	}

	// A new file is a new version; the old version keeps the old file's
	// description.
	csv := []byte("namn;belopp\nÅsa;12\n")
	r = api.send("PUT", "/api/v1/documents/"+doc.ID+"/content", bytes.NewReader(csv), "text/csv; charset=utf-8",
		http.Header{"Content-Disposition": {`attachment; filename="rader.csv"`}, "If-Match": {`"v1"`}})
	var v2 docView
	r.json(t, &v2)
	if r.Status != 200 || v2.Version != 2 || v2.File.Name != "rader.csv" {
		t.Fatalf("replace = %d %s", r.Status, r.Body)
	}
	if got := api.must(200, "GET", "/api/v1/documents/"+doc.ID+"/content", nil).Body; !bytes.Equal(got, csv) {
		t.Fatalf("new content = %q", got)
	}
	var v1 docView
	api.must(200, "GET", "/api/v1/documents/"+doc.ID+"/versions/1", nil).json(t, &v1)
	if v1.File == nil || v1.File.Name != "Avtal FDP.exe.pdf" {
		t.Errorf("version 1's file = %+v", v1.File)
	}
	api.must(204, "DELETE", "/api/v1/documents/"+doc.ID, nil)
	nothingStored("after delete")

	// EICAR: refused, nothing stored, on the trail, and the security
	// contact is told.
	r = api.upload(map[string]any{"type": "contract"}, "readme.txt", "text/plain", valvtest.EICAR(), nil)
	if r.Status != 422 || r.code() != "malware_detected" {
		t.Fatalf("EICAR upload = %d %s", r.Status, r.Body)
	}
	nothingStored("after malware")
	if m := ts.mail.Wait(t, "security@fil.se", regexp.MustCompile(`skadlig kod`)); !strings.Contains(m, valvtest.ClamdEICARFound) {
		t.Errorf("malware alert: %s", m)
	}
	found := false
	for _, e := range ts.auditEntries(audit.Filter{Action: "document.create", Outcome: audit.Failed}) {
		found = found || e.Details["malware"] == valvtest.ClamdEICARFound
	}
	if !found {
		t.Error("no audit entry names the malware")
	}

	// A file that is not what it is declared as.
	r = api.upload(map[string]any{"type": "contract"}, "bild.png", "image/png", pdf[:2000], nil)
	if r.Status != 415 || r.code() != "content_type_mismatch" {
		t.Fatalf("mismatched upload = %d %s", r.Status, r.Body)
	}
	nothingStored("after a wrong type")

	// A stored file whose ciphertext was changed does not come back.
	r = api.upload(map[string]any{"type": "contract"}, "a.pdf", "application/pdf", pdf, nil)
	r.json(t, &doc)
	execSQL(t, db, `UPDATE file_chunks SET data = zeroblob(length(data)) WHERE seq = 1`)
	req, _ := http.NewRequest("GET", ts.base+"/api/v1/documents/"+doc.ID+"/content", nil)
	req.Header = api.header.Clone()
	resp, err := api.http.Do(req)
	if err == nil {
		got, rerr := io.ReadAll(resp.Body)
		resp.Body.Close()
		if rerr == nil && bytes.Equal(got, pdf) {
			t.Fatal("a tampered file was served whole")
		}
		if rerr == nil {
			t.Fatalf("a tampered file's download ended cleanly after %d bytes", len(got))
		}
	}
	api.must(204, "DELETE", "/api/v1/documents/"+doc.ID, nil)

	// The scanner stops: uploads fail closed with 503, nothing stored.
	clamd.Kill()
	r = api.upload(map[string]any{"type": "contract"}, "a.pdf", "application/pdf", pdf, nil)
	if r.Status != 503 || r.code() != "scanner_unavailable" || r.Header.Get("Retry-After") == "" {
		t.Fatalf("upload with clamd stopped = %d %s", r.Status, r.Body)
	}
	nothingStored("with the scanner stopped")
	// Documents without files still work.
	api.must(201, "POST", "/api/v1/documents", map[string]any{"type": "note"})
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// patternReader is n bytes of a repeating pattern, counting what was read.
type patternReader struct {
	n, read int64
}

func (p *patternReader) Read(b []byte) (int, error) {
	if p.read >= p.n {
		return 0, io.EOF
	}
	k := min(int64(len(b)), p.n-p.read)
	for i := range b[:k] {
		b[i] = byte((p.read + int64(i)) * 7 % 251)
	}
	p.read += k
	return int(k), nil
}

func patternSum(n int64) [32]byte {
	h := sha256.New()
	_, _ = io.Copy(h, &patternReader{n: n})
	var s [32]byte
	copy(s[:], h.Sum(nil))
	return s
}

// TestUploadLimits: an upload over the limit fails fast with 413 and
// leaves nothing behind, with or without a declared length (DOC-3).
func TestUploadLimits(t *testing.T) {
	clamd := valvtest.ClamdWith(t, valvtest.ClamdOptions{})
	ts := startServer(t, func(c *config.Config, _ *Options) {
		c.Scan.Address = clamd.Addr
		c.Scan.MaxStreamSize = clamd.StreamMaxLength
	})
	sec := ts.operator()
	_, owner := ts.tenantWithOwner(sec, "Tenant Stor AB", "owner@stor.se")
	api := ts.keyClient(owner, "documents:write")
	db, _ := ts.rawDB()

	// 200 MiB declared: refused before the body is read.
	src := &patternReader{n: 200 << 20}
	body, ct := multipartBody(t, map[string]any{"type": "big"}, "big.bin", "application/octet-stream", src)
	req, _ := http.NewRequest("POST", ts.base+"/api/v1/documents", body)
	req.ContentLength = 200<<20 + 1024
	req.Header.Set("Content-Type", ct)
	req.Header["Authorization"] = api.header["Authorization"]
	start := time.Now()
	resp, err := api.http.Do(req)
	elapsed := time.Since(start)
	if err != nil {
		t.Fatalf("200 MiB upload: %v", err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 413 || !strings.Contains(string(data), "too_large") {
		t.Fatalf("200 MiB upload = %d %s", resp.StatusCode, data)
	}
	if src.read > 16<<20 || elapsed > 10*time.Second {
		t.Errorf("the refusal came after %d bytes were sent, in %v", src.read, elapsed)
	}

	// 60 MiB with no declared length (chunked): refused at the limit.
	src = &patternReader{n: 60 << 20}
	body, ct = multipartBody(t, map[string]any{"type": "big"}, "big.bin", "application/octet-stream", src)
	r := api.send("POST", "/api/v1/documents", body, ct, nil)
	if r.Status != 413 {
		t.Fatalf("60 MiB chunked upload = %d %s", r.Status, r.Body)
	}
	for _, table := range []string{"documents", "files", "file_chunks"} {
		if n := count(t, db, `SELECT count(*) FROM `+table); n != 0 {
			t.Errorf("%d rows left in %s", n, table)
		}
	}
}
