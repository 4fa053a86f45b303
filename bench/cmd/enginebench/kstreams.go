package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beckon-dev/beckon/bench"
	"github.com/beckon-dev/beckon/pkg/kafkatest/peers"
	"github.com/beckon-dev/beckon/pkg/records"
)

// The comparison with Kafka Streams (-kstreams): Beckon's engine running
// the declarative cart journey and the same journey written by hand as a
// Kafka Streams application (bench/peers/kstreams), on one broker, on the
// same pre-produced events, in alternating rounds. Both must send the same
// reminders.

// kstreamsConfig is the comparison's part of the command line.
type kstreamsConfig struct {
	rounds    int
	hold      time.Duration // the cart hold of the throughput rounds
	latHold   time.Duration // the cart hold of the latency runs
	latency   time.Duration // how long each latency run paces events
	rate      float64       // paced events/s (0: half the slower side's throughput)
	threads   int           // Kafka Streams num.stream.threads
	punctuate time.Duration // Kafka Streams punctuation interval of the hold
	dir       string        // the Maven project of the peer
}

// sideResult is what one side (Beckon or Kafka Streams) measured.
type sideResult struct {
	name   string
	rounds []sideRound
	lat    bench.Latencies
	latN   int
	latUse bench.Usage
}

// sideRound is one throughput round of one side.
type sideRound struct {
	took      time.Duration // Ready to the group's committed offsets past every event
	rate      float64
	use       bench.Usage // the child's whole life: startup, events, the hold, the reminders
	reminders int
}

// median returns the round with the median rate.
func (s *sideResult) median() sideRound {
	if len(s.rounds) == 0 {
		return sideRound{}
	}
	r := slices.Clone(s.rounds)
	slices.SortFunc(r, func(a, b sideRound) int { return cmp.Compare(a.rate, b.rate) })
	return r[len(r)/2]
}

func (s *sideResult) peakRSS() int64 {
	var m int64
	for _, r := range s.rounds {
		m = max(m, r.use.PeakRSS)
	}
	return m
}

// kstreamsRun is one comparison.
type kstreamsRun struct {
	seeds        []string
	cfg          config
	kc           kstreamsConfig
	java, cp     string
	work         string
	beckon, ks   sideResult
	rate         float64
	expectedCart int
}

// cartReminder is a reminder as both sides' outputs are compared: whom it
// is for, which cart, which items (SKUs, sorted).
type cartReminder struct {
	user, cart string
	items      string
}

// reminderPayload is the part of a reminder both sides write alike: the
// opening event's properties and the cart's items.
type reminderPayload struct {
	UserID string `json:"user_id"` // Kafka Streams only; Beckon's is on the command
	Event  struct {
		CartID string `json:"cart_id"`
		Sent   int64  `json:"sent"`
	} `json:"event"`
	State struct {
		Items []struct {
			Key string `json:"key"`
		} `json:"items"`
	} `json:"state"`
}

func (p *reminderPayload) reminder(user string) cartReminder {
	skus := make([]string, 0, len(p.State.Items))
	for _, it := range p.State.Items {
		skus = append(skus, it.Key)
	}
	slices.Sort(skus)
	return cartReminder{user: user, cart: p.Event.CartID, items: strings.Join(skus, ",")}
}

// expectedReminders is what the cart journey must send for the events of
// produceCarts(n, users): one reminder per cart with every SKU added to it.
func expectedReminders(n, users int) map[cartReminder]int {
	carts := map[[2]string]map[string]bool{}
	for i := range n {
		k := [2]string{user(i % users), "c" + strconv.Itoa((i/users)%2)}
		if carts[k] == nil {
			carts[k] = map[string]bool{}
		}
		carts[k]["sku-"+strconv.Itoa(i%997)] = true
	}
	out := map[cartReminder]int{}
	for k, set := range carts {
		skus := make([]string, 0, len(set))
		for s := range set {
			skus = append(skus, s)
		}
		slices.Sort(skus)
		out[cartReminder{user: k[0], cart: k[1], items: strings.Join(skus, ",")}] = 1
	}
	return out
}

// reminderSet collects the reminders a watcher reads.
type reminderSet struct {
	mu   sync.Mutex
	got  map[cartReminder]int
	bad  []string
	lats []time.Duration
	hold time.Duration
	from time.Time
}

func newReminderSet(hold time.Duration) *reminderSet {
	return &reminderSet{got: map[cartReminder]int{}, hold: hold}
}

