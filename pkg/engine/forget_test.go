package engine_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beckon-dev/beckon/pkg/journey"
	"github.com/beckon-dev/beckon/pkg/journeymetrics"
	"github.com/beckon-dev/beckon/pkg/kafkatest"
	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/pkg/stream"
	"github.com/beckon-dev/beckon/pkg/timeline"
	"github.com/beckon-dev/beckon/pkg/topics"
)

// onceJourney enters a user once ever, sends under a frequency cap and
// then waits on a timer: after it, a user has an entry record, a cap
// counter, a running instance and a pending timer.
const onceJourney = `
id: welcome-once
trigger:
  event: Signed Up
  reentry: once
policies:
  frequency_caps:
    - {channel: email, max: 5, per: 1d}
steps:
  - id: hello
    send: {channel: email, template: welcome}
  - id: later
    delay: {for: 3d}
  - id: again
    send: {channel: email, template: welcome-again}
`

// TestForgetUser: a user with running instances, pending timers, a cap
// counter, a once-only entry, a timeline and journey metrics entries is
// forgotten by a forget record, beside a user who is not. Afterwards:
// the user's instances exited with reason "forgotten" (so counts and
// gauges stay right); the compacted view of every changelog and of
// every topic Beckon writes holds nothing that names the user, in
// clear or hashed, while the other user's state is whole; the timeline
// knows no instance of the user; and the user's next Signed Up enters
// the once-only journey again, as for a new user, where the other user
// is refused. A second user is forgotten by a record with an empty
// value, as kcat or any client without an Avro encoder produces it.
//
// On a real broker, the topics are then set to compact at once and the
// test waits until the logs themselves, every record including
// tombstones and aborted data, hold nothing of the user.
func TestForgetUser(t *testing.T) {
	h := newHarness(t)
	for _, def := range []string{cartJourney, onceJourney} {
		if _, err := h.control.Publish(h.ctx, []byte(def), records.FormatYAML); err != nil {
			t.Fatal(err)
		}
	}
	const gone, kept, raw = "user-forgotten-7", "user-kept-8", "user-raw-9"
	for _, u := range []string{gone, kept, raw} {
		h.profile(u)
	}
	h.start()
	tp, _, _ := h.startTimelines("timelines-1", "")
	h.startJourneyMetrics()
	waitFor(t, "the timeline processor to be ready", func() bool { return tp.Ready() })
	activity, sends := h.read("activity"), h.read("send.email")

	for _, u := range []string{gone, kept, raw} {
		h.event(u, "Signed Up", `{}`)
		h.event(u, "Product Added", `{"cart_id":"c1","sku":"A"}`)
	}
	acts := activity.wait(t, "every user entered both journeys", func(recs []*kgo.Record) bool {
		return countKind(h.activities(recs), records.ActivityEntered, "") == 6
	})
	cmds := sends.wait(t, "every user's welcome", func(recs []*kgo.Record) bool { return len(recs) == 3 })
	q := tp.QueryHandler()
	waitFor(t, "the forgotten user's timeline", func() bool {
		var ui timeline.UserInstances
		return getJSON(t, q, "/v1/users/"+gone+"/instances", &ui) == 200 && len(ui.Instances) == 2
	})
	secrets := userSecrets(gone, h.activities(acts), h.sendCommands(cmds))

	h.produce("forget", gone, records.ForgetRequest{RequestID: "req-1", UserID: gone, RequestedAt: h.clock.now(), RequestedBy: "privacy-tool"})
	h.produceRaw("forget", raw, []byte{})
	activity.wait(t, "both users' instances exited as forgotten, then their tombstones", func(recs []*kgo.Record) bool {
		exits, tombs := map[string]int{}, map[string]bool{}
		for _, r := range recs {
			if r.Value == nil {
				tombs[string(r.Key)] = true
				continue
			}
			var a records.Activity
			if h.codec.Decode(h.ctx, r.Value, &a) == nil && a.Kind == records.ActivityExited && a.Reason == journey.ReasonForgotten && !tombs[a.UserID] {
				exits[a.UserID]++
			}
		}
		return exits[gone] == 2 && exits[raw] == 2 && tombs[gone] && tombs[raw]
	})
	waitFor(t, "the timeline processor to forget the user", func() bool {
		var ui timeline.UserInstances
		return getJSON(t, q, "/v1/users/"+gone+"/instances", &ui) == 200 && len(ui.Instances) == 0
	})

	// What compaction may leave: the latest live record of each key of
	// each compacted topic, and every record of the delete-only ones but
	// the forget topic, whose requests name their users until its
	// retention ends (docs/forget.md).
	scanned := h.beckonTopics()
	var left string
	t.Cleanup(func() {
		if t.Failed() && left != "" {
			t.Log("last found: " + left)
		}
	})
	waitFor(t, "no record compaction may leave in a changelog or Beckon topic to name the forgotten users", func() bool {
		left = ""
		for _, topic := range scanned {
			spec, _ := h.layout.Spec(strings.TrimPrefix(topic, h.layout.Prefix))
			if spec.Base == "forget" {
				continue
			}
			recs := h.snapshot(topic)
			if strings.Contains(spec.Configs["cleanup.policy"], "compact") {
				recs = liveView(recs)
			}
			for _, r := range recs {
				if what := secrets.find(r); what != "" || bytes.Contains(r.Key, []byte(raw)) || bytes.Contains(r.Value, []byte(raw)) {
					left = fmt.Sprintf("%s: record %q names a forgotten user (%s)", topic, r.Key, what)
					return false
				}
			}
		}
		return true
	})
	// The user who stays keeps every part of their state.
	keptLive := 0
	for _, r := range liveView(h.snapshot(h.topic("changelog.engine"))) {
		if bytes.Contains(r.Key, []byte(kept)) {
			keptLive++
		}
	}
	if keptLive < 3 { // head, two instances, their timers
		t.Errorf("the kept user has %d live changelog records, want the head, the instances and their timers", keptLive)
	}
	var ui timeline.UserInstances
	if getJSON(t, q, "/v1/users/"+kept+"/instances", &ui) != 200 || len(ui.Instances) != 2 {
		t.Errorf("the kept user's timeline lists %+v, want both instances", ui.Instances)
	}

	if kafkatest.Real() {
		h.compactNow(scanned)
		start := time.Now()
		deadline := start.Add(4 * time.Minute)
		for round := 1; ; round++ {
			var found []string // a record per topic that still names the user
			for _, topic := range scanned {
				for _, r := range h.snapshot(topic) {
					if s := secrets.find(r); s != "" {
						found = append(found, fmt.Sprintf("%s offset %d (%s)", topic, r.Offset, s))
						break
					}
				}
			}
			if len(found) == 0 {
				t.Logf("the broker's logs hold nothing of the user %v after compaction was allowed (%d scans)", time.Since(start).Round(time.Second), round)
				break
			}
			if round == 1 {
				t.Logf("before compaction, %d topics name the user: %s", len(found), strings.Join(found, "; "))
			}
			if time.Now().After(deadline) {
				t.Fatalf("after compaction records still name the forgotten user: %s", strings.Join(found, "; "))
			}
			time.Sleep(time.Second) // the cleaner's pace; each snapshot rolls the segments again
		}
	}

	// Later events start from nothing: the once-only journey takes the
	// forgotten user again, under a new instance ID (a channel team's
	// de-duplication by command ID must not take the new welcome for the
	// old one), and still refuses the user it remembers: that user's
	// Product Added of another cart, entered after the Signed Up on the
	// same partition, shows the Signed Up was processed.
	h.event(gone, "Signed Up", `{}`)
	h.event(kept, "Signed Up", `{}`)
	h.event(kept, "Product Added", `{"cart_id":"c2","sku":"B"}`)
	oldInstances := map[string]bool{}
	for _, a := range h.activities(acts) {
		oldInstances[a.InstanceID] = a.UserID == gone
	}
	activity.wait(t, "the forgotten user entered again and the kept one's later cart", func(recs []*kgo.Record) bool {
		again, keptCart := false, false
		for _, a := range h.activitiesOf(recs) {
			again = again || a.UserID == gone && a.JourneyID == "welcome-once" && a.Kind == records.ActivityEntered && !oldInstances[a.InstanceID]
			keptCart = keptCart || a.UserID == kept && a.EntryKey == "c2" && a.Kind == records.ActivityEntered
		}
		return again && keptCart
	})
	activity.mu.Lock()
	all := h.activitiesOf(activity.recs)
	activity.mu.Unlock()
	keptEntries := 0
	for _, a := range all {
		if a.UserID == kept && a.JourneyID == "welcome-once" && a.Kind == records.ActivityEntered {
			keptEntries++
		}
	}
	if keptEntries != 1 {
		t.Errorf("the kept user entered the once-only journey %d times, want once", keptEntries)
	}
}

