package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/beckon-dev/beckon/pkg/codec"
	"github.com/beckon-dev/beckon/pkg/journey"
	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/pkg/stream"
	"github.com/beckon-dev/beckon/pkg/timeline"
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

// partition is what the engine reads and writes of the partition a
// message belongs to: the runtime's *stream.Context, behind an interface
// so that a test can make a store read fail.
type partition interface {
	Now() time.Time
	Partition() int32
	Get(key []byte) ([]byte, bool, error)
	View(key []byte) ([]byte, bool, error)
	Set(key, value []byte)
	Delete(key []byte)
	DeletePrefix(prefix []byte) error
	CancelPrefix(prefix []byte) error
	Lookup(table string, key []byte) ([]byte, bool, error)
	Schedule(key []byte, due time.Time, payload []byte) error
	Cancel(key []byte) error
	Emit(topic string, key, value []byte, headers ...stream.Header)
	AfterCommit(f func())
	TraceContext() context.Context
}

var _ partition = (*stream.Context)(nil)

// handle is the engine's stream processor: process the message, then
// classify its failure, once, here (see classify).
func (e *Engine) handle(c partition, m stream.Message) error {
	if processFault != nil {
		if err := processFault(m); err != nil {
			return e.classify(m, err)
		}
	}
	return e.classify(m, e.process(c, m))
}

// processFault, when a test sets it (export_test.go), is asked before
// each message is processed and fails it with the error it returns: a
// transient failure of one message aborts the transaction of the others.
var processFault func(stream.Message) error

// classify gives a message's failure its class. Transient (a store read
// or the schema registry that did not answer, marked stream.Retryable
// where it happened or a codec.IsTransient error): the runtime aborts the
// transaction and retries it after its backoff, so the message is applied
// later to the same state, once the fault clears; it is logged here with
// its cause. Everything else is permanent (bytes that cannot be decoded,
// an input the engine cannot place): the runtime dead-letters the message
// with the error as its reason and goes on. What goes wrong with one
// journey instance (an expression over its limits, a payload too large)
// is not a failure of the message: the semantics record it as an error
// activity of that instance.
func (e *Engine) classify(m stream.Message, err error) error {
	if err == nil {
		return nil
	}
	if !stream.IsRetryable(err) {
		if !codec.IsTransient(err) {
			return err
		}
		err = stream.Retryable(err)
	}
	e.log.WarnContext(m.Context(), "transient failure: the transaction will be retried", "kind", m.Kind, "topic", m.Topic, "partition", m.Partition, "offset", m.Offset, "err", err)
	return err
}

// process decodes the input, loads the user's journey state, applies the
// journey semantics to a snapshot of what they read, stores the new
// state, and carries out the effects (timers and records).
func (e *Engine) process(c partition, m stream.Message) error {
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
		in.TraceID, in.SpanID = timerTrace(m.Value)
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
	case m.Topic == e.topics.forget:
		return e.forget(c, m)
	default:
		return fmt.Errorf("message from unexpected topic %q", m.Topic)
	}
	return e.apply(c, user, in)
}

// apply runs the journey semantics on one input of user and carries out
// their effects.
func (e *Engine) apply(c partition, user string, in journey.Input) error {
	snap, err := e.snapshot(c, user)
	if err != nil {
		return err
	}
	u, stored, err := e.loadUser(c, user, func(u *journey.User) []bool { return journey.Touches(u, in, snap) })
	if err != nil {
		return err
	}
	// Stored times have millisecond resolution, like the timers.
	fx, err := journey.Apply(u, in, snap, c.Now().Truncate(time.Millisecond))
	if errors.Is(err, journey.ErrNotLoaded) {
		return fmt.Errorf("apply user %q: %w", user, err) // a bug: retrying cannot fix it
	}
	if err != nil {
		// Only a port that could not read fails Apply: the input is
		// retried on the stored state (u is discarded).
		return stream.Retryable(fmt.Errorf("apply user %q: %w", user, err))
	}
	if e.tracing != nil {
		e.tracing.record(c, user, in, &fx)
	}
	if err := e.timers(c, user, fx.Timers); err != nil {
		return err
	}
	if err := e.storeUser(c, u, stored); err != nil {
		return err
	}
	return e.emit(c, in, fx)
}

// storedUser is a user's state as read: the head (nil for a new user) and
// the encoding of each instance read (unpacked, journey.MarshalInstance's
// form), so that storeUser writes only what changed.
type storedUser struct {
	head      []byte
	instances []storedInstance
}

