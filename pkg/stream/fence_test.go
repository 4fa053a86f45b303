package stream

import (
	"bufio"
	"bytes"
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
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beckon-dev/beckon/pkg/kafkatest"
)

// testSeed returns the seed of a test's randomness: env's value when set
// (to replay a failure), else a fresh one. It is logged either way.
func testSeed(t *testing.T, env string) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(env); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: %v", env, s, err)
		}
		seed = v
	}
	t.Logf("random seed %d (replay with %s=%d)", seed, env, seed)
	return seed
}

// The zombie workload: an event "<due unix ms>" for a user schedules a
// timer at that time and emits "scheduled <user>"; the timer emits
// "timer <user>".
func zombieGroup(prefix string, log *slog.Logger) *Group {
	out := prefix + "out"
	g, err := Define(prefix+"zombie",
		Input(prefix+"events"), Changelog(prefix+"changelog"), DeadLetter(prefix+"dlq"),
		Process(func(c *Context, m Message) error {
			if m.Kind == KindTimer {
				log.Info("timer fired", "user", string(m.Key))
				c.Emit(out, m.Key, append([]byte("timer "), m.Key...))
				return nil
			}
			ms, err := strconv.ParseInt(string(m.Value), 10, 64)
			if err != nil {
				return err
			}
			c.Emit(out, m.Key, append([]byte("scheduled "), m.Key...))
			return c.Schedule(m.Key, time.UnixMilli(ms), nil)
		}))
	if err != nil {
		panic(err)
	}
	return g
}

// outcomeMetrics logs each transaction's outcome, so the test can tell
// what the transaction after a pause did.
type outcomeMetrics struct {
	NopMetrics
	log *slog.Logger
}

func (m outcomeMetrics) Committed(_ time.Duration, n int) {
	m.log.Info("transaction committed", "messages", n)
}
func (m outcomeMetrics) Aborted(reason string) { m.log.Info("transaction aborted", "reason", reason) }

