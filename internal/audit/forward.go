package audit

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/valvhq/valv/internal/store"
)

// Forwarding (AUD-6) sends the trail to outside log systems, after the
// fact and from a cursor per sink and chain, so a slow or absent log system
// never holds up a call. What is sent holds no personal data: the client's
// address and agent appear only as their keyed tokens.

// Forwarded is an entry as sent to a log system.
type Forwarded struct {
	Chain        string            `json:"chain"`
	Seq          int64             `json:"seq"`
	ID           string            `json:"id"`
	Time         time.Time         `json:"time"`
	TenantID     string            `json:"tenant_id,omitempty"`
	ActorType    string            `json:"actor_type"`
	ActorID      string            `json:"actor_id,omitempty"`
	Action       string            `json:"action"`
	ResourceType string            `json:"resource_type,omitempty"`
	ResourceID   string            `json:"resource_id,omitempty"`
	Outcome      string            `json:"outcome"`
	Status       int               `json:"status,omitempty"`
	RequestID    string            `json:"request_id,omitempty"`
	Channel      string            `json:"channel,omitempty"`
	IPToken      string            `json:"ip_token,omitempty"`
	UAToken      string            `json:"ua_token,omitempty"`
	GrantID      string            `json:"grant_id,omitempty"`
	Details      map[string]string `json:"details,omitempty"`
	Hash         []byte            `json:"hash"`
}

func forwarded(r store.AuditEntryRow) Forwarded {
	f := Forwarded{Chain: r.Chain, Seq: r.Seq, ID: r.ID, Time: r.Time, TenantID: r.TenantID, ActorType: r.ActorType, ActorID: r.ActorID,
		Action: r.Action, ResourceType: r.ResourceType, ResourceID: r.ResourceID, Outcome: r.Outcome, Status: r.Status,
		RequestID: r.RequestID, Channel: r.Channel, IPToken: r.IPToken, UAToken: r.UAToken, GrantID: r.GrantID, Hash: r.Hash}
	_ = json.Unmarshal([]byte(r.Details), &f.Details)
	return f
}

// Sink receives forwarded entries. Send must not return before they are
// durably with the log system (or fail).
type Sink interface {
	Name() string
	Send(ctx context.Context, entries []Forwarded) error
}

// forwardBatch is how many entries go to a sink at once.
const forwardBatch = 500

// Forward sends every sink what it has not had yet, chain by chain, and
// returns how many entries it sent.
func (t *Trail) Forward(ctx context.Context, sinks []Sink) (int, error) {
	chains, err := t.db.Reader().AuditChains(ctx)
	if err != nil {
		return 0, err
	}
	sent := 0
	for _, s := range sinks {
		for chain := range chains {
			for {
				done, err := t.db.Reader().AuditForwarded(ctx, s.Name(), chain)
				if err != nil {
					return sent, err
				}
				var batch []Forwarded
				err = t.db.Reader().AuditEntries(ctx, chain, done+1, forwardBatch, func(r store.AuditEntryRow) error {
					batch = append(batch, forwarded(r))
					return nil
				})
				if err != nil {
					return sent, err
				}
				if len(batch) == 0 {
					break
				}
				if err := s.Send(ctx, batch); err != nil {
					return sent, fmt.Errorf("audit: forward to %s: %w", s.Name(), err)
				}
				last := batch[len(batch)-1].Seq
				if err := t.db.Write(ctx, func(tx *store.Tx) error { return tx.SetAuditForwarded(ctx, s.Name(), chain, last) }); err != nil {
					return sent, err
				}
				sent += len(batch)
				if len(batch) < forwardBatch {
					break
				}
			}
		}
	}
	return sent, nil
}

// FileSink appends JSON lines to a file, and syncs it after each batch.
type FileSink struct {
	Path string
	mu   sync.Mutex
}

// Name identifies the sink's cursor.
func (f *FileSink) Name() string { return "file:" + f.Path }

