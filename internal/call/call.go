// Package call carries what Valv knows about the call in progress — its
// request id, the client's address and user agent, and the channel it came
// through — from the edge (HTTP server, CLI, job runner) to the services
// that audit it.
//
// Invariants: Info is set once, at the edge, before any service is called.
// The client address and user agent are personal data: they MUST NOT be
// logged; audit seals them.
package call

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"net/netip"
	"time"
)

// Channel is how a call reached Valv.
type Channel string

const (
	ChannelAPI Channel = "api"
	ChannelWeb Channel = "web"
	ChannelCLI Channel = "cli"
	ChannelJob Channel = "job"
)

// Info describes one call.
type Info struct {
	RequestID string
	Channel   Channel
	ClientIP  netip.Addr // zero for CLI and jobs
	UserAgent string
	Start     time.Time
}

type ctxKey struct{}

// With returns a context carrying info.
func With(ctx context.Context, info Info) context.Context {
	return context.WithValue(ctx, ctxKey{}, info)
}

// From returns the call info in ctx, or a zero Info.
func From(ctx context.Context) Info {
	info, _ := ctx.Value(ctxKey{}).(Info)
	return info
}

// RequestID returns the request id in ctx, or "".
func RequestID(ctx context.Context) string { return From(ctx).RequestID }

var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// NewRequestID returns a random 80-bit id, 16 characters of Crockford base32.
func NewRequestID() string {
	var b [10]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return idEncoding.EncodeToString(b[:])
}
