// Command engine runs Beckon's journey engine: one instance of the
// horizontally scaled consumer group that moves every user's journeys.
// Run as many as there are partitions at most; each needs a volume for its
// Pebble stores and a stable instance ID (a StatefulSet pod name).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/beckon-dev/beckon/pkg/codec"
	"github.com/beckon-dev/beckon/pkg/engine"
	"github.com/beckon-dev/beckon/pkg/health"
	"github.com/beckon-dev/beckon/pkg/journeymetrics"
	"github.com/beckon-dev/beckon/pkg/kafkaconn"
	"github.com/beckon-dev/beckon/pkg/logging"
	"github.com/beckon-dev/beckon/pkg/metrics"
	"github.com/beckon-dev/beckon/pkg/settings"
	"github.com/beckon-dev/beckon/pkg/stream"
	"github.com/beckon-dev/beckon/pkg/telemetry"
	"github.com/beckon-dev/beckon/pkg/timeline"
	"github.com/beckon-dev/beckon/pkg/topics"
	"github.com/twmb/franz-go/pkg/kgo"
)

// engineSettings are the engine's own flags; the connection and topic
// layout flags are kafkaconn's and topics'.
var engineSettings = []settings.Setting{
	{Flag: "state-dir", Env: "BECKON_STATE_DIR", Default: "/var/lib/beckon", Usage: "where the partition stores live (a persistent volume)"},
	{Flag: "instance-id", Env: "BECKON_INSTANCE_ID", Usage: "stable name of this instance, e.g. the pod name (default: the host name)"},
	{Flag: "group", Env: "BECKON_ENGINE_GROUP", Default: engine.DefaultGroup, Usage: "consumer group of the engines"},
	{Flag: "health-addr", Env: "BECKON_HEALTH_ADDR", Default: ":8081", Usage: "address of /healthz, /readyz and /metrics (empty: none)"},
	{Flag: "memory-limit", Env: "BECKON_MEMORY_LIMIT", Default: "auto", Usage: "soft limit of the Go heap: auto (GOMEMLIMIT, else the container's memory limit less 256 MiB, else 256 MiB), off, or a size such as 384MiB"},
	{Flag: "session-timeout", Env: "BECKON_SESSION_TIMEOUT", Default: "45s", Usage: "group session timeout: how long a crashed instance keeps its partitions before the others take them over (the broker's group.min.session.timeout.ms, 6s by default, is the floor)"},
	{Flag: "transaction-timeout", Env: "BECKON_TRANSACTION_TIMEOUT", Default: "10s", Usage: "how long a crashed instance's open transaction can hold up its partitions' readers before the broker aborts it"},
	{Flag: "journey-metrics", Env: "BECKON_JOURNEY_METRICS", Default: "true", Usage: "also run the journey metrics processor: its own consumer group, <group>-metrics, spread over the engine instances"},
	{Flag: "max-payload-bytes", Env: "BECKON_MAX_PAYLOAD_BYTES", Default: "65536", Usage: "largest send payload; a larger one is not sent and an error activity says so"},
	{Flag: "timelines", Env: "BECKON_TIMELINES", Default: "true", Usage: "also run the timeline processor: its own consumer group, <group>-timelines, fed by the activity, receipts and send topics, spread over the engine instances and answering timeline queries on --query-addr"},
	{Flag: "query-addr", Env: "BECKON_QUERY_ADDR", Default: ":8090", Usage: "address of the internal timeline query endpoint the api service routes to (docs/api-timelines.md; empty: none)"},
	{Flag: "advertised-query-addr", Env: "BECKON_ADVERTISED_QUERY_ADDR", Usage: "host:port at which the other services reach --query-addr, advertised in the timeline group (default: the host name and the --query-addr port; in Kubernetes the pod IP)"},
	{Flag: "timeline-max-entries", Env: "BECKON_TIMELINE_MAX_ENTRIES", Default: "200", Usage: "timeline entries kept per journey instance"},
	{Flag: "timeline-max-instances", Env: "BECKON_TIMELINE_MAX_INSTANCES", Default: "50", Usage: "instance timelines kept per user"},
	{Flag: "timeline-retention", Env: "BECKON_TIMELINE_RETENTION", Default: "720h", Usage: "how long an ended instance's timeline is kept after its last entry"},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stderr, os.Getenv))
}

