package app

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"

	"github.com/valvhq/valv/internal/api"
	"github.com/valvhq/valv/internal/audit"
	"github.com/valvhq/valv/internal/keyring"
	"github.com/valvhq/valv/internal/problem"
	"github.com/valvhq/valv/internal/store"
)

// UnsealPrompt asks a key holder for one unseal share; progress shares of
// threshold were given so far.
type UnsealPrompt func(ctx context.Context, progress, threshold int) (string, error)

// openRoot loads the root key from the configured provider. File and
// PKCS#11 keys unseal at once; Shamir stays sealed unless prompt is given.
func (a *App) openRoot(ctx context.Context, prompt UnsealPrompt) error {
	switch a.cfg.Keys.Provider {
	case keyring.ProviderFile:
		return a.openFileRoot(ctx)
	case keyring.ProviderPKCS11:
		_, err := a.db.Reader().RootKey(ctx)
		fresh := errors.Is(err, store.ErrNotFound)
		if err != nil && !fresh {
			return err
		}
		root, closer, err := openHSM(a.cfg.Keys.PKCS11, fresh)
		if err != nil {
			return err
		}
		a.closers = append(a.closers, closer)
		return a.Keys.Unlock(ctx, root)
	case keyring.ProviderShamir:
		if prompt == nil {
			return nil // serve starts sealed; key holders unseal it
		}
		return a.unsealInteractively(ctx, prompt)
	}
	return fmt.Errorf("unknown key provider %q", a.cfg.Keys.Provider)
}

func (a *App) openFileRoot(ctx context.Context) error {
	fk := keyring.FileKey{Path: a.cfg.RootKeyFile()}
	key, err := fk.Load()
	if errors.Is(err, keyring.ErrNoKeyFile) {
		if _, rerr := a.db.Reader().RootKey(ctx); rerr == nil {
			// Data exists but its key is gone: never make a new one.
			if pending, perr := fk.LoadPending(); perr == nil {
				return a.unlockFile(ctx, fk, pending, true)
			}
			return fmt.Errorf("the root key file %s is missing, but this installation's data was encrypted with it; restore the file", fk.Path)
		}
		key, err = fk.Create()
		if err == nil {
			fmt.Fprintf(a.out, "Created a root key file: %s (keep it secret, and back it up apart from the data)\n", fk.Path)
		}
	}
	if err != nil {
		return err
	}
	return a.unlockFile(ctx, fk, key, false)
}

func (a *App) unlockFile(ctx context.Context, fk keyring.FileKey, key []byte, isPending bool) error {
	root, err := keyring.NewMemoryRoot(key)
	clear(key)
	if err != nil {
		return err
	}
	err = a.Keys.Unlock(ctx, root)
	if isPending && err == nil {
		return fk.CommitPending()
	}
	if errors.Is(err, keyring.ErrWrongRootKey) && !isPending {
		// A rotation may have committed the database but not the file.
		if pending, perr := fk.LoadPending(); perr == nil {
			return a.unlockFile(ctx, fk, pending, true)
		}
		return fmt.Errorf("the root key file %s does not belong to this installation's data", fk.Path)
	}
	return err
}

func (a *App) unsealInteractively(ctx context.Context, prompt UnsealPrompt) error {
	for a.Keys.Sealed() {
		st, err := a.Keys.Status(ctx)
		if err != nil {
			return err
		}
		if !st.Initialised {
			return keyring.ErrNotInitialised
		}
		share, err := prompt(ctx, st.Progress, st.Threshold)
		if err != nil {
			return err
		}
		if _, err := a.Keys.SubmitShare(ctx, share); err != nil {
			if errors.Is(err, keyring.ErrBadShare) {
				fmt.Fprintf(a.out, "%v\n", err)
				continue
			}
			return err
		}
	}
	return nil
}

// InitShamir creates a Shamir-split root key and returns the shares.
func (a *App) InitShamir(ctx context.Context, shares, threshold int) ([]string, error) {
	if a.cfg.Keys.Provider != keyring.ProviderShamir {
		return nil, fmt.Errorf("keys.provider is %s; set it to shamir to split the root key among key holders", a.cfg.Keys.Provider)
	}
	return a.Keys.InitShamir(ctx, shares, threshold)
}

