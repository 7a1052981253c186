package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/valvhq/valv/internal/audit"
	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/call"
	"github.com/valvhq/valv/internal/config"
	"github.com/valvhq/valv/internal/guard"
	"github.com/valvhq/valv/internal/notify"
	"github.com/valvhq/valv/internal/problem"
	"github.com/valvhq/valv/internal/seal"
	"github.com/valvhq/valv/internal/server"
	"github.com/valvhq/valv/internal/store"
)

// Jobs of the guard.
const (
	JobGuardSummary  = "guard.summary"
	JobGuardMaintain = "guard.maintain"
)

// shield is the server's guard: the gate (block list, limits) and the
// WAF, in the order routes.go places them.
type shield struct {
	gate *guard.Gate
	waf  *guard.WAF
}

func (s shield) Blocklist(next http.Handler) http.Handler      { return s.gate.Blocklist(next) }
func (s shield) LimitAddress(next http.Handler) http.Handler   { return s.gate.LimitAddress(next) }
func (s shield) Firewall(next http.Handler) http.Handler       { return s.waf.Middleware(next) }
func (s shield) LimitPrincipal(next http.Handler) http.Handler { return s.gate.LimitPrincipal(next) }

// buildGuard builds the WAF and the gate (GRD-1, GRD-2, AUTH-5).
func (a *App) buildGuard() error {
	g := a.cfg.Guard
	var allow []netip.Prefix
	for _, s := range g.Allow {
		p, err := config.ParsePrefix(s)
		if err != nil {
			return fmt.Errorf("guard.allow: %w", err)
		}
		allow = append(allow, p)
	}
	if g.WebhookURL != "" {
		key, err := notify.ParseWebhookSecret(g.WebhookSecret.Reveal())
		if err != nil {
			return fmt.Errorf("guard.webhook_secret: %w", err)
		}
		a.guardHookKey = key
	}
	gate, err := guard.NewGate(guard.GateOptions{
		DB:           a.db,
		Addresses:    addresses{a},
		Limits:       guard.Limits{Address: g.AddressLimit, Key: g.KeyLimit, User: g.UserLimit, Tenant: g.TenantLimit},
		Window:       g.Window,
		SyncInterval: g.SyncInterval,
		Allow:        allow,
		Block: guard.BlockPolicy{Threshold: g.BlockAfter, Window: g.BlockWindow, WAFPoints: 5, AuthPoints: 1,
			First: g.BlockFirst, Max: g.BlockMax, Forget: g.BlockForget},
		Subjects:  limitSubjects,
		OnBlocked: a.sourceBlocked,
		Registry:  a.registry,
		Log:       a.log,
		Now:       a.now,
	})
	if err != nil {
		return err
	}
	a.Guard = gate
	a.shield = shield{gate: gate}
	return nil
}

// firewall compiles the WAF, once: it takes a few hundred milliseconds of
// CPU, which only a serving process needs (not the CLI).
func (a *App) firewall() (*guard.WAF, error) {
	if a.shield.waf != nil {
		return a.shield.waf, nil
	}
	g := a.cfg.Guard
	bodyLimit := max(a.cfg.HTTP.MaxBodyBytes, g.TextLimit)
	waf, err := guard.New(guard.Options{
		ParanoiaLevel:    g.ParanoiaLevel,
		InboundThreshold: g.InboundThreshold,
		BodyLimit:        bodyLimit,
		TextLimit:        g.TextLimit,
		ArgumentLimit:    g.ArgumentLimit,
		InspectBody:      func(r *http.Request) bool { return !server.RawBody(r) },
		OnBlock:          a.wafBlocked,
		Log:              a.log,
	})
	if err != nil {
		return nil, err
	}
	a.shield.waf = waf
	return waf, nil
}

// checkJSON runs the WAF over the JSON part of a multipart upload; without
// a WAF (never in a serving process) it refuses.
func (a *App) checkJSON(r *http.Request, doc []byte) error {
	if a.shield.waf == nil {
		return errors.New("guard: the WAF is not built")
	}
	return a.shield.waf.CheckJSON(r, doc)
}

