package journey

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/beckon-dev/beckon/pkg/records"
)

// A scenario drives one user through journeys in virtual time, the way the
// engine does: events and receipts at given times, and instance wake-ups
// whenever virtual time passes a timer that Apply's timer effects armed
// (and did not cancel), as the engine's timer index would fire them.

type testCatalog struct {
	live     []*Journey
	versions map[string]*Journey
	states   map[string]records.JourneyState
}

func (c *testCatalog) Current() []*Journey {
	var out []*Journey
	for _, j := range c.live {
		if st := c.State(j.Def.ID); st == records.JourneyLive || st == records.JourneyPaused {
			out = append(out, j)
		}
	}
	return out
}

func (c *testCatalog) Version(id string, v int32) *Journey {
	return c.versions[fmt.Sprintf("%s/%d", id, v)]
}

func (c *testCatalog) State(id string) records.JourneyState {
	if s, ok := c.states[id]; ok {
		return s
	}
	return records.JourneyLive
}

type scenario struct {
	t   *testing.T
	cat *testCatalog
	env *Snapshot
	u   *User
	now time.Time
	seq int
	// timers are the armed wake-ups by instance, as the timer effects
	// left them.
	timers map[string]time.Time
	// everything emitted so far
	sends      []records.SendCommand
	activities []records.Activity
	handoffs   []records.Handoff
}

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC) // a Monday

func newScenario(t *testing.T, defs ...string) *scenario {
	t.Helper()
	s := &scenario{
		t:      t,
		cat:    &testCatalog{versions: map[string]*Journey{}, states: map[string]records.JourneyState{}},
		u:      &User{ID: "u1"},
		now:    t0,
		timers: map[string]time.Time{},
	}
	for _, d := range defs {
		s.publish(d, 1)
	}
	s.env = &Snapshot{Catalog: s.cat, Profile: &records.Profile{
		UserID:    "u1",
		Traits:    records.JSON(`{"first_name":"Ada","tier":"gold"}`),
		Addresses: records.Addresses{Email: "ada@example.com", Phone: "+4915112345678", WhatsApp: "+4915112345678"},
		Locale:    "de-DE",
		Consent: map[string]records.Consent{
			"email": {Status: records.ConsentSubscribed}, "sms": {Status: records.ConsentSubscribed},
			"whatsapp": {Status: records.ConsentSubscribed}, "push": {Status: records.ConsentUnsubscribed},
		},
	}}
	return s
}

// publish compiles a definition as version v and makes it the live one.
func (s *scenario) publish(yaml string, v int32) *Journey {
	s.t.Helper()
	def, err := Parse([]byte(yaml))
	if err != nil {
		s.t.Fatalf("parse: %v", err)
	}
	j, err := Compile(def, v, DefaultChannels)
	if err != nil {
		s.t.Fatalf("compile: %v", err)
	}
	s.cat.versions[fmt.Sprintf("%s/%d", def.ID, v)] = j
	s.cat.live = slices.DeleteFunc(s.cat.live, func(x *Journey) bool { return x.Def.ID == def.ID })
	s.cat.live = append(s.cat.live, j)
	return j
}

// at moves virtual time to t, firing due timers on the way, in order.
func (s *scenario) at(t time.Time) {
	s.t.Helper()
	for {
		next, due := "", time.Time{}
		for id, at := range s.timers {
			if !at.After(t) && (next == "" || at.Before(due) || at.Equal(due) && id < next) {
				next, due = id, at
			}
		}
		if next == "" {
			break
		}
		if due.After(s.now) {
			s.now = due
		}
		delete(s.timers, next) // a timer fires once
		s.apply(Input{Wake: next})
	}
	if t.After(s.now) {
		s.now = t
	}
}

// after moves virtual time forward by d.
func (s *scenario) after(d time.Duration) { s.at(s.now.Add(d)) }

func (s *scenario) apply(in Input) Effects {
	s.t.Helper()
	before, _ := json.Marshal(s.u)
	fx, err := Apply(s.u, in, s.env, s.now)
	if err != nil {
		s.t.Fatalf("apply: %v", err)
	}
	// Determinism: the same input on the same state gives the same result.
	var again User
	if err := json.Unmarshal(before, &again); err != nil {
		s.t.Fatal(err)
	}
	fx2, err := Apply(&again, in, s.env, s.now)
	if err != nil {
		s.t.Fatalf("apply again: %v", err)
	}
	a, _ := json.Marshal(fx)
	b, _ := json.Marshal(fx2)
	if string(a) != string(b) {
		s.t.Fatalf("Apply is not deterministic:\n%s\n%s", a, b)
	}
	s.checkTouches(before, in, fx)
	s.sends = append(s.sends, fx.Sends...)
	s.activities = append(s.activities, fx.Activities...)
	s.handoffs = append(s.handoffs, fx.Handoffs...)
	for _, tm := range fx.Timers {
		if tm.At.IsZero() {
			delete(s.timers, tm.Instance)
		} else {
			s.timers[tm.Instance] = tm.At
		}
	}
	return fx
}

