// Command api is Beckon's HTTP API (package pkg/api): the journey control
// plane over the journeys topic, journey metrics, and each user's instance
// timelines (asked of the engines' timeline processors), behind bearer
// tokens with read and write roles, and the web console at / (pkg/console).
// It serves /healthz, /readyz and /metrics on its own address like
// every Beckon service. Run as many replicas as you like; they share
// nothing but Kafka.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beckon-dev/beckon/pkg/api"
	"github.com/beckon-dev/beckon/pkg/console"
	"github.com/beckon-dev/beckon/pkg/engine"
	"github.com/beckon-dev/beckon/pkg/health"
	"github.com/beckon-dev/beckon/pkg/journey"
	"github.com/beckon-dev/beckon/pkg/journeymetrics"
	"github.com/beckon-dev/beckon/pkg/kafkaconn"
	"github.com/beckon-dev/beckon/pkg/logging"
	"github.com/beckon-dev/beckon/pkg/metrics"
	"github.com/beckon-dev/beckon/pkg/settings"
	"github.com/beckon-dev/beckon/pkg/timeline"
	"github.com/beckon-dev/beckon/pkg/topics"
)

// apiSettings are the API's own flags; the connection and topic layout
// flags are kafkaconn's and topics'.
var apiSettings = []settings.Setting{
	{Flag: "addr", Env: "BECKON_API_ADDR", Default: ":8080", Usage: "address the API listens on"},
	{Flag: "tokens-file", Env: "BECKON_API_TOKENS_FILE", Usage: "file of accepted bearer tokens, one 'NAME ROLE SHA256-HEX' a line, ROLE read or write (required; mount it from a Secret)"},
	{Flag: "tokens-reload", Env: "BECKON_API_TOKENS_RELOAD", Default: "30s", Usage: "how often the tokens file is re-read, so rotated tokens apply without a restart (0: never)"},
	{Flag: "max-body", Env: "BECKON_API_MAX_BODY", Default: "1048576", Usage: "largest request body in bytes; larger ones get 413"},
	{Flag: "request-timeout", Env: "BECKON_API_REQUEST_TIMEOUT", Default: "30s", Usage: "time allowed to answer one request"},
	{Flag: "health-addr", Env: "BECKON_HEALTH_ADDR", Default: ":8081", Usage: "address of /healthz, /readyz and /metrics (empty: none)"},
	{Flag: "trace-url", Env: "BECKON_TRACE_URL", Usage: "the web console's link to an instance's trace, {traceId} standing for its ID, e.g. http://localhost:16686/trace/{traceId} (empty: no link)"},
	{Flag: "engine-group", Env: "BECKON_ENGINE_GROUP", Default: engine.DefaultGroup, Usage: "consumer group of the engines (their --group): the timeline routes ask the timeline processors of <group>-timelines"},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stderr, os.Getenv))
}

// errUsage marks invalid flag values, which exit 2 like unknown flags.
var errUsage = errors.New("usage")

func run(ctx context.Context, args []string, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("api", flag.ContinueOnError)
	fs.SetOutput(stderr)
	conn := kafkaconn.RegisterFlags(fs, getenv)
	layoutFlags := topics.RegisterFlags(fs, getenv)
	own := settings.Bind(fs, getenv, apiSettings)
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
		log.Error("api stopped", "err", err)
		if errors.Is(err, errUsage) {
			return 2
		}
		return 1
	}
	return 0
}

