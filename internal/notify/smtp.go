package notify

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/mail"
	"net/textproto"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	gomail "github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"

	"github.com/valvhq/valv/internal/config"
)

// TLSPolicy says how the connection to the SMTP server is protected.
type TLSPolicy string

const (
	// TLSStartTLS connects in plain text and upgrades with STARTTLS before
	// anything else is said; a server that does not offer STARTTLS is an
	// error (ErrNoSTARTTLS), never a reason to go on in plain text. It is the
	// default, usually on port 587.
	TLSStartTLS TLSPolicy = "starttls"
	// TLSImplicit speaks TLS from the first byte, usually on port 465.
	TLSImplicit TLSPolicy = "tls"
	// TLSNone sends everything, credentials included, in plain text. It is
	// accepted only when chosen explicitly and only for a loopback IP address
	// (a test server, or a relay on the same host).
	TLSNone TLSPolicy = "none"
)

// DefaultSMTPTimeout bounds connecting and each step of the SMTP exchange
// when SMTPConfig.Timeout is zero.
const DefaultSMTPTimeout = 30 * time.Second

// SMTPConfig configures an SMTP mailer.
type SMTPConfig struct {
	// Host is the server's name or IP address. The server's certificate must
	// be valid for it.
	Host string
	// Port defaults to 587 for TLSStartTLS, 465 for TLSImplicit and 25 for
	// TLSNone.
	Port int
	// Username and Password, when set, authenticate with SMTP AUTH
	// (SCRAM-SHA-256, PLAIN or LOGIN, in that order of preference, and only
	// over TLS but for TLSNone on loopback). Set both or neither.
	Username string
	Password config.Secret
	// From is the sender, e.g. "Valv <no-reply@example.com>".
	From string
	// TLS is the TLS policy; "" means TLSStartTLS.
	TLS TLSPolicy
	// RootCAs verify the server's certificate; nil means the system's roots.
	RootCAs *x509.CertPool
	// Timeout bounds connecting and each step of the exchange; 0 means
	// DefaultSMTPTimeout. The context passed to Send bounds the whole.
	Timeout time.Duration
	// HELO is the name this host gives in EHLO; "" means the host name.
	HELO string
}

// SMTP is a Mailer that sends through an SMTP server with
// github.com/wneessen/go-mail, over a new connection for each message. It is
// safe for concurrent use.
type SMTP struct {
	host       string
	addr       string
	policy     TLSPolicy
	username   string
	password   config.Secret
	from       string
	fromDomain string
	helo       string
	timeout    time.Duration
	tls        *tls.Config
}

var _ Mailer = (*SMTP)(nil)

// NewSMTP checks cfg and returns a mailer for it.
func NewSMTP(cfg SMTPConfig) (*SMTP, error) {
	s := &SMTP{
		host:     cfg.Host,
		policy:   cfg.TLS,
		username: cfg.Username,
		password: cfg.Password,
		from:     cfg.From,
		helo:     cfg.HELO,
		timeout:  cfg.Timeout,
	}
	if s.host == "" {
		return nil, errors.New("notify: smtp: host is required")
	}
	if s.policy == "" {
		s.policy = TLSStartTLS
	}
	port := cfg.Port
	switch s.policy {
	case TLSStartTLS:
		if port == 0 {
			port = 587
		}
	case TLSImplicit:
		if port == 0 {
			port = 465
		}
	case TLSNone:
		if ip := net.ParseIP(s.host); ip == nil || !ip.IsLoopback() {
			return nil, errors.New(`notify: smtp: TLS policy "none" is allowed only for a loopback IP address such as 127.0.0.1; use "starttls" or "tls"`)
		}
		if port == 0 {
			port = 25
		}
	default:
		return nil, fmt.Errorf(`notify: smtp: unknown TLS policy %q; use "starttls", "tls" or (for a loopback address only) "none"`, s.policy)
	}
	if port < 1 || port > 65535 {
		return nil, fmt.Errorf("notify: smtp: port %d is out of range", port)
	}
	s.addr = net.JoinHostPort(s.host, strconv.Itoa(port))
	if (s.username == "") != (s.password == "") {
		return nil, errors.New("notify: smtp: set both username and password, or neither")
	}
	from, err := mail.ParseAddress(s.from)
	if err != nil {
		return nil, errors.New("notify: smtp: the from address is not a valid address")
	}
	_, s.fromDomain, _ = strings.Cut(from.Address, "@")
	if s.timeout == 0 {
		s.timeout = DefaultSMTPTimeout
	}
	if s.timeout < 0 {
		return nil, errors.New("notify: smtp: timeout is negative")
	}
	if s.helo == "" {
		if s.helo, err = os.Hostname(); err != nil || s.helo == "" {
			s.helo = "localhost"
		}
	}
	s.tls = &tls.Config{
		ServerName: s.host,
		RootCAs:    cfg.RootCAs,
		MinVersion: tls.VersionTLS12,
	}
	return s, nil
}

