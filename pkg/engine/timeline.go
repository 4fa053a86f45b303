package engine

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/beckon-dev/beckon/pkg/journey"
	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/pkg/stream"
	"github.com/beckon-dev/beckon/pkg/timeline"
)

// TimelineConfig bounds the instance timelines the engine keeps for
// queries (docs/api-timelines.md). Zero values take the defaults.
type TimelineConfig struct {
	// Off keeps no timelines: queries then answer with no instances.
	Off bool
	// MaxEntries is how many entries of one instance are kept; older
	// ones are dropped, up to a quarter of MaxEntries at a time. Default
	// 200.
	MaxEntries int
	// MaxInstances is how many instances of one user are kept; beyond
	// it the least recently active ended instance goes first. Default 50.
	MaxInstances int
	// MaxAge is how long an ended instance's timeline is kept after its
	// last entry. Default 720h (30 days).
	MaxAge time.Duration
}

func (c *TimelineConfig) defaults() {
	if c.MaxEntries <= 0 {
		c.MaxEntries = 200
	}
	if c.MaxInstances <= 0 {
		c.MaxInstances = 50
	}
	if c.MaxAge <= 0 {
		c.MaxAge = 30 * 24 * time.Hour
	}
}

// A user's timeline lives in the partition's state, so it is written in
// the transaction of the activities it records (exactly once), travels
// through the changelog and moves with the partition. All of it is under
// user\x00\x00 (instance states are under user\x00<instance ID>, and
// instance IDs are never empty), so forgetting a user's timeline is one
// prefix delete:
//
//	user\x00\x00i                                      the index (tlIndex, JSON)
//	user\x00\x00e<instance>\x00<seq u32 BE><sub u16 BE>  one entry (timeline.Entry, JSON)
//
// and its expiry timer is the timer key user\x00\x00.
const timelineWake = "\x00"

func timelinePrefix(user string) []byte {
	return append([]byte(user), 0, 0)
}

func timelineIndexKey(user string) []byte { return append(timelinePrefix(user), 'i') }

func timelineInstancePrefix(user, instance string) []byte {
	return append(append(append(timelinePrefix(user), 'e'), instance...), 0)
}

func timelineEntryKey(user, instance string, seq, sub int) []byte {
	k := timelineInstancePrefix(user, instance)
	k = binary.BigEndian.AppendUint32(k, uint32(seq))
	return binary.BigEndian.AppendUint16(k, uint16(sub))
}

// tlIndex is what the engine keeps of a user's timeline besides the
// entries: a summary of each instance and the user's recent activities
// outside any instance.
type tlIndex struct {
	Instances  []tlInstance          `json:"i,omitempty"`
	NotEntered []timeline.NotEntered `json:"n,omitempty"`
	// Armed is when the expiry timer is due (unix ms); 0: none.
	Armed int64 `json:"x,omitempty"`
}

type tlInstance struct {
	timeline.Instance
	// Cmds are the command IDs of the instance's latest sends, to place
	// their receipts.
	Cmds []string `json:"cmds,omitempty"`
}

const (
	keptNotEntered = 20 // a user's activities outside instances kept
	keptCmds       = 16 // command IDs kept per instance
)

func (ix *tlIndex) find(id string) *tlInstance {
	for i := range ix.Instances {
		if ix.Instances[i].InstanceID == id {
			return &ix.Instances[i]
		}
	}
	return nil
}