// limitSubjects names who an authenticated request is limited as.
func limitSubjects(ctx context.Context) []guard.Subject {
	p := authz.PrincipalFrom(ctx)
	switch p.Kind {
	case authz.APIKey:
		return []guard.Subject{{Scope: "key", ID: p.ID}, {Scope: "tenant", ID: p.TenantID}}
	case authz.User:
		return []guard.Subject{{Scope: "user", ID: p.ID}, {Scope: "tenant", ID: p.TenantID}}
	case authz.Operator:
		return []guard.Subject{{Scope: "user", ID: p.ID}}
	}
	return nil
}

// wafBlocked audits a request the WAF blocked (platform chain: nobody is
// logged in yet) and counts it toward blocking its source. Only an attack
// the rules scored counts as an offence; a body the WAF could not parse
// or that had too many arguments is refused and audited, but a client
// with a bug is not blocked for it.
func (a *App) wafBlocked(ctx context.Context, e guard.Event) {
	ids := make([]string, 0, len(e.Rules))
	for _, m := range e.Rules {
		ids = append(ids, strconv.Itoa(m.ID))
	}
	info := call.From(ctx)
	entry := audit.Entry{Time: a.now(), ActorType: "anonymous", Action: "guard.waf.block", Outcome: audit.Denied, Status: http.StatusForbidden,
		RequestID: e.RequestID, Channel: string(info.Channel), ClientIP: e.ClientIP, UserAgent: info.UserAgent,
		Details: map[string]string{"rules": truncateList(strings.Join(ids, ","), 200), "anomaly_score": strconv.Itoa(e.AnomalyScore)}}
	if !a.Keys.Sealed() {
		if err := a.Trail.Write(context.WithoutCancel(ctx), entry); err != nil {
			a.log.Warn("guard: audit of a WAF block failed", "request_id", e.RequestID, "err", err)
		}
	}
	a.log.Info("guard: request blocked by the WAF", "event", e)
	if e.AnomalyScore >= a.cfg.Guard.InboundThreshold {
		a.Guard.WAFBlocked(ctx, e)
	} else {
		a.Guard.Alert(ctx, e)
	}
}

func truncateList(s string, n int) string {
	if len(s) <= n {
		return s
	}
	if i := strings.LastIndexByte(s[:n], ','); i > 0 {
		return s[:i] + ",…"
	}
	return s[:n]
}

// sourceBlocked audits an automatic block. The address is sealed in the
// entry (ClientIP); the summary mail tells the security operators.
func (a *App) sourceBlocked(ctx context.Context, b guard.AutoBlock) {
	if a.Keys.Sealed() {
		return
	}
	info := call.From(ctx)
	e := audit.Entry{Time: a.now(), ActorType: "system", ActorID: "guard", Action: "guard.block", Outcome: audit.Success, Status: http.StatusOK,
		RequestID: info.RequestID, Channel: string(info.Channel), ClientIP: b.Addr, ResourceType: "source",
		Details: map[string]string{"reason": b.Reason, "duration": b.Duration.String(), "count": strconv.Itoa(b.Count), "until": b.Until.UTC().Format(time.RFC3339)}}
	if err := a.Trail.Write(context.WithoutCancel(ctx), e); err != nil {
		a.log.Warn("guard: audit of an automatic block failed", "err", err)
	}
}

// addresses seals client addresses under the platform's keys: a keyed
// token to look them up by, the address itself for operators' lists.
type addresses struct{ a *App }

func (ad addresses) sealer(ctx context.Context) (*seal.Sealer, error) {
	return ad.a.Keys.Sealer(ctx, store.PlatformTenant)
}

func (ad addresses) Token(ctx context.Context, addr netip.Addr) ([]byte, error) {
	s, err := ad.sealer(ctx)
	if err != nil {
		return nil, err
	}
	return s.BlindIndex("guard-source", addr.Unmap().String())
}

