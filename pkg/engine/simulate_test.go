package engine_test

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beckon-dev/beckon/pkg/journey"
	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/pkg/simulate"
)

// The simulation of a journey over a history gives the send commands the
// engine produced for that history: the engine runs the abandoned-cart
// example on the test broker with a virtual clock that the test moves
// to every moment the engine said it would wake up (the "until" of its
// waiting activities) and to every input; then the simulation reads the
// same topics and runs the same definition, and the two lists of send
// commands are compared field by field, times included.

// simHistory is a driven engine: every record carries the virtual clock
// as its Kafka timestamp, which is the simulation's virtual time.
type simHistory struct {
	*harness
	users  []string
	tap    *tap
	probes map[string]int
	msgs   int
}

// produceNow writes r keyed by key, stamped with the virtual clock.
func (s *simHistory) produceNow(base, key string, r records.Record) {
	s.t.Helper()
	rec := &kgo.Record{Topic: s.topic(base), Key: []byte(key), Value: s.encode(base, r), Timestamp: s.clock.now()}
	if err := s.cl.ProduceSync(s.ctx, rec).FirstErr(); err != nil {
		s.t.Fatal(err)
	}
}

func (s *simHistory) event(user, name, props string) {
	s.t.Helper()
	s.msgs++
	s.produceNow("events", user, records.Event{
		MessageID: fmt.Sprintf("sim-%d", s.msgs), Type: records.EventTrack, Name: name, UserID: user,
		Timestamp: s.clock.now(), Properties: records.JSON(props),
	})
}

// sync waits until the engine has processed every user's input so far
// and the timers due now (the probe barrier of the examples).
func (s *simHistory) sync() {
	s.t.Helper()
	for _, u := range s.users {
		s.probes[u]++
		s.event(u, "Test Probe", `{}`)
	}
	s.tap.waitFor(s.t, "the probes", func(tp *tapped) bool {
		seen := map[string]int{}
		for _, a := range tp.acts {
			if a.JourneyID == "test-probe" && a.Kind == records.ActivityEntered {
				seen[a.UserID]++
			}
		}
		for _, u := range s.users {
			if seen[u] < s.probes[u] {
				return false
			}
		}
		return true
	})
	s.tap.catchUp(s.t)
}

// nextWake is the earliest moment after the clock and before limit at
// which the engine said an instance would wake up, or false.
func (s *simHistory) nextWake(limit time.Time) (time.Time, bool) {
	now := s.clock.now()
	var next time.Time
	for _, a := range s.tap.snapshot().acts {
		if a.Kind != records.ActivityWaiting || a.JourneyID != "abandoned-cart" {
			continue
		}
		var d struct {
			Until string `json:"until"`
		}
		if json.Unmarshal(a.Details, &d) != nil || d.Until == "" {
			continue
		}
		u, err := time.Parse(time.RFC3339Nano, d.Until)
		if err == nil && u.After(now) && u.Before(limit) && (next.IsZero() || u.Before(next)) {
			next = u
		}
	}
	return next, !next.IsZero()
}

// runUntil moves the clock through every wake-up before t, letting the
// engine fire each, then to t.
func (s *simHistory) runUntil(t time.Time) {
	s.t.Helper()
	for {
		at, ok := s.nextWake(t)
		if !ok {
			break
		}
		s.clock.ns.Store(at.UnixNano())
		s.sync()
	}
	if t.After(s.clock.now()) {
		s.clock.ns.Store(t.UnixNano())
	}
}

// cartStep is one event of the scripted history.
type cartStep struct {
	at          time.Duration
	user, name  string
	props       string
	receiptOf   string // a receipt of this command ID instead of an event
	receiptChan string
}

