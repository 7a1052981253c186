package message

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/valvhq/valv/internal/notify"
	"github.com/valvhq/valv/internal/problem"
)

// Limits of the delivery transport.
const (
	// MaxURLLen bounds an endpoint URL.
	MaxURLLen = 2048
	// DefaultSendTimeout bounds one attempt when TransportOptions.Timeout is 0.
	DefaultSendTimeout = 30 * time.Second
	// sendResponseLimit is how much of a response body is read (and thrown
	// away) so that the connection can be reused.
	sendResponseLimit = 64 << 10
	// sendResponseHeaderLimit bounds the response headers.
	sendResponseHeaderLimit = 64 << 10
	// sendMaxRetryAfter caps the delay an endpoint can ask for.
	sendMaxRetryAfter = 24 * time.Hour
	// maxHostNameLen and maxHostLabelLen are the limits of RFC 1035.
	maxHostNameLen  = 253
	maxHostLabelLen = 63
	// maxClientCertPEMLen and maxClientKeyPEMLen bound the mTLS material, a
	// chain of a few certificates and one key.
	maxClientCertPEMLen = 64 << 10
	maxClientKeyPEMLen  = 16 << 10
	// pinHexLen is the length of a SHA-256 pin in hex.
	pinHexLen = 2 * sha256.Size
	// sendUserAgent is sent unless Delivery.Header sets another.
	sendUserAgent = "Valv-Messages/1"
)

var (
	// ErrNotPermitted is wrapped by errors of deliveries refused because the
	// endpoint's host resolved to an address the policy does not permit
	// (nothing was sent).
	ErrNotPermitted = errors.New("message: delivery: address not permitted")
	// ErrStatus is wrapped by the error of a delivery answered outside 2xx (a
	// redirect is one of those); Result.Status has the status.
	ErrStatus = errors.New("message: delivery: the endpoint did not accept the delivery")
)

// invalidURL is the error of CheckURL. msg MUST NOT quote the URL: it may
// carry a token in its path or query.
func invalidURL(msg string) *problem.Error {
	return problem.Invalid("invalid_url", "The endpoint URL is not valid.",
		problem.Field("/url", "invalid_url", msg))
}

// CheckURL validates an endpoint URL as registered by a tenant: absolute
// https, a DNS host name (no IP literal in any form: IPv4, IPv6 in brackets,
// IPv4-mapped, decimal/hex/octal-looking all-numeric labels such as
// "2130706433" or "0x7f.1"), no userinfo, no fragment, optional port 1-65535,
// at most MaxURLLen bytes, host lowercased with a trailing dot removed;
// "localhost" and names under .localhost refused. The host must have at least
// two labels: a single label is completed from the resolver's search list, so
// it would name different hosts on different machines. Only printable ASCII
// is accepted (international names in their xn-- form, other characters
// percent-encoded).
//
// It returns the host (lowercase, no port) or a *problem.Error
// (problem.Invalid, code "invalid_url", field "/url") whose message says what
// is wrong without echoing the URL.
func CheckURL(raw string) (host string, err error) {
	_, host, err = checkURL(raw)
	return host, err
}

