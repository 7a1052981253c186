package api

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/valvhq/valv/internal/auth"
	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/problem"
)

func (a *API) authRoutes() []Route {
	t := func(r Route) Route { return r.tag("auth") }
	return []Route{
		a.route("POST", "/api/v1/auth/login", "auth.login", Public, 200, "Log in with organisation, e-mail and password; may ask for a second factor", a.login).with(t).body(loginRequest{}).returns(loginResponse{}),
		a.route("POST", "/api/v1/auth/login/mfa", "auth.login.mfa", Public, 200, "Complete a login with a TOTP code, an e-mailed code or a recovery code", a.loginMFA).with(t).body(mfaRequest{}).returns(loginResponse{}),
		a.route("POST", "/api/v1/auth/login/email-code", "auth.login.email_code", Public, 204, "E-mail a one-time code for a login's second step", a.loginEmailCode).with(t).body(challengeRequest{}),
		a.route("POST", "/api/v1/auth/login/passkey/begin", "auth.login.passkey.begin", Public, 200, "Ask for a passkey as a login's second step", a.loginPasskeyBegin).with(t).body(challengeRequest{}).returns(passkeyOptions{}),
		a.route("POST", "/api/v1/auth/login/passkey/finish", "auth.login.passkey", Public, 200, "Complete a login's second step with a passkey", a.loginPasskeyFinish).with(t).body(passkeyAssertion{}).returns(loginResponse{}),
		a.route("POST", "/api/v1/auth/passkey/begin", "auth.passkey_login.begin", Public, 200, "Start a passwordless login with a passkey", a.passkeyLoginBegin).with(t).body(passkeyLoginBegin{}).returns(passkeyOptions{}),
		a.route("POST", "/api/v1/auth/passkey/finish", "auth.passkey_login", Public, 200, "Complete a passwordless passkey login", a.passkeyLoginFinish).with(t).body(passkeyAssertion{}).returns(loginResponse{}),
		a.route("GET", "/api/v1/auth/oidc/{tenant}/start", "auth.oidc.start", Public, 303, "Start a single sign-on login with the organisation's identity provider", a.oidcStart).with(t),
		a.route("GET", "/api/v1/auth/oidc/callback", "auth.oidc.login", Public, 303, "Where the identity provider returns the user", a.oidcCallback).with(t),
		a.route("POST", "/api/v1/auth/setup", "account.setup", Public, 200, "Set the password of a new account from its one-time setup link", a.setup).with(t).body(setupRequest{}).returns(auth.Account{}),
		a.route("POST", "/api/v1/auth/password/forgot", "account.password.forgot", Public, 202, "Mail a password-reset link (answers the same whether the account exists or not)", a.forgotPassword).with(t).body(forgotRequest{}),
		a.route("POST", "/api/v1/auth/password/reset", "account.password.reset", Public, 204, "Set a new password from a reset link; ends all sessions", a.resetPassword).with(t).body(resetRequest{}),
		a.route("POST", "/api/v1/auth/logout", "auth.logout", Session, 204, "End this session", a.logout).with(t),
		a.route("POST", "/api/v1/auth/logout-everywhere", "auth.logout_everywhere", Session, 200, "End every session of this account", a.logoutEverywhere).with(t).returns(endedResponse{}),
		a.route("GET", "/api/v1/auth/me", "self.read", Session, 200, "Who is logged in", a.me).with(t).returns(meResponse{}),
		a.route("POST", "/api/v1/auth/password", "account.password.change", Session, 204, "Change the password (ends the account's other sessions)", a.changePassword).with(t).body(changePasswordRequest{}),
		a.route("POST", "/api/v1/auth/totp", "account.totp.begin", Session, 200, "Start setting up an authenticator app (returns the secret and a QR code)", a.totpBegin).with(t).returns(auth.TOTPEnrolment{}),
		a.route("POST", "/api/v1/auth/totp/confirm", "account.totp.enable", Session, 200, "Activate the authenticator with a code; returns ten recovery codes, once", a.totpConfirm).with(t).body(codeRequest{}).returns(recoveryCodes{}),
		a.route("POST", "/api/v1/auth/totp/disable", "account.totp.disable", Session, 204, "Remove the authenticator (needs the password)", a.totpDisable).with(t).body(passwordRequest{}),
		a.route("POST", "/api/v1/auth/recovery-codes", "account.recovery_codes.replace", Session, 200, "Replace the recovery codes (needs the password)", a.recoveryCodes).with(t).body(passwordRequest{}).returns(recoveryCodes{}),
		a.route("GET", "/api/v1/auth/passkeys", "account.passkey.list", Session, 200, "List this account's passkeys", a.listPasskeys).with(t).returns([]auth.Passkey{}),
		a.route("POST", "/api/v1/auth/passkeys/begin", "account.passkey.begin", Session, 200, "Start registering a passkey", a.passkeyRegisterBegin).with(t).returns(passkeyOptions{}),
		a.route("POST", "/api/v1/auth/passkeys/finish", "account.passkey.add", Session, 201, "Finish registering a passkey", a.passkeyRegisterFinish).with(t).body(passkeyRegistration{}).returns(auth.Passkey{}),
		a.route("DELETE", "/api/v1/auth/passkeys/{id}", "account.passkey.delete", Session, 204, "Remove a passkey", a.deletePasskey).with(t),
		a.route("GET", "/api/v1/sessions", "session.list", Session, 200, "List this account's sessions", a.listSessions).with(t).returns([]auth.SessionView{}),
		a.route("DELETE", "/api/v1/sessions/{id}", "session.revoke", Session, 204, "End one of this account's sessions", a.revokeSession).with(t),
	}
}

