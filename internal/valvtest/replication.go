package valvtest

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Pair is a PostgreSQL primary with a synchronous streaming standby, both
// on 127.0.0.1 with TLS on (one CA), for high-availability tests (BAK-5).
type Pair struct {
	Primary, Standby *Cluster
}

// standbyName is the standby's application_name, which the primary waits
// for on every commit (synchronous_standby_names).
const standbyName = "valv_standby"

// StartPair starts a primary and a synchronous standby made from it with
// pg_basebackup. Both stop when the test ends. Without PostgreSQL the test
// is skipped (or fails under VALV_REQUIRE_INTEGRATION=1).
func StartPair(t testing.TB) *Pair {
	t.Helper()
	if _, err := PostgresBinDir(); err != nil {
		Missing(t, "PostgreSQL", err.Error())
	}
	ctx := context.Background()
	// Under the system temp directory (the postgres user cannot enter the
	// test's own, which is private to root); each cluster removes its own.
	primary, err := StartCluster(ctx, "", ClusterOptions{Settings: []string{
		"wal_level = replica",
		"max_wal_senders = 5",
		"wal_keep_size = '128MB'",
		"hot_standby = on",
		"synchronous_commit = on",
		fmt.Sprintf("synchronous_standby_names = 'FIRST 1 (%s)'", standbyName),
	}})
	if err != nil {
		t.Fatalf("primary: %v", err)
	}
	t.Cleanup(primary.Remove)
	standby, err := primary.startStandby(ctx)
	if err != nil {
		t.Fatalf("standby: %v", err)
	}
	t.Cleanup(standby.Remove)
	p := &Pair{Primary: primary, Standby: standby}
	if err := p.waitSync(ctx, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	return p
}

// startStandby copies the primary with pg_basebackup and starts the copy
// as a synchronous standby on a port of its own, with the primary's TLS
// files (so one CA verifies both).
func (c *Cluster) startStandby(ctx context.Context) (*Cluster, error) {
	dir, err := os.MkdirTemp(filepath.Dir(c.Dir), "valv-pg-standby-")
	if err != nil {
		return nil, err
	}
	s := &Cluster{Dir: dir, bin: c.bin, cred: c.cred, password: c.password, TLS: c.TLS, exited: make(chan struct{})}
	if c.cred != nil {
		if err := os.Chmod(dir, 0o755); err != nil {
			return nil, err
		}
		if err := os.Chown(dir, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			return nil, err
		}
	}
	if s.Port, err = FreePort(); err != nil {
		return nil, err
	}
	// No client certificate: libpq would otherwise look in the invoking
	// user's home (root's, which the postgres user cannot read).
	none := filepath.Join(dir, "no-client-cert")
	conninfo := fmt.Sprintf("host=127.0.0.1 port=%d user=valv password=%s sslmode=verify-full sslrootcert=%s sslcert=%s.crt sslkey=%s.key application_name=%s",
		c.Port, c.password, c.TLS.CAFile, none, none, standbyName)
	if out, err := s.run(ctx, "pg_basebackup", "-d", conninfo, "-D", s.DataDir(), "-R", "-X", "stream", "--no-sync", "-c", "fast"); err != nil {
		return nil, fmt.Errorf("pg_basebackup: %v: %s", err, out)
	}
	// The copy's own port and socket directory; no synchronous standby of
	// its own, so that once promoted it commits without waiting for one.
	conf := []string{
		fmt.Sprintf("port = %d", s.Port),
		fmt.Sprintf("unix_socket_directories = '%s'", dir),
		"synchronous_standby_names = ''",
	}
	if err := appendFile(filepath.Join(s.DataDir(), "postgresql.conf"), strings.Join(conf, "\n")+"\n"); err != nil {
		return nil, err
	}
	s.URL = s.DatabaseURL("postgres")
	if err := s.Start(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// waitSync waits until the primary streams to the standby synchronously.
func (p *Pair) waitSync(ctx context.Context, timeout time.Duration) error {
	db, err := sql.Open("pgx", p.Primary.URL)
	if err != nil {
		return err
	}
	defer db.Close()
	deadline := time.Now().Add(timeout)
	for {
		var state string
		err := db.QueryRowContext(ctx, `SELECT sync_state FROM pg_stat_replication WHERE application_name = $1`, standbyName).Scan(&state)
		if err == nil && state == "sync" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the standby did not become synchronous (state %q, %v)", state, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Promote makes the standby a primary (pg_ctl promote) and waits until it
// accepts writes.
func (p *Pair) Promote(ctx context.Context) error {
	if out, err := p.Standby.run(ctx, "pg_ctl", "promote", "-w", "-t", "30", "-D", p.Standby.DataDir()); err != nil {
		return fmt.Errorf("pg_ctl promote: %v: %s", err, out)
	}
	db, err := sql.Open("pgx", p.Standby.URL)
	if err != nil {
		return err
	}
	defer db.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var recovering bool
		err := db.QueryRowContext(ctx, `SELECT pg_is_in_recovery()`).Scan(&recovering)
		if err == nil && !recovering {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the promoted standby still recovers (%v)", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// CreateDatabase makes a database on the primary (the standby gets it by
// replication), owned by a role of its own with no other privilege (not a
// superuser, no CREATEDB, no CREATEROLE), and returns a URL for that role
// that names both servers, primary first, with
// target_session_attrs=read-write: what Valv nodes are configured with, so
// that they find whichever server is the primary.
func (p *Pair) CreateDatabase(t testing.TB, name string) string {
	t.Helper()
	ctx := context.Background()
	db, err := sql.Open("pgx", p.Primary.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	role, password := name+"_app", randomHex(16)
	for _, q := range []string{
		`CREATE ROLE ` + role + ` LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION PASSWORD '` + password + `'`,
		`CREATE DATABASE ` + name + ` OWNER ` + role,
		`REVOKE ALL ON DATABASE ` + name + ` FROM PUBLIC`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", strings.SplitN(q, " PASSWORD", 2)[0], err)
		}
	}
	u := url.URL{
		Scheme: "postgres",
		User:   url.UserPassword(role, password),
		Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(p.Primary.Port)) + "," +
			net.JoinHostPort("127.0.0.1", strconv.Itoa(p.Standby.Port)),
		Path: "/" + name,
	}
	q := url.Values{}
	q.Set("sslmode", "verify-full")
	q.Set("sslrootcert", p.Primary.TLS.CAFile)
	q.Set("target_session_attrs", "read-write")
	q.Set("connect_timeout", "2")
	u.RawQuery = q.Encode()
	return u.String()
}
