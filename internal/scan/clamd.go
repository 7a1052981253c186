package scan

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"
)

// Defaults for the zero fields of Config.
const (
	DefaultDialTimeout    = 2 * time.Second
	DefaultIOTimeout      = 30 * time.Second
	DefaultVerdictTimeout = 150 * time.Second // above clamd's default MaxScanTime (120 s)
	DefaultMaxStreamSize  = 25 << 20          // clamd's default StreamMaxLength (25M)
	DefaultRetryAfter     = 30 * time.Second
)

const (
	// chunkSize is the most a chunk carries. clamd accepts any chunk length
	// up to StreamMaxLength; 64 KiB keeps memory per scan small while the
	// per-chunk overhead (4 bytes, one write) stays negligible.
	chunkSize = 64 << 10
	// maxReplyLen bounds a reply. Verdicts are short ("stream: " + a
	// signature name + " FOUND"); anything longer is not clamd.
	maxReplyLen = 4 << 10
	// replyAfterWriteError is how long Scan waits for clamd's reason when a
	// write fails: clamd answers "INSTREAM size limit exceeded. ERROR" and
	// closes, and the answer is still readable after the broken pipe.
	replyAfterWriteError = time.Second
)

// Config says where clamd is and how long to wait for it.
type Config struct {
	// Network is "unix" (Address is a socket path) or "tcp", "tcp4", "tcp6"
	// (Address is host:port).
	Network string
	Address string
	// DialTimeout bounds connecting. Zero means DefaultDialTimeout.
	DialTimeout time.Duration
	// IOTimeout bounds each write of a chunk and the PING and VERSION
	// replies. Zero means DefaultIOTimeout.
	IOTimeout time.Duration
	// VerdictTimeout bounds the wait for the verdict once the whole stream
	// is sent (clamd scans only then). Zero means DefaultVerdictTimeout.
	VerdictTimeout time.Duration
	// MaxStreamSize is the largest stream Scan sends, in bytes; it should
	// equal clamd's StreamMaxLength. Zero means DefaultMaxStreamSize.
	MaxStreamSize int64
	// Policy is what Check does when clamd cannot be reached. The zero
	// value is FailClosed.
	Policy Policy
	// RetryAfter is sent with scanner_unavailable. Zero means
	// DefaultRetryAfter.
	RetryAfter time.Duration
}

// Result is clamd's verdict on a stream.
type Result struct {
	Clean bool
	// Signature names the malware found; empty when Clean.
	Signature string
}

// Clamd is a client of one clamd. It is safe for concurrent use; each call
// uses a connection of its own.
type Clamd struct {
	cfg Config
}

var _ Scanner = (*Clamd)(nil)