type loginRequest struct {
	Tenant   string `json:"tenant,omitempty"`
	Email    string `json:"email"`
	Password string `json:"password"`
}

// loginResponse is either "authenticated" (a session cookie is set) or
// "mfa_required" with a challenge for the second step.
type loginResponse struct {
	Status    string      `json:"status"`
	Challenge string      `json:"challenge,omitempty"`
	Methods   []string    `json:"methods,omitempty"`
	ExpiresAt time.Time   `json:"expires_at"`
	Principal *principalV `json:"principal,omitempty"`
}

type principalV struct {
	Kind     string `json:"kind"`
	ID       string `json:"id"`
	TenantID string `json:"tenant_id,omitempty"`
	Role     string `json:"role"`
	Session  string `json:"session,omitempty"`
	MFA      bool   `json:"mfa"`
}

func viewPrincipal(p authz.Principal) *principalV {
	return &principalV{Kind: string(p.Kind), ID: p.ID, TenantID: p.TenantID, Role: string(p.Role), Session: p.Session, MFA: p.MFA}
}

// setSession sets the session cookie: Secure, HttpOnly, SameSite=Strict.
func setSession(w http.ResponseWriter, s auth.NewSession, now time.Time) {
	http.SetCookie(w, &http.Cookie{Name: auth.CookieName, Value: s.Token, Path: "/", Secure: true, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, MaxAge: int(s.ExpiresAt.Sub(now).Seconds())})
}

func clearSession(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: auth.CookieName, Value: "", Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode, MaxAge: -1})
}

func (a *API) writeLogin(w http.ResponseWriter, res auth.LoginResult) error {
	if res.Session != nil {
		return a.writeSession(w, *res.Session)
	}
	return writeJSON(w, http.StatusOK, loginResponse{Status: "mfa_required", Challenge: res.Challenge, Methods: res.Methods, ExpiresAt: res.ExpiresAt})
}

func (a *API) writeSession(w http.ResponseWriter, s auth.NewSession) error {
	setSession(w, s, a.now())
	return writeJSON(w, http.StatusOK, loginResponse{Status: "authenticated", ExpiresAt: s.ExpiresAt, Principal: viewPrincipal(s.Principal)})
}

func (a *API) login(w http.ResponseWriter, r *http.Request) error {
	var req loginRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	res, err := a.auth.Login(r.Context(), auth.LoginRequest{Tenant: req.Tenant, Email: req.Email, Password: req.Password})
	if err != nil {
		return err
	}
	return a.writeLogin(w, res)
}

type challengeRequest struct {
	Challenge string `json:"challenge"`
}

type mfaRequest struct {
	Challenge string `json:"challenge"`
	Method    string `json:"method"`
	Code      string `json:"code"`
}

func (a *API) loginMFA(w http.ResponseWriter, r *http.Request) error {
	var req mfaRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	s, err := a.auth.SecondFactor(r.Context(), req.Challenge, req.Method, req.Code)
	if err != nil {
		return err
	}
	return a.writeSession(w, s)
}

