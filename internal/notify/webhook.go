package notify

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/valvhq/valv/internal/config"
)

// The Standard Webhooks headers (https://www.standardwebhooks.com).
const (
	HeaderWebhookID        = "webhook-id"
	HeaderWebhookTimestamp = "webhook-timestamp"
	HeaderWebhookSignature = "webhook-signature"
)

// Limits of the webhook scheme.
const (
	// DefaultWebhookTolerance is how far a webhook's timestamp may be from
	// the receiver's clock, either way, when Verify is given 0.
	DefaultWebhookTolerance = 5 * time.Minute
	// WebhookSecretPrefix starts every signing secret in its text form.
	WebhookSecretPrefix = "whsec_"
	// WebhookSecretSize is the size of a secret from GenerateWebhookSecret.
	WebhookSecretSize = 32
	// MinWebhookSecretSize and MaxWebhookSecretSize bound the secrets that
	// ParseWebhookSecret, Verify and WebhookSender accept: the specification
	// asks for 24 to 64 bytes.
	MinWebhookSecretSize = 24
	MaxWebhookSecretSize = 64
	// MaxWebhookIDLen bounds webhook-id.
	MaxWebhookIDLen = 256
	// maxSignatureHeaderLen bounds webhook-signature, and with it the work
	// Verify does for one request.
	maxSignatureHeaderLen = 4096
	// maxTimestampDigits bounds webhook-timestamp: 12 digits reach the year
	// 33658, and no sign or other character is accepted.
	maxTimestampDigits = 12
	// signatureVersion marks an HMAC-SHA256 signature.
	signatureVersion = "v1"
)

// Errors from Verify; each is wrapped with what was wrong.
var (
	// ErrWebhookHeader means a webhook header is missing, repeated or
	// malformed.
	ErrWebhookHeader = errors.New("notify: webhook: missing or malformed header")
	// ErrWebhookTimestamp means webhook-timestamp is too far from now.
	ErrWebhookTimestamp = errors.New("notify: webhook: timestamp outside the tolerance")
	// ErrWebhookSignature means no signature matched.
	ErrWebhookSignature = errors.New("notify: webhook: no valid signature")
	// ErrWebhookSecret means a signing secret is malformed or of the wrong
	// size.
	ErrWebhookSecret = errors.New("notify: webhook: invalid signing secret")
)

// GenerateWebhookSecret returns a new signing secret of WebhookSecretSize
// random bytes from r (nil: crypto/rand) in the whsec_ form.
func GenerateWebhookSecret(r io.Reader) (config.Secret, error) {
	if r == nil {
		r = rand.Reader
	}
	key := make([]byte, WebhookSecretSize)
	if _, err := io.ReadFull(r, key); err != nil {
		return "", fmt.Errorf("notify: webhook: generating a secret failed: %w", err)
	}
	return config.Secret(WebhookSecretPrefix + base64.StdEncoding.EncodeToString(key)), nil
}

// ParseWebhookSecret returns the key of a secret in the whsec_ form: the
// prefix and then the key in standard, padded base64, without white space.
// The key must be MinWebhookSecretSize to MaxWebhookSecretSize bytes. Errors
// never quote s.
func ParseWebhookSecret(s string) ([]byte, error) {
	b64, ok := strings.CutPrefix(s, WebhookSecretPrefix)
	if !ok {
		return nil, fmt.Errorf("%w: it does not start with %s", ErrWebhookSecret, WebhookSecretPrefix)
	}
	// The decoder skips line breaks; refuse them so that a secret has one
	// text form.
	if strings.ContainsAny(b64, "\r\n") {
		return nil, fmt.Errorf("%w: it contains a line break", ErrWebhookSecret)
	}
	if len(b64) > base64.StdEncoding.EncodedLen(MaxWebhookSecretSize) {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrWebhookSecret, MaxWebhookSecretSize)
	}
	key, err := base64.StdEncoding.Strict().DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("%w: it is not valid base64", ErrWebhookSecret)
	}
	if err := checkSecret(key); err != nil {
		return nil, err
	}
	return key, nil
}

func checkSecret(key []byte) error {
	if len(key) < MinWebhookSecretSize || len(key) > MaxWebhookSecretSize {
		return fmt.Errorf("%w: %d bytes; want %d to %d", ErrWebhookSecret, len(key), MinWebhookSecretSize, MaxWebhookSecretSize)
	}
	return nil
}

// NewWebhookID returns a new random webhook id ("msg_" and 22 characters
// from the URL-safe base64 alphabet, so never a '.') using r (nil:
// crypto/rand). The id stays the same when a webhook is retried.
func NewWebhookID(r io.Reader) (string, error) {
	if r == nil {
		r = rand.Reader
	}
	var b [16]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", fmt.Errorf("notify: webhook: generating an id failed: %w", err)
	}
	return "msg_" + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// Sign returns the Standard Webhooks signature of body sent with id at ts:
