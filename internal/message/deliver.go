package message

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/valvhq/valv/internal/audit"
	"github.com/valvhq/valv/internal/notify"
	"github.com/valvhq/valv/internal/store"
)

// Back-off between attempts: the first retry after about 30 s, doubling
// up to 6 h, each delay drawn from [d/2, d) (jitter) so that receivers
// that come back are not hit by every sender at once.
const (
	backoffBase = 30 * time.Second
	backoffMax  = 6 * time.Hour
)

// backoff is the delay before attempt n+1, after n failed attempts (n ≥ 1).
func backoff(n int, jitter func() float64) time.Duration {
	d := backoffBase << min(n-1, 20)
	if d > backoffMax || d <= 0 {
		d = backoffMax
	}
	half := d / 2
	return half + time.Duration(float64(half)*jitter())
}

// DeliverResult counts what one Deliver pass did.
type DeliverResult struct {
	Attempted int
	Delivered int
	Failed    int
	Dead      int
}

// Deliver makes one attempt at every message whose delivery is due, up to
// the configured number at a time, and records each outcome; it returns
// when none is left that is due now. Safe on many nodes: a message is
// attempted by the node that holds its lease.
func (s *Service) Deliver(ctx context.Context) (DeliverResult, error) {
	var res DeliverResult
	var mu sync.Mutex
	// Each pass holds its leases under its own name, so two passes on one
	// node (the job and a kick) never take each other's messages.
	holder := s.node + "/" + uuid.NewString()[:8]
	for ctx.Err() == nil {
		now := s.now()
		// Only as many as are attempted at once: a lease starts when its
		// attempt does, and cannot run out while it waits for a worker.
		due, err := s.db.Reader().DueMessages(ctx, now, s.workers)
		if err != nil {
			return res, err
		}
		if len(due) == 0 {
			return res, nil
		}
		var claimed []store.MessageRow
		lease := now.Add(s.timeout + time.Minute)
		err = s.db.Write(ctx, func(tx *store.Tx) error {
			claimed = claimed[:0]
			for _, m := range due {
				ok, err := tx.ClaimMessage(ctx, m.TenantID, m.ID, holder, now, lease)
				if err != nil {
					return err
				}
				if ok {
					// Read again under the lease: a resend or an
					// acknowledgement may have changed it.
					if m, err = tx.Message(ctx, m.TenantID, m.ID); err != nil {
						return err
					}
					claimed = append(claimed, m)
				}
			}
			return nil
		})
		if err != nil {
			return res, err
		}
		if len(claimed) == 0 {
			return res, nil // other nodes have them
		}
		sem := make(chan struct{}, s.workers)
		var wg sync.WaitGroup
		for _, m := range claimed {
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer func() { <-sem; wg.Done() }()
				status, err := s.attempt(ctx, m, holder)
				mu.Lock()
				defer mu.Unlock()
				res.Attempted++
				switch status {
				case StatusDelivered:
					res.Delivered++
				case StatusDead:
					res.Dead++
				default:
					res.Failed++
				}
				if err != nil {
					s.log.Error("recording a delivery failed", "message", m.ID, "error", err)
				}
			}()
		}
		wg.Wait()
	}
	return res, ctx.Err()
}