// checkURL is CheckURL that also returns the parsed URL, its host replaced
// by the normalised one (and the port, if any).
func checkURL(raw string) (*url.URL, string, error) {
	if raw == "" {
		return nil, "", invalidURL("The URL is required.")
	}
	if len(raw) > MaxURLLen {
		return nil, "", invalidURL(fmt.Sprintf("The URL is longer than %d bytes.", MaxURLLen))
	}
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; c <= ' ' || c >= 0x7f {
			return nil, "", invalidURL("The URL may hold only printable ASCII without spaces; percent-encode other characters and give international host names in their xn-- form.")
		}
	}
	// The scheme is checked on the text, before parsing, so that forms such
	// as "https:host" or "https:/host" are refused too.
	if len(raw) < len("https://") || !strings.EqualFold(raw[:len("https://")], "https://") {
		return nil, "", invalidURL("The URL must start with https://.")
	}
	if strings.ContainsRune(raw, '#') {
		return nil, "", invalidURL("The URL must not have a fragment (#).")
	}
	// Browsers read a backslash as a slash in https URLs and Go does not;
	// refusing it keeps one reading.
	if strings.ContainsRune(raw, '\\') {
		return nil, "", invalidURL("The URL must not contain a backslash.")
	}
	authority := raw[len("https://"):]
	if i := strings.IndexAny(authority, "/?"); i >= 0 {
		authority = authority[:i]
	}
	if strings.ContainsRune(authority, '@') {
		return nil, "", invalidURL("The URL must not contain a user name or password.")
	}
	// url.Parse decodes percent-escapes in the host; refuse them so that the
	// host has one spelling.
	if strings.ContainsRune(authority, '%') {
		return nil, "", invalidURL("The host must be a DNS name without percent-escapes.")
	}
	if strings.HasPrefix(authority, "[") {
		return nil, "", invalidURL("The host must be a DNS name, not an IP address.")
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse's error quotes the URL; say only that it failed.
		return nil, "", invalidURL("The URL cannot be parsed.")
	}
	if u.Scheme != "https" || u.Opaque != "" || u.User != nil || u.Host != authority {
		return nil, "", invalidURL("The URL must be an absolute https:// URL.")
	}
	name, port, hasPort := strings.Cut(authority, ":")
	if hasPort {
		if !validPort(port) {
			return nil, "", invalidURL("The port must be a number from 1 to 65535.")
		}
	}
	host, msg := checkHostName(name)
	if msg != "" {
		return nil, "", invalidURL(msg)
	}
	u.Host = host
	if hasPort {
		u.Host = net.JoinHostPort(host, port)
	}
	return u, host, nil
}

// validPort reports whether p is 1 to 65535 in decimal without leading
// zeros.
func validPort(p string) bool {
	if p == "" || len(p) > 5 || p[0] == '0' || strings.Trim(p, "0123456789") != "" {
		return false
	}
	n, err := strconv.Atoi(p)
	return err == nil && n >= 1 && n <= 65535
}

// checkHostName returns name lowercased without a trailing dot, or what is
// wrong with it.
func checkHostName(name string) (string, string) {
	host := strings.TrimSuffix(strings.ToLower(name), ".")
	if host == "" {
		return "", "The URL must name a host."
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return "", "The host must be a DNS name, not an IP address."
	}
	if len(host) > maxHostNameLen {
		return "", fmt.Sprintf("The host name is longer than %d characters.", maxHostNameLen)
	}
	labels := strings.Split(host, ".")
	for _, l := range labels {
		if l == "" || len(l) > maxHostLabelLen || l[0] == '-' || l[len(l)-1] == '-' {
			return "", fmt.Sprintf("Each label of the host name must be 1 to %d characters and must not start or end with a hyphen.", maxHostLabelLen)
		}
		for i := 0; i < len(l); i++ {
			if c := l[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return "", "The host name may hold only letters, digits, hyphens and dots."
			}
		}
	}
	// A host whose last label is a number is an IPv4 address to the URL
	// standard (WHATWG) and to inet_aton ("2130706433", "0x7f.1", "0177.1",
	// "127.1"): the resolver of the machine would turn it into an address
	// without asking DNS. No top-level domain is numeric.
	if numericLabel(labels[len(labels)-1]) {
		return "", "The host must be a DNS name, not an IP address."
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return "", "The host must not be localhost."
	}
	if len(labels) < 2 {
		return "", "The host must be a fully qualified domain name such as partner.example.com."
	}
	return host, ""
}

// numericLabel reports whether l reads as a number: decimal (octal with a
// leading 0) digits, or 0x and hex digits.
func numericLabel(l string) bool {
	if rest, ok := strings.CutPrefix(l, "0x"); ok {
		return strings.Trim(rest, "0123456789abcdef") == ""
	}
	return l != "" && strings.Trim(l, "0123456789") == ""
}

// Resolver looks up a host's addresses (net.DefaultResolver satisfies it).
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

var _ Resolver = (*net.Resolver)(nil)

