package stream

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beckon-dev/beckon/pkg/kafkatest"
)

// The crash workload: per-user counters that emit "<user>=<n>" every
// crashEvery events and schedule a timer that emits "timer <user>=<n>"
// shortly after.
const (
	crashUsers  = 24
	crashEvents = 20 // per user
	crashEvery  = 5
	crashTimer  = 300 * time.Millisecond
)

func crashGroup(prefix string) *Group {
	out := prefix + "out"
	g, err := Define(prefix+"crash",
		Input(prefix+"events"), Changelog(prefix+"changelog"), DeadLetter(prefix+"dlq"),
		Process(func(c *Context, m Message) error {
			if m.Kind == KindTimer {
				c.Emit(out, m.Value, append([]byte("timer "), m.Key...))
				return nil
			}
			n, err := increment(c, m.Key)
			if err != nil {
				return err
			}
			if n%crashEvery == 0 {
				milestone := fmt.Appendf(nil, "%s=%d", m.Key, n)
				c.Emit(out, m.Key, milestone)
				return c.Schedule(milestone, c.Now().Add(crashTimer), m.Key)
			}
			return nil
		}))
	if err != nil {
		panic(err)
	}
	return g
}

// TestCrashChild is the child process of TestCrashRecovery; it runs only
// when that test starts it.
func TestCrashChild(t *testing.T) {
	if os.Getenv("BECKON_CRASH_CHILD") == "" {
		t.Skip("child process of TestCrashRecovery")
	}
	prefix := os.Getenv("BECKON_CRASH_PREFIX")
	logf, err := os.OpenFile(os.Getenv("BECKON_CRASH_LOG"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	r, err := New(crashGroup(prefix), Options{
		Kafka: []kgo.Opt{
			kgo.SeedBrokers(strings.Split(os.Getenv("BECKON_CRASH_BROKERS"), ",")...),
			kgo.SessionTimeout(6 * time.Second), kgo.HeartbeatInterval(500 * time.Millisecond), kgo.RebalanceTimeout(10 * time.Second),
		},
		StateDir:   os.Getenv("BECKON_CRASH_STATE"),
		InstanceID: os.Getenv("BECKON_CRASH_INSTANCE"),
		PollWait:   20 * time.Millisecond,
		Logger:     slog.New(slog.NewTextHandler(logf, &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	if err != nil {
		t.Fatal(err)
	}
	runUntilTerm(t, r)
}

// TestCrashRecovery SIGKILLs instances of the crash workload at random
// moments while events flow, restarts them (sometimes two at once, so
// partitions move), and then checks that every expected output was
// committed exactly once, every timer fired exactly once, and the final
// state equals the reference.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: kills and restarts processes")
	}
	brokers := kafkatest.Brokers(t)
	prefix := kafkatest.Prefix(t)
	kafkatest.CreateTopics(t, brokers, 6, prefix+"events", prefix+"out", prefix+"changelog", prefix+"dlq")
	dir := t.TempDir()
	logPath := filepath.Join(dir, "children.log")
	// The seed chooses the kill schedule; a failure's seed replays it
	// (the timing of the processes still varies).
	rng := rand.New(rand.NewPCG(testSeed(t, "BECKON_CRASH_SEED"), 7))

	start := func(instance string) *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(),
			"BECKON_CRASH_CHILD=1",
			"BECKON_CRASH_PREFIX="+prefix,
			"BECKON_CRASH_BROKERS="+strings.Join(brokers, ","),
			"BECKON_CRASH_STATE="+filepath.Join(dir, instance),
			"BECKON_CRASH_INSTANCE="+instance,
			"BECKON_CRASH_LOG="+logPath,
		)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	kill := func(cmd *exec.Cmd) {
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
	}

	// Produce the events in the background, in user order per user.
	producer := kafkatest.Client(t, brokers)
	produced := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		for i := range crashEvents {
			var batch []*kgo.Record
			for u := range crashUsers {
				batch = append(batch, &kgo.Record{Topic: prefix + "events", Key: fmt.Appendf(nil, "user-%02d", u), Value: []byte(strconv.Itoa(i))})
			}
			if err := producer.ProduceSync(ctx, batch...).FirstErr(); err != nil {
				produced <- err
				return
			}
			time.Sleep(150 * time.Millisecond)
		}
		produced <- nil
	}()

	a := start("a")
	var b *exec.Cmd
	kills := 0
	for kills < 20 {
		time.Sleep(time.Duration(150+rng.IntN(900)) * time.Millisecond)
		switch {
		case b == nil && kills%4 == 1:
			b = start("b") // two instances: partitions move between them
		case b != nil && rng.IntN(2) == 0:
			kill(b)
			kills++
			b = nil
			if rng.IntN(2) == 0 {
				b = start("b")
			}
		default:
			kill(a)
			kills++
			a = start("a")
		}
	}
	if err := <-produced; err != nil {
		t.Fatal(err)
	}
	if b != nil {
		kill(b)
		kills++
	}
	// Let the survivor finish the work; it is stopped gracefully below.
	survivor := a
	defer func() {
		if survivor != nil {
			kill(survivor)
		}
	}()

	want := map[string]bool{}
	for u := range crashUsers {
		for n := crashEvery; n <= crashEvents; n += crashEvery {
			want[fmt.Sprintf("user-%02d=%d", u, n)] = true
			want[fmt.Sprintf("timer user-%02d=%d", u, n)] = true
		}
	}
	got := readCommitted(t, brokers, prefix+"out", len(want), 120*time.Second)
	dups, missing, unexpected := 0, 0, 0
	for v, n := range got {
		if !want[v] {
			unexpected++
			t.Errorf("unexpected output %q", v)
		}
		if n > 1 {
			dups += n - 1
			t.Errorf("output %q committed %d times", v, n)
		}
	}
	for v := range want {
		if got[v] == 0 {
			missing++
			t.Errorf("output %q never committed", v)
		}
	}

	// The final state, as the changelog has it, equals the reference.
	state := lastValues(t, brokers, prefix+"changelog")
	wrong := 0
	for u := range crashUsers {
		k := string(stateKey(fmt.Appendf(nil, "user-%02d", u)))
		if state[k] != strconv.Itoa(crashEvents) {
			wrong++
			t.Errorf("final state of user-%02d is %q, want %d", u, state[k], crashEvents)
		}
	}
	pendingTimers := 0
	for k, v := range state {
		if (k[0] == nsDue || k[0] == nsTimerKey) && v != "" {
			pendingTimers++
		}
	}
	if pendingTimers > 0 {
		t.Errorf("%d timer entries left in the changelog after all fired", pendingTimers)
	}
	// SIGTERM: the survivor finishes its transaction, leaves and exits 0.
	stopped := time.Now()
	_ = survivor.Process.Signal(syscall.SIGTERM)
	if err := survivor.Wait(); err != nil {
		t.Errorf("survivor after SIGTERM: %v", err)
	}
	survivor = nil
	graceful := time.Since(stopped)

	// How often partitions changed hands between the two instances.
	logText, _ := os.ReadFile(logPath)
	moves := 0
	for _, line := range strings.Split(string(logText), "\n") {
		if strings.Contains(line, `msg="partitions assigned"`) {
			moves++
		}
	}
	t.Logf("crash test: %d SIGKILLs; outputs %d expected, %d distinct committed, %d duplicates, %d missing, %d unexpected; final state %d/%d users right; %d timers pending",
		kills, len(want), len(got), dups, missing, unexpected, crashUsers-wrong, crashUsers, pendingTimers)
	fmt.Printf("crash test: %d SIGKILLs, %d partition assignments across restarts, %d outputs expected, %d committed exactly once, %d duplicates, %d missing; final state %d/%d users equal to the reference; %d of %d timers fired exactly once; graceful SIGTERM stop in %v\n",
		kills, moves, len(want), len(got)-dups, dups, missing, crashUsers-wrong, crashUsers, countPrefix(got, "timer "), crashUsers*crashEvents/crashEvery, graceful.Round(time.Millisecond))
	if t.Failed() {
		if b, err := os.ReadFile(logPath); err == nil {
			t.Logf("children's log (last 4 KiB):\n%s", tail(b, 4096))
		}
	}
}

func countPrefix(m map[string]int, p string) int {
	n := 0
	for k, c := range m {
		if strings.HasPrefix(k, p) && c == 1 {
			n++
		}
	}
	return n
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// readCommitted reads topic with read_committed until n distinct values
// were seen (or the timeout), then a little more to catch duplicates, and
// counts each value.
func readCommitted(t *testing.T, brokers []string, topic string, n int, timeout time.Duration) map[string]int {
	t.Helper()
	cl := kafkatest.Client(t, brokers, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	got := map[string]int{}
	for len(got) < n && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { got[string(r.Value)]++ })
	}
	grace, c2 := context.WithTimeout(context.Background(), 2*time.Second)
	defer c2()
	for grace.Err() == nil {
		cl.PollFetches(grace).EachRecord(func(r *kgo.Record) { got[string(r.Value)]++ })
	}
	return got
}

// lastValues reads a changelog to its end and returns each key's last
// value ("" for a tombstone).
func lastValues(t *testing.T, brokers []string, topic string) map[string]string {
	t.Helper()
	cl := kafkatest.Client(t, brokers, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	out := map[string]string{}
	for ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { out[string(r.Key)] = string(r.Value) })
	}
	return out
}

// runUntilTerm runs a child process's runner until SIGTERM.
func runUntilTerm(t *testing.T, r *Runner) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if err := r.Run(ctx); err != nil {
		t.Fatal(err)
	}
}
