package guard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/valvhq/valv/internal/call"
	"github.com/valvhq/valv/internal/problem"
	"github.com/valvhq/valv/internal/store"
)

// Addresses turns client addresses into what the database may hold: a
// keyed token to look an address up by, and the address sealed for
// operators' lists. Both fail while Valv is sealed.
type Addresses interface {
	Token(ctx context.Context, a netip.Addr) ([]byte, error)
	Seal(ctx context.Context, a netip.Addr, token []byte) ([]byte, error)
	Open(ctx context.Context, sealed, token []byte) (netip.Addr, error)
}

// Limits are requests allowed per window; zero means no limit.
type Limits struct {
	Address int // per client address (IPv6: per /64), before authentication
	Key     int // per API key
	User    int // per logged-in user or operator
	Tenant  int // per tenant, all its keys and users together
}

// BlockPolicy says when a source is blocked automatically and for how
// long (GRD-2, AUTH-5).
type BlockPolicy struct {
	// Threshold is the offence points within Window that block a source.
	Threshold int
	Window    time.Duration
	// WAFPoints and AuthPoints are the points of a request the WAF
	// blocked and of a failed authentication (a 401).
	WAFPoints  int
	AuthPoints int
	// First is the length of a source's first block; each further block
	// is twice as long, up to Max.
	First, Max time.Duration
	// Forget is how long a source must stay quiet for its next block to
	// be a first one again.
	Forget time.Duration
}

// DefaultBlockPolicy blocks after four WAF blocks or twenty failed
// authentications within ten minutes: 15 minutes, then 30, 60, ... up to
// a day; a week without offences starts over.
var DefaultBlockPolicy = BlockPolicy{Threshold: 20, Window: 10 * time.Minute, WAFPoints: 5, AuthPoints: 1,
	First: 15 * time.Minute, Max: 24 * time.Hour, Forget: 7 * 24 * time.Hour}

// GateOptions configure a Gate.
type GateOptions struct {
	DB        *store.DB
	Addresses Addresses
	Limits    Limits
	// Window is the rate limits' fixed window; zero means a minute.
	Window time.Duration
	// SyncInterval is how often a node adds its counts to the shared
	// counters and learns the other nodes'. Zero counts every request in
	// the database at once (exact across nodes, one write per request).
	SyncInterval time.Duration
	// NetworkRefresh is how often a node re-reads the blocked and allowed
	// networks; changes made on this node apply at once. Zero means 5 s.
	NetworkRefresh time.Duration
	Block          BlockPolicy
	// Allow are networks allowed by configuration, besides those in the
	// database: never blocked automatically, not limited per address.
	Allow []netip.Prefix
	// Subjects names who a request is limited as, once authenticated:
	// "key:<id>", "user:<id>", "tenant:<id>" (nil: no principal limits).
	Subjects func(ctx context.Context) []Subject
	// OnBlocked is called after a source was blocked automatically.
	OnBlocked func(ctx context.Context, b AutoBlock)
	Registry  prometheus.Registerer
	Log       *slog.Logger
	Now       func() time.Time
}

// Subject is one principal-level limit key.
type Subject struct {
	Scope string // key, user, tenant
	ID    string
}

// AutoBlock describes a source just blocked automatically. Addr is
// personal data: audit seals it, logs MUST NOT hold it.
type AutoBlock struct {
	Addr     netip.Addr
	Reason   string // waf, auth
	Duration time.Duration
	Until    time.Time
	Count    int // the source's automatic blocks so far, this one included
}

// crsBlockingEvaluation is the CRS's rule range that adds up the score
// and blocks (949000-949999): it says that a request was blocked, not why.
const crsBlockingEvaluation = 949

// Offence kinds.
const (
	OffenceWAF  = "waf"
	OffenceAuth = "auth"
)