// recordTimeline adds what fx says happened to user's timeline, in the
// transaction of the input. Most inputs change no journey instance and
// cost nothing here; most of those that do (a hold reset, a step done)
// only add their entries: the index changes when an instance enters,
// sends or exits, with a receipt, and for the user's activities outside
// instances.
func (e *Engine) recordTimeline(c partition, user string, in journey.Input, fx *journey.Effects) error {
	if e.cfg.Timeline.Off || (len(fx.Activities) == 0 && in.Receipt == nil) {
		return nil
	}
	input := timelineInput(in)
	var usedSends []bool
	if !needsIndex(in, fx) {
		for i := range fx.Activities {
			if _, err := e.putActivityEntry(c, user, &fx.Activities[i], input, nil, fx, &usedSends); err != nil {
				return err
			}
		}
		return nil
	}
	ix, err := e.readTimelineIndex(c, user)
	if err != nil {
		return err
	}
	if in.Receipt != nil && len(fx.Activities) == 0 && !slices.ContainsFunc(ix.Instances, func(ti tlInstance) bool { return slices.Contains(ti.Cmds, in.Receipt.CommandID) }) {
		return nil // a receipt of no instance kept
	}
	var receipt *timeline.Receipt
	if rc := in.Receipt; rc != nil {
		receipt = &timeline.Receipt{ReceiptID: rc.ReceiptID, CommandID: rc.CommandID, Channel: rc.Channel, Status: string(rc.Status), ReplyText: rc.ReplyText, FailureReason: rc.FailureReason, OccurredAt: rc.OccurredAt}
	}
	now := c.Now()
	var touched []string // instances with an entry from this input
	for i := range fx.Activities {
		a := &fx.Activities[i]
		if a.InstanceID == "" {
			ix.NotEntered = append(ix.NotEntered, timeline.NotEntered{At: a.At, JourneyID: a.JourneyID, JourneyVersion: a.JourneyVersion, Kind: string(a.Kind), Reason: a.Reason, TraceID: a.TraceID, Input: input})
			if n := len(ix.NotEntered); n > keptNotEntered {
				ix.NotEntered = slices.Delete(ix.NotEntered, 0, n-keptNotEntered)
			}
			continue
		}
		ti := ix.find(a.InstanceID)
		if ti == nil {
			ix.Instances = append(ix.Instances, tlInstance{Instance: timeline.Instance{InstanceID: a.InstanceID, JourneyID: a.JourneyID, EntryKey: a.EntryKey, Status: "active"}})
			ti = &ix.Instances[len(ix.Instances)-1]
		}
		cmd, err := e.putActivityEntry(c, user, a, input, receipt, fx, &usedSends)
		if err != nil {
			return err
		}
		if cmd != "" {
			ti.Cmds = append(ti.Cmds, cmd)
			if n := len(ti.Cmds); n > keptCmds {
				ti.Cmds = slices.Delete(ti.Cmds, 0, n-keptCmds)
			}
		}
		ti.JourneyVersion, ti.Step, ti.LastAt = a.JourneyVersion, a.StepID, a.At
		if ti.TraceID == "" {
			ti.TraceID = a.TraceID
		}
		switch a.Kind {
		case records.ActivityEntered:
			ti.EnteredAt = a.At
		case records.ActivityExited:
			ti.Status, ti.ExitReason = "exited", a.Reason
		}
		if !slices.Contains(touched, a.InstanceID) {
			touched = append(touched, a.InstanceID)
		}
	}
	if receipt != nil {
		// A receipt that moved nothing is still part of the timeline of
		// the instance that sent the command, after its last entry.
		for i := range ix.Instances {
			ti := &ix.Instances[i]
			if slices.Contains(touched, ti.InstanceID) || !slices.Contains(ti.Cmds, receipt.CommandID) {
				continue
			}
			seq, sub := e.lastEntry(c, user, ti.InstanceID)
			entry := timeline.Entry{Seq: seq, Sub: sub + 1, At: now, Kind: "receipt", Step: ti.Step, Input: input, Receipt: receipt}
			if err := e.putTimelineEntry(c, user, ti.InstanceID, seq, sub+1, &entry); err != nil {
				return err
			}
			ti.LastAt = now
		}
	}
	e.retain(c, user, &ix, now)
	if ix.Armed == 0 {
		due := now.Add(e.cfg.Timeline.MaxAge)
		if err := c.Schedule(timerKey(user, timelineWake), due, nil); err != nil {
			return stream.Retryable(fmt.Errorf("timeline expiry timer of user %q: %w", user, err))
		}
		ix.Armed = due.UnixMilli()
	}
	return e.writeTimelineIndex(c, user, &ix)
}

// expireTimeline runs when a user's timeline expiry timer fires: ended
// instances idle for MaxAge go, and the timer is armed again for what
// remains.
func (e *Engine) expireTimeline(c partition, user string) error {
	ix, err := e.readTimelineIndex(c, user)
	if err != nil {
		return err
	}
	now := c.Now()
	ix.Armed = 0
	e.retain(c, user, &ix, now)
	if len(ix.Instances) == 0 && len(ix.NotEntered) == 0 {
		c.Delete(timelineIndexKey(user))
		return nil
	}
	due := now.Add(e.cfg.Timeline.MaxAge)
	for _, ti := range ix.Instances {
		if ti.Status == "exited" && ti.LastAt.Add(e.cfg.Timeline.MaxAge).Before(due) {
			due = ti.LastAt.Add(e.cfg.Timeline.MaxAge)
		}
	}
	for _, ne := range ix.NotEntered {
		if ne.At.Add(e.cfg.Timeline.MaxAge).Before(due) {
			due = ne.At.Add(e.cfg.Timeline.MaxAge)
		}
	}
	if soon := now.Add(time.Minute); due.Before(soon) {
		due = soon // not again in this transaction
	}
	if err := c.Schedule(timerKey(user, timelineWake), due, nil); err != nil {
		return stream.Retryable(fmt.Errorf("timeline expiry timer of user %q: %w", user, err))
	}
	ix.Armed = due.UnixMilli()
	return e.writeTimelineIndex(c, user, &ix)
}

