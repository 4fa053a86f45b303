package kafkatest

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// topicTimeout bounds creating topics and seeing them in metadata.
const topicTimeout = 30 * time.Second

// CreateTopics creates topics with the given partition count (-1 for the
// cluster's default, DefaultPartitions on kfake and realkafka's broker) and
// the cluster's default replication factor, and returns once metadata shows
// them, so the test can produce at once. Any failure, including one reported
// for a single topic, fails t.
func CreateTopics(t testing.TB, brokers []string, partitions int32, topics ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), topicTimeout)
	defer cancel()
	// kadm answers metadata from the client's cache, which keeps "unknown
	// topic" for MetadataMinAge (5s by default); a short age makes the
	// wait below see the new topics as soon as the brokers do.
	adm := kadm.NewClient(Client(t, brokers, kgo.MetadataMinAge(50*time.Millisecond)))
	resp, err := adm.CreateTopics(ctx, partitions, -1, nil, topics...)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("kafkatest: create topics %v: %v", topics, err)
	}
	for {
		md, err := adm.Metadata(ctx, topics...)
		if err == nil {
			err = md.Topics.Error()
		}
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("kafkatest: topics %v created but not in metadata after %v: %v", topics, topicTimeout, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
