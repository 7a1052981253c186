package notify

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The test vector of the Standard Webhooks reference libraries
// (libraries/go/webhook_test.go, TestWebhookSign, in
// github.com/standard-webhooks/standard-webhooks).
const (
	kaSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	kaID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	kaTimestamp = 1614265330
	kaBody      = `{"test": 2432232314}`
	kaSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func mustSecret(t testing.TB, s string) []byte {
	t.Helper()
	key, err := ParseWebhookSecret(s)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func TestSignKnownAnswer(t *testing.T) {
	key := mustSecret(t, kaSecret)
	got := Sign(key, kaID, time.Unix(kaTimestamp, 0), []byte(kaBody))
	if got != kaSignature {
		t.Fatalf("Sign = %s, want %s", got, kaSignature)
	}
	h := webhookHeader(kaID, strconv.Itoa(kaTimestamp), kaSignature)
	if err := Verify([][]byte{key}, h, []byte(kaBody), time.Unix(kaTimestamp+10, 0), 0); err != nil {
		t.Fatalf("Verify of the test vector: %v", err)
	}
}

func webhookHeader(id, ts, sig string) http.Header {
	h := http.Header{}
	h.Set(HeaderWebhookID, id)
	h.Set(HeaderWebhookTimestamp, ts)
	h.Set(HeaderWebhookSignature, sig)
	return h
}

func TestVerify(t *testing.T) {
	key := mustSecret(t, kaSecret)
	other := bytes.Repeat([]byte{7}, 32)
	now := time.Unix(1700000000, 0)
	body := []byte(`{"type":"security.alert","data":{"id":"a1"}}`)
	id := "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
	sig := Sign(key, id, now, body)
	ts := strconv.FormatInt(now.Unix(), 10)
	junk := "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="

	for _, tc := range []struct {
		name    string
		secrets [][]byte
		h       http.Header
		body    []byte
		now     time.Time
		tol     time.Duration
		want    error // nil: valid
	}{
		{name: "valid", h: webhookHeader(id, ts, sig)},
		{name: "several signatures", h: webhookHeader(id, ts, junk+" v2,"+sig[3:]+" v1a,abc= "+sig+" "+junk)},
		{name: "rotation: signed with the old secret", secrets: [][]byte{other, key}, h: webhookHeader(id, ts, sig)},
		{name: "rotation: both signatures", h: webhookHeader(id, ts, Sign(other, id, now, body)+" "+sig)},
		{name: "tampered body", h: webhookHeader(id, ts, sig), body: []byte(`{"type":"security.alert","data":{"id":"a2"}}`), want: ErrWebhookSignature},
		{name: "tampered id", h: webhookHeader("msg_2KWPBgLlAfxdpx2AI54pPJ85f4X", ts, sig), want: ErrWebhookSignature},
		{name: "tampered timestamp", h: webhookHeader(id, strconv.FormatInt(now.Unix()+1, 10), sig), want: ErrWebhookSignature},
		{name: "wrong secret", secrets: [][]byte{other}, h: webhookHeader(id, ts, sig), want: ErrWebhookSignature},
		{name: "other version only", h: webhookHeader(id, ts, "v2,"+sig[3:]), want: ErrWebhookSignature},
		{name: "signature without version", h: webhookHeader(id, ts, sig[3:]), want: ErrWebhookSignature},
		{name: "signature case changed", h: webhookHeader(id, ts, "V1,"+sig[3:]), want: ErrWebhookSignature},
		{name: "old timestamp", now: now.Add(DefaultWebhookTolerance + time.Second), h: webhookHeader(id, ts, sig), want: ErrWebhookTimestamp},
		{name: "future timestamp", now: now.Add(-DefaultWebhookTolerance - time.Second), h: webhookHeader(id, ts, sig), want: ErrWebhookTimestamp},
		{name: "at the tolerance", now: now.Add(DefaultWebhookTolerance), h: webhookHeader(id, ts, sig)},
		{name: "own tolerance", now: now.Add(time.Minute), tol: 30 * time.Second, h: webhookHeader(id, ts, sig), want: ErrWebhookTimestamp},
		{name: "no id", h: webhookHeader("", ts, sig), want: ErrWebhookHeader},
		{name: "no timestamp", h: webhookHeader(id, "", sig), want: ErrWebhookHeader},
		{name: "no signature", h: webhookHeader(id, ts, ""), want: ErrWebhookHeader},
		{name: "id with a dot", h: webhookHeader("msg.1", ts, Sign(key, "msg.1", now, body)), want: ErrWebhookHeader},
		{name: "id with a space", h: webhookHeader("msg 1", ts, Sign(key, "msg 1", now, body)), want: ErrWebhookHeader},
		{name: "id too long", h: webhookHeader(strings.Repeat("a", MaxWebhookIDLen+1), ts, sig), want: ErrWebhookHeader},
		{name: "timestamp with sign", h: webhookHeader(id, "+"+ts, sig), want: ErrWebhookHeader},
		{name: "negative timestamp", h: webhookHeader(id, "-1", sig), want: ErrWebhookHeader},
		{name: "timestamp in milliseconds", h: webhookHeader(id, ts+"000", sig), want: ErrWebhookHeader},
		{name: "timestamp with space", h: webhookHeader(id, " "+ts, sig), want: ErrWebhookHeader},
		{name: "timestamp as float", h: webhookHeader(id, ts+".0", sig), want: ErrWebhookHeader},
		{name: "signature header too long", h: webhookHeader(id, ts, strings.Repeat(junk+" ", 100)+sig), want: ErrWebhookHeader},
		{name: "no secrets", secrets: [][]byte{}, h: webhookHeader(id, ts, sig), want: ErrWebhookSecret},
		{name: "short secret", secrets: [][]byte{key[:16]}, h: webhookHeader(id, ts, Sign(key[:16], id, now, body)), want: ErrWebhookSecret},
	} {
		t.Run(tc.name, func(t *testing.T) {
			secrets := tc.secrets
			if secrets == nil {
				secrets = [][]byte{key}
			}
			b := tc.body
			if b == nil {
				b = body
			}
			at := tc.now
			if at.IsZero() {
				at = now
			}
			err := Verify(secrets, tc.h, b, at, tc.tol)
			switch {
			case tc.want == nil && err != nil:
				t.Errorf("Verify: %v", err)
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Errorf("Verify: %v, want %v", err, tc.want)
			}
		})
	}

	// A header given twice is refused, even when one copy is valid.
	h := webhookHeader(id, ts, sig)
	h.Add(HeaderWebhookSignature, junk)
	if err := Verify([][]byte{key}, h, body, now, 0); !errors.Is(err, ErrWebhookHeader) {
		t.Errorf("repeated signature header: %v", err)
	}
	h = webhookHeader(id, ts, sig)
	h.Add(HeaderWebhookTimestamp, ts)
	if err := Verify([][]byte{key}, h, body, now, 0); !errors.Is(err, ErrWebhookHeader) {
		t.Errorf("repeated timestamp header: %v", err)
	}
	// Header names are case-insensitive, as in HTTP.
	h = http.Header{"Webhook-Id": {id}, "Webhook-Timestamp": {ts}, "Webhook-Signature": {sig}}
	if err := Verify([][]byte{key}, h, body, now, 0); err != nil {
		t.Errorf("canonical header names: %v", err)
	}
}

// TestVerifyFlippedBit checks that every single-bit change of the body or
// the signature is refused.
func TestVerifyFlippedBit(t *testing.T) {
	key := mustSecret(t, kaSecret)
	now := time.Unix(kaTimestamp, 0)
	body := []byte(kaBody)
	for i := range len(body) * 8 {
		b := bytes.Clone(body)
		b[i/8] ^= 1 << (i % 8)
		if Verify([][]byte{key}, webhookHeader(kaID, strconv.Itoa(kaTimestamp), kaSignature), b, now, 0) == nil {
			t.Fatalf("body with bit %d flipped verified", i)
		}
	}
	mac, _ := base64.StdEncoding.DecodeString(kaSignature[3:])
	for i := range len(mac) * 8 {
		m := bytes.Clone(mac)
		m[i/8] ^= 1 << (i % 8)
		sig := "v1," + base64.StdEncoding.EncodeToString(m)
		if Verify([][]byte{key}, webhookHeader(kaID, strconv.Itoa(kaTimestamp), sig), body, now, 0) == nil {
			t.Fatalf("signature with bit %d flipped verified", i)
		}
	}
}

func TestWebhookSecrets(t *testing.T) {
	s, err := GenerateWebhookSecret(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s.Reveal(), WebhookSecretPrefix) {
		t.Fatalf("secret %q lacks the prefix", s.Reveal())
	}
	if fmt.Sprint(s) == s.Reveal() || strings.Contains(fmt.Sprintf("%v %s %#v", s, s, s), WebhookSecretPrefix) {
		t.Error("the generated secret prints itself")
	}
	key := mustSecret(t, s.Reveal())
	if len(key) != WebhookSecretSize {
		t.Errorf("key of %d bytes", len(key))
	}
	// Fixed randomness gives a fixed secret.
	s2, err := GenerateWebhookSecret(bytes.NewReader(bytes.Repeat([]byte{1}, 32)))
	if err != nil || s2.Reveal() != "whsec_"+base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32)) {
		t.Errorf("GenerateWebhookSecret(fixed) = %q, %v", s2.Reveal(), err)
	}
	if _, err := GenerateWebhookSecret(bytes.NewReader(nil)); err == nil {
		t.Error("GenerateWebhookSecret with no randomness succeeded")
	}

	b64 := func(n int) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xab}, n)) }
	for _, bad := range []string{
		"",
		b64(32),                                // no prefix
		"whsk_" + b64(32),                      // asymmetric secret key
		"WHSEC_" + b64(32),                     // prefix is case-sensitive
		"whsec_" + b64(MinWebhookSecretSize-1), // too short
		"whsec_" + b64(MaxWebhookSecretSize+1), // too long
		"whsec_" + b64(32)[:len(b64(32))-1],    // truncated
		"whsec_" + strings.TrimRight(b64(32), "="), // unpadded
		"whsec_" + b64(16) + "\n" + b64(16),        // line break
		"whsec_" + b64(32) + " ",                   // white space
		"whsec_" + strings.ReplaceAll(b64(30), "q", "-"),
	} {
		_, err := ParseWebhookSecret(bad)
		if !errors.Is(err, ErrWebhookSecret) {
			t.Errorf("ParseWebhookSecret(%q): %v", bad, err)
			continue
		}
		if len(bad) > 8 && strings.Contains(err.Error(), bad[6:]) {
			t.Errorf("error quotes the secret: %v", err)
		}
	}
	for _, n := range []int{MinWebhookSecretSize, MaxWebhookSecretSize} {
		if _, err := ParseWebhookSecret("whsec_" + b64(n)); err != nil {
			t.Errorf("%d bytes: %v", n, err)
		}
	}
}

func TestNewWebhookID(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id, err := NewWebhookID(nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := checkWebhookID(id); err != nil || !strings.HasPrefix(id, "msg_") || seen[id] {
			t.Fatalf("id %q: %v (seen %v)", id, err, seen[id])
		}
		seen[id] = true
	}
}
