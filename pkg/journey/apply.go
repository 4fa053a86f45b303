package journey

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/beckon-dev/beckon/pkg/records"
)

// Input is one thing that happened to a user: an event, a receipt, or an
// instance's wake-up time coming.
type Input struct {
	Event   *records.Event
	Receipt *records.Receipt
	// Wake is the ID of an instance whose timer fired.
	Wake string
	// TraceID and SpanID are the input's trace context (its record's
	// traceparent header, or the timer's): an instance's steps link to
	// it, activities outside any instance carry it.
	TraceID, SpanID string
}

// Catalog is the set of journeys the engine knows: what the pure function
// needs of the journeys topic.
type Catalog interface {
	// Current returns the current version of every live or paused
	// journey, in a stable order: those whose trigger an event may match
	// (a paused one records that it skipped the entry).
	Current() []*Journey
	// Version returns one version of a journey (running instances are
	// pinned to theirs), nil if unknown.
	Version(id string, version int32) *Journey
	// State returns the journey's lifecycle state.
	State(id string) records.JourneyState
}

// Snapshot is everything Apply reads besides the user's state, as of one
// input: the journey catalog, the user's profile and facts, and a port to
// the lookup tables. The engine builds one per input and nothing changes
// it while Apply runs, so a journey published meanwhile never shows
// half-way through one Apply (a paused journey listed as current, a
// version missing from the catalog that listed it).
type Snapshot struct {
	// Catalog is the journeys as of this input; it must not change during
	// Apply.
	Catalog Catalog
	// Profile is the user's profile; nil when the engine has none.
	Profile *records.Profile
	// LoadProfile, when set, is the port Profile and Location are read
	// through instead, once, the first time Apply needs them: most inputs
	// (an event that updates a waiting cart) read neither, and the engine
	// then does not read or decode the profile at all. It returns nil for
	// no profile; an error says the profile could not be read, and stops
	// Apply as a Lookup error does.
	LoadProfile func() (*records.Profile, *time.Location, error)
	// Facts holds the user's facts by name.
	Facts map[string]any
	// Location is the profile's time zone, resolved by the engine; nil
	// when the profile has none (the journey's policies.time_zone
	// applies).
	Location *time.Location
	// Lookup is the port to the lookup tables, for send steps' lookups:
	// the row of table with key (its attributes), found false when the
	// table has no such row (the send's missing policy applies). An error
	// says the row could not be read (a store or registry that did not
	// answer): Apply stops and returns it, so the engine retries the input
	// instead of deciding on data it could not see. ErrNoTable (wrapped)
	// says the table is not configured: retrying cannot fix that, so it is
	// recorded as an error of the instance. Nil: no lookup tables.
	Lookup func(table, key string) (row map[string]any, found bool, err error)
	// MaxPayloadBytes caps a send command's payload; a larger one is not
	// sent (an error activity says so). Default DefaultMaxPayloadBytes.
	MaxPayloadBytes int

	// keys are the entry keys Touches evaluated for an event, which Apply
	// of the same event reuses instead of evaluating them again.
	keys *eventKeys
}

// eventKeys are the entry keys of one event, by journey, and its
// properties as checked for them.
type eventKeys struct {
	ev    *records.Event
	keys  map[entryKeyOf]entryKeyResult
	props *propsOfEvent
}

// ErrNoTable is what a Lookup port returns (wrapped) for a table it does
// not have: a journey that reads a table the deployment does not
// configure. It is permanent, so Apply records it on the instance instead
// of failing the input.
var ErrNoTable = errors.New("no such lookup table")

// DefaultMaxPayloadBytes is the default cap of a send's payload.
const DefaultMaxPayloadBytes = 64 << 10

// Effects are what Apply asks the engine to do, in order.
type Effects struct {
	Sends      []records.SendCommand
	Activities []records.Activity
	Handoffs   []records.Handoff
	// Timers are the wake-ups to arm or cancel, one at most per instance.
	Timers []Timer
}

// Timer is an intent about an instance's wake-up: arm it to fire at At
// (replacing one armed before), or cancel it when At is zero. When it
// fires, the engine applies Input{Wake: Instance}.
type Timer struct {
	Instance string
	At       time.Time
	// TraceParent is the W3C traceparent of the step span that armed the
	// timer, for the span of its wake-up to link to.
	TraceParent string
}

