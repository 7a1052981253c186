package guard

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/valvhq/valv/internal/problem"
	"github.com/valvhq/valv/internal/store"
)

// Entry is one blocked address or network, or one allowed network, as
// operators see it.
type Entry struct {
	// Target is an address ("192.0.2.7") or a network ("192.0.2.0/24").
	Target string    `json:"target"`
	Kind   string    `json:"kind"`   // block, allow
	Reason string    `json:"reason"` // waf, auth (automatic), manual
	Until  time.Time `json:"until,omitzero"`
	Count  int       `json:"count,omitempty"` // automatic blocks so far
	Note   string    `json:"note,omitempty"`
	By     string    `json:"by,omitempty"`
}

// MaxNoteLength bounds an operator's note on a block.
const MaxNoteLength = 500

// ParseTarget reads an address or a CIDR network. A network that holds
// one address is that address.
func ParseTarget(s string) (netip.Prefix, bool, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, false, problem.Invalid("invalid_target", "Give an IP address (192.0.2.7, 2001:db8::1) or a network in CIDR form (192.0.2.0/24).")
		}
		if p.Addr().Is4In6() {
			if p.Bits() < 96 {
				return netip.Prefix{}, false, problem.Invalid("invalid_target", "Write an IPv4 network in IPv4 form (192.0.2.0/24).")
			}
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		p = p.Masked()
		if p.IsSingleIP() {
			return p, true, nil
		}
		if p.Bits() == 0 {
			return netip.Prefix{}, false, problem.Invalid("invalid_target", "A network of every address (/0) cannot be listed.")
		}
		return p, false, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, false, problem.Invalid("invalid_target", "Give an IP address (192.0.2.7, 2001:db8::1) or a network in CIDR form (192.0.2.0/24).")
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), true, nil
}

func checkNote(note string) error {
	if len(note) > MaxNoteLength || strings.ContainsAny(note, "\x00\r\n") {
		return problem.Invalid("invalid_note", fmt.Sprintf("A note is one line of at most %d bytes.", MaxNoteLength))
	}
	return nil
}

// Block blocks an address or network for d (zero: until removed). by
// names the operator; note says why.
func (g *Gate) Block(ctx context.Context, target string, d time.Duration, note, by string) (Entry, error) {
	p, single, err := ParseTarget(target)
	if err != nil {
		return Entry{}, err
	}
	if err := checkNote(note); err != nil {
		return Entry{}, err
	}
	if d < 0 {
		return Entry{}, problem.Invalid("invalid_duration", "A block's duration cannot be negative.")
	}
	now := g.now().UTC()
	var until time.Time
	if d > 0 {
		until = now.Add(d)
	}
	if single {
		p = limitedPrefix(p.Addr()) // an IPv6 client is blocked by its /64
	}
	shown := targetString(p, false)
	if single {
		shown = sourceString(p.Addr())
	}
	e := Entry{Target: shown, Kind: "block", Reason: "manual", Until: until, Note: note, By: by}
	if !single {
		err := g.opts.DB.Write(ctx, func(tx *store.Tx) error {
			return tx.PutGuardNetwork(ctx, store.GuardNetworkRow{Prefix: p.String(), Kind: "block", Until: until, Note: note, CreatedBy: by, CreatedAt: now})
		})
		if err == nil {
			_, err = g.loadNetworks(ctx)
		}
		return e, err
	}
	if until.IsZero() {
		until = farFuture
	}
	addr := p.Addr()
	token, err := g.opts.Addresses.Token(ctx, addr)
	if err != nil {
		return Entry{}, err
	}
	sealed, err := g.opts.Addresses.Seal(ctx, addr, token)
	if err != nil {
		return Entry{}, err
	}
	err = g.opts.DB.Write(ctx, func(tx *store.Tx) error {
		row, err := tx.GuardSource(ctx, token)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		row.Token, row.Address, row.BlockedUntil, row.UpdatedAt = token, sealed, until, now
		if row.WindowStart.IsZero() {
			row.WindowStart = now
		}
		row.Reason, row.Note, row.CreatedBy = "manual", note, by
		return tx.PutGuardSource(ctx, row)
	})
	return e, err
}

// farFuture stands for "until removed" on address blocks.
var farFuture = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// Unblock lifts the block on an address or network; a missing one is a
// not_found problem.
func (g *Gate) Unblock(ctx context.Context, target string) error {
	p, single, err := ParseTarget(target)
	if err != nil {
		return err
	}
	notFound := problem.NotFound("block_not_found", "That address or network is not blocked (valv guard blocks list shows what is).")
	if !single {
		err := g.opts.DB.Write(ctx, func(tx *store.Tx) error { return tx.DeleteGuardNetwork(ctx, "block", p.String()) })
		if errors.Is(err, store.ErrNotFound) {
			return notFound
		}
		if err == nil {
			_, err = g.loadNetworks(ctx)
		}
		return err
	}
	token, err := g.opts.Addresses.Token(ctx, sourceOf(p.Addr()))
	if err != nil {
		return err
	}
	now := g.now().UTC()
	return g.opts.DB.Write(ctx, func(tx *store.Tx) error {
		row, err := tx.GuardSource(ctx, token)
		if errors.Is(err, store.ErrNotFound) || (err == nil && !row.BlockedUntil.After(now)) {
			return notFound
		}
		if err != nil {
			return err
		}
		// The source's history stays, so that its next automatic block
		// is longer; its current offences are forgiven.
		row.BlockedUntil, row.Score, row.UpdatedAt = time.Time{}, 0, now
		return tx.PutGuardSource(ctx, row)
	})
}

