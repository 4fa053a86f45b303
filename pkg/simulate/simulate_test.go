package simulate_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/beckon-dev/beckon/pkg/codec"
	"github.com/beckon-dev/beckon/pkg/journey"
	"github.com/beckon-dev/beckon/pkg/kafkatest"
	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/pkg/simulate"
	"github.com/beckon-dev/beckon/pkg/topics"
)

// welcome greets a user who signs up, with their plan in capitals: a
// plan that is not a string fails the expression for that user.
const welcome = `
id: welcome
trigger: {event: Signed Up}
steps:
  - id: hello
    send:
      channel: email
      template: hello
      payload:
        plan: event.properties.plan.upperAscii()
`

// history is a deployment's topics with a known past: users u0..u(n-1)
// signed up at t0 + i minutes, each with a profile; u3 signed up with a
// numeric plan. One sign-up comes before the window, one after it.
type history struct {
	brokers []string
	layout  topics.Layout
	codec   *codec.Codec
	t0      time.Time
}

func newHistory(t *testing.T, users int) *history {
	t.Helper()
	ctx := context.Background()
	brokers := kafkatest.Brokers(t)
	layout, err := topics.Declare(topics.Options{Prefix: kafkatest.Prefix(t), Partitions: 3, ReplicationFactor: 1, Lookups: []string{"catalog"}})
	if err != nil {
		t.Fatal(err)
	}
	cl := kafkatest.Client(t, brokers)
	if _, err := topics.Apply(ctx, cl, layout); err != nil {
		t.Fatal(err)
	}
	cd, err := codec.New()
	if err != nil {
		t.Fatal(err)
	}
	h := &history{brokers: brokers, layout: layout, codec: cd, t0: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)}
	topic := func(base string) string { s, _ := layout.Spec(base); return s.Name }
	var recs []*kgo.Record
	add := func(base, key string, at time.Time, r records.Record) {
		b, err := cd.Encode(ctx, topic(base), r)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Topic: topic(base), Key: []byte(key), Value: b, Timestamp: at})
	}
	signUp := func(user string, at time.Time, plan string) {
		add("events", user, at, records.Event{MessageID: fmt.Sprintf("m-%s-%d", user, at.Unix()), Type: records.EventTrack, Name: "Signed Up",
			UserID: user, Timestamp: at, Properties: records.JSON(`{"plan":` + plan + `}`)})
	}
	for i := range users {
		u := fmt.Sprintf("u%d", i)
		add("profiles", u, h.t0.Add(-time.Hour), records.Profile{UserID: u, Addresses: records.Addresses{Email: u + "@example.com"},
			Consent: map[string]records.Consent{"email": {Status: records.ConsentSubscribed}}})
	}
	signUp("early", h.t0.Add(-time.Minute), `"free"`)
	for i := range users {
		plan := `"free"`
		if i == 3 {
			plan = `5`
		}
		signUp(fmt.Sprintf("u%d", i), h.t0.Add(time.Duration(i)*time.Minute), plan)
	}
	signUp("late", h.t0.Add(24*time.Hour), `"free"`)
	// One by one, in timestamp order, so offsets follow timestamps.
	for _, r := range recs {
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

func (h *history) options(opts ...kgo.Opt) simulate.Options {
	return simulate.Options{
		Kafka: append([]kgo.Opt{kgo.SeedBrokers(h.brokers...)}, opts...), Layout: h.layout, Codec: h.codec,
		From: h.t0, To: h.t0.Add(time.Hour),
	}
}

// requestKeys records the Kafka request kinds a client sends.
type requestKeys struct {
	mu   sync.Mutex
	keys map[int16]int
}

func (r *requestKeys) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, _ error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.keys[key]++
}

