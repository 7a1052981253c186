package app

import (
	"context"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/valvhq/valv/internal/auth"
	"github.com/valvhq/valv/internal/config"
	"github.com/valvhq/valv/internal/notify"
)

// mailer renders Valv's mails from notify's templates and hands them to a
// transport: SMTP, or in development a directory of .eml files.
type mailer struct {
	send notify.Mailer
}

var _ auth.Mailer = mailer{}

func (m mailer) deliver(ctx context.Context, to []string, name, lang string, data any) error {
	msg, err := notify.Render(name, lang, data)
	if err != nil {
		return err
	}
	msg.To = to
	return m.send.Send(ctx, msg)
}

func (m mailer) LoginCode(ctx context.Context, to, lang, code string, validFor time.Duration) error {
	return m.deliver(ctx, []string{to}, notify.TemplateLoginCode, lang, notify.LoginCode{Code: code, ValidFor: validFor})
}

func (m mailer) PasswordReset(ctx context.Context, to, lang, link string, validFor time.Duration) error {
	return m.deliver(ctx, []string{to}, notify.TemplatePasswordReset, lang, notify.PasswordReset{Link: link, ValidFor: validFor})
}

func (m mailer) AccountSetup(ctx context.Context, to, lang, role, org, link string, validFor time.Duration) error {
	r := notify.AccountUser
	switch role {
	case "owner":
		r = notify.AccountOwner
	case "operator", "security":
		r = notify.AccountOperator
	}
	return m.deliver(ctx, []string{to}, notify.TemplateAccountSetup, lang, notify.AccountSetup{Role: r, Organisation: org, Link: link, ValidFor: validFor})
}

func (m mailer) Lockout(ctx context.Context, to []string, lang string, at, until time.Time) error {
	return m.deliver(ctx, to, notify.TemplateLockout, lang, notify.Lockout{At: at, LockedFor: until.Sub(at)})
}

// SecurityAlert tells security contacts or operators of an alert.
func (m mailer) SecurityAlert(ctx context.Context, to []string, lang, org, title string, lines []string, at time.Time) error {
	return m.deliver(ctx, to, notify.TemplateSecurityAlert, lang, notify.SecurityAlert{Organisation: org, Title: title, Lines: lines, At: at})
}

// newTransport builds the configured mail transport.
func newTransport(cfg config.Config) (notify.Mailer, error) {
	switch cfg.Mail.Transport {
	case "smtp":
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if cfg.Mail.SMTP.CAFile != "" {
			pem, err := os.ReadFile(cfg.Mail.SMTP.CAFile)
			if err != nil {
				return nil, fmt.Errorf("mail.smtp.ca_file: %w", err)
			}
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("mail.smtp.ca_file %s holds no PEM certificate", cfg.Mail.SMTP.CAFile)
			}
		}
		return notify.NewSMTP(notify.SMTPConfig{Host: cfg.Mail.SMTP.Host, Port: cfg.Mail.SMTP.Port, Username: cfg.Mail.SMTP.Username,
			Password: cfg.Mail.SMTP.Password, From: cfg.Mail.From, TLS: notify.TLSPolicy(cfg.Mail.SMTP.TLS), RootCAs: pool})
	default:
		return newFileTransport(cfg.MailDir(), cfg.Mail.From)
	}
}

// fileTransport is the development transport: each mail is written as an
// .eml file in a directory instead of being sent, so a trial installation
// without an SMTP relay can still log in (the codes and links are in the
// files). Production installations use SMTP (valv doctor flags this one).
type fileTransport struct {
	dir, from string
}

func newFileTransport(dir, from string) (*fileTransport, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("mail directory %s: %w", dir, err)
	}
	return &fileTransport{dir: dir, from: from}, nil
}

func (m *fileTransport) Send(_ context.Context, msg notify.Message) error {
	name := time.Now().UTC().Format("20060102T150405.000000") + "-" + uuid.NewString()[:8] + ".eml"
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n",
		m.from, strings.Join(msg.To, ", "), msg.Subject, time.Now().UTC().Format(time.RFC1123Z), msg.Text)
	return os.WriteFile(filepath.Join(m.dir, name), []byte(b.String()), 0o600)
}

// alerts tells tenants' security contacts of events in their data.
type alerts struct{ a *App }

// MalwareFound mails the tenant's security contact that an upload was
// refused for malware (the file is not named: only the signature).
func (al alerts) MalwareFound(ctx context.Context, tenantID, signature string) {
	a := al.a
	pol, err := a.Tenants.LoginPolicy(ctx, tenantID)
	if err != nil || pol.SecurityContact == "" {
		return
	}
	st, _ := a.Tenants.SettingsOf(ctx, tenantID)
	title := "malware was found in an upload"
	lines := []string{"Signature: " + signature, "The file was refused and not stored. The audit trail has the call (action document.create or document.content.replace)."}
	if st.Language == "sv" {
		title = "skadlig kod hittades i en uppladdad fil"
		lines = []string{"Signatur: " + signature, "Filen avvisades och sparades inte. Anropet finns i granskningsloggen (document.create eller document.content.replace)."}
	}
	go func() {
		if err := a.mail.SecurityAlert(context.WithoutCancel(ctx), []string{pol.SecurityContact}, st.Language, pol.Name, title, lines, a.now()); err != nil {
			a.log.Warn("malware alert not sent", "tenant", tenantID, "error", err)
		}
	}()
}

// DestinationRefused mails the tenant's security contact that a message
// was refused because its destination is not an agreed transfer (MSG-2),
// or that a delivery was stopped because its endpoint no longer is one.
// Only the code says why: no address, no content.
func (al alerts) DestinationRefused(ctx context.Context, tenantID, code string) {
	a := al.a
	pol, err := a.Tenants.LoginPolicy(ctx, tenantID)
	if err != nil || pol.SecurityContact == "" {
		return
	}
	st, _ := a.Tenants.SettingsOf(ctx, tenantID)
	title := "a message to a destination that is not agreed was refused"
	lines := []string{"Reason: " + code, "Nothing was sent. Messages go only to another organisation on this platform or to an endpoint your organisation registered and the platform approved. The audit trail has the call (action message.send or message.deliver)."}
	if st.Language == "sv" {
		title = "ett meddelande till en mottagare som inte är överenskommen stoppades"
		lines = []string{"Orsak: " + code, "Ingenting skickades. Meddelanden går bara till en annan organisation på plattformen eller till en mottagaradress som er organisation registrerat och plattformen godkänt. Anropet finns i granskningsloggen (message.send eller message.deliver)."}
	}
	go func() {
		if err := a.mail.SecurityAlert(context.WithoutCancel(ctx), []string{pol.SecurityContact}, st.Language, pol.Name, title, lines, a.now()); err != nil {
			a.log.Warn("refused-destination alert not sent", "tenant", tenantID, "error", err)
		}
	}()
}