type storedInstance struct {
	id  string
	raw []byte
}

// raw returns the stored encoding of instance id, ok false if it was not
// read.
func (st *storedUser) raw(id string) (raw []byte, ok bool) {
	for _, si := range st.instances {
		if si.id == id {
			return si.raw, true
		}
	}
	return nil, false
}

// loadUser reads the user's journey state: the head under the user's key
// and the instances under their own keys (instanceKey). A head written
// before instances were stored apart is the whole user; it is read as
// such and rewritten in the split form on its first change. With touches
// (journey.Touches of the input) and a head that summarises its
// instances, only the instances the input touches are read; the others
// stay stubs, which Apply leaves and storeUser does not write. Without
// touches every instance is read.
func (e *Engine) loadUser(c partition, user string, touches func(*journey.User) []bool) (*journey.User, storedUser, error) {
	u := &journey.User{ID: user}
	// View, not Get: the state is decoded, never modified, so the copy
	// Get makes is not needed (the decoded strings share the record).
	v, ok, err := c.View([]byte(user))
	if err != nil {
		return nil, storedUser{}, stream.Retryable(fmt.Errorf("read journey state of user %q: %w", user, err))
	}
	if !ok {
		return u, storedUser{}, nil
	}
	st := storedUser{head: v}
	if !journey.IsHead(v) {
		if err := u.UnmarshalBinary(v); err != nil {
			return nil, storedUser{}, fmt.Errorf("stored journey state of user %q: %w", user, err)
		}
		return u, st, nil
	}
	ids, stubs, err := u.UnmarshalHeadStubs(v)
	if err != nil {
		return nil, storedUser{}, fmt.Errorf("stored journey state of user %q: %w", user, err)
	}
	var touched []bool
	if stubs != nil {
		u.Instances = stubs
		if touches != nil {
			touched = touches(u)
		}
	} else {
		u.Instances = make([]*journey.Instance, 0, len(ids))
	}
	st.instances = make([]storedInstance, 0, len(ids))
	for i, id := range ids {
		if touched != nil && !touched[i] {
			continue // a stub
		}
		b, ok, err := c.View(instanceKey(user, id))
		if err != nil {
			return nil, storedUser{}, stream.Retryable(fmt.Errorf("read journey instance %s of user %q: %w", id, user, err))
		}
		if !ok {
			// The head and its instances are written in one transaction:
			// a head without its instance is a corrupt store, not a race.
			return nil, storedUser{}, fmt.Errorf("stored journey state of user %q: instance %s is missing", user, id)
		}
		inst, raw, err := journey.UnmarshalInstance(b)
		if err != nil {
			return nil, storedUser{}, fmt.Errorf("stored journey instance %s of user %q: %w", id, user, err)
		}
		if stubs != nil {
			u.Instances[i] = inst
		} else {
			u.Instances = append(u.Instances, inst)
		}
		st.instances = append(st.instances, storedInstance{id, raw})
	}
	return u, st, nil
}

// instanceKey is where an instance's state is stored: its user's key, a
// zero byte and its ID (user IDs hold no zero byte, see checkUserID).
func instanceKey(user, instance string) []byte {
	return append(append([]byte(user), 0), instance...)
}

// timers carries out the semantics' timer intents: the instance's wake-up
// armed (replacing an earlier one) or cancelled.
func (e *Engine) timers(c partition, user string, ts []journey.Timer) error {
	for _, t := range ts {
		k := timerKey(user, t.Instance)
		var err error
		if t.At.IsZero() {
			err = c.Cancel(k)
		} else {
			// The payload is the traceparent of the step that armed it.
			err = c.Schedule(k, t.At, []byte(t.TraceParent))
		}
		if err != nil {
			return stream.Retryable(fmt.Errorf("timer of instance %s: %w", t.Instance, err))
		}
	}
	return nil
}

