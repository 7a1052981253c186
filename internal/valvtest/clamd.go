package valvtest

import (
	"context"
	"encoding/hex"
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
)

// ClamdEICARSignature is the name the harness's signature database gives the
// EICAR test file. clamd reports signatures from unsigned databases with
// ".UNOFFICIAL" appended: see ClamdEICARFound.
const ClamdEICARSignature = "Valv-Test-EICAR"

// ClamdEICARFound is the signature name clamd reports for the EICAR file.
const ClamdEICARFound = ClamdEICARSignature + ".UNOFFICIAL"

// DefaultClamdStreamMaxLength is the StreamMaxLength of a harness clamd
// unless ClamdOptions say otherwise.
const DefaultClamdStreamMaxLength = 64 << 20

// EICAR returns the 68-byte EICAR anti-virus test file, which every scanner
// detects and which does no harm. It is put together from parts at run time
// so that no file in the repository (and no constant in a compiled test)
// holds it whole, which would make virus scanners flag them.
func EICAR() []byte {
	parts := []string{`X5O!P%@AP[4\PZX5`, `4(P^)7CC)7}$EICAR`, `-STANDARD-ANTIVIR`, `US-TEST-FILE!$H+H*`}
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// ClamdOptions adjust a harness clamd.
type ClamdOptions struct {
	// StreamMaxLength is clamd's INSTREAM limit in bytes; zero means
	// DefaultClamdStreamMaxLength. MaxFileSize and MaxScanSize are set at
	// least as high, so every stream clamd accepts is really scanned.
	StreamMaxLength int64
	// TCP makes clamd also listen on a free port on 127.0.0.1.
	TCP bool
}

// ClamdServer is a clamd process run as a child of the test binary, with a
// signature database that holds only the EICAR test signature. It listens on
// a unix socket (Network "unix", Addr the socket path) and, with
// ClamdOptions.TCP, on TCPAddr.
type ClamdServer struct {
	Network         string
	Addr            string
	TCPAddr         string // "127.0.0.1:port", or "" without ClamdOptions.TCP
	Dir             string
	StreamMaxLength int64

	cmd    *exec.Cmd
	exited chan struct{}
}

// ClamdBin finds the clamd binary.
func ClamdBin() (string, error) {
	if _, err := os.Stat("/usr/sbin/clamd"); err == nil {
		return "/usr/sbin/clamd", nil
	}
	if p, err := exec.LookPath("clamd"); err == nil {
		return p, nil
	}
	return "", errors.New("no clamd binary found; install the clamav-daemon package")
}

// StartClamd writes a configuration and a one-signature database into a new
// directory under parent ("" for the system's temporary directory), starts
// clamd in the foreground and waits until it answers PING. The process gets
// SIGKILL if the test binary dies. It never runs freshclam.
func StartClamd(ctx context.Context, parent string, opts ClamdOptions) (*ClamdServer, error) {
	bin, err := ClamdBin()
	if err != nil {
		return nil, err
	}
	// A short directory of its own rather than t.TempDir(): the socket path
	// must fit in sun_path (108 bytes), which long test names can overrun.
	dir, err := os.MkdirTemp(parent, "valv-clamd-")
	if err != nil {
		return nil, err
	}
	s := &ClamdServer{
		Network:         "unix",
		Addr:            filepath.Join(dir, "clamd.sock"),
		Dir:             dir,
		StreamMaxLength: opts.StreamMaxLength,
		exited:          make(chan struct{}),
	}
	if s.StreamMaxLength == 0 {
		s.StreamMaxLength = DefaultClamdStreamMaxLength
	}
	if err := s.writeFiles(opts.TCP); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	if err := s.start(ctx, bin); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

func (s *ClamdServer) writeFiles(tcp bool) error {
	db := filepath.Join(s.Dir, "db")
	tmp := filepath.Join(s.Dir, "tmp")
	for _, d := range []string{db, tmp} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return err
		}
	}
	// An extended (.ndb) signature: the EICAR bytes anywhere in a file of any
	// type, so a test can embed it in a larger stream (across chunk
	// boundaries). clamd refuses to start with an empty database directory.
	sig := fmt.Sprintf("%s:0:*:%s\n", ClamdEICARSignature, hex.EncodeToString(EICAR()))
	if err := os.WriteFile(filepath.Join(db, "valv-test.ndb"), []byte(sig), 0o600); err != nil {
		return err
	}
	n := strconv.FormatInt(s.StreamMaxLength, 10)
	conf := []string{
		"Foreground yes",
		"LocalSocket " + s.Addr,
		"LocalSocketMode 600",
		"DatabaseDirectory " + db,
		"TemporaryDirectory " + tmp,
		"LogFile " + filepath.Join(s.Dir, "clamd.log"),
		"LogVerbose no",
		"LogTime yes",
		"Bytecode no",
		"StreamMaxLength " + n,
		// clamd reports a file larger than MaxFileSize or MaxScanSize as
		// clean without scanning it (unless AlertExceedsMax is on): keep
		// them at or above StreamMaxLength.
		"MaxFileSize " + n,
		"MaxScanSize " + n,
		// No User line: as root clamd keeps running as root, which is what a
		// throwaway test process wants (a User would need the directory
		// chowned to it).
	}
	if tcp {
		port, err := FreePort()
		if err != nil {
			return err
		}
		s.TCPAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		conf = append(conf, "TCPSocket "+strconv.Itoa(port), "TCPAddr 127.0.0.1")
	}
	return os.WriteFile(filepath.Join(s.Dir, "clamd.conf"), []byte(strings.Join(conf, "\n")+"\n"), 0o600)
}

