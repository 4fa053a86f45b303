package journey

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/beckon-dev/beckon/pkg/records"
)

const cartJourney = `
id: abandoned-cart
trigger:
  event: Product Added
  key: event.properties.cart_id
state:
  - on: Product Added
    add_item: {key: event.properties.sku}
  - on: Product Removed
    remove_item: {key: event.properties.sku}
exit:
  - event: Order Completed
steps:
  - id: idle
    hold:
      event: Checkout Started
      timeout: 1h
      reset_on: [Product Added, Product Removed, Cart Viewed]
      max_resets: 3
      on_event: exit
  - id: remind
    send:
      channel: email
      template: cart-reminder
      payload:
        items: state.items.map(i, i.key)
        name: profile.traits.first_name
`

func TestCartHoldResetsAndReminds(t *testing.T) {
	s := newScenario(t, cartJourney)
	s.event("Product Added", `{"cart_id":"c1","sku":"A"}`)
	s.after(40 * time.Minute)
	s.event("Product Added", `{"cart_id":"c1","sku":"B"}`) // resets the 1h timer
	s.after(40 * time.Minute)
	s.event("Product Removed", `{"cart_id":"c1","sku":"A"}`) // and again
	s.after(59 * time.Minute)
	s.wantSends()
	s.after(time.Minute)
	s.wantSends("email cart-reminder @2h20m0s")
	var payload map[string]any
	if err := json.Unmarshal(s.sends[0].Payload, &payload); err != nil {
		t.Fatal(err)
	}
	if got, _ := json.Marshal(payload); string(got) != `{"items":["B"],"name":"Ada"}` {
		t.Errorf("payload %s", got)
	}
	c := s.sends[0]
	if c.Recipient != "ada@example.com" || c.Locale != "de-DE" || c.UserID != "u1" || c.JourneyVersion != 1 || c.StepID != "remind" {
		t.Errorf("command %+v", c)
	}
	if !c.Deadline.Equal(c.CreatedAt.Add(DefaultSendDeadline)) {
		t.Errorf("deadline %v", c.Deadline)
	}
	if want := CommandID(c.InstanceID, "remind", 1); c.CommandID != want {
		t.Errorf("command ID %q, want %q", c.CommandID, want)
	}
	if len(s.u.Instances) != 0 {
		t.Errorf("instance still running after the last step: %+v", s.u.Instances[0])
	}
	s.wantActivity(records.ActivityWaiting, "timer reset by Product Removed")
}

func TestCartMaxResets(t *testing.T) {
	s := newScenario(t, cartJourney)
	s.event("Product Added", `{"cart_id":"c1","sku":"A"}`)
	for range 5 { // only 3 resets count
		s.after(30 * time.Minute)
		s.event("Cart Viewed", `{"cart_id":"c1"}`)
	}
	// Resets at 30m, 60m, 90m; the timer runs out at 2h30m.
	s.at(t0.Add(3 * time.Hour))
	s.wantSends("email cart-reminder @2h30m0s")
}

func TestTwoCartsAndExitForOneCart(t *testing.T) {
	s := newScenario(t, cartJourney)
	s.event("Product Added", `{"cart_id":"c1","sku":"A"}`)
	s.event("Product Added", `{"cart_id":"c2","sku":"B"}`)
	if n := len(s.running("abandoned-cart")); n != 2 {
		t.Fatalf("%d instances, want one per cart", n)
	}
	s.after(10 * time.Minute)
	s.event("Order Completed", `{"cart_id":"c1"}`)
	s.after(2 * time.Hour)
	s.wantSends("email cart-reminder @1h0m0s")
	var payload map[string]any
	_ = json.Unmarshal(s.sends[0].Payload, &payload)
	if items, _ := json.Marshal(payload["items"]); string(items) != `["B"]` {
		t.Errorf("reminder for cart c2 carries %s", items)
	}
	s.wantActivity(records.ActivityExited, "exit event Order Completed")
}

func TestCheckoutEndsHold(t *testing.T) {
	s := newScenario(t, cartJourney)
	s.event("Product Added", `{"cart_id":"c1","sku":"A"}`)
	s.after(5 * time.Minute)
	s.event("Checkout Started", `{"cart_id":"c2"}`) // another cart: no effect
	if len(s.u.Instances) != 1 {
		t.Fatal("a checkout of another cart ended the instance")
	}
	s.event("Checkout Started", `{"cart_id":"c1"}`)
	s.after(3 * time.Hour)
	s.wantSends()
	if len(s.u.Instances) != 0 {
		t.Fatal("instance still running")
	}
}

