package web

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/valvhq/valv/internal/auth"
	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/problem"
	"github.com/valvhq/valv/internal/server"
)

func (w *Web) authRoutes() []server.Route {
	return []server.Route{
		w.route("GET", "/login", "portal.login.view", public, w.loginPage),
		w.route("POST", "/login", "auth.login", public, w.login),
		w.route("POST", "/login/mfa", "auth.login.mfa", public, w.loginMFA),
		w.route("POST", "/login/email-code", "auth.login.email_code", public, w.loginEmailCode),
		w.route("POST", "/logout", "auth.logout", loggedIn, w.logout),
		w.route("POST", "/language", "portal.language", public, w.setLanguage),
		w.route("GET", "/setup", "portal.setup.view", public, w.setupPage),
		w.route("POST", "/setup", "account.setup", public, w.setup),
		w.route("GET", "/forgot-password", "portal.forgot.view", public, w.forgotPage),
		w.route("POST", "/forgot-password", "account.password.forgot", public, w.forgot),
		w.route("GET", "/reset-password", "portal.reset.view", public, w.resetPage),
		w.route("POST", "/reset-password", "account.password.reset", public, w.reset),
	}
}

// safeNext keeps a post-login redirect on this site: a path, never a
// scheme, host or protocol-relative URL.
//
// Browsers drop tabs and newlines from URLs and read a backslash as a
// slash, so "/\t/evil.example" would be "//evil.example" to them: any
// control character or backslash is refused outright.
func safeNext(next string) string {
	if next == "" || len(next) > 512 || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") {
		return "/"
	}
	for i := 0; i < len(next); i++ {
		if c := next[i]; c < 0x20 || c == 0x7f || c == '\\' {
			return "/"
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || !strings.HasPrefix(u.Path, "/") || strings.HasPrefix(u.Path, "//") {
		return "/"
	}
	return u.RequestURI()
}

type loginView struct {
	Next, Tenant, Email string
}

func (w *Web) loginPage(rw http.ResponseWriter, r *http.Request, pg *page) error {
	if pg.P.Kind != authz.Anonymous {
		http.Redirect(rw, r, home(pg.P), http.StatusSeeOther)
		return nil
	}
	pg.Title = "login.title"
	if r.URL.Query().Get("idle") == "1" {
		pg.Notice = "login.idle"
	}
	pg.Data = loginView{Next: safeNext(r.URL.Query().Get("next"))}
	return w.show(rw, "login", pg)
}

// home is where a principal lands after logging in.
func home(p authz.Principal) string {
	if p.Kind == authz.Operator {
		return "/console"
	}
	return "/"
}

func (w *Web) login(rw http.ResponseWriter, r *http.Request, pg *page) error {
	if err := r.ParseForm(); err != nil {
		return formError(err)
	}
	f := r.PostForm
	next := safeNext(f.Get("next"))
	res, err := w.d.Auth.Login(r.Context(), auth.LoginRequest{Tenant: strings.TrimSpace(f.Get("tenant")), Email: strings.TrimSpace(f.Get("email")), Password: f.Get("password")})
	if err != nil {
		pg.Title = "login.title"
		pg.Error = pg.problemText(problem.From(err))
		pg.Data = loginView{Next: next, Tenant: f.Get("tenant"), Email: f.Get("email")}
		w.render(rw, problem.From(err).Kind.Status(), "login", pg)
		return nil
	}
	if res.Session != nil {
		return w.loggedIn(rw, r, *res.Session, next)
	}
	return w.showMFA(rw, pg, mfaView{Challenge: res.Challenge, Methods: res.Methods, Next: next}, http.StatusOK)
}

type mfaView struct {
	Challenge string
	Methods   []string
	Next      string
	EmailSent bool
}

func (v mfaView) HasTOTP() bool    { return slices.Contains(v.Methods, "totp") }
func (v mfaView) HasEmail() bool   { return slices.Contains(v.Methods, "email") }
func (v mfaView) HasPasskey() bool { return slices.Contains(v.Methods, "passkey") }

func (w *Web) showMFA(rw http.ResponseWriter, pg *page, v mfaView, status int) error {
	pg.Title = "mfa.title"
	pg.Data = v
	w.render(rw, status, "mfa", pg)
	return nil
}

func (w *Web) loggedIn(rw http.ResponseWriter, r *http.Request, s auth.NewSession, next string) error {
	http.SetCookie(rw, &http.Cookie{Name: auth.CookieName, Value: s.Token, Path: "/", Secure: true, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, MaxAge: int(s.ExpiresAt.Sub(w.now()).Seconds())})
	if next == "/" {
		next = home(s.Principal)
	}
	http.Redirect(rw, r, next, http.StatusSeeOther)
	return nil
}

// mfaForm reads the challenge and where to go from a second-step form.
func mfaForm(r *http.Request) (mfaView, error) {
	if err := r.ParseForm(); err != nil {
		return mfaView{}, formError(err)
	}
	v := mfaView{Challenge: r.PostForm.Get("challenge"), Next: safeNext(r.PostForm.Get("next"))}
	for _, m := range strings.Split(r.PostForm.Get("methods"), ",") {
		if m == "totp" || m == "email" || m == "passkey" {
			v.Methods = append(v.Methods, m)
		}
	}
	return v, nil
}

func (w *Web) loginMFA(rw http.ResponseWriter, r *http.Request, pg *page) error {
	v, err := mfaForm(r)
	if err != nil {
		return err
	}
	method := r.PostForm.Get("method")
	s, err := w.d.Auth.SecondFactor(r.Context(), v.Challenge, method, strings.TrimSpace(r.PostForm.Get("code")))
	if err != nil {
		p := problem.From(err)
		if p.Code == "challenge_expired" {
			// The challenge itself is gone (expired, used up): start over.
			pg.Title = "login.title"
			pg.Error = pg.problemText(p)
			pg.Data = loginView{Next: v.Next}
			w.render(rw, p.Kind.Status(), "login", pg)
			return nil
		}
		pg.Error = pg.problemText(p)
		v.EmailSent = method == "email"
		return w.showMFA(rw, pg, v, p.Kind.Status())
	}
	return w.loggedIn(rw, r, s, v.Next)
}

func (w *Web) loginEmailCode(rw http.ResponseWriter, r *http.Request, pg *page) error {
	v, err := mfaForm(r)
	if err != nil {
		return err
	}
	if err := w.d.Auth.SendEmailCode(r.Context(), v.Challenge); err != nil {
		return err
	}
	pg.Notice = "mfa.email_sent"
	v.EmailSent = true
	return w.showMFA(rw, pg, v, http.StatusOK)
}

func (w *Web) logout(rw http.ResponseWriter, r *http.Request, pg *page) error {
	if tok := sessionOf(r); tok != "" {
		if err := w.d.Auth.Logout(r.Context(), tok); err != nil {
			return err
		}
	}
	http.SetCookie(rw, &http.Cookie{Name: auth.CookieName, Value: "", Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode, MaxAge: -1})
	return back(rw, r, "/login", "login.logged_out")
}

// setLanguage remembers the visitor's language for a year.
func (w *Web) setLanguage(rw http.ResponseWriter, r *http.Request, pg *page) error {
	if err := r.ParseForm(); err != nil {
		return formError(err)
	}
	lang := r.PostForm.Get("lang")
	if lang != "sv" && lang != "en" {
		return problem.Invalid("invalid_lang", "Choose sv or en.")
	}
	http.SetCookie(rw, &http.Cookie{Name: langCookie, Value: lang, Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode, MaxAge: 365 * 24 * 3600})
	http.Redirect(rw, r, safeNext(r.PostForm.Get("back")), http.StatusSeeOther)
	return nil
}

type setupView struct {
	Action, Intro string
	AskEmail      bool
}

func (w *Web) setupPage(rw http.ResponseWriter, r *http.Request, pg *page) error {
	pg.Title = "setup.title"
	pg.Data = setupView{Action: "/setup", Intro: "setup.intro", AskEmail: w.d.Auth.IsBootstrapLink(r.Context(), r.URL.Query().Get("token"))}
	return w.show(rw, "setup", pg)
}

// passwords reads a new password typed twice.
func passwords(r *http.Request) (string, error) {
	if err := r.ParseForm(); err != nil {
		return "", formError(err)
	}
	pw := r.PostForm.Get("password")
	if pw != r.PostForm.Get("password2") {
		return "", problem.Invalid("password_mismatch", "The two passwords differ.")
	}
	return pw, nil
}

func (w *Web) setup(rw http.ResponseWriter, r *http.Request, pg *page) error {
	pw, err := passwords(r)
	if err == nil {
		_, err = w.d.Auth.CompleteSetup(r.Context(), auth.SetupRequest{Token: strings.TrimSpace(r.PostForm.Get("token")), Password: pw, Email: strings.TrimSpace(r.PostForm.Get("email"))})
	}
	if err != nil {
		p := problem.From(err)
		pg.Title, pg.Error = "setup.title", pg.problemText(p)
		pg.Data = setupView{Action: "/setup", Intro: "setup.intro", AskEmail: r.PostForm.Get("email") != ""}
		w.render(rw, p.Kind.Status(), "setup", pg)
		return nil
	}
	return back(rw, r, "/login", "setup.done")
}

func (w *Web) forgotPage(rw http.ResponseWriter, r *http.Request, pg *page) error {
	pg.Title = "forgot.title"
	return w.show(rw, "forgot", pg)
}

func (w *Web) forgot(rw http.ResponseWriter, r *http.Request, pg *page) error {
	if err := r.ParseForm(); err != nil {
		return formError(err)
	}
	if err := w.d.Auth.ForgotPassword(r.Context(), strings.TrimSpace(r.PostForm.Get("tenant")), strings.TrimSpace(r.PostForm.Get("email"))); err != nil {
		return err
	}
	return back(rw, r, "/login", "forgot.sent")
}

func (w *Web) resetPage(rw http.ResponseWriter, r *http.Request, pg *page) error {
	pg.Title = "reset.title"
	pg.Data = setupView{Action: "/reset-password", Intro: "reset.intro"}
	return w.show(rw, "setup", pg)
}

func (w *Web) reset(rw http.ResponseWriter, r *http.Request, pg *page) error {
	pw, err := passwords(r)
	if err == nil {
		err = w.d.Auth.ResetPassword(r.Context(), strings.TrimSpace(r.PostForm.Get("token")), pw)
	}
	if err != nil {
		p := problem.From(err)
		pg.Title, pg.Error = "reset.title", pg.problemText(p)
		pg.Data = setupView{Action: "/reset-password", Intro: "reset.intro"}
		w.render(rw, p.Kind.Status(), "setup", pg)
		return nil
	}
	return back(rw, r, "/login", "reset.done")
}