// secrets are the byte strings that name a user in Beckon's topics: the
// user ID, and the hashes the journey metrics processor keys the user's
// instances and sends by (the user's, and each instance's and command's).
type secrets map[string][]byte

func userSecrets(user string, acts []records.Activity, cmds []records.SendCommand) secrets {
	s := secrets{"user ID": []byte(user)}
	uh := sha256.Sum256([]byte(user))
	s["user hash"] = uh[:8]
	for _, a := range acts {
		if a.UserID == user && a.InstanceID != "" {
			ih := sha256.Sum256([]byte(a.InstanceID))
			s["hash of instance "+a.InstanceID] = ih[:16]
		}
	}
	for _, c := range cmds {
		if c.UserID == user {
			ch := sha256.Sum256([]byte(c.CommandID))
			s["hash of command "+c.CommandID] = ch[:16]
		}
	}
	return s
}

// find names the secret r holds in its key, value or headers, or "".
func (s secrets) find(r *kgo.Record) string {
	for name, b := range s {
		if bytes.Contains(r.Key, b) || bytes.Contains(r.Value, b) {
			return name
		}
		for _, hd := range r.Headers {
			if bytes.Contains(hd.Value, b) {
				return name + " in header " + hd.Key
			}
		}
	}
	return ""
}

// liveView is what compaction leaves of recs when it has done all it
// may: the latest record of each key of each partition, tombstones
// removed.
func liveView(recs []*kgo.Record) []*kgo.Record {
	latest := map[string]*kgo.Record{}
	for _, r := range recs {
		latest[strconv.Itoa(int(r.Partition))+"/"+string(r.Key)] = r
	}
	var out []*kgo.Record
	for _, r := range latest {
		if r.Value != nil {
			out = append(out, r)
		}
	}
	return out
}

