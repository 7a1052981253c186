package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/valvhq/valv/internal/audit"
	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/problem"
)

func (a *API) auditRoutes() []Route {
	t := func(r Route) Route { return r.tag("audit") }
	tenantParam := Param{Name: "tenant", Type: "string", Description: "Operators: a tenant's id (under an audit access grant), or 'platform' (the default) for the platform's own chain. Users read their own tenant's."}
	filter := []Param{
		tenantParam,
		{Name: "from", Type: "date-time", Description: "entries at or after this time"},
		{Name: "to", Type: "date-time", Description: "entries before this time"},
		{Name: "actor_type", Type: "string", Description: "user, operator, api_key, system or anonymous"},
		{Name: "actor_id", Type: "string", Description: "an account or API key id"},
		{Name: "action", Type: "string", Description: "an action (document.read), or a prefix ending in a dot (document.)"},
		{Name: "resource_type", Type: "string", Description: "the kind of resource acted on"},
		{Name: "resource_id", Type: "string", Description: "the id of the resource acted on"},
		{Name: "outcome", Type: "string", Description: "success, denied, failed or error"},
		{Name: "request_id", Type: "string", Description: "the X-Request-Id of a call"},
	}
	paging := []Param{{Name: "cursor", Type: "string", Description: "next_cursor of the previous page"}, {Name: "limit", Type: "integer", Description: "1 to 500 (default 100)"}}
	return []Route{
		a.route("GET", "/api/v1/audit", "audit.read", Session, 200, "Your organisation's audit trail, newest first (owners and auditors)", a.listAudit).with(t).query(filter...).query(paging...).returns(page[audit.View]{}),
		a.route("GET", "/api/v1/audit/export", "audit.export", Session, 200, "Export the audit trail as JSON lines, oldest first (owners and auditors)", a.exportAudit).with(t).query(filter...).produces("application/x-ndjson").returns(audit.View{}),
		a.route("GET", "/api/v1/audit/entries/{seq}", "audit.entry.read", Session, 200, "One audit entry, with its client's address and agent and the reason given (owners and auditors)", a.getAuditEntry).with(t).query(tenantParam).returns(audit.View{}),
		a.route("GET", "/api/v1/audit/checkpoints", "audit.checkpoints.read", Session, 200, "The chain's signed checkpoints, to keep outside Valv", a.auditCheckpoints).with(t).query(tenantParam).returns([]audit.Checkpoint{}),
		a.route("GET", "/api/v1/audit/proofs/inclusion", "audit.proof.read", Session, 200, "Proof that an entry is in the tree of a checkpoint", a.inclusionProof).with(t).query(tenantParam,
			Param{Name: "seq", Type: "integer", Description: "the entry's number"},
			Param{Name: "size", Type: "integer", Description: "the checkpoint's size (default: the newest)"}).returns(audit.Inclusion{}),
		a.route("GET", "/api/v1/audit/proofs/consistency", "audit.proof.read", Session, 200, "Proof that an older checkpoint's tree is a prefix of a newer one's", a.consistencyProof).with(t).query(tenantParam,
			Param{Name: "size1", Type: "integer", Description: "the older checkpoint's size"},
			Param{Name: "size2", Type: "integer", Description: "the newer checkpoint's size"}).returns(audit.Consistency{}),
		a.route("GET", "/api/v1/audit/key", "audit.key.read", Session, 200, "The keys that sign checkpoints, in signed-note verifier format", a.auditKey).with(t).query(tenantParam).returns(auditKeys{}),
		a.route("GET", "/api/v1/audit/history", "audit.history.read", Session, 200, "Your organisation's payload history, newest first (owners and admins)", a.payloadHistory).with(t).query(
			Param{Name: "resource_type", Type: "string", Description: "only payloads about resources of this kind"},
			Param{Name: "resource_id", Type: "string", Description: "only payloads about this resource"}).query(paging...).returns(page[audit.KeptPayload]{}),
	}
}

type auditKeys struct {
	Keys []string `json:"keys"`
}

