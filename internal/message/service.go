package message

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/valvhq/valv/internal/audit"
	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/document"
	"github.com/valvhq/valv/internal/einvoice"
	"github.com/valvhq/valv/internal/problem"
	"github.com/valvhq/valv/internal/seal"
	"github.com/valvhq/valv/internal/store"
)

// Keys hands out a tenant's sealer (the keyring).
type Keys interface {
	Sealer(ctx context.Context, tenant string) (*seal.Sealer, error)
}

// Trail writes the audit trail.
type Trail interface {
	Do(ctx context.Context, d audit.Description, fn func(tx *store.Tx) error) error
}

// Alerts tells a tenant's security contact about refused transfers.
type Alerts interface {
	DestinationRefused(ctx context.Context, tenantID, code string)
}

// Pins reads a tenant's data-residency pin (eu-eea, se or none; ENV-2).
type Pins interface {
	Pin(ctx context.Context, tenantID string) (string, error)
}

// Sender makes one delivery attempt (Transport).
type Sender interface {
	Send(ctx context.Context, d Delivery) (Result, error)
}

// Defaults of Options.
const (
	DefaultRetryFor = 72 * time.Hour
	DefaultTimeout  = 30 * time.Second
	DefaultWorkers  = 8
	DefaultMaxSize  = 10 << 20
)

// Options configures the message service.
type Options struct {
	DB        *store.DB
	Keys      Keys
	Trail     Trail
	Documents *document.Service
	Alerts    Alerts
	Sender    Sender
	// Node names this node in delivery leases.
	Node string
	// RetryFor is how long deliveries are retried (DefaultRetryFor).
	RetryFor time.Duration
	// Timeout bounds one attempt; the lease on a message is longer.
	Timeout time.Duration
	// Workers is how many deliveries Deliver makes at once.
	Workers int
	// MaxSize bounds a payload, sent or received.
	MaxSize int64
	// Kick, when set, is called after a message is queued, so that it is
	// delivered at once rather than at the next poll.
	Kick func()
	// Pins, when set, holds endpoints to the tenant's residency pin.
	Pins   Pins
	Logger *slog.Logger
	Now    func() time.Time
}

// Service is messages: endpoints, sending, receiving, delivery, logs.
type Service struct {
	db       *store.DB
	keys     Keys
	trail    Trail
	docs     *document.Service
	alerts   Alerts
	sender   Sender
	node     string
	retryFor time.Duration
	timeout  time.Duration
	workers  int
	maxSize  int64
	kick     func()
	pins     Pins
	log      *slog.Logger
	now      func() time.Time
}

