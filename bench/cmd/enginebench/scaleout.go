package main

// The scale-out and failover mode (-scaleout): several engine processes in
// one consumer group on the same broker, as a StatefulSet would run them.
//
//  1. Scale-out: the same pre-produced cart events (the throughput
//     workload) consumed by one process, then by -members processes, each
//     on a fresh deployment; total events/s and CPU per event of each, and
//     the activity each produced, which must be the same records exactly
//     once.
//  2. Failover: -failover-active waiting cart instances entered by
//     -members processes; a prober sends one immediate-send event per
//     partition every -probe-every. One member is SIGKILLed and restarted
//     at once with its state directory and instance ID (a pod restart:
//     incremental restore), then another is SIGKILLed for good (its
//     partitions move to the survivors after the session timeout and are
//     restored there from their changelog). Each time: from the kill until
//     the first probe produced after it is visible read_committed on every
//     partition the killed member owned.
//
// Throughout, every child announces the partitions it owns and has
// restored; the bench checks that no partition is owned by two processes
// at any time, and that every probe's send command appears exactly once.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beckon-dev/beckon/bench"
	"github.com/beckon-dev/beckon/pkg/engine"
	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/pkg/stream"
)

// probeJourney sends at once on every probe event; the probe's ID travels
// as a string, since a large number may pass through an expression as a
// double and lose its last digits.
const probeJourney = `
id: probe
trigger: {event: Probe Sent}
steps:
  - id: hello
    send:
      channel: email
      template: probe
      payload: {probe: event.properties.probe}
`

type scaleConfig struct {
	on         bool
	members    int
	active     int
	session    time.Duration
	probeEvery time.Duration
}

func scaleFlags(fs *flag.FlagSet) *scaleConfig {
	s := &scaleConfig{}
	fs.BoolVar(&s.on, "scaleout", false, "run the scale-out and failover benchmark instead (real broker)")
	fs.IntVar(&s.members, "members", 3, "engine processes of the scale-out and failover runs")
	fs.IntVar(&s.active, "failover-active", 1_000_000, "waiting cart instances spread over the members before the failover kills")
	fs.DurationVar(&s.session, "session", 6*time.Second, "group session timeout of the engine processes (the classic protocol's minimum on a default broker is 6s)")
	fs.DurationVar(&s.probeEvery, "probe-every", 50*time.Millisecond, "how often the failover prober sends one event per partition")
	return s
}

