package timeline

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/pkg/stream"
)

// TestProcessorExactlyOnce: transactions that abort after the
// processor's writes (a retryable failure of up to three random
// receipts, once each) leave nothing behind: each user's timeline has each
// activity once and each receipt once (a receipt entry read twice would
// be two entries), with the send joined to its entry.
func TestProcessorExactlyOnce(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	k := newKafkaEnv(t, 2)
	var recs []*kgo.Record
	enc := func(base, key string, r records.Record, headers ...kgo.RecordHeader) {
		v, err := k.cd.Encode(k.ctx, k.topic(base), r)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Topic: k.topic(base), Key: []byte(key), Value: v, Headers: headers})
	}
	const users = 20
	at := time.Now().UTC()
	for i := range users {
		u, inst, cmd := "u"+strconv.Itoa(i), "inst-"+strconv.Itoa(i), "cmd-"+strconv.Itoa(i)
		hdr := kgo.RecordHeader{Key: InputHeader, Value: AppendInput(nil, &Input{Type: "timer"})}
		act := func(seq int, kind records.ActivityKind, details string) {
			a := records.Activity{ActivityID: inst + "-" + strconv.Itoa(seq), InstanceID: inst, JourneyID: "j", JourneyVersion: 1, UserID: u, StepID: "s", Kind: kind, At: at}
			if details != "" {
				a.Details = records.JSON(details)
			}
			enc("activity", u, a, hdr)
		}
		act(1, records.ActivityEntered, "")
		enc("send.email", u, records.SendCommand{CommandID: cmd, InstanceID: inst, UserID: u, Channel: "email", Payload: records.JSON(`{"n":` + strconv.Itoa(i) + `}`)})
		act(2, records.ActivitySent, `{"command_id":"`+cmd+`"}`)
		enc("receipts", u, records.Receipt{ReceiptID: "r1-" + cmd, CommandID: cmd, UserID: u, Channel: "email", Status: records.ReceiptDelivered, OccurredAt: at})
		enc("receipts", u, records.Receipt{ReceiptID: "r2-" + cmd, CommandID: cmd, UserID: u, Channel: "email", Status: records.ReceiptOpened, OccurredAt: at})
		act(3, records.ActivityExited, "")
	}
	if err := k.cl.ProduceSync(k.ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	p, err := New(Config{Topics: k.layout, Codec: k.cd, Group: "timelines-" + strconv.FormatInt(seed, 36), Logger: warnings()})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	failed, aborts := map[string]bool{}, 0
	p.faultHook = func(m stream.Message) error {
		id := m.Topic + "/" + strconv.Itoa(int(m.Partition)) + "/" + strconv.FormatInt(m.Offset, 10)
		mu.Lock()
		defer mu.Unlock()
		// Receipts are the records a replay would duplicate; a few aborts
		// suffice (each costs a retry backoff of the partition).
		if m.Topic != p.receipts || aborts >= 3 || failed[id] || rng.IntN(4) != 0 {
			return nil
		}
		failed[id], aborts = true, aborts+1
		return stream.Retryable(errors.New("injected: abort after the writes"))
	}
	ctx, cancel := context.WithCancel(k.ctx)
	done := make(chan error, 1)
	go func() {
		done <- p.Run(ctx, stream.Options{Kafka: []kgo.Opt{kgo.SeedBrokers(k.brokers...)}, StateDir: t.TempDir(), InstanceID: "a", PollWait: 20 * time.Millisecond, Logger: warnings()})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	for i := range users {
		u, inst := "u"+strconv.Itoa(i), "inst-"+strconv.Itoa(i)
		deadline := time.Now().Add(60 * time.Second)
		for {
			var tl InstanceTimeline
			err := p.queryUser(u, func(part int32, v stream.View) error { return p.serveInstance(u, inst, part, v, &tl) })
			if err == nil && tl.Status == "exited" && len(tl.Entries) >= 5 {
				kinds := map[string]int{}
				for _, en := range tl.Entries {
					kinds[en.Kind]++
				}
				if len(tl.Entries) != 5 || kinds["receipt"] != 2 || kinds["entered"] != 1 || kinds["sent"] != 1 || kinds["exited"] != 1 {
					t.Fatalf("%s: entries %+v", u, tl.Entries)
				}
				if sent := tl.Entries[1]; sent.Send == nil || string(sent.Send.Payload) != `{"n":`+strconv.Itoa(i)+`}` {
					t.Fatalf("%s: sent entry %+v", u, sent)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: timeline not complete within 60s: %v %+v", u, err, tl)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	mu.Lock()
	t.Logf("%d transactions aborted after their writes", aborts)
	if aborts == 0 {
		t.Error("no transaction aborted: the test tested nothing")
	}
	mu.Unlock()
}