// Gate holds the IP block list, the allow list and the rate limits. Its
// state is in the database, shared by every node: address blocks are read
// on every request, networks every NetworkRefresh, counters are added up
// every SyncInterval.
type Gate struct {
	opts    GateOptions
	log     *slog.Logger
	now     func() time.Time
	metrics *gateMetrics

	nets      atomic.Pointer[networks]
	netMu     sync.Mutex
	mu        sync.Mutex
	counters  map[string]*counter
	lastSync  time.Time
	syncMu    sync.Mutex
	maxCounts int
}

type networks struct {
	loaded time.Time
	block  []network
	allow  []network
}

// network is a network entry with its prefix parsed once, at load.
type network struct {
	prefix netip.Prefix
	until  time.Time // zero: until removed
}

// covers reports whether the entry is in force at now and holds addr.
func (n network) covers(addr netip.Addr, now time.Time) bool {
	return n.prefix.Contains(addr) && (n.until.IsZero() || n.until.After(now))
}

type counter struct {
	window time.Time
	local  int64 // counted here, not yet added to the shared counter
	shared int64 // the shared total when last synced (every node)
	dbKey  []byte
}

type gateMetrics struct {
	refused  *prometheus.CounterVec
	limited  *prometheus.CounterVec
	offences *prometheus.CounterVec
	blocks   *prometheus.CounterVec
}

// maxCounters bounds the rate-limit counters a node keeps per window: past
// it, new keys are counted only in the database.
const maxCounters = 1 << 17

// NewGate builds a Gate; it registers its metrics with opts.Registry.
func NewGate(opts GateOptions) (*Gate, error) {
	if opts.DB == nil || opts.Addresses == nil {
		return nil, errors.New("guard: gate needs a database and an address sealer")
	}
	if opts.Window <= 0 {
		opts.Window = time.Minute
	}
	if opts.NetworkRefresh <= 0 {
		opts.NetworkRefresh = 5 * time.Second
	}
	if opts.Block == (BlockPolicy{}) {
		opts.Block = DefaultBlockPolicy
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	g := &Gate{opts: opts, log: opts.Log, now: opts.Now, counters: map[string]*counter{}, maxCounts: maxCounters}
	m := &gateMetrics{
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "valv_guard_refused_total",
			Help: "Requests refused because their source is blocked, by list (address, network)."}, []string{"list"}),
		limited: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "valv_guard_rate_limited_total",
			Help: "Requests refused by a rate limit, by scope (address, key, user, tenant)."}, []string{"scope"}),
		offences: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "valv_guard_offences_total",
			Help: "Offences counted toward automatic blocks, by kind (waf, auth)."}, []string{"kind"}),
		blocks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "valv_guard_automatic_blocks_total",
			Help: "Sources blocked automatically, by reason (waf, auth)."}, []string{"reason"}),
	}
	if opts.Registry != nil {
		for _, c := range []prometheus.Collector{m.refused, m.limited, m.offences, m.blocks} {
			if err := opts.Registry.Register(c); err != nil {
				return nil, fmt.Errorf("guard: register metrics: %w", err)
			}
		}
	}
	g.metrics = m
	return g, nil
}

// clientAddr is the request's client address (from trusted proxies only;
// see package call).
func clientAddr(ctx context.Context) netip.Addr { return call.From(ctx).ClientIP }

