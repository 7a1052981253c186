package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valvhq/valv/internal/config"
	"github.com/valvhq/valv/internal/valvtest"
)

// withDatabase points a node at a shared PostgreSQL database and, for
// every node but the first, at the first node's root-key file.
func withDatabase(url, keyFile string) serverOption {
	return func(c *config.Config, _ *Options) {
		c.Database = config.Database{Driver: "postgres", URL: config.Secret(url), MaxOpenConns: 8, AutoMigrate: true}
		if keyFile != "" {
			c.Keys.File = keyFile
		}
		c.Guard.KeyLimit, c.Guard.TenantLimit = 0, 0 // the load is one key's
	}
}

// haLoad writes documents through several nodes, as clients behind a load
// balancer do: each write has an Idempotency-Key, and a write that fails
// (503, or a node that is gone) is retried on the next node until it is
// acknowledged.
type haLoad struct {
	t     testing.TB
	key   string
	nodes []*haNode

	mu    sync.Mutex
	acked map[string]string // idempotency key → document id
	fails atomic.Int64
	stop  chan struct{}
	once  sync.Once
	wg    sync.WaitGroup
	seq   atomic.Int64
}

type haNode struct {
	name   string
	base   string
	http   *http.Client
	served atomic.Int64 // writes this node acknowledged
	down   atomic.Bool  // the test stopped it: clients skip it
}

func (l *haLoad) start(workers int) {
	l.stop = make(chan struct{})
	for w := range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for i := w; ; i++ {
				select {
				case <-l.stop:
					return
				default:
				}
				l.write(i)
			}
		}()
	}
}

// write makes one acknowledged write, trying node after node.
func (l *haLoad) write(start int) {
	n := l.seq.Add(1)
	idem := fmt.Sprintf("ha-%06d", n)
	body, _ := json.Marshal(map[string]any{"type": "ha", "data": map[string]any{"n": n},
		"subjects": []map[string]string{{"kind": "email", "value": fmt.Sprintf("kund%d@example.com", n)}}})
	deadline := time.Now().Add(60 * time.Second)
	for try := start; time.Now().Before(deadline); try++ {
		node := l.nodes[try%len(l.nodes)]
		if node.down.Load() {
			continue
		}
		req, _ := http.NewRequest("POST", node.base+"/api/v1/documents", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+l.key)
		req.Header.Set("Idempotency-Key", idem)
		resp, err := node.http.Do(req)
		if err == nil {
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusCreated {
				var doc struct{ ID string }
				if json.Unmarshal(raw, &doc) == nil && doc.ID != "" {
					l.mu.Lock()
					l.acked[idem] = doc.ID
					l.mu.Unlock()
					node.served.Add(1)
					return
				}
			}
			if resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") == "" {
				l.t.Errorf("write %s on %s: 503 without Retry-After: %s", idem, node.name, raw)
			}
			if resp.StatusCode != http.StatusServiceUnavailable && resp.StatusCode != http.StatusConflict {
				l.t.Errorf("write %s on %s: %d %s", idem, node.name, resp.StatusCode, raw)
				l.halt()
				return
			}
		}
		l.fails.Add(1)
		time.Sleep(20 * time.Millisecond)
	}
	l.t.Errorf("write %s was never acknowledged", idem)
}

// halt stops the load after a failure, once.
func (l *haLoad) halt() {
	l.once.Do(func() { close(l.stop) })
}

func (l *haLoad) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acked)
}

// waitFor waits until n more writes are acknowledged.
func (l *haLoad) waitFor(n int, timeout time.Duration) {
	l.t.Helper()
	want := l.count() + n
	deadline := time.Now().Add(timeout)
	for l.count() < want {
		select {
		case <-l.stop:
			l.t.Fatal("the load stopped after a failed write")
		default:
		}
		if time.Now().After(deadline) {
			l.t.Fatalf("only %d of %d writes acknowledged in %s", l.count(), want, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestHighAvailability (BAK-5): two Valv nodes on a PostgreSQL primary with
// a synchronous standby. Under load, the primary is killed and the standby
// promoted; the nodes carry on. Then one node is stopped under load and
// the clients carry on with the other. No acknowledged write is lost, the
// audit chains verify, and every scheduled job ran once across the nodes.
func TestHighAvailability(t *testing.T) {
	pair := valvtest.StartPair(t)
	url := pair.CreateDatabase(t, "valv_ha")
	n1 := startServer(t, withDatabase(url, ""))
	n2 := startServer(t, withDatabase(url, filepath.Join(n1.dir, "root.key")))
	ctx := context.Background()

	op := n1.operator()
	_, owner := n1.tenantWithOwner(op, "Tillgänglig AB", "owner@ha.test")
	var k struct{ Key string }
	owner.must(201, "POST", "/api/v1/api-keys", map[string]any{"name": "ha", "scopes": []string{"documents:write", "documents:read"}}).json(t, &k)
	load := &haLoad{t: t, key: k.Key, acked: map[string]string{},
		nodes: []*haNode{{name: "node1", base: n1.base, http: n1.client().http}, {name: "node2", base: n2.base, http: n2.client().http}}}
	load.start(4)
	defer func() { load.halt(); load.wg.Wait() }()
	load.waitFor(40, 30*time.Second)

	// The primary dies; the standby is promoted by the database's own tool.
	pair.Primary.Kill()
	before := [2]int64{load.nodes[0].served.Load(), load.nodes[1].served.Load()}
	if err := pair.Promote(ctx); err != nil {
		t.Fatal(err)
	}
	load.waitFor(60, 60*time.Second)
	for i, n := range load.nodes {
		if n.served.Load() == before[i] {
			t.Errorf("%s served no write after the failover", n.name)
		}
	}

	// One node stops under load; its clients fail over to the other (and
	// soon the load balancer's health check takes it out).
	n1.stop()
	load.nodes[0].down.Store(true)
	load.waitFor(30, 30*time.Second)
	load.halt()
	load.wg.Wait()
	t.Logf("%d writes acknowledged (%d by node1, %d by node2); %d attempts failed and were retried",
		load.count(), load.nodes[0].served.Load(), load.nodes[1].served.Load(), load.fails.Load())

	// Every acknowledged write is there, once.
	reader := n2.client()
	reader.header = http.Header{"Authorization": {"Bearer " + k.Key}}
	seen := map[string]bool{}
	for idem, id := range load.acked {
		reader.must(200, "GET", "/api/v1/documents/"+id, nil)
		if seen[id] {
			t.Errorf("two writes share document %s (%s)", id, idem)
		}
		seen[id] = true
	}
	if bad, err := n2.app.VerifyAudit(ctx); err != nil || len(bad) != 0 {
		t.Fatalf("the audit chains do not verify after the failover: %v %+v", err, bad)
	}
	// Scheduled jobs ran once across both nodes (the clocks are frozen, so
	// each job was due once).
	jobs, err := n2.app.JobStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ran := 0
	for _, j := range jobs {
		if j.Runs > 1 {
			t.Errorf("job %s ran %d times across the nodes", j.Name, j.Runs)
		}
		ran += int(j.Runs)
	}
	if ran == 0 {
		t.Error("no scheduled job ran")
	}
}