// Limits of the pure function.
const (
	// DefaultMaxInstances caps a user's simultaneous instances of one
	// journey unless the journey says otherwise.
	DefaultMaxInstances = 25
	// DefaultMaxEventsPerMinute is the per-user event-rate guard.
	DefaultMaxEventsPerMinute = 600
	// DefaultMaxResets bounds a hold's timer resets.
	DefaultMaxResets = 100
	// DefaultSendDeadline is how long a send command stays deliverable.
	DefaultSendDeadline = 24 * time.Hour
	// DefaultMaxWait bounds how long a send waits for missing data
	// (missing: wait).
	DefaultMaxWait = time.Hour
	// missingRecheck is how often a send waiting for missing data looks
	// again.
	missingRecheck = time.Minute
	// DefaultMaxLateness bounds how late a send held by a pause may go
	// out on resume (policies.paused.max_lateness).
	DefaultMaxLateness = 24 * time.Hour
	// PausedRecheck is how often a waiting instance of a paused journey
	// checks whether it was resumed.
	PausedRecheck = time.Minute
	// maxStepsPerInput bounds the steps one input may run through, a
	// guard behind validation's no-loop-without-a-wait rule.
	maxStepsPerInput = 100
	// maxSessions bounds the session IDs kept for once_per_session.
	maxSessions = 20
)

// Apply moves user u's journeys on input in at time now: the running
// instances first (exit rules, goals, state rules, the step they wait in),
// then entries into live journeys. It changes u in place and returns the
// effects, timer intents included. It is deterministic: the same user,
// input, snapshot and now give the same result.
//
// An error means a port of the snapshot could not read (see
// Snapshot.Lookup): the input was not applied, u is left half-changed and
// must be discarded, and the input should be retried on the stored state.
// Everything else that can go wrong with one instance (an expression over
// its limits, a missing row, a payload too large) is an effect: an
// activity that says so.
func Apply(u *User, in Input, snap *Snapshot, now time.Time) (Effects, error) {
	a := &applier{u: u, in: in, env: snap, now: now}
	if k := snap.keys; k != nil && in.Event != nil && k.ev == in.Event {
		a.keys = k.keys
		if k.props != nil && k.props.ev == in.Event {
			a.props = k.props
		}
	}
	if a.checkLoaded(); a.err != nil {
		return Effects{}, a.err
	}
	switch {
	case in.Wake != "":
		if inst := u.instance(in.Wake); inst != nil {
			// The timer that fired is gone.
			inst.TimerAt = time.Time{}
		}
		a.wake(in.Wake)
	case in.Event != nil:
		a.event(in.Event)
	case in.Receipt != nil:
		a.receipt(in.Receipt)
	}
	if a.err != nil {
		return Effects{}, a.err
	}
	a.fx.Timers = timers(a.fx.Timers, a.u.Instances)
	a.traceTimers()
	a.u.Instances = slices.DeleteFunc(a.u.Instances, func(i *Instance) bool { return i.Step == "" })
	return a.fx, nil
}

// timers appends the timer intents that keep instances' wake-ups armed
// and records them in TimerAt. Timers are armed lazily: only when an
// instance has none, or its wake-up moved earlier than the armed one. A
// later wake-up (a hold reset on every cart change) keeps the armed
// timer, which fires early, finds the instance not due and is re-armed
// then: one timer write per wait instead of three changelog writes per
// reset. An instance that now waits for events only keeps its timer too,
// to fire and find nothing; an ended one has its timer cancelled.
func timers(out []Timer, instances []*Instance) []Timer {
	for _, inst := range instances {
		switch {
		case inst.Step == "":
			if !inst.TimerAt.IsZero() {
				out = append(out, Timer{Instance: inst.ID})
				inst.TimerAt = time.Time{}
			}
		case inst.WakeAt.IsZero():
		case inst.TimerAt.IsZero() || inst.TimerAt.After(inst.WakeAt):
			out = append(out, Timer{Instance: inst.ID, At: inst.WakeAt})
			inst.TimerAt = inst.WakeAt
		}
	}
	return out
}

