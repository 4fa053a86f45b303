package simulate

import (
	"cmp"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/beckon-dev/beckon/pkg/journey"
	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/pkg/timeline"
)

// maxReasons bounds the distinct reasons a count keeps: error reasons
// carry what the expression met, and a draft can fail a different way
// for every user. The rest are counted under otherReason.
const (
	maxReasons  = 50
	otherReason = "(other reasons)"
)

// maxSampleEntries bounds a sample timeline's entries.
const maxSampleEntries = 100

// counts counts by reason.
type counts map[string]int64

func (c counts) add(reason string, n int64) {
	if _, ok := c[reason]; !ok && len(c) >= maxReasons {
		reason = otherReason
	}
	c[reason] += n
}

func (c counts) list() []Count {
	out := make([]Count, 0, len(c))
	for r, n := range c {
		out = append(out, Count{Reason: r, Count: n})
	}
	slices.SortFunc(out, func(a, b Count) int {
		if a.Count != b.Count {
			return cmp.Compare(b.Count, a.Count)
		}
		return strings.Compare(a.Reason, b.Reason)
	})
	return out
}

type sendKey struct{ step, channel, template string }

// tally is what one partition's simulation counted; partitions' tallies
// are merged into the report.
type tally struct {
	in                                 Input
	entered, enteredUsers, active, cvt int64
	exited, skipped, held, errors      counts
	sends                              map[sendKey]int64
	byHour                             [24]int64
	byDay                              map[string]int64
	sinceEntry                         []int64
	users                              map[string]bool // entered, in this partition
	// samples are the timelines of the first instances to enter, at
	// most world.samples per outcome once finished (see pickSamples).
	samples   []*timeline.InstanceTimeline
	sampleIdx map[string]int
}

func newTally() *tally {
	return &tally{
		exited: counts{}, skipped: counts{}, held: counts{}, errors: counts{},
		sends: map[sendKey]int64{}, byDay: map[string]int64{}, sinceEntry: make([]int64, len(sinceEntryBounds)+1),
		users: map[string]bool{}, sampleIdx: map[string]int{},
	}
}

func (t *tally) sample(instance string) *timeline.InstanceTimeline {
	if i, ok := t.sampleIdx[instance]; ok {
		return t.samples[i]
	}
	return nil
}

// samplesKept is how many instances' timelines a partition records, of
// which the report keeps world.samples: enough to find different
// outcomes among the first instances.
func (w *world) samplesKept() int { return 8 * w.samples }

// tallyEffects counts one Apply's effects. Only the simulated journey's
// activities count: a receipt of a live journey's command records a
// skipped activity of no journey.
func (r *runner) tallyEffects(fx *journey.Effects, ti *timeline.Input) {
	t, id := r.t, r.w.j.Def.ID
	for i := range fx.Activities {
		a := &fx.Activities[i]
		if a.JourneyID != id {
			continue
		}
		switch a.Kind {
		case records.ActivityEntered:
			t.entered++
			r.entered[a.InstanceID] = a.At
			if !t.users[a.UserID] {
				t.users[a.UserID] = true
				t.enteredUsers++
			}
			if len(t.samples) < r.w.samplesKept() {
				t.sampleIdx[a.InstanceID] = len(t.samples)
				t.samples = append(t.samples, &timeline.InstanceTimeline{Instance: timeline.Instance{
					ID: timeline.Ref(a.UserID, a.InstanceID), InstanceID: a.InstanceID, UserID: a.UserID,
					JourneyID: a.JourneyID, JourneyVersion: a.JourneyVersion, EntryKey: a.EntryKey, TraceID: a.TraceID,
					EnteredAt: a.At,
				}, Partition: r.p.id})
			}
		case records.ActivityExited:
			t.exited.add(a.Reason, 1)
			if s := t.sample(a.InstanceID); s != nil {
				s.Status, s.ExitReason = "exited", a.Reason
			}
		case records.ActivityConverted:
			t.cvt++
		case records.ActivitySkipped:
			t.skipped.add(skipReason(a.Reason), 1)
		case records.ActivityWaiting:
			if held, ok := strings.CutPrefix(a.Reason, "send held: "); ok {
				t.held.add(held, 1)
			}
		case records.ActivityError:
			t.errors.add(a.Reason, 1)
		}
		if s := t.sample(a.InstanceID); s != nil && a.InstanceID != "" {
			r.addEntry(s, a, fx, ti)
		}
	}
	for i := range fx.Sends {
		c := &fx.Sends[i]
		if c.JourneyID != id {
			continue
		}
		if r.w.sends != nil {
			r.w.sends(*c)
		}
		t.sends[sendKey{c.StepID, c.Channel, c.TemplateID}]++
		local := c.CreatedAt.In(r.w.zone)
		t.byHour[local.Hour()]++
		t.byDay[local.Format(time.DateOnly)]++
		if in, ok := r.entered[c.InstanceID]; ok {
			d := c.CreatedAt.Sub(in)
			b, _ := slices.BinarySearch(sinceEntryBounds, d)
			t.sinceEntry[b]++
		}
	}
}

// skipReason is a skip's reason without what varies from one user to
// the next ("reentry cooldown: entered 3m0s ago" counts as "reentry
// cooldown").
func skipReason(reason string) string {
	r, _, _ := strings.Cut(reason, ": ")
	return r
}

