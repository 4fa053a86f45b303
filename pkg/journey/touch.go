package journey

import (
	"errors"
	"fmt"
	"slices"

	"github.com/beckon-dev/beckon/pkg/records"
)

// An input touches few of a user's instances: a cart event the instance
// of its own cart, a timer the instance it belongs to. The engine reads
// and decodes only those (the head's stubs stand for the others, see
// UnmarshalHeadStubs) and writes back only what changed, so a user with
// two carts pays for one per event.

// ErrNotLoaded says Apply was given a stub of an instance the input
// touches: the caller did not load what Touches asked for. It is a bug of
// the caller, not of the input; Apply changes nothing.
var ErrNotLoaded = errors.New("instance not loaded")

// Touches reports, for each of u's instances in order, whether input in
// may read or change it under snap. Apply leaves an instance it reports
// false for exactly as it is, so that instance may be a stub; one it
// reports true for must be loaded. It is Apply's own test (the same
// entry keys, catalog states and rules), so the two agree. The entry keys
// it evaluates are kept in snap for Apply of the same input.
func Touches(u *User, in Input, snap *Snapshot) []bool {
	a := &applier{u: u, in: in, env: snap}
	out := make([]bool, len(u.Instances))
	for i, inst := range u.Instances {
		out[i] = a.touches(inst)
	}
	if in.Event != nil && a.keys != nil {
		// Apply of the same event reuses them (entry keys depend on the
		// event and the journey only).
		snap.keys = &eventKeys{ev: in.Event, keys: a.keys, props: a.props}
	}
	return out
}

// touches says whether the input may read or change inst: a timer only
// its own instance; an event an instance whose journey version is gone
// or archived (the event ends it) or whose rules name the event (goal,
// exit, state rules, its step's hold) for its entry key or any key; a
// receipt any instance (the command's sender is not in the head).
func (a *applier) touches(inst *Instance) bool {
	switch {
	case a.in.Wake != "":
		return inst.ID == a.in.Wake
	case a.in.Event != nil:
		j := a.journeyOf(inst)
		if j == nil || a.env.Catalog.State(j.Def.ID) == records.JourneyArchived {
			return true
		}
		key, err := a.entryKey(j, a.in.Event)
		return j.reactsTo(inst.Step, a.in.Event.Name, err == nil && key == inst.EntryKey)
	}
	return true
}

// reactsTo says whether an event named name may move or change an
// instance of j waiting in step (sameKey: the event has the instance's
// entry key): the checks of eventForInstance, without their conditions.
func (j *Journey) reactsTo(step, name string, sameKey bool) bool {
	if g := j.Def.Goal; g != nil && g.Event == name && (sameKey || g.AnyKey) {
		return true
	}
	for _, x := range j.Def.Exit {
		if x.Event == name && (sameKey || x.AnyKey) {
			return true
		}
	}
	for i := range j.Def.State {
		if r := &j.Def.State[i]; r.On == name && (sameKey || r.AnyKey) {
			return true
		}
	}
	st, _, ok := j.Step(step)
	if !ok || st.Hold == nil {
		return false
	}
	h := st.Hold
	return h.Event != "" && h.Event == name && (sameKey || h.AnyKey) || slices.Contains(h.ResetOn, name) && sameKey
}

// checkLoaded fails Apply (ErrNotLoaded) when the input touches a stub.
func (a *applier) checkLoaded() {
	for _, inst := range a.u.Instances {
		if inst.stub && a.touches(inst) {
			a.err = fmt.Errorf("instance %s of user %q: %w", inst.ID, a.u.ID, ErrNotLoaded)
			return
		}
	}
}
