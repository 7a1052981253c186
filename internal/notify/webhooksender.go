package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Defaults of WebhookOptions.
const (
	// DefaultWebhookTimeout bounds one delivery attempt, from dialling to the
	// end of the response headers; the specification recommends 15 to 30 s.
	DefaultWebhookTimeout = 15 * time.Second
	// DefaultWebhookResponseLimit is how much of a response body is read
	// (and thrown away) so that the connection can be reused.
	DefaultWebhookResponseLimit = 64 << 10
	// maxWebhookResponseHeader bounds the response headers.
	maxWebhookResponseHeader = 64 << 10
)

// ErrWebhookStatus is wrapped by the error of a delivery that got an HTTP
// response outside 2xx; WebhookResult.Status has the status.
var ErrWebhookStatus = errors.New("notify: webhook: the endpoint did not accept the delivery")

// WebhookOptions configure a WebhookSender.
type WebhookOptions struct {
	// Timeout bounds one attempt; 0 means DefaultWebhookTimeout.
	Timeout time.Duration
	// RootCAs verify endpoints' certificates; nil means the system's roots.
	RootCAs *x509.CertPool
	// ResponseLimit is how many bytes of a response body are read and
	// discarded; 0 means DefaultWebhookResponseLimit.
	ResponseLimit int64
	// DialContext, when set, makes every connection. Set it to one that
	// refuses private and loopback addresses where endpoints are chosen by
	// tenants (server-side request forgery). No proxy is ever used.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// Now is the clock for webhook-timestamp; nil means time.Now.
	Now func() time.Time
}

// WebhookSender delivers signed JSON webhooks over HTTPS. It keeps
// connections open between deliveries and is safe for concurrent use.
type WebhookSender struct {
	client *http.Client
	limit  int64
	now    func() time.Time
}

// Webhook is one delivery attempt.
type Webhook struct {
	// URL is the endpoint; only https:// is accepted. It may hold a token, so
	// it never appears in errors beyond its host.
	URL string
	// ID identifies the event and stays the same on retries (see
	// NewWebhookID).
	ID string
	// Body is JSON, sent and signed exactly as given.
	Body []byte
	// Secrets sign the body, one signature each: the current secret first
	// and, during a rotation, the previous one.
	Secrets [][]byte
}

// WebhookResult describes an attempt that reached the endpoint.
type WebhookResult struct {
	// Status is the HTTP status, or 0 when no response came.
	Status int
	// Latency is the time from sending the request to the response headers.
	Latency time.Duration
	// RetryAfter is the delay the endpoint asked for with Retry-After, or 0.
	RetryAfter time.Duration
}

// NewWebhookSender returns a sender with opts.
func NewWebhookSender(opts WebhookOptions) *WebhookSender {
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultWebhookTimeout
	}
	limit := opts.ResponseLimit
	if limit <= 0 {
		limit = DefaultWebhookResponseLimit
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	dial := opts.DialContext
	if dial == nil {
		dial = (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext
	}
	transport := &http.Transport{
		Proxy:       nil,
		DialContext: dial,
		TLSClientConfig: &tls.Config{
			RootCAs:    opts.RootCAs,
			MinVersion: tls.VersionTLS12,
		},
		ForceAttemptHTTP2:      true,
		TLSHandshakeTimeout:    timeout,
		ResponseHeaderTimeout:  timeout,
		MaxResponseHeaderBytes: maxWebhookResponseHeader,
		MaxIdleConns:           100,
		MaxIdleConnsPerHost:    4,
		IdleConnTimeout:        90 * time.Second,
		DisableCompression:     true,
	}
	client := &http.Client{
		Transport: transport,
		Timeout:   timeout,
		// A redirect is a failed delivery: the endpoint's URL should be
		// updated instead, and following it could lead anywhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return &WebhookSender{client: client, limit: limit, now: now}
}

// Send makes one delivery attempt of w: a POST of w.Body with the
// Standard Webhooks headers. It returns an error unless the endpoint answered
// 2xx; the result is filled in as far as the attempt got, so a caller can
// tell "no answer" (Status 0) from "refused" (ErrWebhookStatus) and honour
// RetryAfter. Retrying is the caller's business.
func (s *WebhookSender) Send(ctx context.Context, w Webhook) (WebhookResult, error) {
	u, err := url.Parse(w.URL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return WebhookResult{}, errors.New("notify: webhook: the URL must be an absolute https:// URL")
	}
	host := u.Hostname()
	if err := checkWebhookID(w.ID); err != nil {
		return WebhookResult{}, fmt.Errorf("notify: webhook: invalid id: %w", err)
	}
	if len(w.Secrets) == 0 {
		return WebhookResult{}, fmt.Errorf("%w: none given", ErrWebhookSecret)
	}
	for _, secret := range w.Secrets {
		if err := checkSecret(secret); err != nil {
			return WebhookResult{}, err
		}
	}
	if !json.Valid(w.Body) {
		return WebhookResult{}, errors.New("notify: webhook: the body is not valid JSON")
	}

	ts := s.now()
	sigs := make([]string, len(w.Secrets))
	for i, secret := range w.Secrets {
		sigs[i] = Sign(secret, w.ID, ts, w.Body)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(w.Body))
	if err != nil {
		return WebhookResult{}, fmt.Errorf("notify: webhook: building the request to %s failed", host)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Valv-Webhooks/1")
	req.Header.Set(HeaderWebhookID, w.ID)
	req.Header.Set(HeaderWebhookTimestamp, strconv.FormatInt(ts.Unix(), 10))
	req.Header.Set(HeaderWebhookSignature, strings.Join(sigs, " "))

	start := time.Now()
	resp, err := s.client.Do(req)
	if err != nil {
		// *url.Error quotes the whole URL; keep only its cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return WebhookResult{}, fmt.Errorf("notify: webhook: POST to %s failed: %w", host, err)
	}
	res := WebhookResult{Status: resp.StatusCode, Latency: time.Since(start)}
	res.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), s.now())
	// Drain a bounded part of the body so the connection can be reused;
	// what it says is not kept, as it may hold anything.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, s.limit))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return res, fmt.Errorf("%w: %s answered %d", ErrWebhookStatus, host, resp.StatusCode)
	}
	return res, nil
}

// maxRetryAfter caps the delay an endpoint can ask for.
const maxRetryAfter = 24 * time.Hour

// retryAfter reads a Retry-After value: seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.ParseUint(v, 10, 32); err == nil {
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}
