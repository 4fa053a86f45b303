package journeymetrics

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beckon-dev/beckon/pkg/stream"
	"github.com/beckon-dev/beckon/pkg/topics"
)

// TestUndecodableInputIsDeadLetteredAlone: an activity and a receipt that
// cannot be decoded are dead-lettered by the metrics group; the records
// around them are counted.
func TestUndecodableInputIsDeadLetteredAlone(t *testing.T) {
	e := newEnv(t, 1, topics.Options{})
	p, err := New(Config{Topics: e.layout, Codec: e.codec, Group: e.prefix + "metrics"})
	if err != nil {
		t.Fatal(err)
	}
	e.runGroup(p.Group(), stream.Options{InstanceID: "a", StateDir: t.TempDir()})
	r := e.follow()
	for _, base := range []string{"activity", "receipts"} {
		if err := e.cl.ProduceSync(e.ctx, &kgo.Record{Topic: e.topic(base), Key: []byte("user-1"), Value: []byte("not avro")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	produceUser(e, 1)
	waitFor(t, "the user's journey to be counted", func() bool {
		rep, err := r.Journey("j", Query{})
		return err == nil && rep.Totals.Opened == 1 && rep.Totals.Delivered == 1 && rep.Totals.Entered == 1
	})
	dead := e.readTopic(e.topic("dlq"))
	if len(dead) != 2 {
		t.Fatalf("%d dead letters, want 2", len(dead))
	}
	for _, d := range dead {
		group := ""
		for _, h := range d.Headers {
			if h.Key == stream.HeaderDLQGroup {
				group = string(h.Value)
			}
		}
		if string(d.Value) != "not avro" || group != e.prefix+"metrics" {
			t.Errorf("dead letter %q from group %q", d.Value, group)
		}
	}
}
