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
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/beckon-dev/beckon/pkg/codec"
	"github.com/beckon-dev/beckon/pkg/engine"
	"github.com/beckon-dev/beckon/pkg/kafkaconn"
	"github.com/beckon-dev/beckon/pkg/settings"
	"github.com/beckon-dev/beckon/pkg/telemetry"
	"github.com/beckon-dev/beckon/pkg/topics"
)

// engineSettings are the engine's own flags; the connection and topic
// layout flags are kafkaconn's and topics'.
var engineSettings = []settings.Setting{
	{Flag: "state-dir", Env: "BECKON_STATE_DIR", Default: "/var/lib/beckon", Usage: "where the partition stores live (a persistent volume)"},
	{Flag: "instance-id", Env: "BECKON_INSTANCE_ID", Usage: "stable name of this instance, e.g. the pod name (default: the host name)"},
	{Flag: "group", Env: "BECKON_ENGINE_GROUP", Default: "beckon-engine", Usage: "consumer group of the engines"},
	{Flag: "health-addr", Env: "BECKON_HEALTH_ADDR", Default: ":8081", Usage: "address of /healthz and /readyz (empty: none)"},
	{Flag: "max-payload-bytes", Env: "BECKON_MAX_PAYLOAD_BYTES", Default: "65536", Usage: "largest send payload; a larger one is not sent and an error activity says so"},
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
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
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
	tracing, stopTracing, err := telemetry.Setup(ctx, "beckon-engine", log)
	if err != nil {
		return err
	}
	defer stopTracing()
	e, err := engine.New(engine.Config{
		Kafka: kopts, Topics: layout, Codec: cd, StateDir: own.String("state-dir"), InstanceID: id,
		Group: own.String("group"), Logger: log, MaxPayloadBytes: int(maxPayload), Tracing: tracing,
	})
	if err != nil {
		return err
	}
	if addr := own.String("health-addr"); addr != "" {
		srv := &http.Server{Addr: addr, Handler: health(e), ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("health endpoint", "err", err)
			}
		}()
		defer srv.Close()
	}
	log.Info("engine starting", "instance", id, "topics_prefix", cfg.TopicPrefix, "partitions", opts.Partitions)
	return e.Run(ctx)
}

// probed is what the health endpoints ask: *engine.Engine.
type probed interface {
	Ready() bool
	Health() error
}

// health serves liveness and readiness: live while the engine can make
// progress (its runner runs, its loop turns, no restore keeps failing);
// ready once the journeys are loaded and every owned partition is
// restored.
func health(e probed) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if err := e.Health(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !e.Ready() {
			http.Error(w, "restoring", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	return mux
}
