package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beckon-dev/beckon/pkg/journey"
	"github.com/beckon-dev/beckon/pkg/kafkatest"
	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/pkg/topics"
)

// The example journeys of examples/journeys, each run through the real
// engine on the test broker with a virtual clock: the YAML file as
// published, profiles and events in, send commands, hand-offs and activity
// out.

// examplesDir is examples/journeys, from this package.
const examplesDir = "../../examples/journeys"

// TestExampleJourneysCompile: every example parses and compiles against
// the built-in channels, and its id is its file name.
func TestExampleJourneysCompile(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(examplesDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"abandoned-cart", "credit-card-application", "lapsed-user", "onboarding", "proactive-welcome", "whatsapp-two-way"}
	var ids []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		def, err := journey.Parse(b)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if _, err := journey.Compile(def, 1, journey.DefaultChannels); err != nil {
			t.Errorf("%s: %v", f, err)
		}
		if name := strings.TrimSuffix(filepath.Base(f), ".yaml"); def.ID != name {
			t.Errorf("%s: id %q, want the file name %q", f, def.ID, name)
		}
		ids = append(ids, def.ID)
	}
	if !slices.Equal(ids, want) {
		t.Errorf("examples %v, want %v", ids, want)
	}
}

// probeJourney gives the tests a barrier: a Test Probe event of a user
// enters and ends it at once, recording an entered activity. The engine
// processes a partition's records in order and fires the timers due at
// the clock read at the start of each transaction after its records, so
// once a probe produced after the clock moved is seen, everything that
// was due by then for that user has been processed and committed.
//
// Its exit says whether the user's profile was there: the engine reads
// the profiles table as an input beside the events, and a profile fetched
// together with an event may be applied after it, so the examples wait
// for every profile before they produce events.
const probeJourney = `
id: test-probe
trigger: {event: Test Probe}
steps:
  - id: profile-loaded
    branch:
      cases:
        - {when: has(profile.user_id), next: with-profile}
  - id: without-profile
    exit: {reason: probe without profile}
  - id: with-profile
    exit: {reason: probe with profile}
`

// example is an engine running one example journey, with virtual time
// measured from the harness's start (Monday 2 March 2026, 10:00 UTC).
type example struct {
	*harness
	journey string
	users   []string
	t0      time.Time
	tap     *tap
	probes  map[string]int
	msgs    int
}

// customer is a profile reachable and subscribed on every built-in
// channel, in time zone tz ("" for none).
// phone makes a user's E.164 number: prefix and the user's digits (u12 ->
// prefix + "12").
func phone(prefix, user string) string {
	return prefix + strings.TrimLeft(user, "abcdefghijklmnopqrstuvwxyz-")
}

func customer(user, tz string) records.Profile {
	consent := map[string]records.Consent{}
	for _, ch := range journey.DefaultChannels {
		consent[ch] = records.Consent{Status: records.ConsentSubscribed}
	}
	return records.Profile{
		UserID:   user,
		Traits:   records.JSON(`{"first_name":"Ada-` + user + `"}`),
		TimeZone: tz,
		Locale:   "en-GB",
		Addresses: records.Addresses{
			Email: user + "@example.com", Phone: phone("+4470000", user), WhatsApp: phone("+4471111", user),
			PushTokens: []records.PushToken{{Token: "push-" + user, Platform: "ios"}},
		},
		Consent: consent,
	}
}

// newExample publishes examples/journeys/<id>.yaml through the control
// plane, stores the profiles and starts the engine.
func newExample(t *testing.T, id string, profiles ...records.Profile) *example {
	t.Helper()
	return newExampleWithTables(t, id, nil, profiles...)
}

