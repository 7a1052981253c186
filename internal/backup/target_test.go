package backup

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/valvhq/valv/internal/valvtest"
)

var (
	_ Target = (*DirTarget)(nil)
	_ Target = (*S3Target)(nil)
)

// testTarget is the contract every Target keeps. Each case works under its
// own key prefix, so the cases share one target.
func testTarget(t *testing.T, tgt Target) {
	ctx := context.Background()
	put := func(t *testing.T, key, data string) {
		t.Helper()
		if err := tgt.Put(ctx, key, strings.NewReader(data), int64(len(data))); err != nil {
			t.Fatalf("Put(%q): %v", key, err)
		}
	}
	get := func(t *testing.T, key string) string {
		t.Helper()
		rc, err := tgt.Get(ctx, key)
		if err != nil {
			t.Fatalf("Get(%q): %v", key, err)
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		if err != nil {
			t.Fatalf("read %q: %v", key, err)
		}
		return string(b)
	}
	list := func(t *testing.T, prefix string) []string {
		t.Helper()
		keys, err := tgt.List(ctx, prefix)
		if err != nil {
			t.Fatalf("List(%q): %v", prefix, err)
		}
		return keys
	}
	missing := func(t *testing.T, key string) {
		t.Helper()
		rc, err := tgt.Get(ctx, key)
		if err == nil {
			rc.Close()
			t.Fatalf("Get(%q) of a missing object succeeded", key)
		}
		if !errors.Is(err, ErrNotExist) {
			t.Fatalf("Get(%q) = %v, want ErrNotExist", key, err)
		}
		if !strings.Contains(err.Error(), key) {
			t.Errorf("Get(%q) error %q does not name the key", key, err)
		}
	}

	tests := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"RoundTrip", func(t *testing.T) {
			data := strings.Repeat("snapshot bytes\x00\xff", 1000)
			put(t, "rt/backups/1/chunk-000", data)
			if got := get(t, "rt/backups/1/chunk-000"); got != data {
				t.Fatalf("Get returned %d bytes, want the %d put", len(got), len(data))
			}
		}},
		{"Empty", func(t *testing.T) {
			put(t, "empty/x", "")
			if got := get(t, "empty/x"); got != "" {
				t.Fatalf("Get = %q, want empty", got)
			}
		}},
		{"UnknownSize", func(t *testing.T) {
			data := strings.Repeat("u", 100_000)
			if err := tgt.Put(ctx, "unknown/x", strings.NewReader(data), -1); err != nil {
				t.Fatalf("Put with size -1: %v", err)
			}
			if got := get(t, "unknown/x"); got != data {
				t.Fatalf("Get returned %d bytes, want %d", len(got), len(data))
			}
		}},
		{"Overwrite", func(t *testing.T) {
			put(t, "ow/x", "first version, longer")
			put(t, "ow/x", "second")
			if got := get(t, "ow/x"); got != "second" {
				t.Fatalf("Get after overwrite = %q, want %q", got, "second")
			}
		}},
		{"PutNew", func(t *testing.T) {
			if err := tgt.PutNew(ctx, "new/x", strings.NewReader("one"), 3); err != nil {
				t.Fatalf("PutNew of a new key: %v", err)
			}
			err := tgt.PutNew(ctx, "new/x", strings.NewReader("two"), 3)
			if !errors.Is(err, ErrExists) {
				t.Fatalf("PutNew of an existing key = %v, want ErrExists", err)
			}
			if got := get(t, "new/x"); got != "one" {
				t.Fatalf("PutNew on an existing key changed it to %q", got)
			}
			// Put still overwrites what PutNew wrote.
			put(t, "new/x", "three")
			if got := get(t, "new/x"); got != "three" {
				t.Fatalf("Get after Put = %q", got)
			}
		}},
		{"PutNewUnknownSize", func(t *testing.T) {
			if err := tgt.PutNew(ctx, "newu/x", strings.NewReader("one"), -1); err != nil {
				t.Fatalf("PutNew with size -1: %v", err)
			}
			if err := tgt.PutNew(ctx, "newu/x", strings.NewReader("two"), -1); !errors.Is(err, ErrExists) {
				t.Fatalf("PutNew with size -1 of an existing key = %v, want ErrExists", err)
			}
			if got := get(t, "newu/x"); got != "one" {
				t.Fatalf("Get = %q, want %q", got, "one")
			}
		}},
		{"PutNewConcurrent", func(t *testing.T) {
			putNewRace(t, tgt, "race/small", 8, 4096)
		}},
		{"GetMissing", func(t *testing.T) {
			missing(t, "nothing/here")
		}},
		{"List", func(t *testing.T) {
			for _, k := range []string{"ls/a/2", "ls/a/10", "ls/a/1", "ls/b/1", "lsx/1", "ls/a1"} {
				put(t, k, k)
			}
			if got, want := list(t, "ls/a/"), []string{"ls/a/1", "ls/a/10", "ls/a/2"}; !slices.Equal(got, want) {
				t.Errorf("List(ls/a/) = %q, want %q", got, want)
			}
			if got, want := list(t, "ls/"), []string{"ls/a/1", "ls/a/10", "ls/a/2", "ls/a1", "ls/b/1"}; !slices.Equal(got, want) {
				t.Errorf("List(ls/) = %q, want %q", got, want)
			}
			if got, want := list(t, "ls"), []string{"ls/a/1", "ls/a/10", "ls/a/2", "ls/a1", "ls/b/1", "lsx/1"}; !slices.Equal(got, want) {
				t.Errorf("List(ls) = %q, want %q", got, want)
			}
			if got := list(t, "nolist/"); len(got) != 0 {
				t.Errorf("List(nolist/) = %q, want none", got)
			}
			all := list(t, "")
			if !slices.IsSorted(all) || !slices.Contains(all, "lsx/1") {
				t.Errorf("List(\"\") = %q, want every key, sorted", all)
			}
		}},
		{"Delete", func(t *testing.T) {
			put(t, "del/a/x", "x")
			put(t, "del/a/y", "y")
			if err := tgt.Delete(ctx, "del/a/x"); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			missing(t, "del/a/x")
			if got, want := list(t, "del/"), []string{"del/a/y"}; !slices.Equal(got, want) {
				t.Errorf("List after Delete = %q, want %q", got, want)
			}
			// PutNew may use the key again.
			if err := tgt.PutNew(ctx, "del/a/x", strings.NewReader("again"), 5); err != nil {
				t.Fatalf("PutNew after Delete: %v", err)
			}
		}},
		{"DeleteMissing", func(t *testing.T) {
			if err := tgt.Delete(ctx, "nothing/to/delete"); err != nil {
				t.Fatalf("Delete of a missing object: %v", err)
			}
		}},
		{"InvalidKeys", func(t *testing.T) {
			for _, key := range []string{"../x", "a/../../x", "/x", "a//b", "", "a/./b", "a/", "."} {
				if err := tgt.Put(ctx, key, strings.NewReader("x"), 1); err == nil {
					t.Errorf("Put(%q) succeeded", key)
				}
				if err := tgt.PutNew(ctx, key, strings.NewReader("x"), 1); err == nil {
					t.Errorf("PutNew(%q) succeeded", key)
				}
				if rc, err := tgt.Get(ctx, key); err == nil {
					rc.Close()
					t.Errorf("Get(%q) succeeded", key)
				} else if errors.Is(err, ErrNotExist) {
					t.Errorf("Get(%q) = %v, want an invalid-name error", key, err)
				}
				if err := tgt.Delete(ctx, key); err == nil {
					t.Errorf("Delete(%q) succeeded", key)
				}
			}
		}},
		{"Cancelled", func(t *testing.T) {
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			if err := tgt.Put(cctx, "cancel/x", strings.NewReader("x"), 1); err == nil {
				t.Fatal("Put with a cancelled context succeeded")
			}
			missing(t, "cancel/x")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, tc.run)
	}
}

