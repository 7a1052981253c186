package valvtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the PostgreSQL driver, for tests
)

// PostgresURLEnv names an existing PostgreSQL server to use instead of
// starting a throwaway cluster. Its user must be allowed to create databases.
const PostgresURLEnv = "VALV_TEST_POSTGRES_URL"

// Cluster is a throwaway PostgreSQL cluster on 127.0.0.1, with TLS on and
// password authentication, run as a child process that dies with the test.
type Cluster struct {
	// URL connects to the "postgres" database as the cluster's superuser.
	URL  string
	Port int
	Dir  string
	TLS  TLSFiles

	cmd      *exec.Cmd
	password string
	cred     *syscall.Credential
	bin      string
	exited   chan struct{}
}

// PostgresBinDir finds the installed PostgreSQL server binaries, newest
// version first.
func PostgresBinDir() (string, error) {
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	sort.Slice(matches, func(i, j int) bool { return versionOf(matches[i]) > versionOf(matches[j]) })
	if len(matches) > 0 {
		return filepath.Dir(matches[0]), nil
	}
	if p, err := exec.LookPath("postgres"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errors.New("no PostgreSQL server binaries (postgres, initdb) found; install the postgresql package")
}

func versionOf(path string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(path))))
	return v
}

// ClusterOptions adjust a cluster.
type ClusterOptions struct {
	// Settings are extra postgresql.conf lines.
	Settings []string
	// HBA are extra pg_hba.conf lines, placed before the defaults.
	HBA []string
	// Port, if non-zero, is used instead of a free port.
	Port int
}

