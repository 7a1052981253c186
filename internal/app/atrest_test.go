package app

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/valvhq/valv/internal/audit"
	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/config"
	"github.com/valvhq/valv/internal/document"
	"github.com/valvhq/valv/internal/store"
	"github.com/valvhq/valv/internal/tenant"
	"github.com/valvhq/valv/internal/valvtest"
)

func plant() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "planted-" + hex.EncodeToString(b) + "@example.se"
}

func openTestApp(t *testing.T, cfg config.Config) *App {
	t.Helper()
	a, err := Open(context.Background(), Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// TestNoPlaintextAtRest plants personal values through the services and
// scans the raw database (SQLite file and WAL; pg_dump) for them (ENC-1).
func TestNoPlaintextAtRest(t *testing.T) {
	engines := []struct {
		name string
		cfg  func(t *testing.T) (config.Config, func() []byte)
	}{
		{"sqlite", func(t *testing.T) (config.Config, func() []byte) {
			cfg := testConfig(t.TempDir())
			return cfg, func() []byte {
				var all []byte
				for _, suffix := range []string{"", "-wal"} {
					b, _ := os.ReadFile(filepath.Join(cfg.DataDir, "valv.db") + suffix)
					all = append(all, b...)
				}
				return all
			}
		}},
		{"postgres", func(t *testing.T) (config.Config, func() []byte) {
			url := valvtest.PostgresURL(t)
			cfg := testConfig(t.TempDir())
			cfg.Database.Driver = "postgres"
			cfg.Database.URL = config.Secret(url)
			return cfg, func() []byte { return valvtest.PgDump(t, url) }
		}},
	}
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			cfg, raw := e.cfg(t)
			cfg.Documents.AllowUnscanned = true
			a := openTestApp(t, cfg)
			ctx := context.Background()
			var planted []string
			var ids []string
			for i := 0; i < 20; i++ {
				p := plant()
				tn, err := a.Tenants.Create(ctx, op, tenant.CreateInput{Name: "Tenant " + p[8:20], SecurityContact: p})
				if err != nil {
					t.Fatal(err)
				}
				planted = append(planted, p)
				ids = append(ids, tn.Tenant.ID)
			}
			// Documents: data, subjects, metadata, a file's name and
			// content, an update (a second version) and the payload history.
			for _, id := range ids[:5] {
				owner := authz.Principal{Kind: authz.User, ID: "0198aaaa-bbbb-7ccc-8ddd-eeeeffff0001", TenantID: id, Role: authz.Owner}
				ctx, _ := audit.Begin(ctx, "document.create")
				p := plant()
				name, content := "Namn-"+p[8:20], "Innehåll-"+p[8:20]
				raw := []byte(`{"type":"note","data":{"name":"` + name + `"},"metadata":{"who":"` + p + `"}}`)
				c, err := a.Documents.Create(ctx, owner, document.CreateRequest{Raw: raw,
					Input: document.Input{Type: "note", Data: json.RawMessage(`{"name":"` + name + `"}`),
						Subjects: []document.Subject{{Kind: "email", Value: p}, {Kind: "customer_number", Value: "Kund-" + p[8:20]}},
						Metadata: map[string]string{"who": p}},
					File: &document.Upload{Name: "fil-" + p[8:20] + ".txt", ContentType: "text/plain", Body: strings.NewReader(content)}})
				if err != nil {
					t.Fatal(err)
				}
				newName := "Nytt-" + p[8:20]
				if _, err := a.Documents.Update(ctx, owner, c.Document.ID, document.UpdateRequest{Patch: document.Patch{Data: json.RawMessage(`{"name":"` + newName + `"}`)}}); err != nil {
					t.Fatal(err)
				}
				got, err := a.Documents.Get(ctx, owner, c.Document.ID)
				if err != nil || !strings.Contains(string(got.Data), newName) {
					t.Fatalf("document read back: %s %v", got.Data, err)
				}
				planted = append(planted, name, content, newName, "Kund-"+p[8:20], "fil-"+p[8:20])
			}
			// The values read back...
			for i, id := range ids {
				got, err := a.Tenants.LoginPolicy(ctx, id)
				if err != nil || got.SecurityContact != planted[i] {
					t.Fatalf("LoginPolicy = %q %v", got.SecurityContact, err)
				}
			}
			// ...but are nowhere in the stored bytes.
			data := raw()
			if len(data) == 0 {
				t.Fatal("read nothing of the database")
			}
			for _, p := range planted {
				if bytes.Contains(data, []byte(p)) || bytes.Contains(data, []byte(p[:min(20, len(p))])) {
					t.Fatalf("planted value %q found in the stored bytes", p)
				}
			}
		})
	}
}