// NetworkPolicy says which addresses deliveries may connect to.
type NetworkPolicy struct {
	// Allow lists networks allowed although they are not public (tests:
	// 127.0.0.0/8; an operator's partner VPN).
	Allow []netip.Prefix
	// Resolver resolves host names; nil means net.DefaultResolver.
	Resolver Resolver
}

// notPublicV4 are the IPv4 networks that are not public unicast (IANA IPv4
// Special-Purpose Address Registry, plus multicast and the reserved 240/4).
var notPublicV4 = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("10.0.0.0/8"),      // private
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT
	netip.MustParsePrefix("127.0.0.0/8"),     // loopback
	netip.MustParsePrefix("169.254.0.0/16"),  // link-local, cloud metadata
	netip.MustParsePrefix("172.16.0.0/12"),   // private
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
	netip.MustParsePrefix("192.88.99.0/24"),  // 6to4 relay anycast
	netip.MustParsePrefix("192.168.0.0/16"),  // private
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
	netip.MustParsePrefix("224.0.0.0/4"),     // multicast
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and 255.255.255.255
}

// IPv6 is permitted only inside the global unicast block, less the special
// networks in it. Everything else (::, ::1, ::/96 IPv4-compatible,
// 64:ff9b::/96 and 64:ff9b:1::/48 NAT64, 100::/64 discard, fc00::/7,
// fe80::/10, ff00::/8, ...) lies outside it.
var (
	globalUnicastV6 = netip.MustParsePrefix("2000::/3")
	notPublicV6     = []netip.Prefix{
		netip.MustParsePrefix("2001::/23"),     // IETF protocol assignments: Teredo, benchmarking, ORCHID
		netip.MustParsePrefix("2001:db8::/32"), // documentation
		netip.MustParsePrefix("2002::/16"),     // 6to4: embeds any IPv4 address
		netip.MustParsePrefix("3fff::/20"),     // documentation
	}
)

// Permitted reports whether addr may be connected to: public unicast
// addresses (not loopback, private RFC1918, unique-local fc00::/7, link-local
// incl. 169.254.0.0/16 and fe80::/10, CGNAT 100.64.0.0/10, multicast,
// unspecified, broadcast, 0.0.0.0/8, 192.0.0.0/24, 198.18.0.0/15,
// documentation ranges, 240.0.0.0/4, NAT64 64:ff9b::/96 etc.), or addresses
// inside Allow. IPv4-mapped IPv6 is unmapped first, and a zone is ignored.
func (p NetworkPolicy) Permitted(addr netip.Addr) bool {
	if !addr.IsValid() {
		return false
	}
	addr = addr.Unmap().WithZone("")
	for _, allowed := range p.Allow {
		if allowed.IsValid() && allowed.Contains(addr) {
			return true
		}
	}
	if addr.Is4() {
		for _, n := range notPublicV4 {
			if n.Contains(addr) {
				return false
			}
		}
		return true
	}
	if !globalUnicastV6.Contains(addr) {
		return false
	}
	for _, n := range notPublicV6 {
		if n.Contains(addr) {
			return false
		}
	}
	return true
}

func (p NetworkPolicy) resolver() Resolver {
	if p.Resolver == nil {
		return net.DefaultResolver
	}
	return p.Resolver
}

// Endpoint is an agreed destination as the transport needs it.
type Endpoint struct {
	// ID is a stable id; with Version, the key of a cached client.
	ID string
	// Version changes when the endpoint's URL, certificates or pin change.
	Version int64
	// URL is the https:// URL; it may carry a token, so it never appears in
	// errors beyond its host.
	URL string
	// ClientCertPEM and ClientKeyPEM, when set, are presented for mutual TLS.
	ClientCertPEM, ClientKeyPEM []byte
	// PinSHA256, when set, is the lowercase hex SHA-256 of the DER of the
	// server's leaf certificate; the connection is accepted only when the
	// leaf matches, chain verification is then not required (partners with
	// private CAs), but the certificate must still be currently valid and its
	// name must match the host.
	PinSHA256 string
}

// String describes e without its URL or key.
func (e Endpoint) String() string {
	return fmt.Sprintf("message.Endpoint{ID:%q Version:%d mtls:%t pinned:%t}",
		e.ID, e.Version, len(e.ClientCertPEM) > 0, e.PinSHA256 != "")
}

