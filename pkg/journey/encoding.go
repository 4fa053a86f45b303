package journey

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
	"unsafe"

	"github.com/klauspost/compress/s2"

	"github.com/beckon-dev/beckon/pkg/records"
)

// The engine stores a User per key on every event, so its encoding is on
// the hot path and sets the state size per waiting instance. This is a
// compact binary form: a format byte, then the fields in a fixed order,
// lengths and integers as varints, times as Unix milliseconds (the
// engine's clock resolution for timers), free-form values as their JSON
// text. JSON (the struct tags) remains for tests and debugging tools.

// Formats: 1 wrote every time absolute and instance IDs as text; 2 (what
// MarshalBinary writes) writes an instance's times relative to its entry
// and its ID as the 12 bytes its hex stands for. Both are read.
//
// 3 and 4 split a user's state into records the engine keeps under
// separate keys, so an event rewrites only what it touched: 3 is the head
// (MarshalHead: the user's ID, their instances' IDs in order, the
// per-user history), 4 one instance (MarshalInstance), both with format
// 2's field encodings; 5 is format 4 compressed (PackInstance), what the
// engine stores: an instance is mostly JSON values with the same field
// names (a cart's items), which compress to less than half. A head of
// format 1 or 2 is a whole user, read by UnmarshalBinary.
//
// 6 (what MarshalHead writes) is format 3 with a summary of each instance
// beside its ID: its journey, version, entry key and step, what decides
// whether an input touches it (Touches). The engine then reads and
// decodes only the instances an input touches: an event of a user's cart
// c1 leaves cart c0's record unread. Format 3 heads still read (every
// instance is then read).
const (
	userFormatV1         = 1
	userFormatV2         = 2
	headFormat           = 3
	instanceFormat       = 4
	packedInstanceFormat = 5
	summaryHeadFormat    = 6
)

// maxInstanceBytes bounds what a packed instance may unpack to, so a
// corrupt length cannot allocate without bound.
const maxInstanceBytes = 64 << 20

// MarshalBinary encodes the user's journey state.
func (u *User) MarshalBinary() ([]byte, error) { return u.marshal(false) }

func (u *User) marshal(v1 bool) ([]byte, error) {
	e := &binWriter{b: make([]byte, 0, 256), v1: v1}
	if v1 {
		e.b = append(e.b, userFormatV1)
	} else {
		e.b = append(e.b, userFormatV2)
	}
	e.str(u.ID)
	e.uint(uint64(len(u.Instances)))
	for _, inst := range u.Instances {
		e.instance(inst)
	}
	e.history(u)
	return e.b, e.err
}

// MarshalHead encodes the user's state without their instances (format
// 6): the instances' IDs in order and their summaries stand for them, each
// instance stored apart (MarshalInstance).
func (u *User) MarshalHead() ([]byte, error) {
	return u.AppendHead(make([]byte, 0, 64+32*len(u.Instances)))
}

// AppendHead is MarshalHead appending to b: the engine encodes a user's
// head on each of their events to compare it with what is stored, into a
// reused buffer.
func (u *User) AppendHead(b []byte) ([]byte, error) {
	e := &binWriter{b: b}
	e.b = append(e.b, summaryHeadFormat)
	e.str(u.ID)
	e.uint(uint64(len(u.Instances)))
	for _, inst := range u.Instances {
		e.id(inst.ID)
		e.str(inst.Journey)
		e.uint(uint64(inst.Version))
		e.str(inst.EntryKey)
		e.str(inst.Step)
	}
	e.history(u)
	return e.b, e.err
}

// MarshalInstance encodes one instance on its own (format 4): the form to
// compare, PackInstance's the form to store.
func MarshalInstance(inst *Instance) ([]byte, error) {
	return AppendInstance(make([]byte, 0, 512), inst)
}

// AppendInstance is MarshalInstance appending to b: the engine encodes
// every instance of a user on each of their events to compare it with
// what is stored, into one reused buffer.
func AppendInstance(b []byte, inst *Instance) ([]byte, error) {
	if inst.stub {
		return b, fmt.Errorf("instance %s: a stub (UnmarshalHeadStubs) has no record to encode", inst.ID)
	}
	e := &binWriter{b: b}
	e.b = append(e.b, instanceFormat)
	e.instance(inst)
	return e.b, e.err
}

