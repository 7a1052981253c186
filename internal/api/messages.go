package api

import (
	"io"
	"net/http"
	"strconv"

	"github.com/valvhq/valv/internal/auth"
	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/message"
	"github.com/valvhq/valv/internal/notify"
)

// Messages (MSG-1..4): sending to another organisation's inbox or an
// agreed endpoint, the inbox and outbox with transaction logs, partners'
// deliveries, and the endpoints with their approval by an operator.
func (a *API) messageRoutes() []Route {
	t := func(r Route) Route { return r.tag("messages") }
	var maxSize int64 = message.DefaultMaxSize
	if a.msgs != nil {
		maxSize = a.msgs.MaxSize()
	}
	tenantParam := Param{Name: "tenant", Type: "string", Description: "operators under a messages access grant: the tenant's id"}
	inbound := a.route("POST", "/api/v1/messages/inbound", "message.receive", Session, 201,
		"A partner delivers a message into your inbox (API keys with messages:receive). The body is the payload as is (Content-Type says what it is); ?type= names the document type; Idempotency-Key or webhook-id makes a retry safe (200 with the first message).",
		a.receiveMessage).with(t).query(Param{Name: "type", Type: "string", Description: "the document type"},
		Param{Name: "document_date", Type: "string", Description: "YYYY-MM-DD (default today)"}).returns(message.Message{})
	inbound.MaxBody, inbound.ReadTimeout = maxSize+1<<10, uploadTimeout
	inbound = inbound.rawBody(nil)
	payload := a.route("GET", "/api/v1/messages/{id}/payload", "message.payload.read", Session, 200,
		"A message's payload as sent or received", a.messagePayload).with(t).query(tenantParam).produces("application/octet-stream").returns([]byte{})
	payload.WriteTimeout = uploadTimeout
	return []Route{
		a.route("POST", "/api/v1/messages", "message.send", Session, 201,
			"Send a message to another organisation on this platform (to.tenant: its short name) or to an approved endpoint (to.endpoint). The type's converter makes the payload from data; anything else is refused (destination_not_agreed).",
			a.sendMessage).with(t).body(message.SendRequest{}).returns(message.Message{}),
		a.route("GET", "/api/v1/messages", "message.list", Session, 200, "Your messages, newest first: the inbox (box=inbox), the outbox, dead letters (status=dead)", a.listMessages).with(t).
			query(Param{Name: "box", Type: "string", Description: "inbox or outbox"},
				Param{Name: "status", Type: "string", Description: "queued, delivered, received, acknowledged or dead"},
				Param{Name: "type", Type: "string", Description: "only messages of this document type"},
				Param{Name: "cursor", Type: "string", Description: "next_cursor of the previous page"},
				Param{Name: "limit", Type: "integer", Description: "1 to 500 (default 50)"}, tenantParam).
			returns(page[message.Message]{}),
		inbound,
		a.route("GET", "/api/v1/messages/{id}", "message.read", Session, 200, "A message with its data and transaction log", a.getMessage).with(t).query(tenantParam).returns(message.Message{}),
		payload,
		a.route("POST", "/api/v1/messages/{id}/ack", "message.ack", Session, 200,
			"Acknowledge a received message (the sender sees it acknowledged)", a.ackMessage).with(t).returns(message.Message{}),
		a.route("POST", "/api/v1/messages/{id}/resend", "message.resend", Session, 200,
			"Send a dead letter again, with a new retry period and the same delivery id", a.resendMessage).with(t).returns(message.Message{}),
		a.route("GET", "/api/v1/message-endpoints", "message.endpoint.list", Session, 200, "Your organisation's external endpoints and their approval", a.listEndpoints).with(t).returns([]message.EndpointView{}),
		a.route("POST", "/api/v1/message-endpoints", "message.endpoint.create", Session, 201,
			"Register an external endpoint (owners and admins). Nothing is sent to it until a platform operator approves it. The signing secret is shown once.",
			a.createEndpoint).with(t).body(message.EndpointInput{}).returns(message.Registered{}),
		a.route("GET", "/api/v1/message-endpoints/{id}", "message.endpoint.read", Session, 200, "One endpoint", a.getEndpoint).with(t).returns(message.EndpointView{}),
		a.route("DELETE", "/api/v1/message-endpoints/{id}", "message.endpoint.delete", Session, 204,
			"Remove an endpoint; messages still queued for it become dead letters", a.deleteEndpoint).with(t),
		a.route("GET", "/api/v1/endpoint-reviews", "message.endpoint.review.list", Session, 200,
			"Every organisation's endpoints, for operators: ?state=pending lists those waiting for a decision", a.reviewEndpoints).with(t).
			query(Param{Name: "state", Type: "string", Description: "pending, approved, denied or revoked"}).returns([]message.EndpointView{}),
		a.route("POST", "/api/v1/tenants/{tenant}/message-endpoints/{id}/decision", "message.endpoint.decide", Session, 200,
			"An operator approves or denies a pending endpoint, or revokes one, with a comment; the decision is of the version read", a.decideEndpoint).with(t).
			body(message.Decision{}).returns(message.EndpointView{}),
		a.route("GET", "/api/v1/converters", "message.converter.list", Session, 200,
			"The converters a document type can use (PUT /api/v1/document-types/{name} with converter)", a.listConverters).with(t).returns(converterList{}),
	}
}

