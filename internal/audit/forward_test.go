package audit

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valvhq/valv/internal/store"
	"github.com/valvhq/valv/internal/valvtest"
)

// syslogReceiver is a real RFC 5425 receiver on 127.0.0.1: TLS, with
// octet-counted frames.
type syslogReceiver struct {
	ln    net.Listener
	mu    sync.Mutex
	msgs  []string
	cas   *x509.CertPool
	conf  *tls.Config
	conns []net.Conn
	wg    sync.WaitGroup
}

// stop closes the listener and every connection, as a crashed receiver.
func (r *syslogReceiver) stop() {
	r.ln.Close()
	r.mu.Lock()
	for _, c := range r.conns {
		c.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
}

func newSyslogReceiver(t *testing.T) *syslogReceiver {
	t.Helper()
	conf, pool := receiverTLS(t)
	return listenSyslog(t, "127.0.0.1:0", conf, pool)
}

func receiverTLS(t *testing.T) (*tls.Config, *x509.CertPool) {
	t.Helper()
	files, err := valvtest.WriteTLSFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(files.CertFile, files.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	pem, _ := os.ReadFile(files.CAFile)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, pool
}

func listenSyslog(t *testing.T, addr string, conf *tls.Config, pool *x509.CertPool) *syslogReceiver {
	t.Helper()
	ln, err := tls.Listen("tcp", addr, conf)
	if err != nil {
		t.Fatal(err)
	}
	r := &syslogReceiver{ln: ln, cas: pool, conf: conf}
	r.wg.Add(1)
	go r.serve()
	t.Cleanup(r.stop)
	return r
}

func (r *syslogReceiver) serve() {
	defer r.wg.Done()
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		r.mu.Lock()
		r.conns = append(r.conns, c)
		r.mu.Unlock()
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			defer c.Close()
			br := bufio.NewReader(c)
			for {
				n, err := br.ReadString(' ')
				if err != nil {
					return
				}
				size, err := strconv.Atoi(strings.TrimSpace(n))
				if err != nil || size <= 0 || size > 1<<20 {
					return
				}
				buf := make([]byte, size)
				if _, err := io.ReadFull(br, buf); err != nil {
					return
				}
				r.mu.Lock()
				r.msgs = append(r.msgs, string(buf))
				r.mu.Unlock()
			}
		}()
	}
}

func (r *syslogReceiver) received() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.msgs...)
}

// rfc5424 is HEADER SP STRUCTURED-DATA SP MSG with our fields.
var rfc5424 = regexp.MustCompile(`^<(\d{1,3})>1 (\S+) (\S+) valv - (\S+) - (\{.*\})$`)

func TestForwardToSyslogAndFile(t *testing.T) {
	e := newEnv(t, store.SQLite)
	e.write(t, "t1", 5)
	e.write(t, "t2", 3)
	rcv := newSyslogReceiver(t)
	syslog := &SyslogSink{Address: rcv.ln.Addr().String(), RootCAs: rcv.cas, Hostname: "valv-test"}
	defer syslog.Close()
	file := &FileSink{Path: filepath.Join(t.TempDir(), "audit.jsonl")}
	sinks := []Sink{syslog, file}

	n, err := e.trail.Forward(ctx, sinks)
	if err != nil || n != 16 {
		t.Fatalf("forwarded %d, %v; want 8 entries to each of 2 sinks", n, err)
	}
	// Nothing new: nothing sent again.
	if n, err := e.trail.Forward(ctx, sinks); err != nil || n != 0 {
		t.Fatalf("second forward sent %d, %v", n, err)
	}
	e.write(t, "t1", 2)
	if n, err := e.trail.Forward(ctx, sinks); err != nil || n != 4 {
		t.Fatalf("third forward sent %d, %v; want the 2 new entries to each sink", n, err)
	}

	waitFor(t, func() bool { return len(rcv.received()) == 10 })
	seen := map[string]bool{}
	for _, m := range rcv.received() {
		sm := rfc5424.FindStringSubmatch(m)
		if sm == nil {
			t.Fatalf("not an RFC 5424 message of ours: %q", m)
		}
		if pri, _ := strconv.Atoi(sm[1]); pri/8 != syslogFacility {
			t.Errorf("facility %d, want %d (log audit)", pri/8, syslogFacility)
		}
		var f Forwarded
		if err := json.Unmarshal([]byte(sm[5]), &f); err != nil {
			t.Fatalf("message body: %v", err)
		}
		if sm[3] != "valv-test" || sm[4] != f.Action || f.Chain == "" || len(f.Hash) != 32 {
			t.Errorf("message %q does not carry its entry", m)
		}
		key := f.Chain + "/" + strconv.FormatInt(f.Seq, 10)
		if seen[key] {
			t.Errorf("entry %s sent twice", key)
		}
		seen[key] = true
	}

	raw, err := os.ReadFile(file.Path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	if len(lines) != 10 {
		t.Fatalf("file has %d lines, want 10", len(lines))
	}
	for _, l := range lines {
		var f Forwarded
		if err := json.Unmarshal([]byte(l), &f); err != nil || f.ID == "" {
			t.Fatalf("line %q: %v", l, err)
		}
	}
	if st, _ := os.Stat(file.Path); st.Mode().Perm() != 0o600 {
		t.Errorf("forward file mode %v, want 0600", st.Mode().Perm())
	}
}

func TestForwardResumesAfterReceiverFails(t *testing.T) {
	e := newEnv(t, store.SQLite)
	e.write(t, "t1", 4)
	rcv := newSyslogReceiver(t)
	addr := rcv.ln.Addr().String()
	syslog := &SyslogSink{Address: addr, RootCAs: rcv.cas}
	defer syslog.Close()
	if _, err := e.trail.Forward(ctx, []Sink{syslog}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return len(rcv.received()) == 4 })

	// The receiver goes away: forwarding fails, and the cursor stays.
	rcv.stop()
	e.write(t, "t1", 3)
	if _, err := e.trail.Forward(ctx, []Sink{syslog}); err == nil {
		t.Fatal("forwarding to a receiver that is gone succeeded")
	}
	// It comes back on the same address: the 3 new entries arrive.
	rcv2 := listenSyslog(t, addr, rcv.conf, rcv.cas)
	if n, err := e.trail.Forward(ctx, []Sink{syslog}); err != nil || n != 3 {
		t.Fatalf("forward after recovery: %d, %v; want 3", n, err)
	}
	waitFor(t, func() bool { return len(rcv2.received()) == 3 })
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
