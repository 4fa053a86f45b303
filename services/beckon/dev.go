package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beckon-dev/beckon/pkg/codec"
	"github.com/beckon-dev/beckon/pkg/console"
	"github.com/beckon-dev/beckon/pkg/embedded"
	"github.com/beckon-dev/beckon/pkg/engine"
	"github.com/beckon-dev/beckon/pkg/health"
	"github.com/beckon-dev/beckon/pkg/kafkaconn"
	"github.com/beckon-dev/beckon/pkg/metrics"
	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/pkg/sample"
	"github.com/beckon-dev/beckon/pkg/settings"
	"github.com/beckon-dev/beckon/pkg/telemetry"
	"github.com/beckon-dev/beckon/pkg/topics"
)

// devSettings are the flags of `beckon dev`.
var devSettings = []settings.Setting{
	{Flag: "data-dir", Env: "BECKON_DEV_DATA_DIR", Default: ".beckon/dev", Usage: "where the embedded Kafka keeps topics and records across restarts"},
	{Flag: "port", Env: "BECKON_DEV_PORT", Default: strconv.Itoa(embedded.DefaultPort), Usage: "port of the embedded Kafka on 127.0.0.1 (0 picks a free one)"},
	{Flag: "partitions", Env: "BECKON_DEV_PARTITIONS", Default: "3", Usage: "partitions of the user-keyed topics"},
	{Flag: "users", Env: "BECKON_DEV_USERS", Default: "25", Usage: "sample shoppers"},
	{Flag: "rate", Env: "BECKON_DEV_RATE", Default: "2", Usage: "sample events per second"},
	{Flag: "events", Env: "BECKON_DEV_EVENTS", Default: "0", Usage: "stop after reading back this many sample events and the engine committing them, waiting at most 30 s for the engine (0 runs until interrupted)"},
	{Flag: "metrics-addr", Env: "BECKON_DEV_METRICS_ADDR", Default: "127.0.0.1:8081", Usage: "address of the engine's /metrics, /healthz and /readyz (port 0 picks a free one)"},
	{Flag: "api-addr", Env: "BECKON_DEV_API_ADDR", Default: "127.0.0.1:8080", Usage: "address of the API, whose write token is made afresh and printed at each start (port 0 picks a free one)"},
	{Flag: "seed", Env: "BECKON_DEV_SEED", Default: "0", Usage: "seed of the sample shop and its traffic, printed in the banner (0: one from the clock)"},
	{Flag: "trace-url", Env: "BECKON_TRACE_URL", Usage: "the console's link to an instance's trace, {traceId} standing for its ID, e.g. http://localhost:16686/trace/{traceId} (empty: no link)"},
	{Flag: "time-scale", Env: "BECKON_DEV_TIME_SCALE", Default: "60", Usage: "journey time runs this many times faster than the wall clock (60: an hour's wait takes a minute)"},
}

// devConfig is what the dev flags describe.
type devConfig struct {
	dataDir    string
	port       int
	partitions int32
	users      int
	rate       float64
	events     int
	timeScale  float64
	metrics    string
	api        string
	traceURL   string
	seed       uint64
}

func parseDev(c *cli, args []string) (devConfig, error) {
	fs := flag.NewFlagSet("beckon dev", flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	v := settings.Bind(fs, c.getenv, devSettings)
	if err := fs.Parse(args); err != nil {
		return devConfig{}, err
	}
	var d devConfig
	var errs []error
	num := func(name string, bits int) int64 {
		n, err := v.Int(name, bits)
		errs = append(errs, err)
		return n
	}
	d.dataDir = v.String("data-dir")
	d.metrics = v.String("metrics-addr")
	d.api = v.String("api-addr")
	d.traceURL = v.String("trace-url")
	if err := console.CheckTraceURL(d.traceURL); err != nil {
		return d, fmt.Errorf("--trace-url: %w", err)
	}
	d.port = int(num("port", 17))
	d.partitions = int32(num("partitions", 32))
	d.users = int(num("users", 32))
	d.events = int(num("events", 32))
	d.seed = uint64(num("seed", 64))
	rate, err := v.Float("rate")
	d.rate = rate
	errs = append(errs, err)
	scale, err := v.Float("time-scale")
	d.timeScale = scale
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return d, err
	}
	if d.rate <= 0 || d.users < 1 || d.partitions < 1 || d.timeScale <= 0 {
		return d, fmt.Errorf("--rate, --users, --partitions and --time-scale must be positive")
	}
	return d, nil
}

