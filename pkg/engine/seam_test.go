package engine

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"maps"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/beckon-dev/beckon/pkg/codec"
	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/pkg/stream"
	"github.com/beckon-dev/beckon/pkg/topics"
)

// The seam between the engine and the journey semantics, with the
// runtime's partition replaced by one whose reads can fail: a failed read
// is retried (the runtime's transaction aborts and the message comes
// again), never decided upon.

// errDown stands for a store read that failed.
var errDown = errors.New("store read failed")

// fakePartition is a partition's state and tables in memory, the way the
// runtime's Context shows them to a processor, with reads of one store
// made to fail: fail names a table topic, or "state" for the user state.
type fakePartition struct {
	now    time.Time
	state  map[string][]byte
	tables map[string][]byte // topic + "\x00" + key
	timers map[string]time.Time
	emits  []emitted
	fail   string
	// sets and gets list the state keys written and read, in order.
	sets, gets []string
	// onLookup runs on every table read, before it answers.
	onLookup func(topic string)
}

type emitted struct {
	topic string
	key   string
	value []byte
}

func newFakePartition(now time.Time) *fakePartition {
	return &fakePartition{now: now, state: map[string][]byte{}, tables: map[string][]byte{}, timers: map[string]time.Time{}}
}

func (f *fakePartition) Now() time.Time   { return f.now }
func (f *fakePartition) Partition() int32 { return 0 }
func (f *fakePartition) Get(key []byte) ([]byte, bool, error) {
	if f.fail == "state" {
		return nil, false, errDown
	}
	f.gets = append(f.gets, string(key))
	v, ok := f.state[string(key)]
	return v, ok, nil
}
func (f *fakePartition) View(key []byte) ([]byte, bool, error) { return f.Get(key) }
func (f *fakePartition) Set(key, value []byte) {
	f.state[string(key)] = bytes.Clone(value) // as stream.Context does
	f.sets = append(f.sets, string(key))
}
func (f *fakePartition) Delete(key []byte) { delete(f.state, string(key)) }
func (f *fakePartition) Lookup(table string, key []byte) ([]byte, bool, error) {
	if f.onLookup != nil {
		f.onLookup(table)
	}
	if f.fail == table {
		return nil, false, errDown
	}
	v, ok := f.tables[table+"\x00"+string(key)]
	return v, ok, nil
}
func (f *fakePartition) Schedule(key []byte, due time.Time, _ []byte) error {
	f.timers[string(key)] = due
	return nil
}
func (f *fakePartition) Cancel(key []byte) error { delete(f.timers, string(key)); return nil }
func (f *fakePartition) DeletePrefix(prefix []byte) error {
	for k := range f.state {
		if strings.HasPrefix(k, string(prefix)) {
			delete(f.state, k)
		}
	}
	return nil
}
func (f *fakePartition) CancelPrefix(prefix []byte) error {
	for k := range f.timers {
		if strings.HasPrefix(k, string(prefix)) {
			delete(f.timers, k)
		}
	}
	return nil
}
func (f *fakePartition) Emit(topic string, key, value []byte, _ ...stream.Header) {
	f.emits = append(f.emits, emitted{topic, string(key), bytes.Clone(value)}) // as stream.Context does
}

// AfterCommit runs f at once: the fake has no transaction to abort.
func (f *fakePartition) AfterCommit(fn func()) { fn() }

func (f *fakePartition) TraceContext() context.Context { return context.Background() }

// handle runs the engine's processor on m as the runtime does: a failed
// message's writes and outputs are discarded.
func (f *fakePartition) handle(e *Engine, m stream.Message) error {
	state, timers, emits := maps.Clone(f.state), maps.Clone(f.timers), len(f.emits)
	err := e.handle(f, m)
	if err != nil {
		f.state, f.timers, f.emits = state, timers, f.emits[:emits]
	}
	return err
}

// seamRig is an engine on a fake partition with a profile, a loyalty fact
// and a catalog row, and journeys that read them.
type seamRig struct {
	t  *testing.T
	e  *Engine
	cd *codec.Codec
	p  *fakePartition
}

// enrichedJourney sends a cart's item names from the products lookup
// table and the loyalty fact (testdata/enriched.yaml).
var enrichedJourney = mustReadFile("testdata/enriched.yaml")