// GoString is String, so that %#v does not print the key either.
func (e Endpoint) GoString() string { return e.String() }

// LogValue logs e without its URL or key.
func (e Endpoint) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("id", e.ID),
		slog.Int64("version", e.Version),
		slog.Bool("mtls", len(e.ClientCertPEM) > 0),
		slog.Bool("pinned", e.PinSHA256 != ""),
	)
}

// Delivery is one attempt to send a message.
type Delivery struct {
	Endpoint Endpoint
	// ID is the webhook-id: the same on every retry, so receivers drop
	// duplicates. 1 to notify.MaxWebhookIDLen printable ASCII characters but
	// space and '.'.
	ID string
	// Body is sent and signed as given.
	Body []byte
	// ContentType is a media type, e.g. application/xml, application/json.
	ContentType string
	// Secrets are the signing keys: current first, previous during a
	// rotation; notify.MinWebhookSecretSize to notify.MaxWebhookSecretSize
	// bytes each.
	Secrets [][]byte
	// Header holds extra headers (Valv-Message-Id, Valv-Sender,
	// Valv-Document-Type). It must not set Content-Type, the webhook-*
	// headers or the headers that shape the connection (Host,
	// Content-Length, Transfer-Encoding, Connection, ...): Send refuses it.
	Header http.Header
}

// String describes d without its body, secrets or endpoint URL.
func (d Delivery) String() string {
	return fmt.Sprintf("message.Delivery{Endpoint:%s ID:%q ContentType:%q Body:%d bytes Secrets:%d}",
		d.Endpoint, d.ID, d.ContentType, len(d.Body), len(d.Secrets))
}

// GoString is String, so that %#v does not print the secrets either.
func (d Delivery) GoString() string { return d.String() }

// LogValue logs d without its body, secrets or endpoint URL.
func (d Delivery) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Any("endpoint", d.Endpoint),
		slog.String("id", d.ID),
		slog.String("content_type", d.ContentType),
		slog.Int("body_bytes", len(d.Body)),
	)
}

// Result is what an attempt got as far as it went.
type Result struct {
	// Status is the HTTP status, 0 when no response came.
	Status int
	// Latency is the time from sending the request to the response headers.
	Latency time.Duration
	// RetryAfter is the Retry-After asked for (capped at 24 h), or 0.
	RetryAfter time.Duration
}

// TransportOptions configure a Transport.
type TransportOptions struct {
	Policy NetworkPolicy
	// RootCAs verify endpoints' certificates; nil means the system's roots.
	RootCAs *x509.CertPool
	// Timeout bounds one attempt, resolving included; 0 means
	// DefaultSendTimeout.
	Timeout time.Duration
	// Now is the clock for webhook-timestamp and Retry-After dates; nil
	// means time.Now. Certificates are always checked against time.Now.
	Now func() time.Time
}

// Transport sends deliveries; it keeps one *http.Client per endpoint (ID,
// Version) so TLS settings never leak between endpoints, and is safe for
// concurrent use.
type Transport struct {
	policy  NetworkPolicy
	rootCAs *x509.CertPool
	timeout time.Duration
	now     func() time.Time

	mu      sync.Mutex
	clients map[string]*endpointClient // by Endpoint.ID
}

// endpointClient is the client of one version of an endpoint.
type endpointClient struct {
	version   int64
	client    *http.Client
	transport *http.Transport
}

// NewTransport returns a transport with o.
func NewTransport(o TransportOptions) *Transport {
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultSendTimeout
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	policy := o.Policy
	policy.Allow = append([]netip.Prefix(nil), o.Policy.Allow...)
	return &Transport{
		policy:  policy,
		rootCAs: o.RootCAs,
		timeout: timeout,
		now:     now,
		clients: map[string]*endpointClient{},
	}
}

// Close drops idle connections. The transport can still be used.
func (t *Transport) Close() {
	t.mu.Lock()
	clients := t.clients
	t.clients = map[string]*endpointClient{}
	t.mu.Unlock()
	for _, c := range clients {
		c.transport.CloseIdleConnections()
	}
}