// cartHistory scripts a few days of shopping for users: carts filled
// over minutes or hours, sometimes emptied, viewed or bought, started at
// any hour (so quiet hours hold some reminders), and a push unsubscribe.
func cartHistory(rng *rand.Rand, users []string) []cartStep {
	skus := []string{"HT-03", "SH-01", "SN-07"}
	var out []cartStep
	for i, u := range users {
		carts := 1 + rng.IntN(2)
		for c := range carts {
			cart := fmt.Sprintf("c-%s-%d", u, c)
			t := time.Duration(rng.IntN(30*60)) * time.Minute // within the first 30 hours
			added := []string{}
			for range 1 + rng.IntN(3) {
				sku := skus[rng.IntN(len(skus))]
				added = append(added, sku)
				out = append(out, cartStep{at: t, user: u, name: "Product Added", props: fmt.Sprintf(`{"cart_id":%q,"sku":%q,"name":"item %s","price":10,"quantity":1}`, cart, sku, sku)})
				t += time.Duration(1+rng.IntN(90)) * time.Minute
			}
			switch rng.IntN(5) {
			case 0: // empties the cart
				for _, sku := range added {
					out = append(out, cartStep{at: t, user: u, name: "Product Removed", props: fmt.Sprintf(`{"cart_id":%q,"sku":%q}`, cart, sku)})
				}
			case 1: // buys, soon or a day later
				t += time.Duration(rng.IntN(2*24*60)) * time.Minute
				out = append(out, cartStep{at: t, user: u, name: "Order Completed", props: fmt.Sprintf(`{"cart_id":%q,"order_id":"o-%s","total":10}`, cart, cart)})
			case 2: // looks again
				out = append(out, cartStep{at: t + time.Duration(rng.IntN(120))*time.Minute, user: u, name: "Cart Viewed", props: fmt.Sprintf(`{"cart_id":%q}`, cart)})
			}
			if i == 0 && c == 0 {
				// The first user unsubscribes from push through a receipt
				// of the first reminder, which goes out within a day.
				cmd := journey.CommandID(journey.InstanceID("abandoned-cart", u, cart, 1), "email-reminder", 1)
				out = append(out, cartStep{at: t + 25*time.Hour, user: u, receiptOf: cmd, receiptChan: "push"})
			}
		}
	}
	slices.SortStableFunc(out, func(a, b cartStep) int { return cmp.Compare(a.at, b.at) })
	return out
}