// dev runs Beckon on an embedded Kafka: it provisions the topics, loads the
// sample shop's catalog, profiles and loyalty facts, then produces sample
// events and reads each one back through the codec.
func (c *cli) dev(ctx context.Context, args []string) error {
	d, err := parseDev(c, args)
	if err != nil {
		return err
	}
	k, err := embedded.Start(embedded.Options{DataDir: filepath.Join(d.dataDir, "kafka"), Port: d.port, Logger: c.log})
	if err != nil {
		return err
	}
	defer func() {
		k.Close()
		fmt.Fprintf(c.stdout, "stopped; Kafka's data is kept in %s\n", k.DataDir())
	}()

	// From here on nothing knows the brokers are embedded.
	conn := kafkaconn.Config{Brokers: k.Brokers(), ClientID: "beckon-dev"}
	layout, err := topics.Declare(topics.Options{Partitions: d.partitions, ReplicationFactor: 1, Facts: []string{"loyalty"}, Lookups: []string{"catalog"}})
	if err != nil {
		return err
	}
	cl, err := conn.NewClient(kgo.ProducerLinger(5 * time.Millisecond))
	if err != nil {
		return err
	}
	defer cl.Close()
	report, err := topics.Apply(ctx, cl, layout)
	if err != nil {
		return fmt.Errorf("provision topics: %w", err)
	}
	cd, err := codec.New()
	if err != nil {
		return err
	}

	seed := d.seed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	shop := sample.NewShop(seed, d.users)
	shopper := firstCartShopper(seed, d.users)
	now := time.Now().UTC()
	var tables []records.Record
	for _, r := range shop.Catalog(now) {
		tables = append(tables, r)
	}
	for _, r := range shop.Profiles(now) {
		tables = append(tables, r)
	}
	for _, r := range shop.Facts(now) {
		tables = append(tables, r)
	}
	if err := produce(ctx, cl, cd, conn, tables...); err != nil {
		return fmt.Errorf("load sample tables: %w", err)
	}

	published, err := publishExamples(ctx, conn, cd)
	if err != nil {
		return err
	}
	// With OTEL_EXPORTER_OTLP_ENDPOINT set, every journey instance's trace
	// goes there (the engine's spans, and its Kafka clients').
	tracing, stopTracing, err := telemetry.Setup(ctx, "beckon-dev", c.log)
	if err != nil {
		return err
	}
	defer stopTracing()

	reg, err := metrics.New()
	if err != nil {
		return err
	}
	defer reg.Shutdown(context.Background())
	e, stopEngine, err := c.startEngine(ctx, d, conn, layout, cd, reg, tracing)
	if err != nil {
		return err
	}
	defer stopEngine()
	if err := metrics.ObserveHealth(reg.Meter(), e); err != nil {
		return err
	}
	metricsAt, err := health.Serve(ctx, c.log, d.metrics, health.Handler(e, reg.Handler()))
	if err != nil {
		return err
	}

	apiAt, stopAPI, err := c.startAPI(ctx, d, conn, layout, cd, reg)
	if err != nil {
		return err
	}
	defer stopAPI()

	eventsTopic := conn.Topic("events")
	watched := []string{eventsTopic, conn.Topic("handoff"), conn.Topic("dlq")}
	for _, ch := range topics.Channels {
		watched = append(watched, conn.Topic("send."+ch))
	}
	tail, err := tailFromEnd(ctx, conn, watched...)
	if err != nil {
		return err
	}
	defer tail.Close()

	fmt.Fprintf(c.stdout, `Beckon dev is running.
  Kafka     %s (embedded; data in %s)
  Topics    %d declared, %d created now; user-keyed topics have %d partitions
  Tables    %d products in lookups.catalog, %d profiles, %d loyalty facts
  Journeys  %s (examples/journeys), run by the engine with journey time %gx the wall clock
  Traffic   %.3g sample events/s from %d shoppers to %s (seed %d), each read back through the Avro codec
  Output    send commands, hand-offs and dead letters as they are committed; a simulated channel answers WhatsApp messages
  Metrics   http://%s/metrics (Prometheus; /healthz and /readyz beside it)
  Traces    %s
  API       %s (write token %s; docs/api.md)
  Console   %s/ (sign in with the write token; docs/console.md)
  Try       %s
            %s
            %s
            # %s's journey instances, live: the first shopper the sample traffic fills a cart for, so in abandoned-cart within seconds; each instance's id leads to its timeline, /v1/instances/{id}
            BECKON_API_URL=%s BECKON_API_TOKEN=%s go run ./services/beckon journeys pause abandoned-cart
            BECKON_BROKERS=%s go run ./services/beckon topics check --replication-factor 1 --partitions %d --facts loyalty --lookups catalog
  Stop      Ctrl-C
`, k.Brokers()[0], k.DataDir(), len(layout.Specs), len(report.Created), d.partitions,
		len(shop.Products), len(shop.Users), len(tables)-len(shop.Products)-len(shop.Users),
		strings.Join(published, ", "), d.timeScale, d.rate, len(shop.Users), eventsTopic, seed, metricsAt, tracesLine(tracing),
		apiAt.url, apiAt.token, apiAt.url, apiAt.curl("/v1/journeys/abandoned-cart"), apiAt.curl("/v1/journeys/abandoned-cart/metrics"),
		apiAt.curl("/v1/users/"+url.PathEscape(shopper)+"/instances"), shopper, apiAt.url, apiAt.token, k.Brokers()[0], d.partitions)

	return c.traffic(ctx, d, cl, tail, cd, conn, shop.Traffic())
}

