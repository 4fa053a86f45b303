package webhook_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/beckon-dev/beckon/pkg/codec"
	"github.com/beckon-dev/beckon/pkg/kafkatest"
	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/pkg/topics"
	"github.com/beckon-dev/beckon/pkg/webhook"
	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	secret      = "s3cret"
	timeout     = 250 * time.Millisecond
	traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
)

// endpoint is a webhook receiver that misbehaves by command ID prefix, the
// way real endpoints do, and de-duplicates by Idempotency-Key as the
// contract asks receivers to:
//
//	fail500-   answers 500 to the first two attempts
//	slow-      takes 3x the client timeout on the first attempt, then accepts
//	throttle-  answers 429 with Retry-After: 1 to the first attempt
//	reject-    answers 400 (permanent)
//	down-      answers 503 forever
//	hang-      accepts the first attempt, then holds the response until the
//	           client goes away (the sender "crashes" mid-request)
//	other      accepts
type endpoint struct {
	t       *testing.T
	mu      sync.Mutex
	tries   map[string][]time.Time // attempt times by command ID
	accepts map[string]int         // accepted deliveries by command ID
	dups    map[string]int         // repeated deliveries answered 200 without accepting
	bodies  map[string]webhook.Body
	traces  map[string]string // traceparent header by command ID
	badSigs []string
	hanging chan struct{} // closed when a hang- command is held
	hangOne sync.Once
}

func newEndpoint(t *testing.T) (*endpoint, *httptest.Server) {
	e := &endpoint{t: t, tries: map[string][]time.Time{}, accepts: map[string]int{}, dups: map[string]int{},
		bodies: map[string]webhook.Body{}, traces: map[string]string{}, hanging: make(chan struct{})}
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return e, srv
}

func (e *endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	at := time.Now()
	raw, _ := io.ReadAll(r.Body)
	id := r.Header.Get("Idempotency-Key")
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(raw)
	sigOK := r.Header.Get("X-Beckon-Signature") == "sha256="+hex.EncodeToString(m.Sum(nil))
	var body webhook.Body
	err := json.Unmarshal(raw, &body)

	e.mu.Lock()
	e.tries[id] = append(e.tries[id], at)
	n := len(e.tries[id])
	if !sigOK || err != nil || body.CommandID != id || r.Method != http.MethodPost ||
		r.Header.Get("Content-Type") != "application/json" || r.Header.Get("X-Beckon-Timestamp") == "" {
		e.badSigs = append(e.badSigs, id)
	}
	e.bodies[id] = body
	e.traces[id] = r.Header.Get("traceparent")
	e.mu.Unlock()

	switch {
	case strings.HasPrefix(id, "fail500-") && n <= 2:
		http.Error(w, "boom", http.StatusInternalServerError)
		return
	case strings.HasPrefix(id, "slow-") && n == 1:
		time.Sleep(3 * timeout) // the sender has given up and retried by now
	case strings.HasPrefix(id, "throttle-") && n == 1:
		w.Header().Set("Retry-After", "1")
		http.Error(w, "slow down", http.StatusTooManyRequests)
		return
	case strings.HasPrefix(id, "reject-"):
		http.Error(w, "unknown recipient", http.StatusBadRequest)
		return
	case strings.HasPrefix(id, "down-"):
		http.Error(w, "maintenance", http.StatusServiceUnavailable)
		return
	}
	e.accept(id)
	if strings.HasPrefix(id, "hang-") && n == 1 {
		e.hangOne.Do(func() { close(e.hanging) })
		<-r.Context().Done() // processed, but the response never reaches the sender
		return
	}
	w.WriteHeader(http.StatusOK)
}

// accept counts a delivery once per Idempotency-Key.
func (e *endpoint) accept(id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.accepts[id] > 0 {
		e.dups[id]++
		return
	}
	e.accepts[id]++
}

func (e *endpoint) snapshot() (tries map[string][]time.Time, accepts, dups map[string]int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	tries = map[string][]time.Time{}
	for k, v := range e.tries {
		tries[k] = append([]time.Time(nil), v...)
	}
	accepts, dups = map[string]int{}, map[string]int{}
	for k, v := range e.accepts {
		accepts[k] = v
	}
	for k, v := range e.dups {
		dups[k] = v
	}
	return tries, accepts, dups
}

// harness is a broker with Beckon's topics and a codec.
type harness struct {
	t       *testing.T
	brokers []string
	prefix  string
	codec   *codec.Codec
}