// IsHead says whether b, a user's stored state, is a head (formats 3 and
// 6), whose instances are stored apart, rather than a whole user (formats
// 1 and 2, UnmarshalBinary).
func IsHead(b []byte) bool { return len(b) > 0 && (b[0] == headFormat || b[0] == summaryHeadFormat) }

// UnmarshalHead decodes what MarshalHead encoded into u, without
// instances, and returns the IDs of the instances stored apart, in order.
func (u *User) UnmarshalHead(b []byte) ([]string, error) {
	ids, _, err := u.UnmarshalHeadStubs(b)
	return ids, err
}

// UnmarshalHeadStubs is UnmarshalHead that also returns, from a head of
// format 6, a stub of each instance (in the IDs' order): an Instance with
// only what the head says of it (ID, journey, version, entry key, step),
// which Apply leaves as it is when Touches says the input does not touch
// it, and storing it writes no instance record. stubs is nil for a head
// of format 3, which says nothing of its instances. The user's and the
// stubs' strings share memory with b, which the caller must therefore not
// modify afterwards.
func (u *User) UnmarshalHeadStubs(b []byte) (ids []string, stubs []*Instance, err error) {
	if !IsHead(b) {
		return nil, nil, errors.New("journey state head: unknown format")
	}
	summaries := b[0] == summaryHeadFormat
	d := &binReader{b: b[1:], v2: true, alias: true}
	*u = User{ID: d.str()}
	n := d.count()
	ids = make([]string, 0, n)
	var block []Instance // the stubs, allocated at once
	if summaries {
		stubs, block = make([]*Instance, 0, n), make([]Instance, n)
	}
	for i := range n {
		id := d.id()
		ids = append(ids, id)
		if summaries {
			block[i] = Instance{ID: id, Journey: d.str(), Version: int32(d.uint()), EntryKey: d.str(), Step: d.str(), stub: true}
			stubs = append(stubs, &block[i])
		}
	}
	d.history(u)
	if err := d.end(); err != nil {
		return nil, nil, fmt.Errorf("journey state head: %w", err)
	}
	return ids, stubs, nil
}

// HeadJourneys calls fn with the journey of each instance a head of
// format 6 summarises, without decoding the rest of the user's state:
// counting a restored partition's running instances reads every head.
// listed is false for a head of format 3, which names its instances
// without their journeys. The strings passed to fn share b's memory.
func HeadJourneys(b []byte, fn func(journey string)) (listed bool, err error) {
	if !IsHead(b) {
		return false, errors.New("journey state head: unknown format")
	}
	d := &binReader{b: b[1:], v2: true, alias: true}
	d.str() // the user ID
	n := d.count()
	if b[0] != summaryHeadFormat {
		return false, d.err
	}
	for range n {
		d.id()
		j := d.str()
		d.uint()
		d.str()
		d.str()
		if d.err != nil {
			break
		}
		fn(j)
	}
	if d.err != nil {
		return false, fmt.Errorf("journey state head: %w", d.err)
	}
	return true, nil
}

// PackInstance compresses what MarshalInstance encoded (format 5).
func PackInstance(raw []byte) []byte { return AppendPackedInstance(nil, raw) }

// AppendPackedInstance is PackInstance appending to dst.
func AppendPackedInstance(dst, raw []byte) []byte {
	if len(raw) == 0 || raw[0] != instanceFormat {
		panic("journey: PackInstance of a record MarshalInstance did not write")
	}
	n := len(dst)
	dst = slices.Grow(dst, 1+s2.MaxEncodedLen(len(raw)-1))
	dst = append(dst, packedInstanceFormat)
	out := dst[n+1 : cap(dst)]
	enc := s2.Encode(out, raw[1:]) // written into out, which is large enough
	return dst[:n+1+len(enc)]
}

