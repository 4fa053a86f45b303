package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beckon-dev/beckon/pkg/kafkatest/servicetest"
)

// lockedBuffer is a bytes.Buffer that dev writes to while the test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// waitFor waits until the output matches re, failing t with the output
// after timeout.
func waitFor(t *testing.T, out *lockedBuffer, re *regexp.Regexp, timeout time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("no output matching %s within %v:\n%s", re, timeout, out.String())
		}
		time.Sleep(20 * time.Millisecond) // polls the output; the condition is the match
	}
}

// TestDevShowsUndecodableEvents: a record on the events topic that is not
// an Avro event does not stop dev; it prints the record as undecodable,
// then the engine's dead letter for it, and sample traffic goes on.
func TestDevShowsUndecodableEvents(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &lockedBuffer{}
	var errb lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"dev", "--port", "0", "--metrics-addr", "127.0.0.1:0", "--api-addr", "127.0.0.1:0", "--data-dir", dir, "--rate", "50"}, out, &errb, func(string) string { return "" })
	}()
	m := waitFor(t, out, regexp.MustCompile(`Kafka +(\S+) \(embedded`), time.Minute)
	waitFor(t, out, regexp.MustCompile(`(?m)^event  p\d+@\d+ +user-\d{3}`), time.Minute)

	cl, err := kgo.NewClient(kgo.SeedBrokers(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "events", Key: []byte("user-001"), Value: []byte("not avro at all")}).FirstErr(); err != nil {
		t.Fatalf("produce a garbage event: %v", err)
	}
	waitFor(t, out, regexp.MustCompile(`(?m)^event  p\d+@\d+ +user-001 +UNDECODABLE \(15 bytes\)`), time.Minute)
	waitFor(t, out, regexp.MustCompile(`(?m)^DLQ    events\[\d+\]@\d+ key user-001: .*magic`), time.Minute)

	// The banner says where /metrics is; it counts the dead letter by its
	// reason's class.
	url := waitFor(t, out, regexp.MustCompile(`Metrics +(http://\S+/metrics)`), time.Minute)[1]
	_, metrics := servicetest.Get(t, url)
	for _, want := range []string{`beckon_ready 1`, `beckon_stream_dead_letters_total{reason="undecodable",topic="events"} `} {
		if !strings.Contains(metrics, want) {
			t.Errorf("%s lacks %s:\n%s", url, want, metrics)
		}
	}

	// Traffic goes on after the bad record.
	before := strings.Count(out.String(), "\nevent  ")
	deadline := time.Now().Add(time.Minute)
	for strings.Count(out.String(), "\nevent  ") < before+5 {
		if time.Now().After(deadline) {
			t.Fatalf("no sample events after the bad one:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case code := <-done:
		t.Fatalf("dev exited (%d) while running:\n%s%s", code, out.String(), errb.String())
	default:
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d after interrupt\n%s%s", code, out.String(), errb.String())
	}
}
