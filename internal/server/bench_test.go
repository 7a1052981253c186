package server

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/valvhq/valv/internal/config"
)

// BenchmarkHealthzHTTPS measures a full HTTPS round trip of /healthz over
// keep-alive connections, through the whole middleware chain.
func BenchmarkHealthzHTTPS(b *testing.B) {
	dir := b.TempDir()
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.Listen = "127.0.0.1:0"
	cert, err := LoadCertificate("", "", dir, []string{"127.0.0.1"}, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	s, err := New(Options{Config: cfg, Certificate: cert})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var addr string
	for addr == "" {
		if data, err := os.ReadFile(filepath.Join(dir, "valv.addr")); err == nil && strings.HasSuffix(string(data), "\n") {
			addr = strings.TrimSpace(string(data))
		}
		time.Sleep(5 * time.Millisecond)
	}
	tr := &http.Transport{
		TLSClientConfig:     &tls.Config{InsecureSkipVerify: true},
		MaxIdleConnsPerHost: 64,
		DialContext:         (&net.Dialer{}).DialContext,
	}
	client := &http.Client{Transport: tr}
	url := "https://" + addr + "/healthz"
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Get(url)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
	})
	b.StopTimer()
	cancel()
	<-done
}