// storeUser writes back what changed of the state: the instances whose
// encoding changed, the head if it did; instances that ended are deleted.
// An event of a user with two carts rewrites one cart, not both.
func (e *Engine) storeUser(c partition, u *journey.User, st storedUser) error {
	if len(u.Instances) == 0 && len(u.Entries) == 0 && len(u.Sends) == 0 && len(u.Unsubscribed) == 0 && u.Rate.Count < rateKeptFrom {
		// Nothing worth keeping for a user no journey has seen: most
		// events are of such users, and they cost no state write.
		if st.head != nil {
			c.Delete([]byte(u.ID))
		}
		for _, si := range st.instances {
			c.Delete(instanceKey(u.ID, si.id))
		}
		return nil
	}
	bufs := encodeBuffers.Get().(*encodeBuffer)
	defer encodeBuffers.Put(bufs)
	for _, inst := range u.Instances {
		if inst.Stub() {
			continue // not read, so not changed: its record stays
		}
		b, err := journey.AppendInstance(bufs.raw[:0], inst)
		bufs.raw = b
		if err != nil {
			return fmt.Errorf("encode journey instance %s of user %q: %w", inst.ID, u.ID, err)
		}
		if old, ok := st.raw(inst.ID); !ok || !bytes.Equal(b, old) {
			bufs.out = journey.AppendPackedInstance(bufs.out[:0], b)
			c.Set(instanceKey(u.ID, inst.ID), bufs.out) // Set copies it
		}
	}
	for _, si := range st.instances {
		if !slices.ContainsFunc(u.Instances, func(inst *journey.Instance) bool { return inst.ID == si.id }) {
			c.Delete(instanceKey(u.ID, si.id)) // ended
		}
	}
	b, err := u.AppendHead(bufs.out[:0])
	bufs.out = b
	if err != nil {
		return fmt.Errorf("encode journey state of user %q: %w", u.ID, err)
	}
	if !bytes.Equal(b, st.head) {
		c.Set([]byte(u.ID), b) // Set copies it
	}
	return nil
}

// encodeBuffer holds the encodings storeUser compares with what is stored
// (raw) and what it writes (out, which Set copies), and emit's records
// (out and k, which Emit copies), reused: partitions run in parallel, so
// they come from a pool.
type encodeBuffer struct{ raw, out, k []byte }

// key is s in the buffer's key bytes, valid until the next call.
func (b *encodeBuffer) key(s string) []byte {
	b.k = append(b.k[:0], s...)
	return b.k
}

var encodeBuffers = sync.Pool{New: func() any { return &encodeBuffer{raw: make([]byte, 0, 2048), out: make([]byte, 0, 2048)} }}

// rateKeptFrom is the count of a user's events in a minute from which the
// engine keeps the rate window of a user without journey state, so the
// event-rate guard still sees a flood from such a user.
const rateKeptFrom = 10

// snapshot gathers what the journey semantics read about the user, as of
// this message: the journey catalog's snapshot, the profile, the facts,
// and a port to the lookup tables. A read that fails is transient and
// fails the message (to be retried), never taken for an absent row. A row
// that is there but cannot be decoded is bad data of that row (the table's
// validator dead-letters such rows on arrival): it counts as absent, and
// the log says why.
func (e *Engine) snapshot(c partition, user string) (*journey.Snapshot, error) {
	ctx := context.Background()
	snap := &journey.Snapshot{Catalog: e.catalog.Snapshot(), MaxPayloadBytes: e.cfg.MaxPayloadBytes, Lookup: e.lookupPort(c),
		LoadProfile: func() (*records.Profile, *time.Location, error) { return e.profile(c, user) }}
	for name, topic := range e.topics.facts {
		v, ok, err := c.Lookup(topic, []byte(user))
		if err != nil {
			return nil, stream.Retryable(fmt.Errorf("read fact %s of user %q: %w", name, user, err))
		}
		if !ok {
			continue
		}
		var f records.Fact
		if err := e.codec.Decode(ctx, v, &f); err != nil {
			if codec.IsTransient(err) {
				return nil, fmt.Errorf("decode fact %s of user %q: %w", name, user, err)
			}
			e.log.WarnContext(c.TraceContext(), "undecodable fact: the user's journeys run without it", "user", user, "fact", name, "err", err)
			continue
		}
		var x any
		if err := json.Unmarshal(f.Value, &x); err == nil {
			if snap.Facts == nil {
				snap.Facts = map[string]any{}
			}
			snap.Facts[name] = x
		}
	}
	return snap, nil
}

