package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beckon-dev/beckon/pkg/engine"
	"github.com/beckon-dev/beckon/pkg/kafkatest"
	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/pkg/stream"
	"github.com/beckon-dev/beckon/pkg/timeline"
)

// queryEngine is one engine instance of a routing test, with its
// timeline processor beside it as the engine service runs them, and its
// query server, which counts the answers it gave.
type queryEngine struct {
	name     string
	e        *engine.Engine
	tp       *timeline.Processor
	addr     string
	answered atomic.Int64
	stop     context.CancelFunc
	done     chan error
}

// startQueryEngine runs another engine instance in h's group, and a
// timeline processor in the timeline group advertising a query server of
// its own.
func (h *harness) startQueryEngine(name string) *queryEngine {
	h.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		h.t.Fatal(err)
	}
	kopts := []kgo.Opt{kgo.SeedBrokers(h.brokers...)}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	e, err := engine.New(engine.Config{
		Kafka: kopts, Topics: h.layout, Codec: h.codec, StateDir: h.t.TempDir(), InstanceID: name,
		Group: h.group, Stream: stream.Options{Clock: h.clock.now, PollWait: 20 * time.Millisecond}, Logger: logger,
	})
	if err != nil {
		h.t.Fatal(err)
	}
	tp, err := timeline.New(timeline.Config{Topics: h.layout, Codec: h.codec, Group: timeline.GroupBeside(h.group), QueryAddr: ln.Addr().String(), Logger: logger})
	if err != nil {
		h.t.Fatal(err)
	}
	run, err := tp.Alongside(stream.Options{Kafka: kopts, StateDir: h.t.TempDir(), InstanceID: name, Clock: h.clock.now, PollWait: 20 * time.Millisecond, Logger: logger}, e.Run)
	if err != nil {
		h.t.Fatal(err)
	}
	qe := &queryEngine{name: name, e: e, tp: tp, addr: ln.Addr().String(), done: make(chan error, 1)}
	q := tp.QueryHandler()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		q.ServeHTTP(rec, r)
		if rec.Code == http.StatusOK {
			qe.answered.Add(1)
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	})}
	go func() { _ = srv.Serve(ln) }()
	h.t.Cleanup(func() { _ = srv.Close() })
	ctx, cancel := context.WithCancel(h.ctx)
	qe.stop = cancel
	go func() { qe.done <- run(ctx) }()
	h.t.Cleanup(func() {
		cancel()
		if err := <-qe.done; err != nil {
			h.t.Error(err)
		}
	})
	return qe
}

