package journey

import (
	"fmt"
	"strings"
	"time"
)

// Clock is a time of day, "HH:MM", in some time zone.
type Clock struct {
	Hour, Minute int
}

// ParseClock parses "HH:MM" (24-hour).
func ParseClock(s string) (Clock, error) {
	bad := fmt.Errorf("%q is not a time of day (want HH:MM, 24-hour)", s)
	if len(s) != 5 || s[2] != ':' {
		return Clock{}, bad
	}
	for _, i := range []int{0, 1, 3, 4} {
		if s[i] < '0' || s[i] > '9' {
			return Clock{}, bad
		}
	}
	c := Clock{Hour: int(s[0]-'0')*10 + int(s[1]-'0'), Minute: int(s[3]-'0')*10 + int(s[4]-'0')}
	if c.Hour > 23 || c.Minute > 59 {
		return Clock{}, bad
	}
	return c, nil
}

func (c Clock) String() string { return fmt.Sprintf("%02d:%02d", c.Hour, c.Minute) }

// minutes is the clock as minutes since midnight.
func (c Clock) minutes() int { return c.Hour*60 + c.Minute }

var weekdays = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// ParseWeekday parses a day name: mon, tue, wed, thu, fri, sat, sun (any
// case, or the full English name).
func ParseWeekday(s string) (time.Weekday, error) {
	if d, ok := weekdays[strings.ToLower(s)]; ok {
		return d, nil
	}
	for d := time.Sunday; d <= time.Saturday; d++ {
		if strings.EqualFold(d.String(), s) {
			return d, nil
		}
	}
	return 0, fmt.Errorf("%q is not a day (want mon, tue, wed, thu, fri, sat or sun)", s)
}

// NextClock returns the first instant at or after t at which the wall clock
// in loc shows c.
//
// Every calendar day has exactly one instant for c, so a daily time fires
// once a day whatever DST does: across a spring-forward gap (the wall time
// does not exist that day) it is the first instant after the gap (02:30 on
// Berlin's spring-forward day is 03:00 CEST); across a fall-back overlap
// (the wall time occurs twice) it is the first occurrence, and an instant
// between the two occurrences gets the next day's.
func NextClock(t time.Time, loc *time.Location, c Clock) time.Time {
	y, m, d := t.In(loc).Date()
	// Two days suffice unless the zone's clock jumps back across midnight
	// (or skips a whole day); a few more cover those.
	for i := range 4 {
		at := localInstant(time.Date(y, m, d+i, c.Hour, c.Minute, 0, 0, time.UTC), loc)
		if !at.Before(t) {
			return at
		}
	}
	return localInstant(time.Date(y, m, d+4, c.Hour, c.Minute, 0, 0, time.UTC), loc)
}

// AddDays adds n calendar days in loc keeping the wall-clock time, so a
// "1 day" delay lasts 23h or 25h across DST. A wall time that does not
// exist on the target day becomes the first instant after the gap; one that
// occurs twice becomes its first occurrence. AddDays(t, loc, 0) is t.
func AddDays(t time.Time, loc *time.Location, n int) time.Time {
	if n == 0 {
		return t
	}
	l := t.In(loc)
	y, m, d := l.Date()
	return localInstant(time.Date(y, m, d+n, l.Hour(), l.Minute(), l.Second(), l.Nanosecond(), time.UTC), loc)
}

// localInstant resolves a wall time in loc (given as the same fields in
// UTC) to an instant: the first instant at which loc's clock shows it, or,
// when the clock skips it, the first instant after the gap. Unlike
// time.Date, whose choice in gaps and overlaps is unspecified, it decides
// both cases the same way on every Go version.
func localInstant(wall time.Time, loc *time.Location) time.Time {
	// The instant is wall minus the UTC offset in force, and offsets lie
	// within [-12h, +14h]: gather the zone periods that touch that range.
	lo, hi := wall.Add(-15*time.Hour), wall.Add(13*time.Hour)
	var offsets [8]int
	var starts [8]time.Time
	n := 0
	for p := lo.In(loc); n < len(offsets); n++ {
		_, offsets[n] = p.Zone()
		start, end := p.ZoneBounds()
		starts[n] = start
		if end.IsZero() || !end.Before(hi) {
			n++
			break
		}
		p = end
	}
	var best time.Time
	for _, off := range offsets[:n] {
		u := wall.Add(-time.Duration(off) * time.Second)
		if wallOf(u, loc).Equal(wall) && (best.IsZero() || u.Before(best)) {
			best = u
		}
	}
	if !best.IsZero() {
		return best
	}
	// A gap: the answer is the transition after which the clock reads
	// past the wall time, having read before it just earlier.
	for _, s := range starts[1:n] {
		if wallOf(s, loc).After(wall) && wallOf(s.Add(-time.Nanosecond), loc).Before(wall) {
			return s
		}
	}
	return time.Date(wall.Year(), wall.Month(), wall.Day(), wall.Hour(), wall.Minute(), wall.Second(), wall.Nanosecond(), loc)
}

// wallOf is the wall time u shows in loc, as the same fields in UTC.
func wallOf(u time.Time, loc *time.Location) time.Time {
	l := u.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), l.Second(), l.Nanosecond(), time.UTC)
}
