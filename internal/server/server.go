package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valvhq/valv/internal/config"
)

// Route is one endpoint that a feature package (api, web) contributes.
type Route struct {
	// Method and Pattern follow net/http.ServeMux: "GET", "/api/v1/tenants/{id}".
	Method  string
	Pattern string
	Handler http.Handler
	// MaxBody overrides the server's body limit for this route (uploads).
	MaxBody int64
	// ReadTimeout and WriteTimeout, if set, replace http.read_timeout and
	// http.write_timeout for this route (uploads and downloads, which may
	// take longer).
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	// AllowSealed marks routes served while the keyring is sealed (unseal).
	AllowSealed bool
	// Action names what the route does in the audit trail ("user.list").
	Action string
	// Class selects the middleware the route gets.
	Class Class
	// RawBody, if set, reports whether a request's body is file content,
	// a stream or bulk data that the WAF does not read (it goes to the
	// malware scanner or a strict decoder instead); the request line and
	// headers are inspected all the same. Nil: the WAF reads every body.
	RawBody func(r *http.Request) bool
}

// Guard is the threat protection the server places around routes
// (GRD-1, GRD-2); see routes.go for where each piece goes.
type Guard interface {
	// Blocklist refuses blocked sources and watches for failed
	// authentication.
	Blocklist(next http.Handler) http.Handler
	// LimitAddress is the per-address rate limit.
	LimitAddress(next http.Handler) http.Handler
	// Firewall is the web application firewall.
	Firewall(next http.Handler) http.Handler
	// LimitPrincipal is the per-key, per-user and per-tenant rate limit,
	// after authentication.
	LimitPrincipal(next http.Handler) http.Handler
}

// Class groups routes that share middleware.
type Class int

const (
	// ClassAPI routes are JSON under /api/v1/.
	ClassAPI Class = iota
	// ClassSystem routes are health, readiness, metrics: always served.
	ClassSystem
	// ClassWeb routes are the server-rendered portal.
	ClassWeb
)

// Check is a readiness check; a non-nil error makes /readyz answer 503.
// The error text is shown on /readyz, so it MUST be a short, public reason.
type Check struct {
	Name string
	Fn   func(ctx context.Context) error
}

// Options configures a Server.
type Options struct {
	Config      config.Config
	Logger      *slog.Logger
	Certificate Certificate
	Routes      []Route
	Checks      []Check
	Registry    *prometheus.Registry
	// Sealed reports whether the keyring is sealed; nil means never.
	Sealed func() bool
	// Authenticate establishes who is calling (session cookie, API key) and
	// returns the request's context carrying the principal. An error (a bad
	// API key, a key used from a disallowed address) is written as the
	// response. Nil treats every request as anonymous.
	Authenticate func(r *http.Request) (context.Context, error)
	// Audit wraps a route so that each call is on the audit trail before
	// its response is sent. Nil audits nothing.
	Audit func(action string, h http.Handler) http.Handler
	// Guard, if set, is placed in the chain; nil serves without it.
	Guard Guard
	// Out receives the lines a person starting Valv wants to see.
	Out io.Writer
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Server is Valv's HTTPS server.
type Server struct {
	opts           Options
	log            *slog.Logger
	handler        http.Handler
	metrics        *metrics
	trustedProxies []netip.Prefix
	metricsAllow   []netip.Prefix
	byPattern      map[string]Route // "METHOD pattern" → route
}

// New builds a server. It does not listen yet.
func New(opts Options) (*Server, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	s := &Server{opts: opts, log: opts.Logger}
	for _, p := range opts.Config.HTTP.TrustedProxies {
		pfx, err := config.ParsePrefix(p)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: %w", p, err)
		}
		s.trustedProxies = append(s.trustedProxies, pfx)
	}
	s.metricsAllow = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	m, err := newMetrics(opts.Registry)
	if err != nil {
		return nil, err
	}
	s.metrics = m
	h, err := s.routes()
	if err != nil {
		return nil, err
	}
	s.handler = h
	return s, nil
}

// Handler returns the whole middleware chain and routes, for tests.
func (s *Server) Handler() http.Handler { return s.handler }

// Listen opens the HTTPS listener (port 0 picks a free port).
func (s *Server) Listen() (net.Listener, error) {
	ln, err := net.Listen("tcp", s.opts.Config.Listen)
	if err != nil {
		return nil, listenError(s.opts.Config.Listen, err)
	}
	return ln, nil
}

