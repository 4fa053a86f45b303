package stream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beckon-dev/beckon/pkg/kafkatest"
)

// echo is a workload that copies each record to the output topic, and
// rejects values that start with "reject".
func (e *env) echo(name string) *Group {
	e.t.Helper()
	g, err := Define(e.prefix+name, Input(e.events), Output(e.out), Changelog(e.change), DeadLetter(e.dlq),
		Process(func(c *Context, m Message) error {
			if bytes.HasPrefix(m.Value, []byte("reject")) {
				return errors.New("rejected")
			}
			if _, err := increment(c, m.Key); err != nil {
				return err
			}
			c.Emit(e.out, m.Key, m.Value)
			return nil
		}))
	if err != nil {
		e.t.Fatal(err)
	}
	return g
}

// TestOversizedRecordsReachTheDeadLetterTopic: records the broker accepts
// but whose dead letter (or echo) no producer writes whole — 5 MB that
// compress well, and just under the broker's limit uncompressible — are
// dead-lettered with a prefix and headers that say so, and the records
// behind them and on other partitions keep flowing.
func TestOversizedRecordsReachTheDeadLetterTopic(t *testing.T) {
	e := newEnv(t)
	r, _ := e.run(e.echo("oversized"), "a", t.TempDir(), nil)
	waitReady(t, r)

	seed := time.Now().UnixNano()
	t.Logf("random seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	huge := bytes.Repeat([]byte("compressible "), 5<<20/13)
	near := make([]byte, 1_040_000)
	for i := range near {
		near[i] = byte(rng.Uint32())
	}
	medium := append([]byte("reject"), make([]byte, 200<<10)...)

	// A producer that writes what a Java or Python producer configured
	// for large records would: compressed batches up to the broker's
	// limit.
	big := kafkatest.Client(t, e.brokers, kgo.ProducerBatchMaxBytes(16<<20), kgo.ProducerBatchCompression(kgo.ZstdCompression()))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	recs := []*kgo.Record{
		{Topic: e.events, Key: []byte("big-huge"), Value: huge, Headers: []kgo.RecordHeader{{Key: "origin", Value: []byte("test")}}},
		{Topic: e.events, Key: []byte("big-near"), Value: near},
		{Topic: e.events, Key: []byte("big-medium"), Value: medium},
	}
	// Then small records for users on every partition, the big keys'
	// partitions included.
	for i := range 30 {
		recs = append(recs, &kgo.Record{Topic: e.events, Key: fmt.Appendf(nil, "user-%d", i%10), Value: fmt.Appendf(nil, "small-%d", i)})
	}
	for _, k := range []string{"big-huge", "big-near", "big-medium"} {
		recs = append(recs, &kgo.Record{Topic: e.events, Key: []byte(k), Value: []byte("after-" + k)})
	}
	if err := big.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("the broker refused the test records: %v", err)
	}

	got := values(e.readAll(e.out, 33))
	for i := range 30 {
		if got[fmt.Sprintf("small-%d", i)] != 1 {
			t.Errorf("small-%d echoed %d times, want once", i, got[fmt.Sprintf("small-%d", i)])
		}
	}
	for _, k := range []string{"big-huge", "big-near", "big-medium"} {
		if got["after-"+k] != 1 {
			t.Errorf("the record after %s echoed %d times, want once", k, got["after-"+k])
		}
	}

	dl := e.readAll(e.dlq, 3)
	if len(dl) != 3 {
		t.Fatalf("%d dead letters, want 3", len(dl))
	}
	byKey := map[string]*kgo.Record{}
	for _, d := range dl {
		byKey[string(d.Key)] = d
		if n := recordBytes(d); n > DefaultProducerBatchMaxBytes {
			t.Errorf("dead letter of %s is %d bytes, over the producer limit", d.Key, n)
		}
	}
	for _, c := range []struct {
		key       string
		orig      []byte
		truncated string
		reason    string
	}{
		{"big-huge", huge, "value", `output to "` + e.out + `" is`},
		{"big-near", near, "value", `output to "` + e.out + `" is`},
		{"big-medium", medium, "", "rejected"},
	} {
		d := byKey[c.key]
		if d == nil {
			t.Errorf("no dead letter for %s", c.key)
			continue
		}
		if got := string(headerOf(d, HeaderDLQTruncated)); got != c.truncated {
			t.Errorf("%s: %s = %q, want %q", c.key, HeaderDLQTruncated, got, c.truncated)
		}
		if got := string(headerOf(d, HeaderDLQValueSize)); got != strconv.Itoa(len(c.orig)) {
			t.Errorf("%s: %s = %q, want %d", c.key, HeaderDLQValueSize, got, len(c.orig))
		}
		if !bytes.HasPrefix(c.orig, d.Value) || (c.truncated == "" && len(d.Value) != len(c.orig)) || len(d.Value) < 900_000 && c.truncated != "" {
			t.Errorf("%s: dead letter holds %d bytes, not the original's prefix (of %d bytes) kept as far as it fits", c.key, len(d.Value), len(c.orig))
		}
		if reason := string(headerOf(d, HeaderDLQReason)); !strings.HasPrefix(reason, c.reason) {
			t.Errorf("%s: reason %q, want it to start with %q", c.key, reason, c.reason)
		}
		if string(headerOf(d, HeaderDLQTopic)) != e.events || len(headerOf(d, HeaderDLQOffset)) == 0 || len(headerOf(d, HeaderDLQPartition)) == 0 {
			t.Errorf("%s: source headers %v", c.key, d.Headers)
		}
	}
	if d := byKey["big-huge"]; d != nil && string(headerOf(d, "origin")) != "test" {
		t.Errorf("the original headers were not kept: %v", d.Headers)
	}
}