// auditFilter reads the filter parameters.
func auditFilter(r *http.Request) (audit.Filter, error) {
	q := r.URL.Query()
	f := audit.Filter{ActorType: q.Get("actor_type"), ActorID: q.Get("actor_id"), Action: q.Get("action"),
		ResourceType: q.Get("resource_type"), ResourceID: q.Get("resource_id"), Outcome: q.Get("outcome"), RequestID: q.Get("request_id")}
	for name, dst := range map[string]*time.Time{"from": &f.From, "to": &f.To} {
		if s := q.Get(name); s != "" {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return f, problem.Invalid("invalid_time", "A time is not in RFC 3339 form.", problem.Field("/"+name, "invalid_time", "Use e.g. 2026-11-22T09:00:00Z."))
			}
			*dst = t
		}
	}
	return f, nil
}

func (a *API) openChain(r *http.Request) (*audit.ChainReader, error) {
	return a.trail.Open(r.Context(), authz.PrincipalFrom(r.Context()), r.URL.Query().Get("tenant"))
}

func (a *API) listAudit(w http.ResponseWriter, r *http.Request) error {
	f, err := auditFilter(r)
	if err != nil {
		return err
	}
	cursor, limit, err := pageParams(r)
	if err != nil {
		return err
	}
	c, err := a.openChain(r)
	if err != nil {
		return err
	}
	items, next, err := c.Query(r.Context(), f, cursor, limit)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, page[audit.View]{Items: items, NextCursor: next})
}

func (a *API) exportAudit(w http.ResponseWriter, r *http.Request) error {
	f, err := auditFilter(r)
	if err != nil {
		return err
	}
	c, err := a.openChain(r)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Disposition", `attachment; filename="audit-`+c.Chain()+`.jsonl"`)
	w.WriteHeader(http.StatusOK)
	if _, err := c.Export(r.Context(), f, w); err != nil {
		// The status is out: the export ends early, and the log says why.
		a.log.Error("audit export ended early", "error", err)
	}
	return nil
}

func intParam(r *http.Request, name string, def int64) (int64, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, problem.Invalid("invalid_"+name, name+" is a whole number, 0 or more.", problem.Field("/"+name, "invalid_number", "Use a whole number."))
	}
	return n, nil
}

func (a *API) getAuditEntry(w http.ResponseWriter, r *http.Request) error {
	seq, err := strconv.ParseInt(r.PathValue("seq"), 10, 64)
	if err != nil || seq < 0 {
		return problem.NotFound("audit_entry_not_found", "No such audit entry.")
	}
	c, err := a.openChain(r)
	if err != nil {
		return err
	}
	v, err := c.Entry(r.Context(), seq)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, v)
}

func (a *API) auditCheckpoints(w http.ResponseWriter, r *http.Request) error {
	c, err := a.openChain(r)
	if err != nil {
		return err
	}
	cps, err := c.Checkpoints(r.Context())
	if err != nil {
		return err
	}
	if cps == nil {
		cps = []audit.Checkpoint{}
	}
	return writeJSON(w, http.StatusOK, cps)
}

func (a *API) inclusionProof(w http.ResponseWriter, r *http.Request) error {
	if r.URL.Query().Get("seq") == "" {
		return problem.Invalid("missing_seq", "Say which entry: seq.", problem.Field("/seq", "required", "Add ?seq=N."))
	}
	seq, err := intParam(r, "seq", 0)
	if err != nil {
		return err
	}
	size, err := intParam(r, "size", 0)
	if err != nil {
		return err
	}
	c, err := a.openChain(r)
	if err != nil {
		return err
	}
	p, err := c.Inclusion(r.Context(), seq, size)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, p)
}

func (a *API) consistencyProof(w http.ResponseWriter, r *http.Request) error {
	size1, err := intParam(r, "size1", 0)
	if err != nil {
		return err
	}
	size2, err := intParam(r, "size2", 0)
	if err != nil {
		return err
	}
	c, err := a.openChain(r)
	if err != nil {
		return err
	}
	p, err := c.Consistency(r.Context(), size1, size2)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, p)
}

func (a *API) auditKey(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.openChain(r); err != nil {
		return err
	}
	keys, err := a.trail.VerifierKeys(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, auditKeys{Keys: keys})
}

func (a *API) payloadHistory(w http.ResponseWriter, r *http.Request) error {
	cursor, limit, err := pageParams(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	items, next, err := a.trail.HistoryFor(r.Context(), authz.PrincipalFrom(r.Context()), q.Get("resource_type"), q.Get("resource_id"), cursor, limit)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, page[audit.KeptPayload]{Items: items, NextCursor: next})
}
