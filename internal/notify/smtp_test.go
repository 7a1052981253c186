package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/valvhq/valv/internal/config"
	"github.com/valvhq/valv/internal/valvtest"
)

const (
	testUser     = "valv-mailer"
	testPassword = "Pw-9fK2-xQ7m"
	testFrom     = "Valv <no-reply@valv.example.com>"
)

// newTestSMTP returns a mailer for srv with STARTTLS, srv's CA and, when srv
// has them, its credentials; edit adjusts the configuration first.
func newTestSMTP(t *testing.T, srv *valvtest.SMTP, edit func(*SMTPConfig)) *SMTP {
	t.Helper()
	cfg := SMTPConfig{
		Host:     srv.Host,
		Port:     srv.Port,
		Username: srv.Username,
		Password: config.Secret(srv.Password),
		From:     testFrom,
		RootCAs:  srv.RootCAs,
		Timeout:  5 * time.Second,
	}
	if edit != nil {
		edit(&cfg)
	}
	m, err := NewSMTP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestSMTPSendsEveryTemplate sends every template in every language through
// a real SMTP server with STARTTLS and AUTH, with markup injected into every
// free-text field, and reads each back.
func TestSMTPSendsEveryTemplate(t *testing.T) {
	srv := valvtest.SMTPServer(t, valvtest.SMTPAuth(testUser, testPassword))
	mailer := newTestSMTP(t, srv, nil)
	ctx := testContext(t)

	const inject = `<script>alert("x")</script>`
	at := time.Date(2025, 3, 4, 14, 5, 0, 0, time.FixedZone("CET", 3600))
	cases := []struct {
		data templateData
		want []string // in the text
	}{
		{LoginCode{Code: "314159", ValidFor: 10 * time.Minute}, []string{"314159"}},
		{PasswordReset{Link: "https://valv.example.com/reset#token=R3s3t-" + inject, ValidFor: time.Hour}, []string{"https://valv.example.com/reset#token=R3s3t-" + inject}},
		{AccountSetup{Role: AccountUser, Organisation: "Acme " + inject, Link: "https://valv.example.com/setup#token=S3tup", ValidFor: 72 * time.Hour}, []string{"https://valv.example.com/setup#token=S3tup", "Acme " + inject}},
		{Lockout{At: at, LockedFor: 15 * time.Minute}, []string{"14:05 CET"}},
		{SecurityAlert{Organisation: "Acme AB", Title: "Alert " + inject, Lines: []string{"line one", inject}, At: at}, []string{"Alert " + inject, "- line one"}},
		{EmailChange{Link: "https://valv.example.com/email#token=Em41l", ValidFor: 24 * time.Hour}, []string{"https://valv.example.com/email#token=Em41l"}},
		{ReviewDigest{Organisation: "Acme " + inject, Date: "2025-03-04", Due: 5, Overdue: 2, Types: []ReviewCount{{Type: "invoice", Due: 4}}, Link: "https://valv.example.com/reviews?" + inject}, []string{"Acme " + inject, "- invoice: 4", "https://valv.example.com/reviews?" + inject}},
		{AccessNotice{Kind: AccessBreakGlass, Organisation: "Acme " + inject, Request: "r1", Operator: "ops@valv.test", Scope: "audit", Reason: "Reason " + inject,
			Duration: time.Hour, Link: "https://valv.example.com/access-requests/r1", At: at}, []string{"Acme " + inject, "Reason " + inject}},
	}
	if len(cases) != len(samples()) {
		t.Fatalf("%d cases for %d templates", len(cases), len(samples()))
	}
	for _, tc := range cases {
		for _, lang := range langs() {
			name := tc.data.template()
			msg, err := Render(name, lang, tc.data)
			if err != nil {
				t.Fatal(err)
			}
			to := "user+" + name + "." + lang + "@example.com"
			msg.To = []string{to}
			msg.Headers = map[string]string{"Reply-To": "support@valv.example.com"}
			if err := mailer.Send(ctx, msg); err != nil {
				t.Fatalf("%s/%s: %v", lang, name, err)
			}
			got, err := srv.WaitFor(ctx, to)
			if err != nil {
				t.Fatal(err)
			}
			if got.ParseErr != nil {
				t.Fatalf("%s/%s: server could not parse the message: %v", lang, name, got.ParseErr)
			}
			if !got.TLS || got.User != testUser {
				t.Errorf("%s/%s: TLS %v, user %q", lang, name, got.TLS, got.User)
			}
			if got.From != "no-reply@valv.example.com" || len(got.To) != 1 || got.To[0] != to {
				t.Errorf("%s/%s: envelope from %q to %q", lang, name, got.From, got.To)
			}
			if got.Subject != msg.Subject {
				t.Errorf("%s/%s: subject %q, want %q", lang, name, got.Subject, msg.Subject)
			}
			if got.Text != msg.Text {
				t.Errorf("%s/%s: text changed on the way:\n got %q\nwant %q", lang, name, got.Text, msg.Text)
			}
			if strings.TrimSpace(got.HTML) != strings.TrimSpace(msg.HTML) {
				t.Errorf("%s/%s: HTML changed on the way", lang, name)
			}
			for _, w := range tc.want {
				if !strings.Contains(got.Text, w) {
					t.Errorf("%s/%s: text lacks %q:\n%s", lang, name, w, got.Text)
				}
			}
			if strings.Contains(got.HTML, "<script") {
				t.Errorf("%s/%s: HTML holds unescaped markup:\n%s", lang, name, got.HTML)
			}
			for field, want := range map[string]string{
				"Content-Language": lang,
				"Auto-Submitted":   "auto-generated",
				"Reply-To":         "support@valv.example.com",
				"From":             `"Valv" <no-reply@valv.example.com>`,
			} {
				if v := got.Header.Get(field); v != want {
					t.Errorf("%s/%s: %s: %q, want %q", lang, name, field, v, want)
				}
			}
			if id := got.Header.Get("Message-Id"); !strings.HasSuffix(id, "@valv.example.com>") {
				t.Errorf("%s/%s: Message-ID %q", lang, name, id)
			}
			if ua := got.Header.Get("User-Agent") + got.Header.Get("X-Mailer"); ua != "" {
				t.Errorf("%s/%s: the mailer announces itself: %q", lang, name, ua)
			}
		}
	}
	if n := len(srv.Messages()); n != 2*len(cases) {
		t.Errorf("server received %d messages, want %d", n, 2*len(cases))
	}
}

// TestSMTPServerDecodes checks the test server itself: it must undo base64
// and quoted-printable bodies and encoded subjects, whoever the sender is.
// The message is sent with go-smtp's client (Dial, then SendMail).
func TestSMTPServerDecodes(t *testing.T) {
	srv := valvtest.SMTPServer(t, valvtest.SMTPWithoutTLS())
	c, err := gosmtp.Dial(srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	raw := strings.Join([]string{
		"From: a@example.com",
		"To: b@example.com",
		"Subject: =?utf-8?q?Din_kod_=C3=A4r_h=C3=A4r?=",
		"MIME-Version: 1.0",
		"Content-Type: multipart/mixed; boundary=outer",
		"",
		"--outer",
		"Content-Type: multipart/alternative; boundary=inner",
		"",
		"--inner",
		"Content-Type: text/plain; charset=utf-8",
		"Content-Transfer-Encoding: base64",
		"",
		"S29kZW46IDY2", // base64 wrapped mid-quantum
		"NjAwMQ==",
		"--inner",
		"Content-Type: text/html; charset=utf-8",
		"Content-Transfer-Encoding: quoted-printable",
		"",
		"<p>Koden: <b>666001</b> =C3=A4r=",
		" h=C3=A4r</p>",
		"--inner--",
		"--outer--",
		"",
	}, "\r\n")
	if err := c.SendMail("a@example.com", []string{"b@example.com"}, strings.NewReader(raw)); err != nil {
		t.Fatal(err)
	}
	got, err := srv.WaitFor(testContext(t), "b@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if got.ParseErr != nil {
		t.Fatal(got.ParseErr)
	}
	if got.Subject != "Din kod är här" || got.Text != "Koden: 666001" || got.HTML != "<p>Koden: <b>666001</b> är här</p>" {
		t.Errorf("subject %q, text %q, html %q", got.Subject, got.Text, got.HTML)
	}
}

func testMessage(to ...string) Message {
	return Message{To: to, Subject: "Hello", Text: "Your code is 424242.\n", Template: "test"}
}

// sendError asserts that err is a *SendError at step.
func sendError(t *testing.T, err error, step string) *SendError {
	t.Helper()
	var se *SendError
	if !errors.As(err, &se) {
		t.Fatalf("error %v (%T) is not a *SendError", err, err)
	}
	if se.Step != step {
		t.Errorf("step %q, want %q (%v)", se.Step, step, err)
	}
	return se
}

func TestSMTPRequiresSTARTTLS(t *testing.T) {
	srv := valvtest.SMTPServer(t, valvtest.SMTPWithoutTLS())
	mailer := newTestSMTP(t, srv, nil)
	err := mailer.Send(testContext(t), testMessage("a@example.com"))
	if !errors.Is(err, ErrNoSTARTTLS) {
		t.Fatalf("err = %v, want ErrNoSTARTTLS", err)
	}
	sendError(t, err, StepStartTLS)
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("%d messages were sent in plain text", n)
	}
}

func TestSMTPWrongPassword(t *testing.T) {
	srv := valvtest.SMTPServer(t, valvtest.SMTPAuth(testUser, testPassword))
	const wrong = "Wr0ng-pa55word-7Q"
	mailer := newTestSMTP(t, srv, func(c *SMTPConfig) { c.Password = wrong })
	err := mailer.Send(testContext(t), testMessage("anna.andersson@example.com"))
	se := sendError(t, err, StepAuth)
	if se.Code != 535 || se.Temporary {
		t.Errorf("code %d, temporary %v; want 535, permanent", se.Code, se.Temporary)
	}
	for _, leak := range []string{wrong, testPassword, "anna", "424242"} {
		if strings.Contains(err.Error(), leak) {
			t.Errorf("error %q contains %q", err, leak)
		}
	}
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("%d messages were accepted", n)
	}
}