// newExampleWithTables is newExample that first writes table rows (facts,
// lookups), so the engine has them when it starts.
func newExampleWithTables(t *testing.T, id string, tables func(*harness), profiles ...records.Profile) *example {
	t.Helper()
	h := newHarness(t)
	if tables != nil {
		tables(h)
	}
	text, err := os.ReadFile(filepath.Join(examplesDir, id+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.control.Publish(h.ctx, text, records.FormatYAML); err != nil {
		t.Fatalf("publish %s: %v", id, err)
	}
	if _, err := h.control.Publish(h.ctx, []byte(probeJourney), records.FormatYAML); err != nil {
		t.Fatal(err)
	}
	x := &example{harness: h, journey: id, t0: h.clock.now(), probes: map[string]int{}}
	for _, p := range profiles {
		h.produce("profiles", p.UserID, p)
		x.users = append(x.users, p.UserID)
	}
	h.start()
	x.tap = h.newTap()
	x.waitProfiles()
	return x
}

// waitProfiles probes until the engine has every user's profile.
func (x *example) waitProfiles() {
	x.t.Helper()
	for range 100 {
		x.sync()
		loaded := 0
		for _, u := range x.users {
			for _, a := range x.tap.snapshot().acts {
				if a.JourneyID == "test-probe" && a.UserID == u && a.Reason == "probe with profile" {
					loaded++
					break
				}
			}
		}
		if loaded == len(x.users) {
			return
		}
	}
	x.t.Fatal("the engine never saw the profiles")
}

// event produces an event of user now; props is a JSON object.
func (x *example) event(user, name, props string) { x.sessionEvent(user, "", name, props) }

// sessionEvent produces an event of user in session now.
func (x *example) sessionEvent(user, session, name, props string) {
	x.t.Helper()
	x.msgs++
	x.produce("events", user, records.Event{
		MessageID: fmt.Sprintf("%s-%d", x.t.Name(), x.msgs), Type: records.EventTrack, Name: name, UserID: user,
		Timestamp: x.clock.now(), Properties: records.JSON(props), SessionID: session,
	})
}

// receipt produces a channel's receipt for a send command now.
func (x *example) receipt(cmd records.SendCommand, status records.ReceiptStatus, reply string) {
	x.t.Helper()
	x.msgs++
	x.produce("receipts", cmd.UserID, records.Receipt{
		ReceiptID: fmt.Sprintf("r-%d", x.msgs), CommandID: cmd.CommandID, UserID: cmd.UserID, Channel: cmd.Channel,
		Status: status, ReplyText: reply, OccurredAt: x.clock.now(),
	})
}

// at lets the engine process what was produced so far, moves the virtual
// clock to t0+d and waits until everything due by then has happened.
func (x *example) at(d time.Duration) {
	x.t.Helper()
	x.sync()
	to := x.t0.Add(d)
	if to.Before(x.clock.now()) {
		x.t.Fatalf("at(%v): the clock is already at %v", d, x.clock.now().Sub(x.t0))
	}
	x.clock.ns.Store(to.UnixNano())
	x.sync()
}

// sync waits until the engine has processed every user's input so far,
// and the timers due now, and the tap has read the results.
func (x *example) sync() {
	x.t.Helper()
	for _, u := range x.users {
		x.probes[u]++
		x.event(u, "Test Probe", `{}`)
	}
	x.tap.waitFor(x.t, "the probes", func(s *tapped) bool {
		for _, u := range x.users {
			n := 0
			for _, a := range s.acts {
				if a.JourneyID == "test-probe" && a.UserID == u && a.Kind == records.ActivityEntered {
					n++
				}
			}
			if n < x.probes[u] {
				return false
			}
		}
		return true
	})
	x.tap.catchUp(x.t)
}

// sends returns the send commands on channel so far.
func (x *example) sends(channel string) []records.SendCommand {
	var out []records.SendCommand
	for _, c := range x.tap.snapshot().sends {
		if c.Channel == channel {
			out = append(out, c)
		}
	}
	return out
}

// activity returns the example journey's activity so far.
func (x *example) activity() []records.Activity {
	var out []records.Activity
	for _, a := range x.tap.snapshot().acts {
		if a.JourneyID == x.journey {
			out = append(out, a)
		}
	}
	return out
}

// count counts the example journey's activities of kind whose reason
// contains reason, of user (any when "") and entry key (any when "").
func (x *example) count(kind records.ActivityKind, reason, user, key string) int {
	n := 0
	for _, a := range x.activity() {
		if a.Kind == kind && strings.Contains(a.Reason, reason) && (user == "" || a.UserID == user) && (key == "" || a.EntryKey == key) {
			n++
		}
	}
	return n
}

// wantCount fails unless count gives n.
func (x *example) wantCount(n int, kind records.ActivityKind, reason, user, key string) {
	x.t.Helper()
	if got := x.count(kind, reason, user, key); got != n {
		x.t.Fatalf("%d %s activities with %q (user %q, key %q), want %d\n%s", got, kind, reason, user, key, n, x.log())
	}
}

// wantSends fails unless the send commands on channel, in the order they
// were created (then by user: users' partitions are read in no set
// order), are those of users (user IDs, one per command).
func (x *example) wantSends(channel string, users ...string) []records.SendCommand {
	x.t.Helper()
	got := x.sends(channel)
	slices.SortStableFunc(got, func(a, b records.SendCommand) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.UserID, b.UserID)
	})
	var who []string
	for _, c := range got {
		who = append(who, c.UserID)
	}
	if !slices.Equal(who, users) {
		x.t.Fatalf("%s sends to %v at %s, want to %v\n%s", channel, who, x.times(got), users, x.log())
	}
	return got
}

