// Command enginebench measures the journey engine on the abandoned-cart
// journey: throughput of one engine instance (its own process, so its
// peak RSS is its own), latency from an event to the send command of an
// immediate send, state bytes per waiting cart instance, and RSS with many
// active instances. It prints a Markdown report (docs/benchmarks.md).
//
//	go run ./bench/cmd/enginebench                # in-process kfake
//	go run ./pkg/kafkatest/cmd/withkafka -require -- go run ./bench/cmd/enginebench
//
// With -kstreams it instead compares the engine with the same journey
// written as a Kafka Streams application (kstreams.go).
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beckon-dev/beckon/bench"
	"github.com/beckon-dev/beckon/pkg/codec"
	"github.com/beckon-dev/beckon/pkg/engine"
	"github.com/beckon-dev/beckon/pkg/journey"
	"github.com/beckon-dev/beckon/pkg/kafkatest"
	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/pkg/stream"
	"github.com/beckon-dev/beckon/pkg/topics"
)

// The benchmark's journeys: the abandoned cart (every event updates a
// waiting instance: state rules and a timer reset) and an immediate send
// (the latency path: event in, send command out, one transaction).
const cartJourney = bench.CartJourney

const nowJourney = `
id: now
trigger: {event: Signed Up}
steps:
  - id: hello
    send:
      channel: email
      template: welcome
      payload: {sent: event.properties.sent}
`

// envMemoryLimit passes -memory-limit to the engine children.
const envMemoryLimit = "ENGINEBENCH_MEMORY_LIMIT"

// envTxnTimeout passes -transaction-timeout to the engine children.
const envTxnTimeout = "ENGINEBENCH_TRANSACTION_TIMEOUT"

var logger = log.New(os.Stderr, "enginebench: ", log.Ltime)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "child" {
		os.Exit(child(os.Args[2:]))
	}
	os.Exit(run(os.Args[1:]))
}

type config struct {
	events, users, partitions, active, catalog int
	rate                                       float64
	latency, latencyLinger                     time.Duration
	md                                         string
}

