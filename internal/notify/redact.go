package notify

import (
	"fmt"
	"log/slog"
	"net/url"
)

// Values that hold personal data or secrets (addresses, bodies, one-time
// codes, links with tokens, signing secrets) print and log only what is safe
// to log, so that a careless log line cannot leak them.

func (m Message) String() string {
	return fmt.Sprintf("notify.Message{template=%q lang=%q recipients=%d}", m.Template, m.Lang, len(m.To))
}

// GoString redacts %#v too.
func (m Message) GoString() string { return m.String() }

// LogValue logs the template, language and number of recipients only.
func (m Message) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("template", m.Template),
		slog.String("lang", m.Lang),
		slog.Int("recipients", len(m.To)))
}

func (w Webhook) String() string {
	host := "?"
	if u, err := url.Parse(w.URL); err == nil {
		host = u.Hostname()
	}
	return fmt.Sprintf("notify.Webhook{id=%q host=%q body=%d bytes secrets=%d}", w.ID, host, len(w.Body), len(w.Secrets))
}

// GoString redacts %#v too.
func (w Webhook) GoString() string { return w.String() }

// LogValue logs the id and the endpoint's host only.
func (w Webhook) LogValue() slog.Value { return slog.StringValue(w.String()) }

const redactedData = "{[redacted]}"

func (d LoginCode) String() string     { return "notify.LoginCode" + redactedData }
func (d PasswordReset) String() string { return "notify.PasswordReset" + redactedData }
func (d AccountSetup) String() string  { return "notify.AccountSetup" + redactedData }
func (d EmailChange) String() string   { return "notify.EmailChange" + redactedData }

// GoString redacts %#v too.
func (d LoginCode) GoString() string { return d.String() }

// GoString redacts %#v too.
func (d PasswordReset) GoString() string { return d.String() }

// GoString redacts %#v too.
func (d AccountSetup) GoString() string { return d.String() }

// GoString redacts %#v too.
func (d EmailChange) GoString() string { return d.String() }

// LogValue redacts the code.
func (d LoginCode) LogValue() slog.Value { return slog.StringValue(d.String()) }

// LogValue redacts the link.
func (d PasswordReset) LogValue() slog.Value { return slog.StringValue(d.String()) }

// LogValue redacts the link.
func (d AccountSetup) LogValue() slog.Value { return slog.StringValue(d.String()) }

// LogValue redacts the link.
func (d EmailChange) LogValue() slog.Value { return slog.StringValue(d.String()) }
