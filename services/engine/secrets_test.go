package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/beckon-dev/beckon/pkg/codec"
	"github.com/beckon-dev/beckon/pkg/engine"
	"github.com/beckon-dev/beckon/pkg/journey"
	"github.com/beckon-dev/beckon/pkg/kafkatest"
	"github.com/beckon-dev/beckon/pkg/kafkatest/servicetest"
	"github.com/beckon-dev/beckon/pkg/records"
)

// TestNoSecretInTheLogs: the engine runs on a broker that requires SASL,
// with its password in the configuration, logging at debug level while
// it loads journeys, restores, sends and dead-letters a record; the
// password appears neither in its output nor at /metrics.
func TestNoSecretInTheLogs(t *testing.T) {
	const password = "sasl-pw-Ey40cM"
	brokers := kafkatest.SASLBrokers(t, "beckon", password)
	auth := kgo.SASL(plain.Auth{User: "beckon", Pass: password}.AsMechanism())
	cl := kafkatest.Client(t, brokers, auth)
	prefix := servicetest.Provision(t, cl, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cd, err := codec.New()
	if err != nil {
		t.Fatal(err)
	}
	control := &engine.Control{Kafka: []kgo.Opt{kgo.SeedBrokers(brokers...), auth}, Topic: prefix + "journeys", Codec: cd, Channels: journey.DefaultChannels, By: "test"}
	if _, err := control.Publish(ctx, []byte(welcome), records.FormatYAML); err != nil {
		t.Fatal(err)
	}
	ev, err := cd.Encode(ctx, prefix+"events", records.Event{MessageID: "m1", Type: records.EventTrack, Name: "Signed Up", UserID: "u1", Timestamp: time.Now().UTC()})
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx,
		&kgo.Record{Topic: prefix + "events", Key: []byte("u1"), Value: ev},
		&kgo.Record{Topic: prefix + "events", Key: []byte("u2"), Value: []byte("not avro")},
	).FirstErr(); err != nil {
		t.Fatal(err)
	}

	addr := servicetest.FreeAddr(t)
	e := startEngine(engineEnv(t, brokers, prefix, addr,
		"BECKON_SASL_MECHANISM", "PLAIN", "BECKON_SASL_USERNAME", "beckon", "BECKON_SASL_PASSWORD", password, "BECKON_LOG_LEVEL", "debug"))
	defer e.stop()

	dlq := kafkatest.Client(t, brokers, auth, kgo.ConsumeTopics(prefix+"dlq"), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if fs := dlq.PollRecords(ctx, 1); fs.NumRecords() != 1 {
		e.wait()
		t.Fatalf("no dead letter: %v\n%s", fs.Err0(), e.stderr.String())
	}
	_, metricsBody := servicetest.Get(t, "http://"+addr+"/metrics")
	if code := e.wait(); code != 0 {
		t.Fatalf("exit %d\n%s", code, e.stderr.String())
	}
	out := e.stderr.String()
	if !strings.Contains(out, "dead-lettering message") || !strings.Contains(out, "engine starting") {
		t.Fatalf("the engine did not log its start and the dead letter:\n%s", out)
	}
	if strings.Contains(out, password) {
		t.Errorf("the log shows the SASL password:\n%s", out)
	}
	if strings.Contains(metricsBody, password) {
		t.Error("/metrics shows the SASL password")
	}
}
