// Command streambench measures the stream runtime (pkg/stream) side by side
// with its ceiling and with goka, on one broker in one run, and prints the
// figures as markdown tables:
//
//	go run ./bench/cmd/streambench                 # in-process kfake
//	go run ./pkg/kafkatest/cmd/withkafka -- go run ./bench/cmd/streambench
//
// The pipelines suite pre-produces -events events over -users users and
// times each pipeline (a plain franz-go pipe, the runtime's exactly-once
// counter, the goka counter and, on a real broker, the Kafka Streams
// counter of bench/peers/kstreams) until all its outputs are visible to a
// read_committed consumer, then measures produce-to-visible latency with a
// paced producer at half the runtime's rate. The state suite restores a
// changelog of -keys keys, processes events against that state, and fires
// -timers timers due over -spread. Every pipeline runs as a child process
// (this binary re-executed, or the goka binary built from its own module in
// bench/peers/goka), so each peak RSS is that process's own.
//
// The broker is -brokers, else BECKON_TEST_BROKERS, else a kfake cluster
// started in this process.
//
// Two environment variables help explain a runtime child's figures:
// STREAMBENCH_KGO_LOG=path writes franz-go's debug log of each runtime
// child to path.<group>, and STREAMBENCH_METADATA_MIN_AGE=250ms runs the
// runtime children with that kgo.MetadataMinAge instead of franz-go's 5s
// default. -profile dir writes CPU and heap profiles of the pipe and
// runtime children.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/beckon-dev/beckon/pkg/kafkatest"
)

var logger = log.New(os.Stderr, "streambench: ", log.Ltime)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "child" {
		os.Exit(childMain(os.Args[2:]))
	}
	os.Exit(run(os.Args[1:]))
}

// config is the command line.
type config struct {
	brokers    []string
	suites     map[string]bool
	pipelines  []string
	events     int
	rounds     int
	users      int
	partitions int
	latency    time.Duration
	warmup     time.Duration
	rate       float64
	keys       int
	keyEvents  int
	timers     int
	spread     time.Duration
	gokaDir    string
	gokaFlush  time.Duration
	ksDir      string
	ksThreads  int
	workDir    string
	mdPath     string
	profileDir string
}