// profile reads and decodes the user's profile, when the semantics first
// need it (journey.Snapshot.LoadProfile): nil when there is none or it
// cannot be decoded (sends are then skipped and say so: no_profile).
func (e *Engine) profile(c partition, user string) (*records.Profile, *time.Location, error) {
	v, ok, err := c.Lookup(e.topics.profiles, []byte(user))
	if err != nil {
		return nil, nil, stream.Retryable(fmt.Errorf("read profile of user %q: %w", user, err))
	}
	if !ok {
		return nil, nil, nil
	}
	p, loc, err := e.profiles.get(context.Background(), e.codec, user, v, e.location)
	switch {
	case codec.IsTransient(err):
		return nil, nil, fmt.Errorf("decode profile of user %q: %w", user, err)
	case err != nil:
		e.log.WarnContext(c.TraceContext(), "undecodable profile: the user's journeys run without it", "user", user, "err", err)
		return nil, nil, nil
	}
	return p, loc, nil
}

// lookupPort reads lookup rows for the semantics (journey.Snapshot.Lookup):
// a row, found false for no row, journey.ErrNoTable for a table the
// deployment does not configure, any other error for a read that failed.
func (e *Engine) lookupPort(c partition) func(table, key string) (map[string]any, bool, error) {
	return func(table, key string) (map[string]any, bool, error) {
		topic, ok := e.topics.lookups[table]
		if !ok {
			return nil, false, fmt.Errorf("%w %q (configure it: --lookups)", journey.ErrNoTable, table)
		}
		v, ok, err := c.Lookup(topic, []byte(key))
		if err != nil {
			return nil, false, stream.Retryable(fmt.Errorf("read lookup row %s/%s: %w", table, key, err))
		}
		if !ok {
			return nil, false, nil
		}
		var rec records.LookupRecord
		if err := e.codec.Decode(context.Background(), v, &rec); err != nil {
			if codec.IsTransient(err) {
				return nil, false, fmt.Errorf("decode lookup row %s/%s: %w", table, key, err)
			}
			// Bad data in the row: the journey's missing-data policy
			// applies.
			e.log.WarnContext(c.TraceContext(), "undecodable lookup row: taken as missing", "table", table, "key", key, "err", err)
			return nil, false, nil
		}
		row, err := rec.Attributes.Map()
		if err != nil {
			e.log.WarnContext(c.TraceContext(), "lookup row attributes are not a JSON object: taken as missing", "table", table, "key", key, "err", err)
			return nil, false, nil
		}
		row["id"] = rec.ID
		return row, true, nil
	}
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
func (e *Engine) emit(c partition, in journey.Input, fx journey.Effects) error {
	e.observe(c, &fx)
	ctx := context.Background()
	// Emit copies key and value: both are built in reused buffers.
	bufs := encodeBuffers.Get().(*encodeBuffer)
	defer encodeBuffers.Put(bufs)
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
		b, err := e.codec.AppendEncode(ctx, bufs.out[:0], topic, s)
		bufs.out = b
		if err != nil {
			return fmt.Errorf("encode send command %s: %w", s.CommandID, err)
		}
		c.Emit(topic, bufs.key(s.UserID), b, headers...)
	}
	var input []stream.Header
	if len(fx.Activities) > 0 {
		input = inputHeader(in)
	}
	for i := range fx.Activities {
		b, err := e.codec.AppendEncode(ctx, bufs.out[:0], e.topics.activity, &fx.Activities[i])
		bufs.out = b
		if err != nil {
			return fmt.Errorf("encode activity: %w", err)
		}
		c.Emit(e.topics.activity, bufs.key(fx.Activities[i].UserID), b, input...)
	}
	for i := range fx.Handoffs {
		b, err := e.codec.AppendEncode(ctx, bufs.out[:0], e.topics.handoff, &fx.Handoffs[i])
		bufs.out = b
		if err != nil {
			return fmt.Errorf("encode hand-off: %w", err)
		}
		c.Emit(e.topics.handoff, bufs.key(fx.Handoffs[i].UserID), b)
	}
	return nil
}

// inputHeader says on each activity record what the engine was
// processing (timeline.InputHeader): the timeline processor shows it,
// and it cannot learn it from the activity itself.
func inputHeader(in journey.Input) []stream.Header {
	var ti timeline.Input
	switch {
	case in.Event != nil:
		ti = timeline.Input{Type: "event", Name: in.Event.Name, MessageID: in.Event.MessageID, Timestamp: in.Event.Timestamp}
	case in.Receipt != nil:
		ti = timeline.Input{Type: "receipt", ReceiptID: in.Receipt.ReceiptID}
	case in.Wake != "":
		ti = timeline.Input{Type: "timer"}
	default:
		return nil
	}
	return []stream.Header{{Key: timeline.InputHeader, Value: timeline.AppendInput(make([]byte, 0, 96), &ti)}}
}
