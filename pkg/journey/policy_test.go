package journey

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

var (
	winQuiet    = Window{From: "21:00", To: "08:00"}
	winBusiness = Window{From: "09:00", To: "17:00", Days: []string{"mon", "tue", "wed", "thu", "fri"}}
	// Friday and Saturday nights: Friday 22:00 to Saturday 06:00 and
	// Saturday 22:00 to Sunday 06:00.
	winWeekendNights = Window{From: "22:00", To: "06:00", Days: []string{"fri", "sat"}}
	winWeekend       = Window{From: "00:00", To: "00:00", Days: []string{"sat", "sun"}}
	winAlways        = Window{From: "07:00", To: "07:00"}
	winMondayDay     = Window{From: "08:00", To: "08:00", Days: []string{"monday"}}
	// Both ends inside Berlin's spring-forward gap and repeated hour.
	winGapHour = Window{From: "02:00", To: "02:30"}
	winNight   = Window{From: "01:00", To: "02:30"}
)

func mustWindow(t testing.TB, w Window) DailyWindow {
	t.Helper()
	dw, err := ParseWindow(&w)
	if err != nil {
		t.Fatal(err)
	}
	return dw
}

func TestParseWindow(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   *Window
		want DailyWindow
		err  string
	}{
		{"plain", &Window{From: "09:00", To: "17:30"}, DailyWindow{From: Clock{9, 0}, To: Clock{17, 30}}, ""},
		{"days in order given, duplicates dropped", &Window{From: "21:00", To: "08:00", Days: []string{"fri", "Sat", "friday"}},
			DailyWindow{From: Clock{21, 0}, To: Clock{8, 0}, Days: []time.Weekday{time.Friday, time.Saturday}}, ""},
		{"all seven days is every day", &Window{From: "00:00", To: "00:00", Days: []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}},
			DailyWindow{}, ""},
		{"bad from", &Window{From: "25:00", To: "08:00"}, DailyWindow{}, "from: "},
		{"missing to", &Window{From: "21:00"}, DailyWindow{}, "to: "},
		{"bad day", &Window{From: "21:00", To: "08:00", Days: []string{"mon", "funday"}}, DailyWindow{}, "days[1]: "},
		{"nil", nil, DailyWindow{}, "no window"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseWindow(tc.in)
			if tc.err != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.err) {
					t.Fatalf("ParseWindow = %v, %v; want error starting %q", got, err, tc.err)
				}
				return
			}
			if err != nil || got.From != tc.want.From || got.To != tc.want.To || !slices.Equal(got.Days, tc.want.Days) {
				t.Fatalf("ParseWindow = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

// TestWindow checks Contains, NextOpen and NextClose together: at t the
// window is open or not, and next is NextClose(t) if open, NextOpen(t) if
// closed ("" for never); the other one must be t itself.
func TestWindow(t *testing.T) {
	for _, tc := range []struct {
		name string
		w    Window
		zone string
		t    string
		open bool
		next string
	}{
		// Quiet hours 21:00-08:00: From inclusive, To exclusive.
		{"quiet before from", winQuiet, "Europe/Berlin", "2026-03-27T20:59:59+01:00", false, "2026-03-27T21:00:00+01:00"},
		{"quiet at from", winQuiet, "Europe/Berlin", "2026-03-27T21:00:00+01:00", true, "2026-03-28T08:00:00+01:00"},
		{"quiet at midnight", winQuiet, "Europe/Berlin", "2026-03-28T00:00:00+01:00", true, "2026-03-28T08:00:00+01:00"},
		{"quiet just before to", winQuiet, "Europe/Berlin", "2026-03-28T07:59:59.999+01:00", true, "2026-03-28T08:00:00+01:00"},
		{"quiet at to", winQuiet, "Europe/Berlin", "2026-03-28T08:00:00+01:00", false, "2026-03-28T21:00:00+01:00"},
		{"quiet spring-forward night is 10h", winQuiet, "Europe/Berlin", "2026-03-28T23:00:00+01:00", true, "2026-03-29T08:00:00+02:00"},
		{"quiet after the gap", winQuiet, "Europe/Berlin", "2026-03-29T03:00:00+02:00", true, "2026-03-29T08:00:00+02:00"},
		{"quiet fall-back night is 12h", winQuiet, "Europe/Berlin", "2026-10-24T22:00:00+02:00", true, "2026-10-25T08:00:00+01:00"},
		{"quiet second 02:30", winQuiet, "Europe/Berlin", "2026-10-25T02:30:00+01:00", true, "2026-10-25T08:00:00+01:00"},
		{"quiet kolkata", winQuiet, "Asia/Kolkata", "2026-03-29T15:29:00Z", false, "2026-03-29T21:00:00+05:30"},
		{"quiet new york fall-back", winQuiet, "America/New_York", "2026-11-01T01:30:00-05:00", true, "2026-11-01T08:00:00-05:00"},

		// Business hours 09:00-17:00 mon..fri.
		{"business friday before close", winBusiness, "Europe/Berlin", "2026-03-27T16:59:59+01:00", true, "2026-03-27T17:00:00+01:00"},
		{"business friday at close skips the weekend", winBusiness, "Europe/Berlin", "2026-03-27T17:00:00+01:00", false, "2026-03-30T09:00:00+02:00"},
		{"business saturday", winBusiness, "Europe/Berlin", "2026-03-28T10:00:00+01:00", false, "2026-03-30T09:00:00+02:00"},
		{"business sunday (spring-forward)", winBusiness, "Europe/Berlin", "2026-03-29T10:00:00+02:00", false, "2026-03-30T09:00:00+02:00"},
		{"business monday before open", winBusiness, "Europe/Berlin", "2026-03-30T08:59:59+02:00", false, "2026-03-30T09:00:00+02:00"},
		{"business monday at open", winBusiness, "Europe/Berlin", "2026-03-30T09:00:00+02:00", true, "2026-03-30T17:00:00+02:00"},
		{"business monday after fall-back", winBusiness, "Europe/Berlin", "2026-10-23T18:00:00+02:00", false, "2026-10-26T09:00:00+01:00"},
		{"business new york weekend", winBusiness, "America/New_York", "2026-03-06T22:00:00Z", false, "2026-03-09T09:00:00-04:00"},
		{"business thursday night", winBusiness, "Europe/Berlin", "2026-03-26T23:00:00+01:00", false, "2026-03-27T09:00:00+01:00"},

		// A wrapping window on fri and sat: the day is the one it starts on.
		{"nights thursday", winWeekendNights, "Europe/Berlin", "2026-03-26T23:00:00+01:00", false, "2026-03-27T22:00:00+01:00"},
		{"nights friday early is thursday's", winWeekendNights, "Europe/Berlin", "2026-03-27T03:00:00+01:00", false, "2026-03-27T22:00:00+01:00"},
		{"nights friday late", winWeekendNights, "Europe/Berlin", "2026-03-27T23:00:00+01:00", true, "2026-03-28T06:00:00+01:00"},
		{"nights saturday early is friday's", winWeekendNights, "Europe/Berlin", "2026-03-28T03:00:00+01:00", true, "2026-03-28T06:00:00+01:00"},
		{"nights saturday at to", winWeekendNights, "Europe/Berlin", "2026-03-28T06:00:00+01:00", false, "2026-03-28T22:00:00+01:00"},
		{"nights sunday early is saturday's", winWeekendNights, "Europe/Berlin", "2026-03-29T03:00:00+02:00", true, "2026-03-29T06:00:00+02:00"},
		{"nights sunday late", winWeekendNights, "Europe/Berlin", "2026-03-29T23:00:00+02:00", false, "2026-04-03T22:00:00+02:00"},
		{"nights monday early is sunday's", winWeekendNights, "Europe/Berlin", "2026-03-30T03:00:00+02:00", false, "2026-04-03T22:00:00+02:00"},

		// From == To: a whole day from From; touching days are one opening.
		{"weekend friday night", winWeekend, "Europe/Berlin", "2026-03-27T23:59:59+01:00", false, "2026-03-28T00:00:00+01:00"},
		{"weekend saturday midnight closes monday", winWeekend, "Europe/Berlin", "2026-03-28T00:00:00+01:00", true, "2026-03-30T00:00:00+02:00"},
		{"weekend sunday late", winWeekend, "Europe/Berlin", "2026-03-29T23:59:00+02:00", true, "2026-03-30T00:00:00+02:00"},
		{"weekend monday midnight", winWeekend, "Europe/Berlin", "2026-03-30T00:00:00+02:00", false, "2026-04-04T00:00:00+02:00"},
		{"every day never closes", winAlways, "Europe/Berlin", "2026-03-29T02:00:00+01:00", true, ""},
		{"every day never closes at from", winAlways, "Asia/Kolkata", "2026-03-29T07:00:00+05:30", true, ""},
		{"monday day into tuesday", winMondayDay, "Europe/Berlin", "2026-03-31T07:59:00+02:00", true, "2026-03-31T08:00:00+02:00"},
		{"monday day over", winMondayDay, "Europe/Berlin", "2026-03-31T08:00:00+02:00", false, "2026-04-06T08:00:00+02:00"},
		{"monday day before", winMondayDay, "Europe/Berlin", "2026-03-30T07:59:00+02:00", false, "2026-03-30T08:00:00+02:00"},

		// Boundaries in the gap move to its end; in the overlap, the first occurrence.
		{"gap hour is empty on spring-forward day", winGapHour, "Europe/Berlin", "2026-03-29T00:30:00+01:00", false, "2026-03-30T02:00:00+02:00"},
		{"gap hour on an ordinary day", winGapHour, "Europe/Berlin", "2026-03-28T02:15:00+01:00", true, "2026-03-28T02:30:00+01:00"},
		{"gap hour first 02:15 on fall-back day", winGapHour, "Europe/Berlin", "2026-10-25T02:15:00+02:00", true, "2026-10-25T02:30:00+02:00"},
		{"gap hour second 02:15 on fall-back day", winGapHour, "Europe/Berlin", "2026-10-25T02:15:00+01:00", false, "2026-10-26T02:00:00+01:00"},
		{"night closes at end of gap", winNight, "Europe/Berlin", "2026-03-29T01:30:00+01:00", true, "2026-03-29T03:00:00+02:00"},
		{"night closes at first 02:30", winNight, "Europe/Berlin", "2026-10-25T01:30:00+02:00", true, "2026-10-25T02:30:00+02:00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			loc := calLoc(t, tc.zone)
			w := mustWindow(t, tc.w)
			at := calTime(t, tc.t)
			var want time.Time
			if tc.next != "" {
				want = calTime(t, tc.next)
			}
			if got := w.Contains(at, loc); got != tc.open {
				t.Errorf("Contains = %v, want %v", got, tc.open)
			}
			gotOpen, gotClose := w.NextOpen(at, loc), w.NextClose(at, loc)
			wantOpen, wantClose := at, want
			if !tc.open {
				wantOpen, wantClose = want, at
			}
			if !gotOpen.Equal(wantOpen) {
				t.Errorf("NextOpen = %s, want %s", calFmt(gotOpen, loc), calFmt(wantOpen, loc))
			}
			if !gotClose.Equal(wantClose) {
				t.Errorf("NextClose = %s, want %s", calFmt(gotClose, loc), calFmt(wantClose, loc))
			}
		})
	}
}

func calFmt(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return "never"
	}
	return t.In(loc).Format(time.RFC3339Nano)
}