// applier carries one Apply call.
type applier struct {
	u   *User
	in  Input
	env *Snapshot
	now time.Time
	fx  Effects
	// err is a port's failure to read: the input cannot be applied (see
	// Apply). Once set, nothing more runs.
	err error
	// Views of the inputs for CEL, built once per Apply: the profile,
	// each event, each instance's items (dropped when they change), and
	// each journey's entry key of each event.
	profile map[string]any
	// user is the profile and its time zone, once read (userProfile).
	user   *loadedProfile
	events map[*records.Event]map[string]any
	items  map[*Instance][]any
	keys   map[entryKeyOf]entryKeyResult
	// props is the last event's properties, checked once (propsOf).
	props *propsOfEvent
	// spans are the step spans opened so far (see span).
	spans []stepSpan
}

type propsOfEvent struct {
	ev *records.Event
	p  eventProps
}

type entryKeyOf struct {
	j  *Journey
	ev *records.Event
}

type entryKeyResult struct {
	key string
	err error
}

type loadedProfile struct {
	p   *records.Profile
	loc *time.Location
}

// userProfile returns the user's profile (nil: none) and its time zone
// (nil: none), read through the snapshot's LoadProfile port on first use.
func (a *applier) userProfile() (*records.Profile, *time.Location) {
	if a.user == nil {
		a.user = &loadedProfile{p: a.env.Profile, loc: a.env.Location}
		if load := a.env.LoadProfile; load != nil {
			p, loc, err := load()
			if err != nil {
				if a.err == nil {
					a.err = fmt.Errorf("read the profile: %w", err)
				}
				p, loc = nil, nil
			}
			a.user.p, a.user.loc = p, loc
		}
	}
	return a.user.p, a.user.loc
}

// journeyOf returns the version inst is pinned to.
func (a *applier) journeyOf(inst *Instance) *Journey {
	return a.env.Catalog.Version(inst.Journey, inst.Version)
}

// event runs an event through the user's instances, then entries.
func (a *applier) event(ev *records.Event) {
	limited := a.rateLimited()
	for _, inst := range slices.Clone(a.u.Instances) {
		if a.err != nil {
			return
		}
		if inst.stub {
			continue // untouched (checkLoaded)
		}
		j := a.journeyOf(inst)
		if j == nil {
			a.end(inst, nil, "journey version unknown")
			continue
		}
		if limited > j.maxEventsPerMinute() {
			continue
		}
		a.eventForInstance(j, inst, ev)
	}
	for _, j := range a.env.Catalog.Current() {
		if a.err != nil {
			return
		}
		if limited > j.maxEventsPerMinute() {
			a.rateActivity(j, limited)
			continue
		}
		a.enter(j, ev)
	}
}

// rateLimited counts the event in the user's minute window and returns
// the count so far.
func (a *applier) rateLimited() int {
	r := &a.u.Rate
	if r.Start.IsZero() || a.now.Sub(r.Start) >= time.Minute || a.now.Before(r.Start) {
		r.Start, r.Count = a.now, 0
	}
	r.Count++
	return r.Count
}

// rateActivity records, once per window and journey, that the user's
// events are being dropped.
func (a *applier) rateActivity(j *Journey, count int) {
	if count != j.maxEventsPerMinute()+1 {
		return
	}
	a.userActivity(j, records.ActivitySkipped, "rate_limited", map[string]any{"events_per_minute": count})
}

func (j *Journey) maxEventsPerMinute() int {
	if n := j.Def.Policies.MaxEventsPerMinute; n > 0 {
		return n
	}
	return DefaultMaxEventsPerMinute
}

