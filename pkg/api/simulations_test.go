package api_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beckon-dev/beckon/pkg/api"
	"github.com/beckon-dev/beckon/pkg/codec"
	"github.com/beckon-dev/beckon/pkg/journey"
	"github.com/beckon-dev/beckon/pkg/kafkatest"
	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/pkg/topics"
)

// simTopic names the topic of base that the harness's simulations read,
// beside its journeys topic.
func simTopic(journeysTopic, base string) string {
	return strings.TrimSuffix(journeysTopic, "journeys") + "sim." + base
}

// mountSimulations serves POST /v1/simulations over an events, receipts
// and profiles topic of their own.
func mountSimulations(t *testing.T, s *api.Service, brokers []string, journeysTopic string, cd *codec.Codec) {
	t.Helper()
	var layout topics.Layout
	var names []string
	for _, base := range []string{"events", "receipts", "profiles"} {
		layout.Specs = append(layout.Specs, topics.Spec{Name: simTopic(journeysTopic, base), Base: base})
		names = append(names, simTopic(journeysTopic, base))
	}
	kafkatest.CreateTopics(t, brokers, 1, names...)
	(&api.Simulations{Kafka: []kgo.Opt{kgo.SeedBrokers(brokers...)}, Layout: layout, Codec: cd, Channels: journey.DefaultChannels}).Mount(s.Server)
}

// TestSimulationsRoute: POST /v1/simulations runs a definition on the
// window's events and answers the report; a bad window or definition is
// a 400 naming the field.
func TestSimulationsRoute(t *testing.T) {
	h := startAPI(t, nil, nil)
	ctx := context.Background()
	cl := kafkatest.Client(t, h.brokers)
	at := time.Now().Add(-time.Hour)
	put := func(base, key string, r records.Record) {
		b, err := h.codec.Encode(ctx, simTopic(h.topic, base), r)
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: simTopic(h.topic, base), Key: []byte(key), Value: b, Timestamp: at}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	put("profiles", "u1", records.Profile{UserID: "u1", Addresses: records.Addresses{Email: "u1@example.com"},
		Consent: map[string]records.Consent{"email": {Status: records.ConsentSubscribed}}})
	for _, u := range []string{"u1", "u2"} {
		put("events", u, records.Event{MessageID: "m-" + u, Type: records.EventTrack, Name: "Signed Up", UserID: u, Timestamp: at})
	}

	r := h.expect(200, "POST", "/v1/simulations?from=2h", h.read, yamlType, walk)
	if r.field("entered") != 2.0 || r.field("journeyId") != "walk" {
		t.Fatalf("report %s", r.raw)
	}
	if sends := r.field("sends").([]any); len(sends) != 1 || sends[0].(map[string]any)["count"] != 1.0 {
		t.Errorf("sends %v, want one to u1", sends)
	}
	if skipped := r.field("skipped").([]any); len(skipped) != 1 || skipped[0].(map[string]any)["reason"] != "no_profile" {
		t.Errorf("skipped %v, want u2's no_profile", skipped)
	}
	// The window excludes them.
	if r := h.expect(200, "POST", "/v1/simulations?from=30m&users=5", h.read, yamlType, walk); r.field("entered") != 0.0 {
		t.Errorf("a window after the events entered %v", r.field("entered"))
	}

	for _, c := range []struct{ query, body, field string }{
		{"", walk, "from"},
		{"?from=yesterday", walk, "from"},
		{"?from=1h&to=2h", walk, "from"},
		{"?from=1h&users=0", walk, "users"},
		{"?from=1h", strings.Replace(walk, "channel: email", "channel: pigeon", 1), "steps[0].send.channel"},
	} {
		r := h.expect(400, "POST", "/v1/simulations"+c.query, h.read, yamlType, c.body)
		if fs := fieldsOf(t, r); len(fs) == 0 || fs[0].Path != c.field {
			t.Errorf("%s: fields %+v, want %s", c.query, fs, c.field)
		}
	}
}
