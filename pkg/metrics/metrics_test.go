package metrics

import (
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/pkg/stream"
)

// scrape returns what r serves at /metrics.
func scrape(t *testing.T, r *Registry) string {
	t.Helper()
	rec := httptest.NewRecorder()
	r.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("/metrics: status %d", rec.Code)
	}
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

type probe struct {
	ready        bool
	health       error
	owned, parts int
}

func (p probe) Ready() bool               { return p.ready }
func (p probe) Health() error             { return p.health }
func (p probe) Owned() (owned, ready int) { return p.owned, p.parts }

// exercised returns a registry on which every instrument has a series,
// and its exposition.
func exercised(t *testing.T) (*Registry, string) {
	t.Helper()
	reg, err := New()
	if err != nil {
		t.Fatal(err)
	}
	s, j, err := ForEngine(reg)
	if err != nil {
		t.Fatal(err)
	}
	if err := ObserveHealth(reg.Meter(), probe{ready: false, health: errors.New("stalled"), owned: 3, parts: 2}); err != nil {
		t.Fatal(err)
	}
	s.Processed("events", 1, stream.KindRecord, stream.OutcomeProcessed, 3)
	s.Processed("events", 1, stream.KindRecord, stream.OutcomeRetried, 2)
	s.Committed(20*time.Millisecond, 3)
	s.TxnTiming(stream.TxnTiming{Flush: 2 * time.Millisecond, End: 5 * time.Millisecond, Messages: 3})
	s.Aborted("transaction not committed: rebalance or fencing during the transaction")
	s.Retried(1, `read journey state of user "u-42": pebble: closed`, time.Second)
	s.DeadLettered("events", `decode event: wrong magic byte for user "u-42"`)
	s.DeadLettered("", "processor panic: boom")
	s.Lag("events", 1, 17)
	s.TimersPending(1, 5)
	s.RestoreProgress("changelog.engine", 1, 40, 100)
	s.Restored(1, 2*time.Second)
	j.Entered("abandoned-cart")
	j.Entered("abandoned-cart")
	j.Exited("abandoned-cart")
	j.ActiveInstances(0, map[string]int64{"abandoned-cart": 4, "welcome": 1})
	j.ActiveInstances(1, map[string]int64{"abandoned-cart": 3})
	j.ActiveInstances(2, map[string]int64{"welcome": 7})
	j.ActiveInstances(2, nil) // revoked
	j.ActiveChanged(1, "abandoned-cart", -1)
	j.ActiveChanged(2, "welcome", 1) // not owned: ignored
	j.Sent("email")
	j.Skipped("quiet_hours")
	j.Skipped("receipt delivered for command c-1 of user u-42, which no running instance sent")
	j.Skipped("Über user u-42")
	j.Handled(stream.KindTimer, time.Millisecond)
	j.TimerFired(1500 * time.Millisecond)
	w, err := NewWebhook(reg.Meter())
	if err != nil {
		t.Fatal(err)
	}
	w.Delivered(records.ReceiptDelivered, 2)
	w.Delivered(records.ReceiptFailed, 1)
	return reg, scrape(t, reg)
}

// TestExposition: every hook shows in the Prometheus exposition under its
// documented name and labels, with free-text reasons reduced to classes.
func TestExposition(t *testing.T) {
	_, out := exercised(t)
	for _, want := range []string{
		`beckon_stream_messages_total{kind="record",outcome="processed",topic="events"} 3`,
		`beckon_stream_messages_total{kind="record",outcome="retried",topic="events"} 2`,
		`beckon_stream_transaction_duration_seconds_count 1`,
		`beckon_stream_transaction_messages_count 1`,
		`beckon_stream_commit_duration_seconds_bucket{le="0.01"} 1`,
		`beckon_stream_commit_duration_seconds_bucket{le="0.005"} 0`,
		`beckon_stream_aborts_total{cause="rebalance"} 1`,
		`beckon_stream_retries_total{cause="store_read"} 1`,
		`beckon_stream_dead_letters_total{reason="undecodable",topic="events"} 1`,
		`beckon_stream_dead_letters_total{reason="panic",topic="timer"} 1`,
		`beckon_stream_consumer_lag{partition="1",topic="events"} 17`,
		`beckon_stream_timers_pending{partition="1"} 5`,
		`beckon_stream_restore_offsets_restored{partition="1",topic="changelog.engine"} 40`,
		`beckon_stream_restore_offsets_target{partition="1",topic="changelog.engine"} 100`,
		`beckon_stream_restore_duration_seconds_count{partition="1"} 1`,
		`beckon_journey_entries_total{journey="abandoned-cart"} 2`,
		`beckon_journey_exits_total{journey="abandoned-cart"} 1`,
		`beckon_journey_active_instances{journey="abandoned-cart"} 6`,
		`beckon_journey_active_instances{journey="welcome"} 1`,
		`beckon_sends_total{channel="email"} 1`,
		`beckon_skips_total{reason="quiet_hours"} 1`,
		`beckon_skips_total{reason="receipt"} 1`,
		`beckon_skips_total{reason="other"} 1`,
		`beckon_engine_processing_duration_seconds_count{kind="timer"} 1`,
		`beckon_timer_lateness_seconds_bucket{le="2.5"} 1`,
		`beckon_healthy 0`,
		`beckon_ready 0`,
		`beckon_partitions_owned 3`,
		`beckon_partitions_ready 2`,
		`beckon_webhook_commands_total{status="delivered"} 1`,
		`beckon_webhook_commands_total{status="failed"} 1`,
		`beckon_webhook_attempts_count 2`,
		`go_goroutines `,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("exposition lacks %s", want)
		}
	}
	if strings.Contains(out, "u-42") {
		t.Errorf("a user ID reached a label:\n%s", out)
	}
}