func TestMaxInstancesPerUser(t *testing.T) {
	s := newScenario(t, strings.Replace(cartJourney, "  key: event.properties.cart_id", "  key: event.properties.cart_id\n  max_instances: 2", 1))
	for _, c := range []string{"c1", "c2", "c3"} {
		s.event("Product Added", `{"cart_id":"`+c+`","sku":"A"}`)
	}
	if n := len(s.running("abandoned-cart")); n != 2 {
		t.Fatalf("%d instances, want the cap of 2", n)
	}
	s.wantActivity(records.ActivitySkipped, "max_instances")
}

func TestDefaultCapIs25(t *testing.T) {
	s := newScenario(t, cartJourney)
	for i := range 30 {
		s.event("Product Added", `{"cart_id":"c`+string(rune('a'+i))+`","sku":"A"}`)
	}
	if n := len(s.running("abandoned-cart")); n != DefaultMaxInstances {
		t.Fatalf("%d instances, want %d", n, DefaultMaxInstances)
	}
}

func TestReentry(t *testing.T) {
	base := `
id: welcome
trigger:
  event: Signed In
  %s
steps:
  - id: hello
    send: {channel: email, template: hello}
`
	for _, tc := range []struct {
		policy string
		// sessions of the three sign-ins, spaced a day apart
		sessions []string
		want     int
	}{
		{"reentry: always", []string{"a", "a", "a"}, 3},
		{"reentry: once", []string{"a", "b", "c"}, 1},
		{"{reentry: cooldown, cooldown: 36h}", nil, 2},
		{"reentry: once_per_session", []string{"a", "a", "b"}, 2},
	} {
		t.Run(tc.policy, func(t *testing.T) {
			policy := tc.policy
			if strings.HasPrefix(policy, "{") {
				policy = "reentry: cooldown\n  cooldown: 36h"
			}
			s := newScenario(t, strings.Replace(base, "%s", policy, 1))
			for i := range 3 {
				session := "s"
				if tc.sessions != nil {
					session = tc.sessions[i]
				}
				s.seq++
				s.apply(Input{Event: &records.Event{MessageID: "m" + session + string(rune('0'+i)), Type: records.EventTrack, Name: "Signed In", UserID: "u1", Timestamp: s.now, SessionID: session}})
				s.after(24 * time.Hour)
			}
			if len(s.sends) != tc.want {
				t.Fatalf("%d sends, want %d\n%s", len(s.sends), tc.want, s.activityLog())
			}
		})
	}
}

func TestEntryConditionsAndAudience(t *testing.T) {
	s := newScenario(t, `
id: big-spender
trigger:
  event: Order Completed
  when: event.properties.total > 100
  audience: profile.traits.tier == "gold"
steps:
  - id: thanks
    send: {channel: email, template: thanks}
`)
	s.event("Order Completed", `{"total": 50}`)
	s.wantSends()
	s.event("Order Completed", `{"total": 150}`)
	s.wantSends("email thanks @0s")
	s.env.Profile.Traits = records.JSON(`{"tier":"silver"}`)
	s.event("Order Completed", `{"total": 500}`)
	s.wantSends("email thanks @0s")
}

func TestBadPropertyTypeRecordsError(t *testing.T) {
	s := newScenario(t, `
id: big-spender
trigger:
  event: Order Completed
  when: event.properties.total > 100
steps:
  - id: thanks
    send: {channel: email, template: thanks}
`)
	fx := s.event("Order Completed", `{"total": "lots"}`)
	if len(fx.Sends) != 0 || len(s.u.Instances) != 0 {
		t.Fatal("entered on an invalid condition")
	}
	s.wantActivity(records.ActivityError, "trigger.when")
	s.event("Order Completed", `{}`) // missing property
	s.event("Order Completed", `{"total": 101}`)
	s.wantSends("email thanks @0s")
}