// attempt makes one delivery attempt of m (whose lease this node holds)
// and records it; it returns the message's new status.
func (s *Service) attempt(ctx context.Context, m store.MessageRow, holder string) (string, error) {
	n := m.Attempts + 1
	ev := Event{Step: StepAttempt, Attempt: n, Endpoint: m.EndpointID}
	code, res, sendErr := s.send(ctx, m)
	now := s.now().UTC().Truncate(time.Microsecond)
	ev.Time, ev.Status, ev.LatencyMS = now, res.Status, res.Latency.Milliseconds()
	m.Attempts, m.UpdatedAt = n, now
	var events []Event
	switch {
	case sendErr == nil:
		ev.Outcome = OK
		m.Status, m.NextAt = StatusDelivered, time.Time{}
		events = []Event{ev, {Time: now, Step: StepDelivered, Outcome: OK, Endpoint: m.EndpointID, Status: res.Status}}
	case code == "destination_not_agreed" || code == "address_not_permitted" || code == "endpoint_removed":
		// Not agreed (any more): no retry; a dead letter, and the tenant
		// is told.
		ev.Outcome, ev.Code = Refused, code
		m.Status, m.NextAt = StatusDead, time.Time{}
		events = []Event{ev, {Time: now, Step: StepFailed, Outcome: Refused, Endpoint: m.EndpointID, Code: code}}
		if s.alerts != nil {
			s.alerts.DestinationRefused(context.WithoutCancel(ctx), m.TenantID, code)
		}
	default:
		ev.Outcome, ev.Code = Failure, code
		next := now.Add(max(backoff(n, rand.Float64), res.RetryAfter))
		if next.After(m.Deadline) {
			m.Status, m.NextAt = StatusDead, time.Time{}
			events = []Event{ev, {Time: now, Step: StepFailed, Outcome: Failure, Endpoint: m.EndpointID, Code: "retries_exhausted"}}
		} else {
			m.Status, m.NextAt = StatusQueued, next
			events = []Event{ev}
		}
	}
	if sendErr != nil {
		s.log.Warn("message delivery attempt failed", "message", m.ID, "endpoint", m.EndpointID, "attempt", n, "code", code, "error", sendErr)
	}
	// Every attempt is on the tenant's audit trail: data left, or tried to.
	actx, _ := audit.Begin(context.WithoutCancel(ctx), "message.deliver")
	audit.Detail(actx, "endpoint", m.EndpointID)
	audit.Detail(actx, "attempt", strconv.Itoa(n))
	audit.Detail(actx, "http_status", strconv.Itoa(res.Status))
	audit.Detail(actx, "status", m.Status)
	err := s.trail.Do(actx, audit.Description{TenantID: m.TenantID, ResourceType: "message", ResourceID: m.ID}, func(tx *store.Tx) error {
		if err := tx.SaveDelivery(actx, m, holder); err != nil {
			return err
		}
		return addEvents(actx, tx, m.TenantID, m.ID, events...)
	})
	if errors.Is(err, store.ErrConflict) {
		return m.Status, errors.New("the message's lease was lost, or it was acknowledged meanwhile; this attempt is not recorded")
	}
	return m.Status, err
}

// send makes the HTTP attempt; code classifies a failure.
func (s *Service) send(ctx context.Context, m store.MessageRow) (string, Result, error) {
	ep, err := s.db.Reader().Endpoint(ctx, m.TenantID, m.EndpointID)
	if errors.Is(err, store.ErrNotFound) {
		return "endpoint_removed", Result{}, errors.New("the endpoint was removed")
	}
	if err != nil {
		return "internal", Result{}, err
	}
	want := PurposeSend
	if m.Box == Inbox {
		want = PurposeInbox
	}
	if ep.State != EndpointApproved || ep.Purpose != want {
		return "destination_not_agreed", Result{}, errors.New("the endpoint is not approved for this")
	}
	// The tenant's residency pin may have changed since the message was
	// queued (ENV-2): every attempt, retry and resend checks it.
	if ok, err := s.regionAllowed(ctx, m.TenantID, ep.Region); err != nil {
		return "internal", Result{}, err
	} else if !ok {
		return "destination_not_agreed", Result{}, errors.New("the endpoint is outside the region the tenant's data must stay in")
	}
	cfg, err := s.openConfig(ctx, ep)
	if err != nil {
		return "internal", Result{}, err
	}
	secret, err := notify.ParseWebhookSecret(cfg.Secret)
	if err != nil {
		return "internal", Result{}, err
	}
	content, err := s.docs.ReadFile(ctx, m.TenantID, m.ID)
	if err != nil {
		return "internal", Result{}, err
	}
	body, err := io.ReadAll(io.LimitReader(content, s.maxSize+1))
	if err != nil {
		return "internal", Result{}, err
	}
	sender := m.TenantID
	if m.Box == Inbox && m.PeerKind == PeerTenant {
		sender = m.PeerID
	}
	h := http.Header{}
	h.Set("Valv-Message-Id", m.ID)
	h.Set("Valv-Document-Type", m.Type)
	h.Set("Valv-Sender", sender)
	actx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	res, err := s.sender.Send(actx, Delivery{
		Endpoint: Endpoint{ID: ep.ID, Version: ep.Version, URL: cfg.URL, ClientCertPEM: []byte(cfg.ClientCert),
			ClientKeyPEM: []byte(cfg.ClientKey), PinSHA256: cfg.Pin},
		ID: m.DeliveryID, Body: body, ContentType: content.ContentType, Secrets: [][]byte{secret}, Header: h,
	})
	switch {
	case err == nil:
		return "", res, nil
	case errors.Is(err, ErrNotPermitted):
		return "address_not_permitted", res, err
	case errors.Is(err, ErrStatus):
		return "http_status", res, err
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout", res, err
	}
	return "connection_failed", res, err
}
