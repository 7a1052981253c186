package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/call"
	"github.com/valvhq/valv/internal/keyring"
	"github.com/valvhq/valv/internal/problem"
	"github.com/valvhq/valv/internal/seal"
	"github.com/valvhq/valv/internal/store"
)

// Keys hands out sealers (the keyring).
type Keys interface {
	Sealer(ctx context.Context, tenant string) (*seal.Sealer, error)
}

// Options configures a Trail.
type Options struct {
	DB     *store.DB
	Keys   Keys
	Logger *slog.Logger
	Now    func() time.Time
	// Installation names this installation in checkpoints.
	Installation string
	Registry     *prometheus.Registry
}

// Trail writes and reads the audit trail.
type Trail struct {
	db           *store.DB
	keys         Keys
	log          *slog.Logger
	now          func() time.Time
	installation string

	keysCache signerCache
	app       appender

	failing  atomic.Bool // the last write failed
	written  *prometheus.CounterVec
	failures prometheus.Counter
	verifies *prometheus.CounterVec
}

// New builds a trail.
func New(o Options) (*Trail, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	t := &Trail{db: o.DB, keys: o.Keys, log: o.Logger, now: o.Now, installation: o.Installation,
		written:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "valv_audit_entries_total", Help: "Audit entries written, by outcome."}, []string{"outcome"}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{Name: "valv_audit_write_failures_total", Help: "Audit writes that failed (the calls failed with them)."}),
		verifies: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "valv_audit_verifications_total", Help: "Audit chain verifications, by result."}, []string{"result"}),
	}
	if o.Registry != nil {
		for _, c := range []prometheus.Collector{t.written, t.failures, t.verifies} {
			if err := o.Registry.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return t, nil
}

// ErrUnavailable is what a caller gets when its call could not be audited.
var ErrUnavailable = &problem.Error{Kind: problem.KindUnavailable, Code: "audit_unavailable",
	Message: "The call could not be recorded in the audit trail, so it was not carried out. Try again shortly.", RetryAfter: 5}

// Healthy reports whether the last audit write succeeded.
func (t *Trail) Healthy() bool { return !t.failing.Load() }

// Check is the readiness check: while writes fail, it tries one itself
// (an audit.recovered entry on the platform chain) so that the trail is
// seen to recover even when no calls come in.
func (t *Trail) Check(ctx context.Context) error {
	if t.Healthy() {
		return nil
	}
	if err := t.Write(ctx, Entry{ActorType: "system", Action: "audit.recovered", Outcome: Success}); err != nil {
		return errors.New("audit entries cannot be written; audited calls are refused")
	}
	return nil
}

// prepared is an entry sealed and tokenised, waiting for its place in the
// chain (which is only known inside the write transaction).
type prepared struct {
	row store.AuditEntryRow
}

// prepare seals an entry's personal fields and computes their tokens.
// It does the slow work outside the write transaction.
func (t *Trail) prepare(ctx context.Context, e Entry) (prepared, error) {
	if err := e.check(); err != nil {
		return prepared{}, err
	}
	if !validAction(e.Action) {
		return prepared{}, fmt.Errorf("audit: action %q is not a valid name", e.Action)
	}
	if e.Time.IsZero() {
		e.Time = t.now()
	}
	chain := e.chain()
	sealer, err := t.keys.Sealer(ctx, chain)
	if err != nil {
		return prepared{}, fmt.Errorf("audit: %w", err)
	}
	r := store.AuditEntryRow{
		ID: uuid.Must(uuid.NewV7()).String(), Chain: chain, Time: e.Time.UTC().Truncate(time.Microsecond), TenantID: e.TenantID,
		ActorType: e.ActorType, ActorID: e.ActorID, Action: e.Action, ResourceType: e.ResourceType, ResourceID: e.ResourceID,
		Outcome: e.Outcome, Status: e.Status, RequestID: e.RequestID, Channel: e.Channel, GrantID: e.GrantID,
	}
	if r.ActorType == "" {
		r.ActorType = "anonymous"
	}
	// A resource id may come from the request (a path, a parameter):
	// anything that does not have the form of one of Valv's ids is kept
	// only as a keyed token, so that a name or a personnummer sent in a
	// path never reaches the trail. (Actors and grants come from Valv.)
	if r.ResourceID != "" && !safeID(r.ResourceID) {
		tok, err := sealer.Token("audit-id", r.ResourceID)
		if err != nil {
			return prepared{}, err
		}
		r.ResourceID = "tok:" + tok
	}
	details := map[string]string{}
	for _, k := range sortedKeys(e.Details) {
		details[k] = e.Details[k]
	}
	var client struct {
		IP        string `json:"ip,omitempty"`
		UserAgent string `json:"user_agent,omitempty"`
	}
	if e.ClientIP.IsValid() {
		client.IP = e.ClientIP.Unmap().String()
		if r.IPToken, err = sealer.Token("audit-ip", client.IP); err != nil {
			return prepared{}, err
		}
	}
	if e.UserAgent != "" {
		client.UserAgent = e.UserAgent
		if r.UAToken, err = sealer.Token("audit-ua", e.UserAgent); err != nil {
			return prepared{}, err
		}
	}
	if client.IP != "" || client.UserAgent != "" {
		raw, _ := json.Marshal(client)
		if r.Client, err = sealer.Seal(raw, seal.Location{Table: "audit_entries", Row: r.ID, Field: "client"}); err != nil {
			return prepared{}, err
		}
	}
	if e.Reason != "" {
		if r.Reason, err = sealer.SealString(e.Reason, seal.Location{Table: "audit_entries", Row: r.ID, Field: "reason"}); err != nil {
			return prepared{}, err
		}
		if details[reasonTokenKey], err = sealer.Token("audit-reason", e.Reason); err != nil {
			return prepared{}, err
		}
	}
	r.Details = encodeDetails(details)
	return prepared{row: r}, nil
}

// insertMany puts prepared entries at the heads of their chains, in order,
// inside tx: each chain's head is read and moved once.
func (t *Trail) insertMany(ctx context.Context, tx *store.Tx, ps []prepared) error {
	var chains []string
	byChain := map[string][]store.AuditEntryRow{}
	for _, p := range ps {
		if _, ok := byChain[p.row.Chain]; !ok {
			chains = append(chains, p.row.Chain)
		}
		byChain[p.row.Chain] = append(byChain[p.row.Chain], p.row)
	}
	// Heads are locked in one order, so that two calls writing to the same
	// chains (a message each way between two tenants) cannot deadlock.
	slices.Sort(chains)
	for _, chain := range chains {
		next, last, err := tx.AuditHeadForUpdate(ctx, chain)
		if errors.Is(err, store.ErrNotFound) {
			// A chain's first entry: create its head (concurrent first
			// entries on PostgreSQL queue on the new row's lock).
			if err := tx.EnsureAuditHead(ctx, chain, zeroHash, t.now().UTC()); err != nil {
				return err
			}
			next, last, err = tx.AuditHeadForUpdate(ctx, chain)
		}
		if err != nil {
			return err
		}
		rows := byChain[chain]
		for i := range rows {
			rows[i].Seq, rows[i].PrevHash = next, last
			rows[i].Hash = entryHash(&rows[i])
			next, last = next+1, rows[i].Hash
		}
		if err := tx.InsertAuditEntries(ctx, rows); err != nil {
			return err
		}
		if err := tx.PutAuditHead(ctx, chain, next, last, rows[len(rows)-1].Time); err != nil {
			return err
		}
	}
	return nil
}

// appendReq is an entry waiting for the appender.
type appendReq struct {
	ps   []prepared
	done chan error
}

// appender gathers the entries of concurrent calls (reads, refusals) and
// writes them in one transaction, many rows per statement; while one batch
// commits, the next gathers. Together with the store's group commit, an
// audited read costs a share of one commit, not one of its own.
type appender struct {
	mu      sync.Mutex
	pending []*appendReq
	running bool
}

// maxAppendBatch bounds one transaction of the appender.
const maxAppendBatch = 128

// Write appends one entry; concurrent entries are written together.
func (t *Trail) Write(ctx context.Context, e Entry) error {
	ps, err := t.prepareAll(ctx, withMirror(t.place(ctx, []Entry{e})))
	if err == nil {
		err = t.enqueue(ctx, ps)
	}
	t.result(e.Outcome, err)
	return err
}

// withMirror adds to es the platform's copy of each entry an operator
// wrote in a tenant's chain, and of each entry made under an access grant
// (OPS-2): the tenant sees them in its trail, the platform's security
// operators in theirs. The copy names the tenant in its details. Of a
// tenant's own people (an owner consenting), the copy keeps no client
// address, agent or comment: those stay in the tenant's chain, under its key.
func withMirror(es []Entry) []Entry {
	out := es
	for _, e := range es {
		operator := e.ActorType == string(authz.Operator)
		if e.TenantID == "" || (!operator && e.GrantID == "") {
			continue
		}
		m := e
		m.TenantID = ""
		if !operator {
			m.ClientIP, m.UserAgent, m.Reason = netip.Addr{}, "", ""
		}
		m.Details = make(map[string]string, len(e.Details)+1)
		for k, v := range e.Details {
			m.Details[k] = v
		}
		m.Details["tenant"] = e.TenantID
		out = append(out, m)
	}
	return out
}

// place moves to the platform's chain the entries of a tenant that has no
// keys — one that does not exist (an operator naming a made-up tenant in
// ?tenant=), or whose keys were destroyed — naming it in the detail
// "tenant": the call is recorded, and refused, instead of failing.
func (t *Trail) place(ctx context.Context, es []Entry) []Entry {
	for i, e := range es {
		if e.TenantID == "" {
			continue
		}
		if e.TenantID != Platform {
			_, err := t.keys.Sealer(ctx, e.TenantID)
			if err == nil {
				continue
			}
			// A tenant's id that cannot be looked up at all (bytes the
			// database refuses) names no tenant either; a real tenant's
			// keys that cannot be read fail the call (fail closed).
			canonical := len(e.TenantID) == 36 && safeID(e.TenantID)
			if canonical && !errors.Is(err, keyring.ErrNoKeyset) && !errors.Is(err, keyring.ErrDestroyed) {
				continue
			}
		}
		d := make(map[string]string, len(e.Details)+1)
		for k, v := range e.Details {
			d[k] = v
		}
		d["tenant"] = "unknown"
		if safeID(e.TenantID) {
			d["tenant"] = e.TenantID
		}
		es[i].TenantID, es[i].Details = "", d
	}
	return es
}

// prepareAll prepares entries in order.
func (t *Trail) prepareAll(ctx context.Context, es []Entry) ([]prepared, error) {
	ps := make([]prepared, 0, len(es))
	for _, e := range es {
		p, err := t.prepare(ctx, e)
		if err != nil {
			return nil, err
		}
		ps = append(ps, p)
	}
	return ps, nil
}

// enqueue hands entries to the appender; they are written together, in
// one transaction.
func (t *Trail) enqueue(ctx context.Context, ps []prepared) error {
	req := &appendReq{ps: ps, done: make(chan error, 1)}
	t.app.mu.Lock()
	t.app.pending = append(t.app.pending, req)
	start := !t.app.running
	t.app.running = true
	t.app.mu.Unlock()
	if start {
		go t.drain() // #nosec G118 -- the appender writes many callers' entries and must outlive this request; drain sets its own timeout
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		// The entry may still be written; the call fails all the same.
		return ctx.Err()
	}
}

// drain writes pending entries until there are none.
func (t *Trail) drain() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		t.app.mu.Lock()
		batch := t.app.pending
		if len(batch) > maxAppendBatch {
			batch = batch[:maxAppendBatch]
		}
		t.app.pending = t.app.pending[len(batch):]
		if len(batch) == 0 {
			t.app.running = false
			t.app.pending = nil
			t.app.mu.Unlock()
			return
		}
		t.app.mu.Unlock()
		var ps []prepared
		for _, r := range batch {
			ps = append(ps, r.ps...)
		}
		err := t.db.Write(ctx, func(tx *store.Tx) error { return t.insertMany(ctx, tx, ps) })
		for _, r := range batch {
			r.done <- err
		}
	}
}