func TestDelayAtTimeInUserZoneAcrossDST(t *testing.T) {
	s := newScenario(t, `
id: morning
trigger: {event: Signed Up}
policies: {time_zone: Europe/Berlin}
steps:
  - id: wait
    delay: {for: 1d, at_time: "09:00"}
  - id: nudge
    send: {channel: email, template: nudge}
`)
	// Saturday 28 March 2026, 20:00 Berlin (19:00 UTC); clocks go forward
	// on Sunday the 29th. One day later is Sunday 20:00 (UTC+2), and the
	// next 09:00 is Monday 09:00 CEST = 07:00 UTC.
	s.at(time.Date(2026, 3, 28, 19, 0, 0, 0, time.UTC))
	s.event("Signed Up", `{}`)
	s.at(time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC))
	if len(s.sends) != 1 || !s.sends[0].CreatedAt.Equal(time.Date(2026, 3, 30, 7, 0, 0, 0, time.UTC)) {
		t.Fatalf("sends %+v\n%s", s.sends, s.activityLog())
	}
	// The profile's zone wins over the journey's.
	ny, _ := time.LoadLocation("America/New_York")
	s.env.Location = ny
	s.event("Signed Up", `{}`) // 2026-03-31 00:00 UTC = 30 March 20:00 New York
	s.at(time.Date(2026, 4, 2, 0, 0, 0, 0, time.UTC))
	if len(s.sends) != 2 || !s.sends[1].CreatedAt.Equal(time.Date(2026, 4, 1, 13, 0, 0, 0, time.UTC)) {
		t.Fatalf("second send %+v", s.sends)
	}
}

func TestDelayUntilTimestampFromData(t *testing.T) {
	s := newScenario(t, `
id: appointment
trigger: {event: Appointment Booked}
steps:
  - id: wait
    delay: {until: timestamp(event.properties.at) - duration("1h")}
  - id: remind
    send: {channel: sms, template: appointment-reminder}
`)
	s.event("Appointment Booked", `{"at":"2026-03-03T15:00:00Z"}`)
	s.at(time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC))
	s.wantSends("sms appointment-reminder @29h0m0s")
	// A time already past continues at once.
	s.event("Appointment Booked", `{"at":"2026-03-01T15:00:00Z"}`)
	if len(s.sends) != 2 {
		t.Fatalf("past timestamp did not continue at once:\n%s", s.activityLog())
	}
}

func TestBranchAndSplit(t *testing.T) {
	def := `
id: tiers
trigger: {event: Signed In}
steps:
  - id: which
    branch:
      cases:
        - {when: 'profile.traits.tier == "gold"', next: gold}
      else: ab
  - id: gold
    send: {channel: email, template: gold}
    next: exit
  - id: ab
    split:
      holdout: 10
      paths:
        - {name: a, weight: 1, next: variant-a}
        - {name: b, weight: 1, next: variant-b}
  - id: variant-a
    send: {channel: email, template: a}
    next: exit
  - id: variant-b
    send: {channel: email, template: b}
`
	s := newScenario(t, def)
	s.event("Signed In", `{}`)
	s.wantSends("email gold @0s")

	// Over many users the split lands near 45/45/10, and each user always
	// lands in the same place.
	counts := map[string]int{}
	for i := range 2000 {
		s := newScenario(t, def)
		s.env.Profile.Traits = records.JSON(`{"tier":"silver"}`)
		s.u.ID = "user-" + string(rune('a'+i%26)) + strings.Repeat("x", i/26)
		s.env.Profile.UserID = s.u.ID
		s.event("Signed In", `{}`)
		first := "holdout"
		if len(s.sends) == 1 {
			first = s.sends[0].TemplateID
		}
		counts[first]++
		s.after(time.Hour)
		s.event("Signed In", `{}`)
		second := "holdout"
		if len(s.sends) == 2 {
			second = s.sends[1].TemplateID
		} else if len(s.sends) == 1 && first == "holdout" {
			second = s.sends[0].TemplateID
		}
		if first != second {
			t.Fatalf("user %s: %s then %s", s.u.ID, first, second)
		}
	}
	if counts["a"] < 750 || counts["b"] < 750 || counts["holdout"] < 120 || counts["holdout"] > 290 {
		t.Errorf("split counts %v, want about 900/900/200", counts)
	}
}

