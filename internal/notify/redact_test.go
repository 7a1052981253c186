package notify

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestRedaction prints and logs every value that holds personal data or a
// secret, and checks that none of it comes out.
func TestRedaction(t *testing.T) {
	const (
		addr  = "anna.andersson@example.com"
		code  = "918273"
		token = "T0ken-9f8e7d"
	)
	link := "https://valv.example.com/x?token=" + token
	msg := Message{To: []string{addr}, Subject: "Code " + code, Text: "Your code is " + code, HTML: "<p>" + code, Template: TemplateLoginCode, Lang: "sv"}
	values := []any{
		msg,
		Webhook{URL: link, ID: "msg_1", Body: []byte(`{"email":"` + addr + `"}`), Secrets: [][]byte{[]byte(token + token + token)}},
		LoginCode{Code: code, ValidFor: time.Minute},
		PasswordReset{Link: link, ValidFor: time.Minute},
		AccountSetup{Role: AccountUser, Organisation: "X", Link: link, ValidFor: time.Minute},
		EmailChange{Link: link, ValidFor: time.Minute},
	}
	for _, v := range values {
		var buf bytes.Buffer
		slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "v", v)
		slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "v", v)
		out := fmt.Sprintf("%v %+v %#v %s", v, v, v, v) + buf.String()
		for _, leak := range []string{addr, code, token} {
			if strings.Contains(out, leak) {
				t.Errorf("%T shows %q: %s", v, leak, out)
			}
		}
	}
	if s := msg.String(); !strings.Contains(s, "login_code") || !strings.Contains(s, "recipients=1") {
		t.Errorf("Message.String() = %s", s)
	}
}