// TestWindowWallClock checks Contains against the plain wall-clock rule on
// weeks without a DST change, every 10 minutes over two weeks.
func TestWindowWallClock(t *testing.T) {
	for _, w := range []Window{winQuiet, winBusiness, winWeekendNights, winWeekend, winMondayDay, winGapHour,
		{From: "00:00", To: "23:59", Days: []string{"sun"}}, {From: "23:30", To: "00:30", Days: []string{"sat"}}} {
		dw := mustWindow(t, w)
		from, to := dw.From.minutes(), dw.To.minutes()
		listed := func(d time.Weekday) bool { return len(dw.Days) == 0 || slices.Contains(dw.Days, d) }
		for _, zone := range []string{"Asia/Kolkata", "Europe/Berlin", "America/New_York"} {
			loc := calLoc(t, zone)
			start := time.Date(2026, 6, 1, 0, 0, 0, 0, loc)
			for u := start; u.Before(start.AddDate(0, 0, 14)); u = u.Add(10 * time.Minute) {
				m, day := u.Hour()*60+u.Minute(), u.Weekday()
				var want bool
				if to > from {
					want = listed(day) && m >= from && m < to
				} else {
					want = listed(day) && m >= from || listed((day+6)%7) && m < to
				}
				if got := dw.Contains(u, loc); got != want {
					t.Errorf("%v-%v %v in %s: Contains(%s) = %v, want %v", w.From, w.To, w.Days, zone, u.Format(time.RFC1123), got, want)
				}
			}
		}
	}
}

