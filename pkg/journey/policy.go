package journey

import (
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"time"
)

// Send decision reasons, as recorded in activity.
const (
	ReasonQuietHours    = "quiet_hours"
	ReasonBusinessHours = "business_hours"
	ReasonFrequencyCap  = "frequency_cap"
)

// A DailyWindow is a Window parsed: open from From (inclusive) to To
// (exclusive) in the user's wall-clock time.
//
// When To is earlier than From the window wraps past midnight (21:00-08:00
// opens at 21:00 and closes at 08:00 the next morning); when To equals
// From it is open for the whole day from From to From the next day, so
// 00:00-00:00 is the calendar day. Days restricts the days on which the
// window opens: a wrapping window listed for fri covers Friday 21:00 to
// Saturday 08:00, and Saturday's early hours belong to it only through
// Friday. Boundaries falling in a DST gap move to the end of the gap;
// boundaries falling in a repeated hour take its first occurrence (see
// NextClock).
type DailyWindow struct {
	From, To Clock
	// Days are the days the window opens on; empty means every day.
	Days []time.Weekday
}

// ParseWindow parses a definition's window. Errors name the field: from,
// to or days[i]. The action is not its concern (see DeliveryWindow).
func ParseWindow(w *Window) (DailyWindow, error) {
	if w == nil {
		return DailyWindow{}, errors.New("no window")
	}
	from, err := ParseClock(w.From)
	if err != nil {
		return DailyWindow{}, fmt.Errorf("from: %w", err)
	}
	to, err := ParseClock(w.To)
	if err != nil {
		return DailyWindow{}, fmt.Errorf("to: %w", err)
	}
	dw := DailyWindow{From: from, To: to}
	for i, s := range w.Days {
		d, err := ParseWeekday(s)
		if err != nil {
			return DailyWindow{}, fmt.Errorf("days[%d]: %w", i, err)
		}
		if !slices.Contains(dw.Days, d) {
			dw.Days = append(dw.Days, d)
		}
	}
	if len(dw.Days) == 7 {
		dw.Days = nil
	}
	return dw, nil
}

// Contains reports whether the window is open at t.
func (w DailyWindow) Contains(t time.Time, loc *time.Location) bool {
	_, ok := w.closeOf(t, loc)
	return ok
}

// NextOpen returns the earliest instant at or after t at which the window
// is open: t itself if open. Every window opens within a week (a day's
// opening is empty only when both ends fall into the same DST gap), so the
// zero Time it returns when none opens in the next eight days is a
// safeguard.
func (w DailyWindow) NextOpen(t time.Time, loc *time.Location) time.Time {
	if w.Contains(t, loc) {
		return t
	}
	day := civilDay(t, loc)
	// Openings only move forward from day to day, so the first one at or
	// after t is the earliest.
	for i := -1; i <= 8; i++ {
		opens, closes, ok := w.opening(day.AddDate(0, 0, i), loc)
		if ok && !opens.Before(t) && opens.Before(closes) {
			return opens
		}
	}
	return time.Time{}
}

// NextClose returns the earliest instant at or after t at which the window
// is closed: t itself if closed. Windows that touch (00:00-00:00 on sat and
// sun) count as one. It returns the zero Time if the window never closes
// (From equals To on every day).
func (w DailyWindow) NextClose(t time.Time, loc *time.Location) time.Time {
	c := t
	for range 9 {
		next, ok := w.closeOf(c, loc)
		if !ok {
			return c
		}
		c = next
	}
	return time.Time{}
}

// closeOf returns the close of the opening that contains t, if one does.
func (w DailyWindow) closeOf(t time.Time, loc *time.Location) (time.Time, bool) {
	day := civilDay(t, loc)
	// An opening lasts at most a day and a bit (a wrapping window across
	// fall-back), so it started on t's day or the one before; the day
	// before that covers zones whose clock jumps back across midnight.
	for i := -2; i <= 0; i++ {
		opens, closes, ok := w.opening(day.AddDate(0, 0, i), loc)
		if ok && !t.Before(opens) && t.Before(closes) {
			return closes, true
		}
	}
	return time.Time{}, false
}