// Send makes one attempt. It re-checks the URL with CheckURL, resolves the
// host through Policy.Resolver, refuses (ErrNotPermitted, nothing sent) when
// ANY resolved address is not permitted, and dials exactly the checked
// address (no second lookup: DNS rebinding cannot switch the address); TLS
// ServerName is the URL host. Redirects are never followed (3xx is
// ErrStatus). The response body is read up to 64 KiB and discarded.
//
// It returns an error unless the endpoint answered 2xx; the result is filled
// in as far as the attempt got, so a caller can tell "no answer" (Status 0)
// from "refused" (ErrStatus) and honour RetryAfter. Retrying is the caller's
// business. Errors never contain the URL's path or query, the body, or
// secrets.
func (t *Transport) Send(ctx context.Context, d Delivery) (Result, error) {
	u, host, err := checkURL(d.Endpoint.URL)
	if err != nil {
		return Result{}, fmt.Errorf("message: delivery: endpoint %q: %w", d.Endpoint.ID, err)
	}
	if err := checkDelivery(d); err != nil {
		return Result{}, err
	}
	client, err := t.client(d.Endpoint)
	if err != nil {
		return Result{}, err
	}

	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	addrs, err := t.resolve(ctx, host)
	if err != nil {
		return Result{}, err
	}

	ts := t.now()
	sigs := make([]string, len(d.Secrets))
	for i, secret := range d.Secrets {
		sigs[i] = notify.Sign(secret, d.ID, ts, d.Body)
	}
	ctx = context.WithValue(ctx, dialTargetKey{}, &dialTarget{host: host, addrs: addrs})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(d.Body))
	if err != nil {
		return Result{}, fmt.Errorf("message: delivery: building the request to %s failed", host)
	}
	for name, values := range d.Header {
		k := http.CanonicalHeaderKey(name)
		req.Header[k] = append(req.Header[k], values...)
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", sendUserAgent)
	}
	req.Header.Set("Content-Type", d.ContentType)
	req.Header.Set(notify.HeaderWebhookID, d.ID)
	req.Header.Set(notify.HeaderWebhookTimestamp, strconv.FormatInt(ts.Unix(), 10))
	req.Header.Set(notify.HeaderWebhookSignature, strings.Join(sigs, " "))

	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		// *url.Error quotes the whole URL; keep only its cause, which names
		// at most the host and the address.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return Result{}, fmt.Errorf("message: delivery: POST to %s failed: %w", host, err)
	}
	res := Result{Status: resp.StatusCode, Latency: time.Since(start)}
	res.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), t.now())
	// Drain a bounded part of the body so the connection can be reused;
	// what it says is not kept, as it may hold anything.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, sendResponseLimit))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return res, fmt.Errorf("%w: %s answered %d", ErrStatus, host, resp.StatusCode)
	}
	return res, nil
}

// reservedHeader reports whether a header, in canonical form, is set by
// Send or by the HTTP client, so that Delivery.Header must not set it.
func reservedHeader(name string) bool {
	switch name {
	case "Content-Type", "Content-Length", "Content-Encoding", "Transfer-Encoding",
		"Host", "Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authorization",
		"Te", "Trailer", "Upgrade", "Expect":
		return true
	}
	return strings.HasPrefix(name, "Webhook-")
}

