package journeymetrics

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/beckon-dev/beckon/pkg/codec"
	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/pkg/stream"
	"github.com/beckon-dev/beckon/pkg/topics"
)

// Defaults of Config.
const (
	DefaultGroup           = "beckon-journey-metrics"
	DefaultSendRetention   = 30 * 24 * time.Hour
	DefaultHourlyRetention = 31 * 24 * time.Hour
)

// Config configures a Processor.
type Config struct {
	// Topics is the deployment's layout: activity, receipts, dlq,
	// metrics.journeys and changelog.journey-metrics are read from it.
	Topics topics.Layout
	// Codec decodes activities and receipts.
	Codec *codec.Codec
	// Group is the consumer group and state directory name. Default
	// DefaultGroup.
	Group string
	// SendRetention is how long, from when the processor reads a send, it
	// is remembered so its receipts can be attributed to its journey,
	// version and step; a receipt that comes later is not counted. Default
	// 30 days.
	SendRetention time.Duration
	// HourlyRetention is how long after its hour an hourly count is kept;
	// all-time counts are kept for ever. Default 31 days: every reader
	// holds every hourly count of every partition in memory.
	HourlyRetention time.Duration

	// fault, in tests, fails the processing of a message after its
	// writes and emits, so the transaction aborts.
	fault func(m stream.Message) error
}

// Processor aggregates activities and receipts into partial counts. It
// keeps no state of its own besides its configuration: everything is in
// the partition's store.
type Processor struct {
	cfg                          Config
	activity, receipts, out, dlq string
	changelog                    string
	group                        *stream.Group
	// runner is the runner Alongside made, for Ready and Health.
	runner atomic.Pointer[stream.Runner]
}

// Key namespaces of the processor's state (under the runtime's own).
const (
	nsCount    = 'c' // c<cell JSON>            -> count, 8 bytes big-endian
	nsSend     = 's' // s<sha256(command ID)>   -> sendRecord JSON
	nsPosition = 'i' // i<sha256(instance ID)>  -> step the instance is at
	// Timers: s<hash> forgets a send, h<cell JSON> drops an hourly count.
	timerHourly = 'h'
)

// New declares the processor's stream group.
func New(cfg Config) (*Processor, error) {
	if cfg.Codec == nil {
		return nil, errors.New("journeymetrics: Config.Codec is not set")
	}
	if cfg.Group == "" {
		cfg.Group = DefaultGroup
	}
	if cfg.SendRetention <= 0 {
		cfg.SendRetention = DefaultSendRetention
	}
	if cfg.HourlyRetention <= 0 {
		cfg.HourlyRetention = DefaultHourlyRetention
	}
	p := &Processor{cfg: cfg}
	var missing []string
	name := func(base string) string {
		s, ok := cfg.Topics.Spec(base)
		if !ok {
			missing = append(missing, base)
		}
		return s.Name
	}
	p.activity, p.receipts, p.dlq = name("activity"), name("receipts"), name("dlq")
	p.out, p.changelog = name("metrics.journeys"), name("changelog."+topics.JourneyMetricsStore)
	if len(missing) > 0 {
		return nil, fmt.Errorf("journeymetrics: topic layout lacks %v", missing)
	}
	g, err := stream.Define(cfg.Group,
		stream.Input(p.activity),
		stream.Input(p.receipts),
		stream.Changelog(p.changelog),
		stream.DeadLetter(p.dlq),
		stream.Output(p.out),
		stream.Process(p.process),
		// The send index joins a user's receipts to the same user's sent
		// activities: both must be in the same partition.
		stream.CheckPartitioning(),
	)
	if err != nil {
		return nil, fmt.Errorf("journeymetrics: %w", err)
	}
	p.group = g
	return p, nil
}

// Group is the stream group to run (stream.New).
func (p *Processor) Group() *stream.Group { return p.group }

// Topic is the metrics topic the processor writes and a Reader follows.
func (p *Processor) Topic() string { return p.out }

func (p *Processor) process(c *stream.Context, m stream.Message) error {
	var err error
	switch {
	case m.Kind == stream.KindTimer:
		err = p.expire(c, m.Key)
	case m.Topic == p.activity:
		var a records.Activity
		if derr := p.cfg.Codec.Decode(context.Background(), m.Value, &a); derr != nil {
			return fmt.Errorf("decode activity: %w", derr)
		}
		err = p.onActivity(c, &a)
	case m.Topic == p.receipts:
		var r records.Receipt
		if derr := p.cfg.Codec.Decode(context.Background(), m.Value, &r); derr != nil {
			return fmt.Errorf("decode receipt: %w", derr)
		}
		at := r.OccurredAt
		if at.IsZero() {
			at = m.Timestamp
		}
		err = p.onReceipt(c, &r, at)
	}
	if err == nil && p.cfg.fault != nil {
		err = p.cfg.fault(m)
	}
	return err
}

