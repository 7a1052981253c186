package message

import (
	"context"
	"errors"
	"io"
	"regexp"
	"strconv"
	"time"

	"github.com/valvhq/valv/internal/audit"
	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/document"
	"github.com/valvhq/valv/internal/notify"
	"github.com/valvhq/valv/internal/problem"
	"github.com/valvhq/valv/internal/store"
)

// Filter narrows a listing; empty fields do not filter.
type Filter struct {
	Box    string
	Status string
	Type   string
}

// MaxPage bounds a page of messages.
const MaxPage = 500

var idPattern = regexp.MustCompile(`^[0-9a-f-]{36}$`)

// List lists the tenant's messages, newest first. Operators name the
// tenant and need a messages grant.
func (s *Service) List(ctx context.Context, p authz.Principal, tenantParam string, f Filter, cursor string, limit int) ([]Message, string, error) {
	tenantID := tenantOf(p, tenantParam)
	if err := s.authorize(ctx, p, authz.MessageRead, authz.Resource{TenantID: tenantID}, "message"); err != nil {
		return nil, "", err
	}
	var fields []problem.FieldError
	switch f.Box {
	case "", Inbox, Outbox:
	default:
		fields = append(fields, problem.Field("box", "invalid_box", "box is inbox or outbox."))
	}
	switch f.Status {
	case "", StatusQueued, StatusDelivered, StatusReceived, StatusAcknowledged, StatusDead:
	default:
		fields = append(fields, problem.Field("status", "invalid_status", "status is queued, delivered, received, acknowledged or dead."))
	}
	if f.Type != "" && !document.ValidType(f.Type) {
		fields = append(fields, problem.Field("type", "invalid_type", "Not a document type."))
	}
	if cursor != "" && !idPattern.MatchString(cursor) {
		fields = append(fields, problem.Field("cursor", "invalid_cursor", "Use next_cursor from the previous page."))
	}
	if len(fields) > 0 {
		return nil, "", problem.Invalid("invalid_query", "The query is not valid; see the fields.", fields...)
	}
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, MaxPage)
	rows, err := s.db.Reader().Messages(ctx, tenantID, store.MessageFilter{Box: f.Box, Status: f.Status, Type: f.Type}, cursor, limit+1)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(rows) > limit {
		rows = rows[:limit]
		next = rows[limit-1].ID
	}
	out := make([]Message, len(rows))
	for i, r := range rows {
		out[i] = messageView(r)
	}
	audit.Detail(ctx, "count", strconv.Itoa(len(out)))
	return out, next, nil
}

func (s *Service) row(ctx context.Context, tenantID, id string) (store.MessageRow, error) {
	if !idPattern.MatchString(id) {
		return store.MessageRow{}, ErrNotFound
	}
	r, err := s.db.Reader().Message(ctx, tenantID, id)
	if errors.Is(err, store.ErrNotFound) {
		return r, ErrNotFound
	}
	return r, err
}

// Get returns one message with its data and transaction log.
func (s *Service) Get(ctx context.Context, p authz.Principal, tenantParam, id string) (Message, error) {
	tenantID := tenantOf(p, tenantParam)
	if err := s.authorize(ctx, p, authz.MessageRead, authz.Resource{TenantID: tenantID, ID: id}, "message"); err != nil {
		return Message{}, err
	}
	r, err := s.row(ctx, tenantID, id)
	if err != nil {
		return Message{}, err
	}
	m := messageView(r)
	doc, err := s.docs.ReadDocument(ctx, tenantID, id)
	if err != nil {
		return Message{}, err
	}
	m.Data, m.Payload = doc.Data, doc.File
	events, err := s.db.Reader().MessageEvents(ctx, tenantID, id)
	if err != nil {
		return Message{}, err
	}
	m.Log = make([]Event, len(events))
	for i, e := range events {
		m.Log[i] = eventView(e)
	}
	return m, nil
}

// Payload opens a message's payload as it was sent or received.
func (s *Service) Payload(ctx context.Context, p authz.Principal, tenantParam, id string) (document.Content, error) {
	tenantID := tenantOf(p, tenantParam)
	if err := s.authorize(ctx, p, authz.MessageRead, authz.Resource{TenantID: tenantID, ID: id}, "message"); err != nil {
		return document.Content{}, err
	}
	if _, err := s.row(ctx, tenantID, id); err != nil {
		return document.Content{}, err
	}
	return s.docs.ReadFile(ctx, tenantID, id)
}

