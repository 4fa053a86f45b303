package engine_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beckon-dev/beckon/pkg/kafkatest"
	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/pkg/stream"
)

// hugeBytes is the size of the huge poison records: five times the
// producer's 1 MB cap on a record, which a broker accepts because it
// checks batches compressed. Its dead letter cannot hold it whole, so it
// keeps a prefix and says so.
const hugeBytes = 5 << 20

// poison is one bad record and what its dead letter must say.
type poison struct {
	name   string
	topic  string // base name
	key    []byte // nil: no key
	value  []byte
	wrongP bool   // put it on a partition its key does not hash to
	reason string // a part of the dead letter's reason
}

// produceAt writes a record to the partition Kafka's default partitioner
// gives its key (partition 0 for a record without key), or to another one
// with wrong, and returns where it landed.
func (h *harness) produceAt(base string, key, value []byte, wrong bool) (int32, int64) {
	h.t.Helper()
	n := h.partitions(base)
	p := int32(0)
	if len(key) > 0 {
		p = stream.PartitionFor(key, n)
	}
	if wrong {
		p = (p + 1) % n
	}
	// Compressed, as a producer of large records would: the broker takes
	// a 5 MB record that compresses well.
	cl := kafkatest.Client(h.t, h.brokers, kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchMaxBytes(16<<20), kgo.ProducerBatchCompression(kgo.ZstdCompression()))
	r := &kgo.Record{Topic: h.topic(base), Key: key, Value: value, Partition: p}
	if err := cl.ProduceSync(h.ctx, r).FirstErr(); err != nil {
		h.t.Fatalf("produce %s to %s: %v", key, base, err)
	}
	return r.Partition, r.Offset
}

func (h *harness) partitions(base string) int32 {
	s, ok := h.layout.Spec(base)
	if !ok {
		h.t.Fatalf("no topic %s", base)
	}
	return s.Partitions
}

func (h *harness) encode(base string, r records.Record) []byte {
	h.t.Helper()
	b, err := h.codec.Encode(h.ctx, h.topic(base), r)
	if err != nil {
		h.t.Fatal(err)
	}
	return b
}

