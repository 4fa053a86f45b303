package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beckon-dev/beckon/examples"
	"github.com/beckon-dev/beckon/pkg/api"
	"github.com/beckon-dev/beckon/pkg/codec"
	"github.com/beckon-dev/beckon/pkg/engine"
	"github.com/beckon-dev/beckon/pkg/kafkatest"
	"github.com/beckon-dev/beckon/pkg/kafkatest/servicetest"
	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/pkg/stream"
	"github.com/beckon-dev/beckon/pkg/timeline"
	"github.com/beckon-dev/beckon/pkg/topics"
)

// timelinesOf mounts the timeline routes with a router over the timeline
// group beside engineGroup and the activity topic activity, as the api
// service does.
func timelinesOf(t *testing.T, engineGroup, activity string) func(*api.Config) {
	return func(c *api.Config) {
		cl, err := kgo.NewClient(c.Kafka...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		rt, err := timeline.NewRouter(timeline.RouterConfig{Admin: kadm.NewClient(cl), Group: timeline.GroupBeside(engineGroup), Topic: activity, OwnersTTL: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		c.Timelines = rt
	}
}

// runTimelines runs a timeline processor over layout in the timeline
// group beside engineGroup, with its query endpoint, as the engine
// service runs it beside the engine (run, when not nil, runs beside it
// too), until the test ends.
func runTimelines(t *testing.T, brokers []string, layout topics.Layout, cd *codec.Codec, engineGroup string, run func(context.Context) error) *timeline.Processor {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	tp, err := timeline.New(timeline.Config{Topics: layout, Codec: cd, Group: timeline.GroupBeside(engineGroup), QueryAddr: ln.Addr().String(), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if run == nil {
		run = func(ctx context.Context) error { <-ctx.Done(); return nil }
	}
	both, err := tp.Alongside(stream.Options{Kafka: []kgo.Opt{kgo.SeedBrokers(brokers...)}, StateDir: t.TempDir(), InstanceID: "timelines-1", PollWait: 20 * time.Millisecond, Logger: log}, run)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: tp.QueryHandler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- both(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Error(err)
		}
		_ = srv.Close()
	})
	return tp
}

// layoutOf is the topic layout servicetest.Provision made under prefix.
func layoutOf(t *testing.T, prefix string, partitions int32) topics.Layout {
	t.Helper()
	layout, err := topics.Declare(topics.Options{Prefix: prefix, Partitions: partitions, ReplicationFactor: 1})
	if err != nil {
		t.Fatal(err)
	}
	return layout
}

// walkTimelines runs a timeline processor over the walk's history, which
// countedMetrics wrote in the deployment of journeysTopic, and mounts the
// timeline routes over it.
func walkTimelines(t *testing.T, brokers []string, journeysTopic string) func(*api.Config) {
	t.Helper()
	prefix := strings.TrimSuffix(journeysTopic, "journeys")
	layout := layoutOf(t, prefix, 1)
	cd, err := codec.New()
	if err != nil {
		t.Fatal(err)
	}
	group := prefix + "engine"
	runTimelines(t, brokers, layout, cd, group, nil)
	activity, _ := layout.Spec("activity")
	return timelinesOf(t, group, activity.Name)
}

// awaitInstances polls the user's instances through h's API until ok
// accepts the answer: 503s (the processor restoring, its group settling)
// are retried, every answer is checked against the document.
func awaitInstances(t *testing.T, h *harness, user string, ok func(timeline.UserInstances) bool) timeline.UserInstances {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for { // polls the condition
		r := h.call("GET", "/v1/users/"+user+"/instances", h.read, "", "")
		var ui timeline.UserInstances
		if r.status == http.StatusOK {
			if err := jsonInto(r, &ui); err != nil {
				t.Fatal(err)
			}
			if ok(ui) {
				return ui
			}
		} else if r.status != http.StatusServiceUnavailable {
			t.Fatalf("GET /v1/users/%s/instances: %s\n%s", user, statusText(r.status), r.raw)
		}
		if time.Now().After(deadline) {
			t.Fatalf("user %s: not answered as wanted within a minute: %s %s", user, statusText(r.status), r.raw)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkWalkTimelines checks the walk's timelines as served: u1's exited
// instance with its entries and receipts, u2's skipped entry, and a 404
// for an instance u1 never had.
func checkWalkTimelines(t *testing.T, h *harness) {
	t.Helper()
	ui := awaitInstances(t, h, "u1", func(ui timeline.UserInstances) bool { return len(ui.Instances) == 1 })
	in := ui.Instances[0]
	if in.JourneyID != "walk" || in.InstanceID != "walk-u1" || in.Status != "exited" || in.ExitReason != "completed" || in.ID != timeline.Ref("u1", "walk-u1") {
		t.Errorf("u1's instance: %+v", in)
	}
	var tl timeline.InstanceTimeline
	if err := jsonInto(h.expect(200, "GET", "/v1/instances/"+in.ID, h.read, "", ""), &tl); err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, en := range tl.Entries {
		kinds = append(kinds, en.Kind)
	}
	// The processor reads activities and receipts independently: a
	// receipt is placed after the newest entry when it is read, before
	// or after the exit.
	if len(kinds) != 5 || !slices.Equal(kinds[:2], []string{"entered", "sent"}) || !slices.Equal(slices.Sorted(slices.Values(kinds[2:])), []string{"exited", "receipt", "receipt"}) {
		t.Errorf("u1's timeline: kinds %v, want entered, sent, then the exit and the two receipts", kinds)
	}
	u2 := awaitInstances(t, h, "u2", func(ui timeline.UserInstances) bool { return len(ui.NotEntered) == 1 })
	if len(u2.Instances) != 0 || u2.NotEntered[0].Kind != "skipped" || u2.NotEntered[0].Reason != "quiet_hours" {
		t.Errorf("u2: %+v", u2)
	}
	h.expect(404, "GET", "/v1/instances/"+timeline.Ref("u1", "never"), h.read, "", "")
	h.expect(400, "GET", "/v1/instances/not-a-reference", h.read, "", "")
}

func jsonInto(r response, v any) error { return json.Unmarshal(r.raw, v) }

// TestTimelinesWithoutProcessors: with no timeline processor running,
// both routes answer 503 with Retry-After and the documented error body,
// not an empty timeline.
func TestTimelinesWithoutProcessors(t *testing.T) {
	// The journeys topic stands in for the activity topic: it exists, and
	// nobody is in the timeline group.
	h := startAPI(t, nil, nil, func(c *api.Config) { timelinesOf(t, kafkatest.Prefix(t)+"engine", c.JourneysTopic)(c) })
	for _, path := range []string{"/v1/users/u1/instances", "/v1/instances/" + timeline.Ref("u1", "i1")} {
		r := h.expect(503, "GET", path, h.read, "", "")
		if r.header.Get("Retry-After") == "" || !strings.Contains(string(r.raw), "no members") {
			t.Errorf("%s: not a 503 with Retry-After saying the group has no members: %s", path, r.raw)
		}
	}
}

// TestTimelineOfAnEngineUser: a journey published through the API, an
// engine with its timeline processor beside it as the engine service runs
// them, a shopper's event; the API answers the shopper's instance and its
// timeline, from the processor that owns the shopper's partition, in the
// documented shapes.
func TestTimelineOfAnEngineUser(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	cl := kafkatest.Client(t, brokers)
	prefix := servicetest.Provision(t, cl, 2)
	layout := layoutOf(t, prefix, 2)
	journeys, _ := layout.Spec("journeys")
	activity, _ := layout.Spec("activity")
	group := prefix + "engine"
	h := startAPIOn(t, brokers, journeys.Name, nil, nil, timelinesOf(t, group, activity.Name))

	all, err := examples.Journeys()
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(all, func(x examples.Journey) bool { return x.Name == "abandoned-cart" })
	if i < 0 {
		t.Fatal("no abandoned-cart example")
	}
	h.expect(201, "POST", "/v1/journeys", h.write, yamlType, string(all[i].YAML))
	h.expect(200, "POST", "/v1/journeys/abandoned-cart/publish", h.write, "", "")

	e, err := engine.New(engine.Config{
		Kafka: []kgo.Opt{kgo.SeedBrokers(brokers...)}, Topics: layout, Codec: h.codec, StateDir: t.TempDir(), InstanceID: "engine-1", Group: group,
		Stream: stream.Options{PollWait: 20 * time.Millisecond}, Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		t.Fatal(err)
	}
	runTimelines(t, brokers, layout, h.codec, group, e.Run)

	const user = "shopper-7"
	events, _ := layout.Spec("events")
	ev := records.Event{MessageID: "m-1", Type: records.EventTrack, Name: "Product Added", UserID: user, Timestamp: time.Now().UTC(),
		Properties: records.JSON(`{"cart_id":"cart-7","sku":"SKU-0101","quantity":1}`)}
	b, err := h.codec.Encode(context.Background(), events.Name, ev)
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: events.Name, Key: []byte(user), Value: b}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	ui := awaitInstances(t, h, user, func(ui timeline.UserInstances) bool { return len(ui.Instances) > 0 })
	in := ui.Instances[0]
	if len(ui.Instances) != 1 || in.JourneyID != "abandoned-cart" || in.EntryKey != "cart-7" || in.Status != "active" || ui.Partition != stream.PartitionFor([]byte(user), 2) {
		t.Fatalf("%s's instances: %+v", user, ui)
	}
	var tl timeline.InstanceTimeline
	if err := jsonInto(h.expect(200, "GET", "/v1/instances/"+in.ID, h.read, "", ""), &tl); err != nil {
		t.Fatal(err)
	}
	if tl.InstanceID != in.InstanceID || len(tl.Entries) == 0 || tl.Entries[0].Kind != "entered" || tl.Entries[0].Input == nil || tl.Entries[0].Input.Name != "Product Added" {
		t.Fatalf("%s's timeline: %+v", in.ID, tl)
	}
	// Without a token the timeline is refused like every route.
	h.expect(401, "GET", "/v1/instances/"+in.ID, "", "", "")
}
