package valvtest

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// SMTP is an in-process SMTP server on 127.0.0.1 that keeps every message it
// receives. It speaks real SMTP over TCP: STARTTLS with a certificate from a
// throwaway CA (or implicit TLS, or none), and AUTH PLAIN when it has
// credentials, in which case it refuses mail from clients that have not
// authenticated.
type SMTP struct {
	// Addr is "127.0.0.1:port"; Host and Port are its parts.
	Addr string
	Host string
	Port int
	// RootCAs trusts the server's certificate, which is valid for 127.0.0.1
	// and localhost.
	RootCAs *x509.CertPool
	// TLS are the CA and certificate files.
	TLS TLSFiles
	// Username and Password are the credentials AUTH accepts, if any.
	Username, Password string

	opts smtpOptions

	mu       sync.Mutex
	msgs     []SMTPMessage
	next     map[string]int // recipient (lower case) → index of the next message WaitFor may return
	received chan struct{}  // closed and replaced when a message arrives
	closed   bool
	t        testing.TB
}

// SMTPMessage is one received message.
type SMTPMessage struct {
	// From and To are the envelope (MAIL FROM and RCPT TO).
	From string
	To   []string
	// Raw is the message as received (CRLF line ends).
	Raw []byte
	// Header is the parsed header; Subject is its Subject, decoded.
	Header  mail.Header
	Subject string
	// Text and HTML are the first text/plain and text/html parts, with their
	// transfer encoding (quoted-printable, base64) undone and CRLF turned
	// into LF.
	Text, HTML string
	// TLS reports whether the message came over TLS; User is the name the
	// client authenticated as, or "".
	TLS  bool
	User string
	// ParseErr is why the message could not be parsed, if it could not.
	ParseErr error
}

type smtpOptions struct {
	username, password string
	noTLS, implicitTLS bool
	reject             map[string]bool
}

// SMTPOption adjusts an SMTP test server.
type SMTPOption func(*smtpOptions)

// SMTPAuth makes the server offer AUTH PLAIN (over TLS), accept only
// username and password, and refuse MAIL FROM until a client authenticates.
func SMTPAuth(username, password string) SMTPOption {
	return func(o *smtpOptions) { o.username, o.password = username, password }
}

// SMTPWithoutTLS makes the server speak plain text only: it offers no
// STARTTLS (and allows AUTH without TLS).
func SMTPWithoutTLS() SMTPOption {
	return func(o *smtpOptions) { o.noTLS = true }
}

// SMTPImplicitTLS makes the server speak TLS from the first byte, as on port
// 465, instead of offering STARTTLS.
func SMTPImplicitTLS() SMTPOption {
	return func(o *smtpOptions) { o.implicitTLS = true }
}

// SMTPRejectRecipient makes the server refuse RCPT TO addr with a 550 reply
// that quotes the address, as many servers do.
func SMTPRejectRecipient(addr string) SMTPOption {
	return func(o *smtpOptions) {
		if o.reject == nil {
			o.reject = map[string]bool{}
		}
		o.reject[strings.ToLower(addr)] = true
	}
}

// SMTPServer starts an SMTP server for the test; it is shut down when the
// test ends. With no options it offers STARTTLS and no AUTH.
func SMTPServer(t testing.TB, opts ...SMTPOption) *SMTP {
	t.Helper()
	s := &SMTP{next: map[string]int{}, received: make(chan struct{}), t: t}
	for _, o := range opts {
		o(&s.opts)
	}
	s.Username, s.Password = s.opts.username, s.opts.password

	files, err := WriteTLSFiles(t.TempDir())
	if err != nil {
		t.Fatalf("valvtest: smtp: %v", err)
	}
	s.TLS = files
	cert, err := tls.LoadX509KeyPair(files.CertFile, files.KeyFile)
	if err != nil {
		t.Fatalf("valvtest: smtp: %v", err)
	}
	caPEM, err := os.ReadFile(files.CAFile)
	if err != nil {
		t.Fatalf("valvtest: smtp: %v", err)
	}
	s.RootCAs = x509.NewCertPool()
	if !s.RootCAs.AppendCertsFromPEM(caPEM) {
		t.Fatal("valvtest: smtp: no CA certificate in " + files.CAFile)
	}
	tlsConfig := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("valvtest: smtp: %v", err)
	}
	tcp := ln.Addr().(*net.TCPAddr)
	s.Addr, s.Host, s.Port = tcp.String(), tcp.IP.String(), tcp.Port

	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &smtpSession{s: s, conn: c}, nil
	}))
	srv.Domain = "localhost"
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.MaxMessageBytes = 10 << 20
	srv.MaxRecipients = 100
	srv.ErrorLog = smtpLogger{s}
	switch {
	case s.opts.noTLS:
		srv.AllowInsecureAuth = true
	case s.opts.implicitTLS:
		ln = tls.NewListener(ln, tlsConfig)
	default:
		srv.TLSConfig = tlsConfig
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		_ = srv.Close()
		// Close may run before Serve has registered the listener (a test
		// that failed at once); closing it too makes Serve return.
		_ = ln.Close()
		<-served
	})
	return s
}

