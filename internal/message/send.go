package message

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/valvhq/valv/internal/audit"
	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/document"
	"github.com/valvhq/valv/internal/einvoice"
	"github.com/valvhq/valv/internal/notify"
	"github.com/valvhq/valv/internal/problem"
	"github.com/valvhq/valv/internal/store"
)

// Recipient names where a message goes: exactly one of Tenant (another
// organisation on this platform, by its slug) or Endpoint (the id of an
// approved endpoint of the sender). URL is never accepted: it is there so
// that a caller who tries gets a clear refusal.
type Recipient struct {
	Tenant   string `json:"tenant,omitempty"`
	Endpoint string `json:"endpoint,omitempty"`
	URL      string `json:"url,omitempty"`
}

// SendRequest is a message to send.
type SendRequest struct {
	To   Recipient `json:"to"`
	Type string    `json:"type"`
	// Data is the structured data (a JSON object). The type's converter
	// turns it into the payload; without one, the payload is the data.
	Data         json.RawMessage    `json:"data"`
	DocumentDate string             `json:"document_date,omitempty"`
	Subjects     []document.Subject `json:"subjects,omitempty"`
	Metadata     map[string]string  `json:"metadata,omitempty"`
}

// Party is the other side of a message.
type Party struct {
	Kind string `json:"kind"` // tenant, endpoint, partner
	ID   string `json:"id"`
}