func (x *example) times(cmds []records.SendCommand) string {
	var out []string
	for _, c := range cmds {
		out = append(out, c.CreatedAt.Sub(x.t0).String())
	}
	return "[" + strings.Join(out, " ") + "]"
}

// wantAt fails unless the command was created at t0+d.
func (x *example) wantAt(c records.SendCommand, d time.Duration) {
	x.t.Helper()
	if !c.CreatedAt.Equal(x.t0.Add(d)) {
		x.t.Fatalf("%s %s to %s created at %v, want %v", c.Channel, c.TemplateID, c.UserID, c.CreatedAt.Sub(x.t0), d)
	}
}

// log renders the example journey's activity, for failure messages.
func (x *example) log() string {
	var b strings.Builder
	for _, a := range x.activity() {
		fmt.Fprintf(&b, "  %v %s [%s] %s %s: %s %s\n", a.At.Sub(x.t0), a.UserID, a.EntryKey, a.StepID, a.Kind, a.Reason, a.Details)
	}
	return b.String()
}

// payload decodes a send command's payload.
func payload(t *testing.T, c records.SendCommand) map[string]any {
	t.Helper()
	var p map[string]any
	if err := json.Unmarshal(c.Payload, &p); err != nil {
		t.Fatalf("payload %s: %v", c.Payload, err)
	}
	return p
}

// tap reads the activity, hand-off and send topics read_committed and
// decodes what it reads.
type tap struct {
	mu sync.Mutex
	tapped
	// polls counts the polls that returned, to know when one started
	// after a given moment has returned.
	polls int
}

type tapped struct {
	acts     []records.Activity
	sends    []records.SendCommand
	handoffs []records.Handoff
}

func (h *harness) newTap() *tap {
	names := map[string]string{h.topic("activity"): "activity", h.topic("handoff"): "handoff"}
	for _, ch := range topics.Channels {
		names[h.topic("send."+ch)] = "send"
	}
	var consume []string
	for n := range names {
		consume = append(consume, n)
	}
	cl := kafkatest.Client(h.t, h.brokers, kgo.ConsumeTopics(consume...), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(50*time.Millisecond))
	tp := &tap{}
	go func() {
		for {
			ctx, cancel := context.WithTimeout(h.ctx, 50*time.Millisecond)
			fs := cl.PollFetches(ctx)
			cancel()
			if h.ctx.Err() != nil || fs.IsClientClosed() {
				return
			}
			var got tapped
			for _, r := range fs.Records() {
				var err error
				switch names[r.Topic] {
				case "activity":
					var a records.Activity
					err = h.codec.Decode(h.ctx, r.Value, &a)
					got.acts = append(got.acts, a)
				case "handoff":
					var ho records.Handoff
					err = h.codec.Decode(h.ctx, r.Value, &ho)
					got.handoffs = append(got.handoffs, ho)
				case "send":
					var c records.SendCommand
					err = h.codec.Decode(h.ctx, r.Value, &c)
					if err == nil && string(r.Key) != c.UserID {
						err = fmt.Errorf("send command %s keyed %q", c.CommandID, r.Key)
					}
					got.sends = append(got.sends, c)
				}
				if err != nil {
					h.t.Errorf("%s: %v", r.Topic, err)
				}
			}
			tp.mu.Lock()
			tp.acts = append(tp.acts, got.acts...)
			tp.sends = append(tp.sends, got.sends...)
			tp.handoffs = append(tp.handoffs, got.handoffs...)
			tp.polls++
			tp.mu.Unlock()
		}
	}()
	return tp
}

func (tp *tap) snapshot() *tapped {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return &tapped{acts: slices.Clone(tp.acts), sends: slices.Clone(tp.sends), handoffs: slices.Clone(tp.handoffs)}
}