func run(args []string) int {
	fs := flag.NewFlagSet("enginebench", flag.ContinueOnError)
	brokers := fs.String("brokers", os.Getenv(kafkatest.EnvBrokers), "seed brokers (default $"+kafkatest.EnvBrokers+", else kfake in this process)")
	c := config{}
	fs.IntVar(&c.events, "events", 200_000, "cart events of the throughput run")
	fs.IntVar(&c.users, "users", 20_000, "users of the throughput run (two carts each)")
	fs.IntVar(&c.partitions, "partitions", 6, "partitions of the user-keyed topics")
	fs.IntVar(&c.active, "active", 1_000_000, "waiting cart instances of the RSS run (0: none)")
	fs.IntVar(&c.catalog, "catalog", 1_000_000, "rows of the lookup table of the global-table restore run (0: none)")
	fs.Float64Var(&c.rate, "rate", 0, "events/s of the latency run (0: half the measured throughput)")
	fs.DurationVar(&c.latency, "latency", 20*time.Second, "how long the latency run paces events")
	fs.DurationVar(&c.latencyLinger, "latency-linger", 0, "producer linger of the latency run's paced events (0: each is sent at once, like streambench's)")
	fs.StringVar(&c.md, "md", "", "also write the report to this file")
	memLimit := fs.String("memory-limit", "auto", "each engine process's soft memory limit: auto, off or a size (the engine service's --memory-limit)")
	txnTimeout := fs.Duration("transaction-timeout", 0, "each engine process's transaction timeout (0: the runtime's default; the engine service's --transaction-timeout)")
	compare := fs.Bool("kstreams", false, "compare the engine with the Kafka Streams cart application (bench/peers/kstreams) instead")
	kc := kstreamsFlags(fs)
	sc := scaleFlags(fs)
	tc := tracingFlags(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	// The engine children inherit the environment; not GOMEMLIMIT, which
	// would also limit this process (the kfake broker holds every record).
	if err := errors.Join(os.Setenv(envMemoryLimit, *memLimit), os.Setenv(envTxnTimeout, txnTimeout.String())); err != nil {
		logger.Print(err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	broker := "Apache Kafka at " + *brokers
	seeds := strings.Split(*brokers, ",")
	if *brokers == "" {
		cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DefaultNumPartitions(c.partitions),
			kfake.BrokerConfigs(map[string]string{"default.replication.factor": "1", "min.insync.replicas": "1"}))
		if err != nil {
			logger.Print(err)
			return 1
		}
		defer cluster.Close()
		seeds = cluster.ListenAddrs()
		broker = "kfake (in the enginebench process)"
	}
	if *compare {
		out, err := runKStreams(ctx, seeds, c, *kc, broker)
		fmt.Print(out)
		if c.md != "" {
			err = errors.Join(err, os.WriteFile(c.md, []byte(out), 0o644))
		}
		if err != nil {
			logger.Print(err)
			return 1
		}
		return 0
	}
	if sc.on {
		return runScale(ctx, seeds, broker, c, *sc)
	}
	if tc.modes != "" {
		return runTracing(ctx, seeds, broker, c, *tc)
	}
	r := &report{broker: broker, cfg: c, seeds: seeds, start: time.Now()}
	if err := r.measure(ctx, seeds); err != nil {
		logger.Print(err)
		return 1
	}
	out := r.markdown()
	return c.print(out)
}

// print prints a run's report, and writes it to -md's file too.
func (c config) print(out string) int {
	fmt.Print(out)
	if c.md != "" {
		if err := os.WriteFile(c.md, []byte(out), 0o644); err != nil {
			logger.Print(err)
			return 1
		}
	}
	return 0
}

// deployment is one run's topics and control plane.
type deployment struct {
	seeds   []string
	lookups []string
	prefix  string
	layout  topics.Layout
	cl      *kgo.Client
	cd      *codec.Codec
}

func deploy(ctx context.Context, seeds []string, partitions int, journeys ...string) (*deployment, error) {
	return deployWith(ctx, seeds, partitions, nil, journeys...)
}

// deployWith is deploy with lookup tables.
func deployWith(ctx context.Context, seeds []string, partitions int, lookups []string, journeys ...string) (*deployment, error) {
	d := &deployment{seeds: seeds, lookups: lookups, prefix: fmt.Sprintf("eb%d-", time.Now().UnixNano()%1_000_000)}
	var err error
	if d.layout, err = topics.Declare(topics.Options{Prefix: d.prefix, Partitions: int32(partitions), ReplicationFactor: 1, Lookups: lookups}); err != nil {
		return nil, err
	}
	if d.cl, err = kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ProducerLinger(5*time.Millisecond), kgo.MaxBufferedRecords(1_000_000)); err != nil {
		return nil, err
	}
	if _, err = topics.Apply(ctx, d.cl, d.layout); err != nil {
		return nil, err
	}
	if d.cd, err = codec.New(); err != nil {
		return nil, err
	}
	control := &engine.Control{Kafka: []kgo.Opt{kgo.SeedBrokers(seeds...)}, Topic: d.prefix + "journeys", Codec: d.cd, Channels: journey.DefaultChannels, By: "enginebench"}
	for _, j := range journeys {
		if _, err := control.Publish(ctx, []byte(j), records.FormatYAML); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// produceCarts writes n Product Added events over users with two carts
// each, and a profile per user.
func (d *deployment) produceCarts(ctx context.Context, n, users int) error {
	var recs []*kgo.Record
	for u := range users {
		p := records.Profile{UserID: user(u), Addresses: records.Addresses{Email: user(u) + "@example.com"},
			Consent: map[string]records.Consent{"email": {Status: records.ConsentSubscribed}}}
		v, err := d.cd.Encode(ctx, d.prefix+"profiles", p)
		if err != nil {
			return err
		}
		recs = append(recs, &kgo.Record{Topic: d.prefix + "profiles", Key: []byte(p.UserID), Value: v})
	}
	now := time.Now()
	for i := range n {
		u := i % users
		ev := records.Event{MessageID: "m" + strconv.Itoa(i), Type: records.EventTrack, Name: "Product Added", UserID: user(u), Timestamp: now,
			Properties: records.JSON(fmt.Sprintf(`{"cart_id":"c%d","sku":"sku-%d","name":"Linen Shirt","price":59,"size":"M","colour":"blue","image":"https://shop.example.com/img/%d.jpg"}`, (i/users)%2, i%997, i%997))}
		v, err := d.cd.Encode(ctx, d.prefix+"events", ev)
		if err != nil {
			return err
		}
		recs = append(recs, &kgo.Record{Topic: d.prefix + "events", Key: []byte(ev.UserID), Value: v})
		if len(recs) >= 50_000 {
			if err := d.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
				return err
			}
			recs = recs[:0]
		}
	}
	return d.cl.ProduceSync(ctx, recs...).FirstErr()
}

func user(i int) string { return fmt.Sprintf("user-%07d", i) }

// startEngine runs an engine child on the deployment.
// extra are more flags of the child.
func (d *deployment) startEngine(ctx context.Context, stateDir string, extra ...string) (*bench.Child, time.Time, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, time.Time{}, err
	}
	args := append([]string{"child", "-brokers", strings.Join(d.seeds, ","), "-prefix", d.prefix, "-state", stateDir, "-lookups", strings.Join(d.lookups, ",")}, extra...)
	c, err := bench.StartChild("engine", exe, args...)
	if err != nil {
		return nil, time.Time{}, err
	}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	ready, _, err := c.AwaitTime(wctx, "ready")
	if err != nil {
		_, _ = c.Stop(10 * time.Second)
		return nil, time.Time{}, fmt.Errorf("engine child: %w", err)
	}
	return c, ready, nil
}

// consumeAll runs an engine child until its group has committed past n
// events, and returns the time from its Ready and its usage.
func (d *deployment) consumeAll(ctx context.Context, stateDir string, n int, extra ...string) (time.Duration, bench.Usage, error) {
	eng, ready, err := d.startEngine(ctx, stateDir, extra...)
	if err != nil {
		return 0, bench.Usage{}, err
	}
	done, err := d.waitConsumed(ctx, n)
	if err != nil {
		_, _ = eng.Stop(10 * time.Second)
		return 0, bench.Usage{}, err
	}
	u, err := eng.Stop(30 * time.Second)
	return done.Sub(ready), u, err
}

// waitConsumed waits until the engine group has committed past n events.
func (d *deployment) waitConsumed(ctx context.Context, n int) (time.Time, error) {
	adm := kadm.NewClient(d.cl)
	deadline := time.Now().Add(10 * time.Minute)
	for time.Now().Before(deadline) {
		offs, err := adm.FetchOffsets(ctx, d.prefix+"engine")
		if err == nil {
			var done int64
			offs.Each(func(o kadm.OffsetResponse) {
				if o.Topic == d.prefix+"events" {
					done += o.At
				}
			})
			if done >= int64(n) {
				return time.Now(), nil
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Time{}, fmt.Errorf("the engine did not consume %d events within 10 minutes", n)
}

// stateBytes reads the engine's changelog and returns the bytes of the
// latest user states (heads and instances) and the instances they hold.
func (d *deployment) stateBytes(ctx context.Context) (bytes, instances int, err error) {
	latest := map[string][]byte{}
	if err := d.readTopic(ctx, d.prefix+"changelog.engine", func(r *kgo.Record) {
		if len(r.Key) > 0 && r.Key[0] == 's' { // the runtime's state namespace
			latest[string(r.Key)] = r.Value
		}
	}); err != nil {
		return 0, 0, err
	}
	for _, v := range latest {
		// A user's head and each of their instances are records of their
		// own (a whole user in states written before the split).
		n, err := journey.StateInstances(v)
		if err != nil {
			return 0, 0, err
		}
		bytes += len(v)
		instances += n
	}
	return bytes, instances, nil
}

// child runs one engine until SIGTERM, announcing readiness.
func child(args []string) int {
	fs := flag.NewFlagSet("enginebench child", flag.ContinueOnError)
	brokers := fs.String("brokers", "", "")
	prefix := fs.String("prefix", "", "")
	state := fs.String("state", "", "")
	lookups := fs.String("lookups", "", "")
	instance := fs.String("instance", "bench-1", "")
	session := fs.Duration("session", 0, "group session timeout (0: franz-go's default)")
	memLimit := fs.String("memory-limit", cmp.Or(os.Getenv(envMemoryLimit), "auto"), "the engine's soft memory limit (engine.MemoryLimit; the engine service's --memory-limit)")
	inherited, _ := time.ParseDuration(os.Getenv(envTxnTimeout))
	txnTimeout := fs.Duration("transaction-timeout", inherited, "the transaction timeout (0: the runtime's default)")
	owned := fs.Bool("owned", false, `also announce "owned <ns> <partitions>" whenever the restored partitions change`)
	tracingMode := fs.String("tracing", "off", "off, noop (spans made, exported nowhere), steps (noop without Kafka client spans) or otlp (OTEL_* environment)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if _, _, err := engine.MemoryLimit(*memLimit); err != nil {
		logger.Print(err)
		return 2
	}
	var tables []string
	if *lookups != "" {
		tables = strings.Split(*lookups, ",")
	}
	layout, err := topics.Declare(topics.Options{Prefix: *prefix, ReplicationFactor: 1, Lookups: tables})
	if err != nil {
		logger.Print(err)
		return 1
	}
	cd, err := codec.New()
	if err != nil {
		logger.Print(err)
		return 1
	}
	kopts := []kgo.Opt{kgo.SeedBrokers(strings.Split(*brokers, ",")...)}
	if *session > 0 {
		// Heartbeats well inside the session, so only a dead process is
		// evicted.
		kopts = append(kopts, kgo.SessionTimeout(*session), kgo.HeartbeatInterval(*session/6))
	}
	// The runtime's transactions, phase by phase, are printed at the end:
	// where the latency goes.
	stats := &bench.TxnStats{}
	defer func() { logger.Printf("engine %s: %s%s", filepath.Base(*state), stats, stats.Phases()) }()
	tp, err := childTracing(ctx, *tracingMode)
	if err != nil {
		logger.Print(err)
		return 1
	}
	defer func() { _ = tp.Shutdown(context.WithoutCancel(ctx)) }()
	e, err := engine.New(engine.Config{
		Kafka: kopts, Topics: layout, Codec: cd,
		StateDir: *state, InstanceID: *instance, Group: *prefix + "engine",
		Stream:  stream.Options{TransactionTimeout: *txnTimeout, Metrics: stats},
		Logger:  slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: childLogLevel()})),
		Tracing: tp,
	})
	if err != nil {
		logger.Print(err)
		return 1
	}
	if path := os.Getenv("ENGINEBENCH_CPU"); path != "" {
		// A CPU profile of the engine over its whole run, one file per run
		// (PATH.tput, PATH.lat, PATH.active).
		f, err := os.Create(path + "." + filepath.Base(*state))
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			logger.Print(err)
		} else {
			defer f.Close()
			defer pprof.StopCPUProfile()
		}
	}
	go announceProgress(ctx, e, *owned)
	if path := os.Getenv("ENGINEBENCH_HEAP"); path != "" {
		// A heap profile of the engine at its peak RSS, one file per run
		// (PATH.tput, PATH.lat, PATH.active), and how that RSS splits.
		report := watchPeak(ctx, path+"."+filepath.Base(*state))
		defer report()
	}
	if err := e.Run(ctx); err != nil {
		logger.Print(err)
		return 1
	}
	return 0
}