func (s *reminderSet) add(user string, payload []byte, seen time.Time) {
	var p reminderPayload
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := json.Unmarshal(payload, &p); err != nil {
		s.bad = append(s.bad, fmt.Sprintf("reminder for %s: %v", user, err))
		return
	}
	s.got[p.reminder(user)]++
	if p.Event.Sent > 0 {
		if sent := time.Unix(0, p.Event.Sent); !s.from.IsZero() && sent.After(s.from) {
			s.lats = append(s.lats, seen.Sub(sent)-s.hold)
		}
	}
}

// diff describes how got differs from want; "" when they are equal.
func (s *reminderSet) diff(want map[cartReminder]int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var missing, extra, dup int
	var examples []string
	for r, n := range want {
		switch g := s.got[r]; {
		case g == 0:
			missing++
			if len(examples) < 3 {
				examples = append(examples, fmt.Sprintf("missing %s/%s [%s]", r.user, r.cart, r.items))
			}
		case g > n:
			dup += g - n
		}
	}
	for r, g := range s.got {
		if want[r] == 0 {
			extra += g
			if len(examples) < 6 {
				examples = append(examples, fmt.Sprintf("unexpected %s/%s [%s]", r.user, r.cart, r.items))
			}
		}
	}
	if missing == 0 && extra == 0 && dup == 0 && len(s.bad) == 0 {
		return ""
	}
	return fmt.Sprintf("%d missing, %d unexpected, %d duplicate reminders, %d unreadable; e.g. %s %s",
		missing, extra, dup, len(s.bad), strings.Join(examples, "; "), strings.Join(s.bad[:min(len(s.bad), 2)], "; "))
}

// watchBeckon reads Beckon's email send commands into set.
func watchBeckon(d *deployment, set *reminderSet) (*bench.Watcher, error) {
	ctx := context.Background()
	return bench.Watch(d.seeds, d.prefix+"send.email", func(rec *kgo.Record, seen time.Time) {
		var cmd records.SendCommand
		if err := d.cd.Decode(ctx, rec.Value, &cmd); err != nil {
			set.mu.Lock()
			set.bad = append(set.bad, "send command: "+err.Error())
			set.mu.Unlock()
			return
		}
		set.add(cmd.UserID, cmd.Payload, seen)
	})
}

// watchKStreams reads the Kafka Streams application's reminders into set.
func watchKStreams(seeds []string, topic string, set *reminderSet) (*bench.Watcher, error) {
	return bench.Watch(seeds, topic, func(rec *kgo.Record, seen time.Time) {
		set.add(string(rec.Key), rec.Value, seen)
	})
}

