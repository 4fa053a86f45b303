package journey

import (
	"errors"
	"testing"
	"time"

	"github.com/beckon-dev/beckon/pkg/records"
)

// The profile is read through Snapshot.LoadProfile only by inputs that
// need it (a send, a condition on the profile), once per Apply: an event
// that updates a waiting cart reads none. A failed read stops Apply.
func TestProfileLoadedOnlyWhenNeeded(t *testing.T) {
	s := newScenario(t, cartJourney)
	profile := s.env.Profile
	loads := 0
	var fail error
	s.env.Profile = nil
	s.env.LoadProfile = func() (*records.Profile, *time.Location, error) {
		loads++
		return profile, nil, fail
	}
	s.event("Product Added", `{"cart_id":"c1","sku":"A"}`)
	s.event("Product Added", `{"cart_id":"c1","sku":"B"}`)
	if loads != 0 {
		t.Fatalf("cart events read the profile %d times, want none", loads)
	}
	s.after(time.Hour)
	s.wantSends("email cart-reminder @1h0m0s")
	// The scenario applies each input three times (determinism, and
	// with stubs for untouched instances): once each.
	if loads != 3 {
		t.Errorf("the reminder read the profile %d times, want 3 (once per Apply)", loads)
	}

	s.event("Product Added", `{"cart_id":"c2","sku":"A"}`)
	fail = errors.New("store down")
	u := s.u
	_, err := Apply(u, Input{Wake: u.Instances[0].ID}, s.env, s.now.Add(2*time.Hour))
	if !errors.Is(err, fail) {
		t.Errorf("a failed profile read: Apply returned %v, want the read's error", err)
	}
}