func TestQuietHoursHoldSend(t *testing.T) {
	s := newScenario(t, `
id: quiet
trigger: {event: Order Shipped}
policies:
  time_zone: UTC
  quiet_hours: {from: "21:00", to: "08:00"}
steps:
  - id: tell
    send: {channel: sms, template: shipped}
`)
	s.at(time.Date(2026, 3, 2, 23, 0, 0, 0, time.UTC))
	s.event("Order Shipped", `{}`)
	s.wantSends()
	s.wantActivity(records.ActivityWaiting, "send held: quiet_hours")
	s.at(time.Date(2026, 3, 3, 12, 0, 0, 0, time.UTC))
	s.wantSends("sms shipped @23h0m0s")
}

func TestQuietHoursSkip(t *testing.T) {
	s := newScenario(t, `
id: quiet
trigger: {event: Order Shipped}
policies:
  quiet_hours: {from: "21:00", to: "08:00", action: skip}
steps:
  - id: tell
    send: {channel: sms, template: shipped}
`)
	s.at(time.Date(2026, 3, 2, 22, 0, 0, 0, time.UTC))
	s.event("Order Shipped", `{}`)
	s.after(24 * time.Hour)
	s.wantSends()
	s.wantActivity(records.ActivitySkipped, "quiet_hours")
}

func TestFrequencyCapSharedAcrossJourneys(t *testing.T) {
	j := func(id, event string) string {
		return `
id: ` + id + `
trigger: {event: ` + event + `}
policies:
  frequency_caps: [{channel: email, max: 2, per: 1d}]
steps:
  - id: tell
    send: {channel: email, template: ` + id + `}
`
	}
	s := newScenario(t, j("one", "A"), j("two", "B"))
	s.event("A", `{}`)
	s.event("B", `{}`)
	s.event("A", `{}`) // the third email within a day: skipped
	s.wantSends("email one @0s", "email two @0s")
	s.wantActivity(records.ActivitySkipped, "frequency_cap")
	s.after(25 * time.Hour)
	s.event("B", `{}`)
	s.wantSends("email one @0s", "email two @0s", "email two @25h0m0s")
}

func TestConsentAndUnsubscribe(t *testing.T) {
	s := newScenario(t, `
id: promo
trigger: {event: Browsed}
steps:
  - id: push
    send: {channel: push, template: promo}
  - id: mail
    send: {channel: email, template: promo}
`)
	s.event("Browsed", `{}`)
	s.wantSends("email promo @0s")
	s.wantActivity(records.ActivitySkipped, "no_consent")
	// The instance has ended; the receipt names its channel.
	s.seq++
	s.apply(Input{Receipt: &records.Receipt{ReceiptID: "r-unsub", CommandID: s.sends[0].CommandID, UserID: "u1", Channel: "email", Status: records.ReceiptUnsubscribed, OccurredAt: s.now}})
	s.event("Browsed", `{}`)
	s.wantSends("email promo @0s")
	s.wantActivity(records.ActivitySkipped, "unsubscribed")
}

const whatsappJourney = `
id: whatsapp-order
trigger: {event: Order Shipped}
steps:
  - id: notify
    send: {channel: whatsapp, template: order-shipped}
  - id: await
    wait_receipt:
      of: notify
      timeout: 2d
      replies:
        - {when: 'receipt.text.lowerAscii().contains("price") || receipt.text.lowerAscii().contains("buy")', next: agent}
      on: {replied: thanks}
      on_timeout: exit
  - id: thanks
    send: {channel: whatsapp, template: thanks}
    next: exit
  - id: agent
    handoff: {queue: sales}
`

func TestWhatsAppReplyHandsOff(t *testing.T) {
	s := newScenario(t, whatsappJourney)
	s.event("Order Shipped", `{"order_id":"o1"}`)
	s.wantSends("whatsapp order-shipped @0s")
	cmd := s.sends[0].CommandID
	s.after(time.Minute)
	s.receipt(cmd, records.ReceiptDelivered, "") // not a reply: keep waiting
	if len(s.handoffs) != 0 || len(s.u.Instances) != 1 {
		t.Fatal("moved on a delivered receipt")
	}
	s.after(time.Minute)
	s.receipt(cmd, records.ReceiptReplied, "What's the PRICE of the blue one?")
	if len(s.handoffs) != 1 {
		t.Fatalf("no hand-off:\n%s", s.activityLog())
	}
	h := s.handoffs[0]
	if h.Channel != "whatsapp" || len(h.Conversation) != 2 || h.Conversation[0].Direction != records.Outbound ||
		h.Conversation[1].Text != "What's the PRICE of the blue one?" || h.Conversation[1].Direction != records.Inbound {
		t.Errorf("hand-off %+v", h)
	}
	if !strings.Contains(string(h.Payload), `"queue":"sales"`) || !strings.Contains(string(h.Profile), "Ada") {
		t.Errorf("hand-off payload %s profile %s", h.Payload, h.Profile)
	}
}

