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