// runKStreams runs the comparison and returns its report.
func runKStreams(ctx context.Context, seeds []string, c config, kc kstreamsConfig, broker string) (string, error) {
	start := time.Now()
	if kc.dir == "" {
		var err error
		if kc.dir, err = findKStreams(); err != nil {
			return "", err
		}
	}
	logger.Printf("kstreams: building the Kafka Streams peer in %s", kc.dir)
	java, cp, err := peers.BuildJava(kc.dir)
	if err != nil {
		return "", err
	}
	work, err := os.MkdirTemp("", "enginebench-ks-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(work)
	k := &kstreamsRun{seeds: seeds, cfg: c, kc: kc, java: java, cp: cp, work: work,
		beckon: sideResult{name: "Beckon engine"}, ks: sideResult{name: "Kafka Streams"}}
	err = k.run(ctx)
	return k.markdown(broker, start, err), err
}

func (k *kstreamsRun) run(ctx context.Context) error {
	want := expectedReminders(k.cfg.events, k.cfg.users)
	k.expectedCart = len(want)
	for round := range k.kc.rounds {
		d, err := deploy(ctx, k.seeds, k.cfg.partitions, holdJourney(k.kc.hold))
		if err != nil {
			return err
		}
		if err := d.produceCarts(ctx, k.cfg.events, k.cfg.users); err != nil {
			d.cl.Close()
			return err
		}
		logger.Printf("kstreams round %d: %d cart events over %d users pre-produced to %sevents", round+1, k.cfg.events, k.cfg.users, d.prefix)
		// The sides alternate which goes first, so that a noisy minute or
		// a warm page cache favours neither.
		sides := []func() error{
			func() error { return k.beckonRound(ctx, d, round, want) },
			func() error { return k.ksRound(ctx, d, round, want) },
		}
		if round%2 == 1 {
			slices.Reverse(sides)
		}
		for _, side := range sides {
			if err := side(); err != nil {
				d.cl.Close()
				return err
			}
		}
		d.cl.Close()
	}
	if k.kc.latency <= 0 {
		return nil
	}
	k.rate = k.kc.rate
	if k.rate == 0 {
		k.rate = min(k.beckon.median().rate, k.ks.median().rate) / 2
	}
	if err := k.latencyRun(ctx, &k.beckon); err != nil {
		return fmt.Errorf("beckon latency: %w", err)
	}
	return k.latencyRun(ctx, &k.ks)
}

// holdJourney is the benchmark's cart journey with the given hold.
func holdJourney(hold time.Duration) string {
	return strings.Replace(cartJourney, "timeout: 1h", "timeout: "+hold.String(), 1)
}

// beckonRound runs Beckon's engine on the round's events until every event
// is committed and every reminder visible.
func (k *kstreamsRun) beckonRound(ctx context.Context, d *deployment, round int, want map[cartReminder]int) error {
	set := newReminderSet(k.kc.hold)
	w, err := watchBeckon(d, set)
	if err != nil {
		return err
	}
	defer w.Close()
	eng, ready, err := d.startEngine(ctx, filepath.Join(k.work, fmt.Sprintf("beckon-%d", round)))
	if err != nil {
		return err
	}
	r, err := k.finish(ctx, eng, ready, d.prefix+"engine", d.prefix+"events", w, set, want)
	if err != nil {
		return fmt.Errorf("beckon, round %d: %w", round+1, err)
	}
	k.beckon.rounds = append(k.beckon.rounds, r)
	logger.Printf("kstreams round %d: Beckon %.0f events/s, CPU %.1f s, peak RSS %d MiB, %d reminders as expected", round+1, r.rate, r.use.CPU.Seconds(), r.use.PeakRSS>>20, r.reminders)
	return nil
}

// ksRound runs the Kafka Streams application on the round's events.
func (k *kstreamsRun) ksRound(ctx context.Context, d *deployment, round int, want map[cartReminder]int) error {
	app := fmt.Sprintf("%sks%d", d.prefix, round)
	out := app + "-reminders"
	if err := k.createTopics(ctx, d, out); err != nil {
		return err
	}
	set := newReminderSet(k.kc.hold)
	w, err := watchKStreams(k.seeds, out, set)
	if err != nil {
		return err
	}
	defer w.Close()
	ch, ready, err := k.startKStreams(ctx, "cart", app, d.prefix+"events", out, filepath.Join(k.work, app), k.kc.hold)
	if err != nil {
		return err
	}
	r, err := k.finish(ctx, ch, ready, app, d.prefix+"events", w, set, want)
	if err != nil {
		return fmt.Errorf("kafka streams, round %d: %w", round+1, err)
	}
	k.ks.rounds = append(k.ks.rounds, r)
	logger.Printf("kstreams round %d: Kafka Streams %.0f events/s, CPU %.1f s, peak RSS %d MiB, %d reminders as expected", round+1, r.rate, r.use.CPU.Seconds(), r.use.PeakRSS>>20, r.reminders)
	return nil
}

// finish waits until group has committed every event (the throughput
// figure) and every reminder is visible, stops the child and checks the
// reminders against want.
func (k *kstreamsRun) finish(ctx context.Context, ch *bench.Child, ready time.Time, group, topic string, w *bench.Watcher, set *reminderSet, want map[cartReminder]int) (sideRound, error) {
	defer func() { _, _ = ch.Stop(30 * time.Second) }() // backstop; Stop is idempotent
	done, err := waitCommitted(ctx, k.seeds, group, topic, k.cfg.events)
	if err != nil {
		return sideRound{}, err
	}
	r := sideRound{took: done.Sub(ready)}
	r.rate = float64(k.cfg.events) / r.took.Seconds()
	if done.Sub(ready) > k.kc.hold {
		// A cart's events span the whole input: a hold shorter than the
		// processing time would let a cart's hold expire between two of
		// its events and split its reminder in two.
		return r, fmt.Errorf("processing took %v, longer than the %v hold: raise -kstreams-hold", r.took.Round(time.Millisecond), k.kc.hold)
	}
	wctx, cancel := context.WithTimeout(ctx, k.kc.hold+2*time.Minute)
	defer cancel()
	if _, err := w.WaitFor(wctx, len(want)); err != nil {
		return r, fmt.Errorf("reminders: %w", err)
	}
	// Duplicates would arrive after the expected count: wait for a quiet
	// second before judging.
	w.Settle(ctx, time.Second)
	if r.use, err = ch.Stop(30 * time.Second); err != nil {
		return r, err
	}
	if diff := set.diff(want); diff != "" {
		return r, fmt.Errorf("the reminders differ from the journey's: %s", diff)
	}
	r.reminders, _ = w.Count()
	return r, nil
}

// waitCommitted waits until group has committed past n records of topic.
func waitCommitted(ctx context.Context, seeds []string, group, topic string, n int) (time.Time, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		return time.Time{}, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	deadline := time.Now().Add(10 * time.Minute)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		offs, err := adm.FetchOffsets(ctx, group)
		if err == nil {
			var done int64
			offs.Each(func(o kadm.OffsetResponse) {
				if o.Topic == topic {
					done += o.At
				}
			})
			if done >= int64(n) {
				return time.Now(), nil
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Time{}, fmt.Errorf("group %s did not commit %d records of %s within 10 minutes", group, n, topic)
}

// createTopics creates plain topics of the deployment's partition count.
func (k *kstreamsRun) createTopics(ctx context.Context, d *deployment, names ...string) error {
	adm := kadm.NewClient(d.cl)
	resp, err := adm.CreateTopics(ctx, int32(k.cfg.partitions), 1, nil, names...)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		return fmt.Errorf("create %v: %w", names, err)
	}
	return nil
}

// startKStreams starts one of the peer's applications as a child process
// and waits for its Ready.
func (k *kstreamsRun) startKStreams(ctx context.Context, appKind, app, input, output, state string, hold time.Duration) (*bench.Child, time.Time, error) {
	args := []string{"-cp", k.cp, "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn"}
	// KSTREAMS_JAVA_OPTS adds JVM options (a heap size, -Xlog:gc:file) to
	// see what limits the peer.
	args = append(args, strings.Fields(os.Getenv("KSTREAMS_JAVA_OPTS"))...)
	args = append(args, "dev.beckon.bench.Launch", appKind,
		"brokers="+strings.Join(k.seeds, ","), "app="+app, "input="+input, "output="+output, "state="+state,
		"partitions="+strconv.Itoa(k.cfg.partitions), "threads="+strconv.Itoa(k.kc.threads),
		"hold.ms="+strconv.FormatInt(hold.Milliseconds(), 10), "punctuate.ms="+strconv.FormatInt(k.kc.punctuate.Milliseconds(), 10))
	ch, err := bench.StartChild("kstreams "+app, k.java, args...)
	if err != nil {
		return nil, time.Time{}, err
	}
	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	ready, _, err := ch.AwaitTime(wctx, "ready")
	if err != nil {
		_, _ = ch.Stop(10 * time.Second)
		return nil, time.Time{}, err
	}
	return ch, ready, nil
}

// latencyRun paces Product Added events, each opening a fresh cart and
// stamped with its send time, and measures each reminder from the event's
// send to its visibility (read_committed), minus the hold.
func (k *kstreamsRun) latencyRun(ctx context.Context, s *sideResult) error {
	d, err := deploy(ctx, k.seeds, k.cfg.partitions, holdJourney(k.kc.latHold))
	if err != nil {
		return err
	}
	defer d.cl.Close()
	// Enough users that none nears the journey's 600 events a minute.
	users := 10_000
	// Profiles (consent to email) for the paced users, as produceCarts
	// writes them: Beckon checks consent before a send.
	if err := d.produceCarts(ctx, 0, users); err != nil {
		return err
	}
	set := newReminderSet(k.kc.latHold)
	var (
		w  *bench.Watcher
		ch *bench.Child
	)
	if s == &k.beckon {
		if w, err = watchBeckon(d, set); err != nil {
			return err
		}
		ch, _, err = d.startEngine(ctx, filepath.Join(k.work, "beckon-lat"))
	} else {
		out := d.prefix + "ks-lat-reminders"
		if err := k.createTopics(ctx, d, out); err != nil {
			return err
		}
		if w, err = watchKStreams(k.seeds, out, set); err != nil {
			return err
		}
		ch, _, err = k.startKStreams(ctx, "cart", d.prefix+"ks-lat", d.prefix+"events", out, filepath.Join(k.work, "ks-lat"), k.kc.latHold)
	}
	defer w.Close()
	if err != nil {
		return err
	}
	defer func() { _, _ = ch.Stop(30 * time.Second) }()
	set.mu.Lock()
	set.from = time.Now().Add(2 * time.Second) // warm-up left out
	set.mu.Unlock()
	n, err := k.paceCarts(ctx, d, users)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, k.kc.latHold+time.Minute)
	defer cancel()
	if _, err := w.WaitFor(wctx, n); err != nil {
		return err
	}
	w.Settle(ctx, 500*time.Millisecond)
	u, err := ch.Stop(30 * time.Second)
	if err != nil {
		return err
	}
	set.mu.Lock()
	s.lat, s.latN, s.latUse = bench.Summarise(set.lats), n, u
	set.mu.Unlock()
	if got, _ := w.Count(); got != n {
		return fmt.Errorf("%d reminders for %d paced carts", got, n)
	}
	logger.Printf("kstreams latency: %s at %.0f events/s: p50 %v p99 %v max %v", s.name, k.rate, s.lat.P50, s.lat.P99, s.lat.Max)
	return nil
}

// paceCarts produces Product Added events at k.rate for the latency
// duration, each to a fresh cart and stamped with its send time.
func (k *kstreamsRun) paceCarts(ctx context.Context, d *deployment, users int) (int, error) {
	interval := time.Duration(float64(time.Second) / k.rate)
	start := time.Now()
	n := 0
	var (
		mu    sync.Mutex
		first error
	)
	for time.Since(start) < k.kc.latency && ctx.Err() == nil {
		if wait := time.Until(start.Add(time.Duration(n) * interval)); wait > 0 {
			time.Sleep(wait)
		}
		now := time.Now()
		ev := records.Event{MessageID: "p" + strconv.Itoa(n), Type: records.EventTrack, Name: "Product Added", UserID: user(n % users), Timestamp: now,
			Properties: records.JSON(fmt.Sprintf(`{"cart_id":"p%d","sku":"sku-%d","name":"Linen Shirt","price":59,"sent":%d}`, n, n%997, now.UnixNano()))}
		v, err := d.cd.Encode(ctx, d.prefix+"events", ev)
		if err != nil {
			return n, err
		}
		d.cl.Produce(ctx, &kgo.Record{Topic: d.prefix + "events", Key: []byte(ev.UserID), Value: v}, func(_ *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				first = cmp.Or(first, err)
				mu.Unlock()
			}
		})
		n++
	}
	if err := d.cl.Flush(ctx); err != nil {
		return n, err
	}
	mu.Lock()
	defer mu.Unlock()
	return n, first
}

