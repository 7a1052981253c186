package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/mail"
	"slices"
	"strings"
	"sync"
)

// Limits on a Message, checked by every Mailer.
const (
	// MaxRecipients is the most addresses one Message may go to. Every
	// recipient sees the others in the To header: send one Message per person
	// unless they should.
	MaxRecipients = 50
	// MaxHeaders is the most extra header fields one Message may carry.
	MaxHeaders = 20
	// maxHeaderValueLen bounds one extra header field's value.
	maxHeaderValueLen = 998
)

// Message is one e-mail. Render fills in everything but To.
type Message struct {
	// To are the recipients' addresses (RFC 5322, e.g. "a@example.com" or
	// "Name <a@example.com>"). They are personal data: they never appear in
	// errors or logs.
	To []string
	// Subject is one line.
	Subject string
	// Text is the plain-text body; it is required.
	Text string
	// HTML is an optional alternative body.
	HTML string
	// Headers are extra header fields, such as "Reply-To". Names are
	// case-insensitive; fields that describe the message itself (From, To,
	// Subject, Date, Message-ID, MIME-Version, Content-*, ...) cannot be set
	// here.
	Headers map[string]string
	// Template is the name of the template the message was rendered from,
	// or "" when it was not. It is what Log records and what may be logged.
	Template string
	// Lang is the message's language ("sv" or "en"), sent as
	// Content-Language when set.
	Lang string
}

// Mailer sends a Message.
type Mailer interface {
	// Send sends msg or returns an error that says which step failed. The
	// error never contains msg's addresses, subject or bodies.
	Send(ctx context.Context, msg Message) error
}

// ErrInvalidMessage is wrapped by the error a Mailer returns for a Message
// that cannot be sent as it is.
var ErrInvalidMessage = errors.New("notify: invalid message")

// reservedHeader reports whether a header field (in canonical form) is set
// by the mailer from the Message's fields or must not be set at all: Bcc would
// hide recipients, Sender and Return-Path belong to the transport.
func reservedHeader(canon string) bool {
	switch canon {
	case "From", "Sender", "To", "Cc", "Bcc", "Subject", "Date", "Message-Id",
		"Mime-Version", "Return-Path", "Received", "Auto-Submitted":
		return true
	}
	return strings.HasPrefix(canon, "Content-")
}

// validate checks msg. Its errors name fields and indexes, never values.
func (msg *Message) validate() error {
	if len(msg.To) == 0 {
		return fmt.Errorf("%w: no recipient", ErrInvalidMessage)
	}
	if len(msg.To) > MaxRecipients {
		return fmt.Errorf("%w: %d recipients, more than %d", ErrInvalidMessage, len(msg.To), MaxRecipients)
	}
	for i, to := range msg.To {
		if strings.ContainsAny(to, "\r\n") {
			return fmt.Errorf("%w: recipient %d contains a line break", ErrInvalidMessage, i)
		}
		if _, err := mail.ParseAddress(to); err != nil {
			// err may quote the address: it is not wrapped.
			return fmt.Errorf("%w: recipient %d is not a valid address", ErrInvalidMessage, i)
		}
	}
	if strings.TrimSpace(msg.Subject) == "" {
		return fmt.Errorf("%w: no subject", ErrInvalidMessage)
	}
	if strings.ContainsAny(msg.Subject, "\r\n") {
		return fmt.Errorf("%w: subject contains a line break", ErrInvalidMessage)
	}
	if strings.TrimSpace(msg.Text) == "" {
		return fmt.Errorf("%w: no plain-text body", ErrInvalidMessage)
	}
	if len(msg.Headers) > MaxHeaders {
		return fmt.Errorf("%w: %d extra headers, more than %d", ErrInvalidMessage, len(msg.Headers), MaxHeaders)
	}
	for name, value := range msg.Headers {
		if !validHeaderName(name) {
			return fmt.Errorf("%w: a header name is not a valid field name", ErrInvalidMessage)
		}
		canon := canonicalHeader(name)
		if reservedHeader(canon) {
			return fmt.Errorf("%w: header %s cannot be set", ErrInvalidMessage, canon)
		}
		if strings.ContainsAny(value, "\r\n\x00") || len(value) > maxHeaderValueLen {
			return fmt.Errorf("%w: header %s has an invalid value", ErrInvalidMessage, canon)
		}
	}
	if msg.Lang != "" && !validLangTag(msg.Lang) {
		return fmt.Errorf("%w: language is not a language tag", ErrInvalidMessage)
	}
	return nil
}

// validHeaderName reports whether name is an RFC 5322 field name: printable
// US-ASCII but colon, at most 76 characters.
func validHeaderName(name string) bool {
	if name == "" || len(name) > 76 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c < 0x21 || c > 0x7e || c == ':' {
			return false
		}
	}
	return true
}

// canonicalHeader returns name in the form "Reply-To".
func canonicalHeader(name string) string {
	b := []byte(strings.ToLower(name))
	upper := true
	for i, c := range b {
		if upper && 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
		upper = c == '-'
	}
	return string(b)
}

// validLangTag accepts simple BCP 47 tags: letters, digits and hyphens.
func validLangTag(s string) bool {
	if len(s) > 35 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// Discard is a Mailer that checks each Message and then drops it.
type Discard struct{}

var _ Mailer = Discard{}

// Send checks msg and drops it.
func (Discard) Send(ctx context.Context, msg Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return msg.validate()
}

// LogKeep is how many of the most recent messages Log keeps in memory.
const LogKeep = 100

// Log is a Mailer for development, when no SMTP server is configured: it
// keeps the most recent messages in memory (see Messages) and logs, for each,
// only that a mail was "sent" with its template name, language and number of
// recipients — never an address, subject or body.
type Log struct {
	logger *slog.Logger

	mu   sync.Mutex
	msgs []Message
}

var _ Mailer = (*Log)(nil)

// NewLog returns a Log that writes to logger (nil: slog.Default()).
func NewLog(logger *slog.Logger) *Log {
	if logger == nil {
		logger = slog.Default()
	}
	return &Log{logger: logger}
}

// Send checks msg, keeps a copy and logs that it was sent.
func (l *Log) Send(ctx context.Context, msg Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := msg.validate(); err != nil {
		return err
	}
	msg = cloneMessage(msg)
	l.mu.Lock()
	if len(l.msgs) == LogKeep {
		copy(l.msgs, l.msgs[1:])
		l.msgs = l.msgs[:LogKeep-1]
	}
	l.msgs = append(l.msgs, msg)
	l.mu.Unlock()
	template := msg.Template
	if template == "" {
		template = "(none)"
	}
	l.logger.LogAttrs(ctx, slog.LevelInfo, "mail not sent: no SMTP server configured",
		slog.String("template", template),
		slog.String("lang", msg.Lang),
		slog.Int("recipients", len(msg.To)))
	return nil
}

// Messages returns copies of the kept messages, oldest first.
func (l *Log) Messages() []Message {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Message, len(l.msgs))
	for i, m := range l.msgs {
		out[i] = cloneMessage(m)
	}
	return out
}

func cloneMessage(m Message) Message {
	m.To = slices.Clone(m.To)
	m.Headers = maps.Clone(m.Headers)
	return m
}