// TestRelocatedCiphertextFails copies one tenant's sealed value into
// another tenant's row: it must not open there.
func TestRelocatedCiphertextFails(t *testing.T) {
	a := openTestApp(t, testConfig(t.TempDir()))
	ctx := context.Background()
	t1, err := a.Tenants.Create(ctx, op, tenant.CreateInput{Name: "One", SecurityContact: "one@example.se"})
	if err != nil {
		t.Fatal(err)
	}
	t2, err := a.Tenants.Create(ctx, op, tenant.CreateInput{Name: "Two", SecurityContact: "two@example.se"})
	if err != nil {
		t.Fatal(err)
	}
	row1, _ := a.db.Reader().Tenant(ctx, t1.Tenant.ID)
	err = a.db.Write(ctx, func(tx *store.Tx) error {
		return tx.UpdateTenantSecurityContact(ctx, t2.Tenant.ID, row1.SecurityContact, row1.UpdatedAt)
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := a.Tenants.LoginPolicy(ctx, t2.Tenant.ID); got.SecurityContact != "" {
		t.Fatalf("a ciphertext moved to another tenant opened: %q", got.SecurityContact)
	}
	// Flipping a stored bit also fails.
	bad := bytes.Clone(row1.SecurityContact)
	bad[len(bad)-3] ^= 0x10
	_ = a.db.Write(ctx, func(tx *store.Tx) error {
		return tx.UpdateTenantSecurityContact(ctx, t1.Tenant.ID, bad, row1.UpdatedAt)
	})
	if got, _ := a.Tenants.LoginPolicy(ctx, t1.Tenant.ID); got.SecurityContact != "" {
		t.Fatal("a tampered ciphertext opened")
	}
}

// TestDevelopmentKeyFileLifecycle: a missing key file for existing data is
// an error (never a new key), and a corrupt one is explained.
func TestKeyFileProblems(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	a, err := Open(context.Background(), Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Tenants.Create(context.Background(), op, tenant.CreateInput{Name: "Acme", SecurityContact: "s@acme.se"}); err != nil {
		t.Fatal(err)
	}
	a.Close()
	keyFile := filepath.Join(dir, "root.key")
	good, _ := os.ReadFile(keyFile)
	os.Remove(keyFile)
	if _, err := Open(context.Background(), Options{Config: cfg}); err == nil || !bytes.Contains([]byte(err.Error()), []byte("is missing")) {
		t.Fatalf("missing key file: %v", err)
	}
	if err := os.WriteFile(keyFile, []byte("garbage\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(context.Background(), Options{Config: cfg}); err == nil || !bytes.Contains([]byte(err.Error()), []byte("corrupt")) {
		t.Fatalf("corrupt key file: %v", err)
	}
	// Another installation's key file is refused.
	other := t.TempDir()
	b, err := Open(context.Background(), Options{Config: testConfig(other)})
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	foreign, _ := os.ReadFile(filepath.Join(other, "root.key"))
	_ = os.WriteFile(keyFile, foreign, 0o600)
	if _, err := Open(context.Background(), Options{Config: cfg}); err == nil || !bytes.Contains([]byte(err.Error()), []byte("does not belong")) {
		t.Fatalf("foreign key file: %v", err)
	}
	// Rotation survives a crash between the database commit and the rename.
	_ = os.WriteFile(keyFile, good, 0o600)
	a, err = Open(context.Background(), Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.RotateRootFile(context.Background()); err != nil {
		t.Fatal(err)
	}
	a.Close()
	rotated, _ := os.ReadFile(keyFile)
	if bytes.Equal(rotated, good) {
		t.Fatal("rotate-root left the key file unchanged")
	}
	// Simulate the crash: the new key still only in root.key.new.
	_ = os.WriteFile(keyFile+".new", rotated, 0o600)
	_ = os.WriteFile(keyFile, good, 0o600)
	a, err = Open(context.Background(), Options{Config: cfg})
	if err != nil {
		t.Fatalf("open after interrupted rotation: %v", err)
	}
	defer a.Close()
	if _, err := os.Stat(keyFile + ".new"); !os.IsNotExist(err) {
		t.Fatal("pending key file not committed")
	}
}
