package backup

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"sort"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"
)

// S3Options describe an S3 (or S3-compatible) target.
type S3Options struct {
	// Name is the operator's name for the target; Region is its location
	// label and, when set, also the bucket's region for request signing.
	Name, Region string
	// Endpoint is host[:port], without a path. An "https://" or "http://"
	// prefix is accepted if it agrees with Insecure.
	Endpoint string
	Bucket   string
	// Prefix, if set, is prepended to every key with a "/" between.
	Prefix string
	// AccessKey and SecretKey are static (AWS signature v4) credentials.
	// The secret is never part of a message or an error.
	AccessKey, SecretKey string
	// Insecure speaks plain HTTP: only for a gateway on localhost.
	Insecure bool
	// CAFile is an extra PEM file of CA certificates trusted for the
	// endpoint, besides the system's.
	CAFile string
}

// s3MaxRetries bounds how often the client repeats a failed request (with
// backoff of up to a second each). minio-go's default of 10 keeps a call
// to an unreachable target busy for several seconds; backup jobs retry
// whole objects themselves, so a few attempts are enough to ride out a
// blip and still report "target down" promptly.
const s3MaxRetries = 3

// s3UnknownSizePart is the part size used when Put is given a size of -1.
// minio-go allocates one part's buffer for such an upload, and would
// otherwise size parts for a 5 TiB object (over 500 MiB each); 16 MiB parts
// allow objects up to 160 GiB.
const s3UnknownSizePart = 16 << 20

// PutNew sends one PUT (see there), which S3 caps at 5 GiB, and buffers an
// object of unknown size in memory, up to s3PutNewBuffer.
const (
	s3MaxSinglePut = 5 << 30
	s3PutNewBuffer = 64 << 20
)

// S3Target keeps backups in an S3 bucket, under an optional prefix.
type S3Target struct {
	name, region     string
	endpoint, bucket string
	prefix           string // without a trailing "/"; "" for none
	client           *minio.Client
}

var _ Target = (*S3Target)(nil)