// settled waits until the running engines' timeline processors own
// every partition between them, each at least one, all restored.
func settled(t *testing.T, partitions int, engines ...*queryEngine) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var all []int32
		ok := true
		for _, qe := range engines {
			ps := qe.tp.Partitions()
			ok = ok && len(ps) > 0 && qe.tp.Ready() && qe.e.Ready()
			all = append(all, ps...)
		}
		slices.Sort(all)
		if ok && len(all) == partitions && len(slices.Compact(all)) == partitions {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("engines did not settle on %d partitions: %v", partitions, all)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// routed is the api service's side: the router's two handlers on a mux.
func (h *harness) routed(ttl time.Duration) http.Handler {
	h.t.Helper()
	rt, err := timeline.NewRouter(timeline.RouterConfig{
		Admin: kadm.NewClient(kafkatest.Client(h.t, h.brokers)), Group: timeline.GroupBeside(h.group), Topic: h.topic("activity"), OwnersTTL: ttl,
	})
	if err != nil {
		h.t.Fatal(err)
	}
	mux := http.NewServeMux()
	rt.Mount(func(method, pattern string, h http.Handler) { mux.Handle(method+" "+pattern, h) })
	return mux
}

// answer is one routed query's outcome.
type answer struct {
	code       int
	retryAfter string
	body       []byte
}

func ask(api http.Handler, path string) answer {
	rec := httptest.NewRecorder()
	api.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return answer{rec.Code, rec.Header().Get("Retry-After"), rec.Body.Bytes()}
}

// checkAnswer fails unless a is either the right answer about user (one
// abandoned-cart instance, on the user's partition) or a 503 with
// Retry-After and a JSON error body: never a wrong or partial answer.
func checkAnswer(t *testing.T, a answer, user string, partitions int32) (ok bool) {
	t.Helper()
	return checkAnswerWhile(t, a, user, partitions, false)
}

// checkAnswerWhile is checkAnswer; entering, the user may have no
// instance yet (its event not processed), which is not ok either.
func checkAnswerWhile(t *testing.T, a answer, user string, partitions int32, entering bool) (ok bool) {
	t.Helper()
	switch a.code {
	case http.StatusOK:
		var ui timeline.UserInstances
		if err := json.Unmarshal(a.body, &ui); err != nil {
			t.Fatalf("user %s: %v: %s", user, err, a.body)
		}
		if entering && ui.UserID == user && len(ui.Instances) == 0 {
			return false
		}
		if ui.UserID != user || ui.Partition != stream.PartitionFor([]byte(user), partitions) || len(ui.Instances) != 1 || ui.Instances[0].JourneyID != "abandoned-cart" {
			t.Fatalf("user %s: wrong answer %s", user, a.body)
		}
		return true
	case http.StatusServiceUnavailable:
		var eb timeline.ErrorBody
		if err := json.Unmarshal(a.body, &eb); err != nil || eb.Error.Code != "unavailable" || eb.Error.Message == "" || a.retryAfter == "" {
			t.Fatalf("user %s: 503 without Retry-After or JSON error: %q %s", user, a.retryAfter, a.body)
		}
		return false
	default:
		t.Fatalf("user %s: status %d: %s", user, a.code, a.body)
		return false
	}
}

const routingPartitions = 6

func routingUsers() []string {
	var users []string
	for i := range 24 {
		users = append(users, fmt.Sprintf("user-%02d", i))
	}
	return users
}

// enterAll puts every user in the abandoned-cart journey and waits until
// each is answered through the router.
func enterAll(t *testing.T, h *harness, api http.Handler, users []string) {
	t.Helper()
	for _, u := range users {
		h.event(u, "Product Added", `{"cart_id":"cart-`+u+`","sku":"A"}`)
	}
	deadline := time.Now().Add(60 * time.Second)
	for _, u := range users {
		for !checkAnswerWhile(t, ask(api, "/v1/users/"+u+"/instances"), u, routingPartitions, true) {
			if time.Now().After(deadline) {
				t.Fatalf("user %s not answered within 60s", u)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// TestRoutingThreeEngines: three engine instances in one group; every
// user's instances and each instance's timeline are answered through the
// router by the engine that owns the user's partition, and every engine
// answers for its own users.
func TestRoutingThreeEngines(t *testing.T) {
	h := newHarnessPartitions(t, routingPartitions)
	if _, err := h.control.Publish(h.ctx, []byte(cartJourney), records.FormatYAML); err != nil {
		t.Fatal(err)
	}
	engines := []*queryEngine{h.startQueryEngine("engine-a"), h.startQueryEngine("engine-b"), h.startQueryEngine("engine-c")}
	settled(t, routingPartitions, engines...)
	api := h.routed(time.Second)
	users := routingUsers()
	enterAll(t, h, api, users)

	for _, u := range users {
		var ui timeline.UserInstances
		a := ask(api, "/v1/users/"+u+"/instances")
		if !checkAnswer(t, a, u, routingPartitions) {
			t.Fatalf("user %s: 503 with the group settled: %s", u, a.body)
		}
		_ = json.Unmarshal(a.body, &ui)
		// The owner of the user's partition is the only engine that can
		// have answered: the others refuse.
		owners := 0
		for _, qe := range engines {
			if slices.Contains(qe.tp.Partitions(), ui.Partition) {
				owners++
			}
		}
		if owners != 1 {
			t.Fatalf("partition %d has %d owners", ui.Partition, owners)
		}
		a = ask(api, "/v1/instances/"+ui.Instances[0].ID)
		var tl timeline.InstanceTimeline
		if a.code != http.StatusOK || json.Unmarshal(a.body, &tl) != nil || tl.UserID != u || tl.InstanceID != ui.Instances[0].InstanceID || len(tl.Entries) == 0 || tl.Entries[0].Kind != "entered" {
			t.Fatalf("timeline of %s: %d %s", ui.Instances[0].ID, a.code, a.body)
		}
	}
	for _, qe := range engines {
		if qe.answered.Load() == 0 {
			t.Errorf("%s answered no query: routing did not spread by partition", qe.name)
		}
	}
	// A malformed instance reference is the caller's error.
	if a := ask(api, "/v1/instances/not-a-ref"); a.code != http.StatusBadRequest {
		t.Errorf("malformed reference: %d %s", a.code, a.body)
	}
}

// TestRoutingRebalance: while an engine leaves and its partitions move,
// every answer is right or a 503 with Retry-After; the engine that has
// just lost a partition refuses to answer for it (the router's view is
// stale); once the group settles every user is answered again.
func TestRoutingRebalance(t *testing.T) {
	h := newHarnessPartitions(t, routingPartitions)
	if _, err := h.control.Publish(h.ctx, []byte(cartJourney), records.FormatYAML); err != nil {
		t.Fatal(err)
	}
	a, b, c := h.startQueryEngine("engine-a"), h.startQueryEngine("engine-b"), h.startQueryEngine("engine-c")
	settled(t, routingPartitions, a, b, c)
	users := routingUsers()
	enterAll(t, h, h.routed(time.Second), users)

	// A router that keeps the owners it read for a minute: after b
	// leaves it still sends b's users to b.
	stale := h.routed(time.Minute)
	var ofB []string
	for _, u := range users {
		if slices.Contains(b.tp.Partitions(), stream.PartitionFor([]byte(u), routingPartitions)) {
			ofB = append(ofB, u)
		}
		checkAnswer(t, ask(stale, "/v1/users/"+u+"/instances"), u, routingPartitions)
	}
	if len(ofB) == 0 {
		t.Fatal("engine b owns no user of the test")
	}

	// Meanwhile another client asks for every user, all the time. It
	// reads the timeline group's state around each round of questions:
	// in a round that runs wholly inside the rebalance, well after its
	// router's owners have expired, the users whose partitions stay
	// where they are can still be answered (the router asks the owners
	// of the last settled group); the test logs how many were.
	live := h.routed(200 * time.Millisecond)
	adm := kadm.NewClient(kafkatest.Client(t, h.brokers))
	state := func() string {
		gs, err := adm.DescribeGroups(h.ctx, timeline.GroupBeside(h.group))
		if err != nil {
			return ""
		}
		return gs[timeline.GroupBeside(h.group)].State
	}
	var refused, answered, keptAsked, keptAnswered atomic.Int64
	pollCtx, stopPolling := context.WithCancel(h.ctx)
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		var rebalancing time.Time // since when the group is seen rebalancing
		for pollCtx.Err() == nil {
			before := state()
			switch {
			case before == "Stable" || before == "":
				rebalancing = time.Time{}
			case rebalancing.IsZero():
				rebalancing = time.Now()
			}
			inside := !rebalancing.IsZero() && time.Since(rebalancing) > time.Second
			var kept, keptOK int64
			for _, u := range users {
				ok := checkAnswer(t, ask(live, "/v1/users/"+u+"/instances"), u, routingPartitions)
				if ok {
					answered.Add(1)
				} else {
					refused.Add(1)
				}
				if !slices.Contains(ofB, u) {
					kept++
					if ok {
						keptOK++
					}
				}
			}
			if after := state(); inside && after != "Stable" && after != "" {
				keptAsked.Add(kept)
				keptAnswered.Add(keptOK)
			}
			time.Sleep(10 * time.Millisecond) // a client, not a load test
		}
	}()

	b.stop()
	if err := <-b.done; err != nil {
		t.Fatal(err)
	}
	b.done <- nil // for the cleanup
	// b's query server is still up, but b owns nothing now: the stale
	// router's first answer for b's user is b's refusal.
	first := ask(stale, "/v1/users/"+ofB[0]+"/instances")
	if checkAnswer(t, first, ofB[0], routingPartitions) {
		t.Fatalf("an engine that left answered for its old partition: %s", first.body)
	}
	settled(t, routingPartitions, a, c)
	deadline := time.Now().Add(30 * time.Second)
	for _, u := range users {
		for !checkAnswer(t, ask(stale, "/v1/users/"+u+"/instances"), u, routingPartitions) {
			if time.Now().After(deadline) {
				t.Fatalf("user %s not answered after the rebalance", u)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// The polling client answers again too, once its router has read the
	// settled group (on a loaded machine it may have seen only 503s so
	// far: each of them was checked to be well formed).
	for answered.Load() == 0 {
		if time.Now().After(deadline) {
			t.Errorf("the polling client got no right answer within 30s (%d 503s)", refused.Load())
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	stopPolling()
	<-polled
	t.Logf("while b left: %d right answers, %d 503s; inside the rebalance %d of %d questions about users whose partitions stayed were answered",
		answered.Load(), refused.Load(), keptAnswered.Load(), keptAsked.Load())
	// Answering them is best effort, not a promise: an owner that is
	// itself revoking or restoring in that round refuses, and 503 is the
	// right answer then. (A CI run under -race answered 0 of 1,596.) What
	// is checked is that no answer is ever wrong or partial, above.
}
