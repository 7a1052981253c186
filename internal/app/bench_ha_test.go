package app

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/valvhq/valv/internal/valvtest"
)

// BenchmarkNodes measures document writes through one and through two
// Valv nodes on one PostgreSQL database (TLS, synchronous commit), with
// 16 clients and every protection on (BAK-5's performance figure).
//
//	go test -run '^$' -bench Nodes -benchtime 1x ./internal/app/
func BenchmarkNodes(b *testing.B) {
	for _, nodes := range []int{1, 2} {
		b.Run(fmt.Sprintf("nodes=%d", nodes), func(b *testing.B) {
			url := valvtest.PostgresURL(b)
			var servers []*testServer
			bt := testing.TB(b)
			first := startServer(bt, withDatabase(url, ""))
			servers = append(servers, first)
			for range nodes - 1 {
				servers = append(servers, startServer(bt, withDatabase(url, filepath.Join(first.dir, "root.key"))))
			}
			op := first.operator()
			_, owner := first.tenantWithOwner(op, fmt.Sprintf("Last %d AB", nodes), fmt.Sprintf("owner%d@bench.test", nodes))
			var k struct{ Key string }
			owner.must(201, "POST", "/api/v1/api-keys", map[string]any{"name": "bench", "scopes": []string{"documents:write"}}).json(bt, &k)
			load := &haLoad{t: bt, key: k.Key, acked: map[string]string{}}
			for i, s := range servers {
				load.nodes = append(load.nodes, &haNode{name: fmt.Sprint("node", i+1), base: s.base, http: s.client().http})
			}
			const d = 5 * time.Second
			b.ResetTimer()
			for range b.N {
				start, n0 := time.Now(), load.count()
				load.start(16)
				time.Sleep(d)
				load.halt()
				load.wg.Wait()
				b.ReportMetric(float64(load.count()-n0)/time.Since(start).Seconds(), "writes/s")
				load.once = sync.Once{}
			}
		})
	}
}