func TestSimulationMatchesEngine(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("BECKON_SIM_SEED"); v != "" {
		fmt.Sscan(v, &seed)
	}
	t.Logf("seed %d (BECKON_SIM_SEED=%d reproduces it)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, seed))

	h := newHarness(t)
	s := &simHistory{harness: h, users: []string{"u1", "u2", "u3", "u4", "u5", "u6"}, probes: map[string]int{}}
	from := h.clock.now()
	text, err := os.ReadFile(filepath.Join(examplesDir, "abandoned-cart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, def := range [][]byte{text, []byte(probeJourney)} {
		if _, err := h.control.Publish(h.ctx, def, records.FormatYAML); err != nil {
			t.Fatal(err)
		}
	}
	// Users in three time zones (quiet hours fall at different moments),
	// one without a profile; a catalog row, a loyalty fact.
	zones := []string{"Europe/London", "America/New_York", "Asia/Tokyo", "", "Europe/Paris"}
	for i, u := range s.users[:5] {
		s.produceNow("profiles", u, customer(u, zones[i]))
	}
	s.produceNow("lookups.catalog", "HT-03", records.LookupRecord{Table: "catalog", ID: "HT-03", Attributes: records.JSON(`{"name":"Straw hat","price":25,"size":"L","colour":"natural","image_url":"https://cdn.example.com/ht-03.jpg"}`)})
	s.produceNow("facts.loyalty", "u2", records.Fact{UserID: "u2", Name: "loyalty", Value: records.JSON(`{"tier":"gold","points":1200}`)})
	h.start()
	s.tap = h.newTap()
	// The engine reads tables beside the inputs: wait until it has every
	// profile, as the examples do.
	for range 100 {
		s.sync()
		n := 0
		for _, a := range s.tap.snapshot().acts {
			if a.JourneyID == "test-probe" && a.Reason == "probe with profile" && a.UserID != "u6" {
				n++
			}
		}
		if n >= 5 {
			break
		}
	}

	hist := cartHistory(rng, s.users)
	for i := 0; i < len(hist); {
		at := from.Add(hist[i].at)
		s.runUntil(at)
		for ; i < len(hist) && from.Add(hist[i].at).Equal(at); i++ {
			st := hist[i]
			if st.receiptOf != "" {
				s.msgs++
				s.produceNow("receipts", st.user, records.Receipt{ReceiptID: fmt.Sprintf("r-%d", s.msgs), CommandID: st.receiptOf, UserID: st.user,
					Channel: st.receiptChan, Status: records.ReceiptUnsubscribed, OccurredAt: at})
				continue
			}
			s.event(st.user, st.name, st.props)
		}
		s.sync()
	}
	to := from.Add(4 * 24 * time.Hour)
	s.runUntil(to)
	s.sync()

	var engineSends []records.SendCommand
	for _, c := range s.tap.snapshot().sends {
		if c.JourneyID == "abandoned-cart" {
			engineSends = append(engineSends, c)
		}
	}
	if len(engineSends) == 0 {
		t.Fatal("the engine sent nothing: the history tests nothing")
	}

	var simSends []records.SendCommand
	sends := make(chan records.SendCommand, 1000)
	rep, err := simulate.Run(h.ctx, text, simulate.Options{
		Kafka: []kgo.Opt{kgo.SeedBrokers(h.brokers...)}, Layout: h.layout, Codec: h.codec,
		From: from, To: to, Sends: func(c records.SendCommand) { sends <- c },
	})
	if err != nil {
		t.Fatal(err)
	}
	close(sends)
	for c := range sends {
		simSends = append(simSends, c)
	}
	byTimeAndID := func(a, b records.SendCommand) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.CommandID, b.CommandID))
	}
	slices.SortFunc(engineSends, byTimeAndID)
	slices.SortFunc(simSends, byTimeAndID)
	describe := func(cs []records.SendCommand) string {
		var b strings.Builder
		for _, c := range cs {
			fmt.Fprintf(&b, "  %v %s %s %s %s\n", c.CreatedAt.Sub(from), c.UserID, c.StepID, c.Channel, c.CommandID)
		}
		return b.String()
	}
	if len(simSends) != len(engineSends) {
		t.Fatalf("the simulation made %d sends, the engine %d (simulation input %+v)\nsimulation:\n%sengine:\n%s", len(simSends), len(engineSends), rep.Input, describe(simSends), describe(engineSends))
	}
	for i := range engineSends {
		e, s := engineSends[i], simSends[i]
		var ep, sp any
		if err := json.Unmarshal(e.Payload, &ep); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(s.Payload, &sp); err != nil {
			t.Fatal(err)
		}
		if e.CommandID != s.CommandID || e.UserID != s.UserID || e.StepID != s.StepID || e.Channel != s.Channel ||
			e.TemplateID != s.TemplateID || e.Recipient != s.Recipient || e.Locale != s.Locale || e.InstanceID != s.InstanceID ||
			!e.CreatedAt.Equal(s.CreatedAt) || !e.Deadline.Equal(s.Deadline) || !reflect.DeepEqual(ep, sp) {
			t.Fatalf("send %d differs:\nengine     %+v\nsimulation %+v\nengine payload     %s\nsimulation payload %s", i, e, s, e.Payload, s.Payload)
		}
	}

	// The report counts what the engine recorded.
	count := func(kind records.ActivityKind) (n int64, reasons map[string]int64) {
		reasons = map[string]int64{}
		for _, a := range s.tap.snapshot().acts {
			if a.JourneyID == "abandoned-cart" && a.Kind == kind {
				n++
				reasons[a.Reason]++
			}
		}
		return n, reasons
	}
	entered, _ := count(records.ActivityEntered)
	converted, _ := count(records.ActivityConverted)
	_, exited := count(records.ActivityExited)
	if rep.Entered != entered || rep.Converted != converted {
		t.Errorf("report: %d entered, %d converted; the engine %d, %d", rep.Entered, rep.Converted, entered, converted)
	}
	repExited := map[string]int64{}
	for _, c := range rep.Exited {
		repExited[c.Reason] = c.Count
	}
	if !reflect.DeepEqual(repExited, exited) {
		t.Errorf("report: exited %v; the engine %v", repExited, exited)
	}
	var sent int64
	for _, sc := range rep.Sends {
		sent += sc.Count
	}
	if sent != int64(len(engineSends)) {
		t.Errorf("report: %d sends; the engine %d", sent, len(engineSends))
	}
	t.Logf("%d sends match; report: entered %d, exited %v, skipped %v, held %v", len(engineSends), rep.Entered, rep.Exited, rep.Skipped, rep.Held)
}