// retain applies the age and count bounds to the user's instances and
// not-entered records, deleting the entries of the instances that go.
func (e *Engine) retain(c partition, user string, ix *tlIndex, now time.Time) {
	cut := now.Add(-e.cfg.Timeline.MaxAge)
	ix.NotEntered = slices.DeleteFunc(ix.NotEntered, func(ne timeline.NotEntered) bool { return ne.At.Before(cut) })
	drop := func(i int) {
		e.deleteTimelineRange(c, timelineInstancePrefix(user, ix.Instances[i].InstanceID))
		ix.Instances = slices.Delete(ix.Instances, i, i+1)
	}
	for i := len(ix.Instances) - 1; i >= 0; i-- {
		if ix.Instances[i].Status == "exited" && ix.Instances[i].LastAt.Before(cut) {
			drop(i)
		}
	}
	for len(ix.Instances) > e.cfg.Timeline.MaxInstances {
		// The least recently active ended instance, else the least
		// recently active one.
		victim := 0
		for i, ti := range ix.Instances[1:] {
			if betterVictim(ti, ix.Instances[victim]) {
				victim = i + 1
			}
		}
		drop(victim)
	}
}

func betterVictim(a, b tlInstance) bool {
	if ae, be := a.Status == "exited", b.Status == "exited"; ae != be {
		return ae
	}
	return a.LastAt.Before(b.LastAt)
}

// pruneEntries drops the instance's entries older than the last
// MaxEntries once seq, its newest, is a multiple of a quarter of
// MaxEntries: most writes delete nothing, and none needs to know what is
// kept.
func (e *Engine) pruneEntries(c partition, user, instance string, seq int) {
	limit := e.cfg.Timeline.MaxEntries
	if seq <= limit || seq%max(1, limit/4) != 0 {
		return
	}
	e.deleteTimelineRange(c, timelineEntryKey(user, instance, 0, 0), timelineEntryKey(user, instance, seq-limit+1, 0))
}

// lastEntry returns the key of the instance's newest entry (0, 0: none).
func (e *Engine) lastEntry(c partition, user, instance string) (seq, sub int) {
	pre := timelineInstancePrefix(user, instance)
	if err := c.Range(pre, prefixEnd(pre), func(k, _ []byte) bool {
		seq, sub = entryKeySeq(k)
		return true
	}); err != nil {
		e.log.Warn("timeline: range read failed", "err", err)
	}
	return seq, sub
}

// entryKeySeq reads the seq and sub at the end of an entry key.
func entryKeySeq(k []byte) (seq, sub int) {
	if len(k) < 6 {
		return 0, 0
	}
	t := k[len(k)-6:]
	return int(binary.BigEndian.Uint32(t)), int(binary.BigEndian.Uint16(t[4:]))
}

// needsIndex reports whether the input changes the user's index: an
// instance enters, sends or exits, a receipt, an activity outside
// instances.
func needsIndex(in journey.Input, fx *journey.Effects) bool {
	if in.Receipt != nil {
		return true
	}
	for i := range fx.Activities {
		switch a := &fx.Activities[i]; {
		case a.InstanceID == "", a.Kind == records.ActivityEntered, a.Kind == records.ActivitySent, a.Kind == records.ActivityExited:
			return true
		}
	}
	return false
}

// putActivityEntry writes the entry of activity a (with its send command
// if it is a send: cmd is its ID) and prunes the instance's oldest
// entries.
func (e *Engine) putActivityEntry(c partition, user string, a *records.Activity, input *timeline.Input, receipt *timeline.Receipt, fx *journey.Effects, used *[]bool) (cmd string, err error) {
	seq := activitySeq(a.ActivityID, 1)
	entry := timeline.Entry{Seq: seq, At: a.At, Kind: string(a.Kind), Step: a.StepID, Reason: a.Reason, SpanID: a.SpanID, Input: input, Receipt: receipt}
	if len(a.Details) > 0 {
		entry.Details = json.RawMessage(a.Details)
	}
	if a.Kind == records.ActivitySent {
		if *used == nil {
			*used = make([]bool, len(fx.Sends))
		}
		if j := matchSend(fx.Sends, *used, a); j >= 0 {
			s := &fx.Sends[j]
			entry.Send = &timeline.Send{CommandID: s.CommandID, Channel: s.Channel, Template: s.TemplateID, Recipient: s.Recipient, Locale: s.Locale, Payload: json.RawMessage(s.Payload), Deadline: s.Deadline}
			cmd = s.CommandID
		}
	}
	if err := e.putTimelineEntry(c, user, a.InstanceID, seq, 0, &entry); err != nil {
		return "", err
	}
	e.pruneEntries(c, user, a.InstanceID, seq)
	return cmd, nil
}

