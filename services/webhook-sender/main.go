// Command webhook-sender is Beckon's reference channel adapter: it consumes
// the send.webhook topic, POSTs each command as signed JSON to one URL, and
// reports delivered and failed receipts (package pkg/webhook). Run up to as
// many instances as send.webhook has partitions, in one consumer group.
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
	"syscall"
	"time"

	"github.com/beckon-dev/beckon/pkg/codec"
	"github.com/beckon-dev/beckon/pkg/health"
	"github.com/beckon-dev/beckon/pkg/kafkaconn"
	"github.com/beckon-dev/beckon/pkg/logging"
	"github.com/beckon-dev/beckon/pkg/metrics"
	"github.com/beckon-dev/beckon/pkg/settings"
	"github.com/beckon-dev/beckon/pkg/telemetry"
	"github.com/beckon-dev/beckon/pkg/webhook"
)

// senderSettings are the sender's own flags; the connection flags (topic
// prefix included) are kafkaconn's.
var senderSettings = []settings.Setting{
	{Flag: "url", Env: "BECKON_WEBHOOK_URL", Usage: "endpoint every webhook command is POSTed to (required)"},
	{Flag: "secret", Env: "BECKON_WEBHOOK_SECRET", Usage: "key of the X-Beckon-Signature HMAC-SHA256 (prefer the environment variable: flags show in process lists)"},
	{Flag: "timeout", Env: "BECKON_WEBHOOK_TIMEOUT", Default: "10s", Usage: "time allowed for one attempt"},
	{Flag: "retry-base", Env: "BECKON_WEBHOOK_RETRY_BASE", Default: "200ms", Usage: "first retry's backoff ceiling; doubles per retry (full jitter)"},
	{Flag: "retry-max", Env: "BECKON_WEBHOOK_RETRY_MAX", Default: "30s", Usage: "cap of the backoff between retries"},
	{Flag: "group", Env: "BECKON_WEBHOOK_GROUP", Default: "beckon-webhook-sender", Usage: "consumer group of the webhook senders"},
	{Flag: "concurrency", Env: "BECKON_WEBHOOK_CONCURRENCY", Default: "16", Usage: "requests in flight at most, across partitions"},
	{Flag: "health-addr", Env: "BECKON_HEALTH_ADDR", Default: ":8081", Usage: "address of /healthz, /readyz and /metrics (empty: none)"},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stderr, os.Getenv))
}

// errUsage marks invalid flag values, which exit 2 like unknown flags.
var errUsage = errors.New("usage")

func run(ctx context.Context, args []string, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("webhook-sender", flag.ContinueOnError)
	fs.SetOutput(stderr)
	conn := kafkaconn.RegisterFlags(fs, getenv)
	own := settings.Bind(fs, getenv, senderSettings)
	logFlags := settings.Bind(fs, getenv, logging.Settings)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log, err := logging.FromSettings(stderr, logFlags)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if err := serve(ctx, log, conn, own); err != nil {
		log.Error("webhook sender stopped", "err", err)
		if errors.Is(err, errUsage) {
			return 2
		}
		return 1
	}
	return 0
}

func serve(ctx context.Context, log *slog.Logger, conn *kafkaconn.Flags, own *settings.Values) error {
	cfg, err := conn.Config()
	if err != nil {
		return err
	}
	wc, err := senderConfig(own)
	if err != nil {
		return err
	}
	if len(wc.Secret) == 0 {
		log.Warn("no --secret: requests are signed with an empty key, which proves nothing to the endpoint")
	}
	if wc.Kafka, err = cfg.ClientOpts(); err != nil {
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
	if wc.Codec, err = codec.New(codecOpts...); err != nil {
		return err
	}
	wc.Commands, wc.Receipts, wc.DeadLetter = cfg.Topic("send.webhook"), cfg.Topic("receipts"), cfg.Topic("dlq")
	wc.Logger = log
	reg, err := metrics.New()
	if err != nil {
		return err
	}
	defer reg.Shutdown(context.Background())
	if wc.Metrics, err = metrics.NewWebhook(reg.Meter()); err != nil {
		return err
	}
	var stopTracing func()
	if wc.Tracing, stopTracing, err = telemetry.Setup(ctx, "beckon-webhook-sender", log); err != nil {
		return err
	}
	defer stopTracing()
	s, err := webhook.New(wc)
	if err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
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
	return s.Run(ctx)
}

// senderConfig reads the sender's own flags.
func senderConfig(own *settings.Values) (webhook.Config, error) {
	c := webhook.Config{URL: own.String("url"), Secret: []byte(own.Secret("secret")), Group: own.String("group")}
	if c.URL == "" {
		return c, fmt.Errorf("%w: --url is required", errUsage)
	}
	for _, d := range []struct {
		flag string
		into *time.Duration
	}{{"timeout", &c.Timeout}, {"retry-base", &c.Retry.Base}, {"retry-max", &c.Retry.Max}} {
		v, err := time.ParseDuration(own.String(d.flag))
		if err != nil || v <= 0 {
			return c, fmt.Errorf("%w: --%s: %q is not a positive duration such as 250ms or 10s", errUsage, d.flag, own.String(d.flag))
		}
		*d.into = v
	}
	n, err := own.Int("concurrency", 32)
	if err != nil || n < 1 {
		return c, fmt.Errorf("%w: --concurrency: want a whole number of at least 1", errUsage)
	}
	c.Concurrency = int(n)
	return c, nil
}