// StartCluster initialises and starts a cluster in a new directory under
// parent. As root, it runs the server as the postgres user (initdb refuses
// root).
func StartCluster(ctx context.Context, parent string, opts ClusterOptions) (*Cluster, error) {
	bin, err := PostgresBinDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(parent, "valv-pg-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{Dir: dir, bin: bin, exited: make(chan struct{})}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root needs a postgres user to run the server: %w", err)
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("the postgres user has no numeric uid and gid (%q, %q)", u.Uid, u.Gid)
		}
		c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chmod(dir, 0o755); err != nil {
			return nil, err
		}
		if err := os.Chown(dir, int(uid), int(gid)); err != nil {
			return nil, err
		}
	}
	pw := make([]byte, 16)
	_, _ = rand.Read(pw)
	c.password = hex.EncodeToString(pw)
	pwfile := filepath.Join(dir, "pwfile")
	if err := c.writeOwned(pwfile, []byte(c.password+"\n"), 0o600); err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "data")
	if out, err := c.run(ctx, "initdb", "-D", data, "-U", "valv", "--pwfile", pwfile,
		"--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync"); err != nil {
		return nil, fmt.Errorf("initdb: %v: %s", err, out)
	}
	if c.TLS, err = WriteTLSFiles(dir); err != nil {
		return nil, err
	}
	if c.cred != nil {
		for _, f := range []string{c.TLS.CertFile, c.TLS.KeyFile} {
			if err := os.Chown(f, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
				return nil, err
			}
		}
	}
	c.Port = opts.Port
	if c.Port == 0 {
		if c.Port, err = FreePort(); err != nil {
			return nil, err
		}
	}
	conf := []string{
		"listen_addresses = '127.0.0.1'",
		fmt.Sprintf("port = %d", c.Port),
		fmt.Sprintf("unix_socket_directories = '%s'", dir),
		"ssl = on",
		fmt.Sprintf("ssl_cert_file = '%s'", c.TLS.CertFile),
		fmt.Sprintf("ssl_key_file = '%s'", c.TLS.KeyFile),
		"ssl_min_protocol_version = 'TLSv1.2'",
		"max_connections = 200",
		"shared_buffers = 64MB",
		"log_min_messages = warning",
		"logging_collector = off",
	}
	conf = append(conf, opts.Settings...)
	if err := appendFile(filepath.Join(data, "postgresql.conf"), strings.Join(conf, "\n")+"\n"); err != nil {
		return nil, err
	}
	hba := append([]string{}, opts.HBA...)
	hba = append(hba,
		"local all all trust",
		"hostssl all all 127.0.0.1/32 scram-sha-256",
		"hostssl replication all 127.0.0.1/32 scram-sha-256",
		"host all all 0.0.0.0/0 reject",
	)
	if err := os.WriteFile(filepath.Join(data, "pg_hba.conf"), []byte(strings.Join(hba, "\n")+"\n"), 0o600); err != nil {
		return nil, err
	}
	if c.cred != nil {
		_ = os.Chown(filepath.Join(data, "pg_hba.conf"), int(c.cred.Uid), int(c.cred.Gid))
	}
	c.URL = c.DatabaseURL("postgres")
	if err := c.Start(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// DatabaseURL returns a URL for one database of the cluster, verifying the
// server's certificate against the cluster's CA.
func (c *Cluster) DatabaseURL(db string) string {
	u := url.URL{
		Scheme: "postgres",
		User:   url.UserPassword("valv", c.password),
		Host:   net.JoinHostPort("127.0.0.1", strconv.Itoa(c.Port)),
		Path:   "/" + db,
	}
	q := url.Values{}
	q.Set("sslmode", "verify-full")
	q.Set("sslrootcert", c.TLS.CAFile)
	u.RawQuery = q.Encode()
	return u.String()
}

// Password returns the superuser's password.
func (c *Cluster) Password() string { return c.password }

// DataDir is the cluster's data directory.
func (c *Cluster) DataDir() string { return filepath.Join(c.Dir, "data") }

// Start starts the server process and waits until it accepts connections.
func (c *Cluster) Start(ctx context.Context) error {
	cmd := exec.Command(filepath.Join(c.bin, "postgres"), "-D", c.DataDir())
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred, Pdeathsig: syscall.SIGKILL, Setpgid: true}
	logf, err := os.OpenFile(filepath.Join(c.Dir, "server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start postgres: %w", err)
	}
	c.cmd = cmd
	c.exited = make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(c.exited) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		db, err := sql.Open("pgx", c.URL)
		if err == nil {
			pctx, cancel := context.WithTimeout(ctx, time.Second)
			err = db.PingContext(pctx)
			cancel()
			db.Close()
		}
		if err == nil {
			return nil
		}
		select {
		case <-c.exited:
			log, _ := os.ReadFile(filepath.Join(c.Dir, "server.log"))
			return fmt.Errorf("postgres exited at start: %s", lastLines(string(log), 5))
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postgres did not accept connections in time: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Kill stops the server at once (SIGKILL), like a power cut to the process.
func (c *Cluster) Kill() {
	if c.cmd != nil && c.cmd.Process != nil {
		_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
		<-c.exited
	}
}

// Stop shuts the server down (fast mode) and removes nothing.
func (c *Cluster) Stop() {
	if c.cmd == nil || c.cmd.Process == nil {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-c.exited:
	case <-time.After(10 * time.Second):
		c.Kill()
	}
}

// Remove stops the server and deletes the cluster's directory.
func (c *Cluster) Remove() {
	c.Stop()
	_ = os.RemoveAll(c.Dir)
}

// Run runs one of the cluster's client or server binaries (pg_ctl,
// pg_basebackup, ...) as the cluster's user.
func (c *Cluster) Run(ctx context.Context, name string, args ...string) (string, error) {
	return c.run(ctx, name, args...)
}

func (c *Cluster) run(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(c.bin, name), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	cmd.Dir = c.Dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (c *Cluster) writeOwned(path string, data []byte, mode os.FileMode) error {
	if err := os.WriteFile(path, data, mode); err != nil {
		return err
	}
	if c.cred != nil {
		return os.Chown(path, int(c.cred.Uid), int(c.cred.Gid))
	}
	return nil
}

func appendFile(path, s string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.WriteString(s)
	return err
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// shared is the one cluster a test binary starts on first use; Main stops it.
var shared struct {
	sync.Mutex
	cluster *Cluster
	err     error
	started bool
	adminDB *sql.DB
	baseURL string
}

// Main runs a package's tests and then stops the shared cluster, if one was
// started. Use it as: func TestMain(m *testing.M) { valvtest.Main(m) }.
func Main(m *testing.M) {
	code := m.Run()
	shared.Lock()
	if shared.adminDB != nil {
		shared.adminDB.Close()
	}
	if shared.cluster != nil {
		shared.cluster.Remove()
	}
	shared.Unlock()
	os.Exit(code)
}

// PostgresURL returns the URL of a new, empty database on the shared
// cluster (started on first use) or on VALV_TEST_POSTGRES_URL. The database
// is dropped when the test ends. Without PostgreSQL the test is skipped (or
// fails under VALV_REQUIRE_INTEGRATION=1).
func PostgresURL(t testing.TB) string {
	t.Helper()
	shared.Lock()
	defer shared.Unlock()
	if !shared.started {
		shared.started = true
		if u := os.Getenv(PostgresURLEnv); u != "" {
			shared.baseURL = u
		} else {
			c, err := StartCluster(context.Background(), "", ClusterOptions{})
			if err != nil {
				shared.err = err
			} else {
				shared.cluster = c
				shared.baseURL = c.URL
			}
		}
		if shared.err == nil {
			shared.adminDB, shared.err = sql.Open("pgx", shared.baseURL)
		}
	}
	if shared.err != nil {
		Missing(t, "PostgreSQL", shared.err.Error())
	}
	name := "valvtest_" + randomHex(6)
	if _, err := shared.adminDB.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		shared.Lock()
		defer shared.Unlock()
		if shared.adminDB != nil {
			_, _ = shared.adminDB.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
		}
	})
	u, err := url.Parse(shared.baseURL)
	if err != nil {
		t.Fatalf("parse %s: %v", PostgresURLEnv, err)
	}
	u.Path = "/" + name
	return u.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// PgDump returns a plain-SQL dump of the database at url, made with the
// installed pg_dump. Tests scan it for planted plaintext.
func PgDump(t testing.TB, url string) []byte {
	t.Helper()
	bin, err := PostgresBinDir()
	if err != nil {
		Missing(t, "pg_dump", err.Error())
	}
	out, err := exec.Command(filepath.Join(bin, "pg_dump"), "--no-owner", "--data-only", url).Output()
	if err != nil {
		t.Fatalf("pg_dump: %v", err)
	}
	return out
}
