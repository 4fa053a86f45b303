package engine_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/beckon-dev/beckon/pkg/codec"
	"github.com/beckon-dev/beckon/pkg/engine"
	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/pkg/stream"
)

// flakyRegistry is a schema registry behind a proxy that can be taken
// down: while down it drops every connection, as an unreachable registry
// would, and counts the requests it dropped.
type flakyRegistry struct {
	down    atomic.Bool
	dropped atomic.Int64
	url     string
}

func newFlakyRegistry(t *testing.T, target string) *flakyRegistry {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	f := &flakyRegistry{}
	proxy := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.down.Load() {
			f.dropped.Add(1)
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

func registryClient(t *testing.T, url string) *sr.Client {
	t.Helper()
	cl, err := sr.NewClient(sr.URLs(url))
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// TestRegistryOutageIsRetried: with the engine in schema registry mode,
// a record whose schema ID the engine has not seen yet (the event itself,
// or the profile, fact or lookup row it reads) arrives while the registry
// does not answer. The engine retries it, asking the registry again each
// time, and dead-letters nothing; when the registry is back, the send goes
// out with every row in its payload, and no skip or error was recorded.
// Before, the event was dead-lettered, the profile taken as absent (a
// no_profile skip), the fact or lookup row as missing (an error activity).
// A table row is read before the partition is ready, so its outage holds
// readiness instead.
func TestRegistryOutageIsRetried(t *testing.T) {
	journeyYAML, err := os.ReadFile("testdata/enriched.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, viaRegistry := range []string{"events", "profiles", "facts.loyalty", "lookups.products"} {
		t.Run(viaRegistry, func(t *testing.T) {
			reg := srfake.New()
			t.Cleanup(reg.Close)
			flaky := newFlakyRegistry(t, reg.URL())

			h := newHarness(t)
			plain := h.codec
			// The test's producer and reader talk to the registry directly.
			direct, err := codec.New(codec.WithRegistry(registryClient(t, reg.URL())))
			if err != nil {
				t.Fatal(err)
			}
			h.codec = direct
			// The engine's codec learns its output schemas' IDs while the
			// registry answers, so the outage only hides the input's.
			engineCodec, err := codec.New(codec.WithRegistry(registryClient(t, flaky.url)))
			if err != nil {
				t.Fatal(err)
			}
			for base, r := range map[string]records.Record{"activity": &records.Activity{}, "send.email": &records.SendCommand{}, "handoff": &records.Handoff{}} {
				if _, err := engineCodec.Encode(h.ctx, h.topic(base), r); err != nil {
					t.Fatal(err)
				}
			}
			e, err := engine.New(engine.Config{
				Kafka: []kgo.Opt{kgo.SeedBrokers(h.brokers...)}, Topics: h.layout, Codec: engineCodec, StateDir: t.TempDir(), InstanceID: "engine-1",
				Group:  h.group,
				Stream: stream.Options{Clock: h.clock.now, PollWait: 20 * time.Millisecond, RetryBackoff: 50 * time.Millisecond},
				Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})),
			})
			if err != nil {
				t.Fatal(err)
			}
			h.engine = e

			if _, err := h.control.Publish(h.ctx, journeyYAML, records.FormatYAML); err != nil {
				t.Fatal(err)
			}
			produce := func(base, key string, r records.Record) {
				t.Helper()
				c := plain
				if base == viaRegistry {
					c = direct
				}
				b, err := c.Encode(h.ctx, h.topic(base), r)
				if err != nil {
					t.Fatal(err)
				}
				h.produceRaw(base, key, b)
			}
			produce("profiles", "u1", &records.Profile{UserID: "u1", Addresses: records.Addresses{Email: "u1@example.com"},
				Consent: map[string]records.Consent{"email": {Status: records.ConsentSubscribed}}})
			produce("facts.loyalty", "u1", &records.Fact{UserID: "u1", Name: "loyalty", Value: records.JSON(`{"points":1200}`)})
			produce("lookups.products", "SKU-1", &records.LookupRecord{Table: "products", ID: "SKU-1", Attributes: records.JSON(`{"name":"Linen Shirt"}`)})
			flaky.down.Store(true)
			// Tables are whole before processing starts (a global table
			// entirely; a profile or fact table up to its end at
			// assignment): the row the registry cannot resolve holds
			// readiness, and is retried, until the registry answers.
			table := viaRegistry != "events"
			if table {
				h.run()
			} else {
				h.start()
			}
			dlq := h.read("dlq")
			activity := h.read("activity")
			sends := h.read("send.email")
			produce("events", "u1", &records.Event{MessageID: "m1", Type: records.EventTrack, Name: "Product Added", UserID: "u1",
				Timestamp: h.clock.now(), Properties: records.JSON(`{"cart_id":"c1","sku":"SKU-1"}`)})

			// Retried, not decided: the engine keeps asking.
			deadline := time.Now().Add(20 * time.Second)
			for flaky.dropped.Load() < 6 { // the client tries twice per call: three tries at least
				if time.Now().After(deadline) {
					t.Fatalf("the engine asked the registry %d times in 20s: the record was not retried", flaky.dropped.Load())
				}
				time.Sleep(10 * time.Millisecond)
			}
			if table && h.engine.Ready() {
				t.Fatalf("ready while a %s row could not be read", viaRegistry)
			}
			flaky.down.Store(false)

			recs := sends.wait(t, "the send once the registry answers", func(recs []*kgo.Record) bool { return len(recs) >= 1 })
			var cmd records.SendCommand
			if err := h.codec.Decode(h.ctx, recs[0].Value, &cmd); err != nil {
				t.Fatal(err)
			}
			if got := string(cmd.Payload); got != `{"items":["Linen Shirt"],"points":1200}` {
				t.Errorf("payload %s", got)
			}
			acts := activity.wait(t, "the instance's activity", func(recs []*kgo.Record) bool {
				return countKind(h.activities(recs), records.ActivityExited, "completed") == 1
			})
			for _, a := range h.activities(acts) {
				if a.Kind == records.ActivitySkipped || a.Kind == records.ActivityError {
					t.Errorf("activity %s: %s", a.Kind, a.Reason)
				}
			}
			// The probe: a garbage event after the real one is
			// dead-lettered, so the dead-letter topic has caught up with
			// the real event once it shows, and it must be the only one.
			h.produceRaw("events", "u1", []byte("not avro"))
			dead := dlq.wait(t, "the garbage event's dead letter", func(recs []*kgo.Record) bool { return len(recs) >= 1 })
			if len(dead) != 1 || string(dead[0].Value) != "not avro" {
				t.Fatalf("%d dead letters, the first %q (%s): the outage dead-lettered a record", len(dead), dead[0].Value, dlqReason(dead[0]))
			}
		})
	}
}
