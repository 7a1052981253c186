package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/valvhq/valv/internal/audit"
	"github.com/valvhq/valv/internal/auth"
	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/message"
	"github.com/valvhq/valv/internal/problem"
	"github.com/valvhq/valv/internal/region"
	"github.com/valvhq/valv/internal/server"
	"github.com/valvhq/valv/internal/tenant"
)

func (w *Web) adminRoutes() []server.Route {
	return []server.Route{
		w.route("GET", "/users", "user.list", user, w.users),
		w.route("POST", "/users", "user.create", user, w.invite),
		w.route("POST", "/users/{id}", "user.update", user, w.updateUser),
		w.route("GET", "/keys", "apikey.list", user, w.keys),
		w.route("POST", "/keys", "apikey.create", user, w.createKey),
		w.route("POST", "/keys/{id}/revoke", "apikey.revoke", user, w.revokeKey),
		w.route("GET", "/settings", "tenant.settings.read", user, w.settings),
		w.route("POST", "/settings", "tenant.settings.update", user, w.updateSettings),
		w.route("GET", "/audit", "audit.read", user, w.auditTrail),
		w.route("GET", "/messages", "message.list", user, w.messages),
		w.route("GET", "/messages/{id}", "message.read", user, w.message),
		w.route("GET", "/account", "self.read", loggedIn, w.account),
		w.route("POST", "/account/password", "account.password.change", loggedIn, w.changePassword),
		w.route("POST", "/account/totp", "account.totp.begin", loggedIn, w.totpBegin),
		w.route("POST", "/account/totp/confirm", "account.totp.enable", loggedIn, w.totpConfirm),
		w.route("POST", "/account/logout-everywhere", "auth.logout_everywhere", loggedIn, w.logoutEverywhere),
	}
}

// roles a tenant's users can have, in the order the forms offer them.
var roles = []authz.Role{authz.Owner, authz.Admin, authz.Member, authz.Auditor}

type usersView struct {
	Users []auth.Account
	Roles []authz.Role
	Next  string
	Link  string // a new user's setup link, when mail is not sent
}

func (w *Web) users(rw http.ResponseWriter, r *http.Request, pg *page) error {
	list, next, err := w.d.Tenants.Users(r.Context(), pg.P, pg.P.TenantID, r.URL.Query().Get("cursor"), 100)
	if err != nil {
		return err
	}
	pg.Title = "users.title"
	pg.Data = usersView{Users: list, Roles: roles, Next: next}
	return w.show(rw, "users", pg)
}

func (w *Web) invite(rw http.ResponseWriter, r *http.Request, pg *page) error {
	f := r.PostForm
	_, _, err := w.d.Tenants.Invite(r.Context(), pg.P, pg.P.TenantID, tenant.InviteInput{Email: strings.TrimSpace(f.Get("email")),
		DisplayName: strings.TrimSpace(f.Get("name")), Role: authz.Role(f.Get("role")), Language: f.Get("language")})
	if err != nil {
		return w.again(rw, r, pg, err, w.users)
	}
	return back(rw, r, "/users", "users.invited")
}

func (w *Web) updateUser(rw http.ResponseWriter, r *http.Request, pg *page) error {
	var patch tenant.UserPatch
	if v := r.PostForm.Get("role"); v != "" {
		role := authz.Role(v)
		patch.Role = &role
	}
	if v := r.PostForm.Get("status"); v != "" {
		patch.Status = &v
	}
	if _, err := w.d.Tenants.UpdateUser(r.Context(), pg.P, pg.P.TenantID, r.PathValue("id"), patch); err != nil {
		return w.again(rw, r, pg, err, w.users)
	}
	return back(rw, r, "/users", "users.updated")
}

// again shows a page once more with why a form was refused; faults of
// Valv's own get the error page.
func (w *Web) again(rw http.ResponseWriter, r *http.Request, pg *page, err error, show handler) error {
	p := problem.From(err)
	switch p.Kind {
	case problem.KindInternal, problem.KindUnavailable, problem.KindUnauthenticated, problem.KindForbidden, problem.KindNotFound:
		return err
	}
	get := r.Clone(r.Context())
	get.Method = http.MethodGet
	if err := show(&statusOverride{ResponseWriter: rw, status: p.Kind.Status()}, get, pg); err != nil {
		return err
	}
	return nil
}

// statusOverride sends a page with the status of the refused form.
type statusOverride struct {
	http.ResponseWriter
	status int
}

func (s *statusOverride) WriteHeader(int) { s.ResponseWriter.WriteHeader(s.status) }

type keysView struct {
	Keys   []auth.APIKey
	Scopes []authz.Scope
	New    string // the key just created, shown once
}