// beckonTopics are the topics of the deployment Beckon writes: every
// one but the inputs that platform teams own (events, receipts,
// profiles, facts, lookups).
func (h *harness) beckonTopics() []string {
	var out []string
	for _, s := range h.layout.Specs {
		switch {
		case s.Base == "events", s.Base == "receipts", s.Base == "profiles",
			strings.HasPrefix(s.Base, "facts."), strings.HasPrefix(s.Base, "lookups."):
		default:
			out = append(out, s.Name)
		}
	}
	return out
}

// rollKeys returns, for each partition of a topic of n partitions, a key
// Kafka's default partitioner places there.
func rollKeys(n int32) [][]byte {
	keys := make([][]byte, n)
	for i, found := 0, int32(0); found < n; i++ {
		k := []byte("roll-" + strconv.Itoa(i))
		if p := stream.PartitionFor(k, n); keys[p] == nil {
			keys[p], found = k, found+1
		}
	}
	return keys
}

// snapshot returns every record of topic, read uncommitted (aborted data
// included), up to a marker it writes to each partition first: a
// tombstone of a key nobody uses, which every consumer of the topic
// skips or takes as forgetting a user who never was. On a real broker
// the marker also rolls the partition's segment once segment.ms has
// passed, so the cleaner may compact what came before.
func (h *harness) snapshot(topic string) []*kgo.Record {
	h.t.Helper()
	if topic == h.topic("journeys") {
		return h.readToEnd(topic) // its records are journeys, never users'
	}
	n := h.layout.Specs[slices.IndexFunc(h.layout.Specs, func(s topics.Spec) bool { return s.Name == topic })].Partitions
	mark := []byte(strconv.FormatInt(time.Now().UnixNano(), 36))
	for _, k := range rollKeys(n) {
		r := &kgo.Record{Topic: topic, Key: k, Headers: []kgo.RecordHeader{{Key: "test.mark", Value: mark}}}
		if err := h.cl.ProduceSync(h.ctx, r).FirstErr(); err != nil {
			h.t.Fatal(err)
		}
	}
	cl := kafkatest.Client(h.t, h.brokers, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	defer cl.Close()
	ctx, cancel := context.WithTimeout(h.ctx, 30*time.Second)
	defer cancel()
	var out []*kgo.Record
	seen := map[int32]bool{}
	for int32(len(seen)) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			h.t.Fatalf("snapshot of %s: the markers did not come back", topic)
		}
		fs.EachRecord(func(r *kgo.Record) {
			for _, hd := range r.Headers {
				if hd.Key == "test.mark" && bytes.Equal(hd.Value, mark) {
					seen[r.Partition] = true
					return
				}
			}
			out = append(out, r)
		})
	}
	return out
}

