package journey

import (
	"fmt"
	"time"

	"github.com/beckon-dev/beckon/pkg/records"
)

// exitTarget is the reserved step reference that ends the instance.
const exitTarget = "exit"

// run executes steps from id until one waits or the instance ends. ev is
// the event that moved the instance, if any (it is the `event` of CEL
// expressions; otherwise the trigger event is).
func (a *applier) run(j *Journey, inst *Instance, id string, ev *records.Event) {
	for range maxStepsPerInput {
		if id == exitTarget || id == "" {
			a.end(inst, j, "completed")
			return
		}
		st, _, ok := j.Step(id)
		if !ok {
			a.activity(j, inst, records.ActivityError, "unknown step "+id, nil)
			a.end(inst, j, "error")
			return
		}
		if inst.Step != id {
			inst.Step, inst.StepAt, inst.Resets = id, a.now, 0
		}
		next, wait := a.step(j, inst, st, ev)
		if wait || a.err != nil {
			return
		}
		id = next
	}
	a.activity(j, inst, records.ActivityError, fmt.Sprintf("more than %d steps without a wait", maxStepsPerInput), nil)
	a.end(inst, j, "error")
}

// step executes one step and returns the next step, or wait true when the
// instance now waits (or ended).
func (a *applier) step(j *Journey, inst *Instance, st *Step, ev *records.Event) (next string, wait bool) {
	i := stepIndex(j, st.ID)
	switch {
	case st.Delay != nil:
		at, err := a.delayUntil(j, inst, st.Delay, ev)
		if err != nil {
			a.activity(j, inst, records.ActivityError, "delay: "+err.Error(), nil)
			a.end(inst, j, "error")
			return "", true
		}
		if !at.After(a.now) {
			a.activity(j, inst, records.ActivityStepCompleted, "delay already over", nil)
			return j.NextOf(i), false
		}
		a.waitUntil(j, inst, at, "delay")
		return "", true

	case st.Hold != nil:
		what := "hold"
		if st.Hold.Event != "" {
			what = "hold for " + st.Hold.Event
		}
		a.waitUntil(j, inst, a.now.Add(j.Duration(st.Hold.Timeout)), what)
		return "", true

	case st.Branch != nil:
		for ci, c := range st.Branch.Cases {
			if a.holds(j, inst, c.When, ev, nil, fmt.Sprintf("steps.%s.branch.cases[%d].when", st.ID, ci)) {
				a.activity(j, inst, records.ActivityStepCompleted, fmt.Sprintf("branch case %d", ci), map[string]any{"next": c.Next})
				return c.Next, false
			}
		}
		a.activity(j, inst, records.ActivityStepCompleted, "branch else", nil)
		return orNext(j, st.ID, st.Branch.Else), false

	case st.Split != nil:
		return a.split(j, inst, st)

	case st.Send != nil:
		return a.send(j, inst, st, ev)

	case st.WaitReceipt != nil:
		if inst.lastSendOf(st.WaitReceipt.Of) == nil {
			a.activity(j, inst, records.ActivitySkipped, "no send of step "+st.WaitReceipt.Of+" to wait for", nil)
			return orNext(j, st.ID, st.WaitReceipt.OnTimeout), false
		}
		a.waitUntil(j, inst, a.now.Add(j.Duration(st.WaitReceipt.Timeout)), "receipt of "+st.WaitReceipt.Of)
		return "", true

	case st.Handoff != nil:
		a.handoff(j, inst, st)
		return j.NextOf(i), false

	case st.Exit != nil:
		reason := st.Exit.Reason
		if reason == "" {
			reason = "exit step " + st.ID
		}
		a.end(inst, j, reason)
		return "", true
	}
	a.activity(j, inst, records.ActivityError, "step "+st.ID+" has no kind", nil)
	a.end(inst, j, "error")
	return "", true
}

// waitUntil makes the instance wait in its current step until at.
func (a *applier) waitUntil(j *Journey, inst *Instance, at time.Time, what string) {
	inst.WakeAt, inst.Due = at, time.Time{}
	a.activity(j, inst, records.ActivityWaiting, what, map[string]any{"until": at.UTC().Format(time.RFC3339)})
}

// delayUntil computes when a delay step ends: after For, then at the next
// AtTime in the user's time zone, or at the Until timestamp.
func (a *applier) delayUntil(j *Journey, inst *Instance, d *Delay, ev *records.Event) (time.Time, error) {
	if d.Until != "" {
		e := j.Expr(d.Until)
		return e.Time(a.vars(inst, a.eventOr(inst, ev), nil, uses(e)))
	}
	at := a.now.Add(j.Duration(d.For))
	if d.AtTime != "" {
		c, err := ParseClock(d.AtTime)
		if err != nil {
			return time.Time{}, err
		}
		at = NextClock(at, a.location(j), c)
	}
	return at, nil
}

// split sends the user down a weighted path, the same one every time for
// this user and journey; the holdout share exits.
func (a *applier) split(j *Journey, inst *Instance, st *Step) (string, bool) {
	s := st.Split
	b := SplitBucket(a.u.ID, j.Def.ID)
	if b < float64(s.Holdout) {
		a.activity(j, inst, records.ActivityExited, "holdout", map[string]any{"bucket": b})
		inst.Step, inst.WakeAt = "", time.Time{}
		return "", true
	}
	total := 0
	for _, p := range s.Paths {
		total += p.Weight
	}
	// Scale the bucket over the non-holdout share onto the weights.
	x := (b - float64(s.Holdout)) / (100 - float64(s.Holdout)) * float64(total)
	acc := 0.0
	for _, p := range s.Paths {
		acc += float64(p.Weight)
		if x < acc {
			a.activity(j, inst, records.ActivityStepCompleted, "split path "+p.Name, map[string]any{"bucket": b})
			return p.Next, false
		}
	}
	last := s.Paths[len(s.Paths)-1]
	a.activity(j, inst, records.ActivityStepCompleted, "split path "+last.Name, map[string]any{"bucket": b})
	return last.Next, false
}

// location is the user's time zone: the profile's, else the journey's.
func (a *applier) location(j *Journey) *time.Location {
	if _, loc := a.userProfile(); loc != nil {
		return loc
	}
	return j.Location
}

// eventOr returns ev, or the instance's trigger event rebuilt.
func (a *applier) eventOr(inst *Instance, ev *records.Event) *records.Event {
	if ev != nil {
		return ev
	}
	return &records.Event{
		MessageID: inst.Trigger.MessageID, Type: records.EventTrack, Name: inst.Trigger.Name, UserID: a.u.ID,
		Timestamp: inst.Trigger.Timestamp, Properties: records.JSON(inst.Trigger.Properties), SessionID: inst.Trigger.SessionID,
	}
}
