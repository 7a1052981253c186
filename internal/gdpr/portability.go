package gdpr

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/document"
	"github.com/valvhq/valv/internal/problem"
)

// A portability package (GDPR-2) is a ZIP file:
//
//	subject.json          the extract (schema valv.subject-extract/v1), each
//	                      file's place in the package in its "path"
//	files/<file id>/<name> every file of every version, as it was uploaded
//	manifest.json         {"schema": "valv.portability/v1", "files": {path: sha256}}
//
// Import loads the documents' current versions (with their files) into
// another tenant, as new documents.

// PackageSchema names the version of the package layout.
const PackageSchema = "valv.portability/v1"

type manifest struct {
	Schema string            `json:"schema"`
	Files  map[string]string `json:"files"` // path → hex SHA-256
}

// WritePackage writes a completed access or portability request's package.
func (s *Service) WritePackage(ctx context.Context, p authz.Principal, id string, w io.Writer) error {
	ex, err := s.Result(ctx, p, id)
	if err != nil {
		return err
	}
	return s.writePackage(ctx, p.TenantID, ex, w)
}

func (s *Service) writePackage(ctx context.Context, tenantID string, ex *Extract, w io.Writer) error {
	zw := zip.NewWriter(w)
	man := manifest{Schema: PackageSchema, Files: map[string]string{}}
	written := map[string]string{}
	addFile := func(f *File) error {
		if f == nil {
			return nil
		}
		if p, ok := written[f.ID]; ok {
			f.Path = p
			return nil
		}
		name := document.SanitizeFileName(f.Name)
		f.Path = "files/" + f.ID + "/" + name
		r, err := s.openFile(ctx, tenantID, f.ID)
		if err != nil {
			return err
		}
		fw, err := zw.Create(f.Path)
		if err != nil {
			return err
		}
		h := sha256.New()
		if _, err := io.Copy(io.MultiWriter(fw, h), r); err != nil {
			return fmt.Errorf("file %s: %w", f.ID, err)
		}
		man.Files[f.Path] = hex.EncodeToString(h.Sum(nil))
		written[f.ID] = f.Path
		return nil
	}
	for i := range ex.Documents {
		d := &ex.Documents[i]
		for j := range d.Versions {
			if err := addFile(d.Versions[j].File); err != nil {
				return err
			}
		}
		if err := addFile(d.File); err != nil {
			return err
		}
	}
	for _, part := range []struct {
		name string
		v    any
	}{{"subject.json", ex}, {"manifest.json", man}} {
		raw, err := json.MarshalIndent(part.v, "", "  ")
		if err != nil {
			return err
		}
		fw, err := zw.Create(part.name)
		if err != nil {
			return err
		}
		if _, err := fw.Write(raw); err != nil {
			return err
		}
		if part.name == "subject.json" {
			sum := sha256.Sum256(raw)
			man.Files["subject.json"] = hex.EncodeToString(sum[:])
		}
	}
	return zw.Close()
}

func (s *Service) openFile(ctx context.Context, tenantID, fileID string) (io.Reader, error) {
	r, _, err := s.docs.OpenFile(ctx, tenantID, fileID)
	return r, err
}

// Import limits.
const (
	MaxImportDocuments = 10000
	maxSubjectJSON     = 256 << 20
)

// ImportResult is what an import created.
type ImportResult struct {
	// Documents maps each imported document's id in the package to its
	// new id.
	Documents map[string]string `json:"documents"`
	Files     int               `json:"files"`
}

func errPackage(msg string) error { return problem.Invalid("invalid_package", msg) }

// Import loads a portability package into p's tenant: each document's
// current version, with its file, becomes a new document (scanned like
// any upload). Either the whole package is checked first, or nothing is
// created.
func (s *Service) Import(ctx context.Context, p authz.Principal, r io.ReaderAt, size int64) (ImportResult, error) {
	if err := s.AuthorizeImport(ctx, p); err != nil {
		return ImportResult{}, err
	}
	return s.ImportAuthorized(ctx, p, r, size)
}

// AuthorizeImport says whether p may import a package (before its body is
// read).
func (s *Service) AuthorizeImport(ctx context.Context, p authz.Principal) error {
	return s.authorize(ctx, p, authz.SubjectImport, "")
}