// announceProgress says "ready <ns>" once the engine is ready and, with
// owned, "owned <ns> <p,p,...|->" whenever the set of partitions it owns
// and has restored changes. A poll every 2 ms is late by at most that much,
// so an ownership ends up to 2 ms after it really did: a handover gap
// reported under 2 ms would not prove an overlap, but none seen is none.
func announceProgress(ctx context.Context, e *engine.Engine, owned bool) {
	ready := false
	last := ""
	for ctx.Err() == nil {
		if !ready && e.Ready() {
			bench.Announce("ready", time.Now().UnixNano())
			ready = true
			if !owned {
				return
			}
		}
		if owned {
			if now := partList(e.Partitions()); now != last {
				bench.Announce("owned", time.Now().UnixNano(), now)
				last = now
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// childLogLevel is Warn, or Info with ENGINEBENCH_LOG=info: the runtime
// then logs its assignments and each partition's restore time, which is
// where a failover's time goes.
func childLogLevel() slog.Level {
	if os.Getenv("ENGINEBENCH_LOG") == "info" {
		return slog.LevelInfo
	}
	return slog.LevelWarn
}

func partList(ps []int32) string {
	if len(ps) == 0 {
		return "-"
	}
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = strconv.Itoa(int(p))
	}
	return strings.Join(s, ",")
}

func parseParts(s string) []int32 {
	if s == "-" || s == "" {
		return nil
	}
	var out []int32
	for _, f := range strings.Split(s, ",") {
		n, _ := strconv.Atoi(f)
		out = append(out, int32(n))
	}
	return out
}

// ownership records which member owned which partitions when, as the
// members announced it.
type ownership struct {
	mu     sync.Mutex
	events []ownEvent
}

type ownEvent struct {
	member string
	at     time.Time
	parts  []int32
}

func (o *ownership) add(member string, at time.Time, parts []int32) {
	o.mu.Lock()
	o.events = append(o.events, ownEvent{member, at, parts})
	o.mu.Unlock()
}

// current returns each member's latest set.
func (o *ownership) current() map[string][]int32 {
	o.mu.Lock()
	defer o.mu.Unlock()
	cur := map[string][]int32{}
	for _, e := range o.events {
		cur[e.member] = e.parts
	}
	return cur
}

// acquired returns when member last began owning partition p, or zero.
func (o *ownership) acquired(member string, p int32) time.Time {
	o.mu.Lock()
	defer o.mu.Unlock()
	var had bool
	var since time.Time
	for _, e := range o.events {
		if e.member != member {
			continue
		}
		has := slices.Contains(e.parts, p)
		if has && !had {
			since = e.at
		}
		had = has
	}
	if !had {
		return time.Time{}
	}
	return since
}

// check verifies that no partition was owned by two members at once, and
// returns the shortest handover gap seen (from one member's end of a
// partition to the next member's start).
func (o *ownership) check() (handovers int, minGap time.Duration, err error) {
	o.mu.Lock()
	evs := slices.Clone(o.events)
	o.mu.Unlock()
	slices.SortStableFunc(evs, func(a, b ownEvent) int { return a.at.Compare(b.at) })
	type span struct {
		member     string
		start, end time.Time
	}
	spans := map[int32][]span{}
	open := map[string]map[int32]time.Time{}
	for _, e := range evs {
		now := map[int32]bool{}
		for _, p := range e.parts {
			now[p] = true
		}
		if open[e.member] == nil {
			open[e.member] = map[int32]time.Time{}
		}
		for p, start := range open[e.member] {
			if !now[p] {
				spans[p] = append(spans[p], span{e.member, start, e.at})
				delete(open[e.member], p)
			}
		}
		for p := range now {
			if _, ok := open[e.member][p]; !ok {
				open[e.member][p] = e.at
			}
		}
	}
	for m, ps := range open {
		for p, start := range ps {
			spans[p] = append(spans[p], span{m, start, time.Now()})
		}
	}
	minGap = -1
	var errs []error
	for p, ss := range spans {
		slices.SortFunc(ss, func(a, b span) int { return a.start.Compare(b.start) })
		// prev is the span that ends last among those started so far: a
		// span must start after every earlier span ended, not only after
		// the one just before it.
		prev := ss[0]
		for _, next := range ss[1:] {
			if prev.member != next.member {
				handovers++
				if gap := next.start.Sub(prev.end); gap < 0 {
					errs = append(errs, fmt.Errorf("partition %d owned by %s (%s to %s) and %s (from %s) at once",
						p, prev.member, prev.start.Format(time.StampMicro), prev.end.Format(time.StampMicro), next.member, next.start.Format(time.StampMicro)))
				} else if minGap < 0 || gap < minGap {
					minGap = gap
				}
			}
			if next.end.After(prev.end) {
				prev = next
			}
		}
	}
	return handovers, minGap, errors.Join(errs...)
}

// member is one engine process of the group.
type member struct {
	name, dir string
	c         *bench.Child
	ready     chan time.Time
}

// startMember starts an engine child that announces its partitions into
// own; it does not wait for it.
func (d *deployment) startMember(name, dir string, session time.Duration, own *ownership) (*member, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	c, err := bench.StartChild(name, exe, "child", "-brokers", strings.Join(d.seeds, ","), "-prefix", d.prefix, "-state", dir,
		"-instance", name, "-session", session.String(), "-owned")
	if err != nil {
		return nil, err
	}
	m := &member{name: name, dir: dir, c: c, ready: make(chan time.Time, 1)}
	go func() {
		// Drain every line, so the child never blocks on its stdout.
		for {
			f, err := c.Next(context.Background())
			if err != nil {
				return
			}
			if len(f) < 2 {
				continue
			}
			ns, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				continue
			}
			switch f[0] {
			case "ready":
				m.ready <- time.Unix(0, ns)
			case "owned":
				if len(f) >= 3 {
					own.add(name, time.Unix(0, ns), parseParts(f[2]))
				}
			}
		}
	}()
	return m, nil
}

// waitSettled waits until the live members own every partition between
// them, each its fair share, and returns when.
func waitSettled(ctx context.Context, own *ownership, live []string, partitions int, limit time.Duration) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for {
		cur := own.current()
		seen := map[int32]bool{}
		ok := true
		for _, m := range live {
			ps := cur[m]
			if len(ps) < partitions/len(live) {
				ok = false
			}
			for _, p := range ps {
				seen[p] = true
			}
		}
		if ok && len(seen) == partitions {
			return time.Now(), nil
		}
		select {
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("members %v did not settle on %d partitions within %v: %v", live, partitions, limit, cur)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// committed returns the engine group's committed offsets on events, summed.
func (d *deployment) committed(ctx context.Context) int64 {
	offs, err := kadm.NewClient(d.cl).FetchOffsets(ctx, d.prefix+"engine")
	if err != nil {
		return 0
	}
	var done int64
	offs.Each(func(o kadm.OffsetResponse) {
		if o.Topic == d.prefix+"events" {
			done += o.At
		}
	})
	return done
}

// readTopic reads topic read_committed from its start to its end offsets
// and hands every record to fn.
func (d *deployment) readTopic(ctx context.Context, topic string, fn func(*kgo.Record)) error {
	ends, err := kadm.NewClient(d.cl).ListEndOffsets(ctx, topic)
	if err != nil {
		return err
	}
	left := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			left[o.Partition] = o.Offset
		}
	})
	cl, err := kgo.NewClient(kgo.SeedBrokers(d.seeds...), kgo.ConsumeTopics(topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return err
	}
	defer cl.Close()
	for len(left) > 0 {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			return err
		}
		fs.EachRecord(fn)
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			// Past the end offset once the last stable offset reaches it
			// and the records read come within a commit marker of it.
			if end, ok := left[p.Partition]; ok && p.LastStableOffset >= end && (len(p.Records) == 0 || p.Records[len(p.Records)-1].Offset+2 >= end) {
				delete(left, p.Partition)
			}
		})
	}
	return nil
}