func serve(ctx context.Context, log *slog.Logger, conn *kafkaconn.Flags, layoutFlags *topics.Flags, own *settings.Values) error {
	opts, err := serverOptions(own)
	if err != nil {
		return err
	}
	opts.Logger = log
	cfg, err := conn.Config()
	if err != nil {
		return err
	}
	layout, err := layoutFlags.Options(cfg.TopicPrefix)
	if err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	kopts, err := cfg.ClientOpts()
	if err != nil {
		return err
	}
	cd, err := cfg.Codec()
	if err != nil {
		return err
	}
	reg, err := metrics.New()
	if err != nil {
		return err
	}
	defer reg.Shutdown(context.Background())
	opts.Meter = reg.Meter()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Headline counts and GET /v1/journeys/{id}/metrics come from the
	// journey metrics topic, which the engines' metrics processor writes;
	// until it is read, counts are reported as not available journey by
	// journey and the metrics route answers 503.
	declared, err := topics.Declare(layout)
	if err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	metricsTopic, err := journeymetrics.TopicOf(declared)
	if err != nil {
		return err
	}
	counts := journeymetrics.NewReader(log.With("component", "journey-metrics"))
	go func() {
		if err := counts.Follow(ctx, kopts, metricsTopic); err != nil {
			log.Error("journey counts unavailable", "topic", metricsTopic, "err", err)
		}
	}()
	// Timelines are asked of the timeline processor that owns the user's
	// partition, found in its group (docs/api-timelines.md).
	adm, err := kgo.NewClient(kopts...)
	if err != nil {
		return err
	}
	defer adm.Close()
	if own.String("engine-group") == "" {
		return fmt.Errorf("%w: --engine-group is empty", errUsage)
	}
	activity, _ := declared.Spec("activity")
	timelines, err := timeline.NewRouter(timeline.RouterConfig{
		Admin: kadm.NewClient(adm), Group: timeline.GroupBeside(own.String("engine-group")), Topic: activity.Name,
		Logger: log.With("component", "timelines"),
	})
	if err != nil {
		return err
	}
	s, err := api.Start(ctx, api.Config{
		Kafka: kopts, JourneysTopic: cfg.Topic("journeys"), Codec: cd,
		Channels:    append(slices.Clone(journey.DefaultChannels), layout.Channels...),
		Counts:      api.CountsFrom(counts.JourneyCounts),
		Metrics:     counts,
		Timelines:   timelines,
		ForgetTopic: cfg.Topic("forget"),
		Server:      opts,
	})
	if err != nil {
		return err
	}
	// Drafts run on past traffic, read-only (docs/simulation.md).
	(&api.Simulations{Kafka: kopts, Layout: declared, Codec: cd, Channels: append(slices.Clone(journey.DefaultChannels), layout.Channels...)}).Mount(s.Server)
	// The web console at /, calling the routes above with the user's token.
	if err := console.Mount(s, console.Options{TraceURL: own.String("trace-url")}); err != nil {
		return fmt.Errorf("%w: --trace-url: %w", errUsage, err)
	}
	if addr := own.String("health-addr"); addr != "" {
		if err := metrics.ObserveHealth(reg.Meter(), s); err != nil {
			return err
		}
		bound, err := health.Serve(ctx, log, addr, health.Handler(s, reg.Handler()))
		if err != nil {
			return err
		}
		log.Info("serving /healthz, /readyz and /metrics", "addr", bound.String())
	}
	if every, err := time.ParseDuration(own.String("tokens-reload")); err != nil || every < 0 {
		return fmt.Errorf("%w: --tokens-reload: %q is not a duration such as 30s", errUsage, own.String("tokens-reload"))
	} else if every > 0 {
		go s.WatchTokens(ctx, own.String("tokens-file"), every)
	}
	bound, done, err := s.Serve(ctx, own.String("addr"))
	if err != nil {
		return err
	}
	log.Info("serving the API", "addr", bound.String(), "tokens", len(opts.Tokens))
	return <-done
}

// serverOptions reads the server's flags and its tokens.
func serverOptions(own *settings.Values) (api.Options, error) {
	var o api.Options
	path := own.String("tokens-file")
	if path == "" {
		return o, fmt.Errorf("%w: --tokens-file is required: without tokens every request is refused", errUsage)
	}
	tokens, err := api.LoadTokens(path)
	if err != nil {
		return o, fmt.Errorf("%w: --tokens-file: %w", errUsage, err)
	}
	if len(tokens) == 0 {
		return o, fmt.Errorf("%w: --tokens-file %s holds no tokens", errUsage, path)
	}
	o.Tokens = tokens
	if o.MaxBodyBytes, err = own.Int("max-body", 63); err != nil || o.MaxBodyBytes < 1 {
		return o, fmt.Errorf("%w: --max-body: want a positive number of bytes", errUsage)
	}
	if o.RequestTimeout, err = time.ParseDuration(own.String("request-timeout")); err != nil || o.RequestTimeout <= 0 {
		return o, fmt.Errorf("%w: --request-timeout: %q is not a positive duration such as 30s", errUsage, own.String("request-timeout"))
	}
	return o, nil
}
