package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/valvhq/valv/internal/call"
	"github.com/valvhq/valv/internal/problem"
)

// routeKey holds a *routeInfo that the matched route fills in, so that the
// outer middleware (metrics, logs) learn the route pattern.
type routeKey struct{}

type routeInfo struct {
	pattern string
	raw     func(r *http.Request) bool
}

// RawBody reports whether the route r is for takes file content or bulk
// data as its body (Route.RawBody): the WAF passes such bodies on unread.
// It is false before the route is known and for unknown routes.
func RawBody(r *http.Request) bool {
	ri, ok := r.Context().Value(routeKey{}).(*routeInfo)
	return ok && ri.raw != nil && ri.raw(r)
}

// locate finds the route of a request before the guard runs, so that the
// WAF knows whether the route's body is raw (an upload) and metrics know
// the route even of refused requests.
func (s *Server) locate(mux *http.ServeMux) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if ri, ok := r.Context().Value(routeKey{}).(*routeInfo); ok {
				if _, pattern := mux.Handler(r); pattern != "" {
					ri.pattern = strings.TrimPrefix(pattern, r.Method+" ")
					if rt, ok := s.byPattern[pattern]; ok {
						ri.pattern, ri.raw = rt.Pattern, rt.RawBody
					}
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}

var validRequestID = regexp.MustCompile(`^[A-Za-z0-9_-]{8,64}$`)

func (s *Server) withCall(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		peer := peerAddr(r.RemoteAddr)
		trusted := s.isTrustedProxy(peer)
		id := ""
		if trusted {
			if v := r.Header.Get("X-Request-Id"); validRequestID.MatchString(v) {
				id = v
			}
		}
		if id == "" {
			id = call.NewRequestID()
		}
		info := call.Info{
			RequestID: id,
			Channel:   call.ChannelAPI,
			ClientIP:  s.clientIP(peer, trusted, r.Header.Values("X-Forwarded-For")),
			UserAgent: truncate(r.UserAgent(), 512),
			Start:     s.opts.Now(),
		}
		if !strings.HasPrefix(r.URL.Path, "/api/") {
			info.Channel = call.ChannelWeb
		}
		w.Header().Set("X-Request-Id", id)
		ctx := call.With(r.Context(), info)
		ctx = context.WithValue(ctx, routeKey{}, &routeInfo{})
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func peerAddr(remote string) netip.Addr {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		host, _, _ := net.SplitHostPort(remote)
		a, _ := netip.ParseAddr(host)
		return a.Unmap()
	}
	return ap.Addr().Unmap()
}

func (s *Server) isTrustedProxy(a netip.Addr) bool {
	for _, p := range s.trustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientIP is the peer's address, unless the peer is a trusted proxy: then
// it is the right-most address in X-Forwarded-For that is not itself a
// trusted proxy (addresses further left could be forged by the client).
func (s *Server) clientIP(peer netip.Addr, trusted bool, xff []string) netip.Addr {
	if !trusted || len(xff) == 0 {
		return peer
	}
	var hops []string
	for _, v := range xff {
		hops = append(hops, strings.Split(v, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return peer // a malformed chain is not believed at all
		}
		a = a.Unmap()
		if !s.isTrustedProxy(a) {
			return a
		}
	}
	return peer
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// markRoute records the matched route's pattern for the outer middleware.
func markRoute(pattern string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ri, ok := r.Context().Value(routeKey{}).(*routeInfo); ok {
			ri.pattern = pattern
		}
		next.ServeHTTP(w, r)
	})
}

// observe counts and times every response, and logs it without the path,
// query, client address or user agent.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		s.metrics.inflight.Inc()
		rw := &statusWriter{ResponseWriter: w}
		defer func() {
			s.metrics.inflight.Dec()
			route := "unmatched"
			if ri, ok := r.Context().Value(routeKey{}).(*routeInfo); ok && ri.pattern != "" {
				route = ri.pattern
			}
			status := rw.status
			if status == 0 {
				status = http.StatusOK
			}
			d := time.Since(start)
			s.metrics.requests.WithLabelValues(route, r.Method, strconv.Itoa(status)).Inc()
			s.metrics.duration.WithLabelValues(route, r.Method).Observe(d.Seconds())
			s.log.Debug("request", "request_id", call.RequestID(r.Context()), "method", r.Method,
				"route", route, "status", status, "bytes", rw.bytes, "duration_ms", float64(d.Microseconds())/1000)
		}()
		next.ServeHTTP(rw, r)
	})
}