// poisons is every kind of poison on every input topic. Keys of users
// other than the good user u1 (whose journey must keep flowing) except
// where the poison is a bad update of u1's own profile or facts.
func (h *harness) poisons() []poison {
	now := h.clock.now()
	ev := func(user string) records.Event {
		return records.Event{MessageID: "poison-" + user, Type: records.EventTrack, Name: "Order Completed", UserID: user, Timestamp: now, Properties: records.JSON(`{"total":500}`)}
	}
	rc := func(user string) records.Receipt {
		return records.Receipt{ReceiptID: "r-" + user, CommandID: "c/1/1", UserID: user, Channel: "email", Status: records.ReceiptDelivered, OccurredAt: now}
	}
	prof := func(user string) records.Profile {
		return records.Profile{UserID: user, Addresses: records.Addresses{Email: user + "@evil.example.com"}, Consent: map[string]records.Consent{"email": {Status: records.ConsentSubscribed}}}
	}
	fact := func(user string) records.Fact {
		return records.Fact{UserID: user, Name: "loyalty", Value: records.JSON(`{"points":1}`)}
	}
	lookup := func(id string) records.LookupRecord {
		return records.LookupRecord{Table: "products", ID: id, Attributes: records.JSON(`{"name":"x"}`)}
	}
	jdef := func(id string, version int32, def string) records.JourneyDefinition {
		return records.JourneyDefinition{JourneyID: id, Version: version, State: records.JourneyLive, Format: records.FormatYAML, Definition: def}
	}
	truncated := func(b []byte) []byte { return b[:len(b)/2] }
	huge := bytes.Repeat([]byte("poison "), hugeBytes/7)
	const (
		decode   = "decode"
		magic    = "wrong magic"
		wrongTyp = "wrong record type"
		trunc    = "truncated"
		mismatch = "record key is not the record's ID"
		noKey    = stream.ReasonNoKey
		wrongP   = "partitioner=murmur2_random"
	)
	var out []poison
	// The co-partitioned inputs and tables: every kind.
	userTopics := []struct {
		base   string
		good   func(user string) records.Record
		other  records.Record
		bodyOf string // the user ID in the body that comes with a mismatched key
	}{
		{"events", func(u string) records.Record { return ev(u) }, rc("x"), "ev-body"},
		{"receipts", func(u string) records.Record { return rc(u) }, ev("x"), "rc-body"},
		// A bad update of u1's own profile and facts: the previous row
		// must stay.
		{"profiles", func(u string) records.Record { return prof(u) }, ev("x"), "evil"},
		{"facts.loyalty", func(u string) records.Record { return fact(u) }, prof("x"), "evil"},
	}
	// A broker refuses a record without key on a compacted topic; an empty
	// key it takes.
	keyless := func(base string) []byte {
		if base == "events" || base == "receipts" {
			return nil
		}
		return []byte{}
	}
	for _, u := range userTopics {
		key := func(kind string) []byte { return []byte(u.base + "-" + kind) }
		if u.base == "profiles" || u.base == "facts.loyalty" {
			key = func(string) []byte { return []byte("u1") }
		}
		out = append(out,
			poison{name: "garbage", topic: u.base, key: key("garbage"), value: []byte("\x7fnot avro at all"), reason: magic},
			poison{name: "wrong schema", topic: u.base, key: key("schema"), value: h.encode(u.base, u.other), reason: wrongTyp},
			poison{name: "truncated", topic: u.base, key: key("truncated"), value: truncated(h.encode(u.base, u.good(string(key("truncated"))))), reason: trunc},
			poison{name: "huge", topic: u.base, key: key("huge"), value: huge, reason: magic},
			poison{name: "missing key", topic: u.base, key: keyless(u.base), value: h.encode(u.base, u.good("nokey")), reason: noKey},
			poison{name: "mismatched key", topic: u.base, key: key("mismatch"), value: h.encode(u.base, u.good(u.bodyOf)), reason: mismatch},
			poison{name: "wrong partition", topic: u.base, key: key("misplaced"), value: h.encode(u.base, u.good(string(key("misplaced")))), wrongP: true, reason: wrongP},
		)
	}
	// The global tables: no partition to be wrong about.
	out = append(out,
		poison{name: "garbage", topic: "lookups.products", key: []byte("SKU-G"), value: []byte("\x7fnot avro"), reason: magic},
		poison{name: "wrong schema", topic: "lookups.products", key: []byte("SKU-W"), value: h.encode("lookups.products", prof("x")), reason: wrongTyp},
		poison{name: "truncated", topic: "lookups.products", key: []byte("SKU-T"), value: truncated(h.encode("lookups.products", lookup("SKU-T"))), reason: trunc},
		poison{name: "huge", topic: "lookups.products", key: []byte("SKU-H"), value: huge, reason: magic},
		poison{name: "missing key", topic: "lookups.products", key: keyless("lookups.products"), value: h.encode("lookups.products", lookup("SKU-N")), reason: "no key"},
		poison{name: "mismatched key", topic: "lookups.products", key: []byte("SKU-1"), value: h.encode("lookups.products", lookup("SKU-2")), reason: mismatch},
		poison{name: "garbage", topic: "journeys", key: []byte("g/1"), value: []byte("\x7fnot avro"), reason: magic},
		poison{name: "wrong schema", topic: "journeys", key: []byte("w/1"), value: h.encode("journeys", ev("x")), reason: wrongTyp},
		poison{name: "truncated", topic: "journeys", key: []byte("big-spender/7"), value: truncated(h.encode("journeys", jdef("big-spender", 7, bigSpender))), reason: trunc},
		poison{name: "huge", topic: "journeys", key: []byte("h/1"), value: huge, reason: magic},
		poison{name: "missing key", topic: "journeys", key: keyless("journeys"), value: h.encode("journeys", jdef("nokey", 1, strings.ReplaceAll(bigSpender, "big-spender", "nokey"))), reason: "no key"},
		poison{name: "mismatched key", topic: "journeys", key: []byte("other/1"), value: h.encode("journeys", jdef("mism", 1, strings.ReplaceAll(bigSpender, "big-spender", "mism"))), reason: mismatch},
		poison{name: "invalid definition", topic: "journeys", key: []byte("pigeon/1"), value: h.encode("journeys", jdef("pigeon", 1, strings.NewReplacer("big-spender", "pigeon", "channel: email", "channel: pigeon").Replace(bigSpender))), reason: "pigeon"},
	)
	return out
}