// Message is a message as its readers see it.
type Message struct {
	ID     string `json:"id"`
	Box    string `json:"box"`
	Type   string `json:"type"`
	Status string `json:"status"`
	Peer   Party  `json:"peer"`
	// DeliveryID identifies the transfer on both sides and at the
	// receiver (webhook-id): the same on every attempt.
	DeliveryID    string     `json:"delivery_id"`
	Endpoint      string     `json:"endpoint,omitempty"`
	Attempts      int        `json:"attempts"`
	NextAttemptAt *time.Time `json:"next_attempt_at,omitempty"`
	RetryUntil    *time.Time `json:"retry_until,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
	// Data is the message's structured data (on reading one message).
	Data json.RawMessage `json:"data,omitempty"`
	// Payload describes the payload as sent or received.
	Payload *document.FileInfo `json:"payload,omitempty"`
	// Log is the transaction log (on reading one message).
	Log []Event `json:"log,omitempty"`
}

func messageView(r store.MessageRow) Message {
	m := Message{ID: r.ID, Box: r.Box, Type: r.Type, Status: r.Status, Peer: Party{Kind: r.PeerKind, ID: r.PeerID}, DeliveryID: r.DeliveryID,
		Endpoint: r.EndpointID, Attempts: r.Attempts, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	if !r.NextAt.IsZero() {
		t := r.NextAt
		m.NextAttemptAt = &t
	}
	if !r.Deadline.IsZero() {
		t := r.Deadline
		m.RetryUntil = &t
	}
	return m
}

// outgoing is a payload ready to store and send.
type outgoing struct {
	payload     []byte
	contentType string
	converter   string
}

// convertOut turns submitted data into the payload with the type's
// converter, or takes the data itself.
func (s *Service) convertOut(ctx context.Context, tenantID, typ string, data json.RawMessage) (outgoing, error) {
	name, err := s.docs.Converter(ctx, tenantID, typ)
	if err != nil {
		return outgoing{}, err
	}
	if name == "" {
		var compact bytes.Buffer
		if err := json.Compact(&compact, data); err != nil {
			return outgoing{}, problem.Invalid("invalid_message", "The data is not valid JSON.", problem.Field("/data", "invalid_json", "Send a JSON object."))
		}
		return outgoing{payload: compact.Bytes(), contentType: "application/json"}, nil
	}
	conv, ok := einvoice.Lookup(name)
	if !ok {
		return outgoing{}, problem.Invalid("unknown_converter", "The document type names a converter this server does not have.")
	}
	payload, ctype, err := conv.Outbound(data)
	if err != nil {
		return outgoing{}, prefixFields(err, "/data")
	}
	return outgoing{payload: payload, contentType: ctype, converter: name}, nil
}

// prefixFields makes a converter's field errors point into the request.
func prefixFields(err error, prefix string) error {
	pe, ok := problem.As(err)
	if !ok {
		return err
	}
	cp := *pe
	cp.Fields = make([]problem.FieldError, len(pe.Fields))
	for i, f := range pe.Fields {
		if len(f.Field) > 0 && f.Field[0] == '/' {
			f.Field = prefix + f.Field
		}
		cp.Fields[i] = f
	}
	return &cp
}

// convertIn turns a received payload into data with the recipient's
// converter for the type; without one, a JSON object payload is the data.
func (s *Service) convertIn(ctx context.Context, tenantID, typ string, payload []byte, contentType string) (json.RawMessage, string, error) {
	name, err := s.docs.Converter(ctx, tenantID, typ)
	if err != nil {
		return nil, "", err
	}
	if name == "" {
		t := bytes.TrimSpace(payload)
		if len(t) > 0 && t[0] == '{' && json.Valid(t) && len(t) <= document.MaxDataBytes {
			return json.RawMessage(t), "", nil
		}
		return nil, "", nil
	}
	conv, ok := einvoice.Lookup(name)
	if !ok {
		return nil, "", problem.Invalid("unknown_converter", "The document type names a converter this server does not have.")
	}
	data, err := conv.Inbound(payload)
	if err != nil {
		return nil, name, err
	}
	return data, name, nil
}

// payloadName is the file name a payload is stored under.
func payloadName(contentType string) string {
	switch contentType {
	case "application/xml":
		return "message.xml"
	case "application/json":
		return "message.json"
	}
	return "message.bin"
}

// Send sends a message: to another tenant's inbox at once, or through the
// outbox to an approved endpoint of the sender. Anything else is refused
// with destination_not_agreed, audited, and reported.
func (s *Service) Send(ctx context.Context, p authz.Principal, req SendRequest) (Message, error) {
	tenantID := p.TenantID
	if err := s.authorize(ctx, p, authz.MessageSend, authz.Resource{TenantID: tenantID, DocType: req.Type}, "message"); err != nil {
		return Message{}, err
	}
	to := req.To
	switch {
	case to.URL != "" || (to.Tenant == "") == (to.Endpoint == ""):
		return Message{}, s.refuse(ctx, tenantID, "not_an_endpoint")
	}
	if !document.ValidType(req.Type) {
		return Message{}, problem.Invalid("invalid_message", "The message is not valid; see the fields.",
			problem.Field("/type", "invalid_type", "A type is 1 to 64 lower-case letters, digits, '_', '.' or '-'."))
	}
	if t := bytes.TrimSpace(req.Data); len(t) == 0 || t[0] != '{' {
		return Message{}, problem.Invalid("invalid_message", "The message is not valid; see the fields.",
			problem.Field("/data", "not_an_object", "The data is a JSON object."))
	}
	var ep store.EndpointRow
	var recipient store.TenantRow
	if to.Endpoint != "" {
		var err error
		ep, err = s.db.Reader().Endpoint(ctx, tenantID, to.Endpoint)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return Message{}, s.refuse(ctx, tenantID, "unknown_endpoint")
		case err != nil:
			return Message{}, err
		case ep.State != EndpointApproved:
			return Message{}, s.refuse(ctx, tenantID, "endpoint_"+ep.State)
		case ep.Purpose != PurposeSend:
			return Message{}, s.refuse(ctx, tenantID, "endpoint_not_for_sending")
		}
		if err := s.checkRegion(ctx, tenantID, ep.Region); err != nil {
			// The tenant's pin changed after the endpoint was approved.
			return Message{}, err
		}
	} else {
		var err error
		recipient, err = s.db.Reader().TenantBySlug(ctx, to.Tenant)
		if errors.Is(err, store.ErrNotFound) || (err == nil && recipient.Status != "active") {
			return Message{}, problem.NotFound("recipient_not_found", "No active organisation has that name on this platform.")
		}
		if err != nil {
			return Message{}, err
		}
	}
	out, err := s.convertOut(ctx, tenantID, req.Type, req.Data)
	if err != nil {
		return Message{}, err
	}
	if int64(len(out.payload)) > s.maxSize {
		return Message{}, problem.New(problem.KindTooLarge, "message_too_large", "The message is larger than this server accepts ("+strconv.FormatInt(s.maxSize, 10)+" bytes).")
	}
	in := document.Input{Type: req.Type, Archive: document.ArchiveMessage, DocumentDate: req.DocumentDate, Data: req.Data,
		Subjects: req.Subjects, Metadata: req.Metadata}
	draft, err := s.docs.Prepare(ctx, tenantID, p, in, &document.Upload{Name: payloadName(out.contentType), ContentType: out.contentType,
		Body: bytes.NewReader(out.payload)})
	if err != nil {
		return Message{}, err
	}
	deliveryID, err := notify.NewWebhookID(nil)
	if err != nil {
		s.docs.Discard(ctx, draft)
		return Message{}, err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	steps := []Event{{Time: now, Step: StepValidated, Outcome: OK}}
	if out.converter != "" {
		steps = append(steps, Event{Time: now, Step: StepConverted, Outcome: OK, Converter: out.converter})
	}
	steps = append(steps, Event{Time: now, Step: StepScanned, Outcome: OK, Code: draft.File().Scanned}, Event{Time: now, Step: StepStored, Outcome: OK})
	row := store.MessageRow{TenantID: tenantID, ID: draft.ID(), Box: Outbox, Type: req.Type, DeliveryID: deliveryID, CreatedAt: now, UpdatedAt: now}
	audit.Detail(ctx, "type", req.Type)
	if to.Endpoint != "" {
		row.PeerKind, row.PeerID, row.EndpointID = PeerEndpoint, ep.ID, ep.ID
		row.Status, row.NextAt, row.Deadline = StatusQueued, now, now.Add(s.retryFor)
		steps = append(steps, Event{Time: now, Step: StepQueued, Outcome: OK, Endpoint: ep.ID})
		audit.Detail(ctx, "endpoint", ep.ID)
		err = s.trail.Do(ctx, audit.Description{TenantID: tenantID, ResourceType: "message", ResourceID: row.ID}, func(tx *store.Tx) error {
			if err := draft.Insert(ctx, tx); err != nil {
				return err
			}
			if err := tx.InsertMessage(ctx, row); err != nil {
				return err
			}
			return addEvents(ctx, tx, tenantID, row.ID, steps...)
		})
		if err != nil {
			s.docs.Discard(ctx, draft)
			return Message{}, err
		}
		s.kick()
		return messageView(row), nil
	}

	// Another tenant's inbox: its copy is stored in the same transaction.
	inbox, err := s.prepareInbox(ctx, recipient.ID, p, req, out, deliveryID, PeerTenant, tenantID, now)
	if err != nil {
		s.docs.Discard(ctx, draft)
		return Message{}, err
	}
	row.PeerKind, row.PeerID, row.PeerMessage, row.Status = PeerTenant, recipient.ID, inbox.row.ID, StatusDelivered
	inbox.row.PeerMessage = row.ID
	steps = append(steps, Event{Time: now, Step: StepDelivered, Outcome: OK, Code: "inbox"})
	audit.Detail(ctx, "recipient_tenant", recipient.ID)
	audit.Also(ctx, audit.Entry{TenantID: recipient.ID, ActorType: "system", ActorID: "messages", Action: "message.received",
		ResourceType: "message", ResourceID: inbox.row.ID, Outcome: audit.Success, Status: 201,
		Details: map[string]string{"sender_tenant": tenantID, "type": req.Type}})
	err = s.trail.Do(ctx, audit.Description{TenantID: tenantID, ResourceType: "message", ResourceID: row.ID}, func(tx *store.Tx) error {
		if err := draft.Insert(ctx, tx); err != nil {
			return err
		}
		if err := tx.InsertMessage(ctx, row); err != nil {
			return err
		}
		if err := addEvents(ctx, tx, tenantID, row.ID, steps...); err != nil {
			return err
		}
		return inbox.insert(ctx, tx)
	})
	if err != nil {
		s.docs.Discard(ctx, draft)
		s.docs.Discard(ctx, inbox.draft)
		return Message{}, err
	}
	if inbox.row.NextAt.After(time.Time{}) {
		s.kick()
	}
	return messageView(row), nil
}

// refuse reports and returns a refused destination (MSG-2).
func (s *Service) refuse(ctx context.Context, tenantID, code string) error {
	audit.Detail(ctx, "refused", code)
	s.log.Warn("message to a destination that is not agreed was refused", "tenant", tenantID, "code", code)
	if s.alerts != nil {
		s.alerts.DestinationRefused(context.WithoutCancel(ctx), tenantID, code)
	}
	return ErrNotAgreed
}

// inboxCopy is a received message ready to insert.
type inboxCopy struct {
	draft  *document.Draft
	row    store.MessageRow
	events []Event
}

func (c *inboxCopy) insert(ctx context.Context, tx *store.Tx) error {
	if err := c.draft.Insert(ctx, tx); err != nil {
		return err
	}
	if err := tx.InsertMessage(ctx, c.row); err != nil {
		return err
	}
	return addEvents(ctx, tx, c.row.TenantID, c.row.ID, c.events...)
}

// prepareInbox prepares a message received by tenantID: converted with
// its own converter for the type, scanned, sealed under its key, and
// queued for its push endpoint if it has an approved one.
func (s *Service) prepareInbox(ctx context.Context, tenantID string, actor authz.Principal, req SendRequest, out outgoing,
	deliveryID, peerKind, peerID string, now time.Time) (*inboxCopy, error) {
	events := []Event{{Time: now, Step: StepReceived, Outcome: OK}}
	data, conv, err := s.convertIn(ctx, tenantID, req.Type, out.payload, out.contentType)
	if err != nil {
		return nil, prefixFields(err, "/payload")
	}
	if conv != "" {
		events = append(events, Event{Time: now, Step: StepConverted, Outcome: OK, Converter: conv})
	}
	events = append(events, Event{Time: now, Step: StepValidated, Outcome: OK})
	in := document.Input{Type: req.Type, Archive: document.ArchiveMessage, DocumentDate: req.DocumentDate, Data: data,
		Subjects: req.Subjects, Metadata: req.Metadata}
	draft, err := s.docs.Prepare(ctx, tenantID, actor, in, &document.Upload{Name: payloadName(out.contentType), ContentType: out.contentType,
		Body: bytes.NewReader(out.payload)})
	if err != nil {
		return nil, err
	}
	events = append(events, Event{Time: now, Step: StepScanned, Outcome: OK, Code: draft.File().Scanned}, Event{Time: now, Step: StepStored, Outcome: OK})
	row := store.MessageRow{TenantID: tenantID, ID: draft.ID(), Box: Inbox, Type: req.Type, PeerKind: peerKind, PeerID: peerID,
		DeliveryID: deliveryID, Status: StatusReceived, CreatedAt: now, UpdatedAt: now}
	push, err := s.pushEndpoint(ctx, tenantID)
	if err != nil {
		s.docs.Discard(ctx, draft)
		return nil, err
	}
	if push != "" {
		row.EndpointID, row.Status, row.NextAt, row.Deadline = push, StatusQueued, now, now.Add(s.retryFor)
		events = append(events, Event{Time: now, Step: StepQueued, Outcome: OK, Endpoint: push})
	}
	return &inboxCopy{draft: draft, row: row, events: events}, nil
}

// pushEndpoint is the tenant's approved inbox endpoint ("" for none).
func (s *Service) pushEndpoint(ctx context.Context, tenantID string) (string, error) {
	rows, err := s.db.Reader().Endpoints(ctx, tenantID, EndpointApproved)
	if err != nil {
		return "", err
	}
	for _, r := range rows {
		if r.Purpose != PurposeInbox {
			continue
		}
		if ok, err := s.regionAllowed(ctx, tenantID, r.Region); err != nil || !ok {
			return "", err // outside the tenant's pin: nothing is pushed there
		}
		return r.ID, nil
	}
	return "", nil
}