func newHarness(t *testing.T) *harness {
	h := &harness{t: t, brokers: kafkatest.Brokers(t), prefix: kafkatest.Prefix(t)}
	layout, err := topics.Declare(topics.Options{Prefix: h.prefix, Partitions: 3, ReplicationFactor: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := topics.Apply(ctx, kafkatest.Client(t, h.brokers), layout); err != nil {
		t.Fatal(err)
	}
	if h.codec, err = codec.New(); err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *harness) sender(url string, with ...func(*webhook.Config)) *webhook.Sender {
	cfg := webhook.Config{
		Kafka:      []kgo.Opt{kgo.SeedBrokers(h.brokers...), kgo.FetchMaxWait(100 * time.Millisecond)},
		Commands:   h.prefix + "send.webhook",
		Receipts:   h.prefix + "receipts",
		DeadLetter: h.prefix + "dlq",
		Group:      h.prefix + "webhook",
		Codec:      h.codec,
		URL:        url,
		Secret:     []byte(secret),
		Timeout:    timeout,
		Retry:      webhook.Backoff{Base: 10 * time.Millisecond, Max: 100 * time.Millisecond},
		Logger:     slog.New(slog.NewTextHandler(testWriter{h.t}, nil)),
	}
	for _, f := range with {
		f(&cfg)
	}
	s, err := webhook.New(cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

// start runs s until the returned stop is called, which waits for Run.
func start(t *testing.T, s *webhook.Sender) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(20 * time.Second):
				t.Errorf("Run did not return within 20s of cancellation")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func command(id, user string, deadline time.Time) records.SendCommand {
	return records.SendCommand{
		CommandID: id, JourneyID: "welcome", JourneyVersion: 3, InstanceID: "welcome/" + user, StepID: "notify",
		UserID: user, Channel: "webhook", Recipient: "https://crm.example/hooks/" + user, TemplateID: "welcome-1",
		Locale: "en-GB", Payload: records.JSON(`{"first_name":"Ada","cart":{"items":2}}`),
		CreatedAt: time.Now().UTC().Truncate(time.Millisecond), Deadline: deadline,
	}
}

func (h *harness) produce(cl *kgo.Client, cmds ...records.SendCommand) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	topic := h.prefix + "send.webhook"
	for _, c := range cmds {
		v, err := h.codec.Encode(ctx, topic, c)
		if err != nil {
			h.t.Fatal(err)
		}
		rec := &kgo.Record{Topic: topic, Key: []byte(c.Key()), Value: v}
		if c.TraceParent != "" {
			rec.Headers = []kgo.RecordHeader{{Key: "traceparent", Value: []byte(c.TraceParent)}}
		}
		if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
			h.t.Fatal(err)
		}
	}
}

// receipts reads the receipts topic until it holds want distinct receipt
// IDs, and returns every receipt read by command ID.
func (h *harness) receipts(want int) map[string][]records.Receipt {
	h.t.Helper()
	cl := kafkatest.Client(h.t, h.brokers, kgo.ConsumeTopics(h.prefix+"receipts"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxWait(100*time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got := map[string][]records.Receipt{}
	ids := map[string]bool{}
	for len(ids) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			h.t.Fatalf("%d distinct receipts within 30s, want %d: %v", len(ids), want, got)
		}
		for _, r := range fs.Records() {
			var rc records.Receipt
			if err := h.codec.Decode(ctx, r.Value, &rc); err != nil {
				h.t.Fatal(err)
			}
			if string(r.Key) != rc.UserID {
				h.t.Errorf("receipt %s keyed %q, want the user ID %q", rc.ReceiptID, r.Key, rc.UserID)
			}
			got[rc.CommandID] = append(got[rc.CommandID], rc)
			ids[rc.ReceiptID] = true
		}
	}
	return got
}

// TestSenderDeliversDespiteMisbehavingEndpoint: every command reaches the
// endpoint exactly once as far as the endpoint can tell (Idempotency-Key),
// signed and complete; transient failures are retried, 429 waits as long
// as Retry-After says, 400 and deadlines end in a failed receipt, and
// commands of an aborted transaction are never sent.
func TestSenderDeliversDespiteMisbehavingEndpoint(t *testing.T) {
	h := newHarness(t)
	ep, srv := newEndpoint(t)
	later := time.Now().Add(time.Hour)
	traced := command("ok-traced", "u-traced", later)
	traced.TraceParent = traceparent
	delivered := []records.SendCommand{
		command("ok-1", "u1", later), command("ok-2", "u2", time.Time{}), traced,
		command("fail500-1", "u3", later), command("slow-1", "u4", later), command("throttle-1", "u5", later),
	}
	downDeadline := time.Now().Add(1500 * time.Millisecond)
	failed := map[string]string{ // command ID -> part of the failure reason
		"reject-1":  "HTTP 400",
		"down-1":    "deadline passed",
		"expired-1": "before the first attempt",
	}
	cmds := append([]records.SendCommand{}, delivered...)
	cmds = append(cmds, command("reject-1", "u6", later), command("down-1", "u7", downDeadline), command("expired-1", "u8", time.Now().Add(-time.Minute)))

	// An aborted transaction's command is invisible to a read_committed sender.
	tx := kafkatest.Client(t, h.brokers, kgo.TransactionalID(h.prefix+"tx"))
	if err := tx.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	h.produce(tx, command("aborted-1", "u9", later))
	if err := tx.EndTransaction(context.Background(), kgo.TryAbort); err != nil {
		t.Fatal(err)
	}
	h.produce(kafkatest.Client(t, h.brokers), cmds...)

	stop := start(t, h.sender(srv.URL))
	got := h.receipts(len(cmds))
	stop()

	tries, accepts, dups := ep.snapshot()
	for _, c := range delivered {
		rs := got[c.CommandID]
		if len(rs) != 1 || rs[0].Status != records.ReceiptDelivered || rs[0].ReceiptID != c.CommandID+"/delivered" ||
			rs[0].UserID != c.UserID || rs[0].Channel != "webhook" {
			t.Errorf("%s: receipts %+v, want one delivered receipt %s/delivered", c.CommandID, rs, c.CommandID)
		}
		if accepts[c.CommandID] != 1 {
			t.Errorf("%s: accepted %d times, want 1 (tries %d, duplicates %d)", c.CommandID, accepts[c.CommandID], len(tries[c.CommandID]), dups[c.CommandID])
		}
	}
	for id, reason := range failed {
		rs := got[id]
		if len(rs) != 1 || rs[0].Status != records.ReceiptFailed || rs[0].ReceiptID != id+"/failed" || !strings.Contains(rs[0].FailureReason, reason) {
			t.Errorf("%s: receipts %+v, want one failed receipt mentioning %q", id, rs, reason)
		}
		if accepts[id] != 0 {
			t.Errorf("%s: accepted %d times, want 0", id, accepts[id])
		}
	}
	if n := len(tries["fail500-1"]); n != 3 {
		t.Errorf("fail500-1: %d attempts, want 3 (two 500s, then success)", n)
	}
	if n := len(tries["slow-1"]); n < 2 {
		t.Errorf("slow-1: %d attempts, want a retry after the timed-out one", n)
	}
	if ts := tries["throttle-1"]; len(ts) != 2 {
		t.Errorf("throttle-1: %d attempts, want 2", len(ts))
	} else if gap := ts[1].Sub(ts[0]); gap < 900*time.Millisecond || gap > 5*time.Second {
		t.Errorf("throttle-1: retried %v after the 429, want about Retry-After: 1 (the backoff alone is under 100ms)", gap)
	}
	if n := len(tries["reject-1"]); n != 1 {
		t.Errorf("reject-1: %d attempts, want 1: a 400 is permanent", n)
	}
	if ts := tries["down-1"]; len(ts) < 2 {
		t.Errorf("down-1: %d attempts, want retries until the deadline", len(ts))
	} else if last := ts[len(ts)-1]; last.After(downDeadline) {
		t.Errorf("down-1: attempt at %v, after the deadline %v", last, downDeadline)
	}
	for _, id := range []string{"expired-1", "aborted-1"} {
		if n := len(tries[id]); n != 0 {
			t.Errorf("%s: %d attempts, want none", id, n)
		}
	}
	if _, ok := got["aborted-1"]; ok {
		t.Errorf("aborted-1: a receipt for a command of an aborted transaction")
	}

	ep.mu.Lock()
	defer ep.mu.Unlock()
	if len(ep.badSigs) > 0 {
		t.Errorf("requests with a bad signature, body or headers: %v", ep.badSigs)
	}
	if ep.traces["ok-traced"] != traceparent || ep.traces["ok-1"] != "" {
		t.Errorf("traceparent headers %q and %q, want %q and none", ep.traces["ok-traced"], ep.traces["ok-1"], traceparent)
	}
	b, want := ep.bodies["ok-1"], delivered[0]
	var payload map[string]any
	_ = json.Unmarshal(b.Payload, &payload)
	if b.UserID != want.UserID || b.Recipient != want.Recipient || b.JourneyID != "welcome" || b.JourneyVersion != 3 ||
		b.InstanceID != want.InstanceID || b.StepID != "notify" || b.Channel != "webhook" || b.TemplateID != "welcome-1" ||
		b.Locale != "en-GB" || !b.CreatedAt.Equal(want.CreatedAt) || b.Deadline == nil || !b.Deadline.Equal(want.Deadline.Truncate(time.Millisecond)) ||
		!reflect.DeepEqual(payload, map[string]any{"first_name": "Ada", "cart": map[string]any{"items": 2.0}}) {
		t.Errorf("body of ok-1 = %+v (payload %s), want the command's fields", b, b.Payload)
	}
	if ep.bodies["ok-2"].Deadline != nil {
		t.Errorf("ok-2 never expires, but its body has deadline %v", ep.bodies["ok-2"].Deadline)
	}
}

// TestSenderRestartLosesNothing: a sender that stops mid-request (the
// endpoint processed the command, the response never arrived) has not
// committed that command, so the next sender of the group sends it again,
// along with everything after it. Delivery is at-least-once: the endpoint
// sees the command twice, and its Idempotency-Key lets it accept it once.
func TestSenderRestartLosesNothing(t *testing.T) {
	h := newHarness(t)
	ep, srv := newEndpoint(t)
	producer := kafkatest.Client(t, h.brokers)
	later := time.Now().Add(time.Hour)
	var ids []string
	add := func(id, user string) {
		ids = append(ids, id)
		h.produce(producer, command(id, user, later))
	}
	for i := range 6 {
		add("before-"+string(rune('a'+i)), "u"+string(rune('a'+i)))
	}
	add("hang-1", "u-hang")
	for i := range 6 {
		add("after-"+string(rune('a'+i)), "u"+string(rune('a'+i)))
	}

	stop := start(t, h.sender(srv.URL))
	select {
	case <-ep.hanging:
	case <-time.After(30 * time.Second):
		t.Fatal("the sender never reached hang-1")
	}
	stop() // the crash: hang-1 is in flight, its response lost

	for i := range 4 {
		add("while-stopped-"+string(rune('a'+i)), "v"+string(rune('a'+i)))
	}
	start(t, h.sender(srv.URL)) // same group
	got := h.receipts(len(ids))

	tries, accepts, dups := ep.snapshot()
	for _, id := range ids {
		if accepts[id] != 1 {
			t.Errorf("%s: accepted %d times, want exactly 1", id, accepts[id])
		}
		if len(got[id]) == 0 || got[id][0].Status != records.ReceiptDelivered {
			t.Errorf("%s: receipts %+v, want delivered", id, got[id])
		}
		for _, rc := range got[id] {
			if rc.ReceiptID != id+"/delivered" {
				t.Errorf("%s: receipt ID %s, want %s/delivered whichever run produced it", id, rc.ReceiptID, id)
			}
		}
	}
	if n := len(tries["hang-1"]); n != 2 || dups["hang-1"] != 1 {
		t.Errorf("hang-1: %d attempts, %d duplicates; want 2 and 1: sent again after the restart, de-duplicated by the endpoint", n, dups["hang-1"])
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestSenderDeadLettersUndecodableCommands: a record of the commands topic
// that is not a send command goes to the dead-letter topic with the reason
// and its origin, and the commands after it are delivered; a tombstone (a
// forgotten user) is skipped, neither posted nor dead-lettered.
func TestSenderDeadLettersUndecodableCommands(t *testing.T) {
	h := newHarness(t)
	var posts atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { posts.Add(1) }))
	defer srv.Close()
	cl := kafkatest.Client(t, h.brokers)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// A tombstone (the engine forgot a user) is neither delivered nor
	// dead-lettered.
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: h.prefix + "send.webhook", Key: []byte("u1")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: h.prefix + "send.webhook", Key: []byte("u1"), Value: []byte("not avro")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	h.produce(cl, records.SendCommand{CommandID: "after", JourneyID: "j", InstanceID: "i", StepID: "s", UserID: "u1", Channel: "webhook",
		Recipient: "u1", Payload: records.JSON(`{}`), CreatedAt: time.Now(), Deadline: time.Now().Add(time.Hour)})
	defer start(t, h.sender(srv.URL))()
	if got := h.receipts(1); got["after"] == nil {
		t.Fatalf("receipts %v", got)
	}
	dlq := kafkatest.Client(t, h.brokers, kgo.ConsumeTopics(h.prefix+"dlq"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	fs := dlq.PollFetches(ctx)
	recs := fs.Records()
	if len(recs) != 1 || string(recs[0].Value) != "not avro" {
		t.Fatalf("dead letters %v (%v)", recs, fs.Err0())
	}
	headers := map[string]string{}
	for _, hd := range recs[0].Headers {
		headers[hd.Key] = string(hd.Value)
	}
	if !strings.HasPrefix(headers["beckon.dlq.reason"], "decode send command") || headers["beckon.dlq.topic"] != h.prefix+"send.webhook" || headers["beckon.dlq.offset"] != "1" {
		t.Errorf("dead-letter headers %v", headers)
	}
	if n := posts.Load(); n != 1 {
		t.Errorf("%d posts, want 1 (the command, not the tombstone)", n)
	}
}
