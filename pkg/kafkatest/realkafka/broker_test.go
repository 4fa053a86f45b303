package realkafka_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beckon-dev/beckon/pkg/kafkatest"
	"github.com/beckon-dev/beckon/pkg/kafkatest/realkafka"
)

// TestBrokerRoundTrip starts a real broker, uses it as tests will, and
// stops it. It needs java (and mvn on a cold cache) and takes a while, so
// it runs only when asked (BECKON_REALKAFKA_TEST=1) or in CI, where a
// broker that cannot start fails it.
func TestBrokerRoundTrip(t *testing.T) {
	if os.Getenv("BECKON_REALKAFKA_TEST") != "1" && os.Getenv("CI") != "true" {
		t.Skip("starts a real Kafka broker; set BECKON_REALKAFKA_TEST=1 to run it (CI=true always does)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	began := time.Now()
	b, err := realkafka.Start(ctx, realkafka.Options{})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Logf("Kafka %s answering at %s after %v", realkafka.Version, b.Addr(), time.Since(began).Round(time.Millisecond))
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			b.Stop()
		}
	})
	brokers := []string{b.Addr()}

	// An auto-created topic gets the partition count kafkatest promises.
	prefix := kafkatest.Prefix(t)
	auto := prefix + "auto"
	if err := kafkatest.Client(t, brokers, kgo.AllowAutoTopicCreation()).ProduceSync(ctx, &kgo.Record{Topic: auto, Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatalf("produce to auto-created topic: %v", err)
	}
	md, err := kadm.NewClient(kafkatest.Client(t, brokers)).Metadata(ctx, auto)
	if err != nil {
		t.Fatalf("metadata: %v", err)
	}
	if n := len(md.Topics[auto].Partitions); n != kafkatest.DefaultPartitions {
		t.Errorf("auto-created topic has %d partitions, want kafkatest.DefaultPartitions = %d", n, kafkatest.DefaultPartitions)
	}

	// Transactions work with one broker (the transaction log has one
	// replica) and read_committed hides an aborted one.
	topic := prefix + "sends"
	kafkatest.CreateTopics(t, brokers, 1, topic)
	producer := kafkatest.Client(t, brokers, kgo.TransactionalID(prefix+"txn"), kgo.DefaultProduceTopic(topic))
	for _, txn := range []struct {
		value string
		end   kgo.TransactionEndTry
	}{{"aborted", kgo.TryAbort}, {"committed", kgo.TryCommit}} {
		if err := producer.BeginTransaction(); err != nil {
			t.Fatalf("begin transaction: %v", err)
		}
		if err := producer.ProduceSync(ctx, kgo.StringRecord(txn.value)).FirstErr(); err != nil {
			t.Fatalf("produce %q: %v", txn.value, err)
		}
		if err := producer.EndTransaction(ctx, txn.end); err != nil {
			t.Fatalf("end transaction of %q: %v", txn.value, err)
		}
	}
	consumer := kafkatest.Client(t, brokers, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	var got []string
	for !slices.Contains(got, "committed") {
		fs := consumer.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("poll (got %q so far): %v", got, err)
		}
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	if !slices.Equal(got, []string{"committed"}) {
		t.Errorf("read_committed consumed %q, want only %q", got, "committed")
	}

	// Stop shuts the broker down and leaves nothing listening.
	began = time.Now()
	stopped = true
	if err := b.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	t.Logf("stopped after %v", time.Since(began).Round(time.Millisecond))
	if conn, err := net.DialTimeout("tcp", b.Addr(), time.Second); err == nil {
		conn.Close()
		t.Errorf("%s still accepts connections after Stop", b.Addr())
	}
}

func TestStartWithoutJava(t *testing.T) {
	t.Setenv("JAVA_HOME", "")
	t.Setenv("PATH", t.TempDir())
	_, err := realkafka.Start(context.Background(), realkafka.Options{CacheDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "java is not on PATH") {
		t.Fatalf("Start without java: err = %v, want one saying java is missing", err)
	}
}

// With an empty cache Maven is needed; its absence is named, not hidden
// behind an exec error.
func TestStartWithoutMaven(t *testing.T) {
	home := os.Getenv("JAVA_HOME")
	if home == "" {
		java, err := exec.LookPath("java")
		if err != nil {
			t.Skip("needs java to get as far as looking for Maven")
		}
		if java, err = filepath.EvalSymlinks(java); err != nil {
			t.Fatal(err)
		}
		home = filepath.Dir(filepath.Dir(java))
	}
	t.Setenv("JAVA_HOME", home)
	t.Setenv("PATH", t.TempDir())
	_, err := realkafka.Start(context.Background(), realkafka.Options{CacheDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "mvn is not on PATH") {
		t.Fatalf("Start with an empty cache and no mvn: err = %v, want one saying mvn is missing", err)
	}
}