// waitFor polls until cond holds for what was read so far.
func (tp *tap) waitFor(t testing.TB, what string, cond func(*tapped) bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond(tp.snapshot()) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// catchUp waits for two more polls to return: the second fetched after
// the first returned, so it holds whatever was committed before this call.
func (tp *tap) catchUp(t testing.TB) {
	t.Helper()
	tp.mu.Lock()
	from := tp.polls
	tp.mu.Unlock()
	tp.waitFor(t, "the tap to catch up", func(*tapped) bool {
		tp.mu.Lock()
		defer tp.mu.Unlock()
		return tp.polls >= from+2
	})
}

// TestExampleAbandonedCart: two carts of one shopper run as two journeys;
// every change to a cart restarts its hour; the order for one cart ends
// that cart's journey as a conversion and leaves the other alone; the
// email carries the cart's items, without the removed one, each joined to
// its catalog row (name, price, size, colour, image) or as added when the
// catalog does not know it, and the shopper's loyalty points; a push
// follows a day later.
func TestExampleAbandonedCart(t *testing.T) {
	x := newExampleWithTables(t, "abandoned-cart", func(h *harness) {
		// The catalog knows the hat (not the sneakers); u1 is a gold
		// loyalty member.
		h.produce("lookups.catalog", "HT-03", records.LookupRecord{Table: "catalog", ID: "HT-03", Attributes: records.JSON(
			`{"sku":"HT-03","name":"Straw hat","price":25,"currency":"EUR","size":"L","colour":"natural","image_url":"https://cdn.example.com/ht-03.jpg","stock":3}`)})
		h.produce("facts.loyalty", "u1", records.Fact{UserID: "u1", Name: "loyalty", Value: records.JSON(`{"tier":"gold","points":1200}`)})
	}, customer("u1", ""))
	shirt := `{"cart_id":"c1","sku":"SH-01","name":"Linen shirt","price":49.9,"size":"M","colour":"white","image":"https://cdn.example.com/sh-01.jpg","quantity":1}`
	hat := `{"cart_id":"c1","sku":"HT-03","name":"Straw hat","price":25,"size":"L","colour":"natural","image":"https://cdn.example.com/ht-03.jpg","quantity":1}`
	sneakers := `{"cart_id":"c2","sku":"SN-07","name":"Canvas sneakers","price":89,"size":"42","colour":"navy","image":"https://cdn.example.com/sn-07.jpg","quantity":1}`

	x.event("u1", "Product Added", shirt)
	x.event("u1", "Product Added", sneakers)
	x.at(40 * time.Minute)
	x.wantCount(1, records.ActivityEntered, "Product Added", "u1", "c1")
	x.wantCount(1, records.ActivityEntered, "Product Added", "u1", "c2")
	x.event("u1", "Product Added", hat) // c1 changes: its hour starts again
	x.at(50 * time.Minute)
	x.event("u1", "Product Removed", `{"cart_id":"c1","sku":"SH-01"}`) // and again
	x.event("u1", "Cart Viewed", `{"cart_id":"c1"}`)

	// c2 has been left alone for an hour: its reminder, with its item.
	x.at(time.Hour)
	x.wantCount(2, records.ActivityEntered, "", "", "") // more events, no more journeys
	mails := x.wantSends("email", "u1")
	x.wantAt(mails[0], time.Hour)
	p := payload(t, mails[0])
	if mails[0].TemplateID != "cart-reminder" || mails[0].Recipient != "u1@example.com" || p["cart_url"] != "https://shop.example.com/cart/c2" || p["first_name"] != "Ada-u1" || p["looked_again"] != false {
		t.Fatalf("reminder for c2: %+v payload %v", mails[0], p)
	}
	var sneakersProps map[string]any
	_ = json.Unmarshal([]byte(sneakers), &sneakersProps)
	if items, _ := p["items"].([]any); len(items) != 1 || !reflect.DeepEqual(items[0], sneakersProps) {
		t.Fatalf("c2 reminder items %v, want [%v]", p["items"], sneakersProps)
	}

	// The order for c2 converts and ends c2; an order of another cart
	// does nothing to c1.
	x.event("u1", "Order Completed", `{"cart_id":"c9","order_id":"o-9","total":10}`)
	x.event("u1", "Order Completed", `{"cart_id":"c2","order_id":"o-2","total":89}`)
	x.at(70 * time.Minute)
	x.wantCount(1, records.ActivityConverted, "goal Order Completed", "u1", "c2")
	x.wantCount(1, records.ActivityExited, "converted", "u1", "c2")
	x.wantCount(0, records.ActivityExited, "", "u1", "c1")

	// An hour after the hat was added: the removal at 50m restarted the
	// hour, so nothing yet.
	x.at(time.Hour + 40*time.Minute)
	x.wantSends("email", "u1")
	x.wantCount(1, records.ActivityWaiting, "timer reset by Product Added", "u1", "c1")
	x.wantCount(1, records.ActivityWaiting, "timer reset by Product Removed", "u1", "c1")
	x.wantCount(1, records.ActivityWaiting, "timer reset by Cart Viewed", "u1", "c1")

	// An hour after the last change: c1's reminder, with the hat only.
	x.at(time.Hour + 50*time.Minute)
	mails = x.wantSends("email", "u1", "u1")
	x.wantAt(mails[1], time.Hour+50*time.Minute)
	p = payload(t, mails[1])
	// The hat is joined to its catalog row.
	hatItem := map[string]any{"sku": "HT-03", "name": "Straw hat", "price": 25.0, "size": "L", "colour": "natural", "image": "https://cdn.example.com/ht-03.jpg", "quantity": 1.0}
	if items, _ := p["items"].([]any); len(items) != 1 || !reflect.DeepEqual(items[0], hatItem) {
		t.Fatalf("c1 reminder items %v, want [%v]", p["items"], hatItem)
	}
	if loyalty, _ := json.Marshal(p["loyalty"]); string(loyalty) != `{"member":true,"points":1200,"tier":"gold"}` {
		t.Fatalf("c1 reminder loyalty %s", loyalty)
	}
	if p["cart_url"] != "https://shop.example.com/cart/c1" || p["looked_again"] != true {
		t.Fatalf("c1 reminder payload %v", p)
	}
	x.wantSends("push")

	// A day later, still not bought: the push, for c1 only.
	x.at(time.Hour + 50*time.Minute + 24*time.Hour - time.Minute)
	x.wantSends("push")
	x.at(time.Hour + 50*time.Minute + 24*time.Hour)
	push := x.wantSends("push", "u1")
	x.wantAt(push[0], time.Hour+50*time.Minute+24*time.Hour)
	p = payload(t, push[0])
	if push[0].TemplateID != "cart-reminder-push" || push[0].Recipient != "push-u1" || p["first_item"] != "Straw hat" || p["item_count"] != 1.0 || p["cart_url"] != "https://shop.example.com/cart/c1" {
		t.Fatalf("push %+v payload %v", push[0], p)
	}
	x.wantCount(1, records.ActivityExited, "completed", "u1", "c1")
	x.at(4 * 24 * time.Hour)
	x.wantSends("email", "u1", "u1")
	x.wantSends("push", "u1")
}

// TestExampleCreditCardApplication: one journey per application, however
// often its form is opened; a submitted or declined application gets no
// text; the one left half-way gets one text two hours after it started,
// naming the last step completed.
func TestExampleCreditCardApplication(t *testing.T) {
	x := newExample(t, "credit-card-application", customer("u1", ""))
	x.event("u1", "Application Started", `{"application_id":"a1"}`)
	x.event("u1", "Application Started", `{"application_id":"a2"}`)
	x.at(5 * time.Minute)
	x.event("u1", "Application Started", `{"application_id":"a1"}`) // the form opened again
	x.event("u1", "Application Step Completed", `{"application_id":"a1","step":"personal details","step_number":1}`)
	x.at(20 * time.Minute)
	x.event("u1", "Application Step Completed", `{"application_id":"a1","step":"income","step_number":2}`)
	x.event("u1", "Application Step Completed", `{"application_id":"a2","step":"personal details","step_number":1}`)
	x.at(30 * time.Minute)
	x.event("u1", "Application Started", `{"application_id":"a3"}`)
	x.at(time.Hour)
	x.event("u1", "Application Submitted", `{"application_id":"a2"}`)
	x.event("u1", "Application Declined", `{"application_id":"a3"}`)
	x.at(time.Hour + time.Minute)
	x.wantCount(3, records.ActivityEntered, "", "u1", "")
	for _, key := range []string{"a1", "a2", "a3"} {
		x.wantCount(1, records.ActivityEntered, "Application Started", "u1", key)
	}
	x.wantCount(1, records.ActivityExited, "exit event Application Submitted", "u1", "a2")
	x.wantCount(1, records.ActivityExited, "exit event Application Declined", "u1", "a3")

	x.at(2*time.Hour - time.Minute)
	x.wantSends("sms")
	x.at(2 * time.Hour)
	sms := x.wantSends("sms", "u1")
	x.wantAt(sms[0], 2*time.Hour)
	p := payload(t, sms[0])
	if sms[0].TemplateID != "application-follow-up" || sms[0].Recipient != "+44700001" || p["stopped_after"] != "income" || p["steps_completed"] != 2.0 ||
		p["resume_url"] != "https://bank.example.com/apply/a1" || p["first_name"] != "Ada-u1" {
		t.Fatalf("follow-up %+v payload %v", sms[0], p)
	}
	x.wantCount(1, records.ActivityExited, "completed", "u1", "a1")
	// a3 would have been due at 2h30m had it not been declined.
	x.at(3 * time.Hour)
	x.wantSends("sms", "u1")
}

// TestExampleOnboarding: the nudge goes the day after the first session at
// 10:00 in the user's own time zone; using the key feature cancels it
// (another feature does not); later sessions never start the journey
// again.
func TestExampleOnboarding(t *testing.T) {
	x := newExample(t, "onboarding", customer("ny", "America/New_York"), customer("u2", ""))
	// Monday 10:00 UTC is 05:00 in New York. A day later is Tuesday 05:00
	// there; the next 10:00 is Tuesday 10:00 EST, 15:00 UTC: t0+29h.
	x.event("ny", "Session Started", `{}`)
	x.at(time.Hour)
	x.event("u2", "Session Started", `{}`)
	x.at(2 * time.Hour)
	x.event("ny", "Session Started", `{}`) // a second session: nothing new
	x.event("ny", "Feature Used", `{"feature":"profile-photo"}`)
	x.event("u2", "Feature Used", `{"feature":"profile-photo"}`)
	x.at(3 * time.Hour)
	x.wantCount(0, records.ActivityExited, "", "", "")
	x.event("u2", "Feature Used", `{"feature":"smart-playlists"}`)
	x.at(4 * time.Hour)
	x.wantCount(1, records.ActivityExited, "exit event Feature Used", "u2", "")
	x.wantCount(1, records.ActivityEntered, "", "ny", "")
	x.wantCount(1, records.ActivityEntered, "", "u2", "")

	x.at(29*time.Hour - time.Minute)
	x.wantSends("email")
	x.at(29 * time.Hour)
	mails := x.wantSends("email", "ny")
	x.wantAt(mails[0], 29*time.Hour)
	ny, _ := time.LoadLocation("America/New_York")
	if local := mails[0].CreatedAt.In(ny); local.Hour() != 10 || local.Minute() != 0 || local.Weekday() != time.Tuesday {
		t.Fatalf("nudge at %v in New York, want Tuesday 10:00", local)
	}
	if p := payload(t, mails[0]); mails[0].TemplateID != "onboarding-smart-playlists" || mails[0].Recipient != "ny@example.com" || p["first_name"] != "Ada-ny" {
		t.Fatalf("nudge %+v payload %v", mails[0], p)
	}
	x.wantCount(1, records.ActivityExited, "completed", "ny", "")

	// Their next sessions are not first sessions.
	x.event("ny", "Session Started", `{}`)
	x.event("u2", "Session Started", `{}`)
	x.at(30 * time.Hour)
	x.wantCount(1, records.ActivitySkipped, "reentry once", "ny", "")
	x.wantCount(1, records.ActivitySkipped, "reentry once", "u2", "")
	x.at(4 * 24 * time.Hour)
	x.wantSends("email", "ny")
	x.wantCount(2, records.ActivityEntered, "", "", "")
}

// TestExampleLapsedUser: each session restarts the 14-day clock of the
// one running journey (no second journey starts); a purchase while the
// clock runs restarts it too instead of ending the journey; 14 quiet days
// bring the email, a week more without a session the offer; a purchase
// after the email ends the journey.
func TestExampleLapsedUser(t *testing.T) {
	const day = 24 * time.Hour
	x := newExample(t, "lapsed-user", customer("u1", ""), customer("u2", ""))
	x.event("u1", "Session Started", `{}`)
	x.event("u2", "Session Started", `{}`)
	x.at(5 * day)
	x.event("u1", "Session Started", `{}`)
	x.at(10 * day)
	x.event("u2", "Order Completed", `{"order_id":"o-1","total":30}`)
	x.at(12 * day)
	x.event("u1", "Session Started", `{}`)
	x.at(14 * day) // both would be due now without the restarts
	x.wantSends("email")
	x.wantCount(0, records.ActivityExited, "", "", "")
	x.at(20 * day)
	x.event("u1", "Session Started", `{}`)

	// u2: 14 days after the purchase, the email; a week later the offer.
	x.at(24*day - time.Minute)
	x.wantSends("email")
	x.at(24 * day)
	mails := x.wantSends("email", "u2")
	x.wantAt(mails[0], 24*day)
	if mails[0].TemplateID != "we-miss-you" || mails[0].Recipient != "u2@example.com" {
		t.Fatalf("win-back %+v", mails[0])
	}
	x.at(31 * day)
	mails = x.wantSends("email", "u2", "u2")
	x.wantAt(mails[1], 31*day)
	if p := payload(t, mails[1]); mails[1].TemplateID != "win-back-offer" || p["code"] != "WELCOMEBACK15" || p["first_name"] != "Ada-u2" {
		t.Fatalf("offer %+v payload %v", mails[1], p)
	}
	x.wantCount(1, records.ActivityExited, "completed", "u2", "")
	x.wantCount(1, records.ActivityWaiting, "timer reset by Order Completed", "u2", "")

	// u1: 14 days after the session of day 20.
	x.at(34*day - time.Minute)
	x.wantSends("email", "u2", "u2")
	x.at(34 * day)
	mails = x.wantSends("email", "u2", "u2", "u1")
	x.wantAt(mails[2], 34*day)
	if mails[2].TemplateID != "we-miss-you" {
		t.Fatalf("win-back %+v", mails[2])
	}
	x.wantCount(1, records.ActivityEntered, "", "u1", "")
	x.wantCount(3, records.ActivityWaiting, "timer reset by Session Started", "u1", "")

	// u1 buys two days later: done, no offer.
	x.at(36 * day)
	x.event("u1", "Order Completed", `{"order_id":"o-2","total":55}`)
	x.at(36*day + time.Minute)
	x.wantCount(1, records.ActivityExited, "exit event Order Completed", "u1", "")
	x.at(45 * day)
	x.wantSends("email", "u2", "u2", "u1")
}

// TestExampleProactiveWelcome: the chat offer goes to high-intent page
// views only, once per visit, and only in business hours (Paris, Monday
// to Friday 09:00-17:00): outside them it is skipped, not delayed.
func TestExampleProactiveWelcome(t *testing.T) {
	x := newExample(t, "proactive-welcome", customer("u1", ""))
	// Monday 10:00 UTC is 11:00 in Paris.
	x.sessionEvent("u1", "s1", "Page Viewed", `{"path":"/pricing"}`)
	x.at(time.Minute)
	x.sessionEvent("u1", "s1", "Page Viewed", `{"path":"/pricing/enterprise"}`) // same visit
	x.at(2 * time.Minute)
	x.wantCount(1, records.ActivitySkipped, "reentry once_per_session: already entered in session s1", "u1", "")
	x.sessionEvent("u1", "s2", "Page Viewed", `{"path":"/blog","cart_value":20}`) // not high intent
	x.at(3 * time.Minute)
	x.wantCount(1, records.ActivityEntered, "", "u1", "")
	x.sessionEvent("u1", "s2", "Page Viewed", `{"path":"/checkout","cart_value":150}`)
	x.at(4 * time.Minute)
	msgs := x.wantSends("inapp", "u1", "u1")
	x.wantAt(msgs[0], 0)
	for i, page := range []string{"/pricing", "/checkout"} {
		c := msgs[i]
		p := payload(t, c)
		if c.TemplateID != "proactive-chat" || c.Recipient != "u1" || p["action"] != "open_chat" || p["queue"] != "sales" || p["page"] != page {
			t.Fatalf("offer %d: %+v payload %v", i, c, p)
		}
		if !c.Deadline.Equal(c.CreatedAt.Add(5 * time.Minute)) {
			t.Fatalf("offer %d deadline %v after creation", i, c.Deadline.Sub(c.CreatedAt))
		}
	}

	// Monday 17:30 in Paris, and Saturday 11:00: sales has gone home.
	x.at(6*time.Hour + 30*time.Minute)
	x.sessionEvent("u1", "s3", "Page Viewed", `{"path":"/pricing"}`)
	x.at(5 * 24 * time.Hour)
	x.sessionEvent("u1", "s4", "Page Viewed", `{"path":"/pricing"}`)
	x.at(5*24*time.Hour + time.Minute)
	x.wantCount(2, records.ActivitySkipped, journey.ReasonBusinessHours, "u1", "")
	x.wantSends("inapp", "u1", "u1")

	// Monday 9 March, 09:00 in Paris: open again. Only this visit's offer
	// goes: the two skipped ones were dropped, not held for the opening.
	monday := 7*24*time.Hour - 2*time.Hour
	x.at(monday)
	x.sessionEvent("u1", "s5", "Page Viewed", `{"path":"/pricing"}`)
	x.at(monday + time.Minute)
	msgs = x.wantSends("inapp", "u1", "u1", "u1")
	x.wantAt(msgs[2], monday)
	x.wantCount(5, records.ActivityEntered, "", "u1", "") // s1 to s5: high intent, not the blog
}

// TestExampleWhatsAppTwoWay: the shipping notice goes out on WhatsApp; a
// reply about prices or buying (in any case) hands the conversation to the
// sales queue with the notice and the reply; another reply gets a
// thank-you; no reply ends the journey after two days.
func TestExampleWhatsAppTwoWay(t *testing.T) {
	x := newExample(t, "whatsapp-two-way", customer("u1", ""), customer("u2", ""), customer("u3", ""), customer("u4", ""))
	for _, u := range []string{"u1", "u2", "u3", "u4"} {
		x.event(u, "Order Shipped", `{"order_id":"o-`+u+`","carrier":"DHL","tracking_url":"https://track.example.com/o-`+u+`"}`)
	}
	x.at(time.Minute)
	notices := x.wantSends("whatsapp", "u1", "u2", "u3", "u4")
	sent := map[string]records.SendCommand{}
	for _, c := range notices {
		p := payload(t, c)
		if c.TemplateID != "order-shipped" || c.Recipient != phone("+4471111", c.UserID) || p["order_id"] != "o-"+c.UserID || p["carrier"] != "DHL" {
			t.Fatalf("notice %+v payload %v", c, p)
		}
		sent[c.UserID] = c
	}

	x.receipt(sent["u1"], records.ReceiptDelivered, "") // not a reply: keep waiting
	x.at(2 * time.Minute)
	x.receipt(sent["u1"], records.ReceiptReplied, "Hi! What's the PRICE of the matching jacket?")
	x.receipt(sent["u2"], records.ReceiptReplied, "Thanks, can't wait")
	x.receipt(sent["u4"], records.ReceiptReplied, "Can I Buy two more?")
	x.at(3 * time.Minute)

	handoffs := x.tap.snapshot().handoffs
	if len(handoffs) != 2 {
		t.Fatalf("%d hand-offs, want 2 (u1, u4)\n%s", len(handoffs), x.log())
	}
	for _, h := range handoffs {
		reply := map[string]string{"u1": "Hi! What's the PRICE of the matching jacket?", "u4": "Can I Buy two more?"}[h.UserID]
		if reply == "" || h.JourneyID != "whatsapp-two-way" || h.Channel != "whatsapp" {
			t.Fatalf("hand-off %+v", h)
		}
		conv := h.Conversation
		if len(conv) != 2 ||
			conv[0].Direction != records.Outbound || conv[0].Text != "template order-shipped" || conv[0].CommandID != sent[h.UserID].CommandID ||
			conv[1].Direction != records.Inbound || conv[1].Text != reply || !conv[1].At.Equal(x.t0.Add(2*time.Minute)) {
			t.Fatalf("hand-off conversation of %s: %+v", h.UserID, conv)
		}
		var p map[string]any
		_ = json.Unmarshal(h.Payload, &p)
		if p["queue"] != "sales" || !strings.Contains(fmt.Sprint(p["note"]), "prices or buying") {
			t.Fatalf("hand-off payload %s", h.Payload)
		}
		if !strings.Contains(string(h.Profile), "Ada-"+h.UserID) {
			t.Fatalf("hand-off profile %s", h.Profile)
		}
	}
	all := x.wantSends("whatsapp", "u1", "u2", "u3", "u4", "u2")
	if all[4].TemplateID != "reply-thanks" || all[4].Recipient != "+44711112" {
		t.Fatalf("thank-you %+v", all[4])
	}
	for _, u := range []string{"u1", "u2", "u4"} {
		x.wantCount(1, records.ActivityExited, "completed", u, "o-"+u)
	}

	// u3 never replies: two days after the notice the journey ends.
	x.at(2*24*time.Hour - time.Minute)
	x.wantCount(0, records.ActivityExited, "", "u3", "")
	x.at(2 * 24 * time.Hour)
	x.wantCount(1, records.ActivityStepCompleted, "receipt wait timed out", "u3", "o-u3")
	x.wantCount(1, records.ActivityExited, "completed", "u3", "o-u3")
	x.wantSends("whatsapp", "u1", "u2", "u3", "u4", "u2")
	if n := len(x.tap.snapshot().handoffs); n != 2 {
		t.Fatalf("%d hand-offs, want 2", n)
	}
}
