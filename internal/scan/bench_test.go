package scan_test

import (
	"testing"

	"github.com/valvhq/valv/internal/scan"
	"github.com/valvhq/valv/internal/valvtest"
)

// BenchmarkScan measures the throughput of scanning a 10 MiB clean stream
// (MB/s), over each of clamd's sockets. clamd spools the stream to a file and
// scans it with the harness's one signature, so this is mostly transport and
// spooling; a production signature set scans more slowly.
func BenchmarkScan(b *testing.B) {
	srv := valvtest.ClamdWith(b, valvtest.ClamdOptions{TCP: true})
	const size = 10 << 20
	for _, cfg := range endpoints(srv) {
		cfg.MaxStreamSize = valvtest.DefaultClamdStreamMaxLength
		c := newClient(b, cfg)
		b.Run("10MiB/"+cfg.Network, func(b *testing.B) {
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				res, err := c.Scan(b.Context(), pattern(size))
				if err != nil || !res.Clean {
					b.Fatalf("Scan = %+v, %v", res, err)
				}
			}
		})
	}
}

// BenchmarkPing measures a round trip to clamd on a new connection.
func BenchmarkPing(b *testing.B) {
	network, addr := valvtest.Clamd(b)
	c := newClient(b, scan.Config{Network: network, Address: addr})
	for b.Loop() {
		if err := c.Ping(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkClamdStart measures starting a harness clamd (one signature)
// until it answers PING, and removing it.
func BenchmarkClamdStart(b *testing.B) {
	if _, err := valvtest.ClamdBin(); err != nil {
		valvtest.Missing(b, "clamd", err.Error())
	}
	for b.Loop() {
		s, err := valvtest.StartClamd(b.Context(), "", valvtest.ClamdOptions{})
		if err != nil {
			b.Fatal(err)
		}
		s.Remove()
	}
}