// findKStreams looks for the peer's Maven project from the working
// directory up.
func findKStreams() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		cand := filepath.Join(dir, "bench", "peers", "kstreams")
		if _, err := os.Stat(filepath.Join(cand, "pom.xml")); err == nil {
			return cand, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("bench/peers/kstreams not found from the working directory; run from the repository or pass -kstreams-dir")
		}
		dir = parent
	}
}

// markdown renders the comparison.
func (k *kstreamsRun) markdown(broker string, start time.Time, runErr error) string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	w("## Beckon vs Kafka Streams: the abandoned cart\n\n```sh\n%s\n```\n\n", "go run ./bench/cmd/enginebench "+strings.Join(os.Args[1:], " "))
	w("Run %s on %s: %d events over %d users (two carts each, %d carts), %d partitions, %d rounds per side alternating (Beckon first in odd rounds); %v in all.\n\n",
		start.UTC().Format("2006-01-02 15:04 MST"), broker, k.cfg.events, k.cfg.users, k.expectedCart, k.cfg.partitions, k.kc.rounds, time.Since(start).Round(time.Second))
	w("Both read the same pre-produced events topic of each round (Beckon's enginebench workload: every event updates a waiting cart), exactly-once, and send one reminder per cart after a %v hold that every change resets; both sides' reminders are checked against the journey (same users, carts and items). ", k.kc.hold)
	w("Kafka Streams: `bench/peers/kstreams`, %d stream thread(s), wall-clock punctuator every %v, everything else default. ", k.kc.threads, k.kc.punctuate)
	w("Events/s: from the side's Ready (partitions assigned and restored) until its group's committed offsets pass every event (median round). CPU and peak RSS (VmHWM): the whole child process over the round (start-up, events, the hold, the reminders).\n\n")
	w("| | Beckon engine | Kafka Streams | Beckon / Kafka Streams |\n|---|---:|---:|---:|\n")
	bm, km := k.beckon.median(), k.ks.median()
	ratio := func(a, b float64) string {
		if a <= 0 || b <= 0 {
			return "-"
		}
		return fmt.Sprintf("**%.2f**", a/b)
	}
	rates := func(s *sideResult) string {
		var r []string
		for _, x := range s.rounds {
			r = append(r, fmt.Sprintf("%.0f", x.rate))
		}
		return strings.Join(r, ", ")
	}
	w("| cart events/s (median) | %.0f | %.0f | %s |\n", bm.rate, km.rate, ratio(bm.rate, km.rate))
	w("| every round (events/s) | %s | %s | |\n", rates(&k.beckon), rates(&k.ks))
	cpuPer := func(r sideRound) float64 {
		if k.cfg.events == 0 {
			return 0
		}
		return float64(r.use.CPU.Microseconds()) / float64(k.cfg.events)
	}
	w("| CPU, median round (user+sys) | %.1f s | %.1f s | %s |\n", bm.use.CPU.Seconds(), km.use.CPU.Seconds(), ratio(bm.use.CPU.Seconds(), km.use.CPU.Seconds()))
	w("| CPU per event (whole process / events) | %.1f µs | %.1f µs | %s |\n", cpuPer(bm), cpuPer(km), ratio(cpuPer(bm), cpuPer(km)))
	w("| peak RSS (highest round) | %d MiB | %d MiB | %s |\n", k.beckon.peakRSS()>>20, k.ks.peakRSS()>>20, ratio(float64(k.beckon.peakRSS()), float64(k.ks.peakRSS())))
	w("| reminders (every round checked) | %d per round | %d per round | same |\n", bm.reminders, km.reminders)
	if k.beckon.lat.N > 0 || k.ks.lat.N > 0 {
		w("| latency p50, event to reminder visible minus the %v hold | %v | %v | %s |\n", k.kc.latHold, k.beckon.lat.P50.Round(time.Millisecond), k.ks.lat.P50.Round(time.Millisecond), ratio(float64(k.beckon.lat.P50), float64(k.ks.lat.P50)))
		w("| latency p99 | %v | %v | %s |\n", k.beckon.lat.P99.Round(time.Millisecond), k.ks.lat.P99.Round(time.Millisecond), ratio(float64(k.beckon.lat.P99), float64(k.ks.lat.P99)))
		w("| latency run: peak RSS / CPU | %d MiB / %.1f s | %d MiB / %.1f s | |\n", k.beckon.latUse.PeakRSS>>20, k.beckon.latUse.CPU.Seconds(), k.ks.latUse.PeakRSS>>20, k.ks.latUse.CPU.Seconds())
	}
	w("\n")
	if k.rate > 0 {
		w("Latency: %v of Product Added events paced at %.0f events/s (half the slower side's throughput), each opening a fresh cart and stamped with its send time; a read_committed consumer takes the time each reminder arrives; the figure is that minus the %v hold, so it is the hold's lateness plus the transaction that carries the reminder (the first 2 s left out). Ratios above 1 favour Kafka Streams for CPU, RSS and latency, and Beckon for events/s.\n\n", k.kc.latency, k.rate, k.kc.latHold)
	}
	if runErr != nil {
		w("**The comparison failed:** %v\n\n", runErr)
	}
	return b.String()
}

