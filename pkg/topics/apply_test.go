package topics

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beckon-dev/beckon/pkg/kafkatest"
)

func client(t *testing.T) (*kgo.Client, *kadm.Client) {
	t.Helper()
	cl := kafkatest.Client(t, kafkatest.Brokers(t))
	return cl, kadm.NewClient(cl)
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

func testLayout(t *testing.T, partitions int32) Layout {
	t.Helper()
	l, err := Declare(Options{Prefix: kafkatest.Prefix(t), Partitions: partitions, ReplicationFactor: 1, Facts: []string{"loyalty"}, Lookups: []string{"catalog"}})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestApplyIsIdempotentAndCheckSeesNoDrift(t *testing.T) {
	cl, adm := client(t)
	l := testLayout(t, 3)
	ctx := ctx(t)

	r, err := Check(ctx, cl, l)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Drift) != len(l.Specs) {
		t.Fatalf("check on an empty deployment: %d drift entries, want %d missing topics", len(r.Drift), len(l.Specs))
	}

	r, err = Apply(ctx, cl, l)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Created) != len(l.Specs) {
		t.Fatalf("first apply created %d topics, want %d", len(r.Created), len(l.Specs))
	}

	r, err = Apply(ctx, cl, l)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Created)+len(r.Altered)+len(r.Unchanged) != 0 {
		t.Fatalf("second apply was not a no-op: %+v", r)
	}
	r, err = Check(ctx, cl, l)
	if err != nil || len(r.Drift) != 0 {
		t.Fatalf("check after apply: drift %v, err %v", r.Drift, err)
	}

	// The topics really are what was declared.
	td, err := adm.ListTopics(ctx, l.Names()...)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range l.Specs {
		if got := int32(len(td[s.Name].Partitions)); got != s.Partitions {
			t.Errorf("%s has %d partitions, want %d", s.Name, got, s.Partitions)
		}
	}
}

func TestCheckReportsAndApplyFixesConfigDrift(t *testing.T) {
	cl, adm := client(t)
	l := testLayout(t, 2)
	ctx := ctx(t)
	if _, err := Apply(ctx, cl, l); err != nil {
		t.Fatal(err)
	}
	events, _ := l.Spec("events")
	wrong := "60000"
	if _, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.ms", Value: &wrong}}, events.Name); err != nil {
		t.Fatal(err)
	}

	r, err := Check(ctx, cl, l)
	if err != nil {
		t.Fatal(err)
	}
	want := Drift{Topic: events.Name, What: "config retention.ms", Want: events.Configs["retention.ms"], Got: wrong}
	if len(r.Drift) != 1 || r.Drift[0] != want {
		t.Fatalf("check drift = %v, want [%v]", r.Drift, want)
	}

	r, err = Apply(ctx, cl, l)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Altered) != 1 || !strings.Contains(r.Altered[0], "retention.ms="+events.Configs["retention.ms"]) {
		t.Fatalf("apply altered %v", r.Altered)
	}
	if r, _ := Check(ctx, cl, l); len(r.Drift) != 0 {
		t.Fatalf("drift after apply: %v", r.Drift)
	}
}

func TestApplyRefusesMismatchedCoPartitioning(t *testing.T) {
	cl, adm := client(t)
	l := testLayout(t, 3)
	ctx := ctx(t)
	loyalty, _ := l.Spec("facts.loyalty")
	if _, err := adm.CreateTopic(ctx, 2, 1, nil, loyalty.Name); err != nil {
		t.Fatal(err)
	}

	_, err := Apply(ctx, cl, l)
	var cpe *CoPartitionError
	if !errors.As(err, &cpe) {
		t.Fatalf("apply: err = %v, want a CoPartitionError", err)
	}
	msg := err.Error()
	events, _ := l.Spec("events")
	for _, s := range []string{loyalty.Name + `" has 2 partitions`, events.Name + `" has 3`} {
		if !strings.Contains(msg, s) {
			t.Errorf("error %q does not say %q", msg, s)
		}
	}
	// Nothing was created: refusing means refusing before any change.
	td, err := adm.ListTopics(ctx, events.Name)
	if err != nil {
		t.Fatal(err)
	}
	if d, ok := td[events.Name]; ok && d.Err == nil {
		t.Fatalf("apply created %s despite refusing", events.Name)
	}
	if _, err := Check(ctx, cl, l); !errors.As(err, &cpe) {
		t.Fatalf("check: err = %v, want a CoPartitionError", err)
	}
}