// Errors wrapped by SendError.
var (
	// ErrNoSTARTTLS means the server does not offer STARTTLS although the
	// policy requires it.
	ErrNoSTARTTLS = errors.New("notify: smtp: the server does not offer STARTTLS")
	// ErrNoAuth means credentials are configured but the server offers no
	// SMTP AUTH mechanism that Valv will use.
	ErrNoAuth = errors.New("notify: smtp: the server offers no usable AUTH mechanism")
)

// Steps of sending a mail, as reported in SendError.Step.
const (
	StepConnect  = "connect" // TCP, and the TLS handshake for TLSImplicit
	StepGreeting = "greeting"
	StepHello    = "hello"
	StepStartTLS = "starttls" // the command and the TLS handshake
	StepAuth     = "auth"
	StepMail     = "mail from"
	StepRcpt     = "rcpt to"
	StepData     = "data"
)

// SendError reports which step of an SMTP exchange failed. Its text names the
// step and gives the reason with every address, credential and control
// character taken out, so it can be logged; it never holds the message's
// subject or body.
type SendError struct {
	// Step is one of the Step constants.
	Step string
	// Code is the server's SMTP reply code, or 0 when the server did not
	// answer with one.
	Code int
	// Temporary reports whether trying again later may succeed (a 4xx reply,
	// a network failure).
	Temporary bool

	reason  string
	wrapped []error
}

func (e *SendError) Error() string {
	if e.reason == "" {
		return "notify: smtp: " + e.Step + " failed"
	}
	return "notify: smtp: " + e.Step + " failed: " + e.reason
}

// Unwrap returns the errors that errors.Is and errors.As can find:
// ErrNoSTARTTLS, ErrNoAuth, context errors, os.ErrDeadlineExceeded and
// *tls.CertificateVerificationError. The underlying errors themselves are
// not kept, because their text may quote an address.
func (e *SendError) Unwrap() []error { return e.wrapped }

