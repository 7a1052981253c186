package gdpr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/document"
	"github.com/valvhq/valv/internal/problem"
	"github.com/valvhq/valv/internal/store"
)

// BuildExtract collects everything the tenant holds about the subject (the
// identifiers and their blind tokens): the documents linked to any token
// through the subject index (no scan), every version of each, the payload
// history about them and the audit trail of who used them.
func (s *Service) BuildExtract(ctx context.Context, tenantID string, req RequestInfo, subjects []Identifier, tokens [][]byte) (*Extract, error) {
	t, err := s.db.Reader().Tenant(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("tenant: %w", err)
	}
	ex := &Extract{Schema: ExtractSchema, GeneratedAt: s.now().UTC(), Tenant: TenantInfo{ID: t.ID, Name: t.Name}, Request: req,
		Subjects: subjects, Documents: []Document{}, Messages: []Message{}, PayloadHistory: []Payload{}, Access: []Access{}}
	if ex.Subjects == nil {
		ex.Subjects = []Identifier{}
	}
	var ids []string
	for after := ""; ; {
		page, err := s.db.Reader().SubjectDocumentIDs(ctx, tenantID, tokens, after, 1000)
		if err != nil {
			return nil, err
		}
		ids = append(ids, page...)
		if len(page) < 1000 {
			break
		}
		after = page[len(page)-1]
	}
	for _, id := range ids {
		full, err := s.docs.FullDocument(ctx, tenantID, id)
		if errors.Is(err, document.ErrNotFound) {
			continue // erased meanwhile
		}
		if err != nil {
			return nil, err
		}
		ex.Documents = append(ex.Documents, extractDocument(full))
	}
	if err := s.collectMessages(ctx, ex, tenantID, ids); err != nil {
		return nil, fmt.Errorf("messages: %w", err)
	}
	hist, err := s.trail.ResourceHistory(ctx, tenantID, "document", ids)
	if err != nil {
		return nil, fmt.Errorf("payload history: %w", err)
	}
	for _, h := range hist {
		p := Payload{Time: h.Time, Action: h.Action, ResourceType: h.ResourceType, ResourceID: h.ResourceID, RequestID: h.RequestID}
		if json.Valid(h.Payload) {
			p.Payload = h.Payload
		} else {
			p.PayloadBase64 = h.Payload
		}
		ex.PayloadHistory = append(ex.PayloadHistory, p)
	}
	entries, err := s.trail.ResourceEntries(ctx, tenantID, "document", ids)
	if err != nil {
		return nil, fmt.Errorf("audit trail: %w", err)
	}
	if len(ex.Messages) > 0 {
		msgIDs := make([]string, len(ex.Messages))
		for i, m := range ex.Messages {
			msgIDs[i] = m.ID
		}
		more, err := s.trail.ResourceEntries(ctx, tenantID, "message", msgIDs)
		if err != nil {
			return nil, fmt.Errorf("audit trail: %w", err)
		}
		entries = append(entries, more...)
		sort.SliceStable(entries, func(i, j int) bool { return entries[i].Time.Before(entries[j].Time) })
	}
	for _, e := range entries {
		ex.Access = append(ex.Access, Access{Time: e.Time, ActorType: e.ActorType, ActorID: e.ActorID, Action: e.Action,
			ResourceType: e.ResourceType, ResourceID: e.ResourceID, Outcome: e.Outcome, Reason: e.Reason})
	}
	return ex, nil
}