func (a *API) loginEmailCode(w http.ResponseWriter, r *http.Request) error {
	var req challengeRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if err := a.auth.SendEmailCode(r.Context(), req.Challenge); err != nil {
		return err
	}
	return noContent(w)
}

// passkeyOptions carries the options for navigator.credentials and, where
// the ceremony is not tied to a login challenge, its ceremony token.
type passkeyOptions struct {
	Ceremony string          `json:"ceremony,omitempty"`
	Options  json.RawMessage `json:"options"`
}

type passkeyAssertion struct {
	Challenge  string          `json:"challenge,omitempty"`
	Ceremony   string          `json:"ceremony,omitempty"`
	Credential json.RawMessage `json:"credential"`
}

type passkeyLoginBegin struct {
	Tenant string `json:"tenant,omitempty"`
}

type passkeyRegistration struct {
	Ceremony   string          `json:"ceremony"`
	Name       string          `json:"name,omitempty"`
	Credential json.RawMessage `json:"credential"`
}

func (a *API) loginPasskeyBegin(w http.ResponseWriter, r *http.Request) error {
	var req challengeRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	opts, err := a.auth.BeginPasskeySecondFactor(r.Context(), req.Challenge)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, passkeyOptions{Options: opts})
}

func (a *API) loginPasskeyFinish(w http.ResponseWriter, r *http.Request) error {
	var req passkeyAssertion
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	s, err := a.auth.FinishPasskeySecondFactor(r.Context(), req.Challenge, req.Credential)
	if err != nil {
		return err
	}
	return a.writeSession(w, s)
}

func (a *API) passkeyLoginBegin(w http.ResponseWriter, r *http.Request) error {
	var req passkeyLoginBegin
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	opts, ceremony, err := a.auth.BeginPasskeyLogin(r.Context(), req.Tenant)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, passkeyOptions{Ceremony: ceremony, Options: opts})
}

func (a *API) passkeyLoginFinish(w http.ResponseWriter, r *http.Request) error {
	var req passkeyAssertion
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	s, err := a.auth.FinishPasskeyLogin(r.Context(), req.Ceremony, req.Credential)
	if err != nil {
		return err
	}
	return a.writeSession(w, s)
}

func (a *API) oidcStart(w http.ResponseWriter, r *http.Request) error {
	u, err := a.auth.StartOIDC(r.Context(), r.PathValue("tenant"))
	if err != nil {
		return err
	}
	http.Redirect(w, r, u, http.StatusSeeOther)
	return nil
}

// oidcCallback completes a single sign-on login in the browser: it sets the
// session cookie and sends the user to the portal (or, when the tenant
// wants a second factor, to the portal's second-step page).
func (a *API) oidcCallback(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if q.Get("error") != "" {
		return problem.New(problem.KindUnauthenticated, "oidc_failed", "The identity provider did not log you in.")
	}
	res, err := a.auth.FinishOIDC(r.Context(), q.Get("state"), q.Get("code"))
	if err != nil {
		return err
	}
	if res.Session != nil {
		setSession(w, *res.Session, a.now())
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return nil
	}
	http.Redirect(w, r, "/login/second-step?challenge="+res.Challenge, http.StatusSeeOther)
	return nil
}

type setupRequest struct {
	Token    string `json:"token"`
	Password string `json:"password"`
	Email    string `json:"email,omitempty"`
}

func (a *API) setup(w http.ResponseWriter, r *http.Request) error {
	var req setupRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	acc, err := a.auth.CompleteSetup(r.Context(), auth.SetupRequest{Token: req.Token, Password: req.Password, Email: req.Email})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, acc)
}

type forgotRequest struct {
	Tenant string `json:"tenant,omitempty"`
	Email  string `json:"email"`
}