func TestSMTPServerWithoutAuth(t *testing.T) {
	srv := valvtest.SMTPServer(t)
	mailer := newTestSMTP(t, srv, func(c *SMTPConfig) { c.Username, c.Password = testUser, testPassword })
	err := mailer.Send(testContext(t), testMessage("a@example.com"))
	if !errors.Is(err, ErrNoAuth) {
		t.Fatalf("err = %v, want ErrNoAuth", err)
	}
	sendError(t, err, StepAuth)
}

func TestSMTPUntrustedCertificate(t *testing.T) {
	srv := valvtest.SMTPServer(t)
	mailer := newTestSMTP(t, srv, func(c *SMTPConfig) { c.RootCAs = nil })
	err := mailer.Send(testContext(t), testMessage("a@example.com"))
	se := sendError(t, err, StepStartTLS)
	var certErr *tls.CertificateVerificationError
	if !errors.As(err, &certErr) {
		t.Errorf("err = %v, want a certificate verification error", err)
	}
	if se.Temporary {
		t.Error("an untrusted certificate is reported as temporary")
	}
	// The certificate is for 127.0.0.1 and localhost, not this name.
	mailer = newTestSMTP(t, srv, func(c *SMTPConfig) { c.Host = "localhost" })
	if err := mailer.Send(testContext(t), testMessage("a@example.com")); err != nil {
		t.Errorf("localhost: %v", err)
	}
}