// Run listens and serves until ctx ends (see Serve).
func (s *Server) Run(ctx context.Context) error {
	ln, err := s.Listen()
	if err != nil {
		return err
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln until ctx ends, then shuts down gracefully. It writes
// the listener's address to data_dir/valv.addr and prints it to Out.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	cfg := s.opts.Config
	addr := ln.Addr().String()
	var err error
	srv := &http.Server{
		Handler:           s.handler,
		TLSConfig:         TLSConfig(s.opts.Certificate.TLS, cfg.TLS.MinVersion),
		ReadHeaderTimeout: cfg.HTTP.ReadHeaderTimeout,
		ReadTimeout:       cfg.HTTP.ReadTimeout,
		WriteTimeout:      cfg.HTTP.WriteTimeout,
		IdleTimeout:       cfg.HTTP.IdleTimeout,
		MaxHeaderBytes:    cfg.HTTP.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug), // TLS handshake noise
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	var redirect *http.Server
	var rln net.Listener
	if cfg.RedirectListen != "" {
		rln, err = net.Listen("tcp", cfg.RedirectListen)
		if err != nil {
			ln.Close()
			return listenError(cfg.RedirectListen, err)
		}
		redirect = &http.Server{
			Handler:           redirectHandler(cfg.PublicURL, addr),
			ReadHeaderTimeout: cfg.HTTP.ReadHeaderTimeout,
			ReadTimeout:       cfg.HTTP.ReadHeaderTimeout,
			WriteTimeout:      cfg.HTTP.ReadHeaderTimeout,
			IdleTimeout:       cfg.HTTP.IdleTimeout,
			MaxHeaderBytes:    cfg.HTTP.MaxHeaderBytes,
			ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		}
	}

	addrFile := filepath.Join(cfg.DataDir, "valv.addr")
	if err := writeFileAtomic(addrFile, []byte(addr+"\n"), 0o644); err != nil {
		ln.Close()
		return fmt.Errorf("write %s: %w", addrFile, err)
	}
	defer os.Remove(addrFile)

	errc := make(chan error, 2)
	go func() { errc <- srv.ServeTLS(ln, "", "") }()
	if redirect != nil {
		go func() { errc <- redirect.Serve(rln) }()
		fmt.Fprintf(s.opts.Out, "Redirecting http://%s to HTTPS\n", rln.Addr())
	}
	fmt.Fprintf(s.opts.Out, "Valv is listening on https://%s/\n", addr)
	s.log.Info("listening", "addr", addr, "tls_min_version", cfg.TLS.MinVersion)

	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve: %w", err)
		}
	case <-ctx.Done():
	}
	s.log.Info("shutting down", "grace", cfg.HTTP.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.HTTP.ShutdownTimeout)
	defer cancel()
	var errs []error
	if redirect != nil {
		errs = append(errs, redirect.Shutdown(sctx))
	}
	errs = append(errs, srv.Shutdown(sctx))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// listenError turns a listen failure into one line that says what to do.
func listenError(addr string, err error) error {
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return fmt.Errorf("cannot listen on %s: the address is already in use (is another Valv running? choose another port with --listen)", addr)
	case errors.Is(err, syscall.EACCES):
		return fmt.Errorf("cannot listen on %s: permission denied (ports below 1024 need privileges)", addr)
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return fmt.Errorf("cannot listen on %s: no such local address", addr)
	}
	return fmt.Errorf("cannot listen on %s: %w", addr, err)
}

// redirectHandler answers plain HTTP with a permanent redirect to HTTPS.
// The target host is the public URL's, or the request's host name with the
// HTTPS port; it never echoes a port or path from the Host header.
func redirectHandler(publicURL, httpsAddr string) http.Handler {
	_, httpsPort, _ := net.SplitHostPort(httpsAddr)
	var base *url.URL
	if publicURL != "" {
		base, _ = url.Parse(publicURL)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		target := url.URL{Scheme: "https", Path: r.URL.Path, RawQuery: r.URL.RawQuery}
		if base != nil {
			target.Host = base.Host
		} else {
			host := r.Host
			if h, _, err := net.SplitHostPort(host); err == nil {
				host = h
			}
			if host == "" || strings.ContainsAny(host, "/\\@") {
				http.Error(w, "use HTTPS", http.StatusBadRequest)
				return
			}
			target.Host = net.JoinHostPort(strings.Trim(host, "[]"), httpsPort)
		}
		w.Header().Set("Connection", "close")
		http.Redirect(w, r, target.String(), http.StatusPermanentRedirect)
	})
}
