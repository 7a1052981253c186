package keyring

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valvhq/valv/internal/seal"
	"github.com/valvhq/valv/internal/store"
	"github.com/valvhq/valv/internal/valvtest"
)

var ctx = context.Background()

func TestMain(m *testing.M) { valvtest.Main(m) }

func openDB(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(ctx, store.Options{Engine: store.SQLite, Path: valvtest.SQLitePath(t), GroupCommit: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return db
}

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func fileKeyring(t *testing.T, db *store.DB, c *clock) (*Keyring, RootKey) {
	t.Helper()
	fk := FileKey{Path: filepath.Join(t.TempDir(), "root.key")}
	key, err := fk.Create()
	if err != nil {
		t.Fatal(err)
	}
	root, err := NewMemoryRoot(key)
	if err != nil {
		t.Fatal(err)
	}
	kr := New(Options{DB: db, Provider: ProviderFile, Now: c.Now})
	if err := kr.Unlock(ctx, root); err != nil {
		t.Fatal(err)
	}
	return kr, root
}

// addTenant creates a tenant row with keys and a sealed security contact.
func addTenant(t *testing.T, db *store.DB, kr *Keyring, id, contact string) {
	t.Helper()
	row, _, err := kr.NewTenantKeys(id)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Write(ctx, func(tx *store.Tx) error { return tx.InsertKeyset(ctx, row) }); err != nil {
		t.Fatal(err)
	}
	s, err := kr.Sealer(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	ct, err := s.SealString(contact, contactLoc(id))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	err = db.Write(ctx, func(tx *store.Tx) error {
		return tx.InsertTenant(ctx, store.TenantRow{ID: id, Slug: id, Name: id, NameKey: id, Status: "active", Settings: []byte("{}"),
			SecurityContact: ct, CreatedAt: now, UpdatedAt: now})
	})
	if err != nil {
		t.Fatal(err)
	}
}

func contactLoc(id string) seal.Location {
	return seal.Location{Table: "tenants", Row: id, Field: "security_contact"}
}

func contact(t *testing.T, db *store.DB, kr *Keyring, id string) (string, error) {
	t.Helper()
	row, err := db.Reader().Tenant(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	s, err := kr.Sealer(ctx, id)
	if err != nil {
		return "", err
	}
	return s.OpenString(row.SecurityContact, contactLoc(id))
}

func TestFileProvider(t *testing.T) {
	db := openDB(t)
	c := &clock{t: time.Now()}
	kr, _ := fileKeyring(t, db, c)
	addTenant(t, db, kr, "t1", "security@acme.example")
	if got, err := contact(t, db, kr, "t1"); err != nil || got != "security@acme.example" {
		t.Fatalf("contact = %q %v", got, err)
	}
	// Another key is refused by the stored check value.
	other, _ := NewMemoryRoot(make([]byte, 32))
	kr2 := New(Options{DB: db, Provider: ProviderFile})
	if err := kr2.Unlock(ctx, other); !errors.Is(err, ErrWrongRootKey) {
		t.Fatalf("wrong root key: %v", err)
	}
	if _, err := kr2.Sealer(ctx, "t1"); !errors.Is(err, ErrSealed) {
		t.Fatalf("sealed keyring handed out a sealer: %v", err)
	}
	// A provider mismatch is explained.
	kr3 := New(Options{DB: db, Provider: ProviderShamir})
	if err := kr3.Unlock(ctx, other); err == nil || !strings.Contains(err.Error(), "file provider") {
		t.Fatalf("provider mismatch: %v", err)
	}
	kr.Seal()
	if _, err := kr.Sealer(ctx, "t1"); !errors.Is(err, ErrSealed) {
		t.Fatalf("after Seal: %v", err)
	}
}

func TestKeyFile(t *testing.T) {
	dir := t.TempDir()
	fk := FileKey{Path: filepath.Join(dir, "root.key")}
	if _, err := fk.Load(); !errors.Is(err, ErrNoKeyFile) {
		t.Fatalf("missing file: %v", err)
	}
	key, err := fk.Create()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fk.Create(); err == nil {
		t.Fatal("Create overwrote an existing key file")
	}
	got, err := fk.Load()
	if err != nil || string(got) != string(key) {
		t.Fatalf("Load = %v", err)
	}
	bad := []struct{ name, content string }{
		{"no header", "AAAA\n"},
		{"short key", fileHeader + "AAAA\n"},
		{"not base64", fileHeader + "!!!!\n"},
	}
	for _, b := range bad {
		p := filepath.Join(dir, b.name)
		if err := writeRaw(p, b.content, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := (FileKey{Path: p}).Load(); err == nil || !strings.Contains(err.Error(), "corrupt") {
			t.Errorf("%s: err = %v", b.name, err)
		}
	}
	p := filepath.Join(dir, "open")
	_ = writeRaw(p, fileHeader+strings.Repeat("A", 44)+"\n", 0o644)
	if _, err := (FileKey{Path: p}).Load(); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("world-readable key file: %v", err)
	}
}

func TestShamir(t *testing.T) {
	db := openDB(t)
	kr := New(Options{DB: db, Provider: ProviderShamir})
	shares, err := kr.InitShamir(ctx, 5, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(shares) != 5 {
		t.Fatalf("%d shares", len(shares))
	}
	if _, err := kr.InitShamir(ctx, 5, 3); err == nil {
		t.Fatal("second init allowed")
	}
	st, _ := kr.Status(ctx)
	if !st.Sealed || !st.Initialised || st.Threshold != 3 || st.Shares != 5 {
		t.Fatalf("status = %+v", st)
	}

	// Shares of another installation are rejected and do not count.
	otherDB := openDB(t)
	foreign, err := New(Options{DB: otherDB, Provider: ProviderShamir}).InitShamir(ctx, 5, 3)
	if err != nil {
		t.Fatal(err)
	}
	bad := []string{
		foreign[0],
		"not a share",
		mangleLast(shares[0]), // checksum
		strings.Replace(shares[1], ".2.", ".7.", 1),                                     // index changed: checksum fails
		forgeValue(t, shares[0]),                                                        // valid form, wrong value
		"valv1.0000000000000000.1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.00000000", // junk
	}
	for bi, b := range bad {
		st, err := kr.SubmitShare(ctx, b)
		if !errors.Is(err, ErrBadShare) {
			t.Errorf("bad share #%d %q: err = %v", bi, b, err)
		}
		if st.Progress != 0 {
			t.Errorf("bad share counted: progress %d", st.Progress)
		}
	}
	// K-1 shares leave it sealed; a repeated share does not count.
	for i, s := range shares[:2] {
		st, err := kr.SubmitShare(ctx, s)
		if err != nil || !st.Sealed || st.Progress != i+1 {
			t.Fatalf("share %d: %+v %v", i, st, err)
		}
	}
	if _, err := kr.SubmitShare(ctx, shares[1]); !errors.Is(err, ErrBadShare) {
		t.Fatalf("repeated share: %v", err)
	}
	if _, err := kr.Sealer(ctx, Platform); !errors.Is(err, ErrSealed) {
		t.Fatal("sealer with K-1 shares")
	}
	// The K-th distinct share unseals (any K of N).
	st, err = kr.SubmitShare(ctx, shares[4])
	if err != nil || st.Sealed {
		t.Fatalf("K shares: %+v %v", st, err)
	}
	addTenant(t, db, kr, "t1", "sec@example.se")

	// After sealing, another set of K shares unseals again.
	kr.Seal()
	for _, s := range []string{shares[3], shares[2], shares[0]} {
		if _, err := kr.SubmitShare(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := contact(t, db, kr, "t1"); err != nil || got != "sec@example.se" {
		t.Fatalf("after re-unseal: %q %v", got, err)
	}

	// Rekey: new shares with a new threshold; old shares stop working.
	newShares, err := kr.Rekey(ctx, shares[:3], 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := contact(t, db, kr, "t1"); err != nil || got != "sec@example.se" {
		t.Fatalf("after rekey: %q %v", got, err)
	}
	kr.Seal()
	if _, err := kr.SubmitShare(ctx, shares[0]); !errors.Is(err, ErrBadShare) {
		t.Fatalf("old share after rekey: %v", err)
	}
	for _, s := range newShares[1:] {
		if _, err := kr.SubmitShare(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := contact(t, db, kr, "t1"); err != nil || got != "sec@example.se" {
		t.Fatalf("unsealed with new shares: %q %v", got, err)
	}
}

// forgeValue keeps a share's form and checksum valid but changes its value.
func forgeValue(t *testing.T, share string) string {
	parts := strings.Split(share, ".")
	idx := parts[2]
	p, err := parseShare(share)
	if err != nil {
		t.Fatal(err)
	}
	v := p.share.Value.Copy()
	one := shareGroup.NewScalar()
	one.SetUint64(1)
	v.Add(v, one)
	raw, _ := v.MarshalBinary()
	n := 0
	fmt.Sscan(idx, &n)
	return encodeShare(parts[1], n, raw)
}

func TestRotationAndReencryption(t *testing.T) {
	db := openDB(t)
	c := &clock{t: time.Now()}
	kr, _ := fileKeyring(t, db, c)
	addTenant(t, db, kr, "t1", "old@example.se")
	before, _ := kr.Sealer(ctx, "t1")
	oldKey := before.PrimaryKeyID()

	newKey, err := kr.Rotate(ctx, "t1")
	if err != nil {
		t.Fatal(err)
	}
	after, _ := kr.Sealer(ctx, "t1")
	if after.PrimaryKeyID() != newKey || newKey == oldKey {
		t.Fatalf("primary after rotation = %d, want new %d", after.PrimaryKeyID(), newKey)
	}
	if got, err := contact(t, db, kr, "t1"); err != nil || got != "old@example.se" {
		t.Fatalf("old value after rotation: %q %v", got, err)
	}
	// Old keys cannot be retired while values use them.
	if _, err := kr.RetireOldKeys(ctx, "t1"); err == nil {
		t.Fatal("retired a key that still seals a value")
	}
	var calls int
	res, err := kr.Reencrypt(ctx, "t1", func(done, total int64) { calls++ })
	if err != nil || res.Reencrypted != 1 || calls == 0 {
		t.Fatalf("Reencrypt = %+v %v (progress calls %d)", res, err, calls)
	}
	st, _ := kr.KeyStatus(ctx, "t1")
	for _, k := range st.Keys {
		if k.ID == oldKey && k.Values != 0 || k.ID == newKey && k.Values != 1 {
			t.Fatalf("key status after re-encryption: %+v", st)
		}
	}
	// Re-running changes nothing.
	if res, err := kr.Reencrypt(ctx, "t1", nil); err != nil || res.Reencrypted != 0 {
		t.Fatalf("second Reencrypt = %+v %v", res, err)
	}
	n, err := kr.RetireOldKeys(ctx, "t1")
	if err != nil || n != 1 {
		t.Fatalf("RetireOldKeys = %d %v", n, err)
	}
	if got, err := contact(t, db, kr, "t1"); err != nil || got != "old@example.se" {
		t.Fatalf("value after retiring old key: %q %v", got, err)
	}
}

func TestDestroy(t *testing.T) {
	db := openDB(t)
	c := &clock{t: time.Now()}
	kr, _ := fileKeyring(t, db, c)
	addTenant(t, db, kr, "t1", "gone@example.se")
	addTenant(t, db, kr, "t2", "kept@example.se")
	if err := kr.Destroy(ctx, "t1"); err != nil {
		t.Fatal(err)
	}
	if _, err := contact(t, db, kr, "t1"); !errors.Is(err, ErrDestroyed) {
		t.Fatalf("destroyed tenant: %v", err)
	}
	if got, err := contact(t, db, kr, "t2"); err != nil || got != "kept@example.se" {
		t.Fatalf("other tenant: %q %v", got, err)
	}
	row, _ := db.Reader().Keyset(ctx, "t1")
	if len(row.AEAD)+len(row.PRF)+len(row.Stream) != 0 {
		t.Fatal("key material left after destroy")
	}
	if err := kr.Destroy(ctx, Platform); err == nil {
		t.Fatal("platform keyset destroyed")
	}
}

func TestRotateRoot(t *testing.T) {
	db := openDB(t)
	c := &clock{t: time.Now()}
	kr, oldRoot := fileKeyring(t, db, c)
	addTenant(t, db, kr, "t1", "a@example.se")
	newRoot, _ := NewMemoryRoot([]byte(strings.Repeat("k", 32)))
	if err := kr.RotateRoot(ctx, newRoot, ProviderFile, nil); err != nil {
		t.Fatal(err)
	}
	if got, err := contact(t, db, kr, "t1"); err != nil || got != "a@example.se" {
		t.Fatalf("after root rotation: %q %v", got, err)
	}
	if err := New(Options{DB: db, Provider: ProviderFile}).Unlock(ctx, oldRoot); !errors.Is(err, ErrWrongRootKey) {
		t.Fatalf("old root still accepted: %v", err)
	}
	kr2 := New(Options{DB: db, Provider: ProviderFile})
	if err := kr2.Unlock(ctx, newRoot); err != nil {
		t.Fatal(err)
	}
	if got, err := contact(t, db, kr2, "t1"); err != nil || got != "a@example.se" {
		t.Fatalf("new node with new root: %q %v", got, err)
	}
}

// TestTwoNodes: a rotation on one node reaches another within the cache
// TTL; a root rotation seals the other node.
func TestTwoNodes(t *testing.T) {
	db := openDB(t)
	c := &clock{t: time.Now()}
	a, root := fileKeyring(t, db, c)
	b := New(Options{DB: db, Provider: ProviderFile, Now: c.Now})
	if err := b.Unlock(ctx, root); err != nil {
		t.Fatal(err)
	}
	addTenant(t, db, a, "t1", "x@example.se")
	sb, _ := b.Sealer(ctx, "t1")
	newKey, err := a.Rotate(ctx, "t1")
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := b.Sealer(ctx, "t1"); s.PrimaryKeyID() != sb.PrimaryKeyID() {
		t.Fatal("cache not used within TTL")
	}
	c.Add(6 * time.Second)
	if s, _ := b.Sealer(ctx, "t1"); s.PrimaryKeyID() != newKey {
		t.Fatal("rotation not seen after TTL")
	}
	newRoot, _ := NewMemoryRoot([]byte(strings.Repeat("r", 32)))
	if err := a.RotateRoot(ctx, newRoot, ProviderFile, nil); err != nil {
		t.Fatal(err)
	}
	c.Add(6 * time.Second)
	if _, err := b.Sealer(ctx, "t1"); !errors.Is(err, ErrSealed) {
		t.Fatalf("node with a stale root key: %v", err)
	}
	if !b.Sealed() {
		t.Fatal("node with a stale root key did not seal itself")
	}
}

func FuzzParseShare(f *testing.F) {
	_, shares, _, _ := shamirSplit(3, 2, "0123456789abcdef")
	for _, s := range shares {
		f.Add(s)
	}
	f.Add("valv1....")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = parseShare(s)
	})
}

func writeRaw(path, content string, mode os.FileMode) error {
	return os.WriteFile(path, []byte(content), mode)
}

// mangleLast changes the last character of s to a different hex digit.
func mangleLast(s string) string {
	last := s[len(s)-1]
	repl := byte('0')
	if last == '0' {
		repl = '1'
	}
	return s[:len(s)-1] + string(repl)
}