func (a *API) forgotPassword(w http.ResponseWriter, r *http.Request) error {
	var req forgotRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if err := a.auth.ForgotPassword(r.Context(), req.Tenant, req.Email); err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

type resetRequest struct {
	Token    string `json:"token"`
	Password string `json:"password"`
}

func (a *API) resetPassword(w http.ResponseWriter, r *http.Request) error {
	var req resetRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if err := a.auth.ResetPassword(r.Context(), req.Token, req.Password); err != nil {
		return err
	}
	return noContent(w)
}

func (a *API) logout(w http.ResponseWriter, r *http.Request) error {
	if c, err := r.Cookie(auth.CookieName); err == nil {
		if err := a.auth.Logout(r.Context(), c.Value); err != nil {
			return err
		}
	}
	clearSession(w)
	return noContent(w)
}

type endedResponse struct {
	Ended int64 `json:"ended"`
}

func (a *API) logoutEverywhere(w http.ResponseWriter, r *http.Request) error {
	p := authz.PrincipalFrom(r.Context())
	if p.Session == "" {
		return auth.ErrUnauthenticated
	}
	n, err := a.auth.LogoutEverywhere(r.Context(), p)
	if err != nil {
		return err
	}
	clearSession(w)
	return writeJSON(w, http.StatusOK, endedResponse{Ended: n})
}

type meResponse struct {
	Principal *principalV   `json:"principal"`
	Account   *auth.Account `json:"account,omitempty"`
}

func (a *API) me(w http.ResponseWriter, r *http.Request) error {
	p := authz.PrincipalFrom(r.Context())
	if p.Kind != authz.User && p.Kind != authz.Operator {
		return auth.ErrUnauthenticated
	}
	acc, err := a.auth.GetAccount(r.Context(), p.TenantID, p.ID)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, meResponse{Principal: viewPrincipal(p), Account: &acc})
}

type changePasswordRequest struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

func (a *API) changePassword(w http.ResponseWriter, r *http.Request) error {
	var req changePasswordRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if err := a.auth.ChangePassword(r.Context(), authz.PrincipalFrom(r.Context()), req.CurrentPassword, req.NewPassword); err != nil {
		return err
	}
	return noContent(w)
}

func (a *API) totpBegin(w http.ResponseWriter, r *http.Request) error {
	e, err := a.auth.BeginTOTP(r.Context(), authz.PrincipalFrom(r.Context()))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, e)
}

type codeRequest struct {
	Code string `json:"code"`
}

type recoveryCodes struct {
	RecoveryCodes []string `json:"recovery_codes"`
}

func (a *API) totpConfirm(w http.ResponseWriter, r *http.Request) error {
	var req codeRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	codes, err := a.auth.ConfirmTOTP(r.Context(), authz.PrincipalFrom(r.Context()), req.Code)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, recoveryCodes{RecoveryCodes: codes})
}

type passwordRequest struct {
	Password string `json:"password"`
}

func (a *API) totpDisable(w http.ResponseWriter, r *http.Request) error {
	var req passwordRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if err := a.auth.DisableTOTP(r.Context(), authz.PrincipalFrom(r.Context()), req.Password); err != nil {
		return err
	}
	return noContent(w)
}

func (a *API) recoveryCodes(w http.ResponseWriter, r *http.Request) error {
	var req passwordRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	codes, err := a.auth.NewRecoveryCodes(r.Context(), authz.PrincipalFrom(r.Context()), req.Password)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, recoveryCodes{RecoveryCodes: codes})
}

func (a *API) listPasskeys(w http.ResponseWriter, r *http.Request) error {
	keys, err := a.auth.Passkeys(r.Context(), authz.PrincipalFrom(r.Context()))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, keys)
}

func (a *API) passkeyRegisterBegin(w http.ResponseWriter, r *http.Request) error {
	opts, ceremony, err := a.auth.BeginPasskeyRegistration(r.Context(), authz.PrincipalFrom(r.Context()))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, passkeyOptions{Ceremony: ceremony, Options: opts})
}

func (a *API) passkeyRegisterFinish(w http.ResponseWriter, r *http.Request) error {
	var req passkeyRegistration
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	pk, err := a.auth.FinishPasskeyRegistration(r.Context(), authz.PrincipalFrom(r.Context()), req.Ceremony, req.Name, req.Credential)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, pk)
}

func (a *API) deletePasskey(w http.ResponseWriter, r *http.Request) error {
	if err := a.auth.DeletePasskey(r.Context(), authz.PrincipalFrom(r.Context()), r.PathValue("id")); err != nil {
		return err
	}
	return noContent(w)
}

func (a *API) listSessions(w http.ResponseWriter, r *http.Request) error {
	s, err := a.auth.Sessions(r.Context(), authz.PrincipalFrom(r.Context()))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s)
}

func (a *API) revokeSession(w http.ResponseWriter, r *http.Request) error {
	if err := a.auth.RevokeSession(r.Context(), authz.PrincipalFrom(r.Context()), r.PathValue("id")); err != nil {
		return err
	}
	return noContent(w)
}