// report gathers the figures.
type report struct {
	broker string
	seeds  []string
	cfg    config
	start  time.Time

	tput                       float64
	tputTook                   time.Duration
	tputRSS                    int64
	tputCPU                    time.Duration
	stateBytes, stateInstances int
	rate                       float64
	lat                        bench.Latencies
	latSends                   int
	latRSS                     int64
	activeTook                 time.Duration
	activeInstances            int
	activeRSS                  int64
	activeCPU                  time.Duration
	catalogTook                time.Duration
	catalogRSS                 int64
}

func (r *report) measure(ctx context.Context, seeds []string) error {
	c := r.cfg
	work, err := os.MkdirTemp("", "enginebench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	// 1. Throughput and state size.
	d, err := deploy(ctx, seeds, c.partitions, cartJourney)
	if err != nil {
		return err
	}
	defer d.cl.Close()
	if err := d.produceCarts(ctx, c.events, c.users); err != nil {
		return err
	}
	logger.Printf("throughput: %d cart events over %d users pre-produced", c.events, c.users)
	took, u, err := d.consumeAll(ctx, filepath.Join(work, "tput"), c.events)
	if err != nil {
		return err
	}
	r.tputTook = took
	r.tput = float64(c.events) / r.tputTook.Seconds()
	r.tputRSS, r.tputCPU = u.PeakRSS, u.CPU
	logger.Printf("throughput: %d events in %v = %.0f events/s, CPU %.2f s (%.1f µs/event), peak RSS %d MiB", c.events, r.tputTook.Round(time.Millisecond), r.tput, u.CPU.Seconds(), float64(u.CPU.Microseconds())/float64(c.events), u.PeakRSS>>20)
	if r.stateBytes, r.stateInstances, err = d.stateBytes(ctx); err != nil {
		return err
	}

	// 2. Latency of an immediate send at half the throughput.
	r.rate = c.rate
	if r.rate == 0 {
		r.rate = r.tput / 2
	}
	if err := r.latency(ctx, seeds, work); err != nil {
		return err
	}

	// 3. RSS with many waiting instances.
	if c.active > 0 {
		if err := r.activeRun(ctx, seeds, work); err != nil {
			return err
		}
	}
	// 4. A large lookup table (a catalog) restored as a global table.
	if c.catalog > 0 {
		return r.catalogRun(ctx, seeds, work)
	}
	return nil
}

// catalogRun fills lookups.catalog with c.catalog product rows and times an
// engine from start to Ready: Ready waits until every global table is
// restored.
func (r *report) catalogRun(ctx context.Context, seeds []string, work string) error {
	d, err := deployWith(ctx, seeds, r.cfg.partitions, []string{"catalog"}, cartJourney)
	if err != nil {
		return err
	}
	defer d.cl.Close()
	topic := d.prefix + "lookups.catalog"
	var recs []*kgo.Record
	for i := range r.cfg.catalog {
		sku := fmt.Sprintf("SKU-%07d", i)
		row := records.LookupRecord{Table: "catalog", ID: sku, UpdatedAt: time.Now(), Attributes: records.JSON(fmt.Sprintf(
			`{"sku":"%s","name":"Linen Shirt %d","price":%d.9,"currency":"EUR","size":"M","colour":"blue","image_url":"https://shop.example.com/img/%s.jpg","stock":%d}`, sku, i, 10+i%90, sku, i%50))}
		v, err := d.cd.Encode(ctx, topic, row)
		if err != nil {
			return err
		}
		recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(sku), Value: v})
		if len(recs) == 50_000 {
			if err := d.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
				return err
			}
			recs = recs[:0]
		}
	}
	if err := d.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return err
	}
	logger.Printf("catalog: %d rows produced to %s", r.cfg.catalog, topic)
	start := time.Now()
	eng, ready, err := d.startEngine(ctx, filepath.Join(work, "catalog"))
	if err != nil {
		return err
	}
	u, err := eng.Stop(30 * time.Second)
	if err != nil {
		return err
	}
	r.catalogTook, r.catalogRSS = ready.Sub(start), u.PeakRSS
	logger.Printf("catalog: restored in %v, peak RSS %d MiB", r.catalogTook.Round(time.Millisecond), u.PeakRSS>>20)
	return nil
}