// TestZombieChild is an instance of TestZombieTimersFenced; it runs only
// when that test starts it. With BECKON_ZOMBIE_PAUSE set it stops itself
// (SIGSTOP) the first time it is about to fire due timers: after its poll,
// before the transaction begins, where a pause (GC, SIGSTOP, a network
// partition) leaves it holding partitions the group may give away.
func TestZombieChild(t *testing.T) {
	if os.Getenv("BECKON_ZOMBIE_CHILD") == "" {
		t.Skip("child process of TestZombieTimersFenced")
	}
	prefix := os.Getenv("BECKON_ZOMBIE_PREFIX")
	logf, err := os.OpenFile(os.Getenv("BECKON_ZOMBIE_LOG"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	log := slog.New(slog.NewTextHandler(logf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	var r *Runner
	armed := os.Getenv("BECKON_ZOMBIE_PAUSE") != ""
	clock := func() time.Time {
		now := time.Now()
		if !armed {
			return now
		}
		r.mu.Lock()
		var ready []*partitionState
		var timers int64
		for _, p := range r.parts {
			if p.ready.Load() {
				ready = append(ready, p)
				timers += p.timers
			}
		}
		r.mu.Unlock()
		if !anyDue(ready, now) {
			return now
		}
		armed = false
		log.Info("pausing", "timers", timers, "partitions", len(ready))
		// A process stops some time after it signals itself (each thread
		// when the kernel next gets hold of it): wait for the SIGCONT
		// that ends the stop, so the pause is exactly here.
		cont := make(chan os.Signal, 1)
		signal.Notify(cont, syscall.SIGCONT)
		defer signal.Stop(cont)
		if err := syscall.Kill(os.Getpid(), syscall.SIGSTOP); err != nil {
			log.Error("stop myself", "err", err)
			return now
		}
		<-cont
		log.Info("resumed")
		return time.Now()
	}
	r, err = New(zombieGroup(prefix, log), Options{
		Kafka: []kgo.Opt{
			kgo.SeedBrokers(strings.Split(os.Getenv("BECKON_ZOMBIE_BROKERS"), ",")...),
			kgo.SessionTimeout(6 * time.Second), kgo.HeartbeatInterval(500 * time.Millisecond), kgo.RebalanceTimeout(10 * time.Second),
		},
		StateDir:   os.Getenv("BECKON_ZOMBIE_STATE"),
		InstanceID: os.Getenv("BECKON_ZOMBIE_INSTANCE"),
		PollWait:   20 * time.Millisecond,
		Clock:      clock,
		Metrics:    outcomeMetrics{log: log},
		Logger:     log,
	})
	if err != nil {
		t.Fatal(err)
	}
	runUntilTerm(t, r)
}

// TestZombieTimersFenced pauses an instance that holds due timers until
// the group has given its partitions to another instance, which fires
// them, then lets it run on: the woken instance fires the timers too and
// tries to commit, and the group-generation fence must abort that
// transaction. Every timer's output is committed exactly once.
func TestZombieTimersFenced(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: waits for a session timeout")
	}
	rng := rand.New(rand.NewPCG(testSeed(t, "BECKON_ZOMBIE_SEED"), 9))
	brokers := kafkatest.Brokers(t)
	prefix := kafkatest.Prefix(t)
	const partitions = 6
	kafkatest.CreateTopics(t, brokers, partitions, prefix+"events", prefix+"out", prefix+"changelog", prefix+"dlq")
	group := prefix + "zombie"
	dir := t.TempDir()
	users := 8 + rng.IntN(32)
	t.Logf("%d users", users)

	logs := map[string]string{}
	start := func(instance string, pause bool) *exec.Cmd {
		logs[instance] = filepath.Join(dir, instance+".log")
		cmd := exec.Command(os.Args[0], "-test.run=^TestZombieChild$", "-test.count=1")
		cmd.Env = append(os.Environ(),
			"BECKON_ZOMBIE_CHILD=1",
			"BECKON_ZOMBIE_PREFIX="+prefix,
			"BECKON_ZOMBIE_BROKERS="+strings.Join(brokers, ","),
			"BECKON_ZOMBIE_STATE="+filepath.Join(dir, instance),
			"BECKON_ZOMBIE_INSTANCE="+instance,
			"BECKON_ZOMBIE_LOG="+logs[instance],
		)
		if pause {
			cmd.Env = append(cmd.Env, "BECKON_ZOMBIE_PAUSE=1")
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Signal(syscall.SIGKILL)
			_ = cmd.Wait()
		})
		return cmd
	}
	defer func() {
		if t.Failed() {
			for name, path := range logs {
				b, _ := os.ReadFile(path)
				t.Logf("instance %s's log (last 6 KiB):\n%s", name, tail(b, 6<<10))
			}
		}
	}()
	out := watchOutputs(t, brokers, prefix+"out")

	// A alone owns every partition and schedules every user's timer.
	a := start("a", true)
	waitWithin(t, "instance a restores all partitions", 60*time.Second, func() bool {
		return countLines(logs["a"], `msg="partition restored"`) >= partitions
	})
	// The timers come due a little after the events are processed, each
	// user's at its own moment.
	due := time.Now().Add(3 * time.Second)
	producer := kafkatest.Client(t, brokers)
	var batch []*kgo.Record
	for u := range users {
		at := due.Add(time.Duration(rng.IntN(300)) * time.Millisecond)
		batch = append(batch, &kgo.Record{Topic: prefix + "events", Key: fmt.Appendf(nil, "user-%02d", u), Value: strconv.AppendInt(nil, at.UnixMilli(), 10)})
	}
	if err := producer.ProduceSync(context.Background(), batch...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	waitWithin(t, "every timer scheduled", 30*time.Second, func() bool { return out.distinct("scheduled ") == users })

	// A stops itself when the first timer is due, before firing it.
	waitWithin(t, "instance a paused", 30*time.Second, func() bool { return stopped(a.Process.Pid) })
	pausing := lineWith(readLog(logs["a"]), `msg=pausing`)
	if !strings.Contains(pausing, fmt.Sprintf("timers=%d ", users)) {
		t.Fatalf("instance a paused holding other than all %d timers: %s", users, pausing)
	}

	// B joins; once A's session times out, B owns every partition and
	// fires the timers.
	start("b", false)
	adm := kadm.NewClient(kafkatest.Client(t, brokers))
	waitWithin(t, "the group gives every partition to instance b", 45*time.Second, func() bool {
		return onlyOwner(adm, group, prefix+"events", "b", partitions)
	})
	waitWithin(t, "instance b fires every timer", 30*time.Second, func() bool { return out.distinct("timer ") == users })
	if !stopped(a.Process.Pid) {
		t.Fatal("instance a ran before the test resumed it")
	}

	// A wakes with its timers due: it fires them and tries to commit.
	if err := a.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	var outcome string
	waitWithin(t, "the transaction of instance a after its pause ends", 30*time.Second, func() bool {
		outcome = lineWith(afterLine(logs["a"], `msg=resumed`), `msg="transaction `)
		return outcome != ""
	})
	// The timers it fired in that transaction: all it held.
	after := afterLine(logs["a"], `msg=resumed`)
	fired := countLinesIn(after[:strings.Index(after, outcome)], `msg="timer fired"`)
	if fired != users {
		t.Fatalf("instance a fired %d timers after its pause, not the %d it held, so the test proves less than it should; its outcome: %s", fired, users, outcome)
	}
	if !strings.Contains(outcome, `msg="transaction aborted"`) {
		t.Errorf("instance a, evicted from the group while paused, fired %d timers and its transaction did not abort: %s", fired, outcome)
	}

	// Everything committed so far is read: zero duplicates, zero missing.
	out.drain(t, producer, partitions)
	got := out.snapshot()
	dups, missing := 0, 0
	for u := range users {
		for _, kind := range []string{"scheduled ", "timer "} {
			v := fmt.Sprintf("%suser-%02d", kind, u)
			switch n := got[v]; {
			case n == 0:
				missing++
				t.Errorf("%q never committed", v)
			case n > 1:
				dups += n - 1
				t.Errorf("%q committed %d times", v, n)
			}
		}
	}
	t.Logf("zombie test: %d users; instance a paused holding %d due timers, the group moved its partitions to b, which fired them; a woke, fired %d and its transaction ended: %s; outputs: %d duplicates, %d missing",
		users, users, fired, outcome, dups, missing)
}

// TestTimerTransactionCommitsOffsets: a transaction that only fires timers
// commits its partition's offsets in the transaction (the commit the group
// generation fences), even for a group that never committed one: its
// state came from a changelog (here written by hand), and the timer fires
// with offset 0 committed, which reads as no commit; input then flows
// from the start as before.
func TestTimerTransactionCommitsOffsets(t *testing.T) {
	e := newEnv(t)
	g, err := Define(e.prefix+"fence", Input(e.events), Changelog(e.change), DeadLetter(e.dlq), Process(func(c *Context, m Message) error {
		if m.Kind == KindTimer {
			c.Emit(e.out, m.Key, append([]byte("fired:"), m.Key...))
			return nil
		}
		c.Emit(e.out, m.Key, append([]byte("event:"), m.Key...))
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	const partition = 1
	due := time.Now().Add(-time.Minute).UnixMilli()
	manual := kafkatest.Client(t, e.brokers, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := manual.ProduceSync(context.Background(),
		&kgo.Record{Topic: e.change, Partition: partition, Key: dueKey(due, []byte("t1")), Value: []byte{}},
		&kgo.Record{Topic: e.change, Partition: partition, Key: timerKeyKey([]byte("t1")), Value: encodeOffset(due)},
	).FirstErr(); err != nil {
		t.Fatal(err)
	}
	r, _ := e.run(g, "a", t.TempDir(), nil)
	waitReady(t, r)
	if got := values(e.readAll(e.out, 1)); len(got) != 1 || got["fired:t1"] != 1 {
		t.Fatalf("outputs %v, want fired:t1 once", got)
	}
	adm := kadm.NewClient(e.client)
	offsets, err := adm.FetchOffsets(context.Background(), g.name)
	if err == nil {
		err = offsets.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
	o, ok := offsets.Lookup(e.events, partition)
	if !ok || o.At != 0 {
		t.Fatalf("committed offset of %s[%d] after a timer-only transaction: %+v (found %v), want 0", e.events, partition, o, ok)
	}
	e.produce(e.events, "u1", "x")
	if got := values(e.readAll(e.out, 2)); got["event:u1"] != 1 || got["fired:t1"] != 1 {
		t.Fatalf("outputs %v, want fired:t1 and event:u1 once each", got)
	}
}

// outputs counts the values a read_committed consumer reads from a topic.
type outputs struct {
	topic    string
	mu       sync.Mutex
	counts   map[string]int
	sentinel map[string]bool
}

// watchOutputs reads topic from its start until the test ends.
func watchOutputs(t *testing.T, brokers []string, topic string) *outputs {
	o := &outputs{topic: topic, counts: map[string]int{}, sentinel: map[string]bool{}}
	cl := kafkatest.Client(t, brokers, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxWait(100*time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
				o.mu.Lock()
				defer o.mu.Unlock()
				if bytes.HasPrefix(r.Value, []byte("sentinel ")) {
					o.sentinel[string(r.Value)] = true
					return
				}
				o.counts[string(r.Value)]++
			})
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return o
}

func (o *outputs) distinct(prefix string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for v := range o.counts {
		if strings.HasPrefix(v, prefix) {
			n++
		}
	}
	return n
}

func (o *outputs) snapshot() map[string]int {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make(map[string]int, len(o.counts))
	for k, v := range o.counts {
		out[k] = v
	}
	return out
}

// drain writes a sentinel to every partition and waits until the watcher
// has read them all: a read_committed consumer returns a record only once
// every transaction before it has ended, so by then it has read everything
// committed before the sentinels.
func (o *outputs) drain(t *testing.T, cl *kgo.Client, partitions int32) {
	t.Helper()
	want := map[string]bool{}
	for p := range partitions {
		v := fmt.Sprintf("sentinel %d %d", p, time.Now().UnixNano())
		want[v] = true
		rec := &kgo.Record{Topic: o.topic, Partition: p, Value: []byte(v)}
		if err := cl.ProduceSync(context.Background(), rec).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	waitWithin(t, "the output watcher reads a sentinel on every partition", 30*time.Second, func() bool {
		o.mu.Lock()
		defer o.mu.Unlock()
		for v := range want {
			if !o.sentinel[v] {
				return false
			}
		}
		return true
	})
}

// waitWithin polls cond until it holds, failing the test after timeout.
func waitWithin(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting until %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stopped reports whether process pid is stopped by a signal.
func stopped(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// pid (comm) state ...: comm may hold spaces, the state follows its ')'.
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && b[i+2] == 'T'
}

// onlyOwner reports whether the group is stable with one member, of
// instance ID instance, that is assigned all partitions of topic.
func onlyOwner(adm *kadm.Client, group, topic, instance string, partitions int) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	groups, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		return false
	}
	g, ok := groups[group]
	if !ok || g.Err != nil || g.State != "Stable" || len(g.Members) != 1 {
		return false
	}
	m := g.Members[0]
	if m.InstanceID == nil || *m.InstanceID != instance {
		return false
	}
	c, ok := m.Assigned.AsConsumer()
	if !ok {
		return false
	}
	for _, tp := range c.Topics {
		if tp.Topic == topic {
			return len(tp.Partitions) == partitions
		}
	}
	return false
}

func readLog(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// countLines counts the lines of the file at path that contain s.
func countLines(path, s string) int { return countLinesIn(readLog(path), s) }

func countLinesIn(text, s string) int {
	n := 0
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		if strings.Contains(sc.Text(), s) {
			n++
		}
	}
	return n
}

// lineWith returns the first line of text that contains s, or "".
func lineWith(text, s string) string {
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}

// afterLine returns the file's text after its first line containing s, or
// "" if there is none.
func afterLine(path, s string) string {
	text := readLog(path)
	i := strings.Index(text, s)
	if i < 0 {
		return ""
	}
	j := strings.IndexByte(text[i:], '\n')
	if j < 0 {
		return ""
	}
	return text[i+j+1:]
}