// UnmarshalInstance decodes an instance record, packed (PackInstance) or
// not (MarshalInstance), and returns its unpacked form too (what
// MarshalInstance of the instance returns, to compare). Like
// UnmarshalBinary, the instance's free-form values and strings share
// memory with the record (or its unpacked form, which the caller must
// not modify either).
func UnmarshalInstance(b []byte) (*Instance, []byte, error) {
	raw := b
	switch {
	case len(b) > 0 && b[0] == packedInstanceFormat:
		n, err := s2.DecodedLen(b[1:])
		if err == nil && n > maxInstanceBytes {
			err = fmt.Errorf("unpacks to %d bytes", n)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("journey instance state: %w", err)
		}
		raw = make([]byte, 1+n)
		raw[0] = instanceFormat
		if _, err := s2.Decode(raw[1:], b[1:]); err != nil {
			return nil, nil, fmt.Errorf("journey instance state: %w", err)
		}
	case len(b) == 0 || b[0] != instanceFormat:
		return nil, nil, errors.New("journey instance state: unknown format")
	}
	// The instance's strings share raw's memory too: raw is the record
	// unpacked here, or b, which the caller must not modify.
	d := &binReader{b: raw[1:], v2: true, alias: true}
	inst := d.instance()
	if err := d.end(); err != nil {
		return nil, nil, fmt.Errorf("journey instance state: %w", err)
	}
	return inst, raw, nil
}

// StateInstances is the number of instances a stored state record holds:
// a whole user's (formats 1, 2), none for a head, one for an instance.
func StateInstances(b []byte) (int, error) {
	switch {
	case IsHead(b):
		_, err := new(User).UnmarshalHead(b)
		return 0, err
	case len(b) > 0 && (b[0] == instanceFormat || b[0] == packedInstanceFormat):
		_, _, err := UnmarshalInstance(b)
		return 1, err
	}
	var u User
	err := u.UnmarshalBinary(b)
	return len(u.Instances), err
}

// history writes what a user keeps besides instances.
func (e *binWriter) history(u *User) {
	e.uint(uint64(len(u.Entries)))
	if len(u.Entries) == 1 { // the common case, without sorting
		for id, l := range u.Entries {
			e.entryLog(id, l)
		}
	} else {
		for _, id := range sortedKeys(u.Entries) {
			e.entryLog(id, u.Entries[id])
		}
	}
	e.uint(uint64(len(u.Sends)))
	for _, s := range u.Sends {
		e.str(s.Channel)
		e.time(s.At)
	}
	e.strs(u.Unsubscribed)
	e.time(u.Rate.Start)
	e.uint(uint64(u.Rate.Count))
}

func (e *binWriter) entryLog(id string, l *EntryLog) {
	e.str(id)
	e.uint(uint64(l.Count))
	e.time(l.Last)
	e.strs(l.Sessions)
	e.uint(0) // an entry count per key, no longer kept
}

func (e *binWriter) instance(inst *Instance) {
	e.id(inst.ID)
	e.str(inst.Journey)
	e.uint(uint64(inst.Version))
	e.str(inst.EntryKey)
	e.str(inst.Step)
	e.time(inst.EnteredAt)
	e.base = inst.EnteredAt
	e.rel(inst.StepAt)
	e.rel(inst.WakeAt)
	e.uint(uint64(inst.Resets))
	t := &inst.Trigger
	e.str(t.Name)
	e.str(t.MessageID)
	e.rel(t.Timestamp)
	e.str(t.SessionID)
	e.bytes(t.Properties)
	e.uint(uint64(len(inst.Items)))
	for _, it := range inst.Items {
		e.str(it.Key)
		e.bytes(it.Value)
		e.float(it.Quantity)
	}
	if len(inst.Vars) == 0 {
		e.bytes(nil)
	} else {
		b, err := json.Marshal(inst.Vars)
		if err != nil {
			e.err = fmt.Errorf("instance %s vars: %w", inst.ID, err)
		}
		e.bytes(b)
	}
	e.uint(uint64(len(inst.Sends)))
	for _, s := range inst.Sends {
		e.str(s.Step)
		e.str(s.CommandID)
		e.str(s.Channel)
		e.str(s.Template)
		e.rel(s.At)
		e.str(s.Status)
	}
	e.uint(uint64(len(inst.Replies)))
	for _, r := range inst.Replies {
		e.str(string(r.Direction))
		e.str(r.Text)
		e.rel(r.At)
		e.str(r.CommandID)
	}
	if r := inst.Receipt; r != nil {
		e.uint(1)
		e.str(r.CommandID)
		e.str(r.Status)
		e.str(r.Text)
		e.rel(r.At)
	} else {
		e.uint(0)
	}
	e.str(inst.Held)
	e.rel(inst.Due)
	e.uint(uint64(inst.Seq))
	e.str(inst.TraceID)
	e.str(inst.SpanID)
	if !e.v1 {
		e.rel(inst.TimerAt)
	}
}