func TestWhatsAppOtherReplyAndTimeout(t *testing.T) {
	s := newScenario(t, whatsappJourney)
	s.event("Order Shipped", `{}`)
	s.receipt(s.sends[0].CommandID, records.ReceiptReplied, "thank you!")
	s.wantSends("whatsapp order-shipped @0s", "whatsapp thanks @0s")
	if len(s.handoffs) != 0 {
		t.Fatal("handed off a plain thank-you")
	}
	s2 := newScenario(t, whatsappJourney)
	s2.event("Order Shipped", `{}`)
	s2.after(3 * 24 * time.Hour)
	s2.wantSends("whatsapp order-shipped @0s")
	s2.wantActivity(records.ActivityStepCompleted, "receipt wait timed out")
	if len(s2.u.Instances) != 0 {
		t.Fatal("instance survived its timeout to exit")
	}
}

func TestGoalConversionWindow(t *testing.T) {
	def := `
id: winback
trigger: {event: Churn Risk}
goal: {event: Order Completed, within: 7d, any_key: true}
steps:
  - id: wait
    delay: {for: 30d}
`
	s := newScenario(t, def)
	s.event("Churn Risk", `{}`)
	s.after(3 * 24 * time.Hour)
	s.event("Order Completed", `{}`)
	s.wantActivity(records.ActivityConverted, "goal Order Completed")
	if len(s.u.Instances) != 0 {
		t.Fatal("converted instance still running")
	}
	late := newScenario(t, def)
	late.event("Churn Risk", `{}`)
	late.after(8 * 24 * time.Hour)
	late.event("Order Completed", `{}`)
	if late.hasActivity(records.ActivityConverted, "") {
		t.Fatal("conversion counted outside the window")
	}
}

func TestPauseHoldsThenResumes(t *testing.T) {
	def := `
id: nudge
trigger: {event: Signed Up}
policies:
  paused: {action: send_late, max_lateness: 2h}
steps:
  - id: wait
    delay: {for: 1h}
  - id: nudge
    send: {channel: email, template: nudge}
`
	for _, tc := range []struct {
		name    string
		pause   time.Duration // how long the journey stays paused after the delay came due
		want    []string
		skipped bool
	}{
		{"resume within bound sends late", 30 * time.Minute, []string{"email nudge @1h31m0s"}, false},
		{"resume past bound skips", 3 * time.Hour, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newScenario(t, def)
			s.event("Signed Up", `{}`)
			s.after(30 * time.Minute)
			s.cat.states["nudge"] = records.JourneyPaused
			s.event("Signed Up", `{}`) // no entries while paused
			s.wantActivity(records.ActivitySkipped, "journey paused: no entries")
			s.after(30*time.Minute + tc.pause)
			s.wantSends()
			s.cat.states["nudge"] = records.JourneyLive
			s.after(time.Hour)
			s.wantSends(tc.want...)
			if tc.skipped {
				s.wantActivity(records.ActivitySkipped, "max_lateness")
			}
			if s.u.Entries["nudge"].Count != 1 {
				t.Errorf("entries while paused: %+v", s.u.Entries["nudge"])
			}
		})
	}
}

func TestPinnedVersion(t *testing.T) {
	v1 := `
id: pinned
trigger: {event: Go}
steps:
  - id: wait
    delay: {for: 1h}
  - id: hello
    send: {channel: email, template: v1}
`
	s := newScenario(t, v1)
	s.event("Go", `{}`)
	s.publish(strings.Replace(v1, "template: v1", "template: v2", 1), 2)
	s.event("Go", `{}`) // still running: no second instance of the journey
	s.after(2 * time.Hour)
	s.event("Go", `{}`)
	s.after(2 * time.Hour)
	s.wantSends("email v1 @1h0m0s", "email v2 @3h0m0s")
}

