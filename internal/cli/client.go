package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/valvhq/valv/internal/config"
)

// client talks to a running Valv over HTTPS.
type client struct {
	base string
	http *http.Client
}

// serverFlags are the flags of commands that talk to a running server.
type serverFlags struct {
	addr   string
	caFile string
}

func (f *serverFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.addr, "addr", "", "address of the running Valv (default: read from <data-dir>/valv.addr)")
	cmd.Flags().StringVar(&f.caFile, "ca-file", "", "PEM file of the CA (or certificate) to trust for the server (default: the self-signed certificate in the data directory, then the system's)")
}

// newClient builds a client from the flags and the configuration: the
// address from --addr or data_dir/valv.addr; trust in the system roots
// plus the data directory's self-signed certificate or --ca-file.
func (e *env) newClient(cfg config.Config, f serverFlags) (*client, error) {
	addr := f.addr
	if addr == "" {
		b, err := os.ReadFile(filepath.Join(cfg.DataDir, "valv.addr"))
		if err != nil {
			return nil, fmt.Errorf("cannot find the running Valv: no %s (start 'valv serve', or give --addr)", filepath.Join(cfg.DataDir, "valv.addr"))
		}
		addr = strings.TrimSpace(string(b))
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	trust := []string{f.caFile}
	if f.caFile == "" {
		trust = []string{filepath.Join(cfg.DataDir, "tls", "self-signed.crt")}
		if cfg.TLS.CertFile != "" {
			trust = append(trust, cfg.TLS.CertFile)
		}
	}
	for _, p := range trust {
		pem, err := os.ReadFile(p)
		if err != nil {
			if f.caFile != "" {
				return nil, fmt.Errorf("read --ca-file: %w", err)
			}
			continue
		}
		pool.AppendCertsFromPEM(pem)
	}
	base := addr
	if !strings.HasPrefix(base, "https://") {
		base = "https://" + base
	}
	return &client{base: strings.TrimSuffix(base, "/"), http: &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}},
	}}, nil
}

// apiError is an error envelope from the server.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string { return e.Message }

// do sends a JSON request and decodes a JSON response into out (if non-nil).
func (c *client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var uerr *tls.CertificateVerificationError
		if errors.As(err, &uerr) {
			return fmt.Errorf("cannot verify the server's certificate at %s (give --ca-file): %v", c.base, uerr.Err)
		}
		return fmt.Errorf("cannot reach Valv at %s: %v", c.base, errors.Unwrap(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 400 {
		var env struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if json.Unmarshal(data, &env) == nil && env.Error.Code != "" {
			return &apiError{Status: resp.StatusCode, Code: env.Error.Code, Message: env.Error.Message}
		}
		return fmt.Errorf("server answered %s", resp.Status)
	}
	if out != nil && len(data) > 0 {
		return json.Unmarshal(data, out)
	}
	return nil
}