// TestWindowConsistency sweeps the DST weeks and checks that NextOpen and
// NextClose land on real edges with nothing in between: the window is open
// at NextOpen(t) and closed just before it, and stays put for every later
// sample before it.
func TestWindowConsistency(t *testing.T) {
	for _, w := range []Window{winQuiet, winBusiness, winWeekendNights, winWeekend, winMondayDay, winGapHour, winNight} {
		dw := mustWindow(t, w)
		for _, z := range []struct{ zone, start string }{
			{"Europe/Berlin", "2026-03-26T00:00:00Z"},
			{"Europe/Berlin", "2026-10-22T00:00:00Z"},
			{"America/New_York", "2026-03-05T00:00:00Z"},
			{"America/New_York", "2026-10-29T00:00:00Z"},
		} {
			loc := calLoc(t, z.zone)
			start := calTime(t, z.start)
			var prevOpen, prevClose time.Time
			for u := start; u.Before(start.AddDate(0, 0, 8)); u = u.Add(7 * time.Minute) {
				name := fmt.Sprintf("%s-%s %v at %s", w.From, w.To, w.Days, calFmt(u, loc))
				if dw.Contains(u, loc) {
					c := dw.NextClose(u, loc)
					if !c.After(u) || dw.Contains(c, loc) || !dw.Contains(c.Add(-time.Nanosecond), loc) {
						t.Errorf("%s: NextClose = %s is not a closing edge", name, calFmt(c, loc))
					}
					if u.Before(prevClose) && !c.Equal(prevClose) {
						t.Errorf("%s: NextClose = %s, the sample before said %s", name, calFmt(c, loc), calFmt(prevClose, loc))
					}
					prevClose, prevOpen = c, time.Time{}
					continue
				}
				o := dw.NextOpen(u, loc)
				if !o.After(u) || !dw.Contains(o, loc) || dw.Contains(o.Add(-time.Nanosecond), loc) {
					t.Errorf("%s: NextOpen = %s is not an opening edge", name, calFmt(o, loc))
				}
				if u.Before(prevOpen) && !o.Equal(prevOpen) {
					t.Errorf("%s: NextOpen = %s, the sample before said %s", name, calFmt(o, loc), calFmt(prevOpen, loc))
				}
				prevOpen, prevClose = o, time.Time{}
			}
		}
	}
}