func TestSMTPImplicitTLS(t *testing.T) {
	srv := valvtest.SMTPServer(t, valvtest.SMTPImplicitTLS(), valvtest.SMTPAuth(testUser, testPassword))
	mailer := newTestSMTP(t, srv, func(c *SMTPConfig) { c.TLS = TLSImplicit })
	ctx := testContext(t)
	if err := mailer.Send(ctx, testMessage("a@example.com")); err != nil {
		t.Fatal(err)
	}
	got, err := srv.WaitFor(ctx, "A@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if !got.TLS || got.User != testUser || !strings.Contains(got.Text, "424242") {
		t.Errorf("TLS %v, user %q, text %q", got.TLS, got.User, got.Text)
	}
}

func TestSMTPPolicyNone(t *testing.T) {
	for _, host := range []string{"smtp.example.com", "localhost", "10.0.0.1", "::ffff:192.0.2.1"} {
		if _, err := NewSMTP(SMTPConfig{Host: host, From: testFrom, TLS: TLSNone}); err == nil {
			t.Errorf("policy none accepted for %s", host)
		}
	}
	if _, err := NewSMTP(SMTPConfig{Host: "127.0.0.1", From: testFrom, TLS: "NONE"}); err == nil {
		t.Error("an unknown policy was accepted")
	}

	srv := valvtest.SMTPServer(t, valvtest.SMTPWithoutTLS(), valvtest.SMTPAuth(testUser, testPassword))
	mailer := newTestSMTP(t, srv, func(c *SMTPConfig) { c.TLS = TLSNone })
	ctx := testContext(t)
	if err := mailer.Send(ctx, testMessage("a@example.com")); err != nil {
		t.Fatal(err)
	}
	got, err := srv.WaitFor(ctx, "a@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if got.TLS || got.User != testUser {
		t.Errorf("TLS %v, user %q", got.TLS, got.User)
	}
}