// Allow adds a network (or address) to the allow list: never blocked
// automatically, not limited per address.
func (g *Gate) Allow(ctx context.Context, target, note, by string) (Entry, error) {
	p, single, err := ParseTarget(target)
	if err != nil {
		return Entry{}, err
	}
	if err := checkNote(note); err != nil {
		return Entry{}, err
	}
	now := g.now().UTC()
	err = g.opts.DB.Write(ctx, func(tx *store.Tx) error {
		return tx.PutGuardNetwork(ctx, store.GuardNetworkRow{Prefix: p.String(), Kind: "allow", Note: note, CreatedBy: by, CreatedAt: now})
	})
	if err == nil {
		_, err = g.loadNetworks(ctx)
	}
	return Entry{Target: targetString(p, single), Kind: "allow", Reason: "manual", Note: note, By: by}, err
}

// Disallow removes a network from the allow list.
func (g *Gate) Disallow(ctx context.Context, target string) error {
	p, _, err := ParseTarget(target)
	if err != nil {
		return err
	}
	err = g.opts.DB.Write(ctx, func(tx *store.Tx) error { return tx.DeleteGuardNetwork(ctx, "allow", p.String()) })
	if errors.Is(err, store.ErrNotFound) {
		return problem.NotFound("allow_not_found", "That network is not on the allow list (valv guard allow list shows what is).")
	}
	if err == nil {
		_, err = g.loadNetworks(ctx)
	}
	return err
}

// List returns the blocks in force (addresses opened from their sealed
// form) and the allowed networks.
func (g *Gate) List(ctx context.Context) ([]Entry, error) {
	now := g.now()
	var out []Entry
	rows, err := g.opts.DB.Reader().BlockedGuardSources(ctx, now)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		target := "(address unreadable)"
		if a, err := g.opts.Addresses.Open(ctx, r.Address, r.Token); err == nil {
			target = sourceString(a)
		}
		until := r.BlockedUntil
		if !until.Before(farFuture) {
			until = time.Time{}
		}
		out = append(out, Entry{Target: target, Kind: "block", Reason: r.Reason, Until: until, Count: r.Blocks, Note: r.Note, By: r.CreatedBy})
	}
	nets, err := g.opts.DB.Reader().GuardNetworks(ctx)
	if err != nil {
		return nil, err
	}
	for _, n := range nets {
		if !n.Until.IsZero() && !n.Until.After(now) {
			continue
		}
		p, _ := netip.ParsePrefix(n.Prefix)
		out = append(out, Entry{Target: targetString(p, p.IsSingleIP()), Kind: n.Kind, Reason: "manual", Until: n.Until, Note: n.Note, By: n.CreatedBy})
	}
	return out, nil
}

// sourceString names a source: an IPv4 address, or an IPv6 /64.
func sourceString(a netip.Addr) string {
	if a.Is6() && !a.Is4In6() {
		return limitedPrefix(a).String()
	}
	return a.String()
}

func targetString(p netip.Prefix, single bool) string {
	if single {
		return p.Addr().String()
	}
	return p.String()
}

// Maintain forgets what no longer matters: counters of past windows,
// sources quiet for longer than the block policy remembers, and expired
// network entries.
func (g *Gate) Maintain(ctx context.Context) error {
	now := g.now().UTC()
	return g.opts.DB.Write(ctx, func(tx *store.Tx) error {
		if _, err := tx.DeleteGuardCounters(ctx, now.Add(-2*g.opts.Window)); err != nil {
			return err
		}
		if _, err := tx.DeleteStaleGuardSources(ctx, now.Add(-g.opts.Block.Forget)); err != nil {
			return err
		}
		// Queued alerts that no summary took (mail down for a week) go.
		if _, err := tx.DeleteGuardAlertsUpTo(ctx, now.Add(-7*24*time.Hour), ""); err != nil {
			return err
		}
		nets, err := tx.GuardNetworks(ctx)
		if err != nil {
			return err
		}
		for _, n := range nets {
			if !n.Until.IsZero() && !n.Until.After(now) {
				if err := tx.DeleteGuardNetwork(ctx, n.Kind, n.Prefix); err != nil && !errors.Is(err, store.ErrNotFound) {
					return err
				}
			}
		}
		return nil
	})
}