// scaleRun is one consumption of the throughput workload by n processes.
type scaleRun struct {
	members    int
	tput       float64
	took       time.Duration
	cpu        time.Duration
	peakRSS    int64 // the largest member's
	activities int
	dups       int
	handovers  int
	minGap     time.Duration
	ids        map[string]int
}

func scaleThroughput(ctx context.Context, seeds []string, work string, c config, n int, session time.Duration) (*scaleRun, error) {
	d, err := deploy(ctx, seeds, c.partitions, cartJourney)
	if err != nil {
		return nil, err
	}
	defer d.cl.Close()
	if err := d.produceCarts(ctx, c.events, c.users); err != nil {
		return nil, err
	}
	logger.Printf("scale-out x%d: %d cart events over %d users pre-produced", n, c.events, c.users)
	own := &ownership{}
	var ms []*member
	var names []string
	defer func() {
		for _, m := range ms {
			_, _ = m.c.Stop(30 * time.Second)
		}
	}()
	for i := range n {
		name := fmt.Sprintf("x%d-%d", n, i)
		m, err := d.startMember(name, filepath.Join(work, name), session, own)
		if err != nil {
			return nil, err
		}
		ms, names = append(ms, m), append(names, name)
	}
	// Measured from the moment the group has settled (every member owns
	// its share, restored), over the events not yet committed then: the
	// start-up and the joins of the later members are not the throughput.
	t1, err := waitSettled(ctx, own, names, c.partitions, 2*time.Minute)
	if err != nil {
		return nil, err
	}
	c1 := d.committed(ctx)
	t2, err := d.waitConsumed(ctx, c.events)
	if err != nil {
		return nil, err
	}
	s := &scaleRun{members: n, took: t2.Sub(t1)}
	s.tput = float64(int64(c.events)-c1) / s.took.Seconds()
	for _, m := range ms {
		u, err := m.c.Stop(30 * time.Second)
		if err != nil {
			return nil, err
		}
		s.cpu += u.CPU
		s.peakRSS = max(s.peakRSS, u.PeakRSS)
	}
	if s.handovers, s.minGap, err = own.check(); err != nil {
		return nil, err
	}
	s.ids = map[string]int{}
	if err := d.readTopic(ctx, d.prefix+"activity", func(r *kgo.Record) {
		var a records.Activity
		if err := d.cd.Decode(ctx, r.Value, &a); err != nil {
			return
		}
		s.activities++
		s.ids[a.ActivityID]++
		if s.ids[a.ActivityID] == 2 {
			s.dups++
		}
	}); err != nil {
		return nil, err
	}
	logger.Printf("scale-out x%d: %.0f events/s (%d events from the settled group in %v), CPU %v (%.1f µs/event), %d activities, %d duplicated, %d handovers",
		n, s.tput, int64(c.events)-c1, s.took.Round(time.Millisecond), s.cpu.Round(time.Millisecond), float64(s.cpu.Microseconds())/float64(c.events), s.activities, s.dups, s.handovers)
	return s, nil
}

