package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/beckon-dev/beckon/pkg/codec"
	"github.com/beckon-dev/beckon/pkg/engine"
	"github.com/beckon-dev/beckon/pkg/journey"
	"github.com/beckon-dev/beckon/pkg/kafkatest"
	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/pkg/topics"
)

// TestNoSecretInTheLogs: the engine runs on a broker that requires SASL,
// with its password in the configuration, logging at debug level while
// it loads journeys, restores, sends and dead-letters a record; the
// password appears neither in its output nor at /metrics.
func TestNoSecretInTheLogs(t *testing.T) {
	const password = "sasl-pw-Ey40cM"
	brokers := kafkatest.SASLBrokers(t, "beckon", password)
	prefix := kafkatest.Prefix(t)
	auth := kgo.SASL(plain.Auth{User: "beckon", Pass: password}.AsMechanism())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl := kafkatest.Client(t, brokers, auth)
	layout, err := topics.Declare(topics.Options{Prefix: prefix, Partitions: 2, ReplicationFactor: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := topics.Apply(ctx, cl, layout); err != nil {
		t.Fatal(err)
	}
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

	addr := freeAddr(t)
	env := map[string]string{
		"BECKON_BROKERS": strings.Join(brokers, ","), "BECKON_TOPIC_PREFIX": prefix,
		"BECKON_SASL_MECHANISM": "PLAIN", "BECKON_SASL_USERNAME": "beckon", "BECKON_SASL_PASSWORD": password,
		"BECKON_PARTITIONS": "2", "BECKON_REPLICATION_FACTOR": "1",
		"BECKON_STATE_DIR": t.TempDir(), "BECKON_INSTANCE_ID": "e1", "BECKON_ENGINE_GROUP": prefix + "engine",
		"BECKON_HEALTH_ADDR": addr, "BECKON_LOG_LEVEL": "debug",
	}
	runCtx, stop := context.WithCancel(context.Background())
	defer stop()
	var stderr bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- run(runCtx, nil, &stderr, func(k string) string { return env[k] }) }()

	dlq := kafkatest.Client(t, brokers, auth, kgo.ConsumeTopics(prefix+"dlq"), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if fs := dlq.PollRecords(ctx, 1); fs.NumRecords() != 1 {
		stop()
		<-done
		t.Fatalf("no dead letter: %v\n%s", fs.Err0(), stderr.String())
	}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metricsBody, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	stop()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}
	out := stderr.String()
	if !strings.Contains(out, "dead-lettering message") || !strings.Contains(out, "engine starting") {
		t.Fatalf("the engine did not log its start and the dead letter:\n%s", out)
	}
	if strings.Contains(out, password) {
		t.Errorf("the log shows the SASL password:\n%s", out)
	}
	if strings.Contains(string(metricsBody), password) {
		t.Error("/metrics shows the SASL password")
	}
}