// firstCartShopper is the first shopper that the sample traffic of the
// shop made from seed puts a product in a cart for: the abandoned-cart
// journey's first entrant, whose instances the banner shows. It plays the
// traffic of a twin shop, which draws the same numbers as long as
// nothing but the traffic draws from the dev shop's.
func firstCartShopper(seed uint64, users int) string {
	shop := sample.NewShop(seed, users)
	tr := shop.Traffic()
	for range 10_000 { // a visit adds to a cart 2 times in 3: never reached
		if e := tr.Next(time.Time{}); e.Name == "Product Added" {
			return e.UserID
		}
	}
	return shop.Users[0].ID
}

// tracesLine says where the dev engine's traces go.
func tracesLine(p *telemetry.Provider) string {
	if !p.Enabled() {
		return "off (set OTEL_EXPORTER_OTLP_ENDPOINT to export a trace per journey instance)"
	}
	return "a trace per journey instance, exported by " + p.Exporter
}

// traffic produces one sample event per tick and prints every event read
// back from the events topic, until ctx ends or d.events have been read.
func (c *cli) traffic(parent context.Context, d devConfig, cl, tail *kgo.Client, cd *codec.Codec, conn kafkaconn.Config, tr *sample.Traffic) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	produced := make(chan error, 1)
	go func() {
		tick := time.NewTicker(time.Duration(float64(time.Second) / d.rate))
		defer tick.Stop()
		for n := 0; d.events == 0 || n < d.events; n++ {
			select {
			case <-ctx.Done():
				produced <- nil
				return
			case now := <-tick.C:
				if err := produce(ctx, cl, cd, conn, tr.Next(now.UTC())); err != nil && ctx.Err() == nil {
					produced <- err
					return
				}
			}
		}
		produced <- nil
	}()

	read := 0
	for d.events == 0 || read < d.events {
		fs := tail.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil // interrupted: a clean stop
		}
		if err := fs.Err0(); err != nil {
			return fmt.Errorf("read back events: %w", err)
		}
		for _, r := range fs.Records() {
			if r.Topic != conn.Topic("events") {
				if err := c.showOutput(ctx, cl, cd, conn, r); err != nil {
					return err
				}
				continue
			}
			var e records.Event
			if err := cd.Decode(ctx, r.Value, &e); err != nil {
				// Anyone can produce to the events topic: a record dev
				// cannot read is shown for what it is, and the engine's
				// dead letter for it follows.
				fmt.Fprintf(c.stdout, "event  p%d@%-5d %-9s UNDECODABLE (%d bytes): %v\n", r.Partition, r.Offset, printableKey(r.Key), len(r.Value), err)
				read++
				continue
			}
			name := e.Name
			if name == "" {
				name = "(" + string(e.Type) + ")"
			}
			fmt.Fprintf(c.stdout, "event  p%d@%-5d %-9s %-28s %s\n", r.Partition, r.Offset, e.UserID, name, e.Properties)
			read++
		}
	}
	cancel()
	if err := <-produced; err != nil {
		return err
	}
	return c.awaitEngine(parent, cl, conn.Topic("events"))
}