// deleteTimelineRange deletes the keys with prefix from (one argument) or
// in [from, to).
func (e *Engine) deleteTimelineRange(c partition, from []byte, to ...[]byte) {
	var end []byte
	if len(to) > 0 {
		end = to[0]
	} else {
		end = prefixEnd(from)
	}
	var keys [][]byte
	// A failed range read leaves entries behind: the count bounds of the
	// index still hold, and the user's next prefix delete takes them.
	if err := c.Range(from, end, func(k, _ []byte) bool { keys = append(keys, bytes.Clone(k)); return true }); err != nil {
		e.log.Warn("timeline: range read failed; old entries stay until the next prune", "err", err)
	}
	for _, k := range keys {
		c.Delete(k)
	}
}

// forgetTimeline deletes user's whole timeline and its expiry timer: one
// prefix delete in the transaction of the caller.
func (e *Engine) forgetTimeline(c partition, user string) error {
	e.deleteTimelineRange(c, timelinePrefix(user))
	if err := c.Cancel(timerKey(user, timelineWake)); err != nil {
		return stream.Retryable(fmt.Errorf("timeline expiry timer of user %q: %w", user, err))
	}
	return nil
}

// prefixEnd returns the smallest key after every key with prefix p; the
// timeline's prefixes all end with a zero byte, so it is p with that byte
// raised.
func prefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	end[len(end)-1]++
	return end
}

func (e *Engine) readTimelineIndex(c partition, user string) (tlIndex, error) {
	var ix tlIndex
	v, ok, err := c.Get(timelineIndexKey(user))
	if err != nil {
		return ix, stream.Retryable(fmt.Errorf("read timeline of user %q: %w", user, err))
	}
	if ok {
		if err := json.Unmarshal(v, &ix); err != nil {
			// The timeline serves people, never the journeys: a bad index
			// costs the user's timeline, not the input.
			e.log.Warn("timeline: stored index is unreadable; the user's timeline starts again", "user", user, "err", err)
			e.deleteTimelineRange(c, timelinePrefix(user))
			ix = tlIndex{}
		}
	}
	return ix, nil
}

func (e *Engine) writeTimelineIndex(c partition, user string, ix *tlIndex) error {
	b, err := json.Marshal(ix)
	if err != nil {
		return fmt.Errorf("encode timeline of user %q: %w", user, err)
	}
	c.Set(timelineIndexKey(user), b)
	return nil
}

func (e *Engine) putTimelineEntry(c partition, user, instance string, seq, sub int, entry *timeline.Entry) error {
	// Set copies the value: the buffer is the pool's again after.
	bp := encodeBuffers.Get().(*[]byte)
	*bp = appendEntry((*bp)[:0], entry)
	c.Set(timelineEntryKey(user, instance, seq, sub), *bp)
	encodeBuffers.Put(bp)
	return nil
}

// activitySeq is the instance's sequence number in an activity ID
// (instance ID, "-", sequence number: journey.applier.activity), or def.
func activitySeq(id string, def int) int {
	if i := strings.LastIndexByte(id, '-'); i >= 0 {
		if n, err := strconv.Atoi(id[i+1:]); err == nil && n > 0 {
			return n
		}
	}
	return def
}

// matchSend finds the send command of a "sent" activity: the first one
// not yet matched of the same instance and step.
func matchSend(sends []records.SendCommand, used []bool, a *records.Activity) int {
	for j := range sends {
		if !used[j] && sends[j].InstanceID == a.InstanceID && sends[j].StepID == a.StepID {
			used[j] = true
			return j
		}
	}
	return -1
}

func timelineInput(in journey.Input) *timeline.Input {
	switch {
	case in.Event != nil:
		return &timeline.Input{Type: "event", Name: in.Event.Name, MessageID: in.Event.MessageID, Timestamp: in.Event.Timestamp}
	case in.Receipt != nil:
		return &timeline.Input{Type: "receipt", ReceiptID: in.Receipt.ReceiptID}
	case in.Wake != "":
		return &timeline.Input{Type: "timer"}
	}
	return nil
}