func (ad addresses) Seal(ctx context.Context, addr netip.Addr, token []byte) ([]byte, error) {
	s, err := ad.sealer(ctx)
	if err != nil {
		return nil, err
	}
	return s.SealString(addr.Unmap().String(), seal.Location{Table: "guard_sources", Row: fmt.Sprintf("%x", token), Field: "address"})
}

func (ad addresses) Open(ctx context.Context, sealed, token []byte) (netip.Addr, error) {
	s, err := ad.sealer(ctx)
	if err != nil {
		return netip.Addr{}, err
	}
	v, err := s.OpenString(sealed, seal.Location{Table: "guard_sources", Row: fmt.Sprintf("%x", token), Field: "address"})
	if err != nil {
		return netip.Addr{}, err
	}
	return netip.ParseAddr(v)
}

// SendGuardSummary mails the security operators a summary of the WAF
// blocks and automatic blocks since the last one, and posts it to the
// configured webhook; with nothing to tell it sends nothing.
func (a *App) SendGuardSummary(ctx context.Context) (bool, error) {
	if a.Keys.Sealed() {
		return false, nil
	}
	return a.Guard.Summarise(ctx, func(ctx context.Context, s guard.Summary) error {
		to := (accessNotices{a}).accountsWithRole(ctx, store.PlatformTenant, string(authz.RoleSecurity), "")
		byLang := map[string][]string{}
		for _, r := range to {
			byLang[r.lang] = append(byLang[r.lang], r.email)
		}
		for lang, emails := range byLang {
			title, lines := a.summaryText(lang, s)
			if err := a.mail.SecurityAlert(ctx, emails, lang, "Valv", title, lines, s.To); err != nil {
				return fmt.Errorf("mail the guard summary: %w", err)
			}
		}
		if a.cfg.Guard.WebhookURL != "" {
			if err := a.postGuardSummary(ctx, s); err != nil {
				return fmt.Errorf("post the guard summary: %w", err)
			}
		}
		return nil
	})
}

func (a *App) summaryText(lang string, s guard.Summary) (string, []string) {
	sv := lang == "sv"
	title := fmt.Sprintf("%d attacks blocked, %d sources blocked", s.WAFBlocks, sumBlocks(s))
	if sv {
		title = fmt.Sprintf("%d attacker stoppade, %d källor blockerade", s.WAFBlocks, sumBlocks(s))
	}
	period := s.From.UTC().Format("2006-01-02 15:04") + " – " + s.To.UTC().Format("2006-01-02 15:04") + " UTC"
	var lines []string
	if sv {
		lines = append(lines, "Period: "+period,
			fmt.Sprintf("Brandväggen (WAF) stoppade %d anrop från %d adresser.", s.WAFBlocks, s.WAFSources))
	} else {
		lines = append(lines, "Period: "+period,
			fmt.Sprintf("The web application firewall blocked %d requests from %d addresses.", s.WAFBlocks, s.WAFSources))
	}
	for _, r := range s.Rules {
		msg := a.shield.waf.RuleMessage(r.ID)
		if sv {
			lines = append(lines, fmt.Sprintf("Regel %d (%s): %d gånger", r.ID, msg, r.Count))
		} else {
			lines = append(lines, fmt.Sprintf("Rule %d (%s): %d times", r.ID, msg, r.Count))
		}
	}
	for _, reason := range []string{guard.OffenceWAF, guard.OffenceAuth} {
		n := s.AutoBlocks[reason]
		if n == 0 {
			continue
		}
		switch {
		case sv && reason == guard.OffenceWAF:
			lines = append(lines, fmt.Sprintf("%d adresser blockerades automatiskt efter upprepade attacker.", n))
		case sv:
			lines = append(lines, fmt.Sprintf("%d adresser blockerades automatiskt efter upprepade misslyckade inloggningar.", n))
		case reason == guard.OffenceWAF:
			lines = append(lines, fmt.Sprintf("%d addresses were blocked automatically after repeated attacks.", n))
		default:
			lines = append(lines, fmt.Sprintf("%d addresses were blocked automatically after repeated failed authentication.", n))
		}
	}
	if s.Longest > 0 {
		if sv {
			lines = append(lines, "Längsta blockering: "+s.Longest.String())
		} else {
			lines = append(lines, "Longest block: "+s.Longest.String())
		}
	}
	if sv {
		lines = append(lines, "Adresserna finns i plattformens granskningslogg (guard.waf.block, guard.block) och i 'valv guard blocks list'.")
	} else {
		lines = append(lines, "The addresses are in the platform's audit trail (guard.waf.block, guard.block) and in 'valv guard blocks list'.")
	}
	return title, lines
}

