package embedded

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestRestartKeepsTopicsAndRecords is the promise `beckon dev` makes: stop
// it, start it again, and the topics, records and committed offsets are
// still there.
func TestRestartKeepsTopicsAndRecords(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	k, err := Start(Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.Brokers()...))
	if err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 3, 1, map[string]*string{"cleanup.policy": ptr("compact")}, "profiles"); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		r := &kgo.Record{Topic: "profiles", Key: fmt.Appendf(nil, "user-%d", i), Value: fmt.Appendf(nil, "v%d", i)}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	cl.Close()
	k.Close()

	k, err = Start(Options{DataDir: dir})
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	defer k.Close()
	cl, err = kgo.NewClient(kgo.SeedBrokers(k.Brokers()...), kgo.ConsumeTopics("profiles"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm = kadm.NewClient(cl)
	td, err := adm.ListTopics(ctx, "profiles")
	if err != nil {
		t.Fatal(err)
	}
	if got := len(td["profiles"].Partitions); got != 3 {
		t.Fatalf("after restart profiles has %d partitions, want 3", got)
	}
	cfgs, err := adm.DescribeTopicConfigs(ctx, "profiles")
	if err != nil {
		t.Fatal(err)
	}
	if v, err := cfgs.On("profiles", nil); err != nil || !hasConfig(v, "cleanup.policy", "compact") {
		t.Fatalf("after restart cleanup.policy is not compact: %+v %v", v, err)
	}
	seen := map[string]string{}
	for len(seen) < 5 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read back %d of 5 records before timeout", len(seen))
		}
		fs.EachRecord(func(r *kgo.Record) { seen[string(r.Key)] = string(r.Value) })
	}
	if seen["user-3"] != "v3" {
		t.Fatalf("records after restart: %v", seen)
	}
}

func hasConfig(rc kadm.ResourceConfig, key, want string) bool {
	for _, c := range rc.Configs {
		if c.Key == key {
			return c.MaybeValue() == want
		}
	}
	return false
}

func ptr(s string) *string { return &s }
