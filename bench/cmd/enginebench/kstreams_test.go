package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/beckon-dev/beckon/pkg/kafkatest"
	"github.com/beckon-dev/beckon/pkg/kafkatest/peers"
)

// TestMain lets the test binary serve as the engine child the comparison
// starts (startEngine re-executes os.Executable with "child").
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "child" {
		os.Exit(child(os.Args[2:]))
	}
	os.Exit(m.Run())
}

// TestKStreamsSameReminders runs one small round of the comparison: Beckon's
// engine with the declarative cart journey and the hand-written Kafka
// Streams application read the same pre-produced events on the real broker,
// and each must send exactly the reminders the journey calls for (same
// users, carts and items), no more, no fewer.
func TestKStreamsSameReminders(t *testing.T) {
	brokers := os.Getenv(kafkatest.EnvBrokers)
	if brokers == "" {
		t.Skip("needs the real broker (BECKON_TEST_BROKERS): Kafka Streams 4.3.1 cannot start on kfake, whose DescribeTopicPartitions answer lacks eligible_leader_replicas and fails the Java admin client with a NullPointerException")
	}
	dir, err := findKStreams()
	if err != nil {
		t.Fatal(err)
	}
	java, cp := peers.Java(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	k := &kstreamsRun{
		seeds: strings.Split(brokers, ","),
		cfg:   config{events: 1_200, users: 100, partitions: 6},
		kc:    kstreamsConfig{rounds: 1, hold: 4 * time.Second, threads: 1, punctuate: 100 * time.Millisecond, dir: dir},
		java:  java, cp: cp, work: t.TempDir(),
		beckon: sideResult{name: "Beckon engine"}, ks: sideResult{name: "Kafka Streams"},
	}
	if err := k.run(ctx); err != nil {
		t.Fatal(err)
	}
	want := len(expectedReminders(k.cfg.events, k.cfg.users))
	if want != 2*k.cfg.users {
		t.Fatalf("the workload has %d carts, want %d (two per user)", want, 2*k.cfg.users)
	}
	for _, s := range []*sideResult{&k.beckon, &k.ks} {
		if len(s.rounds) != 1 || s.rounds[0].reminders != want {
			t.Fatalf("%s: rounds %+v, want one round with %d reminders", s.name, s.rounds, want)
		}
		t.Logf("%s: %.0f events/s, %d reminders, each as the journey says", s.name, s.rounds[0].rate, s.rounds[0].reminders)
	}
}
