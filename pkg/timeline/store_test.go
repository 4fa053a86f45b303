package timeline

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/beckon-dev/beckon/pkg/codec"
	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/pkg/stream"
	"github.com/beckon-dev/beckon/pkg/topics"
)

// fakePartition is a partition's state and timers in memory, as
// stream.Context keeps them.
type fakePartition struct {
	now    time.Time
	state  map[string][]byte
	timers map[string]time.Time
}

func (f *fakePartition) Now() time.Time { return f.now }
func (f *fakePartition) Get(key []byte) ([]byte, bool, error) {
	v, ok := f.state[string(key)]
	return v, ok, nil
}
func (f *fakePartition) Set(key, value []byte) { f.state[string(key)] = slices.Clone(value) }
func (f *fakePartition) Delete(key []byte)     { delete(f.state, string(key)) }
func (f *fakePartition) Range(start, end []byte, fn func(key, value []byte) bool) error {
	for _, k := range slices.Sorted(maps.Keys(f.state)) {
		if k >= string(start) && (end == nil || k < string(end)) && !fn([]byte(k), f.state[k]) {
			break
		}
	}
	return nil
}
func (f *fakePartition) Schedule(key []byte, due time.Time, _ []byte) error {
	f.timers[string(key)] = due
	return nil
}
func (f *fakePartition) Cancel(key []byte) error { delete(f.timers, string(key)); return nil }

// rig is a Processor on a fake partition, fed records as the runtime
// would deliver them.
type rig struct {
	t      testing.TB
	p      *Processor
	part   *fakePartition
	cd     *codec.Codec
	layout topics.Layout
	seq    map[string]int // per instance: the next activity sequence number
}

