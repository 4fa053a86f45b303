package simulate

import (
	"container/heap"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/beckon-dev/beckon/pkg/codec"
	"github.com/beckon-dev/beckon/pkg/journey"
	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/pkg/timeline"
)

// world is what every partition's simulation shares, read-only: the
// journey, the codec and the global lookup tables.
type world struct {
	j          *journey.Journey
	catalog    *draftCatalog
	codec      *codec.Codec
	lookups    map[string]*table // decoded before any partition runs
	from, to   time.Time
	zone       *time.Location // of SendTimes
	samples    int
	maxPayload int
	sends      func(records.SendCommand) // Options.Sends
}

// input is one record of the events or receipts topic, undecoded: a
// partition's window is held in memory while it runs, and bytes are the
// smallest form of it.
type input struct {
	at      time.Time
	receipt bool
	key     []byte
	value   []byte
}

// partition is one partition's window: its inputs in the order they are
// applied, and its co-partitioned tables.
type partition struct {
	id       int32
	inputs   []input
	profiles *table
	facts    map[string]*table // by fact name
}

// merge orders a partition's events and receipts by record timestamp,
// each topic keeping its offset order (as the engine reads it).
func merge(events, receipts []input) []input {
	out := make([]input, 0, len(events)+len(receipts))
	i, j := 0, 0
	for i < len(events) || j < len(receipts) {
		if j == len(receipts) || (i < len(events) && !receipts[j].at.Before(events[i].at)) {
			out = append(out, events[i])
			i++
		} else {
			out = append(out, receipts[j])
			j++
		}
	}
	return out
}

// run simulates one partition: its users' inputs in order, each timer
// at its due time before the first input after it, and the timers due
// before the window ends.
func (w *world) run(ctx context.Context, p *partition) (*tally, error) {
	r := &runner{w: w, p: p, t: newTally(), users: map[string]*journey.User{}, seen: map[string]struct{}{}, armed: map[timerKey]time.Time{}, entered: map[string]time.Time{}}
	for i := range p.inputs {
		if i%1024 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		in := &p.inputs[i]
		at := in.at.Truncate(time.Millisecond)
		// A timer due at the same moment as an input fires after it, as
		// the engine fires the timers due after a transaction's records.
		r.fire(at)
		if err := r.input(ctx, in, at); err != nil {
			return nil, err
		}
	}
	r.fire(w.to)
	r.finish()
	return r.t, nil
}

// timerKey names an armed timer: the engine keys it by user and instance.
type timerKey struct{ user, instance string }

type runner struct {
	w     *world
	p     *partition
	t     *tally
	users map[string]*journey.User
	// seen are the users simulated whose state was dropped (forgettable).
	seen map[string]struct{}
	now  time.Time
	// armed holds each instance's armed timer; due is a heap of them,
	// with stale entries (re-armed or cancelled) skipped when popped.
	armed map[timerKey]time.Time
	due   timerHeap
	// entered is when each instance entered, for SendTimes.SinceEntry.
	entered map[string]time.Time
}

// advance moves the partition's virtual clock to at, never back: the
// engine's clock does not go back either.
func (r *runner) advance(at time.Time) time.Time {
	if at.After(r.now) {
		r.now = at
	}
	return r.now
}

// fire applies the wake-ups of the timers due before until.
func (r *runner) fire(until time.Time) {
	for r.due.Len() > 0 && r.due[0].at.Before(until) {
		d := heap.Pop(&r.due).(dueTimer)
		if at, ok := r.armed[d.key]; !ok || !at.Equal(d.at) {
			continue // re-armed or cancelled since
		}
		delete(r.armed, d.key)
		r.t.in.Timers++
		r.apply(d.key.user, journey.Input{Wake: d.key.instance}, &timeline.Input{Type: "timer"}, r.advance(d.at))
	}
}

// input decodes one record and applies it. A record that cannot be
// decoded, or names another user than its key, is counted and skipped
// (the engine dead-letters it); a registry that does not answer fails
// the run, since retrying later could decode it.
func (r *runner) input(ctx context.Context, in *input, at time.Time) error {
	if in.receipt {
		var rc records.Receipt
		if err := r.w.codec.Decode(ctx, in.value, &rc); err != nil || rc.UserID != string(in.key) {
			return r.undecodable(err)
		}
		r.t.in.Receipts++
		r.apply(rc.UserID, journey.Input{Receipt: &rc}, &timeline.Input{Type: "receipt", ReceiptID: rc.ReceiptID}, r.advance(at))
		return nil
	}
	var ev records.Event
	if err := r.w.codec.Decode(ctx, in.value, &ev); err != nil || ev.UserID != string(in.key) {
		return r.undecodable(err)
	}
	r.t.in.Events++
	r.apply(ev.UserID, journey.Input{Event: &ev}, &timeline.Input{Type: "event", Name: ev.Name, MessageID: ev.MessageID, Timestamp: ev.Timestamp}, r.advance(at))
	return nil
}

func (r *runner) undecodable(err error) error {
	if codec.IsTransient(err) {
		return err
	}
	r.t.in.Undecodable++
	return nil
}