func TestArchivedEndsInstances(t *testing.T) {
	s := newScenario(t, `
id: old
trigger: {event: Go}
steps:
  - id: wait
    delay: {for: 1h}
  - id: hello
    send: {channel: email, template: hello}
`)
	s.event("Go", `{}`)
	s.cat.states["old"] = records.JourneyArchived
	s.after(2 * time.Hour)
	s.wantSends()
	s.wantActivity(records.ActivityExited, "journey archived")
}

func TestStateRulesSetAndCount(t *testing.T) {
	s := newScenario(t, `
id: app
trigger: {event: Application Started, key: event.properties.application_id}
state:
  - on: Step Completed
    set: {last_step: event.properties.step}
    increment: [steps_done]
steps:
  - id: idle
    hold: {event: Application Submitted, timeout: 1d}
  - id: remind
    send:
      channel: email
      template: finish-application
      payload:
        last: 'has(state.last_step) ? state.last_step : ""'
        done: 'has(state.steps_done) ? state.steps_done : 0'
`)
	s.event("Application Started", `{"application_id":"a1"}`)
	s.event("Application Started", `{"application_id":"a2"}`)
	s.event("Step Completed", `{"application_id":"a1","step":"income"}`)
	s.event("Step Completed", `{"application_id":"a1","step":"address"}`)
	s.after(25 * time.Hour)
	if len(s.sends) != 2 {
		t.Fatalf("want one reminder per application:\n%s", s.activityLog())
	}
	payloads := string(s.sends[0].Payload) + string(s.sends[1].Payload)
	if !strings.Contains(payloads, `{"done":2,"last":"address"}`) || !strings.Contains(payloads, `{"done":0,"last":""}`) {
		t.Errorf("payloads %s", payloads)
	}
}

func TestRateGuard(t *testing.T) {
	s := newScenario(t, `
id: noisy
trigger: {event: Click, key: event.properties.n}
policies: {max_events_per_minute: 5}
steps:
  - id: wait
    delay: {for: 1h}
`)
	for i := range 10 {
		s.event("Click", `{"n":"`+string(rune('a'+i))+`"}`)
	}
	if n := len(s.u.Instances); n != 5 {
		t.Fatalf("%d instances, want 5 (the guard's limit)", n)
	}
	limited := 0
	for _, a := range s.activities {
		if a.Reason == "rate_limited" {
			limited++
		}
	}
	if limited != 1 {
		t.Errorf("%d rate_limited activities, want one per window", limited)
	}
	s.after(time.Minute)
	s.event("Click", `{"n":"z"}`)
	if n := len(s.u.Instances); n != 6 {
		t.Fatalf("guard did not reset after a minute: %d instances", n)
	}
}

func TestActivityIDsAreDeterministicAndUnique(t *testing.T) {
	s := newScenario(t, cartJourney)
	s.event("Product Added", `{"cart_id":"c1","sku":"A"}`)
	s.after(2 * time.Hour)
	seen := map[string]bool{}
	for _, a := range s.activities {
		if seen[a.ActivityID] {
			t.Fatalf("duplicate activity ID %s", a.ActivityID)
		}
		seen[a.ActivityID] = true
		if a.TraceID == "" {
			t.Errorf("activity %s without trace ID", a.Reason)
		}
	}
}

// TestGoalThatIsAlsoAnExitEventConverts: a journey that lists its goal
// event among its exit events too (exit on Order Completed, goal Order
// Completed within 3d: the abandoned cart) records the conversion; the
// exit rule must not swallow it.
func TestGoalThatIsAlsoAnExitEventConverts(t *testing.T) {
	s := newScenario(t, `
id: cart
trigger: {event: Product Added, key: event.properties.cart_id}
exit:
  - event: Order Completed
goal: {event: Order Completed, within: 3d}
steps:
  - id: idle
    hold: {timeout: 1h}
  - id: remind
    send: {channel: email, template: cart-reminder}
`)
	s.event("Product Added", `{"cart_id":"c1"}`)
	s.after(30 * time.Minute)
	s.event("Order Completed", `{"cart_id":"c1"}`)
	s.wantActivity(records.ActivityConverted, "goal Order Completed")
	s.wantActivity(records.ActivityExited, "converted")
	if len(s.u.Instances) != 0 {
		t.Fatal("converted instance still running")
	}
	s.after(2 * time.Hour)
	s.wantSends()
}

