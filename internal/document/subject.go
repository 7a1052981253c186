package document

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/store"
)

// What the data-subject rights (package gdpr) need of documents: the whole
// of a document with every version, restricted ones included; its files;
// and anonymisation. None of these authorise: the caller has (a subject
// request is authorised when it is made).

// Full is a document with every version, as the register extract shows it.
type Full struct {
	Document
	// Restricted is how processing is restricted: "" (not), "erasure"
	// (kept for the law in place of an erasure) or "request".
	Restricted string
	FileID     string
	Versions   []FullVersion
}

// FullVersion is one version with its whole content.
type FullVersion struct {
	Version   int64
	Time      time.Time
	ActorType string
	ActorID   string
	Changed   []string
	FileID    string
	Data      json.RawMessage
	Metadata  map[string]string
	Subjects  []Subject
	File      *FileInfo
}

// FullDocument returns a tenant's document with all its versions.
func (s *Service) FullDocument(ctx context.Context, tenantID, id string) (Full, error) {
	row, restricted, err := s.db.Reader().DocumentAny(ctx, tenantID, id)
	if errors.Is(err, store.ErrNotFound) {
		return Full{}, ErrNotFound
	}
	if err != nil {
		return Full{}, err
	}
	sealer, err := s.keys.Sealer(ctx, tenantID)
	if err != nil {
		return Full{}, err
	}
	metas, err := s.db.Reader().DocumentVersions(ctx, tenantID, id)
	if err != nil {
		return Full{}, err
	}
	out := Full{Restricted: restricted, FileID: row.FileID}
	for _, m := range metas {
		v, err := s.db.Reader().DocumentVersion(ctx, tenantID, id, m.Version)
		if err != nil {
			return Full{}, fmt.Errorf("document %s version %d: %w", id, m.Version, err)
		}
		c, err := openVersion(sealer, id, m.Version, v.Content)
		if err != nil {
			return Full{}, err
		}
		var changed []string
		if err := json.Unmarshal([]byte(m.Changed), &changed); err != nil {
			return Full{}, fmt.Errorf("document %s version %d: changed fields: %w", id, m.Version, err)
		}
		subs := c.Subjects
		if subs == nil {
			subs = []Subject{}
		}
		out.Versions = append(out.Versions, FullVersion{Version: m.Version, Time: m.Time, ActorType: m.ActorType, ActorID: m.ActorID,
			Changed: changed, FileID: m.FileID, Data: c.Data, Metadata: c.Metadata, Subjects: subs, File: c.File})
		if m.Version == row.Version {
			out.Document = view(row, c)
		}
	}
	if out.ID == "" {
		return Full{}, fmt.Errorf("document %s: current version %d missing", id, row.Version)
	}
	res, err := s.retentionOf(ctx, row)
	if err != nil {
		return Full{}, err
	}
	if restricted == "erasure" {
		res.Until, res.Basis = row.RetainUntil, "restricted"
	}
	out.Retention = &Retention{Until: res.Until, Basis: res.Basis, KeepUntil: row.KeepUntil}
	return out, nil
}

// OpenFile opens one of a tenant's stored files for reading.
func (s *Service) OpenFile(ctx context.Context, tenantID, fileID string) (io.Reader, store.FileRow, error) {
	f, err := s.db.Reader().File(ctx, tenantID, fileID)
	if err != nil {
		return nil, store.FileRow{}, fmt.Errorf("file %s: %w", fileID, err)
	}
	sealer, err := s.keys.Sealer(ctx, tenantID)
	if err != nil {
		return nil, store.FileRow{}, err
	}
	dec, err := sealer.DecryptStream(&chunkReader{ctx: ctx, db: s.db, fileID: f.ID, chunks: f.Chunks}, fileLocation(f.ID))
	if err != nil {
		return nil, store.FileRow{}, fmt.Errorf("file %s: %w", fileID, err)
	}
	return dec, f, nil
}

// Anonymised is what anonymising a document removed (paths, never values).
type Anonymised struct {
	Removed []string `json:"removed"`
	// Version is the document's one remaining version.
	Version int64 `json:"version"`
}

