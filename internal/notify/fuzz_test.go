package notify

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FuzzVerify feeds Verify arbitrary header values and bodies. It must never
// panic, and it may accept only when one of the v1 signatures in the header
// is exactly the one Sign makes.
func FuzzVerify(f *testing.F) {
	key := mustSecret(f, kaSecret)
	now := time.Unix(kaTimestamp, 0)
	f.Add(kaID, strconv.Itoa(kaTimestamp), kaSignature, []byte(kaBody))
	f.Add(kaID, strconv.Itoa(kaTimestamp), "v1a,abc v2,x "+kaSignature, []byte(kaBody))
	f.Add(kaID, strconv.Itoa(kaTimestamp), kaSignature+"  v1,", []byte(kaBody))
	f.Add("msg.1", "1614265330", "v1,", []byte("{}"))
	f.Add("", "", "", []byte(nil))
	f.Add("id", "+1614265330", "v1,AAAA", []byte("x"))
	f.Add("id", "00001614265330", "v1,=", []byte("x"))
	f.Add("id", "1614265330\x00", ",,,", []byte("x"))
	f.Fuzz(func(t *testing.T, id, ts, sig string, body []byte) {
		h := http.Header{}
		h[http.CanonicalHeaderKey(HeaderWebhookID)] = []string{id}
		h[http.CanonicalHeaderKey(HeaderWebhookTimestamp)] = []string{ts}
		h[http.CanonicalHeaderKey(HeaderWebhookSignature)] = []string{sig}
		err := Verify([][]byte{key}, h, body, now, 0)
		if err != nil {
			return
		}
		n, perr := strconv.ParseInt(ts, 10, 64)
		if perr != nil || strings.ContainsAny(ts, "+-") {
			t.Fatalf("accepted timestamp %q", ts)
		}
		want := Sign(key, id, time.Unix(n, 0), body)
		found := false
		for s := range strings.SplitSeq(sig, " ") {
			found = found || s == want
		}
		if !found {
			t.Fatalf("accepted %q for id %q ts %q body %q without the signature %s", sig, id, ts, body, want)
		}
		if strings.Contains(id, ".") || id == "" {
			t.Fatalf("accepted id %q", id)
		}
	})
}

// FuzzParseWebhookSecret checks that ParseWebhookSecret never panics and that
// a secret it accepts has one text form: the key written back is the input.
func FuzzParseWebhookSecret(f *testing.F) {
	f.Add(kaSecret)
	f.Add("whsec_")
	f.Add("whsec_" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xff}, 64)))
	f.Add("whsec_" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xff}, 65)))
	f.Add("whsec_MfKQ9r8GKYqrTwjUPD8I\nLPZIo2LaLaSw")
	f.Add("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSx")
	f.Add("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	f.Fuzz(func(t *testing.T, s string) {
		key, err := ParseWebhookSecret(s)
		if err != nil {
			if key != nil {
				t.Fatal("a key with an error")
			}
			return
		}
		if len(key) < MinWebhookSecretSize || len(key) > MaxWebhookSecretSize {
			t.Fatalf("accepted a key of %d bytes", len(key))
		}
		if back := WebhookSecretPrefix + base64.StdEncoding.EncodeToString(key); back != s {
			t.Fatalf("%q was accepted but is written %q", s, back)
		}
	})
}

// FuzzReviewDigest renders review digests with arbitrary fields. Render must
// never panic; data that validate accepts must render; and what renders
// has a one-line subject, escaped HTML, and lists only type names that are
// document type names.
func FuzzReviewDigest(f *testing.F) {
	f.Add("Exempel AB", "2025-03-04", 17, 3, "contract", 9, "invoice", 8, "https://valv.example.com/reviews")
	f.Add("<b>X</b>\r\nBcc: a@example.com", "2024-02-29", 1, 1, "a", 1, "", 0, "https://x.example/r?a=<script>")
	f.Add("X", "2025-02-29", 0, 0, "Anna Andersson", 1, "invoice", 1, "http://x.example")
	f.Add("X", "2025-3-4", 2, 3, "invoice", 1, "invoice", 1, "https://x.example")
	f.Add("X", "2025-03-04", 5, 0, "-x", -1, "x.y_z-1", 4, "javascript:alert(1)")
	f.Fuzz(func(t *testing.T, org, date string, due, overdue int, type1 string, due1 int, type2 string, due2 int, link string) {
		d := ReviewDigest{Organisation: org, Date: date, Due: due, Overdue: overdue, Link: link}
		if type1 != "" || due1 != 0 {
			d.Types = append(d.Types, ReviewCount{Type: type1, Due: due1})
		}
		if type2 != "" || due2 != 0 {
			d.Types = append(d.Types, ReviewCount{Type: type2, Due: due2})
		}
		valid := d.validate() == nil
		msg, err := Render(TemplateReviewDigest, "en", d)
		if valid != (err == nil) {
			t.Fatalf("validate ok: %v, Render: %v", valid, err)
		}
		if err != nil {
			return
		}
		if strings.ContainsAny(msg.Subject, "\r\n") {
			t.Fatalf("subject has a line break: %q", msg.Subject)
		}
		if strings.Contains(msg.HTML, "<script") || strings.Contains(msg.HTML, "<b>") {
			t.Fatalf("HTML has unescaped markup:\n%s", msg.HTML)
		}
		if d.Others() < 0 || d.Overdue > d.Due {
			t.Fatalf("accepted counts that do not add up: %+v", d)
		}
		for _, c := range d.Types {
			if !documentType(c.Type) || strings.ContainsAny(c.Type, " @<>&\"'") {
				t.Fatalf("accepted type %q", c.Type)
			}
		}
	})
}