// checkTouches applies in again to the user as it was (before), with
// every instance Touches says the input does not touch replaced by its
// stub, as the engine loads it: the effects and the resulting user must
// be the same, and the untouched instances unchanged.
func (s *scenario) checkTouches(before []byte, in Input, fx Effects) {
	s.t.Helper()
	var u User
	if err := json.Unmarshal(before, &u); err != nil {
		s.t.Fatal(err)
	}
	untouched := map[string][]byte{}
	for i, t := range Touches(&u, in, s.env) {
		if inst := u.Instances[i]; !t {
			untouched[inst.ID], _ = json.Marshal(inst)
			u.Instances[i] = &Instance{ID: inst.ID, Journey: inst.Journey, Version: inst.Version, EntryKey: inst.EntryKey, Step: inst.Step, stub: true}
		}
	}
	fx3, err := Apply(&u, in, s.env, s.now)
	if err != nil {
		s.t.Fatalf("apply with stubs: %v", err)
	}
	a, _ := json.Marshal(fx)
	b, _ := json.Marshal(fx3)
	if string(a) != string(b) {
		s.t.Fatalf("Apply with untouched instances as stubs has other effects:\n%s\n%s", a, b)
	}
	for i, inst := range u.Instances {
		if inst.stub {
			var orig Instance
			_ = json.Unmarshal(untouched[inst.ID], &orig)
			u.Instances[i] = &orig
		}
	}
	for _, inst := range s.u.Instances {
		if was, ok := untouched[inst.ID]; ok {
			if now, _ := json.Marshal(inst); string(now) != string(was) {
				s.t.Fatalf("instance %s changed though Touches said the input does not touch it:\n%s\n%s", inst.ID, was, now)
			}
		}
	}
	got, _ := json.Marshal(&u)
	want, _ := json.Marshal(s.u)
	if string(got) != string(want) {
		s.t.Fatalf("Apply with stubs left another user:\n%s\n%s", got, want)
	}
}

// event delivers an event now; props is a JSON object.
func (s *scenario) event(name, props string) Effects {
	s.t.Helper()
	s.seq++
	return s.apply(Input{Event: &records.Event{
		MessageID: fmt.Sprintf("m%d", s.seq), Type: records.EventTrack, Name: name, UserID: s.u.ID,
		Timestamp: s.now, Properties: records.JSON(props), SessionID: "s1",
	}, TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "00f067aa0ba902b7"})
}

func (s *scenario) receipt(commandID string, status records.ReceiptStatus, text string) Effects {
	s.t.Helper()
	s.seq++
	return s.apply(Input{Receipt: &records.Receipt{
		ReceiptID: fmt.Sprintf("r%d", s.seq), CommandID: commandID, UserID: s.u.ID, Status: status, ReplyText: text, OccurredAt: s.now,
	}})
}

// running returns the user's running instances of journey.
func (s *scenario) running(journey string) []*Instance {
	var out []*Instance
	for _, inst := range s.u.Instances {
		if inst.Journey == journey {
			out = append(out, inst)
		}
	}
	return out
}

// wantSends checks the sends so far, as "channel template @offset" lines.
func (s *scenario) wantSends(want ...string) {
	s.t.Helper()
	var got []string
	for _, c := range s.sends {
		got = append(got, fmt.Sprintf("%s %s @%s", c.Channel, c.TemplateID, c.CreatedAt.Sub(t0)))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		s.t.Fatalf("sends:\n%s\nwant:\n%s\nactivity:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), s.activityLog())
	}
}

// activityLog renders the activity so far, for failure messages.
func (s *scenario) activityLog() string {
	var b strings.Builder
	for _, a := range s.activities {
		fmt.Fprintf(&b, "  %s %s %s/%s %s: %s\n", a.At.Sub(t0), a.JourneyID, a.InstanceID, a.StepID, a.Kind, a.Reason)
	}
	return b.String()
}

// hasActivity reports whether an activity of kind with reason containing
// text was recorded.
func (s *scenario) hasActivity(kind records.ActivityKind, text string) bool {
	for _, a := range s.activities {
		if a.Kind == kind && strings.Contains(a.Reason, text) {
			return true
		}
	}
	return false
}

func (s *scenario) wantActivity(kind records.ActivityKind, text string) {
	s.t.Helper()
	if !s.hasActivity(kind, text) {
		s.t.Fatalf("no %s activity with %q; activity:\n%s", kind, text, s.activityLog())
	}
}