// TestEveryPoisonIsDeadLettered: every kind of poison on every input topic
// lands in the dead-letter topic once, with its reason and its source
// topic, partition and offset, while a good user's journey keeps flowing
// and keeps the profile a rejected update tried to replace.
func TestEveryPoisonIsDeadLettered(t *testing.T) {
	h := newHarness(t)
	if _, err := h.control.Publish(h.ctx, []byte(bigSpender), records.FormatYAML); err != nil {
		t.Fatal(err)
	}
	h.profile("u1")
	h.produce("facts.loyalty", "u1", records.Fact{UserID: "u1", Name: "loyalty", Value: records.JSON(`{"points":1200}`)})
	h.start()
	dlq := h.read("dlq")
	sends := h.read("send.email")

	h.event("u1", "Order Completed", `{"total":150}`)
	poisons := h.poisons()
	origins := make([]string, len(poisons)) // topic/partition/offset
	for i, x := range poisons {
		p, off := h.produceAt(x.topic, x.key, x.value, x.wrongP)
		origins[i] = fmt.Sprintf("%s/%d/%d", h.topic(x.topic), p, off)
	}
	h.event("u1", "Order Completed", `{"total":250}`)

	recs := sends.wait(t, "both of u1's sends", func(recs []*kgo.Record) bool { return len(recs) >= 2 })
	for _, r := range recs {
		var cmd records.SendCommand
		if err := h.codec.Decode(h.ctx, r.Value, &cmd); err != nil {
			t.Fatal(err)
		}
		if cmd.UserID != "u1" || cmd.Recipient != "u1@example.com" {
			t.Errorf("send %s to %s, want u1 at u1@example.com (the rejected profile updates must not apply)", cmd.UserID, cmd.Recipient)
		}
	}
	dead := dlq.wait(t, fmt.Sprintf("%d dead letters", len(poisons)), func(recs []*kgo.Record) bool { return len(recs) >= len(poisons) })
	byOrigin := map[string]*kgo.Record{}
	for _, r := range dead {
		origin := string(header(r, stream.HeaderDLQTopic)) + "/" + string(header(r, stream.HeaderDLQPartition)) + "/" + string(header(r, stream.HeaderDLQOffset))
		if _, dup := byOrigin[origin]; dup {
			t.Errorf("%s dead-lettered twice", origin)
		}
		byOrigin[origin] = r
	}
	for i, x := range poisons {
		t.Run(x.topic+"/"+x.name, func(t *testing.T) {
			r := byOrigin[origins[i]]
			if r == nil {
				t.Fatalf("no dead letter of %s (%d dead letters)", origins[i], len(dead))
			}
			if len(x.value) > hugeBytes/2 {
				// Cut to fit: a prefix, and headers that say so and
				// give the original's size (its origin is in the
				// headers checked above).
				if !bytes.Equal(r.Key, x.key) || len(r.Value) == 0 || len(r.Value) >= len(x.value) || !bytes.HasPrefix(x.value, r.Value) {
					t.Errorf("dead letter of a %d-byte record has key %q and %d value bytes, want the original key and a prefix", len(x.value), r.Key, len(r.Value))
				}
				if got := string(header(r, stream.HeaderDLQTruncated)); !strings.Contains(got, "value") {
					t.Errorf("truncated header %q, want it to name the value", got)
				}
				if got, want := string(header(r, stream.HeaderDLQValueSize)), fmt.Sprint(len(x.value)); got != want {
					t.Errorf("value size header %q, want %s", got, want)
				}
			} else if !bytes.Equal(r.Key, x.key) || !bytes.Equal(r.Value, x.value) {
				t.Errorf("dead letter has key %q and %d value bytes, want the original's %q and %d", r.Key, len(r.Value), x.key, len(x.value))
			}
			if reason := dlqReason(r); !strings.Contains(reason, x.reason) {
				t.Errorf("reason %q, want it to contain %q", reason, x.reason)
			}
		})
	}
	if len(dead) != len(poisons) {
		t.Errorf("%d dead letters, want %d", len(dead), len(poisons))
	}
	sends.mu.Lock()
	defer sends.mu.Unlock()
	if got := len(sends.recs); got != 2 {
		t.Errorf("%d sends, want 2", got)
	}
}

func header(r *kgo.Record, key string) []byte {
	for _, hd := range r.Headers {
		if hd.Key == key {
			return hd.Value
		}
	}
	return nil
}