// UnmarshalBinary decodes what MarshalBinary encoded. The user's free-form
// values (trigger properties, item values) share memory with b, which the
// caller must therefore not modify afterwards.
func (u *User) UnmarshalBinary(b []byte) error {
	if len(b) == 0 || (b[0] != userFormatV1 && b[0] != userFormatV2) {
		return errors.New("journey state: unknown format")
	}
	d := &binReader{b: b[1:], v2: b[0] == userFormatV2}
	*u = User{ID: d.str()}
	n := d.count()
	for range n {
		u.Instances = append(u.Instances, d.instance())
	}
	d.history(u)
	if err := d.end(); err != nil {
		return fmt.Errorf("journey state: %w", err)
	}
	return nil
}

// end checks that the whole record was read.
func (d *binReader) end() error {
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%d bytes after the end", len(d.b))
	}
	return d.err
}

// history reads what binWriter.history wrote.
func (d *binReader) history(u *User) {
	n := d.count()
	if n > 0 {
		u.Entries = make(map[string]*EntryLog, n)
	}
	for range n {
		id := d.str()
		l := &EntryLog{Count: int(d.uint()), Last: d.time(), Sessions: d.strs()}
		for range d.count() { // an entry count per key, no longer kept
			d.str()
			d.uint()
		}
		u.Entries[id] = l
	}
	for range d.count() {
		u.Sends = append(u.Sends, SendLog{Channel: d.str(), At: d.time()})
	}
	u.Unsubscribed = d.strs()
	u.Rate = RateWindow{Start: d.time(), Count: int(d.uint())}
}

func (d *binReader) instance() *Instance {
	inst := &Instance{ID: d.id(), Journey: d.str(), Version: int32(d.uint()), EntryKey: d.str(), Step: d.str(), EnteredAt: d.time()}
	d.base = inst.EnteredAt
	inst.StepAt, inst.WakeAt, inst.Resets = d.rel(), d.rel(), int(d.uint())
	inst.Trigger = TriggerEvent{Name: d.str(), MessageID: d.str(), Timestamp: d.rel(), SessionID: d.str(), Properties: d.bytes()}
	for range d.count() {
		inst.Items = append(inst.Items, Item{Key: d.str(), Value: d.bytes(), Quantity: d.float()})
	}
	if vars := d.bytes(); len(vars) > 0 && d.err == nil {
		if err := json.Unmarshal(vars, &inst.Vars); err != nil {
			d.err = fmt.Errorf("instance %s vars: %w", inst.ID, err)
		}
	}
	for range d.count() {
		inst.Sends = append(inst.Sends, SentMessage{Step: d.str(), CommandID: d.str(), Channel: d.str(), Template: d.str(), At: d.rel(), Status: d.str()})
	}
	for range d.count() {
		inst.Replies = append(inst.Replies, records.ConversationMessage{Direction: records.MessageDirection(d.str()), Text: d.str(), At: d.rel(), CommandID: d.str()})
	}
	if d.uint() == 1 {
		inst.Receipt = &ReceiptSeen{CommandID: d.str(), Status: d.str(), Text: d.str(), At: d.rel()}
	}
	inst.Held, inst.Due, inst.Seq = d.str(), d.rel(), int(d.uint())
	inst.TraceID, inst.SpanID = d.str(), d.str()
	if d.v2 {
		inst.TimerAt = d.rel()
	}
	return inst
}

type binWriter struct {
	b    []byte
	err  error
	base time.Time // what rel writes times relative to
	v1   bool      // write format 1 (tests of reading old state)
}

func (e *binWriter) uint(v uint64)  { e.b = binary.AppendUvarint(e.b, v) }
func (e *binWriter) str(s string)   { e.uint(uint64(len(s))); e.b = append(e.b, s...) }
func (e *binWriter) bytes(b []byte) { e.uint(uint64(len(b))); e.b = append(e.b, b...) }
func (e *binWriter) float(f float64) {
	e.b = binary.LittleEndian.AppendUint64(e.b, math.Float64bits(f))
}

