package valvtest

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// VersityVersion is the versitygw release the harness is tested with;
// scripts/install-deps.sh installs it with
// go install github.com/versity/versitygw/cmd/versitygw@VersityVersion.
const VersityVersion = "v1.8.0"

// S3Bucket is the bucket StartS3 creates.
const S3Bucket = "valv-backups"

// S3Region is the region the harness gateway signs and answers for.
const S3Region = "eu-north-1"

// S3ServerOptions adjust a harness S3 gateway.
type S3ServerOptions struct {
	// TLS makes the gateway speak HTTPS with a certificate from a
	// throwaway CA (S3Server.TLS.CAFile) instead of plain HTTP.
	TLS bool
}

// S3Server is a versitygw S3 gateway with its posix backend, run as a child
// of the test binary on 127.0.0.1, with random root credentials and its data
// in a directory of its own. Stop and Start take it down and bring it back
// with the same port, credentials and data.
type S3Server struct {
	// Endpoint is "127.0.0.1:port": plain HTTP, or HTTPS with
	// S3ServerOptions.TLS.
	Endpoint  string
	AccessKey string
	SecretKey string
	Bucket    string
	Region    string
	// TLS holds the CA and server certificate with S3ServerOptions.TLS;
	// it is zero otherwise.
	TLS TLSFiles
	// Dir holds the gateway's data (Dir/data, one directory per bucket)
	// and its output (Dir/versitygw.out).
	Dir string

	bin    string
	cmd    *exec.Cmd
	exited chan struct{}
}

// VersityBin finds the versitygw binary: in PATH, in $GOBIN, or in
// $(go env GOPATH)/bin, where go install puts it.
func VersityBin() (string, error) {
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, nil
	}
	var dirs []string
	if d := os.Getenv("GOBIN"); d != "" {
		dirs = append(dirs, d)
	}
	if out, err := exec.Command("go", "env", "GOBIN", "GOPATH").Output(); err == nil {
		// One line each; GOBIN's is empty when unset.
		lines := strings.Split(string(out), "\n")
		if len(lines) >= 2 {
			if gobin := strings.TrimSpace(lines[0]); gobin != "" {
				dirs = append(dirs, gobin)
			}
			for _, gp := range filepath.SplitList(strings.TrimSpace(lines[1])) {
				dirs = append(dirs, filepath.Join(gp, "bin"))
			}
		}
	}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, "go", "bin")) // the default GOPATH
	}
	for _, d := range dirs {
		p := filepath.Join(d, "versitygw")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 { // #nosec G703 -- test helper: p is a fixed binary name in PATH, $GOBIN, GOPATH/bin or ~/go/bin, only stat-ed
			return p, nil
		}
	}
	return "", fmt.Errorf("no versitygw binary found in PATH, $GOBIN or $(go env GOPATH)/bin; run scripts/install-deps.sh (go install github.com/versity/versitygw/cmd/versitygw@%s)", VersityVersion)
}

// StartS3 starts a gateway in a new directory under parent ("" for the
// system's temporary directory) on a free port, waits until it answers a
// signed request and creates the bucket S3Bucket. The process gets SIGKILL
// if the test binary dies.
func StartS3(ctx context.Context, parent string) (*S3Server, error) {
	return StartS3With(ctx, parent, S3ServerOptions{})
}

// StartS3With is StartS3 with options.
func StartS3With(ctx context.Context, parent string, opts S3ServerOptions) (*S3Server, error) {
	bin, err := VersityBin()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(parent, "valv-s3-")
	if err != nil {
		return nil, err
	}
	if err := os.Mkdir(filepath.Join(dir, "data"), 0o700); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	port, err := FreePort()
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	s := &S3Server{
		Endpoint:  net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		AccessKey: "valv" + randomHex(8),
		SecretKey: randomHex(20),
		Bucket:    S3Bucket,
		Region:    S3Region,
		Dir:       dir,
		bin:       bin,
	}
	if opts.TLS {
		if s.TLS, err = WriteTLSFiles(dir); err != nil {
			_ = os.RemoveAll(dir)
			return nil, err
		}
	}
	if err := s.Start(ctx); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	c, err := s.Client()
	if err == nil {
		err = c.MakeBucket(ctx, s.Bucket, minio.MakeBucketOptions{Region: s.Region})
	}
	if err != nil {
		s.Remove()
		return nil, fmt.Errorf("create bucket %s on versitygw: %w", s.Bucket, err)
	}
	return s, nil
}