func run(args []string) int {
	fs := flag.NewFlagSet("streambench", flag.ContinueOnError)
	brokers := fs.String("brokers", os.Getenv(kafkatest.EnvBrokers), "seed brokers (default $"+kafkatest.EnvBrokers+", else kfake in this process)")
	suite := fs.String("suite", "all", "what to run: all, pipelines or state")
	pipelines := fs.String("pipelines", "", "pipelines of the pipelines suite (default pipe,stream,goka, and kstreams on a real broker)")
	c := config{}
	fs.IntVar(&c.events, "events", 200_000, "events pre-produced for the throughput runs")
	fs.IntVar(&c.rounds, "rounds", 3, "throughput rounds per pipeline; the median is reported")
	fs.IntVar(&c.users, "users", 10_000, "distinct user keys of the pipelines suite")
	fs.IntVar(&c.partitions, "partitions", 6, "partitions of every topic")
	fs.DurationVar(&c.latency, "latency", 20*time.Second, "how long the paced producer runs per pipeline")
	fs.DurationVar(&c.warmup, "warmup", 2*time.Second, "latency samples of events sent in this first part of the paced run are left out")
	fs.Float64Var(&c.rate, "rate", 0, "paced rate in events/s (0: half the runtime's measured throughput)")
	fs.IntVar(&c.keys, "keys", 1_000_000, "keys in the changelog of the restore run (0: no restore run)")
	fs.IntVar(&c.keyEvents, "key-events", 100_000, "events processed against the restored keys")
	fs.IntVar(&c.timers, "timers", 1_000_000, "timers of the timer run (0: no timer run)")
	fs.DurationVar(&c.spread, "spread", 60*time.Second, "the timers' due times are spread uniformly over this")
	fs.StringVar(&c.gokaDir, "goka", "", "directory of the goka module (default: found from the working directory)")
	fs.DurationVar(&c.gokaFlush, "goka-flush", 10*time.Millisecond, "goka producer flush frequency (goka's own default is 100ms; 10ms is franz-go's default linger)")
	fs.StringVar(&c.ksDir, "kstreams", "", "directory of the Kafka Streams peer's Maven project (default: found from the working directory)")
	fs.IntVar(&c.ksThreads, "kstreams-threads", 2, "Kafka Streams num.stream.threads (2: one per core of the benchmark machine)")
	fs.StringVar(&c.workDir, "workdir", "", "directory for state and binaries (default: a temporary one, removed afterwards)")
	fs.StringVar(&c.mdPath, "md", "", "also write the markdown report to this file")
	fs.StringVar(&c.profileDir, "profile", "", "write CPU and heap profiles of the pipe and runtime children into this directory")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	c.rounds = max(c.rounds, 1)
	c.suites = map[string]bool{}
	switch *suite {
	case "all":
		c.suites["pipelines"], c.suites["state"] = true, true
	case "pipelines", "state":
		c.suites[*suite] = true
	default:
		fmt.Fprintf(os.Stderr, "streambench: -suite %q: want all, pipelines or state\n", *suite)
		return 2
	}
	if *pipelines == "" {
		*pipelines = "pipe,stream,goka"
		if *brokers != "" {
			*pipelines += ",kstreams"
		}
	}
	for _, p := range strings.Split(*pipelines, ",") {
		switch p = strings.TrimSpace(p); p {
		case "pipe", "stream", "goka", "kstreams":
			c.pipelines = append(c.pipelines, p)
		case "":
		default:
			fmt.Fprintf(os.Stderr, "streambench: -pipelines: unknown %q\n", p)
			return 2
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if c.workDir == "" {
		d, err := os.MkdirTemp("", "streambench-")
		if err != nil {
			logger.Print(err)
			return 1
		}
		defer os.RemoveAll(d)
		c.workDir = d
	}
	broker := "Apache Kafka at " + *brokers
	if *brokers == "" {
		cl, err := kfake.NewCluster(
			kfake.NumBrokers(1),
			kfake.DefaultNumPartitions(c.partitions),
			kfake.BrokerConfigs(map[string]string{
				"default.replication.factor":           "1",
				"min.insync.replicas":                  "1",
				"group.consumer.heartbeat.interval.ms": "500",
				"group.consumer.session.timeout.ms":    "10000",
			}),
		)
		if err != nil {
			logger.Printf("start kfake: %v", err)
			return 1
		}
		defer cl.Close()
		c.brokers = cl.ListenAddrs()
		broker = "kfake (in the streambench process) at " + strings.Join(c.brokers, ",")
	} else {
		c.brokers = strings.Split(*brokers, ",")
	}
	logger.Printf("broker: %s", broker)

	b, err := newBench(c, broker)
	if err != nil {
		logger.Print(err)
		return 1
	}
	defer b.close()
	err = b.run(ctx)
	report := b.report()
	fmt.Print(report)
	if c.mdPath != "" {
		if werr := os.WriteFile(c.mdPath, []byte(report), 0o644); werr != nil {
			err = errors.Join(err, werr)
		}
	}
	if err != nil {
		logger.Print(err)
		return 1
	}
	return 0
}

// findGoka looks for the goka module from the working directory up.
func findGoka() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		cand := filepath.Join(dir, "bench", "peers", "goka")
		if _, err := os.Stat(filepath.Join(cand, "go.mod")); err == nil {
			return cand, nil
		}
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil && filepath.Base(dir) == "goka" {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("goka module not found from the working directory; run from the repository or pass -goka")
		}
		dir = parent
	}
}

// buildGoka builds the goka binary from its own module.
func buildGoka(dir, out string) error {
	cmd := exec.Command("go", "build", "-mod=readonly", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build goka bench in %s: %w", dir, err)
	}
	return nil
}