// Ack acknowledges a message in the inbox; the sender's copy (another
// tenant's) records the acknowledgement too. Acknowledging again changes
// nothing.
func (s *Service) Ack(ctx context.Context, p authz.Principal, id string) (Message, error) {
	tenantID := p.TenantID
	if err := s.authorize(ctx, p, authz.MessageAck, authz.Resource{TenantID: tenantID, ID: id}, "message"); err != nil {
		return Message{}, err
	}
	r, err := s.row(ctx, tenantID, id)
	if err != nil {
		return Message{}, err
	}
	if r.Box != Inbox {
		return Message{}, problem.Conflict("not_in_inbox", "Only a received message can be acknowledged.")
	}
	if r.Status == StatusAcknowledged {
		return messageView(r), nil
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	r.Status, r.UpdatedAt = StatusAcknowledged, now
	ev := Event{Time: now, Step: StepAcknowledged, Outcome: OK}
	if r.PeerKind == PeerTenant && r.PeerMessage != "" {
		audit.Also(ctx, audit.Entry{TenantID: r.PeerID, ActorType: "system", ActorID: "messages", Action: "message.acknowledged",
			ResourceType: "message", ResourceID: r.PeerMessage, Outcome: audit.Success, Status: 200,
			Details: map[string]string{"recipient_tenant": tenantID}})
	}
	err = s.trail.Do(ctx, audit.Description{TenantID: tenantID, ResourceType: "message", ResourceID: id}, func(tx *store.Tx) error {
		// A pushed message stays pushed; acknowledging ends its retries.
		r.NextAt = time.Time{}
		ok, err := tx.SetMessageStatus(ctx, r, StatusReceived, StatusDelivered, StatusQueued, StatusDead)
		if err != nil {
			return err
		}
		if !ok {
			return problem.Conflict("message_changed", "The message changed meanwhile; read it again.")
		}
		if err := addEvents(ctx, tx, tenantID, id, ev); err != nil {
			return err
		}
		if r.PeerKind == PeerTenant && r.PeerMessage != "" {
			peer, err := tx.Message(ctx, r.PeerID, r.PeerMessage)
			if errors.Is(err, store.ErrNotFound) {
				return nil // the sender's copy is gone (culled, erased)
			}
			if err != nil {
				return err
			}
			peer.Status, peer.UpdatedAt = StatusAcknowledged, now
			if _, err := tx.SetMessageStatus(ctx, peer, StatusDelivered); err != nil {
				return err
			}
			return addEvents(ctx, tx, r.PeerID, r.PeerMessage, ev)
		}
		return nil
	})
	if err != nil {
		return Message{}, err
	}
	return messageView(r), nil
}

// Resend queues a dead letter again, with a fresh retry period; the
// delivery id stays, so a receiver that got it before drops it.
func (s *Service) Resend(ctx context.Context, p authz.Principal, id string) (Message, error) {
	tenantID := p.TenantID
	if err := s.authorize(ctx, p, authz.MessageResend, authz.Resource{TenantID: tenantID, ID: id}, "message"); err != nil {
		return Message{}, err
	}
	r, err := s.row(ctx, tenantID, id)
	if err != nil {
		return Message{}, err
	}
	if r.Status != StatusDead || r.EndpointID == "" {
		return Message{}, problem.Conflict("not_a_dead_letter", "Only a message whose delivery gave up can be sent again.")
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	r.Status, r.Attempts, r.NextAt, r.Deadline, r.UpdatedAt = StatusQueued, 0, now, now.Add(s.retryFor), now
	err = s.trail.Do(ctx, audit.Description{TenantID: tenantID, ResourceType: "message", ResourceID: id}, func(tx *store.Tx) error {
		ok, err := tx.SetMessageStatus(ctx, r, StatusDead)
		if err != nil {
			return err
		}
		if !ok {
			return problem.Conflict("not_a_dead_letter", "Only a message whose delivery gave up can be sent again.")
		}
		return addEvents(ctx, tx, tenantID, id, Event{Time: now, Step: StepResent, Outcome: OK, Endpoint: r.EndpointID})
	})
	if err != nil {
		return Message{}, err
	}
	s.kick()
	return messageView(r), nil
}

// Inbound is a message a partner delivers.
type Inbound struct {
	Type        string
	ContentType string
	// DeliveryID is the partner's id of the message (its webhook-id or
	// Idempotency-Key): a second delivery with the same id is the same
	// message.
	DeliveryID   string
	DocumentDate string
	Body         io.Reader
}

var deliveryIDPattern = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,128}$`)

// Receive stores a message a partner delivers into the caller's tenant's
// inbox (API keys with messages:receive): scanned for malware, converted
// to data with the tenant's converter for the type, and logged. It
// reports whether the message was new (false: the same delivery id came
// before, and that message is returned).
func (s *Service) Receive(ctx context.Context, p authz.Principal, in Inbound) (Message, bool, error) {
	tenantID := p.TenantID
	if err := s.authorize(ctx, p, authz.MessageReceive, authz.Resource{TenantID: tenantID, DocType: in.Type}, "message"); err != nil {
		return Message{}, false, err
	}
	var fields []problem.FieldError
	if !document.ValidType(in.Type) {
		fields = append(fields, problem.Field("type", "invalid_type", "Name the document type (?type=) in 1 to 64 lower-case letters, digits, '_', '.' or '-'."))
	}
	if in.DeliveryID != "" && !deliveryIDPattern.MatchString(in.DeliveryID) {
		fields = append(fields, problem.Field("Idempotency-Key", "invalid_delivery_id", "A delivery id is 1 to 128 letters, digits, '_', '.', ':' or '-'."))
	}
	if len(fields) > 0 {
		return Message{}, false, problem.Invalid("invalid_message", "The message is not valid; see the fields.", fields...)
	}
	if in.DeliveryID != "" {
		if m, ok, err := s.byDelivery(ctx, tenantID, p.ID, in.DeliveryID); err != nil || ok {
			return m, false, err
		}
	}
	payload, err := io.ReadAll(io.LimitReader(in.Body, s.maxSize+1))
	if err != nil {
		return Message{}, false, problem.Wrap(err, problem.KindInvalid, "upload_incomplete", "The message could not be read to its end; send it again.")
	}
	if int64(len(payload)) > s.maxSize {
		return Message{}, false, problem.New(problem.KindTooLarge, "message_too_large", "The message is larger than this server accepts ("+strconv.FormatInt(s.maxSize, 10)+" bytes).")
	}
	if len(payload) == 0 {
		return Message{}, false, problem.Invalid("empty_message", "The message is empty.")
	}
	deliveryID := in.DeliveryID
	if deliveryID == "" {
		if deliveryID, err = notify.NewWebhookID(nil); err != nil {
			return Message{}, false, err
		}
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	c, err := s.prepareInbox(ctx, tenantID, p, SendRequest{Type: in.Type, DocumentDate: in.DocumentDate},
		outgoing{payload: payload, contentType: in.ContentType}, deliveryID, PeerPartner, p.ID, now)
	if err != nil {
		return Message{}, false, err
	}
	audit.Detail(ctx, "type", in.Type)
	err = s.trail.Do(ctx, audit.Description{TenantID: tenantID, ResourceType: "message", ResourceID: c.row.ID}, func(tx *store.Tx) error {
		return c.insert(ctx, tx)
	})
	if err != nil {
		s.docs.Discard(ctx, c.draft)
		if errors.Is(err, store.ErrConflict) && in.DeliveryID != "" {
			m, _, err := s.byDelivery(ctx, tenantID, p.ID, in.DeliveryID)
			return m, false, err
		}
		return Message{}, false, err
	}
	if !c.row.NextAt.IsZero() {
		s.kick()
	}
	return messageView(c.row), true, nil
}

func (s *Service) byDelivery(ctx context.Context, tenantID, partner, deliveryID string) (Message, bool, error) {
	r, err := s.db.Reader().MessageByDelivery(ctx, tenantID, PeerPartner, partner, deliveryID)
	if errors.Is(err, store.ErrNotFound) {
		return Message{}, false, nil
	}
	if err != nil {
		return Message{}, false, err
	}
	return messageView(r), true, nil
}
