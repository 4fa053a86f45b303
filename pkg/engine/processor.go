package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/beckon-dev/beckon/pkg/journey"
	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/pkg/stream"
)

// The engine's keys in the partition store: a user's journey state under
// the user ID, and one timer per waiting instance under user\x00instance.

func timerKey(user, instance string) []byte {
	return append(append([]byte(user), 0), instance...)
}

func splitTimerKey(k []byte) (user, instance string, ok bool) {
	i := bytes.IndexByte(k, 0)
	if i < 0 {
		return "", "", false
	}
	return string(k[:i]), string(k[i+1:]), true
}

// process is the engine's stream processor: decode the input, load the
// user's journey state, apply the journey semantics, store the new state,
// re-arm the instances' timers, and emit the effects.
func (e *Engine) process(c *stream.Context, m stream.Message) error {
	ctx := context.Background()
	var in journey.Input
	var user string
	switch {
	case m.Kind == stream.KindTimer:
		u, inst, ok := splitTimerKey(m.Key)
		if !ok {
			return fmt.Errorf("timer key %q: not user\\x00instance", m.Key)
		}
		user, in.Wake = u, inst
	case m.Topic == e.topics.events:
		var ev records.Event
		if err := e.codec.Decode(ctx, m.Value, &ev); err != nil {
			return fmt.Errorf("decode event: %w", err)
		}
		// The key placed the record on its partition: the body's user ID
		// must be it, or the user's state would be read on another
		// partition than the one that holds it.
		if err := checkKey(m.Key, ev.UserID, "user ID"); err != nil {
			return fmt.Errorf("event %q (%s): %w", ev.Name, ev.MessageID, err)
		}
		user, in.Event = ev.UserID, &ev
		in.TraceID, in.SpanID = traceContext(m.Headers)
	case m.Topic == e.topics.receipts:
		var rc records.Receipt
		if err := e.codec.Decode(ctx, m.Value, &rc); err != nil {
			return fmt.Errorf("decode receipt: %w", err)
		}
		if err := checkKey(m.Key, rc.UserID, "user ID"); err != nil {
			return fmt.Errorf("receipt %s: %w", rc.ReceiptID, err)
		}
		user, in.Receipt = rc.UserID, &rc
		in.TraceID, in.SpanID = traceContext(m.Headers)
	default:
		return fmt.Errorf("message from unexpected topic %q", m.Topic)
	}

	u, stored, err := e.loadUser(c, user)
	if err != nil {
		return err
	}
	if in.Wake != "" {
		// The runtime removed the fired timer.
		for _, inst := range u.Instances {
			if inst.ID == in.Wake {
				inst.TimerAt = time.Time{}
			}
		}
	}
	env, err := e.env(c, user)
	if err != nil {
		return err
	}
	// Stored times have millisecond resolution, like the timers.
	fx := journey.Apply(u, in, env, c.Now().Truncate(time.Millisecond))
	if err := e.storeUser(c, u, stored); err != nil {
		return err
	}
	return e.emit(c, fx)
}

// loadUser reads the user's journey state; stored is its encoding as
// read (nil for a new user).
func (e *Engine) loadUser(c *stream.Context, user string) (*journey.User, []byte, error) {
	u := &journey.User{ID: user}
	v, ok, err := c.Get([]byte(user))
	if err != nil {
		return nil, nil, stream.Retryable(err)
	}
	if ok {
		if err := u.UnmarshalBinary(v); err != nil {
			return nil, nil, fmt.Errorf("stored journey state of user %q: %w", user, err)
		}
	}
	return u, v, nil
}

// storeUser arms the instances' timers and writes the state back if it
// changed. Timers are armed lazily: only when an instance has none, or its
// wake-up moved earlier than the armed one. A later wake-up (a hold reset
// on every cart change) keeps the armed timer, which fires early, finds
// the instance not due and is re-armed then: one timer write per wait
// instead of three changelog writes per reset. Timers of ended instances
// are left to fire and find nothing.
func (e *Engine) storeUser(c *stream.Context, u *journey.User, stored []byte) error {
	for _, inst := range u.Instances {
		if inst.WakeAt.IsZero() || (!inst.TimerAt.IsZero() && !inst.TimerAt.After(inst.WakeAt)) {
			continue
		}
		if err := c.Schedule(timerKey(u.ID, inst.ID), inst.WakeAt, nil); err != nil {
			return stream.Retryable(err)
		}
		inst.TimerAt = inst.WakeAt
	}
	if len(u.Instances) == 0 && len(u.Entries) == 0 && len(u.Sends) == 0 && len(u.Unsubscribed) == 0 && u.Rate.Count < rateKeptFrom {
		// Nothing worth keeping for a user no journey has seen: most
		// events are of such users, and they cost no state write.
		if stored != nil {
			c.Delete([]byte(u.ID))
		}
		return nil
	}
	b, err := u.MarshalBinary()
	if err != nil {
		return fmt.Errorf("encode journey state of user %q: %w", u.ID, err)
	}
	if !bytes.Equal(b, stored) {
		c.Set([]byte(u.ID), b)
	}
	return nil
}

