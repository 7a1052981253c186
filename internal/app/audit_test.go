package app

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/valvhq/valv/internal/audit"
	"github.com/valvhq/valv/internal/config"
	"github.com/valvhq/valv/internal/valvtest"
)

// engines run a test on the embedded SQLite and on a real PostgreSQL.
var engines = []struct {
	name string
	opt  func(t *testing.T) serverOption
}{
	{"sqlite", func(*testing.T) serverOption { return func(*config.Config, *Options) {} }},
	{"postgres", func(t *testing.T) serverOption {
		url := valvtest.PostgresURL(t)
		return func(c *config.Config, _ *Options) {
			c.Database.Driver = "postgres"
			c.Database.URL = config.Secret(url)
		}
	}},
}

// rawDB opens a second connection to the server's database, as someone
// with access to the database (not to Valv) would.
func (ts *testServer) rawDB() (*sql.DB, bool) {
	cfg := ts.app.Config()
	driver, dsn, pg := "sqlite", cfg.SQLitePath()+"?_pragma=busy_timeout(10000)", false
	if cfg.Database.Driver == "postgres" {
		driver, dsn, pg = "pgx", cfg.Database.URL.Reveal(), true
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		ts.t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	ts.t.Cleanup(func() { db.Close() })
	return db, pg
}

func execSQL(t *testing.T, db *sql.DB, q string) {
	t.Helper()
	if _, err := db.Exec(q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// breakAudit makes every insert into the audit trail fail (a full disk, a
// lost permission), and returns how to mend it.
func breakAudit(t *testing.T, db *sql.DB, pg bool) func() {
	t.Helper()
	if pg {
		execSQL(t, db, `CREATE FUNCTION valv_test_fail() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'audit storage failed'; END $$ LANGUAGE plpgsql`)
		execSQL(t, db, `CREATE TRIGGER valv_test_fail BEFORE INSERT ON audit_entries FOR EACH ROW EXECUTE FUNCTION valv_test_fail()`)
		return func() {
			execSQL(t, db, `DROP TRIGGER valv_test_fail ON audit_entries`)
			execSQL(t, db, `DROP FUNCTION valv_test_fail()`)
		}
	}
	execSQL(t, db, `CREATE TRIGGER valv_test_fail BEFORE INSERT ON audit_entries BEGIN SELECT RAISE(ABORT, 'audit storage failed'); END`)
	return func() { execSQL(t, db, `DROP TRIGGER valv_test_fail`) }
}

// TestAuditFailClosed: when the trail cannot be written, calls fail with
// 503, nothing they would have changed changes, and /readyz says why; when
// it can again, Valv recovers by itself (AUD-1).
func TestAuditFailClosed(t *testing.T) {
	for _, eng := range engines {
		t.Run(eng.name, func(t *testing.T) {
			ts := startServer(t, eng.opt(t))
			sec := ts.operator()
			_, owner := ts.tenantWithOwner(sec, "Tenant Stängt AB", "owner@stangt.se")
			db, pg := ts.rawDB()
			var users struct{ Items []json.RawMessage }
			owner.must(200, "GET", "/api/v1/users", nil).json(t, &users)

			mend := breakAudit(t, db, pg)
			for _, call := range []struct {
				method, path string
				body         any
			}{
				{"PATCH", "/api/v1/tenant/settings", map[string]any{"language": "en", "require_2fa": true}},
				{"POST", "/api/v1/users", map[string]string{"email": "ny@stangt.se", "role": "admin"}},
				{"POST", "/api/v1/api-keys", map[string]any{"name": "ci", "scopes": []string{"validate"}}},
				{"GET", "/api/v1/tenant", nil},
				{"GET", "/api/v1/users", nil},
				{"POST", "/api/v1/validate", map[string]any{"fields": []map[string]string{{"type": "iban", "value": "SE4550000000058398257466"}}}},
			} {
				r := owner.do(call.method, call.path, call.body)
				if r.Status != http.StatusServiceUnavailable || r.code() != "audit_unavailable" || r.Header.Get("Retry-After") == "" {
					t.Errorf("%s %s with the trail broken = %d %s, want 503 audit_unavailable", call.method, call.path, r.Status, r.Body)
				}
				if bytes.Contains(r.Body, []byte("stangt")) {
					t.Errorf("%s %s: the refused response still carries data: %s", call.method, call.path, r.Body)
				}
			}
			// Logging in (which writes a session) fails closed too.
			if r := ts.client().do("POST", "/api/v1/auth/login", map[string]string{"tenant": "tenant-stangt-ab", "email": "owner@stangt.se", "password": testPassword}); r.Status != 503 {
				t.Errorf("login with the trail broken = %d %s", r.Status, r.Body)
			}
			var ready struct {
				Status string
				Checks map[string]string
			}
			r := ts.client().do("GET", "/readyz", nil)
			r.json(t, &ready)
			if r.Status != 503 || ready.Checks["audit"] == "ok" || ready.Checks["database"] != "ok" {
				t.Errorf("/readyz with the trail broken = %d %+v", r.Status, ready)
			}

			mend()
			r = ts.client().do("GET", "/readyz", nil)
			r.json(t, &ready)
			if r.Status != 200 || ready.Checks["audit"] != "ok" {
				t.Fatalf("/readyz after mending = %d %+v", r.Status, ready)
			}
			// Nothing the refused calls would have changed changed.
			var st struct {
				Language   string `json:"language"`
				Require2FA bool   `json:"require_2fa"`
			}
			owner.must(200, "GET", "/api/v1/tenant/settings", nil).json(t, &st)
			if st.Language != "sv" || st.Require2FA {
				t.Errorf("settings changed by a refused call: %+v", st)
			}
			var after struct{ Items []json.RawMessage }
			owner.must(200, "GET", "/api/v1/users", nil).json(t, &after)
			if len(after.Items) != len(users.Items) {
				t.Errorf("users %d -> %d after a refused invitation", len(users.Items), len(after.Items))
			}
			var keys []json.RawMessage
			owner.must(200, "GET", "/api/v1/api-keys", nil).json(t, &keys)
			if len(keys) != 0 {
				t.Errorf("an API key was created by a refused call")
			}
			if n := count(t, db, `SELECT count(*) FROM payload_history`); n != 0 {
				t.Errorf("%d payloads kept by a refused call", n)
			}
			// The failure was seen: the trail says it recovered, and the
			// chains still verify.
			if got := ts.auditEntries(audit.Filter{Action: "audit.recovered"}); len(got) != 1 {
				t.Errorf("%d audit.recovered entries, want 1", len(got))
			}
			if bad, err := ts.app.VerifyAudit(context.Background()); err != nil || len(bad) != 0 {
				t.Errorf("verify after the failure: %v %+v", err, bad)
			}
			if !strings.Contains(metrics(t, ts), "valv_audit_write_failures_total") {
				t.Error("no audit failure metric")
			}
		})
	}
}

func count(t *testing.T, db *sql.DB, q string) int {
	t.Helper()
	var n int
	if err := db.QueryRow(q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func metrics(t *testing.T, ts *testServer) string {
	t.Helper()
	return string(ts.client().must(200, "GET", "/metrics", nil).Body)
}

// TestPayloadHistory: with payload history on, what a tenant submits is
// kept sealed and shown to its owners and admins; off, nothing of it is
// kept; switching is audited, and switching off can purge (AUD-4, VAL-3).
func TestPayloadHistory(t *testing.T) {
	ts := startServer(t)
	sec := ts.operator()
	slug, owner := ts.tenantWithOwner(sec, "Tenant Historik AB", "owner@historik.se")
	var inv struct {
		SetupLink string `json:"setup_link"`
	}
	owner.must(201, "POST", "/api/v1/users", map[string]string{"email": "revisor@historik.se", "role": "auditor"}).json(t, &inv)
	ts.client().must(200, "POST", "/api/v1/auth/setup", map[string]string{"token": tokenOf(t, inv.SetupLink), "password": testPassword})
	auditor := ts.login(slug, "revisor@historik.se")
	db, _ := ts.rawDB()

	validate := func(iban string) (kept bool) {
		var res struct {
			Valid       bool `json:"valid"`
			PayloadKept bool `json:"payload_kept"`
		}
		owner.must(200, "POST", "/api/v1/validate", map[string]any{"fields": []map[string]string{{"name": "konto", "type": "iban", "value": iban}}}).json(t, &res)
		if !res.Valid {
			t.Fatalf("%s is not valid", iban)
		}
		return res.PayloadKept
	}
	history := func() string { return string(owner.must(200, "GET", "/api/v1/audit/history", nil).Body) }

	// On (the default): kept, and shown to owners — not to auditors.
	if !validate("SE4550000000058398257466") {
		t.Fatal("payload not kept with history on")
	}
	if h := history(); !strings.Contains(h, "SE4550000000058398257466") || !strings.Contains(h, `"konto"`) {
		t.Fatalf("history = %s", h)
	}
	auditor.must(403, "GET", "/api/v1/audit/history", nil)
	if n := count(t, db, `SELECT count(*) FROM payload_history`); n != 1 {
		t.Fatalf("%d payloads stored, want 1", n)
	}

	// Off: nothing of the payload is kept; the metadata entry stays.
	owner.must(200, "PATCH", "/api/v1/tenant/settings", map[string]any{"payload_history": false})
	if validate("DE89370400440532013000") {
		t.Fatal("payload kept with history off")
	}
	if h := history(); strings.Contains(h, "DE89370400440532013000") {
		t.Fatal("the payload sent with history off is in the history")
	}
	if n := count(t, db, `SELECT count(*) FROM payload_history`); n != 1 {
		t.Fatalf("%d payloads stored after one with history off, want still 1", n)
	}
	// (A fresh value for each decoding: decoding into a used one merges maps.)
	type entryPage struct{ Items []audit.View }
	var entries entryPage
	auditor.must(200, "GET", "/api/v1/audit?action=data.validate", nil).json(t, &entries)
	if len(entries.Items) != 2 || entries.Items[0].Details["payload_kept"] != "no" || entries.Items[1].Details["payload_kept"] != "yes" {
		t.Fatalf("validate entries = %+v", entries.Items)
	}
	// The switch is on the trail.
	entries = entryPage{}
	auditor.must(200, "GET", "/api/v1/audit?action=tenant.settings.update", nil).json(t, &entries)
	if len(entries.Items) != 1 || entries.Items[0].Details["payload_history"] != "off" {
		t.Fatalf("settings entries = %+v", entries.Items)
	}

	// Purging needs history off in the same request, and empties it.
	if r := owner.do("PATCH", "/api/v1/tenant/settings", map[string]any{"payload_history": true, "purge_history": true}); r.Status != 400 || r.code() != "purge_needs_history_off" {
		t.Fatalf("purge with history on = %d %s", r.Status, r.Body)
	}
	owner.must(200, "PATCH", "/api/v1/tenant/settings", map[string]any{"payload_history": false, "purge_history": true})
	if h := history(); strings.Contains(h, "SE4550000000058398257466") {
		t.Fatalf("history after purge = %s", h)
	}
	if n := count(t, db, `SELECT count(*) FROM payload_history`); n != 0 {
		t.Fatalf("%d payloads after purge", n)
	}
	entries = entryPage{}
	auditor.must(200, "GET", "/api/v1/audit?action=tenant.settings.update", nil).json(t, &entries)
	if len(entries.Items) != 3 || entries.Items[0].Details["purge_history"] != "yes" {
		t.Fatalf("purge entry = %+v", entries.Items)
	}

	// Kept payloads expire after 12 months.
	owner.must(200, "PATCH", "/api/v1/tenant/settings", map[string]any{"payload_history": true})
	validate("SE4550000000058398257466")
	ts.clock.Advance(audit.HistoryRetention + 24*60*60*1e9)
	if err := ts.app.PruneAudit(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db, `SELECT count(*) FROM payload_history`); n != 0 {
		t.Fatalf("%d payloads kept past 12 months", n)
	}
}

// TestNoPersonalDataInAudit plants identifiable values in requests (bodies,
// paths, parameters, the user agent) and scans the audit tables, the
// exports, the forwarded log and the server log for them (AUD-3).
func TestNoPersonalDataInAudit(t *testing.T) {
	forward := filepath.Join(t.TempDir(), "forward.jsonl")
	ts := startServer(t, func(c *config.Config, _ *Options) { c.Audit.ForwardFile = forward })
	sec := ts.operator()
	slug, owner := ts.tenantWithOwner(sec, "Tenant Spår AB", "owner@spar.se")
	const (
		email = "anna.planted@example.se"
		pnr   = "19811218-9876"
		name  = "Plantersson"
		agent = "PlantedAgent/1.0 (Anna Plantersson)"
	)
	planted := []string{email, "anna.planted", "19811218", name, "PlantedAgent"}
	owner.header = http.Header{"User-Agent": {agent}}
	anon := ts.client()
	anon.header = http.Header{"User-Agent": {agent}}

	anon.do("POST", "/api/v1/auth/login", map[string]string{"tenant": slug, "email": email, "password": "wrong " + name})
	anon.do("POST", "/api/v1/auth/password/forgot", map[string]string{"tenant": slug, "email": email})
	owner.must(201, "POST", "/api/v1/users", map[string]any{"email": email, "role": "member", "display_name": "Anna " + name})
	owner.must(200, "POST", "/api/v1/validate", map[string]any{"fields": []map[string]string{{"type": "personnummer", "value": pnr}, {"type": "email", "value": email}}})
	owner.do("GET", "/api/v1/users/"+email, nil)
	owner.do("GET", "/api/v1/users/"+pnr, nil)
	owner.do("GET", "/api/v1/api-keys/"+name, nil)
	owner.do("DELETE", "/api/v1/sessions/"+pnr, nil)
	owner.do("GET", "/api/v1/audit?resource_id="+pnr+"&actor_id="+email, nil)
	owner.do("GET", "/api/v1/audit/entries/"+pnr, nil)
	owner.do("PATCH", "/api/v1/tenant/settings", map[string]any{"language": name})
	sec.do("GET", "/api/v1/tenants/"+email, nil)
	sec.do("POST", "/api/v1/tenants", map[string]any{"name": "Anna " + name + " Konsult", "security_contact": email})

	ctx := context.Background()
	sinks, err := ts.app.auditSinks()
	if err != nil {
		t.Fatal(err)
	}
	if err := ts.app.CheckpointAudit(ctx, sinks); err != nil {
		t.Fatal(err)
	}

	scan := func(where string, text string) {
		t.Helper()
		for _, p := range planted {
			if strings.Contains(strings.ToLower(text), strings.ToLower(p)) {
				t.Errorf("%q is in %s", p, where)
			}
		}
	}
	db, _ := ts.rawDB()
	for _, table := range []string{"audit_entries", "audit_heads", "audit_checkpoints", "audit_forward"} {
		scan(table, dumpTable(t, db, table))
	}
	fwd, err := os.ReadFile(forward)
	if err != nil || len(fwd) == 0 {
		t.Fatalf("forwarded file: %v (%d bytes)", err, len(fwd))
	}
	scan("the forwarded log", string(fwd))
	scan("the tenant's export", string(owner.must(200, "GET", "/api/v1/audit/export", nil).Body))
	scan("the tenant's trail", string(owner.must(200, "GET", "/api/v1/audit?limit=500", nil).Body))
	scan("the platform's export", string(sec.must(200, "GET", "/api/v1/audit/export", nil).Body))
	scan("the server log", ts.logs.String())

	// The calls are on the trail all the same — with their ids tokenised.
	var entries struct{ Items []audit.View }
	owner.must(200, "GET", "/api/v1/audit?action=user.read", nil).json(t, &entries)
	if len(entries.Items) != 2 || !strings.HasPrefix(entries.Items[0].ResourceID, "tok:") || entries.Items[0].ResourceID == entries.Items[1].ResourceID {
		t.Errorf("user.read entries = %+v", entries.Items)
	}
	// And the tenant's owner can see the client of one entry when needed.
	var one audit.View
	owner.must(200, "GET", fmt.Sprintf("/api/v1/audit/entries/%d", entries.Items[0].Seq), nil).json(t, &one)
	if one.UserAgent != agent || one.IP != "127.0.0.1" {
		t.Errorf("entry with its client = %+v", one)
	}
}

// dumpTable renders every row of a table as text.
func dumpTable(t *testing.T, db *sql.DB, table string) string {
	t.Helper()
	rows, err := db.Query(`SELECT * FROM ` + table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var b strings.Builder
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for _, v := range vals {
			fmt.Fprintf(&b, "%v|%s|", v, v)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// TestAuditVerifyAlert: the scheduled verification finds a changed entry
// and raises the alert: a failed verification entry, the metric, and mail
// to the security operators and the tenant's security contact (AUD-2).
func TestAuditVerifyAlert(t *testing.T) {
	for _, eng := range engines {
		t.Run(eng.name, func(t *testing.T) {
			ts := startServer(t, eng.opt(t))
			sec := ts.operator()
			_, owner := ts.tenantWithOwner(sec, "Tenant Larm AB", "owner@larm.se")
			for i := 0; i < 5; i++ {
				owner.must(200, "GET", "/api/v1/tenant", nil)
			}
			var tn struct{ ID string }
			owner.must(200, "GET", "/api/v1/tenant", nil).json(t, &tn)
			ctx := context.Background()
			if err := ts.app.CheckpointAudit(ctx, nil); err != nil {
				t.Fatal(err)
			}
			if bad, err := ts.app.VerifyAudit(ctx); err != nil || len(bad) != 0 {
				t.Fatalf("clean trail: %v %+v", err, bad)
			}

			// Someone with database access rewrites history: entry 3 of
			// the tenant's chain now reads as a failure.
			db, pg := ts.rawDB()
			q := `UPDATE audit_entries SET outcome = 'failed' WHERE chain = ? AND seq = 3`
			if pg {
				q = strings.Replace(q, "?", "$1", 1)
			}
			if _, err := db.Exec(q, tn.ID); err != nil {
				t.Fatal(err)
			}
			bad, err := ts.app.VerifyAudit(ctx)
			if err != nil || len(bad) != 1 || bad[0].Chain != tn.ID || bad[0].Finding.Seq != 3 || bad[0].Finding.Kind != "changed" {
				t.Fatalf("tampered trail: %v %+v", err, bad)
			}
			// The operators in English; the tenant in its language (Swedish).
			if m := ts.mail.Wait(t, "ops@valv.test", regexp.MustCompile(`audit trail does not verify`)); !strings.Contains(m, "First entry that does not match: 3") {
				t.Errorf("alert to the operators: %s", m)
			}
			if m := ts.mail.Wait(t, "security@larm.se", regexp.MustCompile(`granskningsloggen stämmer inte`)); !strings.Contains(m, "Första posten som inte stämmer: 3") {
				t.Errorf("alert to the tenant: %s", m)
			}
			if !strings.Contains(metrics(t, ts), `valv_audit_verifications_total{result="failed"}`) {
				t.Error("no failed-verification metric")
			}
			// The failure is itself on the tenant's trail.
			if got := ts.auditEntries(audit.Filter{Action: "audit.verify", Outcome: audit.Error}); len(got) != 1 || got[0].ResourceID != tn.ID {
				t.Errorf("verification entries = %+v", got)
			}
			if !strings.Contains(ts.logs.String(), "AUDIT TRAIL DOES NOT VERIFY") {
				t.Error("no error in the log")
			}
		})
	}
}
