package journey

import (
	"fmt"
	"time"
)

// ReasonForgotten is the exit reason of the instances of a user who was
// forgotten (Forget).
const ReasonForgotten = "forgotten"

// Forget ends every instance of u, as of now, because the user is to be
// forgotten: each running instance exits with ReasonForgotten and its
// timer is cancelled, so whatever counts and follows instances (the
// journey metrics, the active-instance gauges, the timelines) sees them
// end before the user's state goes. It does not clear u: the caller
// deletes the user's whole state, head, instances and timers, after
// carrying out the effects. Every instance must be loaded (no stubs).
func Forget(u *User, now time.Time) (Effects, error) {
	a := &applier{u: u, now: now}
	for _, inst := range u.Instances {
		if inst.stub {
			return Effects{}, fmt.Errorf("forget: instance %s of user %q: %w", inst.ID, u.ID, ErrNotLoaded)
		}
		a.end(inst, nil, ReasonForgotten)
	}
	a.fx.Timers = timers(a.fx.Timers, u.Instances)
	u.Instances = u.Instances[:0]
	return a.fx, nil
}