// prober sends one immediate-send event per partition every interval, for
// a user of that partition, stamped with its send time; the watcher sees
// each send command.
type prober struct {
	d     *deployment
	users []string // by partition
	every time.Duration

	mu   sync.Mutex
	sent map[string]probe // "user/sent ns" -> probe
	seen map[int32][]probe
	dups int
}

type probe struct {
	partition  int32
	sent, seen time.Time
	n          int // times seen
}

func newProber(d *deployment, partitions int, every time.Duration) *prober {
	p := &prober{d: d, every: every, sent: map[string]probe{}, seen: map[int32][]probe{}}
	for part := range int32(partitions) {
		for i := 0; ; i++ {
			u := fmt.Sprintf("probe-%d-%d", part, i)
			if stream.PartitionFor([]byte(u), int32(partitions)) == part {
				p.users = append(p.users, u)
				break
			}
		}
	}
	return p
}

// profiles produces the probe users' profiles, so their sends go out.
func (p *prober) profiles(ctx context.Context) error {
	for _, u := range p.users {
		pr := records.Profile{UserID: u, Addresses: records.Addresses{Email: u + "@example.com"}, Consent: map[string]records.Consent{"email": {Status: records.ConsentSubscribed}}}
		v, err := p.d.cd.Encode(ctx, p.d.prefix+"profiles", pr)
		if err != nil {
			return err
		}
		if err := p.d.cl.ProduceSync(ctx, &kgo.Record{Topic: p.d.prefix + "profiles", Key: []byte(u), Value: v}).FirstErr(); err != nil {
			return err
		}
	}
	return nil
}

func (p *prober) run(ctx context.Context) error {
	tick := time.NewTicker(p.every)
	defer tick.Stop()
	n := 0
	for {
		for part, u := range p.users {
			now := time.Now()
			id := u + "/" + strconv.FormatInt(now.UnixNano(), 10)
			ev := records.Event{MessageID: "probe-" + strconv.Itoa(n), Type: records.EventTrack, Name: "Probe Sent", UserID: u, Timestamp: now,
				Properties: records.JSON(`{"probe":"` + id + `"}`)}
			n++
			v, err := p.d.cd.Encode(ctx, p.d.prefix+"events", ev)
			if err != nil {
				return err
			}
			p.mu.Lock()
			p.sent[id] = probe{partition: int32(part), sent: now}
			p.mu.Unlock()
			p.d.cl.Produce(ctx, &kgo.Record{Topic: p.d.prefix + "events", Key: []byte(u), Value: v}, nil)
		}
		select {
		case <-ctx.Done():
			return p.d.cl.Flush(context.Background())
		case <-tick.C:
		}
	}
}

// onSend records a send command the watcher read.
func (p *prober) onSend(r *kgo.Record, seen time.Time) {
	var cmd records.SendCommand
	if err := p.d.cd.Decode(context.Background(), r.Value, &cmd); err != nil {
		return
	}
	var body struct {
		Probe string `json:"probe"`
	}
	if err := cmd.Payload.Decode(&body); err != nil {
		return
	}
	id := body.Probe
	p.mu.Lock()
	defer p.mu.Unlock()
	pr, ok := p.sent[id]
	if !ok {
		return
	}
	pr.n++
	if pr.n > 1 {
		p.dups++
	} else {
		pr.seen = seen
		p.seen[pr.partition] = append(p.seen[pr.partition], pr)
	}
	p.sent[id] = pr
}

