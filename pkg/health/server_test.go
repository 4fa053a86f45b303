package health

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// probe is a Probed whose answers the test sets.
type probe struct {
	ready  bool
	health error
}

func (p probe) Ready() bool   { return p.ready }
func (p probe) Health() error { return p.health }

// TestHealthReportsWhatIsTrue: /healthz fails with the service's reason when
// it cannot make progress (a stopped runner, a restore that keeps
// failing), and /readyz fails while it is not ready.
func TestHealthReportsWhatIsTrue(t *testing.T) {
	for _, c := range []struct {
		p                 probe
		healthz, readyz   int
		healthzBodyPrefix string
	}{
		{probe{ready: true}, 200, 200, "ok"},
		{probe{ready: false}, 200, 503, "ok"},
		{probe{health: fmt.Errorf("partition 3: restore failing for 2m0s: disk")}, 503, 503, "partition 3: restore failing"},
	} {
		h := Handler(c.p, nil)
		for path, want := range map[string]int{"/healthz": c.healthz, "/readyz": c.readyz} {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
			if rec.Code != want {
				t.Errorf("%+v %s: status %d, want %d", c.p, path, rec.Code, want)
			}
			if path == "/healthz" && !strings.HasPrefix(rec.Body.String(), c.healthzBodyPrefix) {
				t.Errorf("%+v /healthz body %q, want it to start with %q", c.p, rec.Body.String(), c.healthzBodyPrefix)
			}
		}
	}
}

// TestServeAnswersOnAllThreePaths: Serve listens (port 0 picks one),
// serves /healthz, /readyz and the metrics handler at /metrics, and
// stops with its context.
func TestServeAnswersOnAllThreePaths(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "beckon_ready 1") })
	addr, err := Serve(ctx, slog.New(slog.DiscardHandler), "127.0.0.1:0", Handler(probe{ready: true}, metrics))
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{"/healthz": "ok", "/readyz": "ready", "/metrics": "beckon_ready 1"} {
		resp, err := http.Get("http://" + addr.String() + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || strings.TrimSpace(string(b)) != want {
			t.Errorf("%s: %d %q, want 200 %q", path, resp.StatusCode, b, want)
		}
	}
	cancel()
	waitClosed(t, "http://"+addr.String()+"/healthz")
}

// waitClosed waits until nothing answers at url.
func waitClosed(t *testing.T, url string) {
	t.Helper()
	for i := 0; ; i++ {
		resp, err := http.Get(url)
		if err != nil {
			return
		}
		resp.Body.Close()
		if i > 1000 {
			t.Fatal("still serving after its context ended")
		}
	}
}

// TestAllIsReadyWhenEveryPartIs: the engine and the processors beside it
// answer one /readyz and /healthz: not ready while any part is not, not
// healthy while any part is not (saying why), and the first part's
// partition counts are kept for the gauges.
func TestAllIsReadyWhenEveryPartIs(t *testing.T) {
	stuck := errors.New("timelines: stream runner stopped")
	for _, c := range []struct {
		parts           []Probed
		healthz, readyz int
	}{
		{[]Probed{probe{ready: true}, probe{ready: true}, probe{ready: true}}, 200, 200},
		{[]Probed{probe{ready: true}, probe{ready: false}, probe{ready: true}}, 200, 503},
		{[]Probed{probe{ready: false}, probe{ready: true}}, 200, 503},
		{[]Probed{probe{ready: true}, probe{ready: true, health: stuck}}, 503, 200},
	} {
		h := Handler(All(c.parts[0], c.parts[1:]...), nil)
		for path, want := range map[string]int{"/healthz": c.healthz, "/readyz": c.readyz} {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
			if rec.Code != want {
				t.Errorf("%+v %s: status %d, want %d", c.parts, path, rec.Code, want)
			}
			if path == "/healthz" && want == 503 && !strings.Contains(rec.Body.String(), stuck.Error()) {
				t.Errorf("/healthz does not say which part failed: %q", rec.Body.String())
			}
		}
	}
	if _, ok := All(probe{}, probe{}).(interface{ Owned() (int, int) }); ok {
		t.Error("All counts partitions though its first part does not")
	}
	if n, r := All(ownedProbe{owned: 3, ready: 2}, probe{}).(interface{ Owned() (int, int) }).Owned(); n != 3 || r != 2 {
		t.Errorf("Owned %d %d, want the first part's 3 2", n, r)
	}
}

type ownedProbe struct {
	probe
	owned, ready int
}

func (p ownedProbe) Owned() (int, int) { return p.owned, p.ready }

// TestReadyzNamesThePartsNotReady: an operator reading /readyz learns
// which part of the process is still restoring, and a named first part
// keeps its partition counts.
func TestReadyzNamesThePartsNotReady(t *testing.T) {
	p := All(Named("engine", ownedProbe{probe: probe{ready: true}, owned: 3, ready: 3}),
		Named("journey metrics", probe{ready: false}), Named("timelines", probe{ready: false}))
	rec := httptest.NewRecorder()
	Handler(p, nil).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if got, want := strings.TrimSpace(rec.Body.String()), "not ready: restoring journey metrics, timelines"; rec.Code != 503 || got != want {
		t.Errorf("/readyz: %d %q, want 503 %q", rec.Code, got, want)
	}
	o, ok := p.(interface{ Owned() (int, int) })
	if !ok {
		t.Fatal("naming the engine lost its partition counts")
	}
	if n, r := o.Owned(); n != 3 || r != 3 {
		t.Errorf("Owned %d %d, want 3 3", n, r)
	}
}
