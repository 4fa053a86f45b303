package kafkatest

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
)

// SASLBrokers starts an in-process kfake cluster that requires SASL PLAIN
// with user and password, closed when t ends. Tests of what a service does
// with its credentials (that no log shows the password) use it whatever
// BECKON_TEST_BROKERS says: the real broker of withkafka has no SASL.
func SASLBrokers(t testing.TB, user, password string) []string {
	t.Helper()
	c, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(DefaultPartitions),
		kfake.EnableSASL(),
		kfake.Superuser("PLAIN", user, password),
		kfake.BrokerConfigs(map[string]string{"default.replication.factor": "1", "min.insync.replicas": "1"}),
	)
	if err != nil {
		t.Fatalf("kafkatest: start kfake cluster with SASL: %v", err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}