// kstreamsFlags declares the comparison's flags on fs.
func kstreamsFlags(fs *flag.FlagSet) *kstreamsConfig {
	kc := &kstreamsConfig{}
	fs.IntVar(&kc.rounds, "kstreams-rounds", 3, "-kstreams: throughput rounds per side")
	fs.DurationVar(&kc.hold, "kstreams-hold", 20*time.Second, "-kstreams: the cart hold of the throughput rounds (longer than either side's processing time, since a cart's events span the whole input)")
	fs.DurationVar(&kc.latHold, "kstreams-lat-hold", time.Second, "-kstreams: the cart hold of the latency runs")
	fs.DurationVar(&kc.latency, "kstreams-latency", 10*time.Second, "-kstreams: how long each latency run paces events (0: no latency runs)")
	fs.Float64Var(&kc.rate, "kstreams-rate", 0, "-kstreams: paced events/s of the latency runs (0: half the slower side's throughput)")
	fs.IntVar(&kc.threads, "kstreams-threads", 2, "-kstreams: Kafka Streams num.stream.threads (2: one per core of the benchmark machine)")
	fs.DurationVar(&kc.punctuate, "kstreams-punctuate", 100*time.Millisecond, "-kstreams: Kafka Streams wall-clock punctuation interval of the hold (the engine's poll wait is 100ms)")
	fs.StringVar(&kc.dir, "kstreams-dir", "", "-kstreams: the peer's Maven project (default: bench/peers/kstreams found from the working directory)")
	return kc
}