// Send sends msg: connect, secure the connection as the policy says,
// authenticate, and hand over the message. The message goes to all of
// msg.To or to none.
func (s *SMTP) Send(ctx context.Context, msg Message) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("notify: smtp: not sent: %w", err)
	}
	if err := msg.validate(); err != nil {
		return err
	}
	m, err := s.build(msg)
	if err != nil {
		return err
	}
	secrets := s.secrets(msg)

	raw, conn, err := s.dial(ctx)
	if err != nil {
		return s.fail(ctx, StepConnect, err, secrets)
	}
	// Closing the raw connection is what ends a blocked read or write when
	// ctx is done; deadlines bound each step in the meantime.
	stop := context.AfterFunc(ctx, func() { raw.Close() })
	defer stop()
	defer raw.Close()
	if err := raw.SetDeadline(time.Now().Add(s.timeout)); err != nil {
		return s.fail(ctx, StepConnect, err, secrets)
	}

	c, err := smtp.NewClient(conn, s.host)
	if err != nil {
		return s.fail(ctx, StepGreeting, err, secrets)
	}
	defer c.Close()
	if err := s.step(c, func() error { return c.Hello(s.helo) }); err != nil {
		return s.fail(ctx, StepHello, err, secrets)
	}
	if s.policy == TLSStartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return s.fail(ctx, StepStartTLS, ErrNoSTARTTLS, secrets)
		}
		if err := s.step(c, func() error { return c.StartTLS(s.tls) }); err != nil {
			return s.fail(ctx, StepStartTLS, err, secrets)
		}
		if _, ok := c.TLSConnectionState(); !ok {
			return s.fail(ctx, StepStartTLS, errors.New("connection is not encrypted after STARTTLS"), secrets)
		}
	}
	if s.username != "" {
		if err := s.step(c, func() error { return s.auth(c) }); err != nil {
			return s.fail(ctx, StepAuth, err, secrets)
		}
	}

	// go-mail writes the envelope and the MIME message. Its client is only a
	// carrier of options here: the connection above is ours.
	mc, err := gomail.NewClient(s.host, gomail.WithTimeout(s.timeout), gomail.WithoutNoop(), gomail.WithoutRset())
	if err != nil {
		return fmt.Errorf("notify: smtp: creating the mail client failed: %w", err)
	}
	if err := mc.SendWithSMTPClient(c, m); err != nil && !m.IsDelivered() {
		return s.fail(ctx, sendStep(err), err, secrets)
	}
	// The server has accepted the message; a failed QUIT changes nothing.
	_ = c.Quit()
	return nil
}

// step renews the connection's deadline and runs f.
func (s *SMTP) step(c *smtp.Client, f func() error) error {
	if err := c.UpdateDeadline(s.timeout); err != nil {
		return err
	}
	return f()
}

// dial connects to the server; for TLSImplicit it also completes the TLS
// handshake. It returns the TCP connection and the one to speak SMTP on.
func (s *SMTP) dial(ctx context.Context) (raw, conn net.Conn, err error) {
	d := net.Dialer{Timeout: s.timeout}
	raw, err = d.DialContext(ctx, "tcp", s.addr)
	if err != nil {
		return nil, nil, err
	}
	if s.policy != TLSImplicit {
		return raw, raw, nil
	}
	tc := tls.Client(raw, s.tls)
	hctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		raw.Close()
		return nil, nil, err
	}
	return raw, tc, nil
}

// auth authenticates with the best mechanism both sides support. SCRAM keeps
// the password from the server; PLAIN and LOGIN send it, which go-mail allows
// only over TLS or to localhost.
func (s *SMTP) auth(c *smtp.Client) error {
	ok, mechs := c.Extension("AUTH")
	if !ok {
		return ErrNoAuth
	}
	offered := strings.Fields(strings.ToUpper(mechs))
	user, pass := s.username, s.password.Reveal()
	var a smtp.Auth
	switch {
	case slices.Contains(offered, "SCRAM-SHA-256"):
		a = smtp.ScramSHA256Auth(user, pass)
	case slices.Contains(offered, "PLAIN"):
		a = smtp.PlainAuth("", user, pass, s.host, false)
	case slices.Contains(offered, "LOGIN"):
		a = smtp.LoginAuth(user, pass, s.host, false)
	default:
		return ErrNoAuth
	}
	return c.Auth(a)
}

// build turns msg into a go-mail message.
func (s *SMTP) build(msg Message) (*gomail.Msg, error) {
	m := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	if err := m.From(s.from); err != nil {
		return nil, errors.New("notify: smtp: the from address is not a valid address")
	}
	if err := m.To(msg.To...); err != nil {
		return nil, fmt.Errorf("%w: a recipient is not a valid address", ErrInvalidMessage)
	}
	m.Subject(msg.Subject)
	m.SetDateWithValue(time.Now())
	id, err := messageID(s.fromDomain)
	if err != nil {
		return nil, err
	}
	m.SetMessageIDWithValue(id)
	// RFC 3834: tells auto-responders (out-of-office replies) to stay quiet.
	m.SetGenHeader("Auto-Submitted", "auto-generated")
	if msg.Lang != "" {
		m.SetGenHeader(gomail.HeaderContentLang, msg.Lang)
	}
	for name, value := range msg.Headers {
		m.SetGenHeader(gomail.Header(canonicalHeader(name)), value)
	}
	m.SetBodyString(gomail.TypeTextPlain, msg.Text)
	if msg.HTML != "" {
		m.AddAlternativeString(gomail.TypeTextHTML, msg.HTML)
	}
	return m, nil
}

