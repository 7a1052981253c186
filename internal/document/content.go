package document

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"golang.org/x/text/unicode/norm"

	"github.com/valvhq/valv/internal/audit"
	"github.com/valvhq/valv/internal/authz"
	"github.com/valvhq/valv/internal/problem"
	"github.com/valvhq/valv/internal/scan"
	"github.com/valvhq/valv/internal/seal"
	"github.com/valvhq/valv/internal/store"
)

// Files (DOC-2, DOC-3) are streamed: read from the request, scanned by
// clamd and sealed with streaming AEAD at the same time, and written to the
// database in chunks as they go — never held whole in memory. A file is
// staged until the transaction of its document commits; an upload that
// fails (malware, too large, a wrong type, a broken connection) is removed,
// and staged files nobody claimed are removed by a job.

// ChunkSize is the size of a stored chunk of ciphertext.
const ChunkSize = 512 << 10

// stagedMaxAge is how long a staged file may wait for its document.
const stagedMaxAge = 6 * time.Hour

// Upload is a file as it arrives.
type Upload struct {
	// Name is the file name the client gave (sanitised before it is kept).
	Name string
	// ContentType is the declared type ("" if none): checked against the
	// content.
	ContentType string
	// Body is the content. It is read once, to its end.
	Body io.Reader
}

// stagedFile is an uploaded file waiting for its document.
type stagedFile struct {
	id   string
	info FileInfo
}

// ErrBodyTooLarge is what an upload's Body returns when the request is
// over its size limit (the HTTP edge maps its own error to it).
var ErrBodyTooLarge = errors.New("document: request body too large")

// errNoScanner is the problem for an upload with no scanner configured.
var errNoScanner = problem.Wrap(scan.ErrUnavailable, problem.KindUnavailable, scan.CodeScannerUnavailable,
	"No malware scanner is configured, so files cannot be stored.")

func errFileTooLarge(limit int64) error {
	return problem.New(problem.KindTooLarge, "file_too_large", fmt.Sprintf("The file is larger than the limit of %d bytes.", limit))
}

func fileLocation(id string) seal.Location {
	return seal.Location{Table: "files", Row: id, Field: "content"}
}

// stage streams an upload into a staged file: sniffed, scanned, sealed and
// written in chunks. On any failure nothing of it is left.
func (s *Service) stage(ctx context.Context, sealer *seal.Sealer, up *Upload) (st *stagedFile, err error) {
	if s.scanner == nil && !s.allowUnscanned {
		return nil, errNoScanner
	}
	tenantID := sealer.Tenant()
	name := SanitizeFileName(up.Name)
	head := make([]byte, scan.SniffLen)
	n, rerr := io.ReadFull(up.Body, head)
	head = head[:n]
	if rerr != nil && !errors.Is(rerr, io.ErrUnexpectedEOF) && !errors.Is(rerr, io.EOF) {
		return nil, readProblem(rerr, s.maxFile)
	}
	if n == 0 {
		return nil, problem.Invalid("empty_file", "The file is empty.")
	}
	ctype, err := scan.ContentType(up.ContentType, head)
	if err != nil {
		return nil, err
	}
	id := uuid.Must(uuid.NewV7()).String()
	now := s.now().UTC().Truncate(time.Microsecond)
	row := store.FileRow{TenantID: tenantID, ID: id, State: store.FileStaged, ContentType: ctype, Scanned: "clean", CreatedAt: now}
	if err := s.db.Write(ctx, func(tx *store.Tx) error { return tx.InsertFile(ctx, row) }); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			s.discard(ctx, tenantID, &stagedFile{id: id})
		}
	}()
	cw := &chunkWriter{ctx: ctx, db: s.db, fileID: id, buf: make([]byte, 0, ChunkSize)}
	enc, err := sealer.EncryptStream(cw, fileLocation(id))
	if err != nil {
		return nil, err
	}
	body := &countingReader{r: io.MultiReader(bytes.NewReader(head), up.Body), limit: s.maxFile}
	tee := io.TeeReader(body, enc)
	switch {
	case s.scanner != nil:
		err = s.scanner.Check(ctx, tee)
		if errors.Is(err, scan.ErrNotScanned) && s.allowUnscanned {
			row.Scanned = "unscanned"
			err = nil
		}
	default:
		row.Scanned = "unscanned"
	}
	if err == nil {
		// What the scanner did not read (none, if it read to the end) is
		// still stored: sealed and counted, never skipped.
		_, err = io.Copy(io.Discard, tee)
	}
	if err != nil {
		return nil, s.uploadProblem(ctx, err, body, tenantID)
	}
	if row.Scanned == "unscanned" {
		audit.Detail(ctx, "scan", "unscanned")
		s.log.Warn("file stored without a malware scan", "file", id)
	} else {
		audit.Detail(ctx, "scan", "clean")
	}
	if err = enc.Close(); err != nil {
		return nil, err
	}
	if err = cw.flush(); err != nil {
		return nil, err
	}
	row.Size, row.Chunks = body.n, cw.seq
	if err = s.db.Write(ctx, func(tx *store.Tx) error { return tx.FinishStagedFile(ctx, row) }); err != nil {
		return nil, err
	}
	return &stagedFile{id: id, info: FileInfo{Name: name, ContentType: ctype, Size: body.n, Scanned: row.Scanned}}, nil
}

