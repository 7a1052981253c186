package audit

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/google/uuid"
	"golang.org/x/mod/sumdb/note"

	"github.com/valvhq/valv/internal/seal"
	"github.com/valvhq/valv/internal/store"
)

// The audit signing key is an Ed25519 key in the signed-note format
// (golang.org/x/mod/sumdb/note). Its private half is sealed under the
// platform keyset, so it is only usable while Valv is unsealed; its public
// half (the verifier key) is published for tenants and outside parties.

type signerCache struct {
	mu        sync.Mutex
	signer    note.Signer
	verifiers []note.Verifier
	vkeys     []string
}

func signerLocation(id string) seal.Location {
	return seal.Location{Table: "audit_keys", Row: id, Field: "signer"}
}

// keyName is the signed-note name of this installation's audit key.
func (t *Trail) keyName() string {
	inst := strings.ReplaceAll(t.installation, "-", "")
	if len(inst) > 12 {
		inst = inst[:12]
	}
	if inst == "" {
		inst = "unnamed"
	}
	return "valv-audit-" + inst
}

// signerKeys returns the current signer and every verifier (current and
// retired), creating the first key when there is none.
func (t *Trail) signerKeys(ctx context.Context) (note.Signer, []note.Verifier, []string, error) {
	t.keysCache.mu.Lock()
	defer t.keysCache.mu.Unlock()
	if t.keysCache.signer != nil {
		return t.keysCache.signer, t.keysCache.verifiers, t.keysCache.vkeys, nil
	}
	rows, err := t.db.Reader().AuditKeys(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	sealer, err := t.keys.Sealer(ctx, Platform)
	if err != nil {
		return nil, nil, nil, err
	}
	if len(rows) == 0 {
		skey, vkey, err := note.GenerateKey(rand.Reader, t.keyName())
		if err != nil {
			return nil, nil, nil, err
		}
		id := uuid.Must(uuid.NewV7()).String()
		sealed, err := sealer.SealString(skey, signerLocation(id))
		if err != nil {
			return nil, nil, nil, err
		}
		row := store.AuditKeyRow{ID: id, Name: t.keyName(), Verifier: vkey, Signer: sealed, CreatedAt: t.now().UTC()}
		err = t.db.Write(ctx, func(tx *store.Tx) error { return tx.InsertAuditKey(ctx, row) })
		if err != nil {
			return nil, nil, nil, fmt.Errorf("audit: store signing key: %w", err)
		}
		if rows, err = t.db.Reader().AuditKeys(ctx); err != nil {
			return nil, nil, nil, err
		}
	}
	for i, r := range rows {
		v, err := note.NewVerifier(r.Verifier)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("audit: verifier key %s: %w", r.ID, err)
		}
		t.keysCache.verifiers = append(t.keysCache.verifiers, v)
		t.keysCache.vkeys = append(t.keysCache.vkeys, r.Verifier)
		if i == 0 && r.RetiredAt.IsZero() {
			skey, err := sealer.OpenString(r.Signer, signerLocation(r.ID))
			if err != nil {
				return nil, nil, nil, fmt.Errorf("audit: signing key: %w", err)
			}
			if t.keysCache.signer, err = note.NewSigner(skey); err != nil {
				return nil, nil, nil, err
			}
		}
	}
	if t.keysCache.signer == nil {
		return nil, nil, nil, errors.New("audit: no current signing key")
	}
	return t.keysCache.signer, t.keysCache.verifiers, t.keysCache.vkeys, nil
}

// VerifierKeys returns the public keys that check checkpoints (the
// current one first), in the signed-note verifier-key format.
func (t *Trail) VerifierKeys(ctx context.Context) ([]string, error) {
	_, _, vkeys, err := t.signerKeys(ctx)
	return vkeys, err
}

// Sign signs text (a checkpoint, a receipt, a report) with the audit key
// in the signed-note format.
func (t *Trail) Sign(ctx context.Context, text string) ([]byte, error) {
	s, _, _, err := t.signerKeys(ctx)
	if err != nil {
		return nil, err
	}
	if !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	return note.Sign(&note.Note{Text: text}, s)
}

// OpenSigned checks a signed note against the audit verifier keys and
// returns its text.
func (t *Trail) OpenSigned(ctx context.Context, msg []byte) (string, error) {
	_, vs, _, err := t.signerKeys(ctx)
	if err != nil {
		return "", err
	}
	n, err := note.Open(msg, note.VerifierList(vs...))
	if err != nil {
		return "", fmt.Errorf("audit: signature does not verify: %w", err)
	}
	return n.Text, nil
}

// VerifySigned checks a signed note against one verifier key, without a
// Valv: what an outside party does with a checkpoint or a receipt.
func VerifySigned(msg []byte, verifierKey string) (string, error) {
	v, err := note.NewVerifier(verifierKey)
	if err != nil {
		return "", fmt.Errorf("audit: verifier key: %w", err)
	}
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		return "", fmt.Errorf("audit: signature does not verify: %w", err)
	}
	return n.Text, nil
}