// putNewRace has n writers PutNew the same key at once, each with its own
// content of size bytes: exactly one must succeed, the others see ErrExists,
// and the object must be the winner's whole.
func putNewRace(t *testing.T, tgt Target, key string, n, size int) {
	t.Helper()
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			data := bytes.Repeat([]byte{byte('a' + i)}, size)
			errs[i] = tgt.PutNew(ctx, key, bytes.NewReader(data), int64(size))
		})
	}
	wg.Wait()
	won := -1
	for i, err := range errs {
		switch {
		case err == nil && won >= 0:
			t.Errorf("writers %d and %d both succeeded", won, i)
		case err == nil:
			won = i
		case !errors.Is(err, ErrExists):
			t.Errorf("writer %d: %v, want nil or ErrExists", i, err)
		}
	}
	if won < 0 {
		t.Fatal("no concurrent PutNew call succeeded")
	}
	rc, err := tgt.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	if want := bytes.Repeat([]byte{byte('a' + won)}, size); !bytes.Equal(got, want) {
		t.Fatalf("object is not writer %d's whole content (%d bytes, starts %.20q)", won, len(got), got)
	}
}

func TestDirTarget(t *testing.T) {
	root := t.TempDir()
	tgt, err := NewDirTarget("primary", "se-sto", root)
	if err != nil {
		t.Fatal(err)
	}
	testTarget(t, tgt)
	// Nothing may be written outside the root, whatever the key.
	entries, _ := os.ReadDir(filepath.Dir(root))
	for _, e := range entries {
		if e.Name() != filepath.Base(root) {
			t.Errorf("file %s written beside the target's root", e.Name())
		}
	}
}