func (r *report) latency(ctx context.Context, seeds []string, work string) error {
	d, err := deploy(ctx, seeds, r.cfg.partitions, nowJourney)
	if err != nil {
		return err
	}
	defer d.cl.Close()
	for u := range 10_000 {
		p := records.Profile{UserID: user(u), Addresses: records.Addresses{Email: "x@example.com"}, Consent: map[string]records.Consent{"email": {Status: records.ConsentSubscribed}}}
		v, _ := d.cd.Encode(ctx, d.prefix+"profiles", p)
		d.cl.Produce(ctx, &kgo.Record{Topic: d.prefix + "profiles", Key: []byte(p.UserID), Value: v}, nil)
	}
	if err := d.cl.Flush(ctx); err != nil {
		return err
	}
	eng, _, err := d.startEngine(ctx, filepath.Join(work, "lat"))
	if err != nil {
		return err
	}
	defer eng.Stop(30 * time.Second) // on an error; Stop runs once
	var lats []time.Duration
	// Every command ID is counted once: a duplicate send command visible
	// to read_committed would break exactly-once, and would also let the
	// watcher's record count reach n with a send still missing.
	var mu sync.Mutex
	ids, dups := make(map[string]struct{}), 0
	warm := time.Now().Add(latencyWarmUp)
	w, err := bench.Watch(seeds, d.prefix+"send.email", func(rec *kgo.Record, seen time.Time) {
		var cmd records.SendCommand
		if err := d.cd.Decode(ctx, rec.Value, &cmd); err != nil {
			return
		}
		mu.Lock()
		if _, ok := ids[cmd.CommandID]; ok {
			dups++
		}
		ids[cmd.CommandID] = struct{}{}
		mu.Unlock()
		var p struct {
			Sent int64 `json:"sent"`
		}
		if err := cmd.Payload.Decode(&p); err == nil && p.Sent > 0 {
			if sent := time.Unix(0, p.Sent); sent.After(warm) {
				lats = append(lats, seen.Sub(sent))
			}
		}
	})
	if err != nil {
		return err
	}
	defer w.Close()
	n, err := r.pace(ctx, d)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if _, err := w.WaitFor(wctx, n); err != nil {
		// The deferred Stop ends the engine child; the activity and
		// dead-letter tally says where the missing sends went.
		return fmt.Errorf("latency: %w; %s", err, d.shortfall(ctx))
	}
	mu.Lock()
	unique, dup := len(ids), dups
	mu.Unlock()
	if dup > 0 || unique < n {
		return fmt.Errorf("latency: %d send commands for %d events, %d of them duplicates; %s", unique+dup, n, dup, d.shortfall(ctx))
	}
	u, err := eng.Stop(30 * time.Second)
	if err != nil {
		return err
	}
	r.latRSS, r.latSends = u.PeakRSS, n
	r.lat = bench.Summarise(lats)
	logger.Printf("latency at %.0f events/s: %s", r.rate, latencyText(r.lat, r.latSends))
	return nil
}

