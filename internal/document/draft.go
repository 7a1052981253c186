package document

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/problem"
	"github.com/valvhq/valv/internal/store"
)

// A Draft is a new document prepared for the transaction of another
// service: the message service stores a message's document together with
// its envelope and transaction log, so that all of it commits or none.
// The caller has authorized the call; Prepare does everything else Create
// does (validation, the type's schema, sealing, scanning and staging the
// file, retention), and Insert writes it.
type Draft struct {
	row    store.DocumentRow
	sv     sealedVersion
	staged *stagedFile
	c      content
}

// ID is the new document's id.
func (d *Draft) ID() string { return d.row.ID }

// File describes the draft's file (nil for none).
func (d *Draft) File() *FileInfo { return d.c.File }

// Prepare validates and seals a new document of tenantID by actor and, if
// file is not nil, scans and stages its file. The caller MUST have
// authorized it, and MUST either Insert the draft in a transaction that
// commits or Discard it.
func (s *Service) Prepare(ctx context.Context, tenantID string, actor authz.Principal, in Input, file *Upload) (*Draft, error) {
	dt, err := s.documentType(ctx, tenantID, in.Type)
	if err != nil {
		return nil, err
	}
	if err := s.checkInput(&in, dt.archive); err != nil {
		return nil, err
	}
	if err := dt.check(in.Data); err != nil {
		return nil, err
	}
	sealer, err := s.keys.Sealer(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	d := &Draft{c: content{Data: in.Data, Metadata: in.Metadata, Subjects: in.Subjects, Type: in.Type, Archive: in.Archive,
		DocumentDate: in.DocumentDate, ReviewDate: in.ReviewDate}}
	id := uuid.Must(uuid.NewV7()).String()
	if file != nil {
		if d.staged, err = s.stage(ctx, sealer, file); err != nil {
			return nil, err
		}
		d.c.File = &d.staged.info
	}
	fileID := ""
	if d.staged != nil {
		fileID = d.staged.id
	}
	if d.sv, err = sealVersion(sealer, actor, id, 1, d.c, changedOnCreate(d.c), fileID, now); err != nil {
		s.discard(ctx, tenantID, d.staged)
		return nil, err
	}
	d.row = store.DocumentRow{TenantID: tenantID, ID: id, Type: in.Type, Archive: in.Archive, DocumentDate: in.DocumentDate,
		ReviewDate: in.ReviewDate, Version: 1, FileID: fileID, CreatedAt: now, UpdatedAt: now}
	if err := s.setRetention(ctx, &d.row); err != nil {
		s.discard(ctx, tenantID, d.staged)
		return nil, err
	}
	return d, nil
}

// Insert writes a prepared document in tx.
func (d *Draft) Insert(ctx context.Context, tx *store.Tx) error {
	if err := tx.InsertDocument(ctx, d.row); err != nil {
		return err
	}
	if err := tx.InsertDocumentVersion(ctx, d.sv.row); err != nil {
		return err
	}
	if err := tx.SetDocumentSubjects(ctx, d.row.TenantID, d.row.ID, d.sv.subjects); err != nil {
		return err
	}
	if d.staged != nil {
		if err := tx.StoreFile(ctx, d.row.TenantID, d.staged.id, d.row.ID); err != nil {
			return fmt.Errorf("store the document's file: %w", err)
		}
	}
	return nil
}

// Discard removes what Prepare staged, for a draft that was not stored.
func (s *Service) Discard(ctx context.Context, d *Draft) {
	if d != nil {
		s.discard(ctx, d.row.TenantID, d.staged)
	}
}

// ReadDocument returns a tenant's document for a service that authorized
// the call (the message service reading a message it delivers).
func (s *Service) ReadDocument(ctx context.Context, tenantID, id string) (Document, error) {
	return s.get(ctx, tenantID, id)
}

// ReadFile opens a tenant's document's file for a service that authorized
// the call; reading fails if the stored ciphertext was changed.
func (s *Service) ReadFile(ctx context.Context, tenantID, id string) (Content, error) {
	row, err := s.db.Reader().Document(ctx, tenantID, id)
	if errors.Is(err, store.ErrNotFound) {
		return Content{}, ErrNotFound
	}
	if err != nil {
		return Content{}, err
	}
	if row.FileID == "" {
		return Content{}, errNoFile
	}
	f, err := s.db.Reader().File(ctx, tenantID, row.FileID)
	if err != nil {
		return Content{}, fmt.Errorf("document %s: file: %w", id, err)
	}
	sealer, err := s.keys.Sealer(ctx, tenantID)
	if err != nil {
		return Content{}, err
	}
	dec, err := sealer.DecryptStream(&chunkReader{ctx: ctx, db: s.db, fileID: f.ID, chunks: f.Chunks}, fileLocation(f.ID))
	if err != nil {
		return Content{}, fmt.Errorf("document %s: file: %w", id, err)
	}
	return Content{FileInfo: FileInfo{ContentType: f.ContentType, Size: f.Size, Scanned: f.Scanned}, Version: row.Version, Reader: dec}, nil
}

// Converter returns the name of the converter of a tenant's document type
// ("" for none, or an unregistered type).
func (s *Service) Converter(ctx context.Context, tenantID, typ string) (string, error) {
	row, err := s.db.Reader().DocumentType(ctx, tenantID, typ)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	return row.Converter, err
}

var errNoFile = problem.NotFound("no_file", "The document has no file.")
