package health

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"
)

// Probed is a service's liveness and readiness.
type Probed interface {
	// Ready reports whether the service may receive work: every owned
	// partition and global table is restored.
	Ready() bool
	// Health is nil while the service is alive and makes progress, and
	// otherwise says why not (a restart is the remedy).
	Health() error
}

// Handler serves /healthz and /readyz from p, and /metrics from metrics
// when it is not nil.
func Handler(p Probed, metrics http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if err := p.Health(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !p.Ready() {
			msg := "not ready: restoring"
			if w, ok := p.(waiting); ok {
				if names := w.NotReady(); len(names) > 0 {
					msg += " " + strings.Join(names, ", ")
				}
			}
			http.Error(w, msg, http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	if metrics != nil {
		mux.Handle("/metrics", metrics)
	}
	return mux
}

// Serve listens on addr and serves h until ctx ends. It returns the
// address it listens on (addr may have port 0).
func Serve(ctx context.Context, log *slog.Logger, addr string, h http.Handler) (net.Addr, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("health and metrics listener: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("health and metrics endpoint", "err", err)
		}
	}()
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	return l.Addr(), nil
}

// All is one probe for the parts one process runs (the engine and the
// processors beside it): ready when every part is, healthy while every
// part is, its error joining theirs. When the first part counts the
// partitions it owns (Owned, as *engine.Engine does), the result does too,
// so the partition gauges stay the first part's.
func All(first Probed, more ...Probed) Probed {
	a := all(append([]Probed{first}, more...))
	f := first
	if n, ok := first.(named); ok {
		f = n.Probed
	}
	if o, ok := f.(owner); ok {
		return allOwned{a, o}
	}
	return a
}

// owner is metrics.Partitioned, without importing it.
type owner interface {
	Owned() (owned, ready int)
}

// Named gives p a name, by which All's /readyz body names the parts that
// are not ready yet.
func Named(name string, p Probed) Probed { return named{p, name} }

type named struct {
	Probed
	name string
}

// waiting is a probe that can say which of its parts are not ready.
type waiting interface {
	NotReady() []string
}

type all []Probed

// NotReady names the parts not ready (those given a name by Named).
func (a all) NotReady() []string {
	var out []string
	for _, p := range a {
		if n, ok := p.(named); ok && !n.Ready() {
			out = append(out, n.name)
		}
	}
	return out
}

func (a all) Ready() bool {
	for _, p := range a {
		if !p.Ready() {
			return false
		}
	}
	return true
}

func (a all) Health() error {
	var errs []error
	for _, p := range a {
		if err := p.Health(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

type allOwned struct {
	all
	owner
}
