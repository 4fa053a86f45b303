package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Options configures a Server. Zero values take the documented defaults.
type Options struct {
	// Tokens are the accepted bearer tokens. With none, every route but a
	// Public one answers 401.
	Tokens Tokens
	// MaxBodyBytes caps a request body; a larger one is refused with 413.
	// Default 1 MiB.
	MaxBodyBytes int64
	// RequestTimeout bounds one request's handling: its context ends then.
	// Default 30s.
	RequestTimeout time.Duration
	// Logger receives one line per failed request; default discards.
	Logger *slog.Logger
	// Meter, when set, receives beckon_api_requests and
	// beckon_api_request_duration_seconds by route and status.
	Meter metric.Meter
}

// Route is one mounted route, as documented in docs/openapi.yaml.
type Route struct {
	Method  string
	Pattern string // a net/http pattern path, e.g. /v1/journeys/{id}
	Role    Role
}

// Server is the API's HTTP handler: a router that authenticates every
// request against its route's role, limits its body and its time, and
// answers every failure with a JSON error body.
type Server struct {
	opts     Options
	tokens   atomic.Pointer[Tokens]
	mux      *http.ServeMux
	routes   []Route
	requests metric.Int64Counter
	duration metric.Float64Histogram
}

// New returns a server with no routes.
func New(opts Options) (*Server, error) {
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 1 << 20
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = 30 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{opts: opts, mux: http.NewServeMux()}
	s.SetTokens(opts.Tokens)
	if opts.Meter != nil {
		var err error
		if s.requests, err = opts.Meter.Int64Counter("beckon_api_requests", metric.WithDescription("API requests answered, by route and status.")); err != nil {
			return nil, err
		}
		if s.duration, err = opts.Meter.Float64Histogram("beckon_api_request_duration_seconds", metric.WithUnit("s"), metric.WithDescription("Time to answer an API request, by route.")); err != nil {
			return nil, err
		}
	}
	s.mux.HandleFunc("/", s.notFound)
	return s, nil
}

// SetTokens replaces the accepted tokens, for requests that start from
// now on: rotating tokens needs no restart.
func (s *Server) SetTokens(t Tokens) { s.tokens.Store(&t) }

// Routes returns the mounted routes in the order they were mounted.
func (s *Server) Routes() []Route { return slices.Clone(s.routes) }

// Handle mounts h at method and pattern (a Go ServeMux path pattern such
// as "/v1/users/{userId}/instances"). Every request is authenticated
// against role, its body is limited, its context times out, and a panic in
// h becomes a 500 with a JSON body. It panics on a pattern ServeMux
// refuses, which is a programming error.
func (s *Server) Handle(method, pattern string, role Role, h http.Handler) {
	route := method + " " + pattern
	s.routes = append(s.routes, Route{Method: method, Pattern: pattern, Role: role})
	s.mux.Handle(route, s.wrap(route, role, h))
}

// Static serves h at pattern without a token and outside Routes: for
// the web console's files (pkg/console), which hold no data and are the
// same for everyone; everything they show comes through the
// authenticated routes. Responses get the security headers the console
// relies on (no framing, no sniffing, no referrer), and the panics and
// logs of the API's own routes.
func (s *Server) Static(pattern string, h http.Handler) {
	s.mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Referrer-Policy", "no-referrer")
		s.wrap(pattern, Public, h).ServeHTTP(w, r)
	}))
}

func (s *Server) wrap(route string, role Role, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		var tok Token
		defer func() {
			if p := recover(); p != nil {
				s.opts.Logger.Error("api handler panicked", "route", route, "panic", p)
				if sw.status == 0 {
					writeError(sw, &Error{Status: http.StatusInternalServerError, Code: "internal", Message: "internal error"})
				}
			}
			if sw.status == 0 {
				sw.status = http.StatusOK
			}
			took := time.Since(start)
			s.observe(r.Context(), route, sw.status, took)
			level := slog.LevelDebug
			if sw.status >= 500 {
				level = slog.LevelError
			}
			// The token's name, never the token.
			s.opts.Logger.Log(r.Context(), level, "api request", "route", route, "path", r.URL.Path, "status", sw.status, "took", took, "token", tok.Name)
		}()
		tok, e := s.tokens.Load().authenticate(r, role)
		if e != nil {
			writeError(sw, e)
			return
		}
		if r.ContentLength > s.opts.MaxBodyBytes {
			writeError(sw, tooLarge(s.opts.MaxBodyBytes))
			return
		}
		r.Body = http.MaxBytesReader(sw, r.Body, s.opts.MaxBodyBytes)
		ctx, cancel := context.WithTimeout(r.Context(), s.opts.RequestTimeout)
		defer cancel()
		h.ServeHTTP(sw, r.WithContext(withToken(ctx, tok)))
	})
}

func (s *Server) observe(ctx context.Context, route string, status int, d time.Duration) {
	if s.requests == nil {
		return
	}
	attrs := metric.WithAttributes(attribute.String("route", route), attribute.String("status", strconv.Itoa(status)))
	s.requests.Add(ctx, 1, attrs)
	s.duration.Record(ctx, d.Seconds(), metric.WithAttributes(attribute.String("route", route)))
}

func tooLarge(limit int64) *Error {
	return &Error{Status: http.StatusRequestEntityTooLarge, Code: "too_large", Message: fmt.Sprintf("request body is larger than %d bytes", limit)}
}

// notFound answers any request no route matches: 405 with Allow when the
// path exists for other methods, 404 otherwise, both with a JSON body.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, p := s.mux.Handler(probe); p != "/" && p != "" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, &Error{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed", Message: r.Method + " is not allowed on " + r.URL.Path})
		return
	}
	writeError(w, errNotFound("no route "+r.Method+" "+r.URL.Path))
}

// ServeHTTP routes a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Serve listens on addr and serves until ctx ends, then shuts down,
// letting requests in flight finish for up to RequestTimeout. It returns
// the bound address once listening and reports the serving error, if any,
// on the returned channel.
func (s *Server) Serve(ctx context.Context, addr string) (net.Addr, <-chan error, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("api listener: %w", err)
	}
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       s.opts.RequestTimeout,
		WriteTimeout:      s.opts.RequestTimeout + 5*time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.opts.Logger.Handler(), slog.LevelWarn),
	}
	done := make(chan error, 1)
	go func() {
		err := srv.Serve(l)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		done <- err
	}()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), s.opts.RequestTimeout)
		defer cancel()
		if srv.Shutdown(sctx) != nil {
			srv.Close()
		}
	}()
	return l.Addr(), done, nil
}

// statusWriter remembers the status a handler sent.
type statusWriter struct {
	http.ResponseWriter
	status int
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
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

type tokenKey struct{}

func withToken(ctx context.Context, t Token) context.Context {
	return context.WithValue(ctx, tokenKey{}, t)
}

// TokenFrom returns the token that authenticated the request whose
// context ctx is.
func TokenFrom(ctx context.Context) (Token, bool) {
	t, ok := ctx.Value(tokenKey{}).(Token)
	return t, ok && t.Name != ""
}