func sumBlocks(s guard.Summary) int {
	n := 0
	for _, v := range s.AutoBlocks {
		n += v
	}
	return n
}

// postGuardSummary posts a summary to guard.webhook_url, signed.
func (a *App) postGuardSummary(ctx context.Context, s guard.Summary) error {
	id, err := notify.NewWebhookID(nil)
	if err != nil {
		return err
	}
	body, err := json.Marshal(struct {
		Type string        `json:"type"`
		Data guard.Summary `json:"data"`
	}{"guard.summary", s})
	if err != nil {
		return err
	}
	sender := notify.NewWebhookSender(notify.WebhookOptions{Now: a.now, RootCAs: a.webhookRoots})
	_, err = sender.Send(ctx, notify.Webhook{URL: a.cfg.Guard.WebhookURL, ID: id, Body: body, Secrets: [][]byte{a.guardHookKey}})
	return err
}

// GuardList lists the blocks in force and the allowed networks.
func (a *App) GuardList(ctx context.Context, p authz.Principal) ([]guard.Entry, error) {
	if err := a.guardAllowed(ctx, p, authz.GuardList); err != nil {
		return nil, err
	}
	return a.Guard.List(ctx)
}

// GuardBlock blocks an address or network for d (0: until removed).
func (a *App) GuardBlock(ctx context.Context, p authz.Principal, target string, d time.Duration, note string) (guard.Entry, error) {
	if err := a.guardAllowed(ctx, p, authz.GuardManage, target); err != nil {
		return guard.Entry{}, err
	}
	audit.Detail(ctx, "duration", d.String())
	return a.Guard.Block(ctx, target, d, note, p.ID)
}

// GuardUnblock lifts a block.
func (a *App) GuardUnblock(ctx context.Context, p authz.Principal, target string) error {
	if err := a.guardAllowed(ctx, p, authz.GuardManage, target); err != nil {
		return err
	}
	return a.Guard.Unblock(ctx, target)
}

// GuardAllow adds a network to the allow list.
func (a *App) GuardAllow(ctx context.Context, p authz.Principal, target, note string) (guard.Entry, error) {
	if err := a.guardAllowed(ctx, p, authz.GuardManage, target); err != nil {
		return guard.Entry{}, err
	}
	return a.Guard.Allow(ctx, target, note, p.ID)
}

// GuardDisallow removes a network from the allow list.
func (a *App) GuardDisallow(ctx context.Context, p authz.Principal, target string) error {
	if err := a.guardAllowed(ctx, p, authz.GuardManage, target); err != nil {
		return err
	}
	return a.Guard.Disallow(ctx, target)
}

func (a *App) guardAllowed(ctx context.Context, p authz.Principal, act authz.Action, target ...string) error {
	audit.Describe(ctx, audit.Description{ResourceType: "guard"})
	if len(target) > 0 {
		// A network is recorded as written; a single address is personal
		// data and is recorded only as being one.
		if pfx, single, err := guard.ParseTarget(target[0]); err == nil {
			if single {
				audit.Detail(ctx, "target", "address")
			} else {
				audit.Detail(ctx, "target", pfx.String())
			}
		}
	}
	d := authz.Decide(p, act, authz.Resource{}, a.now())
	audit.Decision(ctx, d)
	if !d.Allowed {
		return problem.Forbidden("forbidden", "Only security operators manage the block and allow lists; operators may list them.")
	}
	return nil
}
