package journey

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/beckon-dev/beckon/pkg/records"
)

func sampleUser() *User {
	at := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	return &User{
		ID: "u1",
		Instances: []*Instance{{
			ID: "abc", Journey: "abandoned-cart", Version: 3, EntryKey: "c1", Step: "idle",
			EnteredAt: at, StepAt: at.Add(time.Minute), WakeAt: at.Add(time.Hour), Resets: 2,
			Trigger: TriggerEvent{Name: "Product Added", MessageID: "m1", Timestamp: at, SessionID: "s1", Properties: json.RawMessage(`{"sku":"A"}`)},
			Items:   []Item{{Key: "A", Value: json.RawMessage(`{"price":19.9}`), Quantity: 2}, {Key: "B", Quantity: 1}},
			Vars:    map[string]any{"last_step": "income", "n": 2.0},
			Sends:   []SentMessage{{Step: "remind", CommandID: "abc/remind/1", Channel: "email", Template: "t", At: at, Status: "opened"}},
			Replies: []records.ConversationMessage{{Direction: records.Inbound, Text: "price?", At: at, CommandID: "abc/remind/1"}},
			Receipt: &ReceiptSeen{CommandID: "abc/remind/1", Status: "replied", Text: "price?", At: at},
			Held:    "quiet_hours", Due: at.Add(-time.Hour), Seq: 7, TimerAt: at.Add(30 * time.Minute), TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "00f067aa0ba902b7",
		}, {ID: InstanceID("welcome", "u1", "", 1, "m1"), Journey: "welcome", Step: "hello", EnteredAt: at, StepAt: at, WakeAt: at.Add(-24 * time.Hour)}},
		Entries:      map[string]*EntryLog{"abandoned-cart": {Count: 3, Last: at, Sessions: []string{"s1"}}},
		Sends:        []SendLog{{Channel: "email", At: at}},
		Unsubscribed: []string{"sms"},
		Rate:         RateWindow{Start: at, Count: 4},
	}
}

func TestUserBinaryRoundTrip(t *testing.T) {
	u := sampleUser()
	b, err := u.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var got User
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&got, u) {
		a, _ := json.Marshal(u)
		g, _ := json.Marshal(&got)
		t.Fatalf("round trip:\n%s\n%s", a, g)
	}
	// State written before format 2 still reads.
	old, err := u.marshal(true)
	if err != nil {
		t.Fatal(err)
	}
	var fromV1 User
	v1 := *u // format 1 did not keep TimerAt
	v1.Instances = []*Instance{ptr(*u.Instances[0]), ptr(*u.Instances[1])}
	v1.Instances[0].TimerAt = time.Time{}
	if err := fromV1.UnmarshalBinary(old); err != nil || !reflect.DeepEqual(&fromV1, &v1) {
		t.Fatalf("format 1: %v", err)
	}
	if len(b) >= len(old) {
		t.Errorf("format 2 is %d bytes, format 1 %d", len(b), len(old))
	}
	j, _ := json.Marshal(u)
	if len(b) >= len(j)*2/3 {
		t.Errorf("binary %d bytes, JSON %d: expected well under two thirds", len(b), len(j))
	}
	for i := range b { // every truncation is an error, never a panic
		if err := new(User).UnmarshalBinary(b[:i]); err == nil {
			t.Fatalf("truncated to %d of %d bytes: no error", i, len(b))
		}
	}
}

func FuzzUserUnmarshalBinary(f *testing.F) {
	b, _ := sampleUser().MarshalBinary()
	f.Add(b)
	f.Add([]byte{userFormatV1, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, data []byte) {
		var u User
		if err := u.UnmarshalBinary(data); err != nil {
			return
		}
		again, err := u.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var v User
		if err := v.UnmarshalBinary(again); err != nil {
			t.Fatalf("re-encoding does not decode: %v", err)
		}
	})
}

func ptr[T any](v T) *T { return &v }

