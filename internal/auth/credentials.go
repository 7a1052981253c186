package auth

import (
	"bytes"
	"context"
	"encoding/base64"
	"image/png"

	"github.com/pquerna/otp/totp"

	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/problem"
	"github.com/valvhq/valv/internal/store"
)

// self loads the principal's own account, after checking the action.
func (s *Service) self(ctx context.Context, p authz.Principal, a authz.Action) (store.AccountRow, error) {
	if err := s.requireSelf(p, a); err != nil {
		return store.AccountRow{}, err
	}
	acc, err := s.db.Reader().Account(ctx, tenantKey(p.TenantID), p.ID)
	if err != nil {
		return store.AccountRow{}, err
	}
	return acc, nil
}

// TOTPEnrolment is what an authenticator app needs to add an account.
type TOTPEnrolment struct {
	Secret string `json:"secret"`
	URL    string `json:"otpauth_url"`
	// QRCode is a PNG image of URL, base64-encoded.
	QRCode string `json:"qr_png_base64"`
}

// BeginTOTP makes a new TOTP secret for the principal (stored sealed, not
// yet active) and returns it with a QR code. ConfirmTOTP activates it.
func (s *Service) BeginTOTP(ctx context.Context, p authz.Principal) (TOTPEnrolment, error) {
	acc, err := s.self(ctx, p, authz.SelfCredentials)
	if err != nil {
		return TOTPEnrolment{}, err
	}
	sealer, err := s.keys.Sealer(ctx, acc.TenantID)
	if err != nil {
		return TOTPEnrolment{}, err
	}
	email, err := sealer.OpenString(acc.Email, accountLocation(acc.ID, "email"))
	if err != nil {
		return TOTPEnrolment{}, err
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: "Valv (" + s.publicURL.Hostname() + ")", AccountName: email, SecretSize: 20})
	if err != nil {
		return TOTPEnrolment{}, err
	}
	img, err := key.Image(240, 240)
	if err != nil {
		return TOTPEnrolment{}, err
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return TOTPEnrolment{}, err
	}
	sealed, err := sealer.SealString(key.Secret(), accountLocation(acc.ID, "totp_secret"))
	if err != nil {
		return TOTPEnrolment{}, err
	}
	acc.TOTPSecret, acc.TOTPEnabled, acc.TOTPLastStep = sealed, false, 0
	acc.UpdatedAt = s.now().UTC()
	if err := s.change(ctx, "account.totp.begin", "account", acc.ID, acc.TenantID, func(tx *store.Tx) error { return tx.UpdateAccount(ctx, acc) }); err != nil {
		return TOTPEnrolment{}, err
	}
	return TOTPEnrolment{Secret: key.Secret(), URL: key.URL(), QRCode: base64.StdEncoding.EncodeToString(buf.Bytes())}, nil
}

// ConfirmTOTP activates the pending TOTP secret once the app shows a valid
// code, and returns ten single-use recovery codes (shown once).
func (s *Service) ConfirmTOTP(ctx context.Context, p authz.Principal, code string) ([]string, error) {
	acc, err := s.self(ctx, p, authz.SelfCredentials)
	if err != nil {
		return nil, err
	}
	if len(acc.TOTPSecret) == 0 {
		return nil, problem.Conflict("no_totp_enrolment", "Start the authenticator set-up first.")
	}
	if acc.TOTPEnabled {
		return nil, problem.Conflict("totp_enabled", "An authenticator is already set up. Remove it first to set up another.")
	}
	acc.TOTPEnabled = true // checkTOTP needs it
	ok, err := s.checkTOTP(ctx, acc, code)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, problem.Invalid("invalid_code", "The code is not right. Check the time on your phone and try the next code.",
			problem.Field("/code", "invalid_code", "Enter the 6 digits your app shows now."))
	}
	acc, err = s.db.Reader().Account(ctx, acc.TenantID, acc.ID)
	if err != nil {
		return nil, err
	}
	acc.TOTPEnabled = true
	acc.UpdatedAt = s.now().UTC()
	codes, hashes := newRecoveryCodes(acc.ID)
	err = s.change(ctx, "account.totp.enable", "account", acc.ID, acc.TenantID, func(tx *store.Tx) error {
		if err := tx.UpdateAccount(ctx, acc); err != nil {
			return err
		}
		return tx.ReplaceRecoveryCodes(ctx, acc.ID, hashes)
	})
	return codes, err
}

