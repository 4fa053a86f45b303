package channelconsumer

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beckon-dev/beckon/pkg/codec"
	"github.com/beckon-dev/beckon/pkg/kafkatest"
	"github.com/beckon-dev/beckon/pkg/records"
)

// TestExampleConsumer runs the documented consumer: a committed command
// is delivered once with a delivered receipt, one past its deadline gets
// a failed receipt, and a command in an aborted transaction is never seen.
func TestExampleConsumer(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	p := kafkatest.Prefix(t)
	sends, receipts := p+"send.sms", p+"receipts"
	kafkatest.CreateTopics(t, brokers, 2, sends, receipts)
	cd, err := codec.New()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := func(id string, deadline time.Time) *kgo.Record {
		v, err := cd.Encode(ctx, sends, records.SendCommand{CommandID: id, JourneyID: "j", JourneyVersion: 1, InstanceID: "i", StepID: "s",
			UserID: "u1", Channel: "sms", Recipient: "+4915112345678", TemplateID: "t", Payload: records.JSON(`{}`), CreatedAt: time.Now(), Deadline: deadline})
		if err != nil {
			t.Fatal(err)
		}
		return &kgo.Record{Topic: sends, Key: []byte("u1"), Value: v}
	}
	// One command in an aborted transaction, then two committed ones.
	txn := kafkatest.Client(t, brokers, kgo.TransactionalID(p+"engine"))
	for _, commit := range []bool{false, true} {
		if err := txn.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		recs := []*kgo.Record{cmd("aborted", time.Now().Add(time.Hour))}
		if commit {
			recs = []*kgo.Record{cmd("ok", time.Now().Add(time.Hour)), cmd("late", time.Now().Add(-time.Minute))}
		}
		if err := txn.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if err := txn.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
	}

	var mu sync.Mutex
	delivered := map[string]int{}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- Run(runCtx, brokers, p+"sms-adapter", sends, receipts, func(_ context.Context, c records.SendCommand) error {
			mu.Lock()
			defer mu.Unlock()
			delivered[c.CommandID]++
			return nil
		}, nil)
	}()
	got := map[string]records.ReceiptStatus{}
	rd := kafkatest.Client(t, brokers, kgo.ConsumeTopics(receipts), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	for len(got) < 2 {
		fs := rd.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("receipts so far %v", got)
		}
		for _, r := range fs.Records() {
			var rc records.Receipt
			if err := cd.Decode(ctx, r.Value, &rc); err != nil {
				t.Fatal(err)
			}
			got[rc.CommandID] = rc.Status
		}
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got["ok"] != records.ReceiptDelivered || got["late"] != records.ReceiptFailed {
		t.Errorf("receipts %v", got)
	}
	if delivered["ok"] != 1 || delivered["late"] != 0 || delivered["aborted"] != 0 {
		t.Errorf("deliveries %v", delivered)
	}
}

// TestDocShowsThisCode keeps docs/channels.md showing this package's code
// as it is.
func TestDocShowsThisCode(t *testing.T) {
	doc, err := os.ReadFile("../../docs/channels.md")
	if err != nil {
		t.Fatal(err)
	}
	code, err := os.ReadFile("consumer.go")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), "```go\n"+string(code)+"```") {
		t.Error("docs/channels.md does not show examples/channelconsumer/consumer.go as it is; paste it in")
	}
}
