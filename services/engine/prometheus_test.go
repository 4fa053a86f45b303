package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beckon-dev/beckon/pkg/codec"
	"github.com/beckon-dev/beckon/pkg/engine"
	"github.com/beckon-dev/beckon/pkg/journey"
	"github.com/beckon-dev/beckon/pkg/kafkatest"
	"github.com/beckon-dev/beckon/pkg/kafkatest/servicetest"
	"github.com/beckon-dev/beckon/pkg/metrics/promtest"
	"github.com/beckon-dev/beckon/pkg/records"
)

// welcome sends an email at once to whoever signs up; a user without
// consent is skipped.
const welcome = `
id: welcome
trigger:
  event: Signed Up
steps:
  - id: hello
    send:
      channel: email
      template: welcome
`

// TestPrometheusScrapesTheEngine: a real Prometheus (Debian's package,
// installed by promtest) scrapes the engine command's /metrics; queried
// over its HTTP API, it counts the engine's sends per channel and skips
// by reason, and has each events partition's consumer lag, caught up.
func TestPrometheusScrapesTheEngine(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	cl := kafkatest.Client(t, brokers)
	prefix := servicetest.Provision(t, cl, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cd, err := codec.New()
	if err != nil {
		t.Fatal(err)
	}
	control := &engine.Control{Kafka: []kgo.Opt{kgo.SeedBrokers(brokers...)}, Topic: prefix + "journeys", Codec: cd, Channels: journey.DefaultChannels, By: "test"}
	if _, err := control.Publish(ctx, []byte(welcome), records.FormatYAML); err != nil {
		t.Fatal(err)
	}
	const users, unsubscribed = 12, 3
	var recs []*kgo.Record
	encode := func(topic, key string, r records.Record) {
		v, err := cd.Encode(ctx, prefix+topic, r)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Topic: prefix + topic, Key: []byte(key), Value: v})
	}
	for i := range users {
		user := fmt.Sprintf("user-%02d", i)
		consent := records.ConsentSubscribed
		if i < unsubscribed {
			consent = records.ConsentUnsubscribed
		}
		encode("profiles", user, records.Profile{UserID: user, Addresses: records.Addresses{Email: user + "@example.com"},
			Consent: map[string]records.Consent{"email": {Status: consent}}})
	}
	for i := range users {
		user := fmt.Sprintf("user-%02d", i)
		encode("events", user, records.Event{MessageID: "m-" + user, Type: records.EventTrack, Name: "Signed Up", UserID: user, Timestamp: time.Now().UTC()})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	addr := servicetest.FreeAddr(t)
	e := startEngine(engineEnv(t, brokers, prefix, addr))
	defer func() {
		if code := e.wait(); code != 0 {
			t.Errorf("engine exit %d\n%s", code, e.stderr.String())
		}
	}()

	prom := promtest.Start(t, addr)
	one := func(want float64) func([]promtest.Sample) bool {
		return func(s []promtest.Sample) bool { return len(s) == 1 && s[0].Value == want }
	}
	prom.WaitFor(t, time.Minute, `beckon_sends_total{channel="email"}`, one(users-unsubscribed))
	prom.WaitFor(t, time.Minute, `beckon_skips_total{reason="no_consent"}`, one(unsubscribed))
	prom.WaitFor(t, time.Minute, `beckon_journey_entries_total{journey="welcome"}`, one(users))
	lag := prom.WaitFor(t, time.Minute, fmt.Sprintf(`beckon_stream_consumer_lag{topic=%q}`, prefix+"events"), func(s []promtest.Sample) bool {
		if len(s) != 2 {
			return false
		}
		for _, x := range s {
			if x.Value != 0 {
				return false
			}
		}
		return true
	})
	for _, s := range lag {
		if p := s.Labels["partition"]; p != "0" && p != "1" {
			t.Errorf("lag series with partition %q: %v", p, s.Labels)
		}
	}
	prom.WaitFor(t, time.Minute, `beckon_ready`, one(1))
	prom.WaitFor(t, time.Minute, `beckon_partitions_owned`, one(2))
}
