package api

import (
	"net/http"
	"strconv"

	"github.com/valvhq/valv/internal/archive"
	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/document"
	"github.com/valvhq/valv/internal/problem"
)

// Archives and retention (RET-1..5): the policy and its rules, legal
// holds, due reviews and reviewers' decisions, culling reports.
func (a *API) retentionRoutes() []Route {
	t := func(r Route) Route { return r.tag("retention") }
	return []Route{
		a.route("GET", "/api/v1/retention", "retention.read", Session, 200,
			"Your organisation's retention policy: the archive contract, the standard period, reviewers and rules", a.getRetention).with(t).returns(archive.PolicyView{}),
		a.route("PATCH", "/api/v1/retention", "retention.update", Session, 200,
			"Change the retention policy (the archive contract: owners only); affected documents are recomputed", a.patchRetention).with(t).body(archive.PolicyPatch{}).returns(archive.PolicyView{}),
		a.route("PUT", "/api/v1/retention/rules/{archive}", "retention.rule.put", Session, 200,
			"Keep an archive's documents, or one type's, longer: years (legal archive) or months. A rule never shortens the law's period.", a.putRule).with(t).body(archive.RuleInput{}).returns(archive.PolicyView{}),
		a.route("DELETE", "/api/v1/retention/rules/{archive}", "retention.rule.delete", Session, 204,
			"Remove a rule (?type= for a type's rule)", a.deleteRule).with(t).query(Param{Name: "type", Type: "string", Description: "the document type of the rule; empty for the archive's"}),
		a.route("GET", "/api/v1/retention/reports", "retention.report.list", Session, 200,
			"Culling reports: how many documents of each archive and type were culled, never their content", a.listReports).with(t).
			query(Param{Name: "cursor", Type: "string", Description: "next_cursor of the previous page"}, Param{Name: "limit", Type: "integer", Description: "1 to 200 (default 50)"}).
			returns(page[archive.Report]{}),
		a.route("GET", "/api/v1/retention/reports/{id}", "retention.report.read", Session, 200, "One culling report", a.getReport).with(t).returns(archive.Report{}),
		a.route("GET", "/api/v1/holds", "retention.hold.list", Session, 200, "Legal holds: active ones, or all with ?all=true", a.listHolds).with(t).
			query(Param{Name: "all", Type: "boolean", Description: "include lifted holds"}).returns([]archive.Hold{}),
		a.route("POST", "/api/v1/holds", "retention.hold.place", Session, 201,
			"Place a legal hold on a document, a type or a data subject: nothing it covers is culled or deleted until it is lifted", a.placeHold).with(t).body(archive.HoldRequest{}).returns(archive.Hold{}),
		a.route("DELETE", "/api/v1/holds/{id}", "retention.hold.lift", Session, 204, "Lift a legal hold", a.liftHold).with(t),
		a.route("GET", "/api/v1/reviews/due", "document.review.list", Session, 200, "Documents whose review date has come, newest first", a.dueReviews).with(t).
			query(Param{Name: "cursor", Type: "string", Description: "next_cursor of the previous page"}, Param{Name: "limit", Type: "integer", Description: "1 to 500 (default 100)"}).
			returns(page[document.Summary]{}),
		a.route("POST", "/api/v1/documents/{id}/review", "document.review", Session, 200,
			"A reviewer's decision on a due document: keep (with a new review_date), extend (keep_until) or delete. Send If-Match with the ETag you read.",
			a.reviewDocument).with(t).body(document.ReviewDecision{}).returns(document.Document{}),
	}
}

func (a *API) getRetention(w http.ResponseWriter, r *http.Request) error {
	v, err := a.archive.GetPolicy(r.Context(), authz.PrincipalFrom(r.Context()))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, v)
}

func (a *API) patchRetention(w http.ResponseWriter, r *http.Request) error {
	var p archive.PolicyPatch
	if err := decodeJSON(r, &p); err != nil {
		return err
	}
	v, err := a.archive.UpdatePolicy(r.Context(), authz.PrincipalFrom(r.Context()), p)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, v)
}

func (a *API) putRule(w http.ResponseWriter, r *http.Request) error {
	var in archive.RuleInput
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	v, err := a.archive.PutRule(r.Context(), authz.PrincipalFrom(r.Context()), r.PathValue("archive"), in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, v)
}

func (a *API) deleteRule(w http.ResponseWriter, r *http.Request) error {
	if err := a.archive.DeleteRule(r.Context(), authz.PrincipalFrom(r.Context()), r.PathValue("archive"), r.URL.Query().Get("type")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) listReports(w http.ResponseWriter, r *http.Request) error {
	cursor, limit, err := pageParams(r)
	if err != nil {
		return err
	}
	items, next, err := a.archive.Reports(r.Context(), authz.PrincipalFrom(r.Context()), cursor, limit)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, page[archive.Report]{Items: items, NextCursor: next})
}

func (a *API) getReport(w http.ResponseWriter, r *http.Request) error {
	v, err := a.archive.GetReport(r.Context(), authz.PrincipalFrom(r.Context()), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, v)
}

func (a *API) listHolds(w http.ResponseWriter, r *http.Request) error {
	all := false
	if s := r.URL.Query().Get("all"); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return problem.Invalid("invalid_query", "all is true or false.", problem.Field("/all", "invalid_bool", "Use true or false."))
		}
		all = b
	}
	hs, err := a.archive.Holds(r.Context(), authz.PrincipalFrom(r.Context()), all)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, hs)
}

func (a *API) placeHold(w http.ResponseWriter, r *http.Request) error {
	var req archive.HoldRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	h, err := a.archive.PlaceHold(r.Context(), authz.PrincipalFrom(r.Context()), req)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, h)
}

func (a *API) liftHold(w http.ResponseWriter, r *http.Request) error {
	if err := a.archive.LiftHold(r.Context(), authz.PrincipalFrom(r.Context()), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) dueReviews(w http.ResponseWriter, r *http.Request) error {
	cursor, limit, err := pageParams(r)
	if err != nil {
		return err
	}
	items, next, err := a.docs.List(r.Context(), authz.PrincipalFrom(r.Context()), document.Filter{ReviewDue: true}, cursor, limit)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, page[document.Summary]{Items: items, NextCursor: next})
}

func (a *API) reviewDocument(w http.ResponseWriter, r *http.Request) error {
	im, err := ifMatch(r)
	if err != nil {
		return err
	}
	var d document.ReviewDecision
	if err := decodeJSON(r, &d); err != nil {
		return err
	}
	d.IfMatch = im
	doc, err := a.docs.Review(r.Context(), authz.PrincipalFrom(r.Context()), r.PathValue("id"), d)
	if err != nil {
		return err
	}
	if doc == nil {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	w.Header().Set("ETag", document.ETag(doc.Version))
	return writeJSON(w, http.StatusOK, doc)
}
