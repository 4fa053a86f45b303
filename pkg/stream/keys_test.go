package stream

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestMurmur2MatchesJava: the hash of Kafka's UtilsTest.testMurmur2
// vectors (the Java client's partitioner).
func TestMurmur2MatchesJava(t *testing.T) {
	for key, want := range map[string]int32{
		"21":                         -973932308,
		"foobar":                     -790332482,
		"a-little-bit-long-string":   -985981536,
		"a-little-bit-longer-string": -1486304829,
		"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
		"abc": 479470107,
	} {
		if got := int32(murmur2([]byte(key))); got != want {
			t.Errorf("murmur2(%q) = %d, want %d", key, got, want)
		}
	}
}

// TestPartitionForMatchesFranzGo: PartitionFor places random keys where
// franz-go's default partitioner for keyed records does.
func TestPartitionForMatchesFranzGo(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	p := kgo.StickyKeyPartitioner(nil).ForTopic("t")
	for range 20_000 {
		key := make([]byte, 1+rng.IntN(40))
		for i := range key {
			key[i] = byte(rng.UintN(256))
		}
		n := int32(1 + rng.IntN(128))
		if got, want := PartitionFor(key, n), int32(p.Partition(&kgo.Record{Key: key}, int(n))); got != want {
			t.Fatalf("PartitionFor(%x, %d) = %d, franz-go says %d", key, n, got, want)
		}
	}
}

// keyOn returns a key that Kafka's default partitioner puts on partition
// p of n, and one it puts elsewhere.
func keyOn(prefix string, p, n int32) (on, off string) {
	for i := 0; on == "" || off == ""; i++ {
		k := fmt.Sprintf("%s-%d", prefix, i)
		if PartitionFor([]byte(k), n) == p {
			if on == "" {
				on = k
			}
		} else if off == "" {
			off = k
		}
	}
	return on, off
}

// TestScreeningDeadLettersMisplacedAndInvalidRecords: with
// CheckPartitioning, an event on the wrong partition, an event without a
// key and a table row on the wrong partition are dead-lettered with
// reasons naming the fix; a table row its validator rejects is
// dead-lettered and the table keeps the previous row, also after a fresh
// instance restores the partition; a global row the validator rejects is
// dead-lettered exactly once although two instances read it, and not
// again by a third that takes over. Valid records keep flowing.
func TestScreeningDeadLettersMisplacedAndInvalidRecords(t *testing.T) {
	e := newEnv(t)
	rejectBad := func(m Message) error {
		if string(m.Value) == "bad" {
			return fmt.Errorf("value is bad")
		}
		return nil
	}
	g, err := Define(e.prefix+"screened",
		Input(e.events), Table(e.profile, false), GlobalTable(e.catalog),
		Changelog(e.change), DeadLetter(e.dlq), CheckPartitioning(),
		Validate(e.profile, rejectBad), Validate(e.catalog, rejectBad),
		Process(func(c *Context, m Message) error {
			n, err := increment(c, m.Key)
			if err != nil {
				return err
			}
			profile, _, err := c.Lookup(e.profile, m.Key)
			if err != nil {
				return err
			}
			c.Emit(e.out, m.Key, fmt.Appendf(nil, "%s=%d:%s", m.Key, n, profile))
			return nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	ra, stopA := e.run(g, "a", t.TempDir(), nil)
	rb, stopB := e.run(g, "b", t.TempDir(), nil)
	waitReady(t, ra)
	waitReady(t, rb)

	user, stranger := keyOn("user", 1, testPartitions)
	at := func(topic, key, value string, p int32) *kgo.Record {
		return &kgo.Record{Topic: topic, Key: []byte(key), Value: []byte(value), Partition: p}
	}
	manual := func(rs ...*kgo.Record) {
		t.Helper()
		cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, r := range rs {
			// One by one: the order within partition 1 is the test's.
			if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	manual(
		at(e.profile, user, "good", 1),
		at(e.profile, user, "bad", 1),
		at(e.profile, stranger, "misplaced", 1),
		at(e.events, stranger, "x", 1),
		at(e.events, "", "x", 1),
		at(e.catalog, "sku", "bad", 0),
		at(e.events, user, "x", 1),
	)
	if got := values(e.readAll(e.out, 1)); got[user+"=1:good"] != 1 || len(got) != 1 {
		t.Fatalf("outputs %v, want only %s=1:good", got, user)
	}
	dl := e.readAll(e.dlq, 5)
	reasons := map[string]string{}
	for _, r := range dl {
		src := string(headerOf(r, HeaderDLQTopic)) + "/" + string(r.Key) + "/" + string(r.Value)
		if _, dup := reasons[src]; dup {
			t.Errorf("%s dead-lettered twice", src)
		}
		reasons[src] = string(headerOf(r, HeaderDLQReason))
		wantP := "1"
		if strings.HasPrefix(src, e.catalog) {
			wantP = "0"
		}
		if p := string(headerOf(r, HeaderDLQPartition)); p != wantP {
			t.Errorf("%s: partition header %q, want %s", src, p, wantP)
		}
	}
	want := map[string]string{
		e.profile + "/" + user + "/bad":           "invalid " + e.profile + " row: value is bad",
		e.profile + "/" + stranger + "/misplaced": ReasonWrongPartition,
		e.events + "/" + stranger + "/x":          "partitioner=murmur2_random",
		e.events + "//x":                          ReasonNoKey,
		e.catalog + "/sku/bad":                    "invalid " + e.catalog + " row: value is bad",
	}
	for src, w := range want {
		if !strings.Contains(reasons[src], w) {
			t.Errorf("dead letter of %s: reason %q, want it to contain %q", src, reasons[src], w)
		}
	}
	if len(dl) != len(want) {
		t.Errorf("%d dead letters, want %d: %v", len(dl), len(want), reasons)
	}

	// A fresh instance restores partition 1's table from the topic: the
	// rejected rows stay out, and the global row is not dead-lettered again.
	stopA()
	stopB()
	rc, _ := e.run(g, "c", t.TempDir(), nil)
	waitReady(t, rc)
	manual(at(e.events, user, "x", 1))
	if got := values(e.readAll(e.out, 2)); got[user+"=2:good"] != 1 || len(got) != 2 {
		t.Fatalf("outputs %v, want %s=2:good after the restore", got, user)
	}
	if dl := e.readAll(e.dlq, len(want)); len(dl) != len(want) {
		t.Errorf("%d dead letters after the restore, want still %d", len(dl), len(want))
	}
}