// TestHoldWithoutEventIgnoresUnnamedEvents: a hold that only waits for
// time is not ended by an event without a name (a page view or identify).
func TestHoldWithoutEventIgnoresUnnamedEvents(t *testing.T) {
	s := newScenario(t, `
id: lapsed
trigger: {event: Session Started}
steps:
  - id: quiet
    hold: {timeout: 14d, reset_on: [Session Started]}
  - id: miss-you
    send: {channel: email, template: we-miss-you}
`)
	s.event("Session Started", `{}`)
	s.seq++
	s.apply(Input{Event: &records.Event{MessageID: "page-1", Type: records.EventPage, UserID: "u1", Timestamp: s.now, Properties: records.JSON(`{"path":"/"}`)}})
	s.after(13 * 24 * time.Hour)
	s.wantSends()
	s.after(24 * time.Hour)
	s.wantSends("email we-miss-you @336h0m0s")
}

// TestStateDoesNotGrowWithEntries: a user's state after hundreds of
// finished carts is as small as after one: entry history is a count, not a
// record per entry key.
func TestStateDoesNotGrowWithEntries(t *testing.T) {
	s := newScenario(t, cartJourney)
	size := func() int {
		b, err := s.u.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		return len(b)
	}
	cart := func(i int) {
		c := `{"cart_id":"cart-` + strings.Repeat("x", 20) + string(rune('a'+i%26)) + strings.Repeat("y", i/26) + `","sku":"A"}`
		s.event("Product Added", c)
		s.event("Order Completed", c)
	}
	cart(0)
	one := size()
	for i := 1; i < 300; i++ {
		cart(i)
	}
	if got := size(); got > one+16 {
		t.Fatalf("state grew from %d to %d bytes over 300 finished carts", one, got)
	}
	if s.u.Entries["abandoned-cart"].Count != 300 {
		t.Fatalf("entries %d, want 300", s.u.Entries["abandoned-cart"].Count)
	}
}

const enrichedCart = `
id: enriched
trigger: {event: Product Added, key: event.properties.cart_id}
state:
  - on: Product Added
    add_item: {key: event.properties.sku, value: '{"size": event.properties.size}'}
steps:
  - id: remind
    send:
      channel: email
      template: cart
      lookups:
        - {name: products, table: catalog, keys: 'state.items.map(i, i.key)'}
        - {name: card, table: cards, key: facts.loyalty.card}
      %s
      payload:
        items: >-
          state.items.map(i, i.key in lookups.products
            ? {"sku": i.key, "size": i.value.size, "name": lookups.products[i.key].name, "price": lookups.products[i.key].price}
            : {"sku": i.key, "size": i.value.size})
        points: 'has(lookups.card) ? lookups.card.points : 0.0'
`

func catalogLookup(rows map[string]map[string]any) func(table, key string) (map[string]any, bool, error) {
	return func(table, key string) (map[string]any, bool, error) {
		row, ok := rows[table+"/"+key]
		return row, ok, nil
	}
}

// TestSendEnrichedFromLookups: a payload built from the cart's items
// joined to the catalog by SKU, and the loyalty card found from a fact.
func TestSendEnrichedFromLookups(t *testing.T) {
	s := newScenario(t, strings.Replace(enrichedCart, "%s", "", 1))
	s.env.Facts = map[string]any{"loyalty": map[string]any{"card": "L-7"}}
	s.env.Lookup = catalogLookup(map[string]map[string]any{
		"catalog/SKU-1": {"name": "Linen Shirt", "price": 59.0},
		"cards/L-7":     {"points": 1200.0},
	})
	s.event("Product Added", `{"cart_id":"c1","sku":"SKU-1","size":"M"}`)
	if len(s.sends) != 1 {
		t.Fatalf("no send:\n%s", s.activityLog())
	}
	if got := string(s.sends[0].Payload); got != `{"items":[{"name":"Linen Shirt","price":59,"size":"M","sku":"SKU-1"}],"points":1200}` {
		t.Errorf("payload %s", got)
	}
}