// rateKeptFrom is the count of a user's events in a minute from which the
// engine keeps the rate window of a user without journey state, so the
// event-rate guard still sees a flood from such a user.
const rateKeptFrom = 10

// env gathers what the journey semantics read about the user.
func (e *Engine) env(c *stream.Context, user string) (*journey.Env, error) {
	ctx := context.Background()
	env := &journey.Env{Catalog: e.catalog, MaxPayloadBytes: e.cfg.MaxPayloadBytes}
	env.Lookup = func(table, key string) (map[string]any, bool, error) {
		topic, ok := e.topics.lookups[table]
		if !ok {
			return nil, false, fmt.Errorf("no lookup table %q (configure it: --lookups)", table)
		}
		v, ok, err := c.Lookup(topic, []byte(key))
		if err != nil || !ok {
			return nil, false, err
		}
		var rec records.LookupRecord
		if err := e.codec.Decode(ctx, v, &rec); err != nil {
			// An undecodable row is as good as a missing one: the
			// journey's missing-data policy applies, and the log says why.
			e.log.Warn("undecodable lookup row", "table", table, "key", key, "err", err)
			return nil, false, nil
		}
		row, err := rec.Attributes.Map()
		if err != nil {
			e.log.Warn("lookup row attributes are not a JSON object", "table", table, "key", key, "err", err)
			return nil, false, nil
		}
		row["id"] = rec.ID
		return row, true, nil
	}
	v, ok, err := c.Lookup(e.topics.profiles, []byte(user))
	if err != nil {
		return nil, stream.Retryable(err)
	}
	if ok {
		p, loc, err := e.profiles.get(ctx, e.codec, user, v, e.location)
		if err != nil {
			// A bad profile record must not block the user's journeys:
			// they run as without a profile (sends are skipped and say
			// so).
			e.log.Warn("undecodable profile", "user", user, "err", err)
		} else {
			env.Profile, env.Location = p, loc
		}
	}
	for name, topic := range e.topics.facts {
		v, ok, err := c.Lookup(topic, []byte(user))
		if err != nil {
			return nil, stream.Retryable(err)
		}
		if !ok {
			continue
		}
		var f records.Fact
		if err := e.codec.Decode(ctx, v, &f); err != nil {
			e.log.Warn("undecodable fact", "user", user, "fact", name, "err", err)
			continue
		}
		var x any
		if err := json.Unmarshal(f.Value, &x); err == nil {
			if env.Facts == nil {
				env.Facts = map[string]any{}
			}
			env.Facts[name] = x
		}
	}
	return env, nil
}

// location resolves a profile's time zone once per name; nil for an
// unknown or empty name (the journey's zone applies).
func (e *Engine) location(name string) *time.Location {
	if name == "" {
		return nil
	}
	if loc, ok := e.zones.Load(name); ok {
		return loc.(*time.Location)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil
	}
	e.zones.Store(name, loc)
	return loc
}

// emit produces the effects in the transaction.
func (e *Engine) emit(c *stream.Context, fx journey.Effects) error {
	ctx := context.Background()
	for i := range fx.Sends {
		s := &fx.Sends[i]
		topic, ok := e.topics.send[s.Channel]
		if !ok {
			return fmt.Errorf("send command %s: no topic for channel %q", s.CommandID, s.Channel)
		}
		var headers []stream.Header
		if s.TraceParent != "" {
			headers = append(headers, stream.Header{Key: "traceparent", Value: []byte(s.TraceParent)})
		}
		b, err := e.codec.Encode(ctx, topic, s)
		if err != nil {
			return fmt.Errorf("encode send command %s: %w", s.CommandID, err)
		}
		c.Emit(topic, []byte(s.UserID), b, headers...)
	}
	for i := range fx.Activities {
		b, err := e.codec.Encode(ctx, e.topics.activity, &fx.Activities[i])
		if err != nil {
			return fmt.Errorf("encode activity: %w", err)
		}
		c.Emit(e.topics.activity, []byte(fx.Activities[i].UserID), b)
	}
	for i := range fx.Handoffs {
		b, err := e.codec.Encode(ctx, e.topics.handoff, &fx.Handoffs[i])
		if err != nil {
			return fmt.Errorf("encode hand-off: %w", err)
		}
		c.Emit(e.topics.handoff, []byte(fx.Handoffs[i].UserID), b)
	}
	return nil
}