// Send appends entries.
func (f *FileSink) Send(_ context.Context, entries []Forwarded) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	fh, err := os.OpenFile(f.Path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(fh)
	enc := json.NewEncoder(w)
	for _, e := range entries {
		if err := enc.Encode(e); err != nil {
			fh.Close()
			return err
		}
	}
	if err := w.Flush(); err != nil {
		fh.Close()
		return err
	}
	if err := fh.Sync(); err != nil {
		fh.Close()
		return err
	}
	return fh.Close()
}

// SyslogSink sends RFC 5424 messages over TLS with octet-counting framing
// (RFC 5425), one per entry, each carrying the entry as JSON. Syslog has no
// acknowledgement: a batch counts as sent once it is written to a live
// connection, so a receiver that crashes with entries in flight loses
// them. Where every entry must arrive, forward to a file and ship it.
type SyslogSink struct {
	Address  string
	RootCAs  *x509.CertPool
	Hostname string
	Timeout  time.Duration

	mu   sync.Mutex
	conn *tls.Conn
}

// Name identifies the sink's cursor.
func (s *SyslogSink) Name() string { return "syslog:" + s.Address }

func (s *SyslogSink) dial(ctx context.Context) (*tls.Conn, error) {
	if s.conn != nil {
		// A receiver never sends: a read that times out means the
		// connection is alive; anything else (EOF, a reset) means the
		// receiver went away, and writing would only fill a dead buffer.
		_ = s.conn.SetReadDeadline(time.Now().Add(time.Millisecond))
		var b [1]byte
		_, err := s.conn.Read(b[:])
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			_ = s.conn.SetReadDeadline(time.Time{})
			return s.conn, nil
		}
		s.drop()
	}
	host, _, err := net.SplitHostPort(s.Address)
	if err != nil {
		return nil, err
	}
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: s.timeout()}, Config: &tls.Config{RootCAs: s.RootCAs, ServerName: host, MinVersion: tls.VersionTLS12}}
	c, err := d.DialContext(ctx, "tcp", s.Address)
	if err != nil {
		return nil, err
	}
	s.conn = c.(*tls.Conn)
	return s.conn, nil
}

func (s *SyslogSink) timeout() time.Duration {
	if s.Timeout > 0 {
		return s.Timeout
	}
	return 10 * time.Second
}

// syslogFacility is "log audit" (13).
const syslogFacility = 13

// Send writes the entries; on any error the connection is dropped and the
// whole batch is sent again next time (receivers can drop duplicates by id).
func (s *SyslogSink) Send(ctx context.Context, entries []Forwarded) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.dial(ctx)
	if err != nil {
		return err
	}
	_ = c.SetWriteDeadline(time.Now().Add(s.timeout()))
	w := bufio.NewWriter(c)
	host := s.Hostname
	if host == "" {
		host = "-"
	}
	for _, e := range entries {
		sev := 6 // informational
		if e.Outcome == Denied || e.Outcome == Error {
			sev = 4 // warning
		}
		body, err := json.Marshal(e)
		if err != nil {
			return err
		}
		msg := fmt.Sprintf("<%d>1 %s %s valv - %s - %s", syslogFacility*8+sev, e.Time.UTC().Format(time.RFC3339Nano), host, msgID(e.Action), body)
		if _, err := w.WriteString(strconv.Itoa(len(msg)) + " " + msg); err != nil {
			s.drop()
			return err
		}
	}
	if err := w.Flush(); err != nil {
		s.drop()
		return err
	}
	return nil
}

func (s *SyslogSink) drop() {
	if s.conn != nil {
		s.conn.Close()
		s.conn = nil
	}
}

// Close closes the connection.
func (s *SyslogSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drop()
	return nil
}

// msgID is an RFC 5424 MSGID: printable ASCII, at most 32 characters.
func msgID(action string) string {
	if len(action) > 32 {
		return action[:32]
	}
	if action == "" {
		return "-"
	}
	return action
}