// latencyText is the latency run's figures: p50 / p99 / max, or that
// there were no samples (every send arrived in the warm-up that is left
// out, as with -latency at or below it), never zeros that read as
// figures.
func latencyText(l bench.Latencies, sends int) string {
	if l.N == 0 {
		return fmt.Sprintf("no samples (%d sends, all in the first %v that are left out: raise -latency)", sends, latencyWarmUp)
	}
	return fmt.Sprintf("%v / **%v** / %v (%d sends, %d samples)", l.P50.Round(time.Millisecond), l.P99.Round(time.Millisecond), l.Max.Round(time.Millisecond), sends, l.N)
}

// latencyWarmUp is the start of the latency run left out of its figures.
const latencyWarmUp = 2 * time.Second

// pace produces Signed Up events at r.rate for the latency duration, each
// stamped with its send time, round-robin over 10,000 users with
// profiles: each user signs up again every 10,000/rate seconds, and every
// sign-up enters the journey anew and sends once.
func (r *report) pace(ctx context.Context, d *deployment) (int, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(r.seeds...), kgo.ProducerLinger(r.cfg.latencyLinger), kgo.MaxBufferedRecords(1_000_000))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	interval := time.Duration(float64(time.Second) / r.rate)
	start := time.Now()
	n := 0
	for time.Since(start) < r.cfg.latency {
		due := start.Add(time.Duration(n) * interval)
		if wait := time.Until(due); wait > 0 {
			time.Sleep(wait)
		}
		now := time.Now()
		ev := records.Event{MessageID: "s" + strconv.Itoa(n), Type: records.EventTrack, Name: "Signed Up", UserID: user(n % 10_000), Timestamp: now,
			Properties: records.JSON(`{"sent":` + strconv.FormatInt(now.UnixNano(), 10) + `}`)}
		v, err := d.cd.Encode(ctx, d.prefix+"events", ev)
		if err != nil {
			return n, err
		}
		cl.Produce(ctx, &kgo.Record{Topic: d.prefix + "events", Key: []byte(ev.UserID), Value: v}, nil)
		n++
	}
	return n, cl.Flush(ctx)
}