func TestDeliveryWindow(t *testing.T) {
	with := func(w Window, action string) *Window { w.Action = action; return &w }
	quiet, quietSkip := with(winQuiet, ""), with(winQuiet, ActionSkip)
	business, businessSkip := with(winBusiness, ActionDelay), with(winBusiness, ActionSkip)
	for _, tc := range []struct {
		name            string
		quiet, business *Window
		zone            string
		t               string
		allowed, skip   bool
		at, reason, err string
	}{
		{"no windows", nil, nil, "Europe/Berlin", "2026-03-27T22:00:00+01:00", true, false, "2026-03-27T22:00:00+01:00", "", ""},
		{"quiet only, outside", quiet, nil, "Europe/Berlin", "2026-03-27T12:00:00+01:00", true, false, "2026-03-27T12:00:00+01:00", "", ""},
		{"quiet only, at to", quiet, nil, "Europe/Berlin", "2026-03-28T08:00:00+01:00", true, false, "2026-03-28T08:00:00+01:00", "", ""},
		{"quiet only, at from", quiet, nil, "Europe/Berlin", "2026-03-27T21:00:00+01:00", false, false, "2026-03-28T08:00:00+01:00", ReasonQuietHours, ""},
		{"quiet only, delay across spring-forward", quiet, nil, "Europe/Berlin", "2026-03-28T23:00:00+01:00", false, false, "2026-03-29T08:00:00+02:00", ReasonQuietHours, ""},
		{"quiet only, delay across fall-back", quiet, nil, "America/New_York", "2026-11-01T01:30:00-05:00", false, false, "2026-11-01T08:00:00-05:00", ReasonQuietHours, ""},
		{"quiet only, skip", quietSkip, nil, "Europe/Berlin", "2026-03-27T22:00:00+01:00", false, true, "", ReasonQuietHours, ""},
		{"quiet only, skip not blocking", quietSkip, nil, "Europe/Berlin", "2026-03-27T20:00:00+01:00", true, false, "2026-03-27T20:00:00+01:00", "", ""},
		{"business only, inside", nil, business, "Europe/Berlin", "2026-03-30T10:00:00+02:00", true, false, "2026-03-30T10:00:00+02:00", "", ""},
		{"business only, friday evening", nil, business, "Europe/Berlin", "2026-03-27T17:00:00+01:00", false, false, "2026-03-30T09:00:00+02:00", ReasonBusinessHours, ""},
		{"business only, skip", nil, businessSkip, "Europe/Berlin", "2026-03-28T10:00:00+01:00", false, true, "", ReasonBusinessHours, ""},
		{"business only, new york", nil, business, "America/New_York", "2026-03-06T22:00:00Z", false, false, "2026-03-09T09:00:00-04:00", ReasonBusinessHours, ""},
		{"both, friday night", quiet, business, "Europe/Berlin", "2026-03-27T22:00:00+01:00", false, false, "2026-03-30T09:00:00+02:00", ReasonQuietHours, ""},
		{"both, monday early quiet", quiet, business, "Europe/Berlin", "2026-03-30T07:00:00+02:00", false, false, "2026-03-30T09:00:00+02:00", ReasonQuietHours, ""},
		{"both, monday before opening", quiet, business, "Europe/Berlin", "2026-03-30T08:30:00+02:00", false, false, "2026-03-30T09:00:00+02:00", ReasonBusinessHours, ""},
		{"both, allowed", quiet, business, "Europe/Berlin", "2026-03-30T12:00:00+02:00", true, false, "2026-03-30T12:00:00+02:00", "", ""},
		{"quiet releases into business hours", quiet, &Window{From: "07:00", To: "10:00"}, "Europe/Berlin", "2026-03-30T06:00:00+02:00", false, false, "2026-03-30T08:00:00+02:00", ReasonQuietHours, ""},
		{"business opens inside quiet hours", &Window{From: "20:00", To: "10:00"}, business, "Europe/Berlin", "2026-03-27T18:00:00+01:00", false, false, "2026-03-30T10:00:00+02:00", ReasonBusinessHours, ""},
		{"delayed quiet, skipped business", quiet, businessSkip, "Europe/Berlin", "2026-03-27T22:00:00+01:00", false, true, "", ReasonBusinessHours, ""},
		{"skipped quiet, delayed business", quietSkip, business, "Europe/Berlin", "2026-03-27T22:00:00+01:00", false, true, "", ReasonQuietHours, ""},
		{"skipped quiet not blocking, delayed business", quietSkip, business, "Europe/Berlin", "2026-03-28T12:00:00+01:00", false, false, "2026-03-30T09:00:00+02:00", ReasonBusinessHours, ""},
		{"never: business inside quiet", &Window{From: "08:00", To: "20:00"}, business, "Europe/Berlin", "2026-03-27T22:00:00+01:00", false, false, "", "", "allow no send"},
		{"never: quiet all day", &Window{From: "00:00", To: "00:00"}, nil, "Europe/Berlin", "2026-03-27T22:00:00+01:00", false, false, "", "", "allow no send"},
		{"never: weekend business, weekend quiet", &Window{From: "00:00", To: "00:00", Days: []string{"sat", "sun"}},
			&Window{From: "09:00", To: "17:00", Days: []string{"sat", "sun"}}, "Asia/Kolkata", "2026-03-27T22:00:00+05:30", false, false, "", "", "allow no send"},
		{"bad quiet from", &Window{From: "7:00", To: "08:00"}, nil, "UTC", "2026-03-27T22:00:00Z", false, false, "", "", "quiet_hours.from: "},
		{"bad business day", nil, &Window{From: "09:00", To: "17:00", Days: []string{"mon", "xyz"}}, "UTC", "2026-03-27T22:00:00Z", false, false, "", "", "business_hours.days[1]: "},
		{"bad action", with(winQuiet, "later"), nil, "UTC", "2026-03-27T12:00:00Z", false, false, "", "", "quiet_hours.action: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			loc := calLoc(t, tc.zone)
			got, err := DeliveryWindow(tc.quiet, tc.business, calTime(t, tc.t), loc)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("DeliveryWindow = %+v, %v; want error containing %q", got, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := SendDecision{Allowed: tc.allowed, Skip: tc.skip, Reason: tc.reason}
			if tc.at != "" {
				want.At = calTime(t, tc.at)
			}
			if got.Allowed != want.Allowed || got.Skip != want.Skip || got.Reason != want.Reason || !got.At.Equal(want.At) {
				t.Errorf("DeliveryWindow = {Allowed:%v At:%s Skip:%v Reason:%q}, want {Allowed:%v At:%s Skip:%v Reason:%q}",
					got.Allowed, calFmt(got.At, loc), got.Skip, got.Reason, want.Allowed, calFmt(want.At, loc), want.Skip, want.Reason)
			}
		})
	}
}