// addEntry appends an activity to a sample timeline, with its send
// command when it is a send.
func (r *runner) addEntry(s *timeline.InstanceTimeline, a *records.Activity, fx *journey.Effects, ti *timeline.Input) {
	e := timeline.Entry{
		Seq: len(s.Entries) + 1, At: a.At, Kind: string(a.Kind), Step: a.StepID, Reason: a.Reason,
		ActivityID: a.ActivityID, SpanID: a.SpanID, Input: ti,
	}
	if len(a.Details) > 0 {
		e.Details = json.RawMessage(a.Details)
	}
	if a.Kind == records.ActivitySent {
		var d struct {
			CommandID string `json:"command_id"`
		}
		_ = json.Unmarshal(a.Details, &d)
		for i := range fx.Sends {
			if c := &fx.Sends[i]; c.CommandID == d.CommandID {
				e.Send = &timeline.Send{CommandID: c.CommandID, Channel: c.Channel, Template: c.TemplateID, Recipient: c.Recipient,
					Locale: c.Locale, Payload: json.RawMessage(c.Payload), Deadline: c.Deadline}
			}
		}
	}
	if len(s.Entries) >= maxSampleEntries {
		// A long-lived instance (a hold reset a thousand times) keeps
		// its latest entries, as a timeline's retention does.
		e.Seq = s.Entries[len(s.Entries)-1].Seq + 1
		s.Entries, s.Truncated = slices.Delete(s.Entries, 0, 1), true
	}
	s.Entries = append(s.Entries, e)
	s.LastAt, s.Step = a.At, a.StepID
	if s.Status == "" {
		s.Status = "active"
	}
}

// merge adds o's counts to t.
func (t *tally) merge(o *tally) {
	t.in.Events += o.in.Events
	t.in.Receipts += o.in.Receipts
	t.in.Users += o.in.Users
	t.in.Timers += o.in.Timers
	t.in.Undecodable += o.in.Undecodable
	t.entered += o.entered
	t.enteredUsers += o.enteredUsers
	t.active += o.active
	t.cvt += o.cvt
	for _, p := range []struct{ to, from counts }{{t.exited, o.exited}, {t.skipped, o.skipped}, {t.held, o.held}, {t.errors, o.errors}} {
		for r, n := range p.from {
			p.to.add(r, n)
		}
	}
	for k, n := range o.sends {
		t.sends[k] += n
	}
	for h, n := range o.byHour {
		t.byHour[h] += n
	}
	for d, n := range o.byDay {
		t.byDay[d] += n
	}
	for b, n := range o.sinceEntry {
		t.sinceEntry[b] += n
	}
	t.samples = append(t.samples, o.samples...)
}

// report makes the report of the merged tally.
func (t *tally) report(w *world, version int32) *Report {
	rep := &Report{
		JourneyID: w.j.Def.ID, Version: version, From: w.from, To: w.to, Input: t.in,
		Entered: t.entered, EnteredUsers: t.enteredUsers, Active: t.active, Converted: t.cvt,
		Exited: t.exited.list(), Skipped: t.skipped.list(), Held: t.held.list(), Errors: t.errors.list(),
		Sends:   []StepSends{},
		Samples: pickSamples(t.samples, w.samples),
	}
	for k, n := range t.sends {
		rep.Sends = append(rep.Sends, StepSends{Step: k.step, Channel: k.channel, Template: k.template, Count: n})
	}
	slices.SortFunc(rep.Sends, func(a, b StepSends) int {
		return cmp.Or(strings.Compare(a.Step, b.Step), strings.Compare(a.Channel, b.Channel), strings.Compare(a.Template, b.Template))
	})
	rep.SendTimes = SendTimes{TimeZone: w.zone.String(), ByHour: t.byHour, ByDay: []DayCount{}}
	for d, n := range t.byDay {
		rep.SendTimes.ByDay = append(rep.SendTimes.ByDay, DayCount{Day: d, Count: n})
	}
	slices.SortFunc(rep.SendTimes.ByDay, func(a, b DayCount) int { return strings.Compare(a.Day, b.Day) })
	for i, n := range t.sinceEntry {
		b := Bucket{Count: n}
		if i < len(sinceEntryBounds) {
			b.UpTo, b.UpToSeconds = sinceEntryBounds[i].String(), int64(sinceEntryBounds[i]/time.Second)
		}
		rep.SendTimes.SinceEntry = append(rep.SendTimes.SinceEntry, b)
	}
	return rep
}

// pickSamples picks n timelines that show different outcomes: the
// earliest to enter of each outcome (an exit reason, or still active)
// in turn, those with a send first.
func pickSamples(all []*timeline.InstanceTimeline, n int) []timeline.InstanceTimeline {
	slices.SortFunc(all, func(a, b *timeline.InstanceTimeline) int {
		return cmp.Or(b2i(hasSend(b))-b2i(hasSend(a)), a.EnteredAt.Compare(b.EnteredAt), strings.Compare(a.ID, b.ID))
	})
	byOutcome := map[string][]*timeline.InstanceTimeline{}
	var outcomes []string
	for _, s := range all {
		o := s.Status + " " + s.ExitReason
		if _, ok := byOutcome[o]; !ok {
			outcomes = append(outcomes, o)
		}
		byOutcome[o] = append(byOutcome[o], s)
	}
	out := []timeline.InstanceTimeline{}
	for len(out) < n {
		took := false
		for _, o := range outcomes {
			if q := byOutcome[o]; len(q) > 0 && len(out) < n {
				out = append(out, *q[0])
				byOutcome[o] = q[1:]
				took = true
			}
		}
		if !took {
			break
		}
	}
	return out
}

func hasSend(s *timeline.InstanceTimeline) bool {
	return slices.ContainsFunc(s.Entries, func(e timeline.Entry) bool { return e.Send != nil })
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