func (r *report) activeRun(ctx context.Context, seeds []string, work string) error {
	d, err := deploy(ctx, seeds, r.cfg.partitions, cartJourney)
	if err != nil {
		return err
	}
	defer d.cl.Close()
	users := r.cfg.active / 2
	if err := d.produceCarts(ctx, r.cfg.active, users); err != nil {
		return err
	}
	logger.Printf("active: %d cart events (one per cart) over %d users pre-produced", r.cfg.active, users)
	took, u, err := d.consumeAll(ctx, filepath.Join(work, "active"), r.cfg.active)
	if err != nil {
		return err
	}
	r.activeTook, r.activeInstances, r.activeRSS, r.activeCPU = took, r.cfg.active, u.PeakRSS, u.CPU
	logger.Printf("active: %d instances in %v, engine CPU %v (%.0f µs per instance), peak RSS %d MiB", r.cfg.active, r.activeTook.Round(time.Millisecond),
		u.CPU.Round(time.Millisecond), float64(u.CPU.Microseconds())/float64(r.cfg.active), u.PeakRSS>>20)
	return nil
}

func (r *report) markdown() string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	w("## Journey engine (`pkg/engine`)\n\n```sh\ngo run ./bench/cmd/enginebench\n```\n\n")
	w("Run %s on %s: %d CPUs, %s %s/%s, GOMAXPROCS %d; %v in all. The engine runs in its own process (peak RSS is VmHWM), exactly-once.\n\n",
		r.start.UTC().Format("2006-01-02 15:04 MST"), r.broker, runtime.NumCPU(), runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.GOMAXPROCS(0), time.Since(r.start).Round(time.Second))
	w("| figure | value |\n|---|---:|\n")
	w("| throughput: %d Product Added events over %d users × 2 carts (every event updates a waiting instance) | **%.0f events/s** (%.2f s, CPU %.1f s) |\n", r.cfg.events, r.cfg.users, r.tput, r.tputTook.Seconds(), r.tputCPU.Seconds())
	w("| peak RSS, throughput run | %d MiB |\n", r.tputRSS>>20)
	if r.stateInstances > 0 {
		w("| state per waiting cart instance (changelog bytes / instances; %d instances, ~%d items each) | **%d bytes** |\n", r.stateInstances, r.cfg.events/r.stateInstances, r.stateBytes/r.stateInstances)
	}
	w("| latency, event to send command visible (read_committed), immediate send at %.0f events/s (paced, producer linger %v): p50 / p99 / max | %s |\n", r.rate, r.cfg.latencyLinger, latencyText(r.lat, r.latSends))
	if r.activeInstances > 0 {
		w("| %d waiting cart instances: time to enter them all / peak RSS | %.1f s (engine CPU %.1f s) / **%d MiB** |\n", r.activeInstances, r.activeTook.Seconds(), r.activeCPU.Seconds(), r.activeRSS>>20)
	}
	if r.catalogTook > 0 {
		w("| global table of %d catalog rows: engine start to Ready (restore included) / peak RSS | %.1f s (%.0f rows/s) / **%d MiB** |\n",
			r.cfg.catalog, r.catalogTook.Seconds(), float64(r.cfg.catalog)/r.catalogTook.Seconds(), r.catalogRSS>>20)
	}
	w("\n")
	return b.String()
}