func capsPer(s string) time.Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		panic(err)
	}
	return d
}

func TestCheckCaps(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	sms := func(ds ...time.Duration) []SendLog {
		var s []SendLog
		for _, d := range ds {
			s = append(s, SendLog{Channel: "sms", At: ago(d)})
		}
		return s
	}
	h := time.Hour
	daily := FrequencyCap{Channel: "sms", Max: 3, Per: "24h"}
	dailyDelay := FrequencyCap{Channel: "sms", Max: 3, Per: "24h", Action: ActionDelay}
	hourlyDelay := FrequencyCap{Channel: "sms", Max: 1, Per: "1h", Action: ActionDelay}
	hourlySkip := FrequencyCap{Channel: "sms", Max: 1, Per: "1h", Action: ActionSkip}
	for _, tc := range []struct {
		name  string
		caps  []FrequencyCap
		sends []SendLog
		want  SendDecision
	}{
		{"no caps", nil, sms(time.Minute, 2*time.Minute), SendDecision{Allowed: true, At: now}},
		{"under", []FrequencyCap{daily}, sms(20*h, h), SendDecision{Allowed: true, At: now}},
		{"at the cap skips", []FrequencyCap{daily}, sms(20*h, 10*h, h), SendDecision{Skip: true, Reason: ReasonFrequencyCap}},
		{"over the cap skips", []FrequencyCap{daily}, sms(23*h, 20*h, 10*h, h), SendDecision{Skip: true, Reason: ReasonFrequencyCap}},
		{"send exactly per ago has left", []FrequencyCap{daily}, sms(24*h, 10*h, h), SendDecision{Allowed: true, At: now}},
		{"send just inside the window counts", []FrequencyCap{daily}, sms(24*h-time.Nanosecond, 10*h, h), SendDecision{Skip: true, Reason: ReasonFrequencyCap}},
		{"send at t counts", []FrequencyCap{daily}, sms(0, 10*h, h), SendDecision{Skip: true, Reason: ReasonFrequencyCap}},
		{"delay until the oldest leaves", []FrequencyCap{dailyDelay}, sms(20*h, 10*h, h), SendDecision{At: now.Add(4 * h), Reason: ReasonFrequencyCap}},
		{"delay, sends in any order", []FrequencyCap{dailyDelay}, sms(h, 20*h, 10*h), SendDecision{At: now.Add(4 * h), Reason: ReasonFrequencyCap}},
		{"delay over the cap waits for enough to leave", []FrequencyCap{dailyDelay}, sms(23*h, 20*h, 10*h, 5*h, h), SendDecision{At: now.Add(14 * h), Reason: ReasonFrequencyCap}},
		{"delay ignores sends already out", []FrequencyCap{dailyDelay}, sms(30*h, 25*h, 20*h, 10*h, h), SendDecision{At: now.Add(4 * h), Reason: ReasonFrequencyCap}},
		{"strictest delay wins", []FrequencyCap{hourlyDelay, dailyDelay}, sms(20*h, 10*h, 30*time.Minute), SendDecision{At: now.Add(4 * h), Reason: ReasonFrequencyCap}},
		{"only the blocking cap delays", []FrequencyCap{dailyDelay, hourlyDelay}, sms(10*h, 30*time.Minute), SendDecision{At: now.Add(30 * time.Minute), Reason: ReasonFrequencyCap}},
		{"skip beats delay", []FrequencyCap{dailyDelay, hourlySkip}, sms(20*h, 10*h, 30*time.Minute), SendDecision{Skip: true, Reason: ReasonFrequencyCap}},
		{"non-blocking skip cap does not skip", []FrequencyCap{hourlySkip, dailyDelay}, sms(20*h, 10*h, 2*h), SendDecision{At: now.Add(4 * h), Reason: ReasonFrequencyCap}},
		{"other channels not counted", []FrequencyCap{daily}, append(sms(h), SendLog{"email", ago(h)}, SendLog{"email", ago(2 * h)}, SendLog{"push", ago(3 * h)}),
			SendDecision{Allowed: true, At: now}},
		{"caps on other channels ignored", []FrequencyCap{{Channel: "email", Max: 1, Per: "24h"}}, append(sms(h), SendLog{"email", ago(h)}),
			SendDecision{Allowed: true, At: now}},
		{"max zero allows nothing", []FrequencyCap{{Channel: "sms", Max: 0, Per: "24h", Action: ActionDelay}}, nil, SendDecision{Skip: true, Reason: ReasonFrequencyCap}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := slices.Clone(tc.sends)
			got := CheckCaps(tc.caps, capsPer, "sms", tc.sends, now)
			if got.Allowed != tc.want.Allowed || got.Skip != tc.want.Skip || got.Reason != tc.want.Reason || !got.At.Equal(tc.want.At) {
				t.Errorf("CheckCaps = %+v, want %+v", got, tc.want)
			}
			if !slices.Equal(before, tc.sends) {
				t.Errorf("CheckCaps reordered the sends: %v", tc.sends)
			}
			if got.Reason == ReasonFrequencyCap && !got.Skip {
				// At the release time the caps let the send go.
				if again := CheckCaps(tc.caps, capsPer, "sms", tc.sends, got.At); !again.Allowed {
					t.Errorf("at the release time %v: %+v", got.At, again)
				}
				if again := CheckCaps(tc.caps, capsPer, "sms", tc.sends, got.At.Add(-time.Nanosecond)); again.Allowed {
					t.Errorf("just before the release time: allowed")
				}
			}
		})
	}
}

