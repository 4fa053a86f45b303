package journey

import (
	"fmt"
	"testing"
	"time"
	_ "time/tzdata" // the DST tests must not depend on the machine's zone files
)

// calLoc loads an IANA zone or fails the test.
func calLoc(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// calTime parses an RFC 3339 instant; the offset makes DST cases
// unambiguous (2026-10-25T02:30:00+02:00 is the first 02:30 in Berlin,
// +01:00 the second).
func calTime(t testing.TB, s string) time.Time {
	t.Helper()
	u, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func calClock(t testing.TB, s string) Clock {
	t.Helper()
	c, err := ParseClock(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestClockParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Clock
		ok   bool
	}{
		{"00:00", Clock{0, 0}, true},
		{"09:05", Clock{9, 5}, true},
		{"23:59", Clock{23, 59}, true},
		{"24:00", Clock{}, false},
		{"12:60", Clock{}, false},
		{"9:00", Clock{}, false},
		{"09:00:00", Clock{}, false},
		{"09-00", Clock{}, false},
		{"0a:00", Clock{}, false},
		{"", Clock{}, false},
	} {
		got, err := ParseClock(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseClock(%q) = %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
		if tc.ok && got.String() != tc.in {
			t.Errorf("ParseClock(%q).String() = %q", tc.in, got.String())
		}
	}
}

func TestDaysParseWeekday(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Weekday
		ok   bool
	}{
		{"mon", time.Monday, true},
		{"SUN", time.Sunday, true},
		{"Sat", time.Saturday, true},
		{"thursday", time.Thursday, true},
		{"Wednesday", time.Wednesday, true},
		{"", 0, false},
		{"mo", 0, false},
		{"thurs", 0, false},
		{"mond", 0, false},
	} {
		got, err := ParseWeekday(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseWeekday(%q) = %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestNextClock(t *testing.T) {
	for _, tc := range []struct {
		name  string
		zone  string
		t     string
		clock string
		want  string
	}{
		// Europe/Berlin: 2026-03-29 02:00 CET -> 03:00 CEST; 2026-10-25 03:00 CEST -> 02:00 CET.
		{"berlin gap 02:30 is end of gap", "Europe/Berlin", "2026-03-28T12:00:00+01:00", "02:30", "2026-03-29T03:00:00+02:00"},
		{"berlin gap from midnight", "Europe/Berlin", "2026-03-29T00:00:00+01:00", "02:30", "2026-03-29T03:00:00+02:00"},
		{"berlin gap 02:00 is end of gap", "Europe/Berlin", "2026-03-29T00:00:00+01:00", "02:00", "2026-03-29T03:00:00+02:00"},
		{"berlin gap t at end of gap", "Europe/Berlin", "2026-03-29T03:00:00+02:00", "02:30", "2026-03-29T03:00:00+02:00"},
		{"berlin gap just after", "Europe/Berlin", "2026-03-29T03:00:01+02:00", "02:30", "2026-03-30T02:30:00+02:00"},
		{"berlin before gap", "Europe/Berlin", "2026-03-29T00:00:00+01:00", "01:59", "2026-03-29T01:59:00+01:00"},
		{"berlin 03:00 on gap day", "Europe/Berlin", "2026-03-29T00:00:00+01:00", "03:00", "2026-03-29T03:00:00+02:00"},
		{"berlin 09:00 across gap is 23h", "Europe/Berlin", "2026-03-28T09:00:00.001+01:00", "09:00", "2026-03-29T09:00:00+02:00"},
		{"berlin overlap first occurrence", "Europe/Berlin", "2026-10-24T12:00:00+02:00", "02:30", "2026-10-25T02:30:00+02:00"},
		{"berlin overlap t at first", "Europe/Berlin", "2026-10-25T02:30:00+02:00", "02:30", "2026-10-25T02:30:00+02:00"},
		{"berlin overlap between occurrences", "Europe/Berlin", "2026-10-25T02:45:00+02:00", "02:30", "2026-10-26T02:30:00+01:00"},
		{"berlin overlap t at second", "Europe/Berlin", "2026-10-25T02:30:00+01:00", "02:30", "2026-10-26T02:30:00+01:00"},
		{"berlin overlap 02:00", "Europe/Berlin", "2026-10-25T00:00:00+02:00", "02:00", "2026-10-25T02:00:00+02:00"},
		{"berlin overlap 03:00", "Europe/Berlin", "2026-10-25T00:00:00+02:00", "03:00", "2026-10-25T03:00:00+01:00"},
		{"berlin 09:00 across overlap is 25h", "Europe/Berlin", "2026-10-24T09:00:00.001+02:00", "09:00", "2026-10-25T09:00:00+01:00"},
		{"berlin midnight at t", "Europe/Berlin", "2026-03-29T00:00:00+01:00", "00:00", "2026-03-29T00:00:00+01:00"},
		{"berlin midnight just after", "Europe/Berlin", "2026-03-29T00:00:00.000000001+01:00", "00:00", "2026-03-30T00:00:00+02:00"},
		{"berlin t given in utc", "Europe/Berlin", "2026-06-01T23:30:00Z", "08:00", "2026-06-02T08:00:00+02:00"},
		{"berlin same day later", "Europe/Berlin", "2026-06-01T07:59:59+02:00", "08:00", "2026-06-01T08:00:00+02:00"},
		{"berlin year end", "Europe/Berlin", "2026-12-31T23:00:00+01:00", "22:00", "2027-01-01T22:00:00+01:00"},
		// America/New_York: 2026-03-08 02:00 EST -> 03:00 EDT; 2026-11-01 02:00 EDT -> 01:00 EST (01:00-02:00 repeats).
		{"ny gap 02:30", "America/New_York", "2026-03-07T12:00:00-05:00", "02:30", "2026-03-08T03:00:00-04:00"},
		{"ny gap t at end of gap", "America/New_York", "2026-03-08T03:00:00-04:00", "02:30", "2026-03-08T03:00:00-04:00"},
		{"ny gap next day", "America/New_York", "2026-03-08T03:00:01-04:00", "02:30", "2026-03-09T02:30:00-04:00"},
		{"ny overlap 01:30 first", "America/New_York", "2026-10-31T12:00:00-04:00", "01:30", "2026-11-01T01:30:00-04:00"},
		{"ny overlap 01:30 between", "America/New_York", "2026-11-01T01:45:00-04:00", "01:30", "2026-11-02T01:30:00-05:00"},
		{"ny overlap 01:30 at second", "America/New_York", "2026-11-01T01:30:00-05:00", "01:30", "2026-11-02T01:30:00-05:00"},
		{"ny 02:30 on fall-back day occurs once", "America/New_York", "2026-10-31T12:00:00-04:00", "02:30", "2026-11-01T02:30:00-05:00"},
		{"ny midnight", "America/New_York", "2026-11-01T00:00:00-04:00", "00:00", "2026-11-01T00:00:00-04:00"},
		// Asia/Kolkata: +05:30, no DST.
		{"kolkata next day", "Asia/Kolkata", "2026-03-29T00:00:00Z", "02:30", "2026-03-30T02:30:00+05:30"},
		{"kolkata at t", "Asia/Kolkata", "2026-03-29T00:00:00Z", "05:30", "2026-03-29T05:30:00+05:30"},
		{"kolkata same day", "Asia/Kolkata", "2026-10-25T00:00:00Z", "23:59", "2026-10-25T23:59:00+05:30"},
		{"kolkata midnight", "Asia/Kolkata", "2026-10-24T18:30:00.5Z", "00:00", "2026-10-26T00:00:00+05:30"},
		{"utc", "UTC", "2026-03-29T01:00:00Z", "01:00", "2026-03-29T01:00:00Z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			loc := calLoc(t, tc.zone)
			got := NextClock(calTime(t, tc.t), loc, calClock(t, tc.clock))
			if want := calTime(t, tc.want); !got.Equal(want) {
				t.Errorf("NextClock(%s, %s) = %s, want %s", tc.t, tc.clock, got.In(loc).Format(time.RFC3339Nano), tc.want)
			}
		})
	}
}

// TestNextClockBruteForce checks NextClock against a minute-by-minute scan
// of the wall clock around each zone's 2026 DST changes.
func TestNextClockBruteForce(t *testing.T) {
	for _, z := range []struct{ zone, day string }{
		{"Europe/Berlin", "2026-03-28T12:00:00Z"},
		{"Europe/Berlin", "2026-10-24T12:00:00Z"},
		{"America/New_York", "2026-03-07T18:00:00Z"},
		{"America/New_York", "2026-10-31T18:00:00Z"},
		{"Asia/Kolkata", "2026-03-28T12:00:00Z"},
	} {
		loc := calLoc(t, z.zone)
		start := calTime(t, z.day)
		for _, cs := range []string{"00:00", "01:00", "01:30", "02:00", "02:30", "02:59", "03:00", "23:59"} {
			c := calClock(t, cs)
			for from := start; from.Before(start.Add(36 * time.Hour)); from = from.Add(47 * time.Minute) {
				want := scanNextClock(from, loc, c)
				if got := NextClock(from, loc, c); !got.Equal(want) {
					t.Errorf("%s: NextClock(%s, %s) = %s, scan says %s", z.zone, from.In(loc).Format(time.RFC3339), cs,
						got.In(loc).Format(time.RFC3339), want.In(loc).Format(time.RFC3339))
				}
			}
		}
	}
}

// scanNextClock walks whole minutes from t (minute-aligned) to the first
// that shows c on the wall clock for the first time that day, or at which
// the clock jumps over c.
func scanNextClock(t time.Time, loc *time.Location, c Clock) time.Time {
	wall := func(u time.Time) (date string, m int) {
		l := u.In(loc)
		return l.Format(time.DateOnly), l.Hour()*60 + l.Minute()
	}
	for u := t; ; u = u.Add(time.Minute) {
		d, m := wall(u)
		pd, pm := wall(u.Add(-time.Minute))
		if pd == d && pm < c.minutes() && m > c.minutes() {
			return u // jumped over c
		}
		if m != c.minutes() {
			continue
		}
		seen := false
		for back := time.Minute; back <= 3*time.Hour; back += time.Minute {
			if bd, bm := wall(u.Add(-back)); bd == d && bm == m {
				seen = true
			}
		}
		if !seen {
			return u
		}
	}
}

func TestAddDays(t *testing.T) {
	for _, tc := range []struct {
		name string
		zone string
		t    string
		n    int
		want string
	}{
		{"berlin 1 day across spring-forward is 23h", "Europe/Berlin", "2026-03-28T09:00:00+01:00", 1, "2026-03-29T09:00:00+02:00"},
		{"berlin into the gap", "Europe/Berlin", "2026-03-28T02:30:00+01:00", 1, "2026-03-29T03:00:00+02:00"},
		{"berlin out of the gap day", "Europe/Berlin", "2026-03-29T03:00:00+02:00", 1, "2026-03-30T03:00:00+02:00"},
		{"berlin back across spring-forward", "Europe/Berlin", "2026-03-30T09:00:00+02:00", -2, "2026-03-28T09:00:00+01:00"},
		{"berlin week keeps wall clock and fraction", "Europe/Berlin", "2026-03-25T10:15:30.5+01:00", 7, "2026-04-01T10:15:30.5+02:00"},
		{"berlin 1 day across fall-back is 25h", "Europe/Berlin", "2026-10-24T09:00:00+02:00", 1, "2026-10-25T09:00:00+01:00"},
		{"berlin into the overlap takes the first", "Europe/Berlin", "2026-10-24T02:30:00+02:00", 1, "2026-10-25T02:30:00+02:00"},
		{"berlin from the second occurrence", "Europe/Berlin", "2026-10-25T02:30:00+01:00", 1, "2026-10-26T02:30:00+01:00"},
		{"berlin back from the second occurrence", "Europe/Berlin", "2026-10-25T02:30:00+01:00", -1, "2026-10-24T02:30:00+02:00"},
		{"berlin zero days is t", "Europe/Berlin", "2026-10-25T02:30:00+01:00", 0, "2026-10-25T02:30:00+01:00"},
		{"berlin midnight", "Europe/Berlin", "2026-03-28T00:00:00+01:00", 1, "2026-03-29T00:00:00+01:00"},
		{"ny across spring-forward", "America/New_York", "2026-03-07T12:00:00-05:00", 1, "2026-03-08T12:00:00-04:00"},
		{"ny into the gap", "America/New_York", "2026-03-07T02:30:00-05:00", 1, "2026-03-08T03:00:00-04:00"},
		{"ny into the overlap takes the first", "America/New_York", "2026-10-31T01:30:00-04:00", 1, "2026-11-01T01:30:00-04:00"},
		{"ny from the second occurrence", "America/New_York", "2026-11-01T01:30:00-05:00", 1, "2026-11-02T01:30:00-05:00"},
		{"ny across fall-back", "America/New_York", "2026-10-31T18:00:00-04:00", 1, "2026-11-01T18:00:00-05:00"},
		{"ny month end", "America/New_York", "2026-01-31T23:59:00-05:00", 1, "2026-02-01T23:59:00-05:00"},
		{"kolkata is always 24h", "Asia/Kolkata", "2026-03-28T02:30:00+05:30", 1, "2026-03-29T02:30:00+05:30"},
		{"kolkata 30 days", "Asia/Kolkata", "2026-10-01T00:00:00+05:30", 30, "2026-10-31T00:00:00+05:30"},
		{"t given in another zone", "Europe/Berlin", "2026-03-28T23:30:00Z", 1, "2026-03-30T00:30:00+02:00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			loc := calLoc(t, tc.zone)
			got := AddDays(calTime(t, tc.t), loc, tc.n)
			if want := calTime(t, tc.want); !got.Equal(want) {
				t.Errorf("AddDays(%s, %d) = %s, want %s", tc.t, tc.n, got.In(loc).Format(time.RFC3339Nano), tc.want)
			}
		})
	}
}

func ExampleNextClock() {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	sat := time.Date(2026, 3, 28, 12, 0, 0, 0, berlin)
	fmt.Println(NextClock(sat, berlin, Clock{Hour: 2, Minute: 30}))
	fmt.Println(AddDays(sat, berlin, 1).Sub(sat))
	// Output:
	// 2026-03-29 03:00:00 +0200 CEST
	// 23h0m0s
}