// Client returns a minio-go client for the gateway, signed with its root
// credentials (and trusting its CA with S3ServerOptions.TLS). It does not
// retry failed requests.
func (s *S3Server) Client() (*minio.Client, error) {
	opts := &minio.Options{
		Creds:      credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""),
		Region:     s.Region,
		MaxRetries: 1,
	}
	if s.TLS.CAFile != "" {
		pem, err := os.ReadFile(s.TLS.CAFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, errors.New("no certificate in " + s.TLS.CAFile)
		}
		tr, err := minio.DefaultTransport(true)
		if err != nil {
			return nil, err
		}
		tr.TLSClientConfig.RootCAs = pool
		opts.Secure, opts.Transport = true, tr
	}
	return minio.New(s.Endpoint, opts)
}

// Start starts the gateway process (again, after Stop) on the same port,
// credentials and data, and waits until it answers.
func (s *S3Server) Start(ctx context.Context) error {
	if s.exited != nil {
		select {
		case <-s.exited:
		default:
			return errors.New("versitygw is already running")
		}
	}
	out, err := os.OpenFile(filepath.Join(s.Dir, "versitygw.out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	args := []string{
		"--port", s.Endpoint,
		"--region", s.Region,
		"--quiet", // no line per request on stdout
	}
	if s.TLS.CertFile != "" {
		args = append(args, "--cert", s.TLS.CertFile, "--key", s.TLS.KeyFile)
	}
	args = append(args, "posix", filepath.Join(s.Dir, "data"))
	cmd := exec.Command(s.bin, args...)
	// The root credentials go in the environment, where other users cannot
	// read them (unlike the command line in ps). Inherited VGW_* and
	// similar settings are dropped so the gateway runs as configured here.
	cmd.Env = append(versityEnv(os.Environ()),
		"ROOT_ACCESS_KEY_ID="+s.AccessKey,
		"ROOT_SECRET_ACCESS_KEY="+s.SecretKey,
	)
	cmd.Dir = s.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		out.Close()
		return fmt.Errorf("start versitygw: %w", err)
	}
	s.cmd = cmd
	s.exited = make(chan struct{})
	exited := s.exited
	go func() { _ = cmd.Wait(); out.Close(); close(exited) }()

	c, err := s.Client()
	if err != nil {
		s.Stop()
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		_, err := c.ListBuckets(pctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("versitygw exited at start: %s", s.logTail())
		default:
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			s.Stop()
			return fmt.Errorf("versitygw did not answer in time: %v: %s", err, s.logTail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// versityEnv drops the variables versitygw reads its settings from.
func versityEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(name, "VGW_"), strings.HasPrefix(name, "ROOT_"),
			name == "LOGFILE", name == "WEBHOOK":
			continue
		}
		out = append(out, kv)
	}
	return out
}

func (s *S3Server) logTail() string {
	data, _ := os.ReadFile(filepath.Join(s.Dir, "versitygw.out"))
	return lastLines(string(data), 5)
}

// Stop kills the gateway at once (SIGKILL) and waits until it is gone, as
// when a backup target goes down. Its data stays; Start brings it back.
func (s *S3Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	select {
	case <-s.exited:
		return // never signal a pid that may have been reused
	default:
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	<-s.exited
}

// Remove stops the gateway and deletes its directory.
func (s *S3Server) Remove() {
	s.Stop()
	_ = os.RemoveAll(s.Dir)
}

// S3 starts a versitygw S3 gateway for this test, with the bucket S3Bucket
// (see StartS3), and removes it when the test ends. Without versitygw the
// test is skipped (or fails under VALV_REQUIRE_INTEGRATION=1); a gateway
// that is installed but does not start fails the test. It starts in well
// under a second, so each test may have its own.
func S3(t testing.TB) *S3Server {
	t.Helper()
	return S3With(t, S3ServerOptions{})
}

// S3With is S3 with options.
func S3With(t testing.TB, opts S3ServerOptions) *S3Server {
	t.Helper()
	if _, err := VersityBin(); err != nil {
		Missing(t, "versitygw", err.Error())
	}
	s, err := StartS3With(context.Background(), "", opts)
	if err != nil {
		t.Fatalf("start versitygw: %v", err)
	}
	t.Cleanup(s.Remove)
	return s
}