// checkDelivery checks the parts of d that Send does not take from the
// endpoint. Errors name headers but never quote values.
func checkDelivery(d Delivery) error {
	if err := checkWebhookID(d.ID); err != nil {
		return fmt.Errorf("message: delivery: invalid id: %w", err)
	}
	if len(d.Secrets) == 0 {
		return errors.New("message: delivery: no signing secret given")
	}
	for i, s := range d.Secrets {
		if len(s) < notify.MinWebhookSecretSize || len(s) > notify.MaxWebhookSecretSize {
			return fmt.Errorf("message: delivery: signing secret %d is %d bytes; want %d to %d",
				i, len(s), notify.MinWebhookSecretSize, notify.MaxWebhookSecretSize)
		}
	}
	if d.ContentType == "" {
		return errors.New("message: delivery: no content type given")
	}
	if !validHeaderValue(d.ContentType) {
		return errors.New("message: delivery: the content type is not a valid header value")
	}
	mt, _, err := mime.ParseMediaType(d.ContentType)
	if typ, sub, ok := strings.Cut(mt, "/"); err != nil || !ok || typ == "" || sub == "" {
		return errors.New("message: delivery: the content type is not a valid media type")
	}
	for name, values := range d.Header {
		if !validHeaderName(name) {
			return errors.New("message: delivery: a header name is not a valid token")
		}
		canonical := http.CanonicalHeaderKey(name)
		if reservedHeader(canonical) {
			return fmt.Errorf("message: delivery: header %s is set by the transport", canonical)
		}
		for _, v := range values {
			if !validHeaderValue(v) {
				return fmt.Errorf("message: delivery: header %s has an invalid value", canonical)
			}
		}
	}
	return nil
}

// checkWebhookID is notify's rule for webhook ids: 1 to
// notify.MaxWebhookIDLen printable ASCII characters but space and '.', as
// the signed content joins id, timestamp and body with dots.
func checkWebhookID(id string) error {
	if id == "" || len(id) > notify.MaxWebhookIDLen {
		return fmt.Errorf("length %d, want 1 to %d", len(id), notify.MaxWebhookIDLen)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c > '~' || c == '.' {
			return errors.New("only printable ASCII without space or '.' is allowed")
		}
	}
	return nil
}

// validHeaderName reports whether s is an RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return true
}

// validHeaderValue reports whether s holds no control character but tab.
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// resolve looks host up once and returns its addresses, unmapped, when the
// policy permits every one of them.
func (t *Transport) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	found, err := t.policy.resolver().LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, fmt.Errorf("message: delivery: resolving %s failed: %w", host, err)
	}
	if len(found) == 0 {
		return nil, fmt.Errorf("message: delivery: %s resolves to no address", host)
	}
	addrs := make([]netip.Addr, 0, len(found))
	for _, a := range found {
		// All or nothing: a name with one private address among public ones
		// is refused rather than trimmed, since which address a client picks
		// is not the tenant's to rely on.
		if !t.policy.Permitted(a) {
			return nil, fmt.Errorf("%w: %s resolves to %s", ErrNotPermitted, host, a.Unmap().WithZone(""))
		}
		addrs = append(addrs, a.Unmap().WithZone(""))
	}
	return addrs, nil
}

// dialTarget carries the addresses Send checked to the dialer, through the
// request's context (whose values the HTTP client keeps for dialling).
type dialTarget struct {
	host  string
	addrs []netip.Addr
}

type dialTargetKey struct{}

var errNoDialTarget = errors.New("message: delivery: dialling without checked addresses")

