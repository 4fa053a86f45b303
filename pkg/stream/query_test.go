package stream

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beckon-dev/beckon/pkg/kafkatest"
)

// TestQuery: a query reads the committed state of an owned, restored
// partition; a partition the runner does not own, or any once it stopped,
// is refused with ErrNotOwned; the member's user data is in the group's
// description.
func TestQuery(t *testing.T) {
	e := newEnv(t)
	r, err := New(e.counter(CheckPartitioning()), Options{
		Kafka: []kgo.Opt{kgo.SeedBrokers(e.brokers...)}, StateDir: t.TempDir(), InstanceID: "q",
		GroupUserData: []byte(`{"query_addr":"10.0.0.1:8090"}`),
		Logger:        slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		t.Fatal(err)
	}
	stop := e.start(r)
	waitReady(t, r)
	e.produce(e.events, "ada", "x", "ada", "x", "bob", "x")
	e.readAll(e.out, 3)

	p, ok := r.PartitionOf(e.events, []byte("ada"))
	if !ok || p != PartitionFor([]byte("ada"), testPartitions) {
		t.Fatalf("PartitionOf: %d %v", p, ok)
	}
	var got string
	if err := r.Query(p, func(v View) error {
		b, ok, err := v.Get([]byte("ada"))
		if err != nil || !ok {
			return errors.Join(err, errors.New("ada's count not found"))
		}
		got = string(b)
		n := 0
		if err := v.Range(nil, nil, func(_, _ []byte) bool { n++; return true }); err != nil || n == 0 {
			return errors.Join(err, errors.New("range found nothing"))
		}
		return nil
	}); err != nil || got != "2" {
		t.Fatalf("query: %q %v", got, err)
	}
	if err := r.Query(testPartitions+5, func(View) error { return nil }); !errors.Is(err, ErrNotOwned) {
		t.Fatalf("query of a partition not owned: %v", err)
	}

	groups, err := kadm.NewClient(kafkatest.Client(t, e.brokers)).DescribeGroups(context.Background(), e.prefix+"counter")
	if err != nil {
		t.Fatal(err)
	}
	var data string
	for _, m := range groups[e.prefix+"counter"].Members {
		if meta, ok := m.Join.AsConsumer(); ok {
			data = string(meta.UserData)
		}
	}
	if data != `{"query_addr":"10.0.0.1:8090"}` {
		t.Fatalf("member user data %q", data)
	}

	stop()
	deadline := time.Now().Add(10 * time.Second)
	for err := r.Query(p, func(View) error { return nil }); !errors.Is(err, ErrNotOwned); err = r.Query(p, func(View) error { return nil }) {
		if time.Now().After(deadline) {
			t.Fatalf("query after stop: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