// "v1," and the base64 HMAC-SHA256, under secret, of "id.timestamp.body",
// where timestamp is ts in Unix seconds.
//
// Callers MUST use an id that is valid for checkWebhookID (printable ASCII
// without '.' or space; NewWebhookID makes one) and a secret of
// MinWebhookSecretSize to MaxWebhookSecretSize bytes; WebhookSender checks
// both.
func Sign(secret []byte, id string, ts time.Time, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(id))
	mac.Write([]byte{'.'})
	mac.Write(strconv.AppendInt(nil, ts.Unix(), 10))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return signatureVersion + "," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Verify checks a received webhook: h must hold exactly one each of
// webhook-id, webhook-timestamp and webhook-signature; the timestamp must be
// within tolerance of now either way (0 means DefaultWebhookTolerance); and
// one of the space-separated signatures must be the v1 signature of body
// under one of secrets (several during a rotation). Signatures of other
// versions are skipped. Comparisons take constant time.
//
// Verify does not remember ids: receivers that must not act twice on one
// webhook keep the webhook-id of each for longer than the tolerance.
func Verify(secrets [][]byte, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	if len(secrets) == 0 {
		return fmt.Errorf("%w: none given", ErrWebhookSecret)
	}
	for _, s := range secrets {
		if err := checkSecret(s); err != nil {
			return err
		}
	}
	if tolerance <= 0 {
		tolerance = DefaultWebhookTolerance
	}
	id, err := oneHeader(h, HeaderWebhookID)
	if err != nil {
		return err
	}
	if err := checkWebhookID(id); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrWebhookHeader, HeaderWebhookID, err)
	}
	tsText, err := oneHeader(h, HeaderWebhookTimestamp)
	if err != nil {
		return err
	}
	ts, err := parseTimestamp(tsText)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrWebhookHeader, HeaderWebhookTimestamp, err)
	}
	sigs, err := oneHeader(h, HeaderWebhookSignature)
	if err != nil {
		return err
	}
	if len(sigs) > maxSignatureHeaderLen {
		return fmt.Errorf("%w: %s is longer than %d bytes", ErrWebhookHeader, HeaderWebhookSignature, maxSignatureHeaderLen)
	}
	// The timestamp is checked before any MAC is computed, so a replayed or
	// forged old request costs little.
	if d := now.Sub(ts); d > tolerance || d < -tolerance {
		return ErrWebhookTimestamp
	}
	want := make([][]byte, len(secrets))
	for i, s := range secrets {
		want[i] = []byte(Sign(s, id, ts, body))
	}
	found := 0
	for sig := range strings.SplitSeq(sigs, " ") {
		version, _, ok := strings.Cut(sig, ",")
		if !ok || version != signatureVersion {
			continue
		}
		for _, w := range want {
			found |= subtleEqual([]byte(sig), w)
		}
	}
	if found == 0 {
		return ErrWebhookSignature
	}
	return nil
}

// subtleEqual is hmac.Equal as an int, so that a loop over all candidates can
// go on after a match.
func subtleEqual(a, b []byte) int {
	if hmac.Equal(a, b) {
		return 1
	}
	return 0
}

// oneHeader returns the value of the header name, which must be present
// once and not empty.
func oneHeader(h http.Header, name string) (string, error) {
	v := h.Values(name)
	switch {
	case len(v) == 0 || v[0] == "":
		return "", fmt.Errorf("%w: %s is missing", ErrWebhookHeader, name)
	case len(v) > 1:
		return "", fmt.Errorf("%w: %s is given %d times", ErrWebhookHeader, name, len(v))
	}
	return v[0], nil
}

// checkWebhookID accepts 1 to MaxWebhookIDLen printable ASCII characters but
// space and '.': the signed content joins id, timestamp and body with dots,
// so an id with a dot could be read two ways.
func checkWebhookID(id string) error {
	if id == "" || len(id) > MaxWebhookIDLen {
		return fmt.Errorf("length %d, want 1 to %d", len(id), MaxWebhookIDLen)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c > '~' || c == '.' {
			return errors.New("only printable ASCII without space or '.' is allowed")
		}
	}
	return nil
}

// parseTimestamp reads Unix seconds written as 1 to maxTimestampDigits
// decimal digits.
func parseTimestamp(s string) (time.Time, error) {
	if s == "" || len(s) > maxTimestampDigits || strings.Trim(s, "0123456789") != "" {
		return time.Time{}, fmt.Errorf("want 1 to %d decimal digits", maxTimestampDigits)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, errors.New("not a number")
	}
	return time.Unix(n, 0), nil
}