func run(ctx context.Context, args []string, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("engine", flag.ContinueOnError)
	fs.SetOutput(stderr)
	conn := kafkaconn.RegisterFlags(fs, getenv)
	layoutFlags := topics.RegisterFlags(fs, getenv)
	own := settings.Bind(fs, getenv, engineSettings)
	logFlags := settings.Bind(fs, getenv, logging.Settings)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log, err := logging.FromSettings(stderr, logFlags)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if err := serve(ctx, log, conn, layoutFlags, own); err != nil {
		log.Error("engine stopped", "err", err)
		return 1
	}
	return 0
}

func serve(ctx context.Context, log *slog.Logger, conn *kafkaconn.Flags, layoutFlags *topics.Flags, own *settings.Values) error {
	cfg, err := conn.Config()
	if err != nil {
		return err
	}
	opts, err := layoutFlags.Options(cfg.TopicPrefix)
	if err != nil {
		return err
	}
	layout, err := topics.Declare(opts)
	if err != nil {
		return err
	}
	kopts, err := cfg.ClientOpts()
	if err != nil {
		return err
	}
	var codecOpts []codec.Option
	if cfg.SchemaRegistry.URL != "" {
		reg, err := cfg.Registry()
		if err != nil {
			return err
		}
		codecOpts = append(codecOpts, codec.WithRegistry(reg))
	}
	cd, err := codec.New(codecOpts...)
	if err != nil {
		return err
	}
	limit, source, err := engine.MemoryLimit(own.String("memory-limit"))
	if err != nil {
		return fmt.Errorf("--memory-limit: %w", err)
	}
	log.Info("memory limit", "bytes", limit, "from", source)
	id := own.String("instance-id")
	if id == "" {
		if id, err = os.Hostname(); err != nil {
			return fmt.Errorf("--instance-id not set and no host name: %w", err)
		}
	}
	maxPayload, err := own.Int("max-payload-bytes", 32)
	if err != nil {
		return err
	}
	session, err := duration(own, "session-timeout")
	if err != nil {
		return err
	}
	txnTimeout, err := duration(own, "transaction-timeout")
	if err != nil {
		return err
	}
	// Heartbeats well inside the session, so only a dead process is
	// evicted.
	kopts = append(kopts, kgo.SessionTimeout(session), kgo.HeartbeatInterval(min(3*time.Second, session/3)))
	reg, err := metrics.New()
	if err != nil {
		return err
	}
	defer reg.Shutdown(context.Background())
	streamMetrics, journeyMetrics, err := metrics.ForEngine(reg)
	if err != nil {
		return err
	}
	tl, err := timelineConfig(own)
	if err != nil {
		return err
	}
	timelines, err := own.Bool("timelines")
	if err != nil {
		return err
	}
	var queries net.Listener
	advertised := own.String("advertised-query-addr")
	if addr := own.String("query-addr"); addr != "" && timelines {
		if queries, err = net.Listen("tcp", addr); err != nil {
			return fmt.Errorf("--query-addr: %w", err)
		}
		defer queries.Close()
		if advertised == "" {
			host, err := os.Hostname()
			if err != nil {
				return fmt.Errorf("--advertised-query-addr not set and no host name: %w", err)
			}
			advertised = net.JoinHostPort(host, strconv.Itoa(queries.Addr().(*net.TCPAddr).Port))
		}
	} else {
		advertised = "" // no endpoint: nothing to advertise
	}
	tracing, stopTracing, err := telemetry.Setup(ctx, "beckon-engine", log)
	if err != nil {
		return err
	}
	defer stopTracing()
	e, err := engine.New(engine.Config{
		Kafka: kopts, Topics: layout, Codec: cd, StateDir: own.String("state-dir"), InstanceID: id,
		Group: own.String("group"), Logger: log, MaxPayloadBytes: int(maxPayload),
		Stream: stream.Options{TransactionTimeout: txnTimeout, Metrics: streamMetrics}, Metrics: journeyMetrics, Tracing: tracing,
	})
	if err != nil {
		return err
	}
	streamMetrics.ReportOwned(e.OwnedPartitions)
	// The processors beside the engine are part of its readiness and
	// liveness: an instance whose timelines or metrics cannot restore is
	// not ready.
	var beside []health.Probed
	run := e.Run
	if on, err := own.Bool("journey-metrics"); err != nil {
		return err
	} else if on {
		jm, err := journeymetrics.New(journeymetrics.Config{Topics: layout, Codec: cd, Group: own.String("group") + "-metrics"})
		if err != nil {
			return err
		}
		so := stream.Options{Kafka: kopts, StateDir: own.String("state-dir"), InstanceID: id, TransactionTimeout: txnTimeout, Logger: log.With("component", "journey-metrics")}
		if run, err = jm.Alongside(so, run); err != nil {
			return err
		}
		beside = append(beside, health.Named("journey metrics", jm))
	}
	if timelines {
		tp, err := timeline.New(timeline.Config{Topics: layout, Codec: cd, Group: timeline.GroupBeside(own.String("group")), Retention: tl, QueryAddr: advertised,
			Logger: log.With("component", "timelines")})
		if err != nil {
			return err
		}
		so := stream.Options{Kafka: kopts, StateDir: own.String("state-dir"), InstanceID: id, TransactionTimeout: txnTimeout, Logger: log.With("component", "timelines")}
		if run, err = tp.Alongside(so, run); err != nil {
			return err
		}
		beside = append(beside, health.Named("timelines", tp))
		if queries != nil {
			// Internal: no authentication; the api service routes to it.
			srv := &http.Server{Handler: tp.QueryHandler(), ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 30 * time.Second}
			go func() {
				if err := srv.Serve(queries); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
					log.Error("timeline query endpoint", "err", err)
				}
			}()
			defer srv.Close()
			log.Info("serving timeline queries", "addr", queries.Addr().String(), "advertised", advertised)
		}
	}
	probed := health.All(health.Named("engine", e), beside...)
	if err := metrics.ObserveHealth(reg.Meter(), probed); err != nil {
		return err
	}
	if addr := own.String("health-addr"); addr != "" {
		bound, err := health.Serve(ctx, log, addr, health.Handler(probed, reg.Handler()))
		if err != nil {
			return err
		}
		log.Info("serving /healthz, /readyz and /metrics", "addr", bound.String())
	}
	log.Info("engine starting", "instance", id, "topics_prefix", cfg.TopicPrefix, "partitions", opts.Partitions)
	return run(ctx)
}

// timelineConfig reads the timeline retention settings.
func timelineConfig(own *settings.Values) (timeline.Retention, error) {
	entries, err := own.Int("timeline-max-entries", 32)
	if err != nil {
		return timeline.Retention{}, err
	}
	instances, err := own.Int("timeline-max-instances", 32)
	if err != nil {
		return timeline.Retention{}, err
	}
	age, err := duration(own, "timeline-retention")
	if err != nil {
		return timeline.Retention{}, err
	}
	if entries <= 0 || instances <= 0 {
		return timeline.Retention{}, errors.New("--timeline-max-entries and --timeline-max-instances must be positive")
	}
	return timeline.Retention{MaxEntries: int(entries), MaxInstances: int(instances), MaxAge: age}, nil
}

// duration parses a positive duration setting.
func duration(own *settings.Values, name string) (time.Duration, error) {
	d, err := time.ParseDuration(own.String(name))
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("--%s: %q is not a positive duration such as 10s", name, own.String(name))
	}
	return d, nil
}