// eventForInstance applies an event to one running instance.
func (a *applier) eventForInstance(j *Journey, inst *Instance, ev *records.Event) {
	key, keyErr := a.entryKey(j, ev)
	sameKey := keyErr == nil && key == inst.EntryKey
	state := a.env.Catalog.State(j.Def.ID)
	// The goal comes before the exit rules: a journey that also exits on
	// its goal event (exit on Order Completed, goal Order Completed) must
	// still count the conversion.
	if g := j.Def.Goal; g != nil && g.Event == ev.Name && (sameKey || g.AnyKey) && a.holds(j, inst, g.When, ev, nil, "goal") {
		if within := j.Duration(g.Within); within == 0 || a.now.Sub(inst.EnteredAt) <= within {
			a.activity(j, inst, records.ActivityConverted, "goal "+ev.Name, map[string]any{"after_seconds": int64(a.now.Sub(inst.EnteredAt) / time.Second)})
			if !g.Continue {
				a.end(inst, j, "converted")
				return
			}
		}
	}
	for _, x := range j.Def.Exit {
		if x.Event == ev.Name && (sameKey || x.AnyKey) && a.holds(j, inst, x.When, ev, nil, "exit") {
			a.end(inst, j, "exit event "+ev.Name)
			return
		}
	}
	for i := range j.Def.State {
		r := &j.Def.State[i]
		if r.On == ev.Name && (sameKey || r.AnyKey) {
			a.applyStateRule(j, inst, r, ev)
		}
	}
	if state == records.JourneyArchived {
		a.end(inst, j, "journey archived")
		return
	}
	st, _, ok := j.Step(inst.Step)
	if !ok || st.Hold == nil || inst.Held != "" {
		return
	}
	h := st.Hold
	if h.Event != "" && h.Event == ev.Name && (sameKey || h.AnyKey) && a.holds(j, inst, h.When, ev, nil, "steps."+st.ID+".hold.when") {
		if state != records.JourneyLive {
			// A paused journey's instances hold their place.
			return
		}
		inst.WakeAt = time.Time{}
		a.activity(j, inst, records.ActivityStepCompleted, "event "+ev.Name, nil)
		a.run(j, inst, orNext(j, inst.Step, h.OnEvent), ev)
		return
	}
	if slices.Contains(h.ResetOn, ev.Name) && sameKey {
		max := h.MaxResets
		if max == 0 {
			max = DefaultMaxResets
		}
		if inst.Resets >= max {
			return
		}
		inst.Resets++
		inst.WakeAt = a.now.Add(j.Duration(h.Timeout))
		a.activity(j, inst, records.ActivityWaiting, "timer reset by "+ev.Name, map[string]any{"until": inst.WakeAt, "resets": inst.Resets})
	}
}

// receipt moves instances waiting for a receipt of one of their sends and
// records the status on the send.
func (a *applier) receipt(rc *records.Receipt) {
	if rc.Status == records.ReceiptUnsubscribed {
		channel := rc.Channel
		for _, inst := range a.u.Instances {
			if m := inst.sent(rc.CommandID); channel == "" && m != nil {
				channel = m.Channel
			}
		}
		if channel != "" && !slices.Contains(a.u.Unsubscribed, channel) {
			a.u.Unsubscribed = append(a.u.Unsubscribed, channel)
		}
	}
	known := false
	for _, inst := range slices.Clone(a.u.Instances) {
		if a.err != nil {
			return
		}
		j := a.journeyOf(inst)
		if j == nil {
			continue
		}
		sent := inst.sent(rc.CommandID)
		if sent == nil {
			continue
		}
		known = true
		sent.Status = string(rc.Status)
		if rc.Status == records.ReceiptReplied {
			inst.Replies = append(inst.Replies, records.ConversationMessage{Direction: records.Inbound, Text: rc.ReplyText, At: rc.OccurredAt, CommandID: rc.CommandID})
		}
		st, _, ok := j.Step(inst.Step)
		if !ok || st.WaitReceipt == nil || inst.Held != "" {
			continue
		}
		w := st.WaitReceipt
		if waitedFor := inst.lastSendOf(w.Of); waitedFor == nil || waitedFor.CommandID != rc.CommandID {
			continue
		}
		next, matched := a.receiptTarget(j, inst, w, rc)
		if !matched {
			continue
		}
		if a.env.Catalog.State(j.Def.ID) != records.JourneyLive {
			continue
		}
		inst.Receipt = &ReceiptSeen{CommandID: rc.CommandID, Status: string(rc.Status), Text: rc.ReplyText, At: rc.OccurredAt}
		inst.WakeAt = time.Time{}
		a.activity(j, inst, records.ActivityStepCompleted, "receipt "+string(rc.Status), nil)
		a.run(j, inst, orNext(j, inst.Step, next), nil)
	}
	if !known && rc.CommandID != "" && rc.Status != records.ReceiptUnsubscribed {
		// The command's instance has ended (or never existed): nothing
		// waits for it. Say so rather than drop it silently.
		a.fx.Activities = append(a.fx.Activities, records.Activity{
			ActivityID: "receipt-" + rc.ReceiptID, UserID: a.u.ID, Kind: records.ActivitySkipped,
			Reason: "receipt " + string(rc.Status) + " for command " + rc.CommandID + ", which no running instance sent",
			At:     a.now, TraceID: a.in.TraceID, SpanID: a.in.SpanID,
		})
	}
}