func mustReadFile(name string) string {
	b, err := os.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func newSeamRig(t *testing.T, journeys ...string) *seamRig {
	t.Helper()
	layout, err := topics.Declare(topics.Options{Prefix: "seam.", Partitions: 1, ReplicationFactor: 1, Facts: []string{"loyalty"}, Lookups: []string{"products"}})
	if err != nil {
		t.Fatal(err)
	}
	cd, err := codec.New()
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(Config{Topics: layout, Codec: cd, StateDir: t.TempDir(), InstanceID: "seam", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	r := &seamRig{t: t, e: e, cd: cd, p: newFakePartition(time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC))}
	for _, j := range journeys {
		r.publish(j, records.JourneyLive)
	}
	r.row(e.topics.profiles, "u1", &records.Profile{UserID: "u1", Addresses: records.Addresses{Email: "u1@example.com"},
		Consent: map[string]records.Consent{"email": {Status: records.ConsentSubscribed}}})
	r.row(e.topics.facts["loyalty"], "u1", &records.Fact{UserID: "u1", Name: "loyalty", Value: records.JSON(`{"points":1200}`)})
	r.row(e.topics.lookups["products"], "SKU-1", &records.LookupRecord{Table: "products", ID: "SKU-1", Attributes: records.JSON(`{"name":"Linen Shirt"}`)})
	return r
}

// publish writes version 1 of a journey definition into the catalog in
// state st, as the journeys topic would.
func (r *seamRig) publish(def string, st records.JourneyState) {
	r.t.Helper()
	id := strings.TrimSpace(strings.TrimPrefix(strings.Split(strings.TrimSpace(def), "\n")[0], "id:"))
	rec := &records.JourneyDefinition{JourneyID: id, Version: 1, State: st, Format: records.FormatYAML, Definition: def}
	r.e.catalog.Put(rec.Key(), rec)
	if err := r.e.catalog.Errors(id); err != nil {
		r.t.Fatal(err)
	}
}

func (r *seamRig) row(topic, key string, rec records.Record) {
	r.t.Helper()
	b, err := r.cd.Encode(context.Background(), topic, rec)
	if err != nil {
		r.t.Fatal(err)
	}
	r.p.tables[topic+"\x00"+key] = b
}

// event is an events-topic message of user u1.
func (r *seamRig) event(id, name, props string) stream.Message {
	r.t.Helper()
	ev := &records.Event{MessageID: id, Type: records.EventTrack, Name: name, UserID: "u1", Timestamp: r.p.now, Properties: records.JSON(props)}
	b, err := r.cd.Encode(context.Background(), r.e.topics.events, ev)
	if err != nil {
		r.t.Fatal(err)
	}
	return stream.Message{Kind: stream.KindRecord, Topic: r.e.topics.events, Key: []byte("u1"), Value: b}
}

// sends decodes the send commands emitted so far.
func (r *seamRig) sends() []records.SendCommand {
	var out []records.SendCommand
	for _, m := range r.p.emits {
		if m.topic == r.e.topics.send["email"] {
			var c records.SendCommand
			if err := r.cd.Decode(context.Background(), m.value, &c); err != nil {
				r.t.Fatal(err)
			}
			out = append(out, c)
		}
	}
	return out
}

// activities decodes the activity emitted so far.
func (r *seamRig) activities() []records.Activity {
	var out []records.Activity
	for _, m := range r.p.emits {
		if m.topic == r.e.topics.activity {
			var a records.Activity
			if err := r.cd.Decode(context.Background(), m.value, &a); err != nil {
				r.t.Fatal(err)
			}
			out = append(out, a)
		}
	}
	return out
}

// TestFailedReadsAreRetried: a store read that fails (the user's journey
// state, the profile, a fact, a lookup row) makes the message transient:
// the runtime retries it, with nothing emitted or written; once the store
// answers, the same message sends with every row in the payload. Before,
// a failed lookup read became an error activity and no send.
func TestFailedReadsAreRetried(t *testing.T) {
	for _, store := range []string{"state", "profiles", "facts.loyalty", "lookups.products"} {
		t.Run(store, func(t *testing.T) {
			r := newSeamRig(t, enrichedJourney)
			r.p.fail = "seam." + store
			if store == "state" {
				r.p.fail = "state"
			}
			m := r.event("m1", "Product Added", `{"cart_id":"c1","sku":"SKU-1"}`)
			for range 3 {
				err := r.p.handle(r.e, m)
				if !stream.IsRetryable(err) || !errors.Is(err, errDown) {
					t.Fatalf("with %s failing: err %v, want a retryable error with the cause", store, err)
				}
			}
			if len(r.p.emits) != 0 || len(r.p.state) != 0 || len(r.p.timers) != 0 {
				t.Fatalf("a failed message left effects: emits %d, state %d, timers %d", len(r.p.emits), len(r.p.state), len(r.p.timers))
			}
			r.p.fail = ""
			if err := r.p.handle(r.e, m); err != nil {
				t.Fatal(err)
			}
			sends := r.sends()
			if len(sends) != 1 {
				t.Fatalf("%d sends once the store answers, want 1; activity %+v", len(sends), r.activities())
			}
			if got := string(sends[0].Payload); got != `{"items":["Linen Shirt"],"points":1200}` {
				t.Errorf("payload %s", got)
			}
			for _, a := range r.activities() {
				if a.Kind == records.ActivityError || a.Kind == records.ActivitySkipped {
					t.Errorf("activity %s: %s", a.Kind, a.Reason)
				}
			}
		})
	}
}

// TestPermanentFailuresAreNotRetried: bytes that do not decode are
// permanent (the runtime dead-letters the message), a missing row follows
// the journey's missing policy, and a table the deployment does not have
// is an error of the instance; none of them is retried.
func TestPermanentFailuresAreNotRetried(t *testing.T) {
	r := newSeamRig(t, enrichedJourney)
	err := r.p.handle(r.e, stream.Message{Kind: stream.KindRecord, Topic: r.e.topics.events, Key: []byte("u1"), Value: []byte("not avro")})
	if err == nil || stream.IsRetryable(err) || !errors.Is(err, codec.ErrBadMagic) {
		t.Fatalf("garbage event: err %v, want a permanent decode error", err)
	}

	delete(r.p.tables, r.e.topics.lookups["products"]+"\x00SKU-1")
	if err := r.p.handle(r.e, r.event("m2", "Product Added", `{"cart_id":"c1","sku":"SKU-1"}`)); err != nil {
		t.Fatalf("missing row: %v", err)
	}
	if n := countActivity(r.activities(), records.ActivityStepCompleted, "sending without missing data"); n != 1 {
		t.Fatalf("missing row: the default missing policy did not apply: %+v", r.activities())
	}

	r = newSeamRig(t, strings.Replace(enrichedJourney, "table: products", "table: nosuch", 1))
	if err := r.p.handle(r.e, r.event("m3", "Product Added", `{"cart_id":"c1","sku":"SKU-1"}`)); err != nil {
		t.Fatalf("unknown table: %v", err)
	}
	if n := countActivity(r.activities(), records.ActivityError, `no such lookup table "nosuch"`); n != 1 {
		t.Fatalf("unknown table: no error activity: %+v", r.activities())
	}
}

func countActivity(acts []records.Activity, kind records.ActivityKind, reason string) int {
	n := 0
	for _, a := range acts {
		if a.Kind == kind && strings.Contains(a.Reason, reason) {
			n++
		}
	}
	return n
}

// TestPublishNeverShowsHalfWay: a journey paused while a message is being
// applied (here: while the first journey's send reads the catalog table,
// as the catalog's follower may at any instant) does not show in that
// message: it sees the catalog of the moment it started, in which the
// second journey is live and is entered. The next message sees it paused.
func TestPublishNeverShowsHalfWay(t *testing.T) {
	const second = `
id: second
trigger: {event: Product Added}
steps:
  - id: thanks
    send: {channel: email, template: thanks}
`
	r := newSeamRig(t, enrichedJourney, second)
	paused := false
	r.p.onLookup = func(topic string) {
		if topic == r.e.topics.lookups["products"] && !paused {
			paused = true
			r.publish(second, records.JourneyPaused)
		}
	}
	if err := r.p.handle(r.e, r.event("m1", "Product Added", `{"cart_id":"c1","sku":"SKU-1"}`)); err != nil {
		t.Fatal(err)
	}
	if !paused {
		t.Fatal("the publish did not happen during the message")
	}
	var templates []string
	for _, s := range r.sends() {
		templates = append(templates, s.TemplateID)
	}
	if got := strings.Join(templates, ","); got != "cart,thanks" {
		t.Fatalf("sends %q, want cart,thanks (the catalog as the message began); activity %+v", got, r.activities())
	}
	if err := r.p.handle(r.e, r.event("m2", "Product Added", `{"cart_id":"c2","sku":"SKU-1"}`)); err != nil {
		t.Fatal(err)
	}
	if n := countActivity(r.activities(), records.ActivitySkipped, "journey paused"); n != 1 {
		t.Fatalf("the next message did not see the journey paused: %+v", r.activities())
	}
}

// TestCatalogSnapshotIsImmutable: a snapshot answers as of when it was
// taken, whatever is published after.
func TestCatalogSnapshotIsImmutable(t *testing.T) {
	r := newSeamRig(t, enrichedJourney)
	before := r.e.catalog.Snapshot()
	r.publish(strings.Replace(enrichedJourney, "id: enriched", "id: other", 1), records.JourneyLive)
	rec := &records.JourneyDefinition{JourneyID: "enriched", Version: 1, State: records.JourneyArchived, Format: records.FormatYAML, Definition: enrichedJourney}
	r.e.catalog.Put(rec.Key(), rec)
	if n := len(before.Current()); n != 1 || before.Current()[0].Def.ID != "enriched" || before.State("enriched") != records.JourneyLive || before.State("other") != records.JourneyArchived {
		t.Fatalf("the old snapshot changed: %d current, enriched %s, other %s", n, before.State("enriched"), before.State("other"))
	}
	after := r.e.catalog.Snapshot()
	if n := len(after.Current()); n != 1 || after.Current()[0].Def.ID != "other" || after.State("enriched") != records.JourneyArchived {
		t.Fatalf("the new snapshot: %d current, enriched %s", n, after.State("enriched"))
	}
	// Running instances stay pinned to their version, archived or not.
	if before.Version("enriched", 1) == nil || after.Version("enriched", 1) == nil {
		t.Fatal("a pinned version is gone")
	}
}
