package journeymetrics

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/pkg/stream"
	"github.com/beckon-dev/beckon/pkg/topics"
)

// t0 is recent: hourly counts older than the retention are dropped at
// once.
var t0 = time.Now().UTC().Truncate(time.Hour).Add(-6 * time.Hour)

// produceUser writes one user's journey: entered, waiting, sent, the
// receipts (one delivered, two distinct opens and a redelivered open; for
// some users the delivered receipt comes before the sent activity), an
// exit for even users, and a skipped entry for every fifth.
func produceUser(e *env, i int) {
	user := fmt.Sprintf("user-%03d", i)
	inst, cmd := "inst-"+user, "cmd-"+user
	act := func(seq int, kind records.ActivityKind, step, reason string, at time.Time, details string) {
		e.produce("activity", user, records.Activity{ActivityID: inst + "-" + strconv.Itoa(seq), InstanceID: inst, JourneyID: "j", JourneyVersion: 1,
			UserID: user, StepID: step, Kind: kind, Reason: reason, At: at, Details: records.JSON(details)})
	}
	receipt := func(id string, status records.ReceiptStatus) {
		e.produce("receipts", user, records.Receipt{ReceiptID: id, CommandID: cmd, UserID: user, Channel: "email", Status: status, OccurredAt: t0.Add(2 * time.Hour)})
	}
	early := i%4 == 0
	if early {
		receipt(cmd+"/delivered", records.ReceiptDelivered)
	}
	act(1, records.ActivityEntered, "wait", "trigger x", t0, "")
	act(2, records.ActivityWaiting, "wait", "until", t0, "")
	act(3, records.ActivitySent, "email", "email t", t0.Add(time.Hour), `{"command_id":"`+cmd+`"}`)
	if !early {
		receipt(cmd+"/delivered", records.ReceiptDelivered)
	}
	receipt(cmd+"/open1", records.ReceiptOpened)
	receipt(cmd+"/open2", records.ReceiptOpened)
	receipt(cmd+"/open1", records.ReceiptOpened)
	if i%2 == 0 {
		act(4, records.ActivityExited, "email", "completed", t0.Add(3*time.Hour), "")
	}
	if i%5 == 0 {
		e.produce("activity", user, records.Activity{ActivityID: user + "-skip", JourneyID: "j", JourneyVersion: 1, UserID: user,
			Kind: records.ActivitySkipped, Reason: "quiet_hours", At: t0})
	}
}

// wantAfter is the report of users [0, n).
func wantAfter(n int) map[string]int64 {
	even, fifth := (n+1)/2, (n+4)/5
	return map[string]int64{
		"entered": int64(n), "active": int64(n - even), "active@wait": 0, "active@email": int64(n - even),
		"sent": int64(n), "delivered": int64(n), "opened": int64(n), "exited/completed": int64(even), "skipped/quiet_hours": int64(fifth),
		"hour0/entered": int64(n), "hour1/sent": int64(n), "hour2/opened": int64(n), "hour2/delivered": int64(n), "hour3/exited/completed": int64(even),
		"email/opened": int64(n),
	}
}

// flatten picks the numbers wantAfter names out of a report.
func flatten(rep Report) map[string]int64 {
	t := rep.Totals
	out := map[string]int64{
		"entered": t.Entered, "active": t.Active, "sent": t.Sent, "delivered": t.Delivered, "opened": t.Opened,
		"exited/completed": t.Exited["completed"], "skipped/quiet_hours": t.Skipped["quiet_hours"],
	}
	for _, s := range rep.Steps {
		switch s.Step {
		case "wait":
			out["active@wait"] = s.Counts.Active
		case "email":
			out["active@email"] = s.Counts.Active
			out["email/opened"] = s.Counts.Opened
		}
	}
	for _, h := range rep.Hourly {
		switch h.Hour.Sub(t0) {
		case 0:
			out["hour0/entered"] = h.Counts.Entered
		case time.Hour:
			out["hour1/sent"] = h.Counts.Sent
		case 2 * time.Hour:
			out["hour2/opened"], out["hour2/delivered"] = h.Counts.Opened, h.Counts.Delivered
		case 3 * time.Hour:
			out["hour3/exited/completed"] = h.Counts.Exited["completed"]
		}
	}
	return out
}

