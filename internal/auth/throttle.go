package auth

import (
	"context"
	"time"

	"github.com/valvhq/valv/internal/call"
	"github.com/valvhq/valv/internal/store"
)

// Brute-force limits (AUTH-5).
const (
	// An account is locked after this many consecutive failures...
	accountFailureLimit = 5
	// ...first for this long, doubling with each further lock-out...
	firstLockout = time.Minute
	// ...up to this long.
	maxLockout = time.Hour
	// A source address may fail this many times per window...
	sourceFailureLimit = 30
	sourceWindow       = 15 * time.Minute
	// ...before it is refused for this long.
	sourceBlock = 15 * time.Minute
)

// lockoutFor is the length of the n-th consecutive lock-out (n from 1).
func lockoutFor(n int) time.Duration {
	d := firstLockout
	for i := 1; i < n && d < maxLockout; i++ {
		d *= 2
	}
	if d > maxLockout {
		d = maxLockout
	}
	return d
}

// sourceToken is the keyed token for the caller's address (never stored
// in the clear), or nil when there is no address (CLI, jobs).
func (s *Service) sourceToken(ctx context.Context) []byte {
	ip := call.From(ctx).ClientIP
	if !ip.IsValid() {
		return nil
	}
	sealer, err := s.keys.Sealer(ctx, store.PlatformTenant)
	if err != nil {
		return nil
	}
	tok, err := sealer.BlindIndex("login-source", ip.String())
	if err != nil {
		return nil
	}
	return tok
}

// checkSource refuses a source that failed too often recently.
func (s *Service) checkSource(ctx context.Context, src []byte) error {
	if src == nil {
		return nil
	}
	row, err := s.db.Reader().Throttle(ctx, src)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if now := s.now(); row.BlockedUntil.After(now) {
		return tooManyAttempts(row.BlockedUntil.Sub(now))
	}
	return nil
}

// recordSourceFailure counts a failed attempt from a source, inside tx.
func (s *Service) recordSourceFailure(ctx context.Context, tx *store.Tx, src []byte) error {
	if src == nil {
		return nil
	}
	now := s.now().UTC()
	row, err := tx.Throttle(ctx, src)
	if isNotFound(err) || (err == nil && now.Sub(row.WindowStart) > sourceWindow) {
		row = store.ThrottleRow{Source: src, WindowStart: now}
	} else if err != nil {
		return err
	}
	row.Failures++
	if row.Failures >= sourceFailureLimit {
		row.BlockedUntil = now.Add(sourceBlock)
		row.Failures = 0
		row.WindowStart = now
	}
	return tx.PutThrottle(ctx, row)
}