// flowing returns, for each partition, when the first probe produced at
// or after t was seen; false while one has not been.
func (p *prober) flowing(parts []int32, t time.Time) (map[int32]time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[int32]time.Time{}
	for _, part := range parts {
		var first probe
		for _, pr := range p.seen[part] {
			if !pr.sent.Before(t) && (first.sent.IsZero() || pr.sent.Before(first.sent)) {
				first = pr
			}
		}
		if first.sent.IsZero() {
			return nil, false
		}
		out[part] = first.seen
	}
	return out, true
}

// missing counts the probes sent but not seen.
func (p *prober) missing() (missing, total int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pr := range p.sent {
		if pr.n == 0 {
			missing++
		}
	}
	return missing, len(p.sent)
}

func (p *prober) waitFlowing(ctx context.Context, parts []int32, t time.Time, limit time.Duration) (map[int32]time.Time, error) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if at, ok := p.flowing(parts, t); ok {
			return at, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil, fmt.Errorf("sends of partitions %v did not flow within %v", parts, limit)
}

// failover is one kill and what followed it.
type failover struct {
	what      string
	victim    string
	parts     []int32
	outage    time.Duration // kill to the last of its partitions flowing
	owned     time.Duration // kill to the last of its partitions owned and restored again
	ready     time.Duration // restart only: process start to Ready
	worstElse time.Duration // largest probe latency on the other partitions meanwhile
}

type failoverRun struct {
	instances int
	enterTook time.Duration
	baseline  bench.Latencies
	kills     []failover
	probes    int
	dups      int
	handovers int
	minGap    time.Duration
	session   time.Duration
}