// New builds the message service.
func New(o Options) *Service {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.RetryFor <= 0 {
		o.RetryFor = DefaultRetryFor
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Workers <= 0 {
		o.Workers = DefaultWorkers
	}
	if o.MaxSize <= 0 {
		o.MaxSize = DefaultMaxSize
	}
	if o.Kick == nil {
		o.Kick = func() {}
	}
	if o.Node == "" {
		o.Node = "node"
	}
	return &Service{db: o.DB, keys: o.Keys, trail: o.Trail, docs: o.Documents, alerts: o.Alerts, sender: o.Sender, node: o.Node,
		retryFor: o.RetryFor, timeout: o.Timeout, workers: o.Workers, maxSize: o.MaxSize, kick: o.Kick, pins: o.Pins, log: o.Logger, now: o.Now}
}

// Boxes, peers and states.
const (
	Outbox = "outbox"
	Inbox  = "inbox"

	PeerTenant   = "tenant"
	PeerEndpoint = "endpoint"
	PeerPartner  = "partner"

	// StatusQueued: waiting for (another) delivery attempt.
	StatusQueued = "queued"
	// StatusDelivered: the endpoint accepted it (2xx), or it is in the
	// recipient tenant's inbox.
	StatusDelivered = "delivered"
	// StatusReceived: in the inbox, not yet acknowledged.
	StatusReceived = "received"
	// StatusAcknowledged: the recipient acknowledged it.
	StatusAcknowledged = "acknowledged"
	// StatusDead: delivery gave up (retries ran out, or it was refused);
	// a dead letter can be sent again.
	StatusDead = "dead"
)

// Problems.
var (
	ErrNotFound = problem.NotFound("message_not_found", "No such message.")
	// ErrNotAgreed is a destination that is not an approved endpoint of the
	// tenant for sending (MSG-2).
	ErrNotAgreed       = problem.Forbidden("destination_not_agreed", "Messages go only to another organisation on this platform or to an endpoint your organisation registered and the platform approved.")
	errUnauthenticated = problem.New(problem.KindUnauthenticated, "unauthenticated", "Log in first.")
	errForbidden       = problem.Forbidden("forbidden", "You do not have permission to do this.")
)

// authorize decides whether p may do a to a resource of tenantID.
func (s *Service) authorize(ctx context.Context, p authz.Principal, a authz.Action, r authz.Resource, resType string) error {
	if p.Kind == authz.Anonymous {
		return errUnauthenticated
	}
	audit.Describe(ctx, audit.Description{TenantID: r.TenantID, ResourceType: resType, ResourceID: r.ID})
	d := authz.Decide(p, a, r, s.now())
	audit.Decision(ctx, d)
	if !d.Allowed {
		return errForbidden
	}
	return nil
}

// tenantOf is the tenant a principal's calls act in; operators reach a
// tenant's messages only under a messages grant, which names it.
func tenantOf(p authz.Principal, tenantParam string) string {
	if p.Kind == authz.Operator {
		return tenantParam
	}
	return p.TenantID
}

// Event is one step of a message's transaction log (MSG-3).
type Event struct {
	Seq     int64     `json:"seq"`
	Time    time.Time `json:"time"`
	Step    string    `json:"step"`
	Outcome string    `json:"outcome"`
	// Attempt, Endpoint, Status and LatencyMS describe a delivery attempt.
	Attempt   int    `json:"attempt,omitempty"`
	Endpoint  string `json:"endpoint,omitempty"`
	Status    int    `json:"status,omitempty"`
	LatencyMS int64  `json:"latency_ms,omitempty"`
	// Code says what went wrong (a stable code), or what was done.
	Code string `json:"code,omitempty"`
	// Converter is the converter a conversion used.
	Converter string `json:"converter,omitempty"`
}

// Steps of the log.
const (
	StepReceived     = "received"
	StepValidated    = "validated"
	StepScanned      = "scanned"
	StepConverted    = "converted"
	StepStored       = "stored"
	StepQueued       = "queued"
	StepAttempt      = "attempt"
	StepDelivered    = "delivered"
	StepAcknowledged = "acknowledged"
	StepFailed       = "failed"
	StepResent       = "resent"
)

// Outcomes of steps.
const (
	OK      = "ok"
	Failure = "failed"
	Refused = "refused"
)

// eventRow turns an event into its row.
func eventRow(tenantID, messageID string, e Event) store.MessageEventRow {
	detail := struct {
		Attempt   int    `json:"attempt,omitempty"`
		Endpoint  string `json:"endpoint,omitempty"`
		Status    int    `json:"status,omitempty"`
		LatencyMS int64  `json:"latency_ms,omitempty"`
		Code      string `json:"code,omitempty"`
		Converter string `json:"converter,omitempty"`
	}{e.Attempt, e.Endpoint, e.Status, e.LatencyMS, e.Code, e.Converter}
	raw, _ := json.Marshal(detail)
	return store.MessageEventRow{TenantID: tenantID, MessageID: messageID, Time: e.Time.UTC(), Step: e.Step, Outcome: e.Outcome, Detail: string(raw)}
}

func eventView(r store.MessageEventRow) Event {
	e := Event{Seq: r.Seq, Time: r.Time, Step: r.Step, Outcome: r.Outcome}
	_ = json.Unmarshal([]byte(r.Detail), &e)
	e.Seq, e.Time, e.Step, e.Outcome = r.Seq, r.Time, r.Step, r.Outcome
	return e
}

// addEvents appends events to a message's log in tx.
func addEvents(ctx context.Context, tx *store.Tx, tenantID, messageID string, events ...Event) error {
	for _, e := range events {
		if err := tx.AddMessageEvent(ctx, eventRow(tenantID, messageID, e)); err != nil {
			return err
		}
	}
	return nil
}

// MaxSize is the bound on a payload.
func (s *Service) MaxSize() int64 { return s.maxSize }

// Converters lists the converters a document type can use.
func (s *Service) Converters() []string { return einvoice.Names() }
