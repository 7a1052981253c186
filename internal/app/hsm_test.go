//go:build pkcs11

package app

import (
	"context"
	"testing"

	"github.com/valvhq/valv/internal/config"
	"github.com/valvhq/valv/internal/tenant"
	"github.com/valvhq/valv/internal/valvtest"
)

// TestPKCS11Provider runs the app on a root key inside SoftHSM2.
func TestPKCS11Provider(t *testing.T) {
	tok := valvtest.SoftHSM(t)
	cfg := testConfig(t.TempDir())
	cfg.Keys.Provider = "pkcs11"
	cfg.Keys.PKCS11 = config.PKCS11{Module: tok.Module, TokenLabel: tok.Label, PIN: config.Secret(tok.PIN), KeyLabel: "valv-root-key"}
	ctx := context.Background()
	a, err := Open(ctx, Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	tn, err := a.Tenants.Create(ctx, op, tenant.CreateInput{Name: "HSM AB", SecurityContact: "sec@hsm.se"})
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	a, err = Open(ctx, Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	got, err := a.Tenants.LoginPolicy(ctx, tn.Tenant.ID)
	if err != nil || got.SecurityContact != "sec@hsm.se" {
		t.Fatalf("after reopening: %q %v", got.SecurityContact, err)
	}
}