// Blocklist refuses requests from blocked addresses and networks with 403
// source_blocked, and counts the failed authentications (401 responses)
// of the requests it lets through toward an automatic block.
func (g *Gate) Blocklist(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		addr := clientAddr(ctx)
		// A browser request another site made (an image, a script, a
		// form) is not the visitor's doing: other sites must not be able
		// to get a visitor's address blocked. Such requests to the API are
		// refused here, before the WAF works on them; a cross-site
		// navigation (a link in a mail) goes on but scores no offence.
		induced := r.Header.Get("Sec-Fetch-Site") == "cross-site"
		if induced && strings.HasPrefix(r.URL.Path, "/api/") && r.Header.Get("Sec-Fetch-Mode") != "navigate" {
			problem.Write(w, call.RequestID(ctx), problem.Forbidden("cross_origin_request", "Cross-origin requests to the API are refused."))
			return
		}
		if induced {
			ctx = context.WithValue(ctx, inducedKey{}, true)
			r = r.WithContext(ctx)
		}
		if addr.IsValid() {
			if until, list := g.blockedUntil(ctx, addr); list != "" {
				g.metrics.refused.WithLabelValues(list).Inc()
				p := problem.Forbidden("source_blocked",
					"Requests from your network address are blocked for now, after repeated attacks or failed logins. If this is a mistake, contact support and quote the request id.")
				if !until.IsZero() {
					p.RetryAfter = retryAfter(until.Sub(g.now()))
				}
				problem.Write(w, call.RequestID(ctx), p)
				return
			}
		}
		sw := &statusWatcher{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.status == http.StatusUnauthorized && addr.IsValid() && !induced && presentedCredentials(r) {
			g.Offend(context.WithoutCancel(ctx), addr, OffenceAuth)
		}
	})
}