// engineCatchUp bounds how long a dev run with --events waits for the
// engine to process the events it produced.
const engineCatchUp = 30 * time.Second

// awaitEngine waits until the engine has committed, in its group, every
// event on topic, so a run with --events stops only after the engine
// processed (and so traced and counted) all of them. If it does not
// within engineCatchUp, dev says so and stops anyway.
func (c *cli) awaitEngine(ctx context.Context, cl *kgo.Client, topic string) error {
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(ctx, engineCatchUp)
	defer cancel()
	for {
		ends, err := adm.ListEndOffsets(ctx, topic)
		if err == nil {
			var committed kadm.OffsetResponses
			if committed, err = adm.FetchOffsets(ctx, engine.DefaultGroup); err == nil {
				behind := false
				ends.Each(func(o kadm.ListedOffset) {
					if got, ok := committed.Lookup(topic, o.Partition); !ok || got.At < o.Offset {
						behind = behind || o.Offset > 0
					}
				})
				if !behind {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				fmt.Fprintf(c.stderr, "dev: the engine did not process every sample event within %s; stopping anyway\n", engineCatchUp)
			}
			return nil
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// produce writes records to their topics, keyed by Key, through the codec.
func produce(ctx context.Context, cl *kgo.Client, cd *codec.Codec, conn kafkaconn.Config, rs ...records.Record) error {
	batch := make([]*kgo.Record, 0, len(rs))
	for _, r := range rs {
		topic := conn.Topic(topicOf(r))
		v, err := cd.Encode(ctx, topic, r)
		if err != nil {
			return err
		}
		batch = append(batch, &kgo.Record{Topic: topic, Key: []byte(r.Key()), Value: v})
	}
	return cl.ProduceSync(ctx, batch...).FirstErr()
}

// topicOf names the topic a sample record belongs on.
func topicOf(r records.Record) string {
	switch r := r.(type) {
	case records.Event:
		return "events"
	case records.Profile:
		return "profiles"
	case records.Fact:
		return "facts." + r.Name
	case records.LookupRecord:
		return "lookups." + r.Table
	}
	panic(fmt.Sprintf("dev: no topic for %T", r))
}

// tailFromEnd returns a consumer of topic that starts at its current end, so
// exactly the events produced from now on are read back.
func tailFromEnd(ctx context.Context, conn kafkaconn.Config, names ...string) (*kgo.Client, error) {
	adm, err := conn.NewClient()
	if err != nil {
		return nil, err
	}
	defer adm.Close()
	ends, err := kadm.NewClient(adm).ListEndOffsets(ctx, names...)
	if err != nil {
		return nil, fmt.Errorf("end offsets of %v: %w", names, err)
	}
	start := map[string]map[int32]kgo.Offset{}
	ends.Each(func(o kadm.ListedOffset) {
		if start[o.Topic] == nil {
			start[o.Topic] = map[int32]kgo.Offset{}
		}
		start[o.Topic][o.Partition] = kgo.NewOffset().At(o.Offset)
	})
	return conn.NewClient(kgo.ConsumePartitions(start), kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxWait(200*time.Millisecond))
}