// New returns a client for the clamd that cfg names. It does not connect:
// use Ping to check that clamd is there.
func New(cfg Config) (*Clamd, error) {
	switch cfg.Network {
	case "unix", "tcp", "tcp4", "tcp6":
	default:
		return nil, fmt.Errorf("scan: network %q: want unix or tcp", cfg.Network)
	}
	if cfg.Address == "" {
		return nil, errors.New("scan: no clamd address")
	}
	if cfg.DialTimeout < 0 || cfg.IOTimeout < 0 || cfg.VerdictTimeout < 0 || cfg.RetryAfter < 0 {
		return nil, errors.New("scan: negative timeout")
	}
	if cfg.MaxStreamSize < 0 {
		return nil, errors.New("scan: negative MaxStreamSize")
	}
	if cfg.Policy != FailClosed && cfg.Policy != FailOpen {
		return nil, fmt.Errorf("scan: unknown policy %d", cfg.Policy)
	}
	setDefault(&cfg.DialTimeout, DefaultDialTimeout)
	setDefault(&cfg.IOTimeout, DefaultIOTimeout)
	setDefault(&cfg.VerdictTimeout, DefaultVerdictTimeout)
	setDefault(&cfg.RetryAfter, DefaultRetryAfter)
	setDefault(&cfg.MaxStreamSize, DefaultMaxStreamSize)
	return &Clamd{cfg: cfg}, nil
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// Config returns the client's configuration with defaults filled in.
func (c *Clamd) Config() Config { return c.cfg }

// chunkPool holds chunk buffers: a 4-byte length followed by chunkSize bytes
// of data, sent with one write.
var chunkPool = sync.Pool{New: func() any { b := make([]byte, 4+chunkSize); return &b }}

// Scan streams r to clamd and returns its verdict. An infected stream is a
// Result with Clean false and a nil error. Errors match ErrTooLarge,
// ErrUnavailable, the context's error, or wrap the error r returned.
func (c *Clamd) Scan(ctx context.Context, r io.Reader) (Result, error) {
	conn, err := c.dial(ctx)
	if err != nil {
		return Result{}, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	res, err := c.instream(ctx, conn, r)
	if err != nil && ctx.Err() != nil {
		return Result{}, fmt.Errorf("scan: aborted: %w", ctx.Err())
	}
	return res, err
}

func (c *Clamd) instream(ctx context.Context, conn net.Conn, r io.Reader) (Result, error) {
	bp := chunkPool.Get().(*[]byte)
	defer chunkPool.Put(bp)
	buf := *bp

	if err := c.write(conn, []byte("zINSTREAM\x00")); err != nil {
		return Result{}, c.afterWriteError(conn, err)
	}
	var total int64
	for {
		n, rerr := fill(ctx, r, buf[4:])
		if n > 0 {
			total += int64(n)
			if total > c.cfg.MaxStreamSize {
				return Result{}, fmt.Errorf("scan: stream longer than %d bytes: %w", c.cfg.MaxStreamSize, ErrTooLarge)
			}
			binary.BigEndian.PutUint32(buf[:4], uint32(n)) // #nosec G115 -- n <= chunkSize (64 KiB)
			if err := c.write(conn, buf[:4+n]); err != nil {
				return Result{}, c.afterWriteError(conn, err)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return Result{}, fmt.Errorf("scan: read input: %w", rerr)
		}
	}
	if err := c.write(conn, []byte{0, 0, 0, 0}); err != nil {
		return Result{}, c.afterWriteError(conn, err)
	}
	reply, err := readReply(conn, time.Now().Add(c.cfg.VerdictTimeout))
	if err != nil {
		return Result{}, &unavailableError{op: "read verdict", err: err}
	}
	return parseReply(reply)
}

// fill reads into buf until it is full, r fails or ctx is done; a reader
// that trickles data thus cannot hold a cancelled scan for a whole chunk.
// Unlike io.ReadFull it passes on io.ErrUnexpectedEOF from r (a truncated
// input) as an error, rather than taking it for the end of the stream.
func fill(ctx context.Context, r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
		if err := ctx.Err(); err != nil {
			return n, err
		}
	}
	return n, nil
}

func (c *Clamd) write(conn net.Conn, p []byte) error {
	_ = conn.SetWriteDeadline(time.Now().Add(c.cfg.IOTimeout))
	_, err := conn.Write(p)
	return err
}

// afterWriteError explains a failed write. clamd closes the connection when a
// stream passes StreamMaxLength, after answering why; the client sees a
// broken pipe (or a reset), but the answer is still in the socket's receive
// buffer. Only an error reply is taken from a connection that broke: a
// verdict on part of a stream would be meaningless.
func (c *Clamd) afterWriteError(conn net.Conn, werr error) error {
	var ne net.Error
	if errors.As(werr, &ne) && ne.Timeout() {
		return &unavailableError{op: "send stream", err: werr}
	}
	reply, err := readReply(conn, time.Now().Add(replyAfterWriteError))
	if err == nil {
		if _, perr := parseReply(reply); perr != nil {
			return perr
		}
		return &unavailableError{op: "send stream", err: fmt.Errorf("%w; then clamd answered %q before the stream ended", werr, reply)}
	}
	return &unavailableError{op: "send stream", err: werr}
}

// readReply reads one NUL-terminated reply of at most maxReplyLen bytes.
func readReply(conn net.Conn, deadline time.Time) (string, error) {
	_ = conn.SetReadDeadline(deadline)
	var buf [maxReplyLen]byte
	n := 0
	for {
		m, err := conn.Read(buf[n:])
		n += m
		for i, b := range buf[n-m : n] {
			if b == 0 {
				return string(buf[:n-m+i]), nil
			}
		}
		if err == io.EOF {
			return "", fmt.Errorf("reply cut short after %d bytes", n)
		}
		if err != nil {
			return "", err
		}
		if n == len(buf) {
			return "", fmt.Errorf("reply longer than %d bytes", maxReplyLen)
		}
	}
}

// Ping asks clamd whether it is there (zPING, answered by PONG). Errors match
// ErrUnavailable or the context's error.
func (c *Clamd) Ping(ctx context.Context) error {
	reply, err := c.command(ctx, "PING")
	if err != nil {
		return err
	}
	if reply != "PONG" {
		return &unavailableError{op: "ping", err: fmt.Errorf("unexpected reply %q", truncate(reply))}
	}
	return nil
}

// Version returns clamd's version line: the engine version and, when clamd
// has an official database, its version and date, as in
// "ClamAV 1.4.6/27500/Sat Nov 21 09:30:00 2026". With only unofficial
// databases it is the engine version alone ("ClamAV 1.4.6"). Errors match
// ErrUnavailable or the context's error.
func (c *Clamd) Version(ctx context.Context) (string, error) {
	reply, err := c.command(ctx, "VERSION")
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(reply, "ClamAV ") || !printable(reply) {
		return "", &unavailableError{op: "version", err: fmt.Errorf("unexpected reply %q", truncate(reply))}
	}
	return reply, nil
}

// command sends a command without arguments and returns the reply.
func (c *Clamd) command(ctx context.Context, name string) (string, error) {
	conn, err := c.dial(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	reply, err := func() (string, error) {
		if err := c.write(conn, []byte("z"+name+"\x00")); err != nil {
			return "", err
		}
		return readReply(conn, time.Now().Add(c.cfg.IOTimeout))
	}()
	if err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("scan: %s: aborted: %w", strings.ToLower(name), ctx.Err())
		}
		return "", &unavailableError{op: strings.ToLower(name), err: err}
	}
	return reply, nil
}

func (c *Clamd) dial(ctx context.Context) (net.Conn, error) {
	d := net.Dialer{Timeout: c.cfg.DialTimeout}
	conn, err := d.DialContext(ctx, c.cfg.Network, c.cfg.Address)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("scan: connect to clamd: %w", ctx.Err())
		}
		return nil, &unavailableError{op: "connect", err: err, unreached: true}
	}
	return conn, nil
}
