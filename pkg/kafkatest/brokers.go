package kafkatest

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// EnvBrokers names the environment variable holding a real cluster's
// comma-separated seed brokers. When it is set, tests run against that
// cluster instead of kfake.
const EnvBrokers = "BECKON_TEST_BROKERS"

// DefaultPartitions is the partition count of topics created without one
// (auto-created or CreateTopics with -1), on kfake and on the broker
// realkafka starts alike.
const DefaultPartitions = 3

// reachTimeout bounds the check that the brokers in EnvBrokers answer.
// A variable so the package's own test of that failure stays short.
var reachTimeout = 15 * time.Second

// Real reports whether tests run against a real Kafka cluster (EnvBrokers
// is set) rather than kfake.
func Real() bool { return len(envBrokers()) > 0 }

// Brokers returns seed brokers for t. With EnvBrokers set it returns those,
// failing t (not skipping it) if they do not answer: a configured cluster
// that is down is a broken test run. Otherwise it starts a one-broker kfake
// cluster that is closed when t ends; each call starts a new one.
func Brokers(t testing.TB) []string {
	t.Helper()
	if seeds := envBrokers(); len(seeds) > 0 {
		if err := ping(seeds); err != nil {
			t.Fatalf("kafkatest: %s=%s does not answer within %v: %v", EnvBrokers, strings.Join(seeds, ","), reachTimeout, err)
		}
		return seeds
	}
	c, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(DefaultPartitions),
		// The same settings realkafka gives the real broker: one replica,
		// and KIP-848 groups that reconcile and notice a vanished member
		// quickly.
		kfake.BrokerConfigs(map[string]string{
			"default.replication.factor":           "1",
			"min.insync.replicas":                  "1",
			"group.consumer.heartbeat.interval.ms": "500",
			"group.consumer.session.timeout.ms":    "10000",
		}),
	)
	if err != nil {
		t.Fatalf("kafkatest: start kfake cluster: %v", err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

// envBrokers parses EnvBrokers, dropping empty entries.
func envBrokers() []string {
	var seeds []string
	for _, s := range strings.Split(os.Getenv(EnvBrokers), ",") {
		if s = strings.TrimSpace(s); s != "" {
			seeds = append(seeds, s)
		}
	}
	return seeds
}

// ping checks that the seeds answer a metadata request within reachTimeout.
func ping(seeds []string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), reachTimeout)
	defer cancel()
	return cl.Ping(ctx)
}
