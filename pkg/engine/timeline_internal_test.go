package engine

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/beckon-dev/beckon/pkg/stream"
	"github.com/beckon-dev/beckon/pkg/timeline"
)

// timelineKeys returns u1's timeline keys in the fake store, and the
// entry keys among them per instance.
func timelineKeys(r *seamRig) (all []string, entries map[string]int) {
	entries = map[string]int{}
	for k := range r.p.state {
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

func (r *seamRig) timelineIndex() tlIndex {
	r.t.Helper()
	var ix tlIndex
	if v, ok := r.p.state[string(timelineIndexKey("u1"))]; ok {
		if err := json.Unmarshal(v, &ix); err != nil {
			r.t.Fatal(err)
		}
	}
	return ix
}

// TestTimelineRetention: an instance keeps at most MaxEntries entries
// (plus up to a quarter less one, pruned at once), a user at most MaxInstances
// instances with the least recent ended one going first, and the expiry
// timer removes ended instances idle for MaxAge; forgetting removes the
// rest in one prefix delete.
func TestTimelineRetention(t *testing.T) {
	r := newSeamRig(t, holdCartJourney)
	r.e.cfg.Timeline = TimelineConfig{MaxEntries: 8, MaxInstances: 2, MaxAge: 48 * time.Hour}

	// Cart c0: 40 resets of its hold, each an entry.
	for i := range 40 {
		r.mustHandle(r.event(fmt.Sprintf("a%d", i), "Product Added", `{"cart_id":"c0","sku":"A"}`))
	}
	ix := r.timelineIndex()
	if len(ix.Instances) != 1 {
		t.Fatalf("index %+v", ix)
	}
	c0 := ix.Instances[0]
	_, entries := timelineKeys(r)
	// Entries 1 (entered), 2 (waiting) and 3 to 41 (each reset): pruned
	// at 40 to the last 8, then 41.
	if n := entries[c0.InstanceID]; n != 9 {
		t.Fatalf("c0 keeps %d entries, want 9", n)
	}
	for seq := 33; seq <= 41; seq++ {
		if _, ok := r.p.state[string(timelineEntryKey("u1", c0.InstanceID, seq, 0))]; !ok {
			t.Fatalf("entry %d is not kept", seq)
		}
	}
	if due, ok := r.p.timers[string(timerKey("u1", timelineWake))]; !ok || !due.Equal(r.p.now.Add(48*time.Hour)) {
		t.Fatalf("expiry timer %v %v", due, ok)
	}

	// Carts c1 and c2 end; c3 comes: the least recent ended cart (c1)
	// goes, the active c0 stays.
	r.mustHandle(r.event("b1", "Product Added", `{"cart_id":"c1","sku":"B"}`))
	r.mustHandle(r.event("b2", "Order Completed", `{"cart_id":"c1"}`))
	r.p.now = r.p.now.Add(time.Hour)
	r.mustHandle(r.event("b3", "Product Added", `{"cart_id":"c2","sku":"B"}`))
	r.mustHandle(r.event("b4", "Order Completed", `{"cart_id":"c2"}`))
	keys := func() []string {
		var out []string
		for _, ti := range r.timelineIndex().Instances {
			out = append(out, ti.EntryKey+":"+ti.Status)
		}
		return out
	}
	if got := strings.Join(keys(), " "); got != "c0:active c2:exited" {
		t.Fatalf("instances kept %q, want c0 active and c2 exited", got)
	}
	_, entries = timelineKeys(r)
	if len(entries) != 2 {
		t.Fatalf("entries of %d instances kept, want 2: %v", len(entries), entries)
	}

	// Past MaxAge the timer removes c2 (ended) and keeps c0 (active), and
	// arms itself again.
	r.p.now = r.p.now.Add(72 * time.Hour)
	r.mustHandle(stream.Message{Kind: stream.KindTimer, Key: timerKey("u1", timelineWake)})
	if got := strings.Join(keys(), " "); got != "c0:active" {
		t.Fatalf("after expiry: %q", got)
	}
	if due, ok := r.p.timers[string(timerKey("u1", timelineWake))]; !ok || !due.After(r.p.now) {
		t.Fatalf("expiry timer not armed again: %v %v", due, ok)
	}

	// Forgetting: nothing of the timeline is left, nor its timer; the
	// journey state is another matter (issue 12's forget).
	if err := r.e.forgetTimeline(r.p, "u1"); err != nil {
		t.Fatal(err)
	}
	if all, _ := timelineKeys(r); len(all) != 0 {
		t.Fatalf("after forgetting: %q", all)
	}
	if _, ok := r.p.timers[string(timerKey("u1", timelineWake))]; ok {
		t.Fatal("expiry timer left after forgetting")
	}
	if _, ok := r.p.state["u1"]; !ok {
		t.Fatal("forgetting the timeline removed journey state")
	}
}

// TestTimelineUnreadableIndex: a corrupt timeline index costs the user's
// timeline, never the input: the event is applied and the timeline
// starts again.
func TestTimelineUnreadableIndex(t *testing.T) {
	r := newSeamRig(t, holdCartJourney)
	r.p.state[string(timelineIndexKey("u1"))] = []byte("{not json")
	r.p.state[string(timelineEntryKey("u1", "old", 1, 0))] = []byte("{}")
	r.mustHandle(r.event("m1", "Product Added", `{"cart_id":"c0","sku":"A"}`))
	if len(r.activities()) == 0 {
		t.Fatal("the event was not applied")
	}
	ix := r.timelineIndex()
	if len(ix.Instances) != 1 || ix.Instances[0].EntryKey != "c0" {
		t.Fatalf("index %+v", ix)
	}
	if _, ok := r.p.state[string(timelineEntryKey("u1", "old", 1, 0))]; ok {
		t.Fatal("entries of the unreadable index left behind")
	}
}

// BenchmarkTimelineHoldReset is an event that resets a cart's hold, with
// and without the timeline: what the timeline costs the engine per event
// that moves an instance (fake partition: no store, no Kafka).
func BenchmarkTimelineHoldReset(b *testing.B) {
	for _, off := range []bool{true, false} {
		b.Run(fmt.Sprintf("off=%v", off), func(b *testing.B) {
			r := newSeamRig(&testing.T{}, holdCartJourney)
			r.e.cfg.Timeline.Off = off
			msgs := make([]stream.Message, b.N) // unique: a repeated message ID is a duplicate
			for i := range msgs {
				msgs[i] = r.event(fmt.Sprintf("m%d", i), "Product Added", `{"cart_id":"c0","sku":"A"}`)
			}
			b.ResetTimer()
			for i := range b.N {
				r.p.sets, r.p.gets = r.p.sets[:0], r.p.gets[:0]
				if err := r.e.handle(r.p, msgs[i]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestAppendEntry: the hand-written encoding of an entry decodes to the
// entry, whatever its strings hold.
func TestAppendEntry(t *testing.T) {
	at := time.Date(2026, 3, 2, 10, 0, 0, 123456789, time.FixedZone("x", 3600))
	for _, en := range []timeline.Entry{
		{Seq: 1, At: at, Kind: "entered"},
		{Seq: 7, Sub: 2, At: at, Kind: "receipt", Step: "remind", Reason: "quote \" backslash \\ newline \n tab \t nul \x00 bell \x07 é 日本 <&> invalid \xff\xfe end",
			Details: json.RawMessage(`{"until":"2026-03-02T11:00:00Z","n":[1,2]}`), ActivityID: "a-7", SpanID: "0102",
			Input:   &timeline.Input{Type: "event", Name: "Product Added", MessageID: "m\u2028", Timestamp: at},
			Send:    &timeline.Send{CommandID: "c/1", Channel: "email", Template: "t", Recipient: "a@b", Locale: "fr", Payload: json.RawMessage(`{"items":["B","C"]}`), Deadline: at},
			Receipt: &timeline.Receipt{ReceiptID: "r", CommandID: "c/1", Channel: "email", Status: "replied", ReplyText: "merci\r\n", FailureReason: "x", OccurredAt: at}},
		{Seq: 3, At: at, Kind: "waiting", Input: &timeline.Input{Type: "timer"}, Send: &timeline.Send{CommandID: "c"}, Receipt: &timeline.Receipt{ReceiptID: "r", Status: "opened"}},
	} {
		b := appendEntry(nil, &en)
		var got timeline.Entry
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		want, _ := json.Marshal(en) // what encoding/json makes of it, decoded the same way
		var viaJSON timeline.Entry
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