// dial connects to one of the addresses Send checked for the host of
// address; it never resolves a name.
func (t *Transport) dial(ctx context.Context, network, address string) (net.Conn, error) {
	target, ok := ctx.Value(dialTargetKey{}).(*dialTarget)
	if !ok {
		return nil, errNoDialTarget
	}
	host, port, err := net.SplitHostPort(address)
	if err != nil || host != target.host || network != "tcp" {
		return nil, errNoDialTarget
	}
	d := &net.Dialer{
		Timeout:   t.timeout,
		KeepAlive: 30 * time.Second,
		// The address is checked once more where the socket is connected,
		// so that nothing between Send and here can change it.
		ControlContext: func(_ context.Context, _, addr string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(addr)
			if err != nil || !t.policy.Permitted(ap.Addr()) {
				return fmt.Errorf("%w: %s", ErrNotPermitted, addr)
			}
			return nil
		},
	}
	var firstErr error
	for _, a := range target.addrs {
		conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(a.String(), port))
		if err == nil {
			return conn, nil
		}
		if firstErr == nil {
			firstErr = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, firstErr
}

// client returns the client of e's ID and Version, building it on first
// use; a new Version replaces the client of the old one.
func (t *Transport) client(e Endpoint) (*http.Client, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if c, ok := t.clients[e.ID]; ok && c.version == e.Version {
		return c.client, nil
	}
	tlsConfig, err := t.tlsConfig(e)
	if err != nil {
		return nil, fmt.Errorf("message: delivery: endpoint %q: %w", e.ID, err)
	}
	transport := &http.Transport{
		Proxy:                  nil,
		DialContext:            t.dial,
		TLSClientConfig:        tlsConfig,
		ForceAttemptHTTP2:      true,
		TLSHandshakeTimeout:    t.timeout,
		ResponseHeaderTimeout:  t.timeout,
		MaxResponseHeaderBytes: sendResponseHeaderLimit,
		MaxIdleConns:           4,
		MaxIdleConnsPerHost:    4,
		IdleConnTimeout:        90 * time.Second,
		DisableCompression:     true,
	}
	client := &http.Client{
		Transport: transport,
		Timeout:   t.timeout,
		// A redirect is a failed delivery: the endpoint's URL should be
		// updated instead, and following it could lead anywhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	if old, ok := t.clients[e.ID]; ok {
		old.transport.CloseIdleConnections()
	}
	t.clients[e.ID] = &endpointClient{version: e.Version, client: client, transport: transport}
	return client, nil
}

// tlsConfig returns the TLS settings of e. ServerName is left empty: the
// HTTP client sets it to the URL's host for each connection.
func (t *Transport) tlsConfig(e Endpoint) (*tls.Config, error) {
	if err := CheckTLS(e.ClientCertPEM, e.ClientKeyPEM, e.PinSHA256); err != nil {
		return nil, err
	}
	cfg := &tls.Config{
		RootCAs:    t.rootCAs,
		MinVersion: tls.VersionTLS12,
	}
	if len(e.ClientCertPEM) > 0 {
		pair, err := tls.X509KeyPair(e.ClientCertPEM, e.ClientKeyPEM)
		if err != nil {
			// CheckTLS passed, so this is unexpected; the error of
			// X509KeyPair is not wrapped as it is not ours to vouch for.
			return nil, errors.New("the client certificate and key cannot be loaded")
		}
		// Always present the certificate, even when its issuer is not among
		// the CAs the server names: partners often omit or misconfigure that
		// list, and their refusal is a clearer error than no certificate.
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return &pair, nil
		}
	}
	if e.PinSHA256 != "" {
		pin, _ := hex.DecodeString(e.PinSHA256) // CheckTLS checked the form
		// The chain is not verified (the partner's CA may be private), so
		// crypto/tls's verification is switched off and verifyPinned does
		// all of it: the pin, the validity period and the host name.
		cfg.InsecureSkipVerify = true // #nosec G402 -- VerifyConnection (verifyPinned) checks the pin, validity period, server use and host name
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			return verifyPinned(cs, pin, time.Now())
		}
	}
	return cfg, nil
}

// Errors of pinned connections.
var (
	errPinMismatch = errors.New("pinned TLS: the server's certificate does not match the pin")
	errPinNoName   = errors.New("pinned TLS: no server name to check")
)

