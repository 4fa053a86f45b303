package embedded

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/twmb/franz-go/pkg/kfake"
)

// DefaultPort is the port the embedded broker listens on unless told
// otherwise: Kafka's own default, so tools pointed at localhost find it.
const DefaultPort = 9092

// Options configures the embedded Kafka.
type Options struct {
	// DataDir holds the broker's topics, records, groups and transactions
	// across restarts. Empty keeps everything in memory.
	DataDir string
	// Port on 127.0.0.1; 0 picks a free port (`beckon dev` uses DefaultPort).
	Port int
	// Logger receives the broker's warnings and errors. Default: discard.
	Logger *slog.Logger
}

// Kafka is a running embedded broker.
type Kafka struct {
	cluster *kfake.Cluster
	dataDir string
}

// Start starts the broker and returns once it accepts connections.
func Start(opts Options) (*Kafka, error) {
	kopts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(opts.Port),
		kfake.ClusterID("beckon-dev"),
		// One broker: internal topics cannot have more replicas.
		kfake.BrokerConfigs(map[string]string{
			"default.replication.factor": "1",
			"min.insync.replicas":        "1",
		}),
	}
	if opts.Logger != nil {
		kopts = append(kopts, kfake.WithLogger(slogLogger{opts.Logger}))
	}
	if opts.DataDir != "" {
		if err := os.MkdirAll(opts.DataDir, 0o755); err != nil {
			return nil, fmt.Errorf("embedded kafka data dir: %w", err)
		}
		kopts = append(kopts, kfake.DataDir(opts.DataDir))
	}
	c, err := kfake.NewCluster(kopts...)
	if err != nil {
		if strings.Contains(err.Error(), "address already in use") {
			return nil, fmt.Errorf("embedded kafka: port %d is taken (another `beckon dev` or a Kafka broker?); choose another with --port: %w", opts.Port, err)
		}
		return nil, fmt.Errorf("embedded kafka: %w", err)
	}
	return &Kafka{cluster: c, dataDir: opts.DataDir}, nil
}

// Brokers returns the broker address, host:port on 127.0.0.1.
func (k *Kafka) Brokers() []string { return k.cluster.ListenAddrs() }

// DataDir returns where the broker persists its state ("" if in memory).
func (k *Kafka) DataDir() string { return k.dataDir }

// Close stops the broker, flushing its state to the data directory.
func (k *Kafka) Close() { k.cluster.Close() }

// slogLogger adapts slog to kfake's logger. kfake logs every request at
// info and debug level; only warnings and errors are worth a developer's
// attention.
type slogLogger struct{ l *slog.Logger }

func (s slogLogger) Logf(level kfake.LogLevel, msg string, args ...any) {
	var l slog.Level
	switch level {
	case kfake.LogLevelError:
		l = slog.LevelError
	case kfake.LogLevelWarn:
		l = slog.LevelWarn
	default:
		return
	}
	s.l.Log(context.Background(), l, "embedded kafka: "+fmt.Sprintf(msg, args...))
}