// Messages returns every message received so far, oldest first.
func (s *SMTP) Messages() []SMTPMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SMTPMessage(nil), s.msgs...)
}

// WaitFor returns the next message for the envelope recipient to (compared
// without regard to case) that WaitFor has not yet returned for to, waiting
// for it until ctx ends. Successive calls return successive messages.
func (s *SMTP) WaitFor(ctx context.Context, to string) (SMTPMessage, error) {
	key := strings.ToLower(to)
	for {
		s.mu.Lock()
		for i := s.next[key]; i < len(s.msgs); i++ {
			for _, rcpt := range s.msgs[i].To {
				if strings.ToLower(rcpt) == key {
					s.next[key] = i + 1
					m := s.msgs[i]
					s.mu.Unlock()
					return m, nil
				}
			}
		}
		s.next[key] = len(s.msgs)
		received := s.received
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return SMTPMessage{}, fmt.Errorf("valvtest: smtp: no message for %s: %w", to, ctx.Err())
		case <-received:
		}
	}
}

func (s *SMTP) add(m SMTPMessage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, m)
	close(s.received)
	s.received = make(chan struct{})
}

// smtpLogger passes the server's complaints (a failed TLS handshake, ...) to
// the test log until the test ends.
type smtpLogger struct{ s *SMTP }

func (l smtpLogger) Printf(format string, v ...any) { l.log(fmt.Sprintf(format, v...)) }
func (l smtpLogger) Println(v ...any)               { l.log(fmt.Sprintln(v...)) }

func (l smtpLogger) log(msg string) {
	l.s.mu.Lock()
	defer l.s.mu.Unlock()
	if !l.s.closed {
		l.s.t.Logf("valvtest: smtp server: %s", strings.TrimSpace(msg))
	}
}

type smtpSession struct {
	s    *SMTP
	conn *smtp.Conn
	user string
	from string
	to   []string
}

var _ smtp.AuthSession = (*smtpSession)(nil)

func (ss *smtpSession) AuthMechanisms() []string {
	if ss.s.Username == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *smtpSession) Auth(mech string) (sasl.Server, error) {
	if ss.s.Username == "" || mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if identity != "" && identity != username {
			return smtp.ErrAuthFailed
		}
		if username != ss.s.Username || password != ss.s.Password {
			return smtp.ErrAuthFailed
		}
		ss.user = username
		return nil
	}), nil
}

func (ss *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if ss.s.Username != "" && ss.user == "" {
		return smtp.ErrAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if ss.s.opts.reject[strings.ToLower(to)] {
		return &smtp.SMTPError{
			Code:         550,
			EnhancedCode: smtp.EnhancedCode{5, 1, 1},
			Message:      "<" + to + ">: Recipient address rejected: User unknown",
		}
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *smtpSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m := parseSMTPMessage(raw)
	m.From, m.To, m.User = ss.from, append([]string(nil), ss.to...), ss.user
	_, m.TLS = ss.conn.TLSConnectionState()
	ss.s.add(m)
	return nil
}

func (ss *smtpSession) Reset() {
	ss.from, ss.to = "", nil
}

func (ss *smtpSession) Logout() error { return nil }

// parseSMTPMessage parses raw as far as it can.
func parseSMTPMessage(raw []byte) SMTPMessage {
	m := SMTPMessage{Raw: raw}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		m.ParseErr = err
		return m
	}
	m.Header = msg.Header
	if m.Subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); err != nil {
		m.ParseErr = fmt.Errorf("subject: %w", err)
		return m
	}
	m.ParseErr = m.readPart(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body, 0)
	return m
}

// maxMIMEDepth bounds the nesting of multipart parts.
const maxMIMEDepth = 5

// readPart reads one MIME part into m.Text or m.HTML, or walks a multipart.
func (m *SMTPMessage) readPart(contentType, encoding string, body io.Reader, depth int) error {
	if contentType == "" {
		contentType = "text/plain; charset=us-ascii"
	}
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return fmt.Errorf("content type: %w", err)
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		if depth >= maxMIMEDepth {
			return errors.New("multipart nested too deep")
		}
		mr := multipart.NewReader(body, params["boundary"])
		for {
			// NextRawPart leaves the transfer encoding to readPart.
			p, err := mr.NextRawPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fmt.Errorf("multipart: %w", err)
			}
			if err := m.readPart(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p, depth+1); err != nil {
				return err
			}
		}
	}
	var r io.Reader
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "", "7bit", "8bit", "binary":
		r = body
	case "quoted-printable":
		r = quotedprintable.NewReader(body)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, body) // it skips line breaks
	default:
		return fmt.Errorf("unknown transfer encoding %q", encoding)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("%s body: %w", mediaType, err)
	}
	text := strings.ReplaceAll(string(b), "\r\n", "\n")
	switch {
	case mediaType == "text/plain" && m.Text == "":
		m.Text = text
	case mediaType == "text/html" && m.HTML == "":
		m.HTML = text
	}
	return nil
}