// verifyPinned accepts a connection whose leaf certificate has the SHA-256
// pin, is valid at now, may be used by a TLS server and names
// cs.ServerName.
func verifyPinned(cs tls.ConnectionState, pin []byte, now time.Time) error {
	if len(cs.PeerCertificates) == 0 {
		return errPinMismatch
	}
	leaf := cs.PeerCertificates[0]
	sum := sha256.Sum256(leaf.Raw)
	if subtle.ConstantTimeCompare(sum[:], pin) != 1 {
		return errPinMismatch
	}
	if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		return fmt.Errorf("pinned TLS: the certificate is valid only from %s to %s",
			leaf.NotBefore.UTC().Format(time.RFC3339), leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	if len(leaf.ExtKeyUsage) > 0 {
		ok := false
		for _, u := range leaf.ExtKeyUsage {
			ok = ok || u == x509.ExtKeyUsageServerAuth || u == x509.ExtKeyUsageAny
		}
		if !ok {
			return errors.New("pinned TLS: the certificate is not for TLS servers")
		}
	}
	if cs.ServerName == "" {
		return errPinNoName
	}
	if err := leaf.VerifyHostname(cs.ServerName); err != nil {
		return fmt.Errorf("pinned TLS: %w", err)
	}
	return nil
}

// CheckTLS validates an endpoint's TLS settings up front: certPEM and keyPEM
// are both given or both empty; certPEM holds PEM CERTIFICATE blocks (the
// client's certificate first, then any intermediates); keyPEM holds one
// unencrypted PEM private key (PKCS #8, PKCS #1 or SEC 1) matching the
// certificate; pin, when set, is 64 lowercase hex characters. It returns
// nil or a *problem.Error (problem.Invalid, code "invalid_tls") with a
// field error each for "/client_certificate", "/client_key" and
// "/pin_sha256"; no message quotes the input.
func CheckTLS(certPEM, keyPEM []byte, pin string) error {
	var fields []problem.FieldError
	switch {
	case len(certPEM) > 0 && len(keyPEM) == 0:
		fields = append(fields, problem.Field("/client_key", "required",
			"A client key is required with a client certificate."))
	case len(certPEM) == 0 && len(keyPEM) > 0:
		fields = append(fields, problem.Field("/client_certificate", "required",
			"A client certificate is required with a client key."))
	case len(certPEM) > 0:
		certOK, keyOK := true, true
		if msg := checkCertPEM(certPEM); msg != "" {
			fields = append(fields, problem.Field("/client_certificate", "invalid_certificate", msg))
			certOK = false
		}
		if msg := checkKeyPEM(keyPEM); msg != "" {
			fields = append(fields, problem.Field("/client_key", "invalid_key", msg))
			keyOK = false
		}
		if certOK && keyOK {
			if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
				fields = append(fields, problem.Field("/client_key", "key_mismatch",
					"The client key does not belong to the client certificate, or its type is not supported."))
			}
		}
	}
	if pin != "" && !validPin(pin) {
		fields = append(fields, problem.Field("/pin_sha256", "invalid_pin",
			fmt.Sprintf("The pin must be the SHA-256 of the server certificate as %d lowercase hexadecimal characters.", pinHexLen)))
	}
	if len(fields) > 0 {
		return problem.Invalid("invalid_tls", "The TLS settings of the endpoint are not valid.", fields...)
	}
	return nil
}

// checkCertPEM returns what is wrong with a client certificate chain, or "".
func checkCertPEM(certPEM []byte) string {
	if len(certPEM) > maxClientCertPEMLen {
		return fmt.Sprintf("The client certificate is longer than %d bytes.", maxClientCertPEMLen)
	}
	rest, n := certPEM, 0
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return "The client certificate may hold only PEM CERTIFICATE blocks."
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return "A certificate in the client certificate cannot be parsed."
		}
		n++
	}
	if n == 0 {
		return "The client certificate holds no PEM CERTIFICATE block."
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return "The client certificate has text after its last PEM block."
	}
	return ""
}

// checkKeyPEM returns what is wrong with a client key, or "". Messages never
// quote the key.
func checkKeyPEM(keyPEM []byte) string {
	if len(keyPEM) > maxClientKeyPEMLen {
		return fmt.Sprintf("The client key is longer than %d bytes.", maxClientKeyPEMLen)
	}
	block, rest := pem.Decode(keyPEM)
	if block == nil {
		return "The client key is not in PEM form."
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return "The client key must be a single PEM block."
	}
	if len(block.Headers) > 0 {
		return "The client key must not be encrypted."
	}
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		_, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		_, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		_, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return "The client key must be a PEM PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY block."
	}
	if err != nil {
		return "The client key cannot be parsed."
	}
	return ""
}

// validPin reports whether pin is pinHexLen lowercase hex characters.
func validPin(pin string) bool {
	return len(pin) == pinHexLen && strings.Trim(pin, "0123456789abcdef") == ""
}

// parseRetryAfter reads a Retry-After value, seconds or an HTTP date, capped
// at sendMaxRetryAfter.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.ParseUint(v, 10, 32); err == nil {
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), sendMaxRetryAfter)
}