func newRig(t testing.TB, ret Retention) *rig {
	layout, err := topics.Declare(topics.Options{Prefix: "tl.", Partitions: 1, ReplicationFactor: 1})
	if err != nil {
		t.Fatal(err)
	}
	cd, err := codec.New()
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(Config{Topics: layout, Codec: cd, Retention: ret, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return &rig{t: t, p: p, cd: cd, layout: layout, seq: map[string]int{},
		part: &fakePartition{now: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC), state: map[string][]byte{}, timers: map[string]time.Time{}}}
}

func (r *rig) record(base string, rec records.Record, headers ...stream.Header) {
	r.t.Helper()
	s, _ := r.layout.Spec(base)
	b, err := r.cd.Encode(context.Background(), s.Name, rec)
	if err != nil {
		r.t.Fatal(err)
	}
	if err := r.p.handle(r.part, stream.Message{Topic: s.Name, Key: []byte(rec.Key()), Value: b, Headers: headers, Timestamp: r.part.now}); err != nil {
		r.t.Fatal(err)
	}
}

// act feeds the next activity of instance inst (cart entry key key) of
// user u1.
func (r *rig) act(inst, key string, kind records.ActivityKind, reason, details string) {
	r.t.Helper()
	r.seq[inst]++
	a := records.Activity{ActivityID: fmt.Sprintf("%s-%d", inst, r.seq[inst]), InstanceID: inst, JourneyID: "abandoned-cart", JourneyVersion: 1,
		UserID: "u1", EntryKey: key, StepID: "idle", Kind: kind, Reason: reason, At: r.part.now}
	if details != "" {
		a.Details = records.JSON(details)
	}
	in := AppendInput(nil, &Input{Type: "event", Name: "Product Added", MessageID: "m", Timestamp: r.part.now})
	r.record("activity", a, stream.Header{Key: InputHeader, Value: in})
}

// timelineKeys returns u1's timeline keys, and the entry keys among them
// per instance.
func (r *rig) timelineKeys() (all []string, entries map[string]int) {
	entries = map[string]int{}
	for k := range r.part.state {
		if !strings.HasPrefix(k, "u1\x00\x00") {
			continue
		}
		all = append(all, k)
		if rest, ok := strings.CutPrefix(k, "u1\x00\x00e"); ok {
			inst, _, _ := strings.Cut(rest, "\x00")
			entries[inst]++
		}
	}
	return all, entries
}

func (r *rig) index() tlIndex {
	r.t.Helper()
	var ix tlIndex
	if v, ok := r.part.state[string(timelineIndexKey("u1"))]; ok {
		if err := json.Unmarshal(v, &ix); err != nil {
			r.t.Fatal(err)
		}
	}
	return ix
}

// TestTimelineRetention: an instance keeps at most MaxEntries entries
// (plus up to a quarter less one, pruned at once), a user at most
// MaxInstances instances with the least recent ended one going first
// (its entries and send commands with it), and the expiry timer removes
// ended instances idle for MaxAge; forgetting removes the rest in one
// prefix delete.
func TestTimelineRetention(t *testing.T) {
	r := newRig(t, Retention{MaxEntries: 8, MaxInstances: 2, MaxAge: 48 * time.Hour})

	// Cart c0: entered, then 40 resets of its hold, each an entry.
	r.act("c0", "c0", records.ActivityEntered, "trigger Product Added", "")
	for range 40 {
		r.act("c0", "c0", records.ActivityWaiting, "timer reset by Product Added", "")
	}
	if ix := r.index(); len(ix.Instances) != 1 || ix.Instances[0].InstanceID != "c0" {
		t.Fatalf("index %+v", ix)
	}
	// Entries 1 to 41: pruned at 40 to the last 8, then 41.
	if _, entries := r.timelineKeys(); entries["c0"] != 9 {
		t.Fatalf("c0 keeps %d entries, want 9", entries["c0"])
	}
	for seq := 33; seq <= 41; seq++ {
		if _, ok := r.part.state[string(timelineEntryKey("u1", "c0", seq, 0))]; !ok {
			t.Fatalf("entry %d is not kept", seq)
		}
	}
	if due, ok := r.part.timers[string(timelinePrefix("u1"))]; !ok || !due.Equal(r.part.now.Add(48*time.Hour)) {
		t.Fatalf("expiry timer %v %v", due, ok)
	}

	// Carts c1 and c2 send and end; c3 comes: the least recent ended cart
	// (c1) goes with its send command, the active c0 stays.
	r.act("c1", "c1", records.ActivityEntered, "trigger Product Added", "")
	r.record("send.email", records.SendCommand{CommandID: "cmd-c1", InstanceID: "c1", UserID: "u1", Channel: "email", Payload: records.JSON(`{"items":["B"]}`)})
	r.act("c1", "c1", records.ActivitySent, "email cart-reminder", `{"command_id":"cmd-c1"}`)
	r.act("c1", "c1", records.ActivityExited, "completed", "")
	r.part.now = r.part.now.Add(time.Hour)
	r.act("c2", "c2", records.ActivityEntered, "trigger Product Added", "")
	r.act("c2", "c2", records.ActivityExited, "exit event Order Completed", "")
	keys := func() []string {
		var out []string
		for _, ti := range r.index().Instances {
			out = append(out, ti.EntryKey+":"+ti.Status)
		}
		return out
	}
	if got := strings.Join(keys(), " "); got != "c0:active c2:exited" {
		t.Fatalf("instances kept %q, want c0 active and c2 exited", got)
	}
	all, entries := r.timelineKeys()
	if len(entries) != 2 || slices.ContainsFunc(all, func(k string) bool { return strings.Contains(k, "cmd-c1") }) {
		t.Fatalf("c1 left behind: %q", all)
	}

	// Past MaxAge the timer removes c2 (ended) and keeps c0 (active), and
	// arms itself again.
	r.part.now = r.part.now.Add(72 * time.Hour)
	if err := r.p.handle(r.part, stream.Message{Kind: stream.KindTimer, Key: timelinePrefix("u1")}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(keys(), " "); got != "c0:active" {
		t.Fatalf("after expiry: %q", got)
	}
	if due, ok := r.part.timers[string(timelinePrefix("u1"))]; !ok || !due.After(r.part.now) {
		t.Fatalf("expiry timer not armed again: %v %v", due, ok)
	}

	// Forgetting: nothing of the timeline is left, nor its timer.
	r.part.state["u1\x00journey-state"] = []byte("kept")
	if err := r.p.forget(r.part, "u1"); err != nil {
		t.Fatal(err)
	}
	if all, _ := r.timelineKeys(); len(all) != 0 {
		t.Fatalf("after forgetting: %q", all)
	}
	if _, ok := r.part.timers[string(timelinePrefix("u1"))]; ok {
		t.Fatal("expiry timer left after forgetting")
	}
	if _, ok := r.part.state["u1\x00journey-state"]; !ok {
		t.Fatal("forgetting the timeline removed a key outside it")
	}
}

// TestTimelineSendsAndReceipts: a "sent" entry is shown with its send
// command whichever of the two came first; a receipt of it is an entry
// after the instance's newest, or right after the "sent" entry when it
// came first; a receipt whose send never comes waits until the
// retention; only the newest keptCmds send commands are kept.
func TestTimelineSendsAndReceipts(t *testing.T) {
	r := newRig(t, Retention{})
	r.act("c0", "c0", records.ActivityEntered, "trigger Product Added", "")
	// The activity first, then the command.
	r.act("c0", "c0", records.ActivitySent, "email cart-reminder", `{"command_id":"cmd-1"}`)
	r.record("send.email", records.SendCommand{CommandID: "cmd-1", InstanceID: "c0", UserID: "u1", Channel: "email", TemplateID: "cart-reminder", Payload: records.JSON(`{"items":["A"]}`)})
	// The command first, then the activity.
	r.record("send.email", records.SendCommand{CommandID: "cmd-2", InstanceID: "c0", UserID: "u1", Channel: "email", Payload: records.JSON(`{"items":["B"]}`)})
	r.act("c0", "c0", records.ActivitySent, "email cart-reminder", `{"command_id":"cmd-2"}`)
	r.record("receipts", records.Receipt{ReceiptID: "r1", CommandID: "cmd-1", UserID: "u1", Channel: "email", Status: records.ReceiptDelivered, OccurredAt: r.part.now})
	r.record("receipts", records.Receipt{ReceiptID: "r2", CommandID: "nobody's", UserID: "u1", Channel: "email", Status: records.ReceiptDelivered})

	tl := r.query("c0")
	if len(tl.Entries) != 4 {
		t.Fatalf("entries %+v", tl.Entries)
	}
	for i, want := range []string{`{"items":["A"]}`, `{"items":["B"]}`} {
		if en := tl.Entries[i+1]; en.Kind != "sent" || en.Send == nil || string(en.Send.Payload) != want || en.Input == nil || en.Input.Name != "Product Added" {
			t.Errorf("sent entry %d: %+v send %+v", i, en, en.Send)
		}
	}
	if last := tl.Entries[3]; last.Kind != "receipt" || last.Seq != 3 || last.Sub != 1 || last.Receipt == nil || last.Receipt.ReceiptID != "r1" {
		t.Errorf("receipt entry %+v", last)
	}

	// A receipt read before the activity of its send (the processor reads
	// the topics independently) is placed right after that activity's
	// entry once it comes.
	r.record("receipts", records.Receipt{ReceiptID: "r3", CommandID: "cmd-3", UserID: "u1", Channel: "email", Status: records.ReceiptDelivered, OccurredAt: r.part.now})
	r.record("send.email", records.SendCommand{CommandID: "cmd-3", InstanceID: "c0", UserID: "u1", Channel: "email"})
	r.act("c0", "c0", records.ActivitySent, "email cart-reminder", `{"command_id":"cmd-3"}`)
	tl = r.query("c0")
	if n := len(tl.Entries); n != 6 || tl.Entries[4].Kind != "sent" || tl.Entries[5].Kind != "receipt" || tl.Entries[5].Seq != tl.Entries[4].Seq || tl.Entries[5].Sub != 1 || tl.Entries[5].Receipt.ReceiptID != "r3" {
		t.Fatalf("early receipt not placed after its send: %+v", tl.Entries)
	}
	if all, _ := r.timelineKeys(); slices.ContainsFunc(all, func(k string) bool { return strings.HasPrefix(k, "u1\x00\x00rcmd-3") }) {
		t.Fatalf("placed receipt still waiting: %q", all)
	}
	// One whose send never comes waits until the expiry timer, which
	// takes it after the retention.
	r.part.now = r.part.now.Add(24 * time.Hour)
	r.record("receipts", records.Receipt{ReceiptID: "r4", CommandID: "cmd-never", UserID: "u1", Channel: "email", Status: records.ReceiptDelivered, OccurredAt: r.part.now})
	waiting := func() int {
		all, _ := r.timelineKeys()
		return len(slices.DeleteFunc(all, func(k string) bool { return !strings.HasPrefix(k, "u1\x00\x00r") }))
	}
	if waiting() != 2 { // r2 of "nobody's" above, and r4
		t.Fatal("receipts of unknown sends not kept waiting")
	}
	r.part.now = r.part.now.Add(31 * 24 * time.Hour)
	if err := r.p.handle(r.part, stream.Message{Kind: stream.KindTimer, Key: timelinePrefix("u1")}); err != nil {
		t.Fatal(err)
	}
	if waiting() != 0 {
		t.Fatal("receipts of unknown sends kept past the retention")
	}

	// A looping instance keeps the newest keptCmds commands.
	for i := range keptCmds + 4 {
		cmd := fmt.Sprintf("loop-%d", i)
		r.record("send.email", records.SendCommand{CommandID: cmd, InstanceID: "c0", UserID: "u1", Channel: "email"})
		r.act("c0", "c0", records.ActivitySent, "email x", `{"command_id":"`+cmd+`"}`)
	}
	all, _ := r.timelineKeys()
	if n := len(slices.DeleteFunc(all, func(k string) bool { return !strings.HasPrefix(k, "u1\x00\x00c") })); n != keptCmds {
		t.Errorf("%d send commands kept, want %d", n, keptCmds)
	}
}

// query answers GET /v1/users/u1/instances/{inst} from the fake
// partition's state.
func (r *rig) query(inst string) InstanceTimeline {
	r.t.Helper()
	var tl InstanceTimeline
	err := r.p.serveInstance("u1", inst, 0, fakeView{r.part}, &tl)
	if err != nil {
		r.t.Fatal(err)
	}
	return tl
}

type fakeView struct{ f *fakePartition }

func (v fakeView) Get(key []byte) ([]byte, bool, error) { return v.f.Get(key) }
func (v fakeView) Range(start, end []byte, fn func(key, value []byte) bool) error {
	return v.f.Range(start, end, fn)
}

// TestTimelineUnreadableIndex: a corrupt timeline index costs the user's
// timeline, never the record: the timeline starts again.
func TestTimelineUnreadableIndex(t *testing.T) {
	r := newRig(t, Retention{})
	r.part.state[string(timelineIndexKey("u1"))] = []byte("{not json")
	r.part.state[string(timelineEntryKey("u1", "old", 1, 0))] = []byte("{}")
	r.act("c0", "c0", records.ActivityEntered, "trigger Product Added", "")
	if ix := r.index(); len(ix.Instances) != 1 || ix.Instances[0].EntryKey != "c0" {
		t.Fatalf("index %+v", ix)
	}
	if _, ok := r.part.state[string(timelineEntryKey("u1", "old", 1, 0))]; ok {
		t.Fatal("entries of the unreadable index left behind")
	}
}

// TestInputHeader: the engine's header decodes to the input, whatever
// its strings hold; a bad one is no input.
func TestInputHeader(t *testing.T) {
	at := time.Date(2026, 3, 2, 10, 0, 0, 123456789, time.UTC)
	want := Input{Type: "event", Name: "quote \" nul \x00 é", MessageID: "m\u2028", Timestamp: at}
	got := inputOf([]stream.Header{{Key: "other"}, {Key: InputHeader, Value: AppendInput(nil, &want)}})
	if got == nil || *got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if inputOf([]stream.Header{{Key: InputHeader, Value: []byte("{")}}) != nil || inputOf(nil) != nil {
		t.Fatal("a bad or missing header read as an input")
	}
}

// TestAppendEntry: the hand-written encoding of an entry decodes to the
// entry, whatever its strings hold.
func TestAppendEntry(t *testing.T) {
	at := time.Date(2026, 3, 2, 10, 0, 0, 123456789, time.FixedZone("x", 3600))
	for _, en := range []Entry{
		{Seq: 1, At: at, Kind: "entered"},
		{Seq: 7, Sub: 2, At: at, Kind: "receipt", Step: "remind", Reason: "quote \" backslash \\ newline \n tab \t nul \x00 bell \x07 é 日本 <&> invalid \xff\xfe end",
			Details: json.RawMessage(`{"until":"2026-03-02T11:00:00Z","n":[1,2]}`), ActivityID: "a-7", SpanID: "0102",
			Input:   &Input{Type: "event", Name: "Product Added", MessageID: "m\u2028", Timestamp: at},
			Send:    &Send{CommandID: "c/1", Channel: "email", Template: "t", Recipient: "a@b", Locale: "fr", Payload: json.RawMessage(`{"items":["B","C"]}`), Deadline: at},
			Receipt: &Receipt{ReceiptID: "r", CommandID: "c/1", Channel: "email", Status: "replied", ReplyText: "merci\r\n", FailureReason: "x", OccurredAt: at}},
		{Seq: 3, At: at, Kind: "waiting", Input: &Input{Type: "timer"}, Send: &Send{CommandID: "c"}, Receipt: &Receipt{ReceiptID: "r", Status: "opened"}},
	} {
		b := appendEntry(nil, &en)
		var got Entry
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		want, _ := json.Marshal(en) // what encoding/json makes of it, decoded the same way
		var viaJSON Entry
		if err := json.Unmarshal(want, &viaJSON); err != nil {
			t.Fatal(err)
		}
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(viaJSON)
		if string(g) != string(w) {
			t.Errorf("appendEntry decodes to\n%s\nencoding/json to\n%s", g, w)
		}
	}
}