func TestNewSMTPChecksConfig(t *testing.T) {
	for _, cfg := range []SMTPConfig{
		{From: testFrom},
		{Host: "smtp.example.com"},
		{Host: "smtp.example.com", From: "not an address"},
		{Host: "smtp.example.com", From: testFrom, Username: "u"},
		{Host: "smtp.example.com", From: testFrom, Password: "p"},
		{Host: "smtp.example.com", From: testFrom, Port: 70000},
		{Host: "smtp.example.com", From: testFrom, Timeout: -time.Second},
	} {
		if _, err := NewSMTP(cfg); err == nil {
			t.Errorf("NewSMTP(%+v) succeeded", cfg)
		}
	}
}

// TestSMTPRejectedRecipient checks that a server reply quoting an address
// does not bring it into the error, and that a message goes to all its
// recipients or to none.
func TestSMTPRejectedRecipient(t *testing.T) {
	srv := valvtest.SMTPServer(t, valvtest.SMTPRejectRecipient("nobody@example.com"))
	mailer := newTestSMTP(t, srv, nil)
	err := mailer.Send(testContext(t), testMessage("Anna Andersson <anna@example.com>", "nobody@example.com"))
	se := sendError(t, err, StepRcpt)
	if se.Code != 550 || se.Temporary {
		t.Errorf("code %d, temporary %v; want 550, permanent", se.Code, se.Temporary)
	}
	for _, leak := range []string{"@", "nobody", "anna", "Anna Andersson", "Hello", "424242"} {
		if strings.Contains(err.Error(), leak) {
			t.Errorf("error %q contains %q", err, leak)
		}
	}
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("%d messages delivered; want none", n)
	}
}

func TestSMTPConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	mailer, err := NewSMTP(SMTPConfig{Host: "127.0.0.1", Port: port, From: testFrom})
	if err != nil {
		t.Fatal(err)
	}
	se := sendError(t, mailer.Send(testContext(t), testMessage("a@example.com")), StepConnect)
	if !se.Temporary {
		t.Error("a refused connection is reported as permanent")
	}
}

// TestSMTPContext checks that Send gives up when its context ends, also
// while the server says nothing.
func TestSMTPContext(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // accept and stay silent
			mu.Unlock()
		}
	}()
	mailer, err := NewSMTP(SMTPConfig{Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, From: testFrom, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := mailer.Send(ctx, testMessage("a@example.com")); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: err = %v", err)
	}

	ctx, cancel = context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = mailer.Send(ctx, testMessage("a@example.com"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("silent server: err = %v, want context.DeadlineExceeded", err)
	}
	sendError(t, err, StepGreeting)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Send took %v after its context ended", d)
	}
}

