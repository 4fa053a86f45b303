package engine_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beckon-dev/beckon/pkg/kafkatest/peers"
	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/pkg/stream"
)

// librdkafkaProducer produces the records it reads as JSON on stdin with
// confluent-kafka (librdkafka), one producer per batch configured with the
// batch's partitioner (none: librdkafka's default), and prints where each
// record landed.
const librdkafkaProducer = `
import json, sys
from confluent_kafka import Producer

req = json.load(sys.stdin)
landed = []
for batch in req["batches"]:
    conf = {"bootstrap.servers": req["bootstrap"], "linger.ms": 5}
    if batch["partitioner"]:
        conf["partitioner"] = batch["partitioner"]
    p = Producer(conf)
    def report(err, msg):
        if err is not None:
            raise SystemExit("delivery failed: %s" % err)
        landed.append({"key": msg.key().decode(), "partition": msg.partition()})
    for r in batch["records"]:
        p.produce(req["topic"], key=r["key"].encode(), value=bytes.fromhex(r["value"]), on_delivery=report)
    if p.flush(60) != 0:
        raise SystemExit("records left unflushed")
json.dump(landed, sys.stdout)
`

// TestLibrdkafkaPartitioners: keyed events produced by confluent-kafka
// (librdkafka) to a topic of 6 partitions. With partitioner=murmur2_random
// every record lands where franz-go's (and Java's) partitioner puts its
// key, and is processed. With librdkafka's default (consistent_random,
// CRC32) most land elsewhere: each of those is dead-lettered with a reason
// that names the fix, and not processed; the others are processed.
func TestLibrdkafkaPartitioners(t *testing.T) {
	py := peers.Python(t)
	const partitions, users = 6, 60
	h := newHarnessPartitions(t, partitions)
	if _, err := h.control.Publish(h.ctx, []byte(bigSpender), records.FormatYAML); err != nil {
		t.Fatal(err)
	}
	h.start()
	dlq := h.read("dlq")
	activity := h.read("activity")

	type rec struct {
		Key   string `json:"key"`
		Value string `json:"value"`
	}
	type batch struct {
		Partitioner string `json:"partitioner"`
		Records     []rec  `json:"records"`
	}
	mk := func(prefix string) []rec {
		var out []rec
		for i := range users {
			user := fmt.Sprintf("%s-%d", prefix, i)
			b := h.encode("events", records.Event{MessageID: "m-" + user, Type: records.EventTrack, Name: "Order Completed", UserID: user, Timestamp: h.clock.now(), Properties: records.JSON(`{"total":500}`)})
			out = append(out, rec{Key: user, Value: hex.EncodeToString(b)})
		}
		return out
	}
	req, _ := json.Marshal(map[string]any{
		"bootstrap": strings.Join(h.brokers, ","),
		"topic":     h.topic("events"),
		"batches":   []batch{{Partitioner: "murmur2_random", Records: mk("murmur")}, {Partitioner: "", Records: mk("default")}},
	})
	cmd := exec.Command(py, "-c", librdkafkaProducer)
	cmd.Stdin = bytes.NewReader(req)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("confluent-kafka producer: %v\n%s", err, stderr.Bytes())
	}
	var landed []struct {
		Key       string `json:"key"`
		Partition int32  `json:"partition"`
	}
	if err := json.Unmarshal(out, &landed); err != nil {
		t.Fatalf("producer output %q: %v", out, err)
	}
	if len(landed) != 2*users {
		t.Fatalf("%d records delivered, want %d", len(landed), 2*users)
	}
	misplaced := map[string]bool{}
	for _, l := range landed {
		want := stream.PartitionFor([]byte(l.Key), partitions)
		switch {
		case strings.HasPrefix(l.Key, "murmur-") && l.Partition != want:
			t.Errorf("murmur2_random put %s on partition %d, franz-go's partitioner on %d", l.Key, l.Partition, want)
		case strings.HasPrefix(l.Key, "default-") && l.Partition != want:
			misplaced[l.Key] = true
		}
	}
	t.Logf("librdkafka's default partitioner put %d of %d keys on another partition than murmur2", len(misplaced), users)
	if len(misplaced) < users/3 {
		t.Fatalf("only %d of %d keys misplaced by consistent_random; the test would not show the check", len(misplaced), users)
	}

	activity.wait(t, "every correctly placed user entered", func(recs []*kgo.Record) bool {
		return countKind(h.activities(recs), records.ActivityEntered, "") >= 2*users-len(misplaced)
	})
	dead := dlq.wait(t, "the misplaced records dead-lettered", func(recs []*kgo.Record) bool { return len(recs) >= len(misplaced) })
	for _, r := range dead {
		if !misplaced[string(r.Key)] {
			t.Errorf("dead letter of %s, which was on its murmur2 partition", r.Key)
		}
		if reason := dlqReason(r); !strings.Contains(reason, stream.ReasonWrongPartition) || !strings.Contains(reason, "partitioner=murmur2_random") {
			t.Errorf("reason %q does not name the fix", reason)
		}
	}
	entered := map[string]bool{}
	for _, a := range h.activities(activity.snapshot()) {
		if a.Kind == records.ActivityEntered {
			entered[a.UserID] = true
		}
	}
	for user := range misplaced {
		if entered[user] {
			t.Errorf("%s was processed on the wrong partition", user)
		}
	}
	if len(entered) != 2*users-len(misplaced) {
		t.Errorf("%d users entered, want %d", len(entered), 2*users-len(misplaced))
	}
	if len(dead) != len(misplaced) {
		t.Errorf("%d dead letters, want %d", len(dead), len(misplaced))
	}
}

// snapshot returns the records read so far.
func (r *reader) snapshot() []*kgo.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*kgo.Record(nil), r.recs...)
}