// readToEnd reads every record of topic up to its end offsets now.
func (h *harness) readToEnd(topic string) []*kgo.Record {
	h.t.Helper()
	ends, err := kadm.NewClient(h.cl).ListEndOffsets(h.ctx, topic)
	if err != nil {
		h.t.Fatal(err)
	}
	// Control records (the journeys topic is written in transactions)
	// are read too, so the end offset, which counts the last commit
	// marker, is reached.
	cl := kafkatest.Client(h.t, h.brokers, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond), kgo.KeepControlRecords())
	defer cl.Close()
	var out []*kgo.Record
	next := map[int32]int64{}
	done := func() bool {
		ok := true
		ends.Each(func(o kadm.ListedOffset) {
			if next[o.Partition] < o.Offset {
				ok = false
			}
		})
		return ok
	}
	ctx, cancel := context.WithTimeout(h.ctx, 30*time.Second)
	defer cancel()
	for !done() {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			h.t.Fatalf("read %s to its end: %v", topic, ctx.Err())
		}
		fs.EachRecord(func(r *kgo.Record) {
			if !r.Attrs.IsControl() {
				out = append(out, r)
			}
			next[r.Partition] = r.Offset + 1
		})
	}
	return out
}

// compactNow sets topics to compact (or, for delete-only topics, to
// expire) what is not in their active segment at once, and to roll
// segments quickly, on the real broker.
func (h *harness) compactNow(topicNames []string) {
	h.t.Helper()
	adm := kadm.NewClient(h.cl)
	for _, name := range topicNames {
		s := h.layout.Specs[slices.IndexFunc(h.layout.Specs, func(s topics.Spec) bool { return s.Name == name })]
		set := map[string]string{"segment.ms": "300"}
		if strings.Contains(s.Configs["cleanup.policy"], "compact") {
			set["min.cleanable.dirty.ratio"], set["min.compaction.lag.ms"], set["delete.retention.ms"] = "0.0001", "0", "0"
		} else {
			set["retention.ms"] = "1000"
		}
		var alters []kadm.AlterConfig
		for k, v := range set {
			alters = append(alters, kadm.AlterConfig{Op: kadm.SetConfig, Name: k, Value: &v})
		}
		resp, err := adm.AlterTopicConfigs(h.ctx, alters, name)
		if err == nil {
			_, err = resp.On(name, nil)
		}
		if err != nil {
			h.t.Fatalf("configure %s to compact now: %v", name, err)
		}
	}
}

// startJourneyMetrics runs the journey metrics processor on h's layout.
func (h *harness) startJourneyMetrics() {
	h.t.Helper()
	p, err := journeymetrics.New(journeymetrics.Config{Topics: h.layout, Codec: h.codec, Group: h.group + "-metrics"})
	if err != nil {
		h.t.Fatal(err)
	}
	r, err := stream.New(p.Group(), stream.Options{Kafka: []kgo.Opt{kgo.SeedBrokers(h.brokers...)}, StateDir: h.t.TempDir(), InstanceID: "metrics-1",
		Clock: h.clock.now, PollWait: 20 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(h.ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	h.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			h.t.Error(err)
		}
	})
}

func (h *harness) sendCommands(recs []*kgo.Record) []records.SendCommand {
	var out []records.SendCommand
	for _, r := range recs {
		var c records.SendCommand
		if r.Value != nil && h.codec.Decode(h.ctx, r.Value, &c) == nil {
			out = append(out, c)
		}
	}
	return out
}

// activitiesOf decodes recs, skipping tombstones.
func (h *harness) activitiesOf(recs []*kgo.Record) []records.Activity {
	return h.activities(slices.DeleteFunc(slices.Clone(recs), func(r *kgo.Record) bool { return r.Value == nil }))
}
