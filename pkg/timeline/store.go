package timeline

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/beckon-dev/beckon/pkg/codec"
	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/pkg/stream"
	"github.com/beckon-dev/beckon/pkg/topics"
)

// DefaultGroup is the timeline processor's consumer group when
// Config.Group is empty; the engine service names it GroupBeside its own.
const DefaultGroup = "beckon-timelines"

// GroupBeside is the group of the timeline processor the engine service
// runs beside the engine group engineGroup: what a Router reads.
func GroupBeside(engineGroup string) string { return engineGroup + "-timelines" }

// Retention bounds the instance timelines the processor keeps
// (docs/api-timelines.md). Zero values take the defaults.
type Retention struct {
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

func (c *Retention) defaults() {
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

// Config configures a Processor.
type Config struct {
	// Topics is the deployment's layout: activity, receipts, the
	// send.<channel> topics, dlq and changelog.timelines are read from
	// it.
	Topics topics.Layout
	// Codec decodes activities, receipts and send commands.
	Codec *codec.Codec
	// Group is the consumer group and state directory name. Default
	// DefaultGroup.
	Group string
	// Retention bounds what is kept.
	Retention Retention
	// QueryAddr is the address (host:port, or an http(s) URL) this
	// instance answers timeline queries on (QueryHandler), as others
	// reach it; it is advertised in the group's member metadata so a
	// Router finds the owner of a user's partition. Empty: not
	// advertised.
	QueryAddr string
	// Logger receives the processor's logs. Default slog.Default().
	Logger *slog.Logger
}

// Processor keeps each journey instance's timeline, fed by the activity
// topic, the receipts and the send commands, in a stream group of its
// own beside the engine (so it costs the engine nothing per event), and
// answers queries about the partitions it owns.
type Processor struct {
	cfg       Config
	log       *slog.Logger
	activity  string
	receipts  string
	sends     map[string]bool
	group     *stream.Group
	keyTopic  string // the topic whose partitions the users' partitions are
	runnerMu  sync.Mutex
	runner    *stream.Runner
	faultHook func(m stream.Message) error // tests: fail after the writes
}

// New declares the processor's stream group.
func New(cfg Config) (*Processor, error) {
	if cfg.Codec == nil {
		return nil, errors.New("timeline: Config.Codec is not set")
	}
	if cfg.Group == "" {
		cfg.Group = DefaultGroup
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.Retention.defaults()
	p := &Processor{cfg: cfg, log: cfg.Logger, sends: map[string]bool{}}
	var missing []string
	name := func(base string) string {
		s, ok := cfg.Topics.Spec(base)
		if !ok {
			missing = append(missing, base)
		}
		return s.Name
	}
	p.activity, p.receipts = name("activity"), name("receipts")
	dlq, changelog := name("dlq"), name("changelog."+topics.TimelineStore)
	if len(missing) > 0 {
		return nil, fmt.Errorf("timeline: topic layout lacks %v", missing)
	}
	p.keyTopic = p.activity
	edges := []stream.Edge{
		stream.Input(p.activity),
		stream.Input(p.receipts),
		stream.Changelog(changelog),
		stream.DeadLetter(dlq),
		stream.Process(p.process),
		// A user's activities, receipts and send commands must meet in
		// one partition.
		stream.CheckPartitioning(),
	}
	for _, s := range cfg.Topics.Specs {
		if strings.HasPrefix(s.Base, "send.") {
			p.sends[s.Name] = true
			edges = append(edges, stream.Input(s.Name))
		}
	}
	g, err := stream.Define(cfg.Group, edges...)
	if err != nil {
		return nil, fmt.Errorf("timeline: %w", err)
	}
	p.group = g
	return p, nil
}

// Group is the stream group to run (stream.New).
func (p *Processor) Group() *stream.Group { return p.group }

// Options completes o for the processor's runner: its query address in
// the group's member metadata.
func (p *Processor) Options(o stream.Options) stream.Options {
	if p.cfg.QueryAddr != "" {
		o.GroupUserData = MemberData(p.cfg.QueryAddr)
	}
	return o
}

// Run runs the processor's group until ctx ends.
func (p *Processor) Run(ctx context.Context, o stream.Options) error {
	r, err := stream.New(p.group, p.Options(o))
	if err != nil {
		return fmt.Errorf("timeline: %w", err)
	}
	return p.run(ctx, r)
}

func (p *Processor) run(ctx context.Context, r *stream.Runner) error {
	p.runnerMu.Lock()
	p.runner = r
	p.runnerMu.Unlock()
	if err := r.Run(ctx); err != nil {
		return fmt.Errorf("timelines: %w", err)
	}
	return nil
}

// Alongside returns a function that runs the processor's group with o
// while main runs, for a service that hosts the processor beside its own
// work (the engine does, with --timelines): when either returns, the
// other is stopped, and the first error is returned.
func (p *Processor) Alongside(o stream.Options, main func(context.Context) error) (func(context.Context) error, error) {
	r, err := stream.New(p.group, p.Options(o))
	if err != nil {
		return nil, fmt.Errorf("timeline: %w", err)
	}
	return func(ctx context.Context) error {
		return stream.RunBeside(ctx, main, func(ctx context.Context) error { return p.run(ctx, r) })
	}, nil
}

// Partitions returns the partitions this instance owns; Ready reports
// whether all of them are restored.
func (p *Processor) Partitions() []int32 {
	if r := p.currentRunner(); r != nil {
		return r.Partitions()
	}
	return nil
}

// Ready reports whether the processor has joined its group and restored
// what it owns.
func (p *Processor) Ready() bool {
	r := p.currentRunner()
	return r != nil && r.Ready()
}

// Health is nil while the processor makes progress (or has not started),
// and otherwise says why not.
func (p *Processor) Health() error {
	if r := p.currentRunner(); r != nil {
		if err := r.Health(); err != nil {
			return fmt.Errorf("timelines: %w", err)
		}
	}
	return nil
}

func (p *Processor) currentRunner() *stream.Runner {
	p.runnerMu.Lock()
	defer p.runnerMu.Unlock()
	return p.runner
}

// partition is what the processor uses of a stream.Context (a fake in
// unit tests).
type partition interface {
	Now() time.Time
	Get(key []byte) ([]byte, bool, error)
	Set(key, value []byte)
	Delete(key []byte)
	Range(start, end []byte, fn func(key, value []byte) bool) error
	Schedule(key []byte, due time.Time, payload []byte) error
	Cancel(key []byte) error
}

var _ partition = (*stream.Context)(nil)

func (p *Processor) process(c *stream.Context, m stream.Message) error {
	err := p.handle(c, m)
	if err == nil && p.faultHook != nil {
		err = p.faultHook(m)
	}
	return err
}

// handle records one message. A record that does not decode is a dead
// letter (it costs itself, not the partition).
func (p *Processor) handle(c partition, m stream.Message) error {
	ctx := context.Background()
	switch {
	case m.Kind == stream.KindTimer:
		user, ok := bytes.CutSuffix(m.Key, []byte{0, 0})
		if !ok {
			return fmt.Errorf("timer key %q: not user\\x00\\x00", m.Key)
		}
		return p.expire(c, string(user))
	case m.Topic == p.activity:
		var a records.Activity
		if err := p.cfg.Codec.Decode(ctx, m.Value, &a); err != nil {
			return fmt.Errorf("decode activity: %w", err)
		}
		if !validUserID(a.UserID) {
			return fmt.Errorf("activity %s: user ID is empty or holds a zero byte", a.ActivityID)
		}
		return p.onActivity(c, &a, inputOf(m.Headers))
	case m.Topic == p.receipts:
		var r records.Receipt
		if err := p.cfg.Codec.Decode(ctx, m.Value, &r); err != nil {
			return fmt.Errorf("decode receipt: %w", err)
		}
		if !validUserID(r.UserID) || r.CommandID == "" {
			return nil // no instance's: the engine says so in an activity
		}
		return p.onReceipt(c, &r, m.Timestamp)
	case p.sends[m.Topic]:
		var s records.SendCommand
		if err := p.cfg.Codec.Decode(ctx, m.Value, &s); err != nil {
			return fmt.Errorf("decode send command: %w", err)
		}
		if !validUserID(s.UserID) || s.InstanceID == "" || s.CommandID == "" {
			return nil
		}
		return p.onSend(c, &s)
	}
	return nil
}

func validUserID(u string) bool { return u != "" && strings.IndexByte(u, 0) < 0 }

// A user's timeline is in the processor's partition state, written in
// the transaction that reads the records it comes from (exactly once),
// kept in the group's changelog and moved with the partition. All of it
// is under user\x00\x00, so forgetting a user's timeline is one prefix
// delete:
//
//	user\x00\x00c<instance>\x00<command ID>              a send command (Send, JSON)
//	user\x00\x00e<instance>\x00<seq u32 BE><sub u16 BE>  one entry (Entry, JSON)
//	user\x00\x00i                                      the index (tlIndex, JSON)
//	user\x00\x00r<command ID>\x00<receipt ID>            a receipt that came before its send (Entry, JSON)
//
// and its expiry timer is the timer key user\x00\x00.
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

func sendPrefix(user, instance string) []byte {
	return append(append(append(timelinePrefix(user), 'c'), instance...), 0)
}

func sendKey(user, instance, command string) []byte {
	return append(sendPrefix(user, instance), command...)
}

// tlIndex is what the processor keeps of a user's timeline besides the
// entries: a summary of each instance and the user's recent activities
// outside any instance.
type tlIndex struct {
	Instances  []tlInstance `json:"i,omitempty"`
	NotEntered []NotEntered `json:"n,omitempty"`
	// Armed is when the expiry timer is due (unix ms); 0: none.
	Armed int64 `json:"x,omitempty"`
	// Waiting are the command IDs of receipts that came before their
	// send's activity (onReceipt), so that only the sends they wait for
	// look for them.
	Waiting []string `json:"w,omitempty"`
}

type tlInstance struct {
	Instance
	// Cmds are the command IDs of the instance's latest sends, to place
	// their receipts; the send commands of older ones are deleted.
	Cmds []string `json:"cmds,omitempty"`
}

const (
	keptNotEntered = 20 // a user's activities outside instances kept
	keptCmds       = 16 // command IDs (and send commands) kept per instance
)

func (ix *tlIndex) find(id string) *tlInstance {
	for i := range ix.Instances {
		if ix.Instances[i].InstanceID == id {
			return &ix.Instances[i]
		}
	}
	return nil
}

// onActivity adds the entry of activity a. Most activities (a hold
// reset, a step done) only add their entry: the index changes when an
// instance enters, sends or exits, and for the user's activities outside
// instances.
func (p *Processor) onActivity(c partition, a *records.Activity, input *Input) error {
	user := a.UserID
	if a.InstanceID != "" && a.Kind != records.ActivityEntered && a.Kind != records.ActivitySent && a.Kind != records.ActivityExited {
		p.putActivityEntry(c, a, input)
		return nil
	}
	ix, err := p.readTimelineIndex(c, user)
	if err != nil {
		return err
	}
	if a.InstanceID == "" {
		ix.NotEntered = append(ix.NotEntered, NotEntered{At: a.At, JourneyID: a.JourneyID, JourneyVersion: a.JourneyVersion, Kind: string(a.Kind), Reason: a.Reason, TraceID: a.TraceID, Input: input})
		if n := len(ix.NotEntered); n > keptNotEntered {
			ix.NotEntered = slices.Delete(ix.NotEntered, 0, n-keptNotEntered)
		}
		return p.storeIndex(c, user, &ix, a.At)
	}
	ti := ix.find(a.InstanceID)
	if ti == nil {
		ix.Instances = append(ix.Instances, tlInstance{Instance: Instance{InstanceID: a.InstanceID, JourneyID: a.JourneyID, EntryKey: a.EntryKey, Status: "active"}})
		ti = &ix.Instances[len(ix.Instances)-1]
	}
	p.putActivityEntry(c, a, input)
	if cmd := commandOf(a); cmd != "" && !slices.Contains(ti.Cmds, cmd) {
		if i := slices.Index(ix.Waiting, cmd); i >= 0 {
			p.placePending(c, user, ti, cmd, activitySeq(a.ActivityID, 1))
			ix.Waiting = slices.Delete(ix.Waiting, i, i+1)
		}
		ti.Cmds = append(ti.Cmds, cmd)
		if n := len(ti.Cmds); n > keptCmds {
			for _, old := range ti.Cmds[:n-keptCmds] {
				c.Delete(sendKey(user, ti.InstanceID, old))
			}
			ti.Cmds = slices.Delete(ti.Cmds, 0, n-keptCmds)
		}
	}
	// Records of one partition come in order within a topic: an
	// activity's At never goes back for its instance.
	ti.JourneyVersion, ti.Step = a.JourneyVersion, a.StepID
	ti.LastAt = later(ti.LastAt, a.At)
	if ti.TraceID == "" {
		ti.TraceID = a.TraceID
	}
	switch a.Kind {
	case records.ActivityEntered:
		ti.EnteredAt = a.At
	case records.ActivityExited:
		ti.Status, ti.ExitReason = "exited", a.Reason
	}
	return p.storeIndex(c, user, &ix, a.At)
}

// onReceipt adds a "receipt" entry to the instance that sent the
// command, after its newest entry. The processor reads the receipts and
// the activity topics independently, so a receipt may come before the
// "sent" activity of its command (a processor catching up reads ahead
// in one topic): a receipt of a command no kept instance has sent yet
// waits, under the user's prefix, for that activity (placePending), and
// goes with the retention if none comes.
func (p *Processor) onReceipt(c partition, r *records.Receipt, ts time.Time) error {
	user := r.UserID
	ix, err := p.readTimelineIndex(c, user)
	if err != nil {
		return err
	}
	at := r.OccurredAt
	if at.IsZero() {
		at = ts
	}
	entry := Entry{At: at, Kind: "receipt", Input: &Input{Type: "receipt", ReceiptID: r.ReceiptID},
		Receipt: &Receipt{ReceiptID: r.ReceiptID, CommandID: r.CommandID, Channel: r.Channel, Status: string(r.Status), ReplyText: r.ReplyText, FailureReason: r.FailureReason, OccurredAt: r.OccurredAt}}
	var ti *tlInstance
	for i := range ix.Instances {
		if slices.Contains(ix.Instances[i].Cmds, r.CommandID) {
			ti = &ix.Instances[i]
			break
		}
	}
	if ti == nil {
		if !slices.Contains(ix.Waiting, r.CommandID) {
			if len(ix.Waiting) >= keptPending {
				return nil // bounded: a flood of strangers' receipts is not kept
			}
			ix.Waiting = append(ix.Waiting, r.CommandID)
		}
		bp := encodeBuffers.Get().(*[]byte)
		*bp = appendEntry((*bp)[:0], &entry)
		c.Set(pendingKey(user, r.CommandID, r.ReceiptID), *bp)
		encodeBuffers.Put(bp)
		return p.storeIndex(c, user, &ix, at) // the expiry timer takes it if no send comes
	}
	seq, sub := p.lastEntry(c, user, ti.InstanceID)
	entry.Seq, entry.Sub, entry.Step = seq, sub+1, ti.Step
	p.putTimelineEntry(c, user, ti.InstanceID, seq, sub+1, &entry)
	ti.LastAt = later(ti.LastAt, at)
	return p.storeIndex(c, user, &ix, at)
}

// keptPending bounds the sends whose receipts a user's timeline holds
// waiting for them.
const keptPending = 64

func pendingPrefix(user, command string) []byte {
	k := append(append(timelinePrefix(user), 'r'), command...)
	if command != "" {
		k = append(k, 0)
	}
	return k
}

func pendingKey(user, command, receipt string) []byte {
	return append(pendingPrefix(user, command), receipt...)
}

// placePending moves the receipts that came before the "sent" activity
// of command (its entry is seq) into the instance's timeline, right
// after that entry.
func (p *Processor) placePending(c partition, user string, ti *tlInstance, command string, seq int) {
	pre := pendingPrefix(user, command)
	var waiting [][2][]byte
	if err := c.Range(pre, prefixEnd(pre), func(k, v []byte) bool {
		waiting = append(waiting, [2][]byte{bytes.Clone(k), bytes.Clone(v)})
		return true
	}); err != nil {
		p.log.Warn("timeline: range read failed; receipts that came early stay unplaced", "err", err)
		return
	}
	for i, kv := range waiting {
		c.Delete(kv[0])
		var en Entry
		if json.Unmarshal(kv[1], &en) != nil {
			continue
		}
		en.Seq, en.Sub, en.Step = seq, i+1, ti.Step
		p.putTimelineEntry(c, user, ti.InstanceID, seq, i+1, &en)
		ti.LastAt = later(ti.LastAt, en.At)
	}
}

// expirePending deletes the receipts waiting for a send that have waited
// longer than the retention, and returns the command IDs still waited
// for.
func (p *Processor) expirePending(c partition, user string, cut time.Time) (waiting []string) {
	pre := pendingPrefix(user, "")
	var old [][]byte
	if err := c.Range(pre, prefixEnd(pre), func(k, v []byte) bool {
		var en Entry
		if json.Unmarshal(v, &en) != nil || en.At.Before(cut) {
			old = append(old, bytes.Clone(k))
		} else if cmd, _, ok := bytes.Cut(k[len(pre):], []byte{0}); ok && !slices.Contains(waiting, string(cmd)) {
			waiting = append(waiting, string(cmd))
		}
		return true
	}); err != nil {
		p.log.Warn("timeline: range read failed", "err", err)
		return nil
	}
	for _, k := range old {
		c.Delete(k)
	}
	return waiting
}

// onSend keeps a send command, with its payload, for the "sent" entry of
// its instance: the entry names it (details.command_id), the query joins
// them. The command and the activity are written in one engine
// transaction to different topics, so either may come first.
func (p *Processor) onSend(c partition, s *records.SendCommand) error {
	send := Send{CommandID: s.CommandID, Channel: s.Channel, Template: s.TemplateID, Recipient: s.Recipient, Locale: s.Locale, Deadline: s.Deadline}
	if len(s.Payload) > 0 {
		send.Payload = json.RawMessage(s.Payload)
	}
	b, err := json.Marshal(send)
	if err != nil {
		return fmt.Errorf("encode send command %s: %w", s.CommandID, err)
	}
	c.Set(sendKey(s.UserID, s.InstanceID, s.CommandID), b)
	return nil
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// storeIndex applies the retention to the index, arms the expiry timer
// if it is not, and writes the index.
func (p *Processor) storeIndex(c partition, user string, ix *tlIndex, at time.Time) error {
	now := c.Now()
	p.retain(c, user, ix, now)
	if ix.Armed == 0 {
		due := now.Add(p.cfg.Retention.MaxAge)
		if err := c.Schedule(timelinePrefix(user), due, nil); err != nil {
			return stream.Retryable(fmt.Errorf("timeline expiry timer of user %q: %w", user, err))
		}
		ix.Armed = due.UnixMilli()
	}
	return p.writeTimelineIndex(c, user, ix)
}

// commandOf returns the command ID of a "sent" activity (its details'
// command_id), or "".
func commandOf(a *records.Activity) string {
	if a.Kind != records.ActivitySent || len(a.Details) == 0 {
		return ""
	}
	var d struct {
		CommandID string `json:"command_id"`
	}
	if json.Unmarshal(a.Details, &d) != nil {
		return ""
	}
	return d.CommandID
}

// expire runs when a user's timeline expiry timer fires: ended instances
// idle for MaxAge go, and the timer is armed again for what remains.
func (p *Processor) expire(c partition, user string) error {
	ix, err := p.readTimelineIndex(c, user)
	if err != nil {
		return err
	}
	now := c.Now()
	ix.Armed = 0
	p.retain(c, user, &ix, now)
	if len(ix.Waiting) > 0 {
		ix.Waiting = p.expirePending(c, user, now.Add(-p.cfg.Retention.MaxAge))
	}
	if len(ix.Instances) == 0 && len(ix.NotEntered) == 0 && len(ix.Waiting) == 0 {
		// Nothing is left to show: whatever is left under the prefix (a
		// send whose activity never came) goes too.
		p.deleteTimelineRange(c, timelinePrefix(user))
		return nil
	}
	maxAge := p.cfg.Retention.MaxAge
	due := now.Add(maxAge)
	for _, ti := range ix.Instances {
		if ti.Status == "exited" && ti.LastAt.Add(maxAge).Before(due) {
			due = ti.LastAt.Add(maxAge)
		}
	}
	for _, ne := range ix.NotEntered {
		if ne.At.Add(maxAge).Before(due) {
			due = ne.At.Add(maxAge)
		}
	}
	if soon := now.Add(time.Minute); due.Before(soon) {
		due = soon // not again in this transaction
	}
	if err := c.Schedule(timelinePrefix(user), due, nil); err != nil {
		return stream.Retryable(fmt.Errorf("timeline expiry timer of user %q: %w", user, err))
	}
	ix.Armed = due.UnixMilli()
	return p.writeTimelineIndex(c, user, &ix)
}

// retain applies the age and count bounds to the user's instances and
// not-entered records, deleting the entries and send commands of the
// instances that go.
func (p *Processor) retain(c partition, user string, ix *tlIndex, now time.Time) {
	cut := now.Add(-p.cfg.Retention.MaxAge)
	ix.NotEntered = slices.DeleteFunc(ix.NotEntered, func(ne NotEntered) bool { return ne.At.Before(cut) })
	drop := func(i int) {
		p.deleteTimelineRange(c, timelineInstancePrefix(user, ix.Instances[i].InstanceID))
		p.deleteTimelineRange(c, sendPrefix(user, ix.Instances[i].InstanceID))
		ix.Instances = slices.Delete(ix.Instances, i, i+1)
	}
	for i := len(ix.Instances) - 1; i >= 0; i-- {
		if ix.Instances[i].Status == "exited" && ix.Instances[i].LastAt.Before(cut) {
			drop(i)
		}
	}
	for len(ix.Instances) > p.cfg.Retention.MaxInstances {
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
func (p *Processor) pruneEntries(c partition, user, instance string, seq int) {
	limit := p.cfg.Retention.MaxEntries
	if seq <= limit || seq%max(1, limit/4) != 0 {
		return
	}
	p.deleteTimelineRange(c, timelineEntryKey(user, instance, 0, 0), timelineEntryKey(user, instance, seq-limit+1, 0))
}

// lastEntry returns the key of the instance's newest entry (0, 0: none).
func (p *Processor) lastEntry(c partition, user, instance string) (seq, sub int) {
	pre := timelineInstancePrefix(user, instance)
	if err := c.Range(pre, prefixEnd(pre), func(k, _ []byte) bool {
		seq, sub = entryKeySeq(k)
		return true
	}); err != nil {
		p.log.Warn("timeline: range read failed", "err", err)
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

// putActivityEntry writes the entry of activity a and prunes the
// instance's oldest entries.
func (p *Processor) putActivityEntry(c partition, a *records.Activity, input *Input) {
	seq := activitySeq(a.ActivityID, 1)
	entry := Entry{Seq: seq, At: a.At, Kind: string(a.Kind), Step: a.StepID, Reason: a.Reason, SpanID: a.SpanID, Input: input}
	if len(a.Details) > 0 {
		entry.Details = json.RawMessage(a.Details)
	}
	p.putTimelineEntry(c, a.UserID, a.InstanceID, seq, 0, &entry)
	p.pruneEntries(c, a.UserID, a.InstanceID, seq)
}

// deleteTimelineRange deletes the keys with prefix from (one argument) or
// in [from, to).
func (p *Processor) deleteTimelineRange(c partition, from []byte, to ...[]byte) {
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
		p.log.Warn("timeline: range read failed; old entries stay until the next prune", "err", err)
	}
	for _, k := range keys {
		c.Delete(k)
	}
}

// forget deletes user's whole timeline and its expiry timer: one prefix
// delete in the transaction of the caller.
func (p *Processor) forget(c partition, user string) error {
	p.deleteTimelineRange(c, timelinePrefix(user))
	if err := c.Cancel(timelinePrefix(user)); err != nil {
		return stream.Retryable(fmt.Errorf("timeline expiry timer of user %q: %w", user, err))
	}
	return nil
}

// prefixEnd returns the smallest key after every key with prefix p; the
// timeline's prefixes all end with a zero byte or a namespace letter, so
// it is p with its last byte raised.
func prefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	end[len(end)-1]++
	return end
}

func (p *Processor) readTimelineIndex(c partition, user string) (tlIndex, error) {
	var ix tlIndex
	v, ok, err := c.Get(timelineIndexKey(user))
	if err != nil {
		return ix, stream.Retryable(fmt.Errorf("read timeline of user %q: %w", user, err))
	}
	if ok {
		if err := json.Unmarshal(v, &ix); err != nil {
			// A bad index costs the user's timeline, not the record.
			p.log.Warn("timeline: stored index is unreadable; the user's timeline starts again", "user", user, "err", err)
			p.deleteTimelineRange(c, timelinePrefix(user))
			ix = tlIndex{}
		}
	}
	return ix, nil
}

func (p *Processor) writeTimelineIndex(c partition, user string, ix *tlIndex) error {
	b, err := json.Marshal(ix)
	if err != nil {
		return fmt.Errorf("encode timeline of user %q: %w", user, err)
	}
	c.Set(timelineIndexKey(user), b)
	return nil
}

func (p *Processor) putTimelineEntry(c partition, user, instance string, seq, sub int, entry *Entry) {
	// Set copies the value: the buffer is the pool's again after.
	bp := encodeBuffers.Get().(*[]byte)
	*bp = appendEntry((*bp)[:0], entry)
	c.Set(timelineEntryKey(user, instance, seq, sub), *bp)
	encodeBuffers.Put(bp)
}

var encodeBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

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