func runFailover(ctx context.Context, seeds []string, work string, c config, sc scaleConfig) (*failoverRun, error) {
	d, err := deploy(ctx, seeds, c.partitions, cartJourney, probeJourney)
	if err != nil {
		return nil, err
	}
	defer d.cl.Close()
	pr := newProber(d, c.partitions, sc.probeEvery)
	if err := pr.profiles(ctx); err != nil {
		return nil, err
	}
	if err := d.produceCarts(ctx, sc.active, max(sc.active/2, 1)); err != nil {
		return nil, err
	}
	logger.Printf("failover: %d cart events (one per cart) pre-produced", sc.active)
	own := &ownership{}
	ms := map[string]*member{}
	defer func() {
		for _, m := range ms {
			_, _ = m.c.Stop(30 * time.Second)
		}
	}()
	var live []string
	start := time.Now()
	for i := range sc.members {
		name := fmt.Sprintf("fo-%d", i)
		m, err := d.startMember(name, filepath.Join(work, name), sc.session, own)
		if err != nil {
			return nil, err
		}
		ms[name], live = m, append(live, name)
	}
	if _, err := d.waitConsumed(ctx, sc.active); err != nil {
		return nil, err
	}
	fr := &failoverRun{instances: sc.active, enterTook: time.Since(start), session: sc.session}
	if _, err := waitSettled(ctx, own, live, c.partitions, 2*time.Minute); err != nil {
		return nil, err
	}
	logger.Printf("failover: %d instances entered by %d members in %v", sc.active, sc.members, fr.enterTook.Round(time.Millisecond))

	w, err := bench.Watch(seeds, d.prefix+"send.email", pr.onSend)
	if err != nil {
		return nil, err
	}
	defer w.Close()
	pctx, stopProbes := context.WithCancel(ctx)
	probed := make(chan error, 1)
	go func() { probed <- pr.run(pctx) }()
	defer func() {
		if stopProbes != nil {
			stopProbes()
			<-probed
		}
	}()
	all := make([]int32, c.partitions)
	for i := range all {
		all[i] = int32(i)
	}
	// Warm: every partition's probes flow, then a baseline of 2 s.
	warm := time.Now()
	if _, err := pr.waitFlowing(ctx, all, warm, time.Minute); err != nil {
		return nil, err
	}
	base := time.Now()
	time.Sleep(2 * time.Second) // a measurement window, not synchronisation
	if _, err := pr.waitFlowing(ctx, all, time.Now(), time.Minute); err != nil {
		return nil, err
	}
	var lats []time.Duration
	pr.mu.Lock()
	for _, ps := range pr.seen {
		for _, p := range ps {
			if !p.sent.Before(base) {
				lats = append(lats, p.seen.Sub(p.sent))
			}
		}
	}
	pr.mu.Unlock()
	fr.baseline = bench.Summarise(lats)

	kill := func(what, name string, restart bool) error {
		m := ms[name]
		parts := own.current()[name]
		others := slices.DeleteFunc(slices.Clone(all), func(p int32) bool { return slices.Contains(parts, p) })
		t0 := time.Now()
		m.c.Kill()
		own.add(name, t0, nil) // a dead process owns nothing from here on
		delete(ms, name)
		f := failover{what: what, victim: name, parts: parts}
		var restartAt time.Time
		if restart {
			nm, err := d.startMember(name, m.dir, sc.session, own)
			if err != nil {
				return err
			}
			restartAt = time.Now()
			ms[name] = nm
			select {
			case at := <-nm.ready:
				f.ready = at.Sub(restartAt)
			case <-time.After(2 * time.Minute):
				return fmt.Errorf("%s restarted but not ready within 2m", name)
			}
		} else {
			live = slices.DeleteFunc(live, func(s string) bool { return s == name })
		}
		at, err := pr.waitFlowing(ctx, parts, t0, 3*time.Minute)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		for _, t := range at {
			f.outage = max(f.outage, t.Sub(t0))
		}
		settled, err := waitSettled(ctx, own, live, c.partitions, 3*time.Minute)
		if err != nil {
			return err
		}
		for _, p := range parts {
			for _, o := range live {
				if a := own.acquired(o, p); !a.IsZero() && a.After(t0) {
					f.owned = max(f.owned, a.Sub(t0))
				}
			}
		}
		f.worstElse = pr.worstOn(others, t0, settled)
		fr.kills = append(fr.kills, f)
		logger.Printf("failover: %s: %s owned %v; sends flowed again %v after the kill (owned and restored after %v; restart to Ready %v); worst probe latency on the other partitions meanwhile %v",
			what, name, parts, f.outage.Round(time.Millisecond), f.owned.Round(time.Millisecond), f.ready.Round(time.Millisecond), f.worstElse.Round(time.Millisecond))
		return nil
	}
	if err := kill("SIGKILL, restarted at once with its state directory", live[0], true); err != nil {
		return nil, err
	}
	if len(live) > 1 {
		if err := kill("SIGKILL, not restarted (the survivors take over)", live[1], false); err != nil {
			return nil, err
		}
	}
	stopProbes()
	if err := <-probed; err != nil {
		return nil, err
	}
	stopProbes = nil
	_, total := pr.missing()
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		missing, _ := pr.missing()
		if missing == 0 {
			break
		}
		select {
		case <-wctx.Done():
			return nil, fmt.Errorf("failover: %d of %d probes have no send command", missing, total)
		case <-time.After(10 * time.Millisecond):
		}
	}
	w.Settle(ctx, 500*time.Millisecond)
	fr.probes = total
	pr.mu.Lock()
	fr.dups = pr.dups
	pr.mu.Unlock()
	if fr.dups > 0 {
		return nil, fmt.Errorf("failover: %d probes' send commands appeared more than once", fr.dups)
	}
	if fr.handovers, fr.minGap, err = own.check(); err != nil {
		return nil, err
	}
	return fr, nil
}

// worstOn is worst restricted to parts.
func (p *prober) worstOn(parts []int32, from, to time.Time) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	var w time.Duration
	for _, part := range parts {
		for _, pr := range p.seen[part] {
			if !pr.sent.Before(from) && pr.sent.Before(to) {
				w = max(w, pr.seen.Sub(pr.sent))
			}
		}
	}
	return w
}