// opening returns the instants at which the window opening on day (a civil
// date, midnight UTC) opens and closes, and false if it does not open on
// that day.
func (w DailyWindow) opening(day time.Time, loc *time.Location) (opens, closes time.Time, ok bool) {
	if len(w.Days) > 0 && !slices.Contains(w.Days, day.Weekday()) {
		return time.Time{}, time.Time{}, false
	}
	y, m, d := day.Date()
	opens = localInstant(time.Date(y, m, d, w.From.Hour, w.From.Minute, 0, 0, time.UTC), loc)
	if w.To.minutes() <= w.From.minutes() {
		d++ // wraps past midnight, or the whole day
	}
	closes = localInstant(time.Date(y, m, d, w.To.Hour, w.To.Minute, 0, 0, time.UTC), loc)
	return opens, closes, true
}

// civilDay is t's calendar date in loc, as midnight UTC.
func civilDay(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// SendDecision says whether a send due now may go.
type SendDecision struct {
	// Allowed: the send may go at At, which is the time it was due.
	Allowed bool
	// At is when the send may go: the due time if allowed, the release
	// time if held; zero if skipped.
	At time.Time
	// Skip: the send is dropped, for Reason.
	Skip bool
	// Reason is why the send is held or skipped: ReasonQuietHours,
	// ReasonBusinessHours or ReasonFrequencyCap; empty if allowed.
	Reason string
}

// deliverySearch bounds the search for an instant both windows allow. The
// windows repeat weekly; a second week covers an opening lost once to a
// DST gap.
const deliverySearch = 15 * 24 * time.Hour

// DeliveryWindow applies a journey's quiet hours (which hold a send while
// inside) and business hours (which hold it while outside) to a send due at
// t in loc; either may be nil.
//
// If a window whose action is skip blocks the send at t, the send is
// skipped for that window's reason (quiet hours checked first). Otherwise
// a blocked send is held until the earliest instant both windows allow,
// with the reason of the window that blocked it at t. A combination that
// allows no send within 15 days is an error, as is an invalid window or
// action.
func DeliveryWindow(quiet, business *Window, t time.Time, loc *time.Location) (SendDecision, error) {
	type policy struct {
		w      DailyWindow
		skip   bool
		reason string
	}
	parse := func(w *Window, field, reason string) (*policy, error) {
		if w == nil {
			return nil, nil
		}
		dw, err := ParseWindow(w)
		if err != nil {
			return nil, fmt.Errorf("%s.%w", field, err)
		}
		switch w.Action {
		case "", ActionDelay:
			return &policy{w: dw, reason: reason}, nil
		case ActionSkip:
			return &policy{w: dw, skip: true, reason: reason}, nil
		}
		return nil, fmt.Errorf("%s.action: %q is not an action (want delay or skip)", field, w.Action)
	}
	q, err := parse(quiet, "quiet_hours", ReasonQuietHours)
	if err != nil {
		return SendDecision{}, err
	}
	b, err := parse(business, "business_hours", ReasonBusinessHours)
	if err != nil {
		return SendDecision{}, err
	}
	quietAt := func(u time.Time) bool { return q != nil && q.w.Contains(u, loc) }
	closedAt := func(u time.Time) bool { return b != nil && !b.w.Contains(u, loc) }

	var blocker *policy
	switch inQuiet, closed := quietAt(t), closedAt(t); {
	case inQuiet && q.skip:
		return SendDecision{Skip: true, Reason: q.reason}, nil
	case closed && b.skip:
		return SendDecision{Skip: true, Reason: b.reason}, nil
	case inQuiet:
		blocker = q
	case closed:
		blocker = b
	default:
		return SendDecision{Allowed: true, At: t}, nil
	}
	// Each step jumps to a boundary of one window, strictly later, so the
	// search ends at the first instant neither blocks or at the bound.
	u, limit := t, t.Add(deliverySearch)
	for !u.After(limit) {
		switch {
		case quietAt(u):
			u = q.w.NextClose(u, loc)
		case closedAt(u):
			u = b.w.NextOpen(u, loc)
		default:
			return SendDecision{At: u, Reason: blocker.reason}, nil
		}
		if u.IsZero() {
			break
		}
	}
	which := "quiet_hours and business_hours"
	if b == nil {
		which = "quiet_hours"
	}
	return SendDecision{}, fmt.Errorf("%s allow no send within %v of %v", which, deliverySearch, t.In(loc))
}

// CheckCaps decides a send on channel at t given the user's recent sends
// (any order, any channel) and the journey's frequency caps. per gives a
// cap's Per as a duration (a compiled journey's Duration method); the
// definition has been validated, so it cannot fail, and a zero window
// would count nothing.
//
// A cap counts the sends on its channel in the rolling window (t-Per, t]:
// a send exactly Per ago has left it (sends stamped after t, which an
// in-order engine never has, count too). The send is blocked when a cap
// already counts Max sends. Several caps on the channel all apply and the
// strictest wins: any blocking cap whose action is not delay skips the
// send; otherwise it is held until every blocking cap has released it,
// At being the moment enough of the oldest counted sends have left its
// window for the count to fall below Max. A cap with Max below 1 allows no
// send and always skips.
func CheckCaps(caps []FrequencyCap, per func(string) time.Duration, channel string, sends []SendLog, t time.Time) SendDecision {
	var release time.Time
	var counted []time.Time
	for _, c := range caps {
		if c.Channel != channel {
			continue
		}
		if c.Max < 1 {
			return SendDecision{Skip: true, Reason: ReasonFrequencyCap}
		}
		window := per(c.Per)
		since := t.Add(-window)
		counted = counted[:0]
		for _, s := range sends {
			if s.Channel == channel && s.At.After(since) {
				counted = append(counted, s.At)
			}
		}
		if len(counted) < c.Max {
			continue
		}
		if c.Action != ActionDelay {
			return SendDecision{Skip: true, Reason: ReasonFrequencyCap}
		}
		// Once the len-Max+1 oldest have left, Max-1 remain.
		slices.SortFunc(counted, time.Time.Compare)
		at := counted[len(counted)-c.Max].Add(window)
		if at.After(release) {
			release = at
		}
	}
	if release.IsZero() {
		return SendDecision{Allowed: true, At: t}
	}
	return SendDecision{At: release, Reason: ReasonFrequencyCap}
}

// PruneSends drops the sends no cap counts any more: those at or before
// t-longest, longest being the longest cap window. It keeps the order and
// leaves the given slice untouched, returning it as is when nothing goes.
func PruneSends(sends []SendLog, longest time.Duration, t time.Time) []SendLog {
	since := t.Add(-longest)
	keep := func(s SendLog) bool { return s.At.After(since) }
	n := 0
	for _, s := range sends {
		if keep(s) {
			n++
		}
	}
	if n == len(sends) {
		return sends
	}
	out := make([]SendLog, 0, n)
	for _, s := range sends {
		if keep(s) {
			out = append(out, s)
		}
	}
	return out
}

// SplitBucket maps (user, journey) to a stable number in [0, 100), so
// re-evaluation and replays send a user down the same split path. It is
// 64-bit FNV-1a over the journey ID, a zero byte and the user ID, mixed by
// the SplitMix64 finalizer (FNV alone spreads near-identical IDs such as
// user-1, user-2 poorly), whose top 53 bits scale to [0, 100). Changing
// it moves users between paths: it is part of the replay contract.
func SplitBucket(user, journey string) float64 {
	h := fnv.New64a()
	h.Write([]byte(journey))
	h.Write([]byte{0})
	h.Write([]byte(user))
	x := h.Sum64()
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return float64(x>>11) / (1 << 53) * 100
}