// s3Target returns a target for srv's bucket under prefix.
func s3Target(t *testing.T, srv *valvtest.S3Server, prefix string) *S3Target {
	t.Helper()
	tgt, err := NewS3Target(S3Options{
		Name:      "offsite",
		Region:    srv.Region,
		Endpoint:  srv.Endpoint,
		Bucket:    srv.Bucket,
		Prefix:    prefix,
		AccessKey: srv.AccessKey,
		SecretKey: srv.SecretKey,
		Insecure:  srv.TLS.CAFile == "",
		CAFile:    srv.TLS.CAFile,
	})
	if err != nil {
		t.Fatalf("NewS3Target: %v", err)
	}
	return tgt
}

func TestS3Target(t *testing.T) {
	srv := valvtest.S3(t)
	for _, prefix := range []string{"", "valv/prod"} {
		t.Run("prefix="+prefix, func(t *testing.T) {
			tgt := s3Target(t, srv, prefix)
			if err := tgt.Check(context.Background()); err != nil {
				t.Fatalf("Check: %v", err)
			}
			testTarget(t, tgt)
		})
	}
}

// TestS3TargetPrefix checks where objects land in the bucket and that
// targets with different prefixes do not see each other's objects.
func TestS3TargetPrefix(t *testing.T) {
	srv := valvtest.S3(t)
	ctx := context.Background()
	a, b := s3Target(t, srv, "site-a/"), s3Target(t, srv, "site-b")
	if err := a.Put(ctx, "backups/1/manifest", strings.NewReader("a"), 1); err != nil {
		t.Fatal(err)
	}
	if err := b.Put(ctx, "backups/2/manifest", strings.NewReader("b"), 1); err != nil {
		t.Fatal(err)
	}
	if got, _ := a.List(ctx, ""); !slices.Equal(got, []string{"backups/1/manifest"}) {
		t.Errorf("a.List = %q", got)
	}
	if got, _ := b.List(ctx, "backups/"); !slices.Equal(got, []string{"backups/2/manifest"}) {
		t.Errorf("b.List = %q", got)
	}
	if _, err := b.Get(ctx, "backups/1/manifest"); !errors.Is(err, ErrNotExist) {
		t.Errorf("b.Get of a's object = %v, want ErrNotExist", err)
	}
	c, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for o := range c.ListObjects(ctx, srv.Bucket, minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		names = append(names, o.Key)
	}
	if want := []string{"site-a/backups/1/manifest", "site-b/backups/2/manifest"}; !slices.Equal(names, want) {
		t.Errorf("objects in the bucket = %q, want %q", names, want)
	}
	if got, want := a.String(), "s3 "+srv.Endpoint+"/"+srv.Bucket+"/site-a"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

// TestS3TargetConditionalPut shows that the gateway itself refuses a PUT
// with "If-None-Match: *" on an existing object, so PutNew's guarantee does
// not rest on its HEAD check alone. PutNew never uses multipart uploads,
// whose completion minio-go sends without the condition.
func TestS3TargetConditionalPut(t *testing.T) {
	srv := valvtest.S3(t)
	ctx := context.Background()
	c, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	condPut := func(data []byte) error {
		opts := minio.PutObjectOptions{DisableMultipart: true}
		opts.SetMatchETagExcept("*")
		_, err := c.PutObject(ctx, srv.Bucket, "cond", bytes.NewReader(data), int64(len(data)), opts)
		return err
	}
	if err := condPut([]byte("first")); err != nil {
		t.Fatalf("conditional PUT of a new object: %v", err)
	}
	err = condPut([]byte("second"))
	if code := minio.ToErrorResponse(err).Code; code != "PreconditionFailed" {
		t.Fatalf("conditional PUT of an existing object: %v (code %q), want PreconditionFailed", err, code)
	}

	// A large body: the gateway may answer 412 before reading it and close
	// the connection, which the client may see as a reset instead. Either
	// way the PUT fails and the object stays.
	big := bytes.Repeat([]byte{'x'}, 17<<20) // over minio-go's multipart threshold
	if err := condPut(big); err == nil {
		t.Fatal("large conditional PUT of an existing object succeeded")
	} else {
		t.Logf("large conditional PUT of an existing object: %v", err)
	}
	o, _, _, err := minio.Core{Client: c}.GetObject(ctx, srv.Bucket, "cond", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(o)
	o.Close()
	if string(got) != "first" {
		t.Fatalf("object after refused PUTs is %d bytes, want %q", len(got), "first")
	}

	// Through PutNew, with racing writers of large objects.
	putNewRace(t, s3Target(t, srv, "big"), "race", 4, 17<<20)
}

// TestS3TargetDown takes the gateway away: calls fail promptly, without
// credentials in the errors, and work again once it is back.
func TestS3TargetDown(t *testing.T) {
	srv := valvtest.S3(t)
	tgt := s3Target(t, srv, "p")
	ctx := context.Background()
	if err := tgt.Put(ctx, "kept", strings.NewReader("kept"), 4); err != nil {
		t.Fatal(err)
	}

	srv.Stop()
	noSecret := func(what string, err error) {
		t.Helper()
		if err == nil {
			t.Errorf("%s with the target down succeeded", what)
		} else if strings.Contains(err.Error(), srv.SecretKey) {
			t.Errorf("%s error holds the secret key: %v", what, err)
		}
	}
	start := time.Now()
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	noSecret("Put", tgt.Put(cctx, "x", strings.NewReader("x"), 1))
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Put took %v to fail, want a prompt error", d)
	}
	t.Logf("Put failed after %v", time.Since(start).Round(time.Millisecond))
	noSecret("PutNew", tgt.PutNew(cctx, "y", strings.NewReader("y"), 1))
	_, err := tgt.Get(cctx, "kept")
	noSecret("Get", err)
	if errors.Is(err, ErrNotExist) {
		t.Errorf("Get with the target down = %v; must not claim the object is missing", err)
	}
	_, err = tgt.List(cctx, "")
	noSecret("List", err)
	noSecret("Check", tgt.Check(cctx))

	// A short deadline bounds a call whatever the retries.
	sctx, scancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer scancel()
	start = time.Now()
	noSecret("Put with a short deadline", tgt.Put(sctx, "x", strings.NewReader("x"), 1))
	if d := time.Since(start); d > time.Second {
		t.Errorf("Put ran %v past a 100ms deadline", d)
	}

	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tgt.Check(ctx); err != nil {
		t.Fatalf("Check after restart: %v", err)
	}
	if err := tgt.Put(ctx, "x", strings.NewReader("x"), 1); err != nil {
		t.Fatalf("Put after restart: %v", err)
	}
	rc, err := tgt.Get(ctx, "kept")
	if err != nil {
		t.Fatalf("Get after restart: %v", err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "kept" {
		t.Fatalf("object after restart = %q", b)
	}
}

// TestS3TargetAuth checks that wrong credentials and a missing bucket make
// Check fail, and that no error carries the secret.
func TestS3TargetAuth(t *testing.T) {
	srv := valvtest.S3(t)
	ctx := context.Background()
	const wrong = "wrong-secret-0123456789abcdef"
	for _, tc := range []struct {
		name           string
		bucket, secret string
	}{
		{"WrongSecret", srv.Bucket, wrong},
		{"NoBucket", "no-such-bucket", srv.SecretKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tgt, err := NewS3Target(S3Options{
				Name: "offsite", Region: srv.Region, Endpoint: srv.Endpoint, Bucket: tc.bucket,
				AccessKey: srv.AccessKey, SecretKey: tc.secret, Insecure: true,
			})
			if err != nil {
				t.Fatal(err)
			}
			errs := map[string]error{"Check": tgt.Check(ctx)}
			errs["Put"] = tgt.Put(ctx, "x", strings.NewReader("x"), 1)
			_, errs["Get"] = tgt.Get(ctx, "x")
			for what, err := range errs {
				if err == nil {
					t.Errorf("%s succeeded", what)
					continue
				}
				if strings.Contains(err.Error(), tc.secret) {
					t.Errorf("%s error holds the secret: %v", what, err)
				}
				if what == "Get" && errors.Is(err, ErrNotExist) {
					t.Errorf("Get = %v; must not claim the object is missing", err)
				}
			}
			t.Logf("Check: %v", errs["Check"])
		})
	}
}

// TestS3TargetTLS reaches a gateway over HTTPS whose certificate comes from
// a CA given in CAFile; without it the certificate is refused.
func TestS3TargetTLS(t *testing.T) {
	srv := valvtest.S3With(t, valvtest.S3ServerOptions{TLS: true})
	ctx := context.Background()
	tgt := s3Target(t, srv, "tls")
	if err := tgt.Check(ctx); err != nil {
		t.Fatalf("Check: %v", err)
	}
	if err := tgt.PutNew(ctx, "x", strings.NewReader("x"), 1); err != nil {
		t.Fatalf("PutNew over TLS: %v", err)
	}
	untrusted, err := NewS3Target(S3Options{
		Name: "offsite", Endpoint: "https://" + srv.Endpoint, Bucket: srv.Bucket,
		Region: srv.Region, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := untrusted.Check(ctx); err == nil {
		t.Fatal("Check succeeded against a certificate from an unknown CA")
	}
}

func TestS3TargetOptions(t *testing.T) {
	dir := t.TempDir()
	ca, err := valvtest.WriteTLSFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	const secret = "s3cr3t-that-must-not-leak"
	valid := S3Options{
		Name: "offsite", Region: "eu-north-1", Endpoint: "s3.example.net",
		Bucket: "valv-backups", AccessKey: "AKIAEXAMPLE", SecretKey: secret,
	}
	tests := []struct {
		name    string
		edit    func(o *S3Options)
		wantErr string // "" for success
		str     string // String() on success
	}{
		{"Valid", func(o *S3Options) {}, "", "s3 s3.example.net/valv-backups/"},
		{"ValidPrefix", func(o *S3Options) { o.Prefix = "valv/prod/" }, "", "s3 s3.example.net/valv-backups/valv/prod"},
		{"HTTPSURL", func(o *S3Options) { o.Endpoint = "https://s3.example.net:9000" }, "", "s3 s3.example.net:9000/valv-backups/"},
		{"HTTPURLInsecure", func(o *S3Options) { o.Endpoint = "http://127.0.0.1:7070/"; o.Insecure = true }, "", "s3 127.0.0.1:7070/valv-backups/"},
		{"CAFile", func(o *S3Options) { o.CAFile = ca.CAFile }, "", "s3 s3.example.net/valv-backups/"},
		{"NoRegion", func(o *S3Options) { o.Region = "" }, "", "s3 s3.example.net/valv-backups/"},
		{"NoName", func(o *S3Options) { o.Name = "" }, "Name is required", ""},
		{"NoEndpoint", func(o *S3Options) { o.Endpoint = "" }, "Endpoint is required", ""},
		{"NoBucket", func(o *S3Options) { o.Bucket = "" }, "Bucket is required", ""},
		{"NoAccessKey", func(o *S3Options) { o.AccessKey = "" }, "AccessKey is required", ""},
		{"NoSecretKey", func(o *S3Options) { o.SecretKey = "" }, "SecretKey is required", ""},
		{"BadBucket", func(o *S3Options) { o.Bucket = "Valv_Backups" }, "Bucket", ""},
		{"EndpointPath", func(o *S3Options) { o.Endpoint = "s3.example.net/bucket" }, "Endpoint", ""},
		{"EndpointHTTPNotInsecure", func(o *S3Options) { o.Endpoint = "http://s3.example.net" }, "Insecure", ""},
		{"EndpointHTTPSInsecure", func(o *S3Options) { o.Endpoint = "https://s3.example.net"; o.Insecure = true }, "Insecure", ""},
		{"EndpointScheme", func(o *S3Options) { o.Endpoint = "ftp://s3.example.net" }, "Endpoint", ""},
		{"EndpointUserinfo", func(o *S3Options) { o.Endpoint = "https://AKIAEXAMPLE:" + secret + "@s3.example.net" }, "Endpoint", ""},
		{"BadPrefix", func(o *S3Options) { o.Prefix = "../up" }, "Prefix", ""},
		{"AbsPrefix", func(o *S3Options) { o.Prefix = "/abs" }, "Prefix", ""},
		{"CAFileMissing", func(o *S3Options) { o.CAFile = filepath.Join(dir, "nope.pem") }, "CAFile", ""},
		{"CAFileNotPEM", func(o *S3Options) { o.CAFile = notPEM }, "CAFile", ""},
		{"CAFileInsecure", func(o *S3Options) { o.CAFile = ca.CAFile; o.Insecure = true }, "CAFile", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := valid
			tc.edit(&o)
			tgt, err := NewS3Target(o)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("NewS3Target: %v", err)
				}
				if got := tgt.String(); got != tc.str {
					t.Errorf("String() = %q, want %q", got, tc.str)
				}
				if tgt.Name() != o.Name || tgt.Region() != o.Region {
					t.Errorf("Name, Region = %q, %q", tgt.Name(), tgt.Region())
				}
				return
			}
			if err == nil {
				t.Fatalf("NewS3Target succeeded, want an error about %s", tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q does not mention %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error holds the secret key: %v", err)
			}
		})
	}
}