// uploadProblem turns the failure of a scanned upload into what the client
// sees, and reports malware.
func (s *Service) uploadProblem(ctx context.Context, err error, body *countingReader, tenantID string) error {
	if body.over {
		return errFileTooLarge(s.maxFile)
	}
	var inf *scan.InfectedError
	if errors.As(err, &inf) {
		audit.Detail(ctx, "malware", inf.Signature)
		s.log.Warn("malware found in an upload; it was not stored", "signature", inf.Signature)
		if s.alerts != nil {
			s.alerts.MalwareFound(context.WithoutCancel(ctx), tenantID, inf.Signature)
		}
		return err
	}
	if _, ok := problem.As(err); ok {
		return err
	}
	return readProblem(err, s.maxFile)
}

// readProblem is the problem for a body that could not be read.
func readProblem(err error, limit int64) error {
	if errors.Is(err, ErrBodyTooLarge) {
		return errFileTooLarge(limit)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return problem.Wrap(err, problem.KindInvalid, "upload_incomplete", "The file could not be read to its end; send it again.")
}

// discard removes a staged file (best effort: the cleanup job removes what
// this cannot).
func (s *Service) discard(ctx context.Context, tenantID string, f *stagedFile) {
	if f == nil {
		return
	}
	ctx = context.WithoutCancel(ctx)
	if err := s.db.Write(ctx, func(tx *store.Tx) error { return tx.DeleteFile(ctx, tenantID, f.id) }); err != nil {
		s.log.Warn("staged file not removed; the cleanup job will", "file", f.id, "error", err)
	}
}

// countingReader counts what it reads and fails past limit.
type countingReader struct {
	r     io.Reader
	n     int64
	limit int64
	over  bool
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.n > c.limit {
		c.over = true
		return n, errors.New("file larger than the limit")
	}
	return n, err
}

// chunkWriter writes ciphertext to the database in ChunkSize chunks, each
// in its own short transaction (so a long upload never holds the writer).
type chunkWriter struct {
	ctx    context.Context
	db     *store.DB
	fileID string
	buf    []byte
	seq    int64
}

func (w *chunkWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		k := min(len(p), ChunkSize-len(w.buf))
		w.buf = append(w.buf, p[:k]...)
		p, n = p[k:], n+k
		if len(w.buf) == ChunkSize {
			if err := w.flush(); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

func (w *chunkWriter) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	seq, data := w.seq, w.buf
	if err := w.db.Write(w.ctx, func(tx *store.Tx) error { return tx.PutFileChunk(w.ctx, w.fileID, seq, data) }); err != nil {
		return err
	}
	w.seq++
	w.buf = w.buf[:0]
	return nil
}

// chunkReader reads a file's chunks in order.
type chunkReader struct {
	ctx    context.Context
	db     *store.DB
	fileID string
	chunks int64
	seq    int64
	cur    []byte
}

func (r *chunkReader) Read(p []byte) (int, error) {
	for len(r.cur) == 0 {
		if r.seq >= r.chunks {
			return 0, io.EOF
		}
		data, err := r.db.Reader().FileChunk(r.ctx, r.fileID, r.seq)
		if err != nil {
			return 0, fmt.Errorf("file chunk %d: %w", r.seq, err)
		}
		r.cur, r.seq = data, r.seq+1
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}

// Content is a document's file, open for reading.
type Content struct {
	FileInfo
	// Version is the document version the file belongs to.
	Version int64
	io.Reader
}

// OpenContent opens a document's current file for reading. Reading fails
// if any part of the stored ciphertext was changed or is missing.
func (s *Service) OpenContent(ctx context.Context, p authz.Principal, id string) (Content, error) {
	tenantID := tenantOf(p)
	row, err := s.readRow(ctx, p, authz.DocumentRead, tenantID, id)
	if err != nil {
		return Content{}, err
	}
	if row.FileID == "" {
		return Content{}, errNoFile
	}
	doc, err := s.viewRow(ctx, row)
	if err != nil {
		return Content{}, err
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
	info := FileInfo{ContentType: f.ContentType, Size: f.Size, Scanned: f.Scanned}
	if doc.File != nil {
		info.Name = doc.File.Name
	}
	audit.Detail(ctx, "bytes", fmt.Sprint(f.Size))
	return Content{FileInfo: info, Version: row.Version, Reader: dec}, nil
}

// ReplaceContent uploads a new file for a document: a new version whose
// history says the file changed. The old file stays with the old version.
func (s *Service) ReplaceContent(ctx context.Context, p authz.Principal, id string, ifMatch int64, up *Upload) (Document, error) {
	return s.change(ctx, p, id, ifMatch, nil, nil, up)
}

// maxFileName bounds a kept file name, in bytes.
const maxFileName = 200

// SanitizeFileName keeps the last element of a client's file name, in NFC,
// without control or format characters (bidi overrides, zero-width),
// path separators or leading dots, at most 200 bytes; "file" if nothing is
// left.
func SanitizeFileName(name string) string {
	name = strings.ReplaceAll(name, "\\", "/")
	name = path.Base(strings.TrimRight(name, "/"))
	name = norm.NFC.String(name)
	var b strings.Builder
	for _, r := range name {
		switch {
		case unicode.IsSpace(r):
			b.WriteRune(' ')
		case r == utf8.RuneError, unicode.Is(unicode.Cc, r), unicode.Is(unicode.Cf, r), r == '/', r == '"', r == '\\':
			continue
		default:
			b.WriteRune(r)
		}
	}
	dotOrSpace := func(r rune) bool { return r == '.' || unicode.IsSpace(r) }
	name = strings.TrimFunc(b.String(), dotOrSpace)
	for len(name) > maxFileName {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	name = strings.TrimFunc(name, dotOrSpace)
	if name == "" {
		return "file"
	}
	return name
}

// Cleanup removes staged files that never became a document's (uploads
// cut off by a crash or a lost connection) and forgets Idempotency-Keys
// older than a day. It returns how many files it removed.
func (s *Service) Cleanup(ctx context.Context) (int, error) {
	now := s.now()
	removed := 0
	for {
		files, err := s.db.Reader().StagedFiles(ctx, now.Add(-stagedMaxAge), 100)
		if err != nil {
			return removed, err
		}
		for _, f := range files {
			if err := s.db.Write(ctx, func(tx *store.Tx) error { return tx.DeleteFile(ctx, f.TenantID, f.ID) }); err != nil {
				return removed, err
			}
			removed++
		}
		if len(files) < 100 {
			break
		}
	}
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		_, err := tx.ExpireIdempotencyKeys(ctx, now.Add(-IdempotencyKeyLifetime))
		return err
	})
	return removed, err
}

// IdempotencyKeyLifetime is how long an Idempotency-Key is remembered.
const IdempotencyKeyLifetime = 24 * time.Hour