// TestSendMissingLookup: a missing row sends without it (the default),
// skips, or waits up to max_wait and then sends without it.
func TestSendMissingLookup(t *testing.T) {
	for _, tc := range []struct {
		policy   string
		rowAfter time.Duration // when the catalog row appears (0: never)
		want     []string
		activity string
	}{
		{"", 0, []string{"email cart @0s"}, "sending without missing data"},
		{"missing: skip", 0, nil, "missing_data"},
		{"missing: wait\n      max_wait: 10m", 3 * time.Minute, []string{"email cart @3m0s"}, "send held: missing_data"},
		{"missing: wait\n      max_wait: 10m", 0, []string{"email cart @10m0s"}, "sending without missing data"},
	} {
		t.Run(tc.policy, func(t *testing.T) {
			s := newScenario(t, strings.Replace(enrichedCart, "%s", tc.policy, 1))
			rows := map[string]map[string]any{"cards/L-7": {"points": 10.0}}
			s.env.Facts = map[string]any{"loyalty": map[string]any{"card": "L-7"}}
			s.env.Lookup = catalogLookup(rows)
			s.event("Product Added", `{"cart_id":"c1","sku":"SKU-1","size":"M"}`)
			if tc.rowAfter > 0 {
				s.after(tc.rowAfter - time.Second)
				rows["catalog/SKU-1"] = map[string]any{"name": "Linen Shirt", "price": 59.0}
			}
			s.after(time.Hour)
			s.wantSends(tc.want...)
			if !s.hasActivity(records.ActivitySkipped, tc.activity) && !s.hasActivity(records.ActivityWaiting, tc.activity) && !s.hasActivity(records.ActivityStepCompleted, tc.activity) {
				t.Errorf("no activity %q:\n%s", tc.activity, s.activityLog())
			}
		})
	}
}

// TestPayloadSizeCap: a payload over the cap is not sent, and an error
// activity says why; the journey goes on.
func TestPayloadSizeCap(t *testing.T) {
	s := newScenario(t, `
id: big
trigger: {event: Go}
steps:
  - id: big
    send: {channel: email, template: big, payload: {blob: event.properties.blob}}
  - id: small
    send: {channel: email, template: small, payload: {ok: 'true'}}
`)
	s.env.MaxPayloadBytes = 1000
	s.event("Go", `{"blob":"`+strings.Repeat("x", 2000)+`"}`)
	s.wantSends("email small @0s")
	s.wantActivity(records.ActivityError, "over the 1000-byte cap")
}

// TestMissingFactIsMissingData: a lookup whose key comes from an absent
// fact counts as missing data, under the send's missing policy.
func TestMissingFactIsMissingData(t *testing.T) {
	s := newScenario(t, strings.Replace(enrichedCart, "%s", "missing: skip", 1))
	s.env.Lookup = catalogLookup(map[string]map[string]any{"catalog/SKU-1": {"name": "Linen Shirt", "price": 59.0}})
	s.event("Product Added", `{"cart_id":"c1","sku":"SKU-1","size":"M"}`)
	s.wantSends()
	s.wantActivity(records.ActivitySkipped, "missing_data")
}

// TestFailedSendFallsBackToAnotherChannel: a failed receipt of a push
// moves the instance to an SMS instead.
func TestFailedSendFallsBackToAnotherChannel(t *testing.T) {
	s := newScenario(t, `
id: fallback
trigger: {event: Order Shipped}
steps:
  - id: push
    send: {channel: push, template: shipped}
  - id: await
    wait_receipt: {of: push, timeout: 1h, on: {failed: sms, delivered: exit}}
  - id: sms
    send: {channel: sms, template: shipped-sms}
`)
	s.env.Profile.Consent["push"] = records.Consent{Status: records.ConsentSubscribed}
	s.env.Profile.Addresses.PushTokens = []records.PushToken{{Token: "tok-1", Platform: "ios"}}
	s.event("Order Shipped", `{}`)
	s.wantSends("push shipped @0s")
	s.after(time.Minute)
	s.receipt(s.sends[0].CommandID, records.ReceiptFailed, "")
	s.wantSends("push shipped @0s", "sms shipped-sms @1m0s")
}
