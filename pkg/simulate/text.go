package simulate

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// WriteText prints the report for people: what was read, the outcome
// counts, the sends, and the send times as bars.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("Simulation of %s (version %d) from %s to %s\n", r.JourneyID, r.Version, r.From.UTC().Format(time.RFC3339), r.To.UTC().Format(time.RFC3339))
	in := r.Input
	p("  read %d events and %d receipts of %d users over %d partitions; %d timers fired", in.Events, in.Receipts, in.Users, in.Partitions, in.Timers)
	if in.UsersLimit > 0 {
		p(" (users limited to %d)", in.UsersLimit)
	}
	if in.Undecodable > 0 {
		p("; %d records undecodable, skipped", in.Undecodable)
	}
	p("; took %v\n", time.Duration(r.ElapsedMillis)*time.Millisecond)
	if in.Truncated != "" {
		p("  TRUNCATED (%s): the counts cover only the records read before the cap\n", in.Truncated)
	}
	p("\nEntered    %d instances (%d users)\nConverted  %d\nActive     %d at the end of the window\n", r.Entered, r.EnteredUsers, r.Converted, r.Active)
	counts := func(title string, cs []Count) {
		if len(cs) == 0 {
			return
		}
		p("\n%s\n", title)
		for _, c := range cs {
			p("  %8d  %s\n", c.Count, c.Reason)
		}
	}
	counts("Exited, by reason", r.Exited)
	if len(r.Sends) > 0 {
		p("\nSends, by step and channel\n")
		for _, s := range r.Sends {
			p("  %8d  %s  %s %s\n", s.Count, s.Step, s.Channel, s.Template)
		}
	}
	counts("Skipped, by reason", r.Skipped)
	counts("Held before sending, by reason", r.Held)
	counts("Errors, by reason", r.Errors)
	st := &r.SendTimes
	var most int64
	for _, n := range st.ByHour {
		most = max(most, n)
	}
	if most > 0 {
		p("\nSends by hour of the day (%s)\n", st.TimeZone)
		for h, n := range st.ByHour {
			p("  %02d:00 %8d %s\n", h, n, strings.Repeat("#", int((n*40+most-1)/most)))
		}
		p("\nSends by day (%s)\n", st.TimeZone)
		for _, d := range st.ByDay {
			p("  %s %8d\n", d.Day, d.Count)
		}
		p("\nDelay from entry to send\n")
		for _, bk := range st.SinceEntry {
			label := "longer"
			if bk.UpTo != "" {
				label = "<= " + bk.UpTo
			}
			p("  %-12s %8d\n", label, bk.Count)
		}
	}
	for _, s := range r.Samples {
		p("\nSample: user %s, instance %s", s.UserID, s.InstanceID)
		if s.EntryKey != "" {
			p(" (key %s)", s.EntryKey)
		}
		p(", %s %s\n", s.Status, s.ExitReason)
		for _, e := range s.Entries {
			p("  %s  %-15s %-20s %s\n", e.At.UTC().Format(time.RFC3339), e.Kind, e.Step, e.Reason)
			if e.Send != nil {
				p("      payload %s\n", e.Send.Payload)
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