// TestSimulationIsReadOnly: a simulation only asks brokers for metadata,
// offsets and records: no produce, no transaction, no group, no offset
// commit, no topic change. And one user's failing expression costs that
// user a recorded error, while the others are sent to.
func TestSimulationIsReadOnly(t *testing.T) {
	h := newHistory(t, 6)
	seen := &requestKeys{keys: map[int16]int{}}
	var progress atomic.Int32
	o := h.options(kgo.WithHooks(seen))
	o.Progress = func(simulate.Progress) { progress.Add(1) }
	var mu sync.Mutex
	var sent []string
	o.Sends = func(c records.SendCommand) { mu.Lock(); sent = append(sent, c.UserID); mu.Unlock() }
	rep, err := simulate.Run(context.Background(), []byte(welcome), o)
	if err != nil {
		t.Fatal(err)
	}
	allowed := []int16{kmsg.Fetch.Int16(), kmsg.ListOffsets.Int16(), kmsg.Metadata.Int16(), kmsg.ApiVersions.Int16(),
		// The client's own metrics (KIP-714), which franz-go pushes to
		// brokers that ask for them: no topic is written.
		kmsg.GetTelemetrySubscriptions.Int16(), kmsg.PushTelemetry.Int16()}
	for k, n := range seen.keys {
		if !slices.Contains(allowed, k) {
			t.Errorf("the simulation sent %d %s requests", n, kmsg.NameForKey(k))
		}
	}
	if seen.keys[kmsg.Fetch.Int16()] == 0 {
		t.Error("no fetch seen: the hook saw nothing")
	}

	slices.Sort(sent)
	if want := []string{"u0", "u1", "u2", "u4", "u5"}; !slices.Equal(sent, want) {
		t.Errorf("sent to %v, want %v (the window holds neither early nor late; u3's plan fails)", sent, want)
	}
	if rep.Entered != 6 || rep.Input.Events != 6 || rep.Input.Users != 6 || rep.Input.Partitions != 3 {
		t.Errorf("entered %d, input %+v; want 6 entered of 6 events and users over 3 partitions", rep.Entered, rep.Input)
	}
	if len(rep.Errors) != 1 || rep.Errors[0].Count != 1 || !strings.Contains(rep.Errors[0].Reason, "payload: plan") {
		t.Errorf("errors %+v, want one payload error of u3", rep.Errors)
	}
	if len(rep.Sends) != 1 || rep.Sends[0] != (simulate.StepSends{Step: "hello", Channel: "email", Template: "hello", Count: 5}) {
		t.Errorf("sends %+v", rep.Sends)
	}
	if n := rep.SendTimes.ByHour[10]; n != 5 {
		t.Errorf("sends at 10:00 UTC: %d, want 5 (%v)", n, rep.SendTimes.ByHour)
	}
	if len(rep.SendTimes.ByDay) != 1 || rep.SendTimes.ByDay[0] != (simulate.DayCount{Day: "2026-03-02", Count: 5}) {
		t.Errorf("by day %+v", rep.SendTimes.ByDay)
	}
	if rep.SendTimes.SinceEntry[0].Count != 5 {
		t.Errorf("since entry %+v: every send is at entry", rep.SendTimes.SinceEntry)
	}
	if len(rep.Samples) == 0 || len(rep.Samples[0].Entries) == 0 || rep.Samples[0].Entries[0].Kind != "entered" {
		t.Errorf("samples %+v", rep.Samples)
	}
	if progress.Load() == 0 {
		t.Error("progress was never reported")
	}
}

// TestSimulationUsersLimit: --users N simulates at most N users, the same
// ones on every run.
func TestSimulationUsersLimit(t *testing.T) {
	h := newHistory(t, 8)
	o := h.options()
	o.Users = 4
	var first *simulate.Report
	for range 2 {
		rep, err := simulate.Run(context.Background(), []byte(welcome), o)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Input.Users > 4 || rep.Input.Users == 0 || rep.Input.UsersLimit != 4 || rep.Entered != rep.Input.Users {
			t.Fatalf("input %+v, entered %d: want at most 4 users, each entered", rep.Input, rep.Entered)
		}
		if first != nil && (first.Entered != rep.Entered || first.Input.Events != rep.Input.Events) {
			t.Fatalf("two runs simulated different users: %+v then %+v", first.Input, rep.Input)
		}
		first = rep
	}
}

// TestSimulationInvalidDefinition: a definition that does not validate is
// a validation error with the field's path, as `journeys validate` says.
func TestSimulationInvalidDefinition(t *testing.T) {
	_, err := simulate.Run(context.Background(), []byte(strings.Replace(welcome, "channel: email", "channel: pigeon", 1)), simulate.Options{})
	var ve *journey.ValidationError
	if !errors.As(err, &ve) || !slices.ContainsFunc(ve.Errors, func(fe journey.FieldError) bool { return strings.Contains(fe.Path, "channel") }) {
		t.Fatalf("err %v, want a validation error at the channel", err)
	}
}
