package document

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/valvhq/valv/internal/audit"
	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/einvoice"
	"github.com/valvhq/valv/internal/problem"
	"github.com/valvhq/valv/internal/store"
	"github.com/valvhq/valv/internal/validate"
)

// Type is a tenant's registered document type: the JSON Schema its data
// must match (VAL-2) and the archive its documents go to by default.
type Type struct {
	Name           string          `json:"name"`
	Schema         json.RawMessage `json:"schema,omitempty"`
	DefaultArchive string          `json:"default_archive"`
	// Converter turns this type's messages into the format recipients
	// expect and received ones into data (MSG-4); empty for none.
	Converter string    `json:"converter,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// TypeInput registers or changes a document type.
type TypeInput struct {
	Schema         json.RawMessage `json:"schema,omitempty"`
	DefaultArchive string          `json:"default_archive,omitempty"`
	// Converter is the name of a converter (GET /api/v1/converters), or
	// empty for none: messages of the type are then sent as their JSON
	// data, and received ones are kept as they came.
	Converter string `json:"converter,omitempty"`
}

// ErrTypeNotFound is the problem for a type that is not registered.
var ErrTypeNotFound = problem.NotFound("document_type_not_found", "No such document type.")

// PutType registers a document type or replaces its schema (owners and
// admins). The schema is compiled first: a schema that does not compile,
// reaches outside itself or is too costly is refused with the reason.
func (s *Service) PutType(ctx context.Context, p authz.Principal, name string, in TypeInput) (Type, error) {
	tenantID := tenantOf(p)
	if err := s.authorize(ctx, p, authz.DocumentTypeManage, authz.Resource{TenantID: tenantID}, "document_type"); err != nil {
		return Type{}, err
	}
	if !typePattern.MatchString(name) {
		return Type{}, problem.Invalid("invalid_type", "A type is 1 to 64 lower-case letters, digits, '_', '.' or '-'.")
	}
	if in.DefaultArchive == "" {
		in.DefaultArchive = ArchiveStandard
	}
	switch in.DefaultArchive {
	case ArchiveLegal, ArchiveStandard, ArchiveMessage:
	default:
		return Type{}, problem.Invalid("invalid_archive", "The default archive is legal, standard or message.",
			problem.Field("/default_archive", "invalid_archive", "Use legal, standard or message."))
	}
	if in.Converter != "" {
		if _, ok := einvoice.Lookup(in.Converter); !ok {
			return Type{}, problem.Invalid("invalid_converter", "No converter has that name.",
				problem.Field("/converter", "unknown_converter", "Use one of: "+strings.Join(einvoice.Names(), ", ")+"."))
		}
	}
	schema := ""
	if t := bytes.TrimSpace(in.Schema); len(t) > 0 && !bytes.Equal(t, []byte("null")) {
		if _, err := validate.CompileSchema(t); err != nil {
			return Type{}, err
		}
		var compact bytes.Buffer
		_ = json.Compact(&compact, t)
		schema = compact.String()
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	row := store.DocumentTypeRow{TenantID: tenantID, Name: name, Schema: schema, DefaultArchive: in.DefaultArchive, Converter: in.Converter,
		CreatedAt: now, UpdatedAt: now}
	err := s.trail.Do(ctx, audit.Description{TenantID: tenantID, ResourceType: "document_type"}, func(tx *store.Tx) error {
		if old, err := tx.DocumentType(ctx, tenantID, name); err == nil {
			row.CreatedAt = old.CreatedAt
		}
		return tx.PutDocumentType(ctx, row)
	})
	if err != nil {
		return Type{}, err
	}
	return viewType(row), nil
}

func viewType(r store.DocumentTypeRow) Type {
	t := Type{Name: r.Name, DefaultArchive: r.DefaultArchive, Converter: r.Converter, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	if r.Schema != "" {
		t.Schema = json.RawMessage(r.Schema)
	}
	return t
}

// GetType returns one document type.
func (s *Service) GetType(ctx context.Context, p authz.Principal, name string) (Type, error) {
	tenantID := tenantOf(p)
	if err := s.authorize(ctx, p, authz.DocumentTypeRead, authz.Resource{TenantID: tenantID}, "document_type"); err != nil {
		return Type{}, err
	}
	row, err := s.db.Reader().DocumentType(ctx, tenantID, name)
	if errors.Is(err, store.ErrNotFound) {
		return Type{}, ErrTypeNotFound
	}
	if err != nil {
		return Type{}, err
	}
	return viewType(row), nil
}

// Types lists the tenant's document types.
func (s *Service) Types(ctx context.Context, p authz.Principal) ([]Type, error) {
	tenantID := tenantOf(p)
	if err := s.authorize(ctx, p, authz.DocumentTypeRead, authz.Resource{TenantID: tenantID}, "document_type"); err != nil {
		return nil, err
	}
	rows, err := s.db.Reader().DocumentTypes(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	out := make([]Type, 0, len(rows))
	for _, r := range rows {
		out = append(out, viewType(r))
	}
	return out, nil
}

// DeleteType removes a document type; its documents stay (and are no
// longer checked against its schema).
func (s *Service) DeleteType(ctx context.Context, p authz.Principal, name string) error {
	tenantID := tenantOf(p)
	if err := s.authorize(ctx, p, authz.DocumentTypeManage, authz.Resource{TenantID: tenantID}, "document_type"); err != nil {
		return err
	}
	err := s.trail.Do(ctx, audit.Description{TenantID: tenantID, ResourceType: "document_type"}, func(tx *store.Tx) error {
		return tx.DeleteDocumentType(ctx, tenantID, name)
	})
	if errors.Is(err, store.ErrNotFound) {
		return ErrTypeNotFound
	}
	return err
}

// docType is what creating a document needs of its type.
type docType struct {
	archive string
	schema  *validate.Schema
}

// check validates data against the type's schema (422 document_invalid
// with field errors).
func (t docType) check(data json.RawMessage) error {
	if t.schema == nil {
		return nil
	}
	var doc any
	if len(data) > 0 {
		d := json.NewDecoder(bytes.NewReader(data))
		d.UseNumber()
		if err := d.Decode(&doc); err != nil {
			return problem.Invalid("invalid_document", "The data is not valid JSON.")
		}
	}
	return t.schema.Check(doc)
}

// maxCachedSchemas bounds the compiled-schema cache.
const maxCachedSchemas = 1000

// documentType returns a type's default archive and compiled schema; an
// unregistered type has neither (standard archive, any data).
func (s *Service) documentType(ctx context.Context, tenantID, name string) (docType, error) {
	row, err := s.db.Reader().DocumentType(ctx, tenantID, name)
	if errors.Is(err, store.ErrNotFound) {
		return docType{archive: ArchiveStandard}, nil
	}
	if err != nil {
		return docType{}, err
	}
	dt := docType{archive: row.DefaultArchive}
	if row.Schema == "" {
		return dt, nil
	}
	key := tenantID + "/" + name
	s.schemaMu.Lock()
	c, ok := s.schemas[key]
	s.schemaMu.Unlock()
	if ok && c.updated.Equal(row.UpdatedAt) {
		dt.schema = c.schema
		return dt, nil
	}
	compiled, err := validate.CompileSchema([]byte(row.Schema))
	if err != nil {
		return docType{}, err
	}
	s.schemaMu.Lock()
	if len(s.schemas) >= maxCachedSchemas {
		clear(s.schemas)
	}
	s.schemas[key] = cachedSchema{updated: row.UpdatedAt, schema: compiled}
	s.schemaMu.Unlock()
	dt.schema = compiled
	return dt, nil
}