func (w *Web) keys(rw http.ResponseWriter, r *http.Request, pg *page) error {
	keys, err := w.d.Auth.APIKeys(r.Context(), pg.P)
	if err != nil {
		return err
	}
	pg.Title = "keys.title"
	v := keysView{Keys: keys, Scopes: authz.Scopes}
	if d, ok := pg.Data.(keysView); ok {
		v.New = d.New
	}
	pg.Data = v
	return w.show(rw, "keys", pg)
}

func (w *Web) createKey(rw http.ResponseWriter, r *http.Request, pg *page) error {
	f := r.PostForm
	in := auth.APIKeyInput{Name: f.Get("name")}
	for _, s := range f["scope"] {
		in.Scopes = append(in.Scopes, authz.Scope(s))
	}
	in.AllowedIPs = strings.FieldsFunc(f.Get("allowed_ips"), func(r rune) bool { return r == ',' || r == '\n' || r == ' ' || r == '\r' })
	if d := f.Get("expires"); d != "" {
		t, err := time.ParseInLocation(time.DateOnly, d, stockholm)
		if err != nil {
			return w.again(rw, r, pg, problem.Invalid("invalid_date", "Use a date as YYYY-MM-DD."), w.keys)
		}
		t = t.AddDate(0, 0, 1)
		in.ExpiresAt = &t
	}
	_, secret, err := w.d.Auth.CreateAPIKey(r.Context(), pg.P, in)
	if err != nil {
		return w.again(rw, r, pg, err, w.keys)
	}
	// The key is shown once, on this response; it is never stored in the
	// clear, so it cannot be shown again.
	pg.Notice = "keys.created"
	pg.Data = keysView{New: secret}
	return w.keys(rw, r, pg)
}

func (w *Web) revokeKey(rw http.ResponseWriter, r *http.Request, pg *page) error {
	if err := w.d.Auth.RevokeAPIKey(r.Context(), pg.P, r.PathValue("id")); err != nil {
		return err
	}
	return back(rw, r, "/keys", "keys.revoked")
}

type settingsView struct {
	S           tenant.Settings
	IdleMinutes int
	CanEdit     bool
	// Regions are the data-residency pins an owner can choose.
	Regions []string
}

func (w *Web) settings(rw http.ResponseWriter, r *http.Request, pg *page) error {
	s, err := w.d.Tenants.Settings(r.Context(), pg.P, pg.P.TenantID)
	if err != nil {
		return err
	}
	pg.Title = "settings.title"
	pg.Data = settingsView{S: s, IdleMinutes: int(time.Duration(s.IdleTimeout) / time.Minute), CanEdit: pg.Can("tenant.settings.update"), Regions: region.Pins}
	return w.show(rw, "settings", pg)
}

func (w *Web) updateSettings(rw http.ResponseWriter, r *http.Request, pg *page) error {
	f := r.PostForm
	on := func(name string) *bool { v := f.Get(name) == "on"; return &v }
	patch := tenant.SettingsPatch{Require2FA: on("require_2fa"), PayloadHistory: on("payload_history"),
		OperatorAccessConsent: on("operator_access_consent"), PurgeHistory: f.Get("purge_history") == "on"}
	if lang := f.Get("language"); lang != "" {
		patch.Language = &lang
	}
	if f.Has("region") { // the owners' form only
		reg := f.Get("region")
		patch.Region = &reg
	}
	if m := f.Get("idle_minutes"); m != "" {
		n, err := strconv.Atoi(m)
		if err != nil {
			return w.again(rw, r, pg, problem.Invalid("invalid_idle_timeout", "Give the idle timeout in whole minutes."), w.settings)
		}
		d := tenant.Duration(time.Duration(n) * time.Minute)
		patch.IdleTimeout = &d
	}
	if d := f.Get("audit_retention_days"); d != "" {
		n, err := strconv.Atoi(d)
		if err != nil {
			return w.again(rw, r, pg, problem.Invalid("invalid_retention", "Give the audit retention in whole days."), w.settings)
		}
		patch.AuditRetentionDays = &n
	}
	if _, err := w.d.Tenants.UpdateSettings(r.Context(), pg.P, pg.P.TenantID, patch); err != nil {
		return w.again(rw, r, pg, err, w.settings)
	}
	return back(rw, r, "/settings", "settings.saved")
}

type auditView struct {
	Items  []audit.View
	Next   string
	Filter audit.Filter
	Export string
}