func (s *ClamdServer) start(ctx context.Context, bin string) error {
	out, err := os.OpenFile(filepath.Join(s.Dir, "clamd.out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, "--config-file="+filepath.Join(s.Dir, "clamd.conf"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		out.Close()
		return fmt.Errorf("start clamd: %w", err)
	}
	s.cmd = cmd
	go func() { _ = cmd.Wait(); out.Close(); close(s.exited) }()

	deadline := time.Now().Add(30 * time.Second)
	for {
		err := s.ping(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("clamd exited at start: %s", s.logTail())
		default:
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			s.Kill()
			return fmt.Errorf("clamd did not answer PING in time: %v: %s", err, s.logTail())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ping sends zPING over the unix socket and expects PONG.
func (s *ClamdServer) ping(ctx context.Context) error {
	d := net.Dialer{Timeout: time.Second}
	conn, err := d.DialContext(ctx, "unix", s.Addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte("zPING\x00")); err != nil {
		return err
	}
	buf := make([]byte, 16)
	n, err := conn.Read(buf)
	if n >= 4 && string(buf[:4]) == "PONG" {
		return nil
	}
	if err == nil {
		err = fmt.Errorf("unexpected reply %q", buf[:n])
	}
	return err
}

func (s *ClamdServer) logTail() string {
	var b strings.Builder
	for _, f := range []string{"clamd.out", "clamd.log"} {
		data, _ := os.ReadFile(filepath.Join(s.Dir, f))
		if len(data) > 0 {
			b.WriteString(f + ": " + lastLines(string(data), 5) + " ")
		}
	}
	return b.String()
}

// Kill stops clamd at once (SIGKILL) and waits until it is gone.
func (s *ClamdServer) Kill() {
	if s.signal(-s.cmd.Process.Pid, syscall.SIGKILL) == nil {
		<-s.exited
	}
}

// Pause freezes clamd (SIGSTOP): connections are still accepted by the
// kernel, but nothing answers, as with a hung scanner. Resume undoes it.
func (s *ClamdServer) Pause() error { return s.signal(s.cmd.Process.Pid, syscall.SIGSTOP) }

// Resume lets a paused clamd go on (SIGCONT).
func (s *ClamdServer) Resume() error { return s.signal(s.cmd.Process.Pid, syscall.SIGCONT) }

// signal signals pid (a process group when negative) unless clamd has
// already exited, so that a reused pid is never hit.
func (s *ClamdServer) signal(pid int, sig syscall.Signal) error {
	select {
	case <-s.exited:
		return errors.New("clamd has exited")
	default:
		return syscall.Kill(pid, sig)
	}
}

// Remove kills clamd and deletes its directory.
func (s *ClamdServer) Remove() {
	s.Kill()
	_ = os.RemoveAll(s.Dir)
}

// ClamdWith starts a clamd for this test (see StartClamd) and removes it
// when the test ends. Without clamd the test is skipped (or fails under
// VALV_REQUIRE_INTEGRATION=1); a clamd that is installed but does not start
// fails the test.
func ClamdWith(t testing.TB, opts ClamdOptions) *ClamdServer {
	t.Helper()
	if _, err := ClamdBin(); err != nil {
		Missing(t, "clamd", err.Error())
	}
	s, err := StartClamd(context.Background(), "", opts)
	if err != nil {
		t.Fatalf("start clamd: %v", err)
	}
	t.Cleanup(s.Remove)
	return s
}

// Clamd starts a clamd for this test, with the EICAR test signature and
// default options, and returns the network ("unix") and address (the socket
// path) to reach it. It is removed when the test ends. A clamd with one
// signature is ready in about 40 ms, so each test may have its own.
func Clamd(t testing.TB) (network, addr string) {
	t.Helper()
	s := ClamdWith(t, ClamdOptions{})
	return s.Network, s.Addr
}