// NewS3Target checks opts and returns a target for them. It makes no
// request: see Check.
func NewS3Target(opts S3Options) (*S3Target, error) {
	fail := func(format string, args ...any) (*S3Target, error) {
		return nil, fmt.Errorf("backup: s3 target %q: %s", opts.Name, fmt.Sprintf(format, args...))
	}
	switch {
	case opts.Name == "":
		return nil, errors.New("backup: s3 target: Name is required")
	case opts.Endpoint == "":
		return fail("Endpoint is required")
	case opts.Bucket == "":
		return fail("Bucket is required")
	case opts.AccessKey == "":
		return fail("AccessKey is required")
	case opts.SecretKey == "":
		return fail("SecretKey is required")
	}
	host, err := s3Host(opts.Endpoint, opts.Insecure)
	if err != nil {
		return fail("Endpoint: %v", err)
	}
	if err := s3utils.CheckValidBucketNameStrict(opts.Bucket); err != nil {
		return fail("Bucket %q: %v", opts.Bucket, err)
	}
	prefix := strings.TrimSuffix(opts.Prefix, "/")
	if prefix != "" && !validKey(prefix) {
		return fail("Prefix %q is not a relative slash path", opts.Prefix)
	}

	mo := &minio.Options{
		Creds:      credentials.NewStaticV4(opts.AccessKey, opts.SecretKey, ""),
		Secure:     !opts.Insecure,
		Region:     opts.Region,
		MaxRetries: s3MaxRetries,
	}
	if opts.CAFile != "" {
		if opts.Insecure {
			return fail("CAFile is set but Insecure turns TLS off")
		}
		pem, err := os.ReadFile(opts.CAFile)
		if err != nil {
			return fail("CAFile: %v", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return fail("CAFile %s holds no PEM certificate", opts.CAFile)
		}
		// DefaultTransport is minio-go's own tuned transport; using it keeps
		// this package clear of net/http (see internal/deps_test.go).
		tr, err := minio.DefaultTransport(true)
		if err != nil {
			return fail("%v", err)
		}
		tr.TLSClientConfig.RootCAs = pool
		mo.Transport = tr
	}
	client, err := minio.New(host, mo)
	if err != nil {
		return fail("%v", err)
	}
	return &S3Target{
		name:     opts.Name,
		region:   opts.Region,
		endpoint: host,
		bucket:   opts.Bucket,
		prefix:   prefix,
		client:   client,
	}, nil
}

// s3Host returns the host[:port] of endpoint, which may carry a scheme that
// must agree with insecure.
func s3Host(endpoint string, insecure bool) (string, error) {
	if !strings.Contains(endpoint, "://") {
		endpoint = "//" + endpoint
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		// Not err itself: it quotes the endpoint, which may hold anything.
		return "", errors.New("not host[:port] or an http(s) URL")
	}
	switch {
	case u.Scheme == "http" && !insecure:
		return "", errors.New("http:// needs Insecure (plain HTTP is only for a local gateway)")
	case u.Scheme == "https" && insecure:
		return "", errors.New("https:// contradicts Insecure")
	case u.Scheme != "" && u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("unknown scheme %q", u.Scheme)
	case u.Host == "":
		return "", errors.New("no host")
	case u.User != nil:
		return "", errors.New("credentials belong in AccessKey and SecretKey, not the endpoint")
	case (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "":
		return "", errors.New("give host[:port] only, without a path")
	}
	return u.Host, nil
}

func (s *S3Target) Name() string   { return s.name }
func (s *S3Target) Region() string { return s.region }

// String says where the target is, for messages; it never holds
// credentials.
func (s *S3Target) String() string {
	return "s3 " + s.endpoint + "/" + s.bucket + "/" + s.prefix
}

// object returns the object name of key.
func (s *S3Target) object(key string) (string, error) {
	if !validKey(key) {
		return "", fmt.Errorf("backup: invalid object name %q", key)
	}
	if s.prefix == "" {
		return key, nil
	}
	return s.prefix + "/" + key, nil
}

// fail wraps an error of an operation on key.
func (s *S3Target) fail(op, key string, err error) error {
	return fmt.Errorf("backup: target %s: %s %s: %w", s.name, op, key, err)
}

func (s *S3Target) notExist(key string) error {
	return fmt.Errorf("%w: %s on target %s", ErrNotExist, key, s.name)
}

// s3Code returns the S3 error code of err, or "".
func s3Code(err error) string {
	var e minio.ErrorResponse
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func (s *S3Target) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	obj, err := s.object(key)
	if err != nil {
		return err
	}
	if _, err := s.client.PutObject(ctx, s.bucket, obj, r, size, s.putOptions(size)); err != nil {
		return s.fail("put", key, err)
	}
	return nil
}

func (s *S3Target) putOptions(size int64) minio.PutObjectOptions {
	o := minio.PutObjectOptions{ContentType: "application/octet-stream"}
	if size < 0 {
		o.PartSize = s3UnknownSizePart
	}
	return o
}

// PutNew stores the object with "If-None-Match: *", which S3 (since 2024),
// MinIO and versitygw honour atomically: of two concurrent writers exactly
// one succeeds. A server that ignores the header would overwrite, so a
// HEAD first refuses the common case (the object is already there) on
// such servers too; only the race between HEAD and PUT is then unguarded.
//
// The object always goes in a single PUT: minio-go (v7.4.1) drops the
// condition from CompleteMultipartUpload, so a multipart upload would
// overwrite unconditionally. Hence the size limits above; PutNew is meant
// for small append-only records and chunks.
//
// A server may refuse a large conditional PUT before reading its body and
// close the connection, so a losing writer can see a network error rather
// than ErrExists; a retry then finds the object in the HEAD.
func (s *S3Target) PutNew(ctx context.Context, key string, r io.Reader, size int64) error {
	obj, err := s.object(key)
	if err != nil {
		return err
	}
	if size > s3MaxSinglePut {
		return s.fail("put", key, fmt.Errorf("%d bytes is over the %d a create-only put can send", size, int64(s3MaxSinglePut)))
	}
	if size < 0 {
		b, err := io.ReadAll(io.LimitReader(readerCtx{ctx, r}, s3PutNewBuffer+1))
		if err != nil {
			return s.fail("put", key, err)
		}
		if len(b) > s3PutNewBuffer {
			return s.fail("put", key, fmt.Errorf("object of unknown size is over the %d bytes a create-only put buffers", s3PutNewBuffer))
		}
		r, size = bytes.NewReader(b), int64(len(b))
	}
	switch _, err := s.client.StatObject(ctx, s.bucket, obj, minio.StatObjectOptions{}); {
	case err == nil:
		return fmt.Errorf("%w: %s on target %s", ErrExists, key, s.name)
	case s3Code(err) != "NoSuchKey":
		return s.fail("put", key, err)
	}
	o := s.putOptions(size)
	o.DisableMultipart = true
	o.SetMatchETagExcept("*")
	if _, err := s.client.PutObject(ctx, s.bucket, obj, r, size, o); err != nil {
		if s3Code(err) == "PreconditionFailed" {
			return fmt.Errorf("%w: %s on target %s", ErrExists, key, s.name)
		}
		return s.fail("put", key, err)
	}
	return nil
}

// Get opens the object with one GET request, made before Get returns, so a
// missing object is reported here. (minio-go's Client.GetObject is lazy and
// starts with a HEAD, whose bodiless 404 cannot tell a missing object from
// a missing bucket; the GET's error body can.)
func (s *S3Target) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	obj, err := s.object(key)
	if err != nil {
		return nil, err
	}
	body, _, _, err := minio.Core{Client: s.client}.GetObject(ctx, s.bucket, obj, minio.GetObjectOptions{})
	if err != nil {
		if s3Code(err) == "NoSuchKey" {
			return nil, s.notExist(key)
		}
		return nil, s.fail("get", key, err)
	}
	return body, nil
}

func (s *S3Target) List(ctx context.Context, prefix string) ([]string, error) {
	full := prefix
	if s.prefix != "" {
		full = s.prefix + "/" + prefix
	}
	// Cancelling on return ends minio-go's listing goroutine, which would
	// otherwise block on the channel after an early return.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var out []string
	for info := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: full, Recursive: true}) {
		if info.Err != nil {
			return nil, fmt.Errorf("backup: target %s: list %s: %w", s.name, prefix, info.Err)
		}
		key := info.Key
		if s.prefix != "" {
			key = strings.TrimPrefix(key, s.prefix+"/")
		}
		out = append(out, key)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("backup: target %s: list %s: %w", s.name, prefix, err)
	}
	// S3 lists in UTF-8 byte order already; sort anyway, as the contract
	// promises it and not every compatible server keeps to it.
	sort.Strings(out)
	return out, nil
}

func (s *S3Target) Delete(ctx context.Context, key string) error {
	obj, err := s.object(key)
	if err != nil {
		return err
	}
	err = s.client.RemoveObject(ctx, s.bucket, obj, minio.RemoveObjectOptions{})
	if err != nil && s3Code(err) != "NoSuchKey" {
		return s.fail("delete", key, err)
	}
	return nil
}

// Check verifies that the bucket exists and that the credentials may use
// it: an error means the target cannot take backups now.
func (s *S3Target) Check(ctx context.Context) error {
	ok, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("backup: target %s (%s): %w", s.name, s, err)
	}
	if !ok {
		return fmt.Errorf("backup: target %s (%s): bucket %s does not exist", s.name, s, s.bucket)
	}
	return nil
}