func (t *Trail) result(outcome string, err error) {
	if err != nil {
		t.failing.Store(true)
		t.failures.Inc()
		t.log.Error("audit write failed; the call is refused", "error", err)
		return
	}
	t.failing.Store(false)
	t.written.WithLabelValues(outcome).Inc()
}

// Do runs fn in a write transaction together with the entry of the change
// it makes (described by d over the call's record): both commit, or
// neither does. Outcome success; the call's own end is not written again.
func (t *Trail) Do(ctx context.Context, d Description, fn func(tx *store.Tx) error) error {
	rec := from(ctx)
	if rec == nil {
		ctx, rec = Begin(ctx, d.Action)
	}
	rec.mu.Lock()
	if rec.action != "" {
		d.Action = "" // the call's own action names it
	}
	rec.mu.Unlock()
	Describe(ctx, d)
	// Entries added with Also go with the call's.
	rec.mu.Lock()
	also := rec.also
	rec.also = nil
	rec.mu.Unlock()
	ps, err := t.prepareAll(ctx, withMirror(t.place(ctx, append([]Entry{rec.entry(0, Success)}, also...))))
	if err != nil {
		t.result(Success, err)
		return ErrUnavailable
	}
	err = t.db.Write(ctx, func(tx *store.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		if err := t.insertMany(ctx, tx, ps); err != nil {
			return &auditFailure{err}
		}
		return nil
	})
	var af *auditFailure
	switch {
	case errors.As(err, &af):
		t.result(Success, af.err)
		return ErrUnavailable
	case err != nil:
		return err
	}
	t.result(Success, nil)
	rec.markCommitted()
	return nil
}