// TestHooksDoNotAllocate: the hooks on the processing path reuse their
// bound attribute sets once a series exists.
func TestHooksDoNotAllocate(t *testing.T) {
	reg, err := New()
	if err != nil {
		t.Fatal(err)
	}
	s, j, err := ForEngine(reg)
	if err != nil {
		t.Fatal(err)
	}
	for name, fn := range map[string]func(){
		"Processed":  func() { s.Processed("events", 3, stream.KindRecord, stream.OutcomeProcessed, 1) },
		"Lag":        func() { s.Lag("events", 3, 9) },
		"Committed":  func() { s.Committed(time.Millisecond, 10) },
		"TxnTiming":  func() { s.TxnTiming(stream.TxnTiming{End: time.Millisecond}) },
		"Sent":       func() { j.Sent("email") },
		"Entered":    func() { j.Entered("cart") },
		"Skipped":    func() { j.Skipped("quiet_hours") },
		"Handled":    func() { j.Handled(stream.KindRecord, time.Microsecond) },
		"TimerFired": func() { j.TimerFired(time.Millisecond) },
	} {
		fn()
		if n := testing.AllocsPerRun(200, fn); n > 0 {
			t.Errorf("%s: %.1f allocations per call, want 0", name, n)
		}
	}
}

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		rules        []rule
		reason, want string
	}{
		{deadLetterRules, stream.ReasonNoKey + ": produce with a key", "no_key"},
		{deadLetterRules, stream.ReasonWrongPartition + " (partitioner=murmur2_random)", "wrong_partition"},
		{deadLetterRules, "record key is not the record's ID", "key_mismatch"},
		{deadLetterRules, "something nobody wrote", "other"},
		{transientRules, "schema registry: 503", "schema_registry"},
		{transientRules, "context deadline exceeded", "timeout"},
	} {
		if got := classify(c.rules, c.reason); got != c.want {
			t.Errorf("classify(%q) = %q, want %q", c.reason, got, c.want)
		}
	}
	for reason, want := range map[string]string{"frequency_cap": "frequency_cap", "paused: later than max_lateness": "paused", "": "other", "x y": "x", "Quiet": "other"} {
		if got := skipReason(reason); got != want {
			t.Errorf("skipReason(%q) = %q, want %q", reason, got, want)
		}
	}
}

// TestMovedPartitionsLeaveNoSeries: once a partition is no longer owned,
// its lag, timers and restore progress are not reported any more.
func TestMovedPartitionsLeaveNoSeries(t *testing.T) {
	reg, err := New()
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewStream(reg.Meter())
	if err != nil {
		t.Fatal(err)
	}
	owned := []int32{0, 1}
	s.ReportOwned(func() []int32 { return owned })
	for p := range int32(2) {
		s.Lag("events", p, 5)
		s.TimersPending(p, 7)
		s.RestoreProgress("changelog", p, 1, 2)
	}
	out := scrape(t, reg)
	for _, want := range []string{`beckon_stream_consumer_lag{partition="1",topic="events"} 5`, `beckon_stream_timers_pending{partition="1"} 7`, `beckon_stream_restore_offsets_target{partition="1",topic="changelog"} 2`} {
		if !strings.Contains(out, want) {
			t.Errorf("owned partition 1: exposition lacks %s", want)
		}
	}
	owned = []int32{0}
	out = scrape(t, reg)
	if strings.Contains(out, `partition="1"`) {
		t.Errorf("partition 1 moved away and still has series:\n%s", out)
	}
	if !strings.Contains(out, `beckon_stream_consumer_lag{partition="0",topic="events"} 5`) {
		t.Errorf("partition 0 lost its lag series:\n%s", out)
	}
}