// DisableTOTP removes the authenticator after re-checking the password.
func (s *Service) DisableTOTP(ctx context.Context, p authz.Principal, password string) error {
	acc, err := s.reauthenticate(ctx, p, password)
	if err != nil {
		return err
	}
	acc.TOTPSecret, acc.TOTPEnabled, acc.TOTPLastStep = nil, false, 0
	acc.UpdatedAt = s.now().UTC()
	return s.change(ctx, "account.totp.disable", "account", acc.ID, acc.TenantID, func(tx *store.Tx) error {
		if err := tx.UpdateAccount(ctx, acc); err != nil {
			return err
		}
		return tx.ReplaceRecoveryCodes(ctx, acc.ID, nil)
	})
}

// NewRecoveryCodes replaces the recovery codes after re-checking the password.
func (s *Service) NewRecoveryCodes(ctx context.Context, p authz.Principal, password string) ([]string, error) {
	acc, err := s.reauthenticate(ctx, p, password)
	if err != nil {
		return nil, err
	}
	if !acc.TOTPEnabled {
		return nil, problem.Conflict("no_totp", "Recovery codes go with an authenticator app; set one up first.")
	}
	codes, hashes := newRecoveryCodes(acc.ID)
	return codes, s.change(ctx, "account.recovery_codes.replace", "account", acc.ID, acc.TenantID, func(tx *store.Tx) error { return tx.ReplaceRecoveryCodes(ctx, acc.ID, hashes) })
}

var errWrongPassword = problem.Invalid("wrong_password", "The current password is not right.", problem.Field("/current_password", "wrong_password", "Enter your current password."))

// reauthenticate checks the principal's password for a sensitive change.
func (s *Service) reauthenticate(ctx context.Context, p authz.Principal, password string) (store.AccountRow, error) {
	acc, err := s.self(ctx, p, authz.SelfCredentials)
	if err != nil {
		return store.AccountRow{}, err
	}
	if acc.PasswordHash == "" {
		s.hasher.Burn(ctx, password)
		return store.AccountRow{}, errWrongPassword
	}
	ok, _, err := s.hasher.Verify(ctx, acc.PasswordHash, password)
	if err != nil {
		return store.AccountRow{}, err
	}
	if !ok {
		return store.AccountRow{}, errWrongPassword
	}
	return acc, nil
}

// ChangePassword sets a new password after checking the current one, and
// ends every other session of the account.
func (s *Service) ChangePassword(ctx context.Context, p authz.Principal, current, next string) error {
	acc, err := s.reauthenticate(ctx, p, current)
	if err != nil {
		return err
	}
	if err := s.checkPasswordFor(ctx, acc, next); err != nil {
		return err
	}
	hash, err := s.hasher.Hash(ctx, next)
	if err != nil {
		return err
	}
	now := s.now().UTC()
	acc.PasswordHash, acc.PasswordChangedAt, acc.UpdatedAt = hash, now, now
	return s.change(ctx, "account.password.change", "account", acc.ID, acc.TenantID, func(tx *store.Tx) error {
		if err := tx.UpdateAccount(ctx, acc); err != nil {
			return err
		}
		keep := []byte{}
		rows, err := tx.Sessions(ctx, acc.TenantID, acc.ID)
		if err != nil {
			return err
		}
		for _, r := range rows {
			if r.PublicID == p.Session {
				keep = r.ID
			}
		}
		_, err = tx.DeleteAccountSessions(ctx, acc.TenantID, acc.ID, keep)
		return err
	})
}

// checkPasswordFor applies the policy with the account's own words as context.
func (s *Service) checkPasswordFor(ctx context.Context, acc store.AccountRow, password string) error {
	var words []string
	if sealer, err := s.keys.Sealer(ctx, acc.TenantID); err == nil {
		if email, err := sealer.OpenString(acc.Email, accountLocation(acc.ID, "email")); err == nil {
			words = append(words, email)
		}
	}
	if acc.Kind == string(authz.User) {
		if pol, err := s.policies.LoginPolicy(ctx, acc.TenantID); err == nil {
			words = append(words, pol.Name)
		}
	}
	return CheckNewPassword(password, words...)
}