// The split form (a head and one record per instance) holds the same user
// as the whole form, and every truncation of either record is an error.
func TestUserSplitRoundTrip(t *testing.T) {
	u := sampleUser()
	head, err := u.MarshalHead()
	if err != nil {
		t.Fatal(err)
	}
	if !IsHead(head) {
		t.Fatal("MarshalHead wrote no head")
	}
	var got User
	ids, err := got.UnmarshalHead(head)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != len(u.Instances) {
		t.Fatalf("head lists %d instances, want %d", len(ids), len(u.Instances))
	}
	for i, id := range ids {
		if id != u.Instances[i].ID {
			t.Fatalf("instance %d: ID %q, want %q", i, id, u.Instances[i].ID)
		}
		b, err := MarshalInstance(u.Instances[i])
		if err != nil {
			t.Fatal(err)
		}
		packed := PackInstance(b)
		inst, raw, err := UnmarshalInstance(packed)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(raw, b) {
			t.Fatal("a packed instance unpacks to other bytes than MarshalInstance wrote")
		}
		unpacked, _, err := UnmarshalInstance(b)
		if err != nil || !reflect.DeepEqual(unpacked, inst) {
			t.Fatalf("the unpacked form reads differently: %v", err)
		}
		got.Instances = append(got.Instances, inst)
		for _, rec := range [][]byte{b, packed} {
			for n := range rec {
				if _, _, err := UnmarshalInstance(rec[:n]); err == nil {
					t.Fatalf("instance record (format %d) truncated to %d of %d bytes: no error", rec[0], n, len(rec))
				}
			}
			if n, err := StateInstances(rec); n != 1 || err != nil {
				t.Fatalf("StateInstances(instance) = %d, %v", n, err)
			}
		}
	}
	if !reflect.DeepEqual(&got, u) {
		a, _ := json.Marshal(u)
		g, _ := json.Marshal(&got)
		t.Fatalf("split round trip:\n%s\n%s", a, g)
	}
	for n := range head {
		if _, err := new(User).UnmarshalHead(head[:n]); err == nil {
			t.Fatalf("head truncated to %d of %d bytes: no error", n, len(head))
		}
	}
	whole, _ := u.MarshalBinary()
	if IsHead(whole) {
		t.Fatal("a whole user taken for a head")
	}
	if n, err := StateInstances(whole); n != 2 || err != nil {
		t.Fatalf("StateInstances(whole) = %d, %v", n, err)
	}
	if n, err := StateInstances(head); n != 0 || err != nil {
		t.Fatalf("StateInstances(head) = %d, %v", n, err)
	}
}

// A head of format 6 summarises its instances (stubs that Touches can
// judge); a head of format 3, written before, still reads, with no stubs
// (every instance is then read).
func TestHeadStubsAndFormat3(t *testing.T) {
	u := sampleUser()
	head, err := u.MarshalHead()
	if err != nil {
		t.Fatal(err)
	}
	var got User
	ids, stubs, err := got.UnmarshalHeadStubs(head)
	if err != nil || len(ids) != len(u.Instances) || len(stubs) != len(u.Instances) {
		t.Fatalf("format 6: %d IDs, %d stubs, %v", len(ids), len(stubs), err)
	}
	for i, s := range stubs {
		w := u.Instances[i]
		want := &Instance{ID: w.ID, Journey: w.Journey, Version: w.Version, EntryKey: w.EntryKey, Step: w.Step, stub: true}
		if !reflect.DeepEqual(s, want) || !s.Stub() || ids[i] != w.ID {
			t.Errorf("stub %d: %+v, want %+v", i, s, want)
		}
		if _, err := MarshalInstance(s); err == nil {
			t.Errorf("stub %d encoded as if it were the instance", i)
		}
	}
	// The same user's head as format 3 wrote it: IDs only.
	e := &binWriter{}
	e.b = append(e.b, headFormat)
	e.str(u.ID)
	e.uint(uint64(len(u.Instances)))
	for _, inst := range u.Instances {
		e.id(inst.ID)
	}
	e.history(u)
	var old User
	ids3, stubs3, err := old.UnmarshalHeadStubs(e.b)
	if err != nil || !reflect.DeepEqual(ids3, ids) || stubs3 != nil || !IsHead(e.b) {
		t.Fatalf("format 3: IDs %q, stubs %v, %v", ids3, stubs3, err)
	}
	got.Instances = nil
	if !reflect.DeepEqual(&old, &got) {
		t.Fatal("format 3 and 6 heads hold different users")
	}
	if n, err := StateInstances(e.b); n != 0 || err != nil {
		t.Fatalf("StateInstances(format 3 head) = %d, %v", n, err)
	}
	// HeadJourneys reads the journeys of format 6 and says format 3 has none.
	var journeys []string
	if listed, err := HeadJourneys(head, func(j string) { journeys = append(journeys, j) }); !listed || err != nil || len(journeys) != len(u.Instances) {
		t.Fatalf("HeadJourneys(format 6) = %v, %v, journeys %q", listed, err, journeys)
	}
	for i, j := range journeys {
		if j != u.Instances[i].Journey {
			t.Errorf("HeadJourneys: instance %d in %q, want %q", i, j, u.Instances[i].Journey)
		}
	}
	if listed, err := HeadJourneys(e.b, func(string) { t.Fatal("a format 3 head has no journeys") }); listed || err != nil {
		t.Fatalf("HeadJourneys(format 3) = %v, %v", listed, err)
	}
	if _, err := HeadJourneys(head[:len(head)/2], func(string) {}); err == nil {
		t.Fatal("HeadJourneys of a cut head: no error")
	}
}