// Rekey replaces the Shamir root key, given threshold current shares.
func (a *App) Rekey(ctx context.Context, current []string, shares, threshold int) ([]string, error) {
	return a.Keys.Rekey(ctx, current, shares, threshold)
}

// RotateRootFile replaces the file provider's root key: the new key is
// written beside the old, every keyset is re-wrapped in one transaction,
// then the new file replaces the old.
func (a *App) RotateRootFile(ctx context.Context) error {
	if a.cfg.Keys.Provider != keyring.ProviderFile {
		return errors.New("rotate-root works on the file provider; with shamir use 'valv operator rekey'")
	}
	fk := keyring.FileKey{Path: a.cfg.RootKeyFile()}
	key := make([]byte, keyring.RootKeySize)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	defer clear(key)
	if err := fk.WritePending(key); err != nil {
		return err
	}
	root, err := keyring.NewMemoryRoot(key)
	if err != nil {
		return err
	}
	if err := a.Keys.RotateRoot(ctx, root, keyring.ProviderFile, nil); err != nil {
		return err
	}
	return fk.CommitPending()
}

// sealControl adapts the keyring to the API's view of it.
type sealControl struct {
	kr    *keyring.Keyring
	trail *audit.Trail
}

func toAPIStatus(st keyring.Status) api.SealStatus {
	return api.SealStatus{Initialized: st.Initialised, Sealed: st.Sealed, Provider: st.Provider,
		Threshold: st.Threshold, Shares: st.Shares, Progress: st.Progress}
}

func (s sealControl) SealStatus(ctx context.Context) (api.SealStatus, error) {
	st, err := s.kr.Status(ctx)
	return toAPIStatus(st), err
}

func (s sealControl) Unseal(ctx context.Context, share string, reset bool) (api.SealStatus, error) {
	if reset {
		s.kr.ResetShares()
	}
	st, err := s.kr.Status(ctx)
	if err != nil {
		return api.SealStatus{}, err
	}
	if st.Provider != keyring.ProviderShamir {
		return toAPIStatus(st), problem.Conflict("no_shares", "This installation's root key is not split into shares; it unseals by itself.")
	}
	if share == "" {
		return toAPIStatus(st), nil
	}
	st, err = s.kr.SubmitShare(ctx, share)
	if err == nil && !st.Sealed {
		// The call began sealed, so it is not audited as it goes: its
		// entry is written now that there are keys again.
		actx, _ := audit.Begin(ctx, "sys.unseal")
		audit.Describe(actx, audit.Description{ResourceType: "root_key"})
		if werr := s.trail.Finish(actx, http.StatusOK, nil); werr != nil {
			return toAPIStatus(st), werr
		}
	}
	switch {
	case errors.Is(err, keyring.ErrBadShare):
		return toAPIStatus(st), problem.Invalid("invalid_share", "The share was not accepted: "+shareReason(err))
	case errors.Is(err, keyring.ErrNotInitialised):
		return toAPIStatus(st), problem.Conflict("not_initialized", "Valv has no root key yet: run 'valv operator init'.")
	case errors.Is(err, keyring.ErrWrongRootKey):
		return toAPIStatus(st), problem.Invalid("invalid_share", "The shares do not recover this installation's root key.")
	}
	return toAPIStatus(st), err
}

func (s sealControl) Seal(ctx context.Context, share string) error {
	if err := s.kr.VerifyShare(ctx, share); err != nil {
		if errors.Is(err, keyring.ErrBadShare) {
			return problem.Forbidden("invalid_share", "Sealing needs one valid unseal share: "+shareReason(err))
		}
		return problem.Conflict("no_shares", "This installation's root key is not split into shares.")
	}
	// Record the sealing while there are still keys to write it with.
	audit.Describe(ctx, audit.Description{ResourceType: "root_key"})
	if err := s.trail.Finish(ctx, http.StatusNoContent, nil); err != nil {
		return err
	}
	s.kr.Seal()
	return nil
}

// shareReason is the public part of a share error (never the share itself).
func shareReason(err error) string {
	msg := err.Error()
	const prefix = "keyring: invalid unseal share: "
	if len(msg) > len(prefix) && msg[:len(prefix)] == prefix {
		return msg[len(prefix):]
	}
	return "it is not a valid unseal share."
}