func runScale(ctx context.Context, seeds []string, broker string, c config, sc scaleConfig) int {
	start := time.Now()
	work, err := os.MkdirTemp("", "enginebench-scale-")
	if err != nil {
		logger.Print(err)
		return 1
	}
	defer os.RemoveAll(work)
	one, err := scaleThroughput(ctx, seeds, work, c, 1, sc.session)
	if err != nil {
		logger.Print(err)
		return 1
	}
	many, err := scaleThroughput(ctx, seeds, work, c, sc.members, sc.session)
	if err != nil {
		logger.Print(err)
		return 1
	}
	// The same events make the same activity, once each.
	if many.dups > 0 || one.dups > 0 || len(many.ids) != len(one.ids) {
		logger.Printf("scale-out: activity differs: one process %d distinct (%d duplicated), %d processes %d distinct (%d duplicated)", len(one.ids), one.dups, sc.members, len(many.ids), many.dups)
		return 1
	}
	for id := range one.ids {
		if many.ids[id] != 1 {
			logger.Printf("scale-out: activity %s: %d times with %d processes, once with one", id, many.ids[id], sc.members)
			return 1
		}
	}
	var fo *failoverRun
	if sc.active > 0 {
		if fo, err = runFailover(ctx, seeds, work, c, sc); err != nil {
			logger.Print(err)
			return 1
		}
	}
	out := scaleMarkdown(broker, start, c, sc, one, many, fo)
	return c.print(out)
}

func scaleMarkdown(broker string, start time.Time, c config, sc scaleConfig, one, many *scaleRun, fo *failoverRun) string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	w("## Scale-out and failover\n\n```sh\ngo run ./pkg/kafkatest/cmd/withkafka -require -- go run ./bench/cmd/enginebench -scaleout\n```\n\n")
	w("Run %s on %s: %d CPUs, %s %s/%s; %v in all. Each engine is its own process with its own state directory and instance ID, in one consumer group (session timeout %v), exactly-once; %d partitions.\n\n",
		start.UTC().Format("2006-01-02 15:04 MST"), broker, runtime.NumCPU(), runtime.Version(), runtime.GOOS, runtime.GOARCH, time.Since(start).Round(time.Second), sc.session, c.partitions)
	w("| %d cart events over %d users | 1 process | %d processes |\n|---|---:|---:|\n", c.events, c.users, many.members)
	w("| events/s, from the settled group to all committed | **%.0f** | **%.0f** (%.2fx) |\n", one.tput, many.tput, many.tput/one.tput)
	w("| engine CPU per event (all processes, start to stop) | %.1f µs | %.1f µs |\n", float64(one.cpu.Microseconds())/float64(c.events), float64(many.cpu.Microseconds())/float64(c.events))
	w("| peak RSS of the largest process | %d MiB | %d MiB |\n", one.peakRSS>>20, many.peakRSS>>20)
	w("| activity records read_committed (duplicates) | %d (%d) | %d (%d), the same IDs |\n", one.activities, one.dups, many.activities, many.dups)
	w("| partition handovers / shortest gap between owners / owned twice | %d / %s / never | %d / %s / never |\n\n", one.handovers, gapString(one.minGap), many.handovers, gapString(many.minGap))
	if fo == nil {
		return b.String()
	}
	w("Failover: %d waiting cart instances entered by %d processes in %.1f s; a prober sends one immediate-send event per partition every %v. Probe latency (event to send command visible, read_committed) before any kill: p50 %v / p99 %v.\n\n",
		fo.instances, sc.members, fo.enterTook.Seconds(), sc.probeEvery, fo.baseline.P50.Round(time.Millisecond), fo.baseline.P99.Round(time.Millisecond))
	w("| event | partitions | kill to sends flowing again | kill to owned and restored | restart to Ready | worst probe latency elsewhere meanwhile |\n|---|---|---:|---:|---:|---:|\n")
	for _, k := range fo.kills {
		ready := "-"
		if k.ready > 0 {
			ready = fmt.Sprintf("%.2f s", k.ready.Seconds())
		}
		w("| %s | %s | **%.2f s** | %.2f s | %s | %v |\n", k.what, partList(k.parts), k.outage.Seconds(), k.owned.Seconds(), ready, k.worstElse.Round(time.Millisecond))
	}
	w("\n%d probes, every one's send command read exactly once; %d partition handovers, shortest gap between owners %s, no partition owned by two processes at any time.\n\n", fo.probes, fo.handovers, gapString(fo.minGap))
	return b.String()
}

func gapString(d time.Duration) string {
	if d < 0 {
		return "-"
	}
	return d.Round(100 * time.Microsecond).String()
}