func TestCapsPrune(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	s := []SendLog{
		{"sms", now.Add(-48 * time.Hour)},
		{"email", now.Add(-24 * time.Hour)},
		{"sms", now.Add(-24*time.Hour + time.Second)},
		{"push", now.Add(-30 * time.Hour)},
		{"email", now.Add(-time.Hour)},
	}
	orig := slices.Clone(s)
	got := PruneSends(s, 24*time.Hour, now)
	if want := []SendLog{s[2], s[4]}; !slices.Equal(got, want) {
		t.Errorf("PruneSends = %v, want %v", got, want)
	}
	if !slices.Equal(s, orig) {
		t.Errorf("PruneSends changed its input: %v", s)
	}
	if got := PruneSends(s, 72*time.Hour, now); len(got) != len(s) || &got[0] != &s[0] {
		t.Errorf("PruneSends with nothing to drop = %v, want the input itself", got)
	}
	if got := PruneSends(s, 0, now); len(got) != 0 {
		t.Errorf("PruneSends with no caps = %v, want none", got)
	}
	if got := PruneSends(nil, time.Hour, now); len(got) != 0 {
		t.Errorf("PruneSends(nil) = %v", got)
	}
}

func TestSplitBucket(t *testing.T) {
	// Pinned: these values are part of the replay contract; if this test
	// fails, users would move between split paths.
	for _, tc := range []struct {
		user, journey string
		want          float64
	}{
		{"user-1", "welcome", pinnedSplit[0]},
		{"user-2", "welcome", pinnedSplit[1]},
		{"user-1", "cart-abandon", pinnedSplit[2]},
		{"", "", pinnedSplit[3]},
	} {
		if got := SplitBucket(tc.user, tc.journey); got != tc.want {
			t.Errorf("SplitBucket(%q, %q) = %v, want %v", tc.user, tc.journey, got, tc.want)
		}
	}
	if SplitBucket("ab", "c") == SplitBucket("a", "bc") {
		t.Error("SplitBucket does not separate user and journey")
	}

	// Uniform: a fixed set of 100k user IDs, so the statistic is the same
	// on every run. 99 degrees of freedom: the 0.1% critical value is 148.2.
	const users = 100_000
	var counts [100]int
	same := 0
	for i := range users {
		user := fmt.Sprintf("user-%d", i)
		x := SplitBucket(user, "welcome")
		if x < 0 || x >= 100 || math.IsNaN(x) {
			t.Fatalf("SplitBucket(%q) = %v out of [0, 100)", user, x)
		}
		counts[int(x)]++
		// Another journey must split the same users independently.
		y := SplitBucket(user, "welcome-v2")
		if int(x)/10 == int(y)/10 {
			same++
		}
	}
	chi := 0.0
	for _, c := range counts {
		d := float64(c) - users/100
		chi += d * d / (users / 100)
	}
	if chi > 148.2 {
		t.Errorf("chi-square over 100 buckets = %.1f, want <= 148.2; counts %v", chi, counts)
	}
	if same < 9_500 || same > 10_500 {
		t.Errorf("%d of %d users share a decile in two journeys, want about 10000", same, users)
	}
	t.Logf("chi-square %.1f, same decile %d", chi, same)
}

var pinnedSplit = [4]float64{46.03286600940888, 47.71071288715895, 36.124000741074106, 14.838301097631856}