func TestMessageValidation(t *testing.T) {
	const addr = "secret.person@example.com"
	ok := testMessage(addr)
	if err := (Discard{}).Send(t.Context(), ok); err != nil {
		t.Fatal(err)
	}
	withHeader := ok
	withHeader.Headers = map[string]string{"reply-to": "x@example.com", "X-Valv-Tenant": "t_123"}
	if err := (Discard{}).Send(t.Context(), withHeader); err != nil {
		t.Errorf("valid headers refused: %v", err)
	}
	many := make([]string, MaxRecipients+1)
	for i := range many {
		many[i] = addr
	}
	for name, edit := range map[string]func(*Message){
		"no recipient":       func(m *Message) { m.To = nil },
		"too many":           func(m *Message) { m.To = many },
		"bad address":        func(m *Message) { m.To = []string{"secret.person(at)example.com"} },
		"address with CRLF":  func(m *Message) { m.To = []string{addr + "\r\nBcc: other@example.com"} },
		"subject with CRLF":  func(m *Message) { m.Subject = "Hi\r\nBcc: other@example.com" },
		"no subject":         func(m *Message) { m.Subject = " " },
		"no text":            func(m *Message) { m.Text = "" },
		"bcc header":         func(m *Message) { m.Headers = map[string]string{"BCC": addr} },
		"content header":     func(m *Message) { m.Headers = map[string]string{"Content-Type": "text/html"} },
		"header name":        func(m *Message) { m.Headers = map[string]string{"X Bad": "1"} },
		"header name colon":  func(m *Message) { m.Headers = map[string]string{"X-A:": "1"} },
		"header value CRLF":  func(m *Message) { m.Headers = map[string]string{"X-A": "1\r\nBcc: " + addr} },
		"language not a tag": func(m *Message) { m.Lang = "sv\r\n" },
	} {
		m := testMessage(addr)
		edit(&m)
		err := (Discard{}).Send(t.Context(), m)
		if !errors.Is(err, ErrInvalidMessage) {
			t.Errorf("%s: err = %v, want ErrInvalidMessage", name, err)
			continue
		}
		if strings.Contains(err.Error(), "secret.person") {
			t.Errorf("%s: error quotes the address: %v", name, err)
		}
	}
}

func TestLogMailer(t *testing.T) {
	var buf bytes.Buffer
	l := NewLog(slog.New(slog.NewTextHandler(&buf, nil)))
	msg, err := Render(TemplateLoginCode, "sv", LoginCode{Code: "271828", ValidFor: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	msg.To = []string{"anna.andersson@example.com"}
	if err := l.Send(t.Context(), msg); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, "template=login_code") || !strings.Contains(out, "lang=sv") {
		t.Errorf("log lacks the template: %s", out)
	}
	for _, leak := range []string{"anna", "example.com", "271828", msg.Subject} {
		if strings.Contains(out, leak) {
			t.Errorf("log contains %q: %s", leak, out)
		}
	}
	kept := l.Messages()
	if len(kept) != 1 || !strings.Contains(kept[0].Text, "271828") || kept[0].To[0] != msg.To[0] {
		t.Fatalf("kept %+v", kept)
	}
	kept[0].To[0] = "changed@example.com"
	if l.Messages()[0].To[0] != msg.To[0] {
		t.Error("Messages returns shared slices")
	}

	for i := range LogKeep + 5 {
		m := testMessage("a@example.com")
		m.Subject = "n" + string(rune('a'+i%26))
		if err := l.Send(t.Context(), m); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(l.Messages()); n != LogKeep {
		t.Errorf("kept %d messages, want %d", n, LogKeep)
	}
	if err := l.Send(t.Context(), Message{}); !errors.Is(err, ErrInvalidMessage) {
		t.Errorf("invalid message: %v", err)
	}
}

func TestScrub(t *testing.T) {
	for _, tc := range []struct {
		in      string
		secrets []string
		want    string
	}{
		{"550 5.1.1 <a@b.example>: rejected", nil, "550 5.1.1 [redacted] rejected"},
		{"user \"x y\"@example.com unknown", nil, "user \"x [redacted] unknown"},
		{"auth failed for hunter2\r\nbye", []string{"hunter2"}, "auth failed for [redacted] bye"},
		{"tab\tand\x00nul", nil, "tab and nul"},
		{strings.Repeat("é", 400), nil, strings.Repeat("é", maxReasonLen/2) + "..."},
	} {
		if got := scrub(tc.in, tc.secrets); got != tc.want {
			t.Errorf("scrub(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