// AnonymiseTx irreversibly removes from a tenant's document, inside tx:
// the subject identifiers whose blind tokens are given (all of them when
// tokens is nil), the fields its type's schema marks personal
// ("x-personal": true), the fields named (JSON pointers into data,
// "/data/..."; or "/metadata/<key>"), and its file (a file cannot be
// anonymised field by field). Every earlier version and the document's
// payload history go too, so nothing removed survives in history: one new
// version remains. The document must not be restricted.
func (s *Service) AnonymiseTx(ctx context.Context, tx *store.Tx, p authz.Principal, tenantID, id string, tokens [][]byte, fields []string) (Anonymised, error) {
	row, err := tx.DocumentForUpdate(ctx, tenantID, id)
	if errors.Is(err, store.ErrNotFound) {
		return Anonymised{}, ErrNotFound
	}
	if err != nil {
		return Anonymised{}, err
	}
	sealer, err := s.keys.Sealer(ctx, tenantID)
	if err != nil {
		return Anonymised{}, err
	}
	v, err := tx.DocumentVersion(ctx, tenantID, id, row.Version)
	if err != nil {
		return Anonymised{}, err
	}
	c, err := openVersion(sealer, id, row.Version, v.Content)
	if err != nil {
		return Anonymised{}, err
	}
	typ, err := tx.DocumentType(ctx, tenantID, row.Type)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return Anonymised{}, err
	}
	personal, err := PersonalFields(typ.Schema)
	if err != nil {
		return Anonymised{}, err
	}
	var removed []string
	// Subjects.
	kept := c.Subjects[:0:0]
	for _, sub := range c.Subjects {
		tok, err := subjectToken(sealer, sub)
		if err != nil {
			return Anonymised{}, err
		}
		if tokens == nil || containsToken(tokens, tok) {
			removed = append(removed, "/subjects/"+sub.Kind)
			continue
		}
		kept = append(kept, sub)
	}
	c.Subjects = kept
	// Data and metadata.
	var data any
	if len(c.Data) > 0 {
		if err := json.Unmarshal(c.Data, &data); err != nil {
			return Anonymised{}, fmt.Errorf("document %s: data: %w", id, err)
		}
	}
	for _, path := range append(personal, fields...) {
		switch {
		case strings.HasPrefix(path, "/metadata/"):
			key := strings.TrimPrefix(path, "/metadata/")
			if _, ok := c.Metadata[key]; ok {
				delete(c.Metadata, key)
				removed = append(removed, path)
			}
		case path == "/data":
			if data != nil {
				data = nil
				removed = append(removed, path)
			}
		case strings.HasPrefix(path, "/data/"):
			if removePointer(data, strings.TrimPrefix(path, "/data")) {
				removed = append(removed, path)
			}
		}
	}
	if data == nil {
		c.Data = nil
	} else if c.Data, err = json.Marshal(data); err != nil {
		return Anonymised{}, err
	}
	if len(c.Metadata) == 0 {
		c.Metadata = nil
	}
	if c.File != nil {
		removed = append(removed, "/file")
		c.File = nil
	}
	sort.Strings(removed)
	removed = dedupe(removed)
	now := s.now().UTC()
	next := row.Version + 1
	sv, err := sealVersion(sealer, p, id, next, c, removed, "", now)
	if err != nil {
		return Anonymised{}, err
	}
	if err := tx.ReplaceDocumentHistory(ctx, tenantID, id); err != nil {
		return Anonymised{}, err
	}
	if err := tx.InsertDocumentVersion(ctx, sv.row); err != nil {
		return Anonymised{}, err
	}
	if err := tx.SetDocumentSubjects(ctx, tenantID, id, sv.subjects); err != nil {
		return Anonymised{}, err
	}
	if err := tx.DeleteDocumentFiles(ctx, tenantID, id, ""); err != nil {
		return Anonymised{}, err
	}
	row.Version, row.FileID, row.UpdatedAt = next, "", now
	if err := tx.SetDocumentState(ctx, row); err != nil {
		return Anonymised{}, err
	}
	if removed == nil {
		removed = []string{}
	}
	return Anonymised{Removed: removed, Version: next}, nil
}

func containsToken(tokens [][]byte, tok []byte) bool {
	for _, t := range tokens {
		if string(t) == string(tok) {
			return true
		}
	}
	return false
}

func dedupe(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// removePointer deletes the value at a JSON pointer (RFC 6901) from doc,
// reporting whether there was one.
func removePointer(doc any, ptr string) bool {
	if ptr == "" || !strings.HasPrefix(ptr, "/") {
		return false
	}
	parts := strings.Split(ptr[1:], "/")
	cur := doc
	for i, raw := range parts {
		key := strings.ReplaceAll(strings.ReplaceAll(raw, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return false
		}
		if i == len(parts)-1 {
			if _, ok := m[key]; !ok {
				return false
			}
			delete(m, key)
			return true
		}
		cur = m[key]
	}
	return false
}

// PersonalFields lists the data fields a type's JSON Schema marks personal
// ("x-personal": true on a property, at any depth of "properties"), as
// "/data/..." pointers.
func PersonalFields(schema string) ([]string, error) {
	if strings.TrimSpace(schema) == "" {
		return nil, nil
	}
	var root map[string]any
	if err := json.Unmarshal([]byte(schema), &root); err != nil {
		return nil, fmt.Errorf("type schema: %w", err)
	}
	var out []string
	var walk func(node map[string]any, path string, depth int)
	walk = func(node map[string]any, path string, depth int) {
		props, _ := node["properties"].(map[string]any)
		if depth > 32 {
			return
		}
		for name, raw := range props {
			prop, ok := raw.(map[string]any)
			if !ok {
				continue
			}
			p := path + "/" + strings.ReplaceAll(strings.ReplaceAll(name, "~", "~0"), "/", "~1")
			if b, _ := prop["x-personal"].(bool); b {
				out = append(out, "/data"+p)
				continue
			}
			walk(prop, p, depth+1)
		}
	}
	walk(root, "", 0)
	sort.Strings(out)
	return out, nil
}