// onActivity counts one transition and follows the instance's position.
func (p *Processor) onActivity(c *stream.Context, a *records.Activity) error {
	if a.JourneyID == "" {
		// A receipt nobody waited for: no journey to count it under.
		return nil
	}
	base := Cell{Journey: a.JourneyID, Version: a.JourneyVersion, Step: a.StepID}
	var measure Measure
	reason := ""
	switch a.Kind {
	case records.ActivityEntered:
		measure = MeasureEntered
	case records.ActivityExited:
		measure, reason = MeasureExited, a.Reason
	case records.ActivitySent:
		measure = MeasureSent
		if err := p.rememberSend(c, a); err != nil {
			return err
		}
	case records.ActivitySkipped:
		measure, reason = MeasureSkipped, a.Reason
	case records.ActivityConverted:
		measure = MeasureConverted
	case records.ActivityError:
		measure = MeasureErrors
	}
	if measure != "" {
		cell := base
		cell.Measure, cell.Reason = measure, clip(reason)
		if err := p.count(c, cell, a.At, 1); err != nil {
			return err
		}
	}
	if a.InstanceID != "" {
		return p.move(c, a)
	}
	return nil
}

// move keeps the active level per step: each instance is counted at the
// step of its latest transition until it exits. An instance first seen
// after its entry (the processor started on a topic already under way)
// is counted from then; one that exits unseen is not subtracted.
func (p *Processor) move(c *stream.Context, a *records.Activity) error {
	key := hashedKey(nsPosition, a.InstanceID)
	old, known, err := c.Get(key)
	if err != nil {
		return stream.Retryable(err)
	}
	cell := Cell{Journey: a.JourneyID, Version: a.JourneyVersion, Measure: MeasureActive}
	if known {
		if a.Kind != records.ActivityExited && string(old) == a.StepID {
			return nil
		}
		from := cell
		from.Step = string(old)
		if err := p.count(c, from, a.At, -1); err != nil {
			return err
		}
	}
	if a.Kind == records.ActivityExited {
		if known {
			c.Delete(key)
		}
		return nil
	}
	c.Set(key, []byte(a.StepID))
	to := cell
	to.Step = a.StepID
	return p.count(c, to, a.At, 1)
}

// sendRecord is what the processor remembers of a send, under a hash of
// its command ID, to attribute its receipts.
type sendRecord struct {
	Journey string `json:"j,omitempty"`
	Version int32  `json:"v,omitempty"`
	Step    string `json:"s,omitempty"`
	// Known is false while only receipts have been seen: they came before
	// the sent activity (activity is read behind receipts), and wait
	// in Pending for it.
	Known   bool             `json:"k"`
	Counted []Measure        `json:"c,omitempty"`
	Pending []pendingReceipt `json:"p,omitempty"`
}

type pendingReceipt struct {
	Measure Measure `json:"m"`
	At      int64   `json:"t"` // Unix milliseconds
}

// sendKey is the send index's key of a command.
func sendKey(commandID string) []byte { return hashedKey(nsSend, commandID) }

// hashedKey hashes an instance or command ID into a state key, so the
// changelog does not carry Beckon's identifiers of a user's instances in
// clear (they are derived from the user ID).
func hashedKey(ns byte, id string) []byte {
	h := sha256.Sum256([]byte(id))
	return append([]byte{ns}, h[:16]...)
}

func (p *Processor) loadSend(c *stream.Context, key []byte) (sendRecord, bool, error) {
	var s sendRecord
	v, ok, err := c.Get(key)
	if err != nil || !ok {
		return s, false, stream.Retryable(err)
	}
	if err := json.Unmarshal(v, &s); err != nil {
		return s, false, fmt.Errorf("send record: %w", err)
	}
	return s, true, nil
}

func (p *Processor) storeSend(c *stream.Context, key []byte, s sendRecord) {
	b, _ := json.Marshal(s) // strings and integers only
	c.Set(key, b)
}

// rememberSend records a send's journey, version and step, and counts the
// receipts that came before it.
func (p *Processor) rememberSend(c *stream.Context, a *records.Activity) error {
	var d struct {
		CommandID string `json:"command_id"`
	}
	if len(a.Details) > 0 {
		_ = json.Unmarshal(a.Details, &d) // a sent activity without one is counted, not attributed
	}
	if d.CommandID == "" {
		return nil
	}
	key := sendKey(d.CommandID)
	s, seen, err := p.loadSend(c, key)
	if err != nil {
		return err
	}
	if seen && s.Known {
		return nil // a replay of the same send
	}
	s.Journey, s.Version, s.Step, s.Known = a.JourneyID, a.JourneyVersion, a.StepID, true
	pending := s.Pending
	s.Pending = nil
	for _, r := range pending {
		if err := p.countReceipt(c, &s, r.Measure, time.UnixMilli(r.At)); err != nil {
			return err
		}
	}
	p.storeSend(c, key, s)
	if !seen {
		return c.Schedule(key, c.Now().Add(p.cfg.SendRetention), nil)
	}
	return nil
}

