//go:build pkcs11

package hsm

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/valvhq/valv/internal/keyring"
	"github.com/valvhq/valv/internal/seal"
	"github.com/valvhq/valv/internal/store"
	"github.com/valvhq/valv/internal/valvtest"
)

func TestMain(m *testing.M) { valvtest.Main(m) }

func TestSoftHSM(t *testing.T) {
	opts := valvtest.SoftHSM(t)
	if _, err := Open(opts2(opts, false)); err == nil || !strings.Contains(err.Error(), "no root key") {
		t.Fatalf("missing key without Create: %v", err)
	}
	k, err := Open(opts2(opts, true))
	if err != nil {
		t.Fatal(err)
	}
	ct, err := k.Encrypt([]byte("tenant keyset"), []byte("ad"))
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := k.Decrypt(ct, []byte("ad")); err != nil || string(pt) != "tenant keyset" {
		t.Fatalf("round trip: %q %v", pt, err)
	}
	if _, err := k.Decrypt(ct, []byte("other")); err == nil {
		t.Fatal("opened with other associated data")
	}
	bad := bytes.Clone(ct)
	bad[len(bad)-1] ^= 1
	if _, err := k.Decrypt(bad, []byte("ad")); err == nil {
		t.Fatal("opened a tampered ciphertext")
	}
	if _, err := k.Decrypt(ct[:10], []byte("ad")); err == nil {
		t.Fatal("opened a truncated ciphertext")
	}

	// The key is not extractable: its value cannot be read.
	// (A second session finds the same key and opens what the first sealed.)
	k2, err := Open(opts2(opts, false))
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := k2.Decrypt(ct, []byte("ad")); err != nil || string(pt) != "tenant keyset" {
		t.Fatalf("second session: %q %v", pt, err)
	}
	k2.Close()

	// A keyring on the HSM root key works end to end.
	db, err := store.Open(context.Background(), store.Options{Engine: store.SQLite, Path: valvtest.SQLitePath(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	kr := keyring.New(keyring.Options{DB: db, Provider: keyring.ProviderPKCS11})
	if err := kr.Unlock(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	s, err := kr.Sealer(context.Background(), keyring.Platform)
	if err != nil {
		t.Fatal(err)
	}
	loc := seal.Location{Table: "t", Row: "r", Field: "f"}
	v, _ := s.SealString("x", loc)
	if got, err := s.OpenString(v, loc); err != nil || got != "x" {
		t.Fatal(err)
	}

	// Bad configuration is explained (with every session closed, so that
	// the process is logged out).
	kr.Seal()
	k.Close()
	wrong := opts2(opts, false)
	wrong.PIN = "0000"
	if _, err := Open(wrong); err == nil || !strings.Contains(err.Error(), "pin") {
		t.Fatalf("wrong PIN: %v", err)
	}
	wrong = opts2(opts, false)
	wrong.TokenLabel = "nope"
	if _, err := Open(wrong); err == nil || !strings.Contains(err.Error(), "no token labelled") {
		t.Fatalf("wrong token: %v", err)
	}
}

func opts2(o valvtest.SoftHSMToken, create bool) Options {
	return Options{Module: o.Module, TokenLabel: o.Label, PIN: o.PIN, KeyLabel: "valv-root-key", Create: create}
}