// auditFailure marks a failure of the audit part of a Do transaction.
type auditFailure struct{ err error }

func (a *auditFailure) Error() string { return "audit: " + a.err.Error() }
func (a *auditFailure) Unwrap() error { return a.err }

// Finish writes the entry of a call that did not write its changes with
// Do (reads, refusals, CLI commands), with the outcome of err. A call that
// committed a change with Do and then failed gets a second entry: its end.
func (t *Trail) Finish(ctx context.Context, status int, err error) error {
	rec := from(ctx)
	if rec == nil {
		return nil
	}
	outcome := OutcomeOf(status)
	if err != nil && outcome == Success {
		outcome = Failed
		if p, ok := problem.As(err); ok {
			outcome = OutcomeOf(p.Kind.Status())
		}
	}
	if rec.isCommitted() && outcome == Success {
		return nil
	}
	if werr := t.Write(ctx, rec.entry(status, outcome)); werr != nil {
		return ErrUnavailable
	}
	rec.markCommitted()
	return nil
}

// HTTP wraps a route's handler: it begins the call's record with the
// route's action and writes its entry before the response's first byte.
// If the entry cannot be written, the response is replaced by 503.
func (t *Trail) HTTP(action string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, rec := Begin(r.Context(), action)
		aw := &writer{ResponseWriter: w, trail: t, ctx: ctx, rec: rec}
		next.ServeHTTP(aw, r.WithContext(ctx))
		if !aw.decided {
			aw.WriteHeader(http.StatusOK)
		}
	})
}