func checkReport(t *testing.T, r *Reader, want map[string]int64) {
	t.Helper()
	rep, err := r.Journey("j", Query{})
	if err != nil {
		t.Fatal(err)
	}
	got := flatten(rep)
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %d, want %d", k, got[k], w)
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected %s = %d", k, g)
		}
	}
}

// TestCountsExactlyOnceThroughAbortsAndARestore: every input record's
// first processing fails with a chance of one in three after it has
// written its counts and emitted them, so its transaction aborts and is
// retried; halfway, the processor stops and a new one restores the
// partitions from the changelog into an empty state directory. The
// counts the reader sums are exact: nothing aborted is counted, nothing
// retried or restored is counted twice, duplicate receipts count once, a
// receipt read before its send is attributed to the send's step.
func TestCountsExactlyOnceThroughAbortsAndARestore(t *testing.T) {
	seed := rand.Uint64()
	if s := os.Getenv("BECKON_TEST_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (BECKON_TEST_SEED to repeat)", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	var mu sync.Mutex
	failed := map[string]bool{}
	var aborts atomic.Int32
	fault := func(m stream.Message) error {
		if m.Kind != stream.KindRecord {
			return nil
		}
		at := fmt.Sprintf("%s/%d/%d", m.Topic, m.Partition, m.Offset)
		mu.Lock()
		defer mu.Unlock()
		if _, done := failed[at]; done {
			return nil
		}
		fail := rng.IntN(3) == 0
		failed[at] = fail
		if fail {
			aborts.Add(1)
			return stream.Retryable(errors.New("injected fault after counting " + at))
		}
		return nil
	}

	const parts, users = 3, 24
	e := newEnv(t, parts, topics.Options{})
	p, err := New(Config{Topics: e.layout, Codec: e.codec, Group: e.prefix + "metrics", fault: fault})
	if err != nil {
		t.Fatal(err)
	}
	opts := stream.Options{InstanceID: "a", RetryBackoff: 10 * time.Millisecond, MaxRetryBackoff: 50 * time.Millisecond, MaxPollRecords: 20}
	opts.StateDir = t.TempDir()
	stop := e.runGroup(p.Group(), opts)
	r := e.follow()

	for i := range users / 2 {
		produceUser(e, i)
	}
	n := e.sentinels("1", t0)
	waitFor(t, "the first sentinels", func() bool {
		rep, err := r.Journey("sentinel", Query{})
		return err == nil && rep.Totals.Delivered >= n
	})
	checkReport(t, r, wantAfter(users/2))
	if rep, _ := r.Journey("sentinel", Query{}); rep.Totals.Delivered != n || rep.Totals.Sent != n {
		t.Errorf("sentinels sent %d and delivered %d, want %d", rep.Totals.Sent, rep.Totals.Delivered, n)
	}

	// A new processor restores every partition from the changelog.
	stop()
	opts.StateDir = t.TempDir()
	e.runGroup(p.Group(), opts)
	for i := users / 2; i < users; i++ {
		produceUser(e, i)
	}
	n += e.sentinels("2", t0)
	waitFor(t, "the second sentinels", func() bool {
		rep, err := r.Journey("sentinel", Query{})
		return err == nil && rep.Totals.Delivered >= n
	})
	checkReport(t, r, wantAfter(users))
	if aborts.Load() == 0 {
		t.Fatal("no transaction aborted: the test did not exercise the fault")
	}
	t.Logf("%d transactions aborted and retried", aborts.Load())

	// A second reader started now loads the same counts.
	checkReport(t, e.follow(), wantAfter(users))

	// Neither the counts nor the processor's own state name a user, an
	// instance or a send: forgetting a user has nothing to remove from the
	// metrics topic.
	for _, base := range []string{"metrics.journeys", "changelog." + topics.JourneyMetricsStore} {
		recs := e.readTopic(e.topic(base))
		if len(recs) == 0 {
			t.Fatalf("%s is empty", base)
		}
		for _, r := range recs {
			for _, id := range []string{"user-", "inst-", "cmd-"} {
				if strings.Contains(string(r.Key), id) || strings.Contains(string(r.Value), id) {
					t.Errorf("%s record %q = %q holds an identifier (%s...)", base, r.Key, r.Value, id)
				}
			}
		}
	}
}
