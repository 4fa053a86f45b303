package kafkatest

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Client returns a franz-go client seeded with brokers and configured by
// opts, closed when t ends.
func Client(t testing.TB, brokers []string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, opts...)...)
	if err != nil {
		t.Fatalf("kafkatest: new client: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}