// statusWriter remembers the status and size of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach Flush and deadlines.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// securityHeaders sets the headers every response carries (GRD-3). Pages of
// the portal replace the Content-Security-Policy with their own.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Strict-Transport-Security", HSTS)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
		next.ServeHTTP(w, r)
	})
}

// recoverPanics turns a panic into a 500 envelope. The panic's value is
// logged only if it is a runtime error (which holds no request data).
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			what := fmt.Sprintf("%T", v)
			if re, ok := v.(runtime.Error); ok {
				what = re.Error()
			}
			s.log.Error("panic serving request", "request_id", call.RequestID(r.Context()), "panic", what, "stack", string(debug.Stack()))
			problem.Write(w, call.RequestID(r.Context()), errors.New("panic"))
		}()
		next.ServeHTTP(w, r)
	})
}

// extendDeadlines gives a route's request body longer to arrive, or its
// response longer to go out, than the server's timeouts (uploads,
// downloads).
func extendDeadlines(read, write time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if read > 0 {
			_ = rc.SetReadDeadline(time.Now().Add(read))
		}
		if write > 0 {
			_ = rc.SetWriteDeadline(time.Now().Add(write))
		}
		next.ServeHTTP(w, r)
	})
}

// limitBody caps the request body. Reading past the cap fails with
// *http.MaxBytesError, which handlers report as 413.
func limitBody(next http.Handler, limit int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > limit {
			problem.Write(w, call.RequestID(r.Context()), TooLarge(limit))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		next.ServeHTTP(w, r)
	})
}

// TooLarge is the problem for a body over limit bytes.
func TooLarge(limit int64) *problem.Error {
	return problem.New(problem.KindTooLarge, "body_too_large",
		fmt.Sprintf("The request body is larger than the limit of %d bytes.", limit))
}

// dispatch serves the route table; requests that match no route get a JSON
// 404, or 405 with an Allow header when the path exists for other methods.
func (s *Server) dispatch(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		probe := &headerOnly{header: http.Header{}}
		mux.ServeHTTP(probe, r)
		id := call.RequestID(r.Context())
		if probe.status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", probe.header.Get("Allow"))
			problem.Write(w, id, problem.New(problem.KindMethodNotAllowed, "method_not_allowed",
				"This method is not allowed here; the Allow header lists the methods that are."))
			return
		}
		problem.Write(w, id, problem.NotFound("not_found", "There is nothing at this address."))
	})
}

// headerOnly is a ResponseWriter that keeps only the status and headers.
type headerOnly struct {
	header http.Header
	status int
}

func (h *headerOnly) Header() http.Header         { return h.header }
func (h *headerOnly) Write(b []byte) (int, error) { return len(b), nil }
func (h *headerOnly) WriteHeader(code int)        { h.status = code }

// refuseWhileSealed answers 503 sealed while no root key is loaded.
func (s *Server) refuseWhileSealed(next http.Handler) http.Handler {
	if s.opts.Sealed == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.opts.Sealed() {
			p := problem.Unavailable("sealed", "Valv is sealed: key holders must unseal it first (valv operator unseal).")
			p.RetryAfter = 5
			problem.Write(w, call.RequestID(r.Context()), p)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// auditUnlessSealed serves audited while Valv is unsealed, and plain while
// it is sealed (there are no keys to write entries with then).
func (s *Server) auditUnlessSealed(audited, plain http.Handler) http.Handler {
	if s.opts.Sealed == nil {
		return audited
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.opts.Sealed() {
			plain.ServeHTTP(w, r)
			return
		}
		audited.ServeHTTP(w, r)
	})
}

// authenticate puts the caller's principal into the request's context.
func (s *Server) authenticate(next http.Handler) http.Handler {
	if s.opts.Authenticate == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, err := s.opts.Authenticate(r)
		if err != nil {
			problem.Write(w, call.RequestID(r.Context()), err)
			return
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// crossOrigin refuses state-changing requests that a browser marks as
// coming from another site (Sec-Fetch-Site, Origin): with SameSite=Strict
// cookies this is Valv's protection against cross-site request forgery.
// Requests without those headers (API clients) pass.
func (s *Server) crossOrigin(next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		problem.Write(w, call.RequestID(r.Context()), problem.Forbidden("cross_origin_request", "Cross-origin requests that change data are refused."))
	}))
	return cop.Handler(next)
}
