package engine_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/pkg/telemetry"
	"github.com/beckon-dev/beckon/pkg/webhook"
)

// crmJourney sends on the webhook channel and waits for its receipt.
const crmJourney = `
id: crm-sync
trigger: {event: Signed Up}
steps:
  - id: notify-crm
    send: {channel: webhook, template: new-lead, payload: {plan: event.properties.plan}}
  - id: await
    wait_receipt: {of: notify-crm, timeout: 1h, on: {delivered: thank, failed: exit}}
  - id: thank
    send: {channel: email, template: welcome}
`

// crmSync publishes crmJourney and a profile of u1 reachable on its
// channels.
func (h *harness) crmSync() {
	h.t.Helper()
	if _, err := h.control.Publish(h.ctx, []byte(crmJourney), records.FormatYAML); err != nil {
		h.t.Fatal(err)
	}
	h.produce("profiles", "u1", records.Profile{UserID: "u1", Addresses: records.Addresses{Email: "u1@example.com"},
		Consent: map[string]records.Consent{"email": {Status: records.ConsentSubscribed}, "webhook": {Status: records.ConsentSubscribed}}})
}

// runSender runs the webhook sender of the deployment, posting to url,
// with tracing tp (nil: none), until stop.
func (h *harness) runSender(url string, tp *telemetry.Provider) (stop func()) {
	h.t.Helper()
	sender, err := webhook.New(webhook.Config{
		Kafka: []kgo.Opt{kgo.SeedBrokers(h.brokers...), kgo.FetchMaxWait(100 * time.Millisecond)}, Codec: h.codec,
		Commands: h.topic("send.webhook"), Receipts: h.topic("receipts"), DeadLetter: h.topic("dlq"), Group: h.group + "-webhook",
		URL: url, Secret: []byte("s"), Retry: webhook.Backoff{Base: 10 * time.Millisecond, Max: 50 * time.Millisecond},
		Logger: slog.New(slog.DiscardHandler), Tracing: tp,
	})
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(h.ctx)
	done := make(chan error, 1)
	go func() { done <- sender.Run(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			h.t.Error(err)
		}
	}
}

// TestWebhookRoundTrip: the engine sends on the webhook channel, the
// reference adapter posts it to an endpoint that fails the first try,
// the endpoint sees the command once (by its idempotency key), and the
// delivered receipt comes back into the journey, which moves on.
func TestWebhookRoundTrip(t *testing.T) {
	h := newHarness(t)
	// The adapter checks deadlines against the real clock.
	h.clock.ns.Store(time.Now().UnixNano())
	h.crmSync()
	h.start()
	emails := h.read("send.email")
	activity := h.read("activity")
	defer func() {
		if t.Failed() {
			activity.mu.Lock()
			for _, a := range h.activities(activity.recs) {
				t.Logf("activity %s %s: %s", a.StepID, a.Kind, a.Reason)
			}
			activity.mu.Unlock()
		}
	}()

	var mu sync.Mutex
	tries, accepted := 0, map[string]map[string]any{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		tries++
		if tries == 1 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		body, _ := io.ReadAll(r.Body)
		var cmd map[string]any
		_ = json.Unmarshal(body, &cmd)
		accepted[r.Header.Get("Idempotency-Key")] = cmd
	}))
	defer srv.Close()
	stop := h.runSender(srv.URL, nil)
	defer stop()

	h.event("u1", "Signed Up", `{"plan":"pro"}`)
	emails.wait(t, "the email after the delivered receipt", func(recs []*kgo.Record) bool { return len(recs) == 1 })
	mu.Lock()
	defer mu.Unlock()
	if tries != 2 || len(accepted) != 1 {
		t.Fatalf("%d tries, %d accepted commands, want 2 and 1", tries, len(accepted))
	}
	for id, cmd := range accepted {
		p, _ := cmd["payload"].(map[string]any)
		if cmd["command_id"] != id || cmd["user_id"] != "u1" || p["plan"] != "pro" {
			t.Errorf("posted %v", cmd)
		}
	}
}