// writer holds back the response until the call is on the trail.
type writer struct {
	http.ResponseWriter
	trail   *Trail
	ctx     context.Context
	rec     *Record
	decided bool // the status went out (or was replaced)
	dropped bool // the handler's response was replaced by 503
}

func (w *writer) WriteHeader(code int) {
	if w.decided {
		return
	}
	w.decided = true
	if err := w.trail.Finish(w.ctx, code, nil); err != nil {
		w.dropped = true
		h := w.Header()
		for k := range h {
			if k != "X-Request-Id" && k != "Strict-Transport-Security" && k != "Content-Security-Policy" && k != "X-Content-Type-Options" {
				delete(h, k)
			}
		}
		problem.Write(w.ResponseWriter, call.RequestID(w.ctx), err)
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *writer) Write(b []byte) (int, error) {
	if !w.decided {
		w.WriteHeader(http.StatusOK)
	}
	if w.dropped {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

// Flush sends what is written so far (after the entry is written).
func (w *writer) Flush() {
	if !w.decided {
		w.WriteHeader(http.StatusOK)
	}
	if !w.dropped {
		_ = http.NewResponseController(w.ResponseWriter).Flush()
	}
}

// Unwrap gives http.ResponseController the underlying writer (deadlines).
func (w *writer) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// safeID reports whether s has the form of one of Valv's own ids: a UUID,
// an API key id (16 characters of its base32 alphabet), a session's public
// id (24 hex digits) — never all digits, which could be a card or account
// number — or the platform chain's name.
func safeID(s string) bool {
	switch {
	case len(s) == 36:
		u, err := uuid.Parse(s)
		return err == nil && u.String() == s
	case len(s) == 16:
		return onlyChars(s, "0123456789abcdefghjkmnpqrstvwxyz") && !onlyChars(s, "0123456789")
	case len(s) == 24:
		return onlyChars(s, "0123456789abcdef") && !onlyChars(s, "0123456789")
	}
	return s == store.PlatformTenant
}

func onlyChars(s, allowed string) bool {
	for _, c := range s {
		if !strings.ContainsRune(allowed, c) {
			return false
		}
	}
	return true
}