// apply runs the journey semantics on one input of user at now and
// tallies the effects. What goes wrong for the user (an Apply that fails
// or panics on a draft's bug) is recorded as an error of that user, never
// a failure of the run.
func (r *runner) apply(user string, in journey.Input, ti *timeline.Input, now time.Time) {
	u := r.users[user]
	if u == nil {
		u = &journey.User{ID: user}
		r.users[user] = u
	}
	fx, err := r.applySafely(u, in, now)
	if err != nil {
		r.t.errors.add("apply: "+err.Error(), 1)
		return
	}
	if forgettable(u) {
		// As the engine does (engine.storeUser): a user with nothing
		// worth keeping starts afresh on their next input, rate window
		// included.
		delete(r.users, user)
		r.seen[user] = struct{}{}
	}
	for _, tm := range fx.Timers {
		k := timerKey{user, tm.Instance}
		if tm.At.IsZero() {
			delete(r.armed, k)
			continue
		}
		r.armed[k] = tm.At
		heap.Push(&r.due, dueTimer{at: tm.At, key: k})
	}
	r.tallyEffects(&fx, ti)
}

// forgettable says whether the engine keeps no state for u: no instance,
// no entry or send history, no unsubscribe, and fewer events in the rate
// window than the engine's threshold for keeping it (rateKeptFrom in
// pkg/engine).
func forgettable(u *journey.User) bool {
	return len(u.Instances) == 0 && len(u.Entries) == 0 && len(u.Sends) == 0 && len(u.Unsubscribed) == 0 && u.Rate.Count < 10
}

func (r *runner) applySafely(u *journey.User, in journey.Input, now time.Time) (fx journey.Effects, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return journey.Apply(u, in, r.snapshot(u.ID, now), now)
}

// snapshot is what Apply reads about user at now: the tables' rows as
// they stood then.
func (r *runner) snapshot(user string, now time.Time) *journey.Snapshot {
	snap := &journey.Snapshot{
		Catalog:         r.w.catalog,
		MaxPayloadBytes: r.w.maxPayload,
		Lookup:          r.w.lookup(now),
		LoadProfile:     func() (*records.Profile, *time.Location, error) { p, loc := r.profile(user, now); return p, loc, nil },
	}
	for name, t := range r.p.facts {
		v := t.get(user, now)
		if v == nil {
			continue
		}
		if v.decoded == nil {
			v.decoded = r.fact(v.value)
		}
		if f, ok := v.decoded.(factValue); ok {
			if snap.Facts == nil {
				snap.Facts = map[string]any{}
			}
			snap.Facts[name] = f.v
		}
	}
	return snap
}

// factValue is a decoded fact; noRow marks a row that did not decode
// (taken as absent, as the engine does).
type factValue struct{ v any }
type noRow struct{}

func (r *runner) fact(raw []byte) any {
	var f records.Fact
	if err := r.w.codec.Decode(context.Background(), raw, &f); err != nil {
		return noRow{}
	}
	var x any
	if err := json.Unmarshal(f.Value, &x); err != nil {
		return noRow{}
	}
	return factValue{x}
}

type decodedProfile struct {
	p   *records.Profile
	loc *time.Location
}

// profile is the user's profile as of now, nil for none or one that does
// not decode (sends are then skipped: no_profile).
func (r *runner) profile(user string, now time.Time) (*records.Profile, *time.Location) {
	v := r.p.profiles.get(user, now)
	if v == nil {
		return nil, nil
	}
	if v.decoded == nil {
		var p records.Profile
		if err := r.w.codec.Decode(context.Background(), v.value, &p); err != nil {
			v.decoded = noRow{}
		} else {
			var loc *time.Location
			if p.TimeZone != "" {
				loc, _ = time.LoadLocation(p.TimeZone)
			}
			v.decoded = decodedProfile{&p, loc}
		}
	}
	d, ok := v.decoded.(decodedProfile)
	if !ok {
		return nil, nil
	}
	return d.p, d.loc
}

// lookup is the lookup port as of now.
func (w *world) lookup(now time.Time) func(table, key string) (map[string]any, bool, error) {
	return func(name, key string) (map[string]any, bool, error) {
		t, ok := w.lookups[name]
		if !ok {
			return nil, false, fmt.Errorf("%w %q", journey.ErrNoTable, name)
		}
		v := t.get(key, now)
		if v == nil {
			return nil, false, nil
		}
		row, ok := v.decoded.(map[string]any)
		return row, ok, nil
	}
}

// finish counts the instances still running at the window's end and
// completes the sample timelines.
func (r *runner) finish() {
	for u := range r.users {
		r.seen[u] = struct{}{}
	}
	r.t.in.Users = int64(len(r.seen))
	for _, u := range r.users {
		for _, inst := range u.Instances {
			if inst.Journey == r.w.j.Def.ID && inst.Step != "" {
				r.t.active++
				if s := r.t.sample(inst.ID); s != nil {
					s.Status, s.Step = "active", inst.Step
				}
			}
		}
	}
}

// dueTimer is an armed timer in the heap.
type dueTimer struct {
	at  time.Time
	key timerKey
}

// timerHeap orders timers by due time, then user and instance, so that
// timers due at the same moment fire in the same order on every run.
type timerHeap []dueTimer

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	if h[i].key.user != h[j].key.user {
		return h[i].key.user < h[j].key.user
	}
	return h[i].key.instance < h[j].key.instance
}
func (h timerHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)   { *h = append(*h, x.(dueTimer)) }
func (h *timerHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