func (e *binWriter) strs(ss []string) {
	e.uint(uint64(len(ss)))
	for _, s := range ss {
		e.str(s)
	}
}

// time writes 0 for the zero time, else 1 + Unix milliseconds (zig-zag),
// so times before 1970 survive too.
func (e *binWriter) time(t time.Time) {
	if t.IsZero() {
		e.uint(0)
		return
	}
	ms := t.UnixMilli()
	e.uint(1 + uint64(ms<<1^ms>>63))
}

type binReader struct {
	b    []byte
	err  error
	v2   bool
	base time.Time
	// alias makes strings share the record's memory instead of copying
	// it: the record is then never modified (see UnmarshalInstance).
	alias bool
}

func (d *binReader) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("truncated at %s", what)
	}
	d.b = nil
}

func (d *binReader) uint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("a varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a length that must fit in what is left (every element takes
// at least a byte), so a corrupt length cannot allocate without bound.
func (d *binReader) count() int {
	n := d.uint()
	if n > uint64(len(d.b)) {
		d.fail("a count")
		return 0
	}
	return int(n)
}

func (d *binReader) bytes() []byte {
	n := d.count()
	if d.err != nil || n == 0 {
		return nil
	}
	b := d.b[:n:n]
	d.b = d.b[n:]
	return b
}

func (d *binReader) str() string {
	n := d.count()
	if d.err != nil {
		return ""
	}
	var s string
	switch {
	case n == 0:
	case d.alias:
		s = unsafe.String(&d.b[0], n)
	default:
		s = string(d.b[:n])
	}
	d.b = d.b[n:]
	return s
}

func (d *binReader) strs() []string {
	n := d.count()
	if n == 0 {
		return nil
	}
	out := make([]string, 0, n)
	for range n {
		out = append(out, d.str())
	}
	return out
}

func (d *binReader) float() float64 {
	if len(d.b) < 8 {
		d.fail("a float")
		return 0
	}
	f := math.Float64frombits(binary.LittleEndian.Uint64(d.b))
	d.b = d.b[8:]
	return f
}

func (d *binReader) time() time.Time {
	v := d.uint()
	if v == 0 {
		return time.Time{}
	}
	z := v - 1
	ms := int64(z>>1) ^ -int64(z&1)
	return time.UnixMilli(ms).UTC()
}

// rel writes a time relative to base (0 for the zero time): an instance's
// times are close to its entry, so their varints are short.
func (e *binWriter) rel(t time.Time) {
	if e.v1 {
		e.time(t)
		return
	}
	if t.IsZero() {
		e.uint(0)
		return
	}
	d := t.UnixMilli() - e.base.UnixMilli()
	e.uint(1 + uint64(d<<1^d>>63))
}

func (d *binReader) rel() time.Time {
	if !d.v2 {
		return d.time()
	}
	v := d.uint()
	if v == 0 {
		return time.Time{}
	}
	z := v - 1
	ms := int64(z>>1) ^ -int64(z&1)
	return time.UnixMilli(d.base.UnixMilli() + ms).UTC()
}

// id writes an instance ID: the 12 bytes behind 24 lowercase hex digits
// (what InstanceID makes) after a 1, else 0 and the text.
func (e *binWriter) id(s string) {
	if e.v1 {
		e.str(s)
		return
	}
	var b [12]byte
	if len(s) == 24 && isLowerHex(s) {
		if _, err := hex.Decode(b[:], []byte(s)); err == nil {
			e.b = append(append(e.b, 1), b[:]...)
			return
		}
	}
	e.b = append(e.b, 0)
	e.str(s)
}

// isLowerHex says whether s is lowercase hex digits only (what
// hex.EncodeToString writes back unchanged).
func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func (d *binReader) id() string {
	if !d.v2 {
		return d.str()
	}
	if len(d.b) == 0 {
		d.fail("an instance ID")
		return ""
	}
	tag := d.b[0]
	d.b = d.b[1:]
	switch tag {
	case 0:
		return d.str()
	case 1:
		if len(d.b) < 12 {
			d.fail("an instance ID")
			return ""
		}
		s := hex.EncodeToString(d.b[:12])
		d.b = d.b[12:]
		return s
	}
	d.fail("an instance ID tag")
	return ""
}