// presentedCredentials reports whether a request tried to authenticate:
// an Authorization header (an API key), or a POST to the login routes.
// A 401 for a missing or expired session ("log in first") is not a failed
// authentication.
func presentedCredentials(r *http.Request) bool {
	return r.Header.Get("Authorization") != "" || (r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/api/v1/auth/"))
}

type inducedKey struct{}

// Induced reports whether the request of ctx was made by a browser on
// behalf of another site (Sec-Fetch-Site: cross-site): it scores no
// offence points.
func Induced(ctx context.Context) bool {
	v, _ := ctx.Value(inducedKey{}).(bool)
	return v
}

// blockedUntil reports whether addr is blocked: the list that blocks it
// (address, network; "" for none) and when the block ends (zero: until
// an operator lifts it). A database failure does not block: the WAF and
// the limits still stand, and the failure is logged.
func (g *Gate) blockedUntil(ctx context.Context, addr netip.Addr) (time.Time, string) {
	addr = addr.Unmap().WithZone("")
	now := g.now()
	n := g.networks(ctx)
	for _, e := range n.block {
		if e.covers(addr, now) {
			return e.until, "network"
		}
	}
	token, err := g.opts.Addresses.Token(ctx, sourceOf(addr))
	if err != nil {
		return time.Time{}, "" // sealed: no address blocks can be read
	}
	until, err := g.opts.DB.Reader().GuardBlockedUntil(ctx, token)
	if err != nil {
		g.log.Warn("guard: read address block failed", "err", err)
		return time.Time{}, ""
	}
	if until.After(now) {
		return until, "address"
	}
	return time.Time{}, ""
}

// allowed reports whether addr is in an allowed network.
func (g *Gate) allowed(ctx context.Context, addr netip.Addr) bool {
	addr = addr.Unmap().WithZone("")
	for _, p := range g.opts.Allow {
		if p.Contains(addr) {
			return true
		}
	}
	now := g.now()
	for _, e := range g.networks(ctx).allow {
		if e.covers(addr, now) {
			return true
		}
	}
	return false
}

// networks returns the blocked and allowed networks, re-read when older
// than NetworkRefresh. One request re-reads them; the others meanwhile
// use the copy they have.
func (g *Gate) networks(ctx context.Context) *networks {
	n := g.nets.Load()
	if n != nil && g.now().Sub(n.loaded) < g.opts.NetworkRefresh && !g.now().Before(n.loaded) {
		return n
	}
	if n != nil && !g.netMu.TryLock() {
		return n
	}
	if n == nil {
		g.netMu.Lock()
	}
	defer g.netMu.Unlock()
	fresh, err := g.loadNetworks(ctx)
	if err != nil {
		g.log.Warn("guard: read networks failed", "err", err)
		if n != nil {
			return n
		}
		return &networks{}
	}
	return fresh
}

func (g *Gate) loadNetworks(ctx context.Context) (*networks, error) {
	rows, err := g.opts.DB.Reader().GuardNetworks(ctx)
	if err != nil {
		return nil, err
	}
	n := &networks{loaded: g.now()}
	for _, r := range rows {
		p, err := netip.ParsePrefix(r.Prefix)
		if err != nil {
			continue // written by ParseTarget: canonical; skip anything else
		}
		e := network{prefix: p, until: r.Until}
		if r.Kind == "allow" {
			n.allow = append(n.allow, e)
		} else {
			n.block = append(n.block, e)
		}
	}
	g.nets.Store(n)
	return n, nil
}

// LimitAddress refuses a client address (an IPv6 /64) that made more
// than Limits.Address requests in the window with 429 rate_limited.
// Allowed networks are not limited per address.
func (g *Gate) LimitAddress(next http.Handler) http.Handler {
	if g.opts.Limits.Address <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		addr := clientAddr(ctx)
		if addr.IsValid() && !g.allowed(ctx, addr) {
			if wait, ok := g.hit(ctx, addressKey(addr), func() ([]byte, error) {
				tok, err := g.opts.Addresses.Token(ctx, limitedPrefix(addr).Addr())
				return append([]byte("address:"), tok...), err
			}, g.opts.Limits.Address); !ok {
				g.refuse(w, r, "address", wait)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// LimitPrincipal refuses an API key, user or tenant over its limit with
// 429 rate_limited. It belongs after authentication.
func (g *Gate) LimitPrincipal(next http.Handler) http.Handler {
	if g.opts.Subjects == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		for _, s := range g.opts.Subjects(ctx) {
			limit := 0
			switch s.Scope {
			case "key":
				limit = g.opts.Limits.Key
			case "user":
				limit = g.opts.Limits.User
			case "tenant":
				limit = g.opts.Limits.Tenant
			}
			if limit <= 0 || s.ID == "" {
				continue
			}
			key := s.Scope + ":" + s.ID
			if wait, ok := g.hit(ctx, key, func() ([]byte, error) { return []byte(key), nil }, limit); !ok {
				g.refuse(w, r, s.Scope, wait)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func (g *Gate) refuse(w http.ResponseWriter, r *http.Request, scope string, wait time.Duration) {
	g.metrics.limited.WithLabelValues(scope).Inc()
	p := problem.New(problem.KindTooManyRequests, "rate_limited",
		fmt.Sprintf("Too many requests (limit per %s); wait as long as Retry-After says, then try again.", scope))
	p.RetryAfter = retryAfter(wait)
	problem.Write(w, call.RequestID(r.Context()), p)
}

func retryAfter(d time.Duration) int {
	d = min(d, 24*time.Hour) // a block until removed: ask again tomorrow
	s := int((d + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return s
}

// addressKey is the in-memory key of an address's counter.
func addressKey(a netip.Addr) string { return "address:" + limitedPrefix(a).String() }

// sourceOf is the address a source is known by — limited, blocked and
// listed as: the address itself, or the first of its /64 for IPv6.
func sourceOf(a netip.Addr) netip.Addr { return limitedPrefix(a).Addr() }

// limitedPrefix is the range limited as one client: the address, or its
// /64 for IPv6 (one subscriber's allocation, which a client can rotate
// addresses within at will).
func limitedPrefix(a netip.Addr) netip.Prefix {
	a = a.Unmap().WithZone("")
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p
	}
	return netip.PrefixFrom(a, 32)
}

// hit counts one request against key and reports whether it is within
// limit; if not, how long until the window ends. dbKey names the shared
// counter; when it fails (sealed) the count stays on this node.
func (g *Gate) hit(ctx context.Context, key string, dbKey func() ([]byte, error), limit int) (time.Duration, bool) {
	now := g.now()
	window := now.Truncate(g.opts.Window)
	wait := window.Add(g.opts.Window).Sub(now)
	g.mu.Lock()
	c := g.counters[key]
	full := c == nil && len(g.counters) >= g.maxCounts
	g.mu.Unlock()
	if g.opts.SyncInterval <= 0 || full {
		if full {
			g.sync(ctx) // forgets past windows' counters
		}
		k, err := dbKey()
		if err == nil {
			var total int64
			err = g.opts.DB.Write(ctx, func(tx *store.Tx) error {
				var err error
				total, err = tx.AddGuardCount(ctx, k, window, 1)
				return err
			})
			if err == nil {
				return wait, total <= int64(limit)
			}
			g.log.Warn("guard: count request failed", "err", err)
		}
		if full {
			return wait, true // neither counted here nor there: let it through
		}
	}
	g.mu.Lock()
	c = g.counters[key]
	if c == nil || !c.window.Equal(window) {
		c = &counter{window: window}
		// With SyncInterval 0 the database counted above; this counter
		// is only the fallback and is never synced.
		if g.opts.SyncInterval > 0 {
			if k, err := dbKey(); err == nil {
				c.dbKey = k
			}
		}
		g.counters[key] = c
	}
	ok := c.local+c.shared < int64(limit)
	if ok {
		c.local++
	}
	due := g.opts.SyncInterval > 0 && now.Sub(g.lastSync) >= g.opts.SyncInterval
	g.mu.Unlock()
	if due {
		g.sync(ctx)
	}
	return wait, ok
}

// sync adds this node's counts to the shared counters, learns the totals,
// and forgets counters of past windows. One request syncs at a time; the
// others do not wait for it.
func (g *Gate) sync(ctx context.Context) {
	if !g.syncMu.TryLock() {
		return
	}
	defer g.syncMu.Unlock()
	now := g.now()
	window := now.Truncate(g.opts.Window)
	type pending struct {
		c *counter
		n int64
	}
	var work []pending
	g.mu.Lock()
	g.lastSync = now
	for k, c := range g.counters {
		if c.window.Before(window) {
			delete(g.counters, k)
			continue
		}
		if c.local > 0 && c.dbKey != nil {
			work = append(work, pending{c, c.local})
		}
	}
	g.mu.Unlock()
	if len(work) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	totals := make([]int64, len(work))
	err := g.opts.DB.Write(ctx, func(tx *store.Tx) error {
		for i, p := range work {
			t, err := tx.AddGuardCount(ctx, p.c.dbKey, p.c.window, p.n)
			if err != nil {
				return err
			}
			totals[i] = t
		}
		return nil
	})
	if err != nil {
		g.log.Warn("guard: sync rate-limit counters failed", "err", err)
		return
	}
	g.mu.Lock()
	for i, p := range work {
		p.c.local -= p.n
		p.c.shared = totals[i]
	}
	g.mu.Unlock()
}

// Offend counts an offence of addr toward an automatic block and blocks
// it once its points reach the threshold. A WAF block also queues an alert
// for the security contact's summary (see WAFBlocked). Addresses in an
// allowed network are never blocked automatically.
func (g *Gate) Offend(ctx context.Context, addr netip.Addr, kind string) {
	g.offend(ctx, addr, kind, nil)
}

// Alert queues a blocked request for the summary and scores one offence
// point for its source (the WAF refused it for its form, not for an
// attack: a client with a bug is not blocked soon, one that keeps sending
// what cannot be inspected is).
func (g *Gate) Alert(ctx context.Context, e Event) {
	g.offendPoints(ctx, e.ClientIP, OffenceWAF, 1, wafAlert(e))
}

func wafAlert(e Event) *store.GuardAlertRow {
	ids := make([]int, 0, len(e.Rules))
	for _, id := range e.RuleIDs() {
		if id/1000 != crsBlockingEvaluation {
			ids = append(ids, id)
		}
	}
	detail, _ := json.Marshal(map[string]any{"rules": ids, "score": e.AnomalyScore})
	return &store.GuardAlertRow{Kind: "waf", Detail: string(detail)}
}

// WAFBlocked records a request the WAF blocked: an offence of its source
// and an alert for the summary (rule ids and score, nothing else).
func (g *Gate) WAFBlocked(ctx context.Context, e Event) {
	g.offend(ctx, e.ClientIP, OffenceWAF, wafAlert(e))
}

func (g *Gate) offend(ctx context.Context, addr netip.Addr, kind string, alert *store.GuardAlertRow) {
	points := g.opts.Block.AuthPoints
	if kind == OffenceWAF {
		points = g.opts.Block.WAFPoints
	}
	g.offendPoints(ctx, addr, kind, points, alert)
}

func (g *Gate) offendPoints(ctx context.Context, addr netip.Addr, kind string, points int, alert *store.GuardAlertRow) {
	if !addr.IsValid() {
		return
	}
	addr = sourceOf(addr)
	if Induced(ctx) {
		points = 0
	}
	if points > 0 {
		g.metrics.offences.WithLabelValues(kind).Inc()
	}
	token, err := g.opts.Addresses.Token(ctx, addr)
	if err != nil {
		return // sealed: nothing can be recorded about the address
	}
	exempt := g.allowed(ctx, addr)
	sealed, err := g.opts.Addresses.Seal(ctx, addr, token)
	if err != nil {
		return
	}
	now := g.now().UTC()
	var blocked *AutoBlock
	err = g.opts.DB.Write(ctx, func(tx *store.Tx) error {
		blocked = nil
		if alert != nil {
			a := *alert
			a.ID, a.At, a.Source = uuid.NewString(), now, token
			if err := tx.InsertGuardAlert(ctx, a); err != nil {
				return err
			}
		}
		if exempt || points <= 0 {
			return nil
		}
		row, err := tx.GuardSource(ctx, token)
		switch {
		case errors.Is(err, store.ErrNotFound):
			row = store.GuardSourceRow{Token: token, WindowStart: now}
		case err != nil:
			return err
		}
		if row.BlockedUntil.After(now) {
			return nil // already blocked
		}
		if now.Sub(row.UpdatedAt) > g.opts.Block.Forget {
			row.Blocks = 0
		}
		if now.Sub(row.WindowStart) > g.opts.Block.Window {
			row.WindowStart, row.Score = now, 0
		}
		row.Score += points
		row.UpdatedAt = now
		if row.Address == nil {
			row.Address = sealed
		}
		if row.Score >= g.opts.Block.Threshold {
			row.Blocks++
			d := blockLength(g.opts.Block, row.Blocks)
			row.BlockedUntil, row.Score, row.WindowStart = now.Add(d), 0, now
			row.Reason, row.Note, row.CreatedBy = kind, "", "valv"
			blocked = &AutoBlock{Addr: addr, Reason: kind, Duration: d, Until: row.BlockedUntil, Count: row.Blocks}
			detail, _ := json.Marshal(map[string]any{"reason": kind, "duration_s": int64(d / time.Second), "count": row.Blocks})
			if err := tx.InsertGuardAlert(ctx, store.GuardAlertRow{ID: uuid.NewString(), At: now, Kind: "block", Source: token, Detail: string(detail)}); err != nil {
				return err
			}
		}
		return tx.PutGuardSource(ctx, row)
	})
	if err != nil {
		g.log.Warn("guard: record offence failed", "kind", kind, "err", err)
		return
	}
	if blocked != nil {
		g.metrics.blocks.WithLabelValues(kind).Inc()
		g.log.Warn("guard: source blocked automatically", "reason", kind, "duration", blocked.Duration.String(), "count", blocked.Count)
		if g.opts.OnBlocked != nil {
			g.opts.OnBlocked(ctx, *blocked)
		}
	}
}

// blockLength is the length of a source's n-th automatic block.
func blockLength(p BlockPolicy, n int) time.Duration {
	d := p.First
	for i := 1; i < n && d < p.Max; i++ {
		d *= 2
	}
	return min(d, p.Max)
}

// statusWatcher remembers a response's status.
type statusWatcher struct {
	http.ResponseWriter
	status int
}

func (w *statusWatcher) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWatcher) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach Flush and deadlines.
func (w *statusWatcher) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush passes a flush on, for handlers that stream.
func (w *statusWatcher) Flush() { _ = http.NewResponseController(w.ResponseWriter).Flush() }