// collectMessages adds the messages among the subject's documents, each
// with the other party: for an outbound message its recipient, for an
// inbound one its sender (and the tenant's own endpoint it was pushed to).
func (s *Service) collectMessages(ctx context.Context, ex *Extract, tenantID string, ids []string) error {
	var rows []store.MessageRow
	for i := 0; i < len(ids); i += 1000 {
		page, err := s.db.Reader().MessagesOf(ctx, tenantID, ids[i:min(i+1000, len(ids))])
		if err != nil {
			return err
		}
		rows = append(rows, page...)
	}
	names := map[string]string{}
	party := func(kind, id, owner string) string {
		key := kind + "/" + owner + "/" + id
		if n, ok := names[key]; ok {
			return n
		}
		n := kind + " " + id
		switch kind {
		case "tenant":
			if t, err := s.db.Reader().Tenant(ctx, id); err == nil {
				n = t.Name
			}
		case "endpoint":
			if e, err := s.db.Reader().Endpoint(ctx, owner, id); err == nil {
				n = e.Name + " (" + e.Host + ")"
			}
		case "partner":
			n = "API key " + id
		}
		names[key] = n
		return n
	}
	for _, r := range rows {
		m := Message{ID: r.ID, Time: r.CreatedAt, Direction: "outbound", Recipients: []string{party(r.PeerKind, r.PeerID, tenantID)}}
		if r.Box == "inbox" {
			m.Direction = "inbound"
			if r.EndpointID != "" {
				m.Recipients = append(m.Recipients, party("endpoint", r.EndpointID, tenantID))
			}
		}
		ex.Messages = append(ex.Messages, m)
	}
	return nil
}

func toIdentifiers(subs []document.Subject) []Identifier {
	out := make([]Identifier, 0, len(subs))
	for _, s := range subs {
		out = append(out, Identifier{Kind: s.Kind, Value: s.Value})
	}
	return out
}

func fileOf(info *document.FileInfo, id string) *File {
	if info == nil {
		return nil
	}
	return &File{ID: id, Name: info.Name, ContentType: info.ContentType, Size: info.Size}
}

func extractDocument(f document.Full) Document {
	d := Document{ID: f.ID, Type: f.Type, Archive: f.Archive, DocumentDate: f.DocumentDate, CreatedAt: f.CreatedAt, UpdatedAt: f.UpdatedAt,
		Restricted: f.Restricted != "", Version: f.Version, Data: f.Data, Metadata: f.Metadata, Subjects: toIdentifiers(f.Subjects),
		File: fileOf(f.File, f.FileID), Versions: []Version{}}
	if f.Retention != nil {
		d.RetainUntil, d.Basis = f.Retention.Until, f.Retention.Basis
	}
	for _, v := range f.Versions {
		changed := v.Changed
		if changed == nil {
			changed = []string{}
		}
		d.Versions = append(d.Versions, Version{Version: v.Version, Time: v.Time, ActorType: v.ActorType, ActorID: v.ActorID, Changed: changed,
			Data: v.Data, Metadata: v.Metadata, Subjects: toIdentifiers(v.Subjects), File: fileOf(v.File, v.FileID)})
	}
	return d
}

// Result opens a completed access or portability request's extract.
func (s *Service) Result(ctx context.Context, p authz.Principal, id string) (*Extract, error) {
	if err := s.authorize(ctx, p, authz.SubjectRequestRead, id); err != nil {
		return nil, err
	}
	return s.result(ctx, p.TenantID, id)
}

var errNoResult = problem.Conflict("no_result", "This request has no extract: it is not an access or portability request, it is not completed yet, or the subject has since been erased.")

func (s *Service) result(ctx context.Context, tenantID, id string) (*Extract, error) {
	row, err := s.db.Reader().SubjectRequest(ctx, tenantID, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if len(row.Result) == 0 || row.Status != StatusCompleted {
		return nil, errNoResult
	}
	sealer, err := s.keys.Sealer(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	raw, err := sealer.Open(row.Result, resultLocation(id))
	if err != nil {
		return nil, fmt.Errorf("request %s: result: %w", id, err)
	}
	defer clear(raw)
	var ex Extract
	if err := json.Unmarshal(raw, &ex); err != nil {
		return nil, fmt.Errorf("request %s: result: %w", id, err)
	}
	return &ex, nil
}