func (w *Web) auditTrail(rw http.ResponseWriter, r *http.Request, pg *page) error {
	q := r.URL.Query()
	f := audit.Filter{Action: q.Get("action"), ActorID: q.Get("actor"), Outcome: q.Get("outcome")}
	for name, dst := range map[string]*time.Time{"from": &f.From, "to": &f.To} {
		if s := q.Get(name); s != "" {
			t, err := time.ParseInLocation(time.DateOnly, s, stockholm)
			if err != nil {
				return problem.Invalid("invalid_date", "Use a date as YYYY-MM-DD.")
			}
			if name == "to" {
				t = t.AddDate(0, 0, 1)
			}
			*dst = t
		}
	}
	c, err := w.d.Trail.Open(r.Context(), pg.P, "")
	if err != nil {
		return err
	}
	items, next, err := c.Query(r.Context(), f, q.Get("cursor"), 100)
	if err != nil {
		return err
	}
	ex := url.Values{}
	for k, v := range map[string]string{"action": f.Action, "actor_id": f.ActorID, "outcome": f.Outcome} {
		if v != "" {
			ex.Set(k, v)
		}
	}
	if !f.From.IsZero() {
		ex.Set("from", f.From.UTC().Format(time.RFC3339))
	}
	if !f.To.IsZero() {
		ex.Set("to", f.To.UTC().Format(time.RFC3339))
	}
	pg.Title = "audit.title"
	pg.Data = auditView{Items: items, Next: next, Filter: f, Export: "/api/v1/audit/export?" + ex.Encode()}
	return w.show(rw, "audit", pg)
}

type messagesView struct {
	Box   string
	Items []message.Message
	Next  string
}

func (w *Web) messages(rw http.ResponseWriter, r *http.Request, pg *page) error {
	box := r.URL.Query().Get("box")
	if box != "outbox" {
		box = "inbox"
	}
	items, next, err := w.d.Messages.List(r.Context(), pg.P, "", message.Filter{Box: box}, r.URL.Query().Get("cursor"), 50)
	if err != nil {
		return err
	}
	pg.Title = "messages.title"
	pg.Data = messagesView{Box: box, Items: items, Next: next}
	return w.show(rw, "messages", pg)
}

func (w *Web) message(rw http.ResponseWriter, r *http.Request, pg *page) error {
	m, err := w.d.Messages.Get(r.Context(), pg.P, "", r.PathValue("id"))
	if err != nil {
		return err
	}
	pg.Title = "message.title"
	pg.Data = m
	return w.show(rw, "message", pg)
}

type accountView struct {
	TOTP      bool
	Enrolment *auth.TOTPEnrolment
	Recovery  []string
	Passkeys  []auth.Passkey
	Sessions  []auth.SessionView
}

func (w *Web) account(rw http.ResponseWriter, r *http.Request, pg *page) error {
	v, _ := pg.Data.(accountView)
	var err error
	if v.Passkeys, err = w.d.Auth.Passkeys(r.Context(), pg.P); err != nil {
		return err
	}
	if v.Sessions, err = w.d.Auth.Sessions(r.Context(), pg.P); err != nil {
		return err
	}
	if pg.P.Kind == authz.User {
		acc, err := w.d.Auth.GetAccount(r.Context(), pg.P.TenantID, pg.P.ID)
		if err != nil {
			return err
		}
		v.TOTP = acc.TOTP
	} else {
		v.TOTP = pg.P.MFA
	}
	pg.Title = "account.title"
	pg.Data = v
	return w.show(rw, "account", pg)
}

func (w *Web) changePassword(rw http.ResponseWriter, r *http.Request, pg *page) error {
	pw, err := passwords(r)
	if err == nil {
		err = w.d.Auth.ChangePassword(r.Context(), pg.P, r.PostForm.Get("current"), pw)
	}
	if err != nil {
		return w.again(rw, r, pg, err, w.account)
	}
	return back(rw, r, "/account", "account.password_changed")
}

func (w *Web) totpBegin(rw http.ResponseWriter, r *http.Request, pg *page) error {
	e, err := w.d.Auth.BeginTOTP(r.Context(), pg.P)
	if err != nil {
		return w.again(rw, r, pg, err, w.account)
	}
	pg.Data = accountView{Enrolment: &e}
	return w.account(rw, r, pg)
}

func (w *Web) totpConfirm(rw http.ResponseWriter, r *http.Request, pg *page) error {
	codes, err := w.d.Auth.ConfirmTOTP(r.Context(), pg.P, strings.TrimSpace(r.PostForm.Get("code")))
	if err != nil {
		return w.again(rw, r, pg, err, w.account)
	}
	pg.Notice = "account.totp_on"
	pg.Data = accountView{Recovery: codes}
	return w.account(rw, r, pg)
}

func (w *Web) logoutEverywhere(rw http.ResponseWriter, r *http.Request, pg *page) error {
	if _, err := w.d.Auth.LogoutEverywhere(r.Context(), pg.P); err != nil {
		return err
	}
	return back(rw, r, "/login", "login.logged_out")
}
