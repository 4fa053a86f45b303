package codec_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beckon-dev/beckon/pkg/codec"
	"github.com/beckon-dev/beckon/pkg/kafkatest"
	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/pkg/sample"
)

// These tests run against kfake, and against a real Apache Kafka when
// BECKON_TEST_BROKERS is set (task test:kafka).

func kctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// consume reads n records of topic from the start with the given isolation,
// then checks that no more arrive within a short grace period.
func consume(t *testing.T, brokers []string, topic string, iso kgo.IsolationLevel, n int) []*kgo.Record {
	t.Helper()
	cl := kafkatest.Client(t, brokers, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(iso))
	ctx := kctx(t)
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records from %s before timeout", len(out), n, topic)
		}
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		out = append(out, fs.Records()...)
	}
	grace, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	out = append(out, cl.PollFetches(grace).Records()...)
	return out
}

// TestEventsThroughKafka produces sample events through the codec, keyed by
// user, and reads every one back equal, each user on one partition.
func TestEventsThroughKafka(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	topic := kafkatest.Prefix(t) + "events"
	kafkatest.CreateTopics(t, brokers, 3, topic)
	cd, err := codec.New()
	if err != nil {
		t.Fatal(err)
	}
	ctx := kctx(t)

	tr := sample.NewShop(42, 10).Traffic()
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	sent := map[string]records.Event{}
	var batch []*kgo.Record
	for i := range 60 {
		e := tr.Next(now.Add(time.Duration(i) * time.Second))
		v, err := cd.Encode(ctx, topic, e)
		if err != nil {
			t.Fatal(err)
		}
		sent[e.MessageID] = e
		batch = append(batch, &kgo.Record{Topic: topic, Key: []byte(e.Key()), Value: v})
	}
	if err := kafkatest.Client(t, brokers).ProduceSync(ctx, batch...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	got := consume(t, brokers, topic, kgo.ReadCommitted(), len(sent))
	if len(got) != len(sent) {
		t.Fatalf("read %d records, produced %d", len(got), len(sent))
	}
	partitionOf := map[string]int32{}
	for _, r := range got {
		var e records.Event
		if err := cd.Decode(ctx, r.Value, &e); err != nil {
			t.Fatalf("decode %s[%d]@%d: %v", r.Topic, r.Partition, r.Offset, err)
		}
		if !reflect.DeepEqual(e, sent[e.MessageID]) {
			t.Errorf("read back\n%+v\nproduced\n%+v", e, sent[e.MessageID])
		}
		if p, ok := partitionOf[e.UserID]; ok && p != r.Partition {
			t.Errorf("%s's events are on partitions %d and %d; keyed records must stay on one", e.UserID, p, r.Partition)
		}
		partitionOf[e.UserID] = r.Partition
	}
}

// TestAbortedSendCommandsAreInvisible is the guarantee channel teams build
// on: send commands of an aborted transaction never reach a read_committed
// consumer.
func TestAbortedSendCommandsAreInvisible(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	prefix := kafkatest.Prefix(t)
	topic := prefix + "send.email"
	kafkatest.CreateTopics(t, brokers, 3, topic)
	cd, err := codec.New()
	if err != nil {
		t.Fatal(err)
	}
	ctx := kctx(t)
	producer := kafkatest.Client(t, brokers, kgo.TransactionalID(prefix+"engine-0"), kgo.DefaultProduceTopic(topic))

	send := func(commit bool, ids ...string) {
		t.Helper()
		if err := producer.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			c := records.SendCommand{
				CommandID: id, JourneyID: "cart-reminder", JourneyVersion: 3, InstanceID: "i-" + id, StepID: "remind",
				UserID: "user-" + id, Channel: "email", Recipient: id + "@example.com", TemplateID: "cart-1",
				Payload: records.JSON(`{"items":[{"sku":"SKU-0101","name":"Linen Shirt","price":59}]}`), CreatedAt: time.Now().UTC().Truncate(time.Millisecond),
			}
			v, err := cd.Encode(ctx, topic, c)
			if err != nil {
				t.Fatal(err)
			}
			if err := producer.ProduceSync(ctx, &kgo.Record{Key: []byte(c.Key()), Value: v}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if err := producer.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
	}
	send(false, "a1", "a2", "a3")
	send(true, "c1", "c2")

	ids := func(rs []*kgo.Record) map[string]bool {
		out := map[string]bool{}
		for _, r := range rs {
			var c records.SendCommand
			if err := cd.Decode(ctx, r.Value, &c); err != nil {
				t.Fatal(err)
			}
			out[c.CommandID] = true
		}
		return out
	}
	committed := ids(consume(t, brokers, topic, kgo.ReadCommitted(), 2))
	if fmt.Sprint(committed) != "map[c1:true c2:true]" {
		t.Errorf("read_committed saw %v, want only the committed c1 and c2", committed)
	}
	all := ids(consume(t, brokers, topic, kgo.ReadUncommitted(), 5))
	if len(all) != 5 {
		t.Errorf("read_uncommitted saw %v, want the aborted records too (else this test proves nothing)", all)
	}
}