// messageID returns a random Message-ID under the sender's domain, so that
// the header names neither this host nor the recipient.
func messageID(domain string) (string, error) {
	var b [18]byte
	if _, err := io.ReadFull(rand.Reader, b[:]); err != nil {
		return "", fmt.Errorf("notify: smtp: making a message id failed: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]) + "@" + domain, nil
}

// secrets lists the strings that must not appear in an error about msg.
func (s *SMTP) secrets(msg Message) []string {
	out := []string{s.password.Reveal(), s.from}
	if len(s.username) >= 4 {
		out = append(out, s.username)
	}
	for _, to := range msg.To {
		out = append(out, to)
		if a, err := mail.ParseAddress(to); err == nil {
			out = append(out, a.Address)
			if len(a.Name) >= 3 {
				out = append(out, a.Name)
			}
		}
	}
	return out
}

// sendStep maps a go-mail send error to the step that failed.
func sendStep(err error) string {
	var se *gomail.SendError
	if !errors.As(err, &se) {
		return StepData
	}
	switch se.Reason {
	case gomail.ErrSMTPMailFrom:
		return StepMail
	case gomail.ErrSMTPRcptTo:
		return StepRcpt
	default:
		return StepData
	}
}

// fail builds the SendError for err at step.
func (s *SMTP) fail(ctx context.Context, step string, err error, secrets []string) error {
	e := &SendError{Step: step}
	if cerr := ctx.Err(); cerr != nil {
		// The connection was closed because ctx ended: say so rather than
		// report the closed connection.
		e.reason = cerr.Error()
		e.wrapped = []error{cerr}
		return e
	}
	e.reason = scrub(strings.TrimPrefix(err.Error(), "notify: smtp: "), secrets)
	for _, target := range []error{ErrNoSTARTTLS, ErrNoAuth, os.ErrDeadlineExceeded, context.DeadlineExceeded} {
		if errors.Is(err, target) {
			e.wrapped = append(e.wrapped, target)
		}
	}
	var certErr *tls.CertificateVerificationError
	if errors.As(err, &certErr) {
		e.wrapped = append(e.wrapped, certErr)
	}
	var (
		sendErr *gomail.SendError
		tpErr   *textproto.Error
		netErr  net.Error
	)
	switch {
	case errors.As(err, &sendErr) && sendErr.ErrorCode() != 0:
		e.Code = sendErr.ErrorCode()
		e.Temporary = sendErr.IsTemp()
	case errors.As(err, &tpErr):
		e.Code = tpErr.Code
		e.Temporary = tpErr.Code >= 400 && tpErr.Code < 500
	case certErr != nil:
		// A certificate that does not verify will not verify next time.
	case errors.As(err, &netErr), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		e.Temporary = true
	}
	return e
}

// maxReasonLen bounds the reason kept in a SendError.
const maxReasonLen = 300

// scrub makes s safe to log: it removes each of secrets, every word that
// contains an @ (an address, whatever its quoting), and control characters,
// and it cuts s to maxReasonLen bytes.
func scrub(s string, secrets []string) string {
	for _, x := range secrets {
		if x != "" {
			s = strings.ReplaceAll(s, x, "[redacted]")
		}
	}
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	words := strings.Fields(s)
	for i, w := range words {
		if strings.Contains(w, "@") {
			words[i] = "[redacted]"
		}
	}
	s = strings.Join(words, " ")
	if len(s) > maxReasonLen {
		cut := maxReasonLen
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return s
}