// receiptMeasure maps a receipt status to its measure; unknown statuses
// (a newer producer) are not counted.
func receiptMeasure(s records.ReceiptStatus) Measure {
	switch s {
	case records.ReceiptSent:
		return MeasureAccepted
	case records.ReceiptDelivered:
		return MeasureDelivered
	case records.ReceiptFailed:
		return MeasureFailed
	case records.ReceiptOpened:
		return MeasureOpened
	case records.ReceiptClicked:
		return MeasureClicked
	case records.ReceiptReplied:
		return MeasureReplied
	case records.ReceiptUnsubscribed:
		return MeasureUnsubscribed
	}
	return ""
}

func (p *Processor) onReceipt(c *stream.Context, r *records.Receipt, at time.Time) error {
	measure := receiptMeasure(r.Status)
	if measure == "" || r.CommandID == "" {
		return nil
	}
	key := sendKey(r.CommandID)
	s, seen, err := p.loadSend(c, key)
	if err != nil {
		return err
	}
	if !s.Known {
		for _, q := range s.Pending {
			if q.Measure == measure {
				return nil
			}
		}
		s.Pending = append(s.Pending, pendingReceipt{Measure: measure, At: at.UnixMilli()})
		p.storeSend(c, key, s)
		if !seen {
			// Forgotten if its send never shows up.
			return c.Schedule(key, c.Now().Add(p.cfg.SendRetention), nil)
		}
		return nil
	}
	if err := p.countReceipt(c, &s, measure, at); err != nil {
		return err
	}
	p.storeSend(c, key, s)
	return nil
}

// countReceipt counts measure for the send once.
func (p *Processor) countReceipt(c *stream.Context, s *sendRecord, measure Measure, at time.Time) error {
	for _, m := range s.Counted {
		if m == measure {
			return nil
		}
	}
	s.Counted = append(s.Counted, measure)
	return p.count(c, Cell{Journey: s.Journey, Version: s.Version, Step: s.Step, Measure: measure}, at, 1)
}

// count adds delta to the cell all time and, for flows, in at's hour, and
// emits the new partial counts.
func (p *Processor) count(c *stream.Context, cell Cell, at time.Time, delta int64) error {
	cell.Hour = 0
	if err := p.add(c, cell, delta); err != nil {
		return err
	}
	if cell.Measure == MeasureActive {
		return nil
	}
	cell.Hour = hourOf(at)
	return p.add(c, cell, delta)
}

func (p *Processor) add(c *stream.Context, cell Cell, delta int64) error {
	ck, err := json.Marshal(cell)
	if err != nil {
		return fmt.Errorf("cell: %w", err)
	}
	key := append([]byte{nsCount}, ck...)
	v, ok, err := c.Get(key)
	if err != nil {
		return stream.Retryable(err)
	}
	var n int64
	if ok {
		if len(v) != 8 {
			return fmt.Errorf("count %s: %d bytes, want 8", ck, len(v))
		}
		n = int64(binary.BigEndian.Uint64(v))
	} else if cell.Hour != 0 {
		due := time.Unix((cell.Hour+1)*3600, 0).Add(p.cfg.HourlyRetention)
		if err := c.Schedule(append([]byte{timerHourly}, ck...), due, nil); err != nil {
			return stream.Retryable(err)
		}
	}
	n += delta
	c.Set(key, binary.BigEndian.AppendUint64(nil, uint64(n)))
	c.Emit(p.out, outputKey{Cell: cell, Partition: c.Partition()}.encode(), strconv.AppendInt(nil, n, 10))
	return nil
}

// expire forgets a send whose retention is over, or drops an hourly count
// (and tombstones it in the metrics topic).
func (p *Processor) expire(c *stream.Context, key []byte) error {
	if len(key) == 0 {
		return nil
	}
	switch key[0] {
	case nsSend:
		c.Delete(key)
	case timerHourly:
		var cell Cell
		if err := json.Unmarshal(key[1:], &cell); err != nil {
			return fmt.Errorf("hourly timer %q: %w", key, err)
		}
		c.Delete(append([]byte{nsCount}, key[1:]...))
		c.Emit(p.out, outputKey{Cell: cell, Partition: c.Partition()}.encode(), nil)
	}
	return nil
}

// clip keeps the stable part of a reason, the text before ": ": the
// engine writes the kind of reason first and its particulars after
// ("reentry cooldown: entered 3m20s ago", "reentry once_per_session:
// already entered in session <session ID>"), and particulars would make a
// count per occurrence and can identify a user's session. It cuts what is
// left to maxReasonBytes on a character boundary.
func clip(s string) string {
	if i := strings.Index(s, ": "); i >= 0 {
		s = s[:i]
	}
	if len(s) <= maxReasonBytes {
		return s
	}
	s = s[:maxReasonBytes]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}