// ImportAuthorized is Import after AuthorizeImport.
func (s *Service) ImportAuthorized(ctx context.Context, p authz.Principal, r io.ReaderAt, size int64) (ImportResult, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return ImportResult{}, errPackage("The file is not a ZIP portability package.")
	}
	entries := map[string]*zip.File{}
	for _, f := range zr.File {
		if strings.Contains(f.Name, "..") || path.IsAbs(f.Name) {
			return ImportResult{}, errPackage("The package has an entry with an unsafe name.")
		}
		entries[f.Name] = f
	}
	readAll := func(name string, limit int64) ([]byte, error) {
		f, ok := entries[name]
		if !ok {
			return nil, errPackage("The package has no " + name + ".")
		}
		rc, err := f.Open()
		if err != nil {
			return nil, errPackage("The package's " + name + " cannot be read.")
		}
		defer rc.Close()
		raw, err := io.ReadAll(io.LimitReader(rc, limit+1))
		if err != nil {
			return nil, errPackage("The package's " + name + " is damaged.")
		}
		if int64(len(raw)) > limit {
			return nil, errPackage("The package's " + name + " is too large.")
		}
		return raw, nil
	}
	rawMan, err := readAll("manifest.json", 16<<20)
	if err != nil {
		return ImportResult{}, err
	}
	var man manifest
	if err := json.Unmarshal(rawMan, &man); err != nil || man.Schema != PackageSchema {
		return ImportResult{}, errPackage("The package's manifest is not " + PackageSchema + ".")
	}
	raw, err := readAll("subject.json", maxSubjectJSON)
	if err != nil {
		return ImportResult{}, err
	}
	var ex Extract
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&ex); err != nil {
		return ImportResult{}, errPackage("The package's subject.json is not valid JSON.")
	}
	if ex.Schema != ExtractSchema {
		return ImportResult{}, errPackage(fmt.Sprintf("The package's schema %q is not %s.", ex.Schema, ExtractSchema))
	}
	if len(ex.Documents) > MaxImportDocuments {
		return ImportResult{}, errPackage(fmt.Sprintf("A package holds at most %d documents.", MaxImportDocuments))
	}
	// Check every file's checksum before creating anything.
	for _, d := range ex.Documents {
		if d.File == nil {
			continue
		}
		f, ok := entries[d.File.Path]
		want, listed := man.Files[d.File.Path]
		if !ok || !listed {
			return ImportResult{}, errPackage("A document's file is missing from the package.")
		}
		rc, err := f.Open()
		if err != nil {
			return ImportResult{}, errPackage("A file in the package cannot be read.")
		}
		h := sha256.New()
		_, err = io.Copy(h, io.LimitReader(rc, s.docs.MaxFileSize()+1))
		rc.Close()
		if err != nil || hex.EncodeToString(h.Sum(nil)) != want {
			return ImportResult{}, errPackage("A file in the package does not match its checksum.")
		}
	}
	res := ImportResult{Documents: map[string]string{}}
	var created []string
	undo := func() {
		for _, id := range created {
			if err := s.docs.Delete(context.WithoutCancel(ctx), p, id, 0); err != nil {
				s.log.Error("import: could not remove a document of a failed import", "document", id, "error", err)
			}
		}
	}
	for i, d := range ex.Documents {
		in := document.Input{Type: d.Type, Archive: d.Archive, DocumentDate: d.DocumentDate, Data: d.Data, Metadata: d.Metadata}
		for _, sub := range d.Subjects {
			in.Subjects = append(in.Subjects, document.Subject{Kind: sub.Kind, Value: sub.Value})
		}
		req := document.CreateRequest{Input: in}
		req.Raw, _ = json.Marshal(in)
		var rc io.ReadCloser
		if d.File != nil {
			if rc, err = entries[d.File.Path].Open(); err != nil {
				undo()
				return ImportResult{}, errPackage("A file in the package cannot be read.")
			}
			req.File = &document.Upload{Name: d.File.Name, ContentType: d.File.ContentType, Body: rc}
		}
		c, err := s.docs.Create(ctx, p, req)
		if rc != nil {
			rc.Close()
		}
		if err != nil {
			undo()
			if pe, ok := problem.As(err); ok {
				return ImportResult{}, problem.Invalid("import_failed", fmt.Sprintf("Document %d of the package (%s) was refused, so nothing was imported: %s", i+1, d.ID, pe.Message), pe.Fields...)
			}
			return ImportResult{}, fmt.Errorf("import document %s: %w", d.ID, err)
		}
		created = append(created, c.Document.ID)
		res.Documents[d.ID] = c.Document.ID
		if d.File != nil {
			res.Files++
		}
	}
	return res, nil
}