// receiptTarget picks where a receipt leads from a wait_receipt step: a
// reply case first, then the status map.
func (a *applier) receiptTarget(j *Journey, inst *Instance, w *WaitReceipt, rc *records.Receipt) (string, bool) {
	if rc.Status == records.ReceiptReplied {
		seen := &ReceiptSeen{CommandID: rc.CommandID, Status: string(rc.Status), Text: rc.ReplyText, At: rc.OccurredAt}
		for i, c := range w.Replies {
			if a.holdsReceipt(j, inst, c.When, seen, fmt.Sprintf("steps.%s.wait_receipt.replies[%d].when", inst.Step, i)) {
				return c.Next, true
			}
		}
	}
	next, ok := w.On[string(rc.Status)]
	return next, ok
}

// wake handles an instance's timer.
func (a *applier) wake(id string) {
	inst := a.u.instance(id)
	if inst == nil || inst.WakeAt.IsZero() || a.now.Before(inst.WakeAt) {
		return // a stale timer: the instance ended or re-armed
	}
	j := a.journeyOf(inst)
	if j == nil {
		a.end(inst, nil, "journey version unknown")
		return
	}
	switch a.env.Catalog.State(j.Def.ID) {
	case records.JourneyArchived:
		a.end(inst, j, "journey archived")
		return
	case records.JourneyLive:
	default: // paused, has-errors, draft: hold the place, look again later
		if inst.Held != "paused" {
			inst.Due = inst.WakeAt
			inst.Held = "paused"
			a.activity(j, inst, records.ActivityWaiting, "journey paused", nil)
		}
		inst.WakeAt = a.now.Add(PausedRecheck)
		return
	}
	st, _, ok := j.Step(inst.Step)
	if !ok {
		a.end(inst, j, "step "+inst.Step+" no longer exists")
		return
	}
	inst.WakeAt = time.Time{}
	if inst.Held == "paused" {
		// Resumed: inst.Due keeps when the step came due, for the send
		// that follows (policies.paused).
		inst.Held = ""
	}
	switch {
	case st.Send != nil:
		// A send held by its delivery window or a cap: try again.
		a.run(j, inst, inst.Step, nil)
	case st.Delay != nil:
		a.activity(j, inst, records.ActivityStepCompleted, "delay over", nil)
		a.run(j, inst, j.NextOf(stepIndex(j, st.ID)), nil)
	case st.Hold != nil:
		a.activity(j, inst, records.ActivityStepCompleted, "hold timed out", nil)
		a.run(j, inst, orNext(j, st.ID, st.Hold.OnTimeout), nil)
	case st.WaitReceipt != nil:
		a.activity(j, inst, records.ActivityStepCompleted, "receipt wait timed out", nil)
		a.run(j, inst, orNext(j, st.ID, st.WaitReceipt.OnTimeout), nil)
	default:
		a.run(j, inst, inst.Step, nil)
	}
}

// orNext returns target, or the step after from when target is empty.
func orNext(j *Journey, from, target string) string {
	if target != "" {
		return target
	}
	return j.NextOf(stepIndex(j, from))
}

func stepIndex(j *Journey, id string) int {
	_, i, _ := j.Step(id)
	return i
}

func (u *User) instance(id string) *Instance {
	for _, inst := range u.Instances {
		if inst.ID == id {
			return inst
		}
	}
	return nil
}

// sent returns the instance's send with this command ID.
func (inst *Instance) sent(commandID string) *SentMessage {
	if commandID == "" {
		return nil
	}
	for i := range inst.Sends {
		if inst.Sends[i].CommandID == commandID {
			return &inst.Sends[i]
		}
	}
	return nil
}

// lastSendOf returns the latest send of step.
func (inst *Instance) lastSendOf(step string) *SentMessage {
	for i := len(inst.Sends) - 1; i >= 0; i-- {
		if inst.Sends[i].Step == step {
			return &inst.Sends[i]
		}
	}
	return nil
}

// end finishes an instance; j may be nil when its version is gone.
func (a *applier) end(inst *Instance, j *Journey, reason string) {
	if inst.Step == "" {
		return
	}
	a.activity(j, inst, records.ActivityExited, reason, nil)
	inst.Step, inst.WakeAt, inst.Held, inst.Due = "", time.Time{}, "", time.Time{}
}