type converterList struct {
	Converters []string `json:"converters"`
}

func (a *API) sendMessage(w http.ResponseWriter, r *http.Request) error {
	var req message.SendRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	m, err := a.msgs.Send(r.Context(), authz.PrincipalFrom(r.Context()), req)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, m)
}

func (a *API) listMessages(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, err := intParam(r, "limit", 50)
	if err != nil {
		return err
	}
	items, next, err := a.msgs.List(r.Context(), authz.PrincipalFrom(r.Context()), q.Get("tenant"),
		message.Filter{Box: q.Get("box"), Status: q.Get("status"), Type: q.Get("type")}, q.Get("cursor"), int(min(limit, message.MaxPage)))
	if err != nil {
		return err
	}
	if items == nil {
		items = []message.Message{}
	}
	return writeJSON(w, http.StatusOK, page[message.Message]{Items: items, NextCursor: next})
}

func (a *API) getMessage(w http.ResponseWriter, r *http.Request) error {
	m, err := a.msgs.Get(r.Context(), authz.PrincipalFrom(r.Context()), r.URL.Query().Get("tenant"), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, m)
}

func (a *API) messagePayload(w http.ResponseWriter, r *http.Request) error {
	c, err := a.msgs.Payload(r.Context(), authz.PrincipalFrom(r.Context()), r.URL.Query().Get("tenant"), r.PathValue("id"))
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", c.ContentType)
	h.Set("Content-Length", strconv.FormatInt(c.Size, 10))
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "sandbox; default-src 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(w, c.Reader); err != nil {
		a.log.Error("message payload download failed", "error", err)
		panic(http.ErrAbortHandler)
	}
	return nil
}

func (a *API) ackMessage(w http.ResponseWriter, r *http.Request) error {
	m, err := a.msgs.Ack(r.Context(), authz.PrincipalFrom(r.Context()), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, m)
}

func (a *API) resendMessage(w http.ResponseWriter, r *http.Request) error {
	m, err := a.msgs.Resend(r.Context(), authz.PrincipalFrom(r.Context()), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, m)
}

func (a *API) receiveMessage(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	id := r.Header.Get("Idempotency-Key")
	if id == "" {
		id = r.Header.Get(notify.HeaderWebhookID)
	}
	m, created, err := a.msgs.Receive(r.Context(), authz.PrincipalFrom(r.Context()), message.Inbound{Type: q.Get("type"),
		ContentType: r.Header.Get("Content-Type"), DeliveryID: id, DocumentDate: q.Get("document_date"), Body: bodyReader{r.Body}})
	if err != nil {
		return err
	}
	status := http.StatusCreated
	if !created {
		status = http.StatusOK
	}
	return writeJSON(w, status, m)
}

func (a *API) listEndpoints(w http.ResponseWriter, r *http.Request) error {
	eps, err := a.msgs.Endpoints(r.Context(), authz.PrincipalFrom(r.Context()))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, eps)
}

func (a *API) createEndpoint(w http.ResponseWriter, r *http.Request) error {
	var in message.EndpointInput
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	reg, err := a.msgs.RegisterEndpoint(r.Context(), authz.PrincipalFrom(r.Context()), in)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	return writeJSON(w, http.StatusCreated, reg)
}

func (a *API) getEndpoint(w http.ResponseWriter, r *http.Request) error {
	ep, err := a.msgs.GetEndpoint(r.Context(), authz.PrincipalFrom(r.Context()), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, ep)
}

func (a *API) deleteEndpoint(w http.ResponseWriter, r *http.Request) error {
	if err := a.msgs.DeleteEndpoint(r.Context(), authz.PrincipalFrom(r.Context()), r.PathValue("id")); err != nil {
		return err
	}
	return noContent(w)
}

func (a *API) reviewEndpoints(w http.ResponseWriter, r *http.Request) error {
	eps, err := a.msgs.PendingEndpoints(r.Context(), authz.PrincipalFrom(r.Context()), r.URL.Query().Get("state"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, eps)
}

func (a *API) decideEndpoint(w http.ResponseWriter, r *http.Request) error {
	var d message.Decision
	if err := decodeJSON(r, &d); err != nil {
		return err
	}
	ep, err := a.msgs.Decide(r.Context(), authz.PrincipalFrom(r.Context()), r.PathValue("tenant"), r.PathValue("id"), d)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, ep)
}

func (a *API) listConverters(w http.ResponseWriter, r *http.Request) error {
	if authz.PrincipalFrom(r.Context()).Kind == authz.Anonymous {
		return auth.ErrUnauthenticated
	}
	return writeJSON(w, http.StatusOK, converterList{Converters: a.msgs.Converters()})
}
