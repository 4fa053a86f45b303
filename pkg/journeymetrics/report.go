package journeymetrics

import (
	"cmp"
	"slices"
	"time"
)

// Counts are the measures of one journey, version, step or hour.
type Counts struct {
	Entered int64 `json:"entered"`
	// Active is a level, not a flow: instances now at the step (whose
	// latest transition was there). Hourly series leave it zero.
	Active       int64            `json:"active"`
	Exited       map[string]int64 `json:"exited"` // by reason
	Sent         int64            `json:"sent"`
	Accepted     int64            `json:"accepted"`
	Delivered    int64            `json:"delivered"`
	Failed       int64            `json:"failed"`
	Opened       int64            `json:"opened"`
	Clicked      int64            `json:"clicked"`
	Replied      int64            `json:"replied"`
	Unsubscribed int64            `json:"unsubscribed"`
	Converted    int64            `json:"converted"`
	Skipped      map[string]int64 `json:"skipped"` // by reason
	Errors       int64            `json:"errors"`
}

func newCounts() Counts {
	return Counts{Exited: map[string]int64{}, Skipped: map[string]int64{}}
}

// add counts n of a measure (and reason).
func (c *Counts) add(m Measure, reason string, n int64) {
	switch m {
	case MeasureEntered:
		c.Entered += n
	case MeasureActive:
		c.Active += n
	case MeasureExited:
		c.Exited[reason] += n
	case MeasureSent:
		c.Sent += n
	case MeasureAccepted:
		c.Accepted += n
	case MeasureDelivered:
		c.Delivered += n
	case MeasureFailed:
		c.Failed += n
	case MeasureOpened:
		c.Opened += n
	case MeasureClicked:
		c.Clicked += n
	case MeasureReplied:
		c.Replied += n
	case MeasureUnsubscribed:
		c.Unsubscribed += n
	case MeasureConverted:
		c.Converted += n
	case MeasureSkipped:
		c.Skipped[reason] += n
	case MeasureErrors:
		c.Errors += n
	}
}

// Query selects the hourly series of a Report.
type Query struct {
	// Version and Step, when set, restrict the hourly series to one
	// version and one step. Totals, versions and steps are never
	// restricted.
	Version int32
	Step    string
	// From and To bound the series to hours starting in [From, To); zero
	// means unbounded.
	From, To time.Time
}

// Report is a journey's counts: the body of GET /v1/journeys/{id}/metrics.
type Report struct {
	JourneyID string          `json:"journeyId"`
	Totals    Counts          `json:"totals"`
	Versions  []VersionCounts `json:"versions"`
	// Steps are the counts of each step ID, all versions together.
	Steps  []StepCounts `json:"steps"`
	Hourly []HourCounts `json:"hourly"`
}

// VersionCounts are one version's counts, in total and per step.
type VersionCounts struct {
	Version int32        `json:"version"`
	Totals  Counts       `json:"totals"`
	Steps   []StepCounts `json:"steps"`
}

// StepCounts are one step's counts. Step "" holds what happened to the
// journey outside any instance (entries skipped or refused).
type StepCounts struct {
	Step   string `json:"step"`
	Counts Counts `json:"counts"`
}

// HourCounts are the flows of one hour.
type HourCounts struct {
	Hour   time.Time `json:"hour"`
	Counts Counts    `json:"counts"`
}

// summarise folds a journey's cells into a report: all-time cells make
// the totals, versions and steps; hourly cells the series.
func summarise(journey string, cells map[Cell]int64, q Query) Report {
	rep := Report{JourneyID: journey, Totals: newCounts(), Versions: []VersionCounts{}, Steps: []StepCounts{}, Hourly: []HourCounts{}}
	versions := map[int32]*VersionCounts{}
	versionSteps := map[int32]map[string]*Counts{}
	steps := map[string]*Counts{}
	hours := map[int64]*Counts{}
	stepOf := func(m map[string]*Counts, s string) *Counts {
		c := m[s]
		if c == nil {
			n := newCounts()
			c = &n
			m[s] = c
		}
		return c
	}
	for cell, n := range cells {
		if cell.Hour != 0 {
			at := time.Unix(cell.Hour*3600, 0).UTC()
			if (q.Version != 0 && cell.Version != q.Version) || (q.Step != "" && cell.Step != q.Step) ||
				(!q.From.IsZero() && at.Before(q.From)) || (!q.To.IsZero() && !at.Before(q.To)) {
				continue
			}
			c := hours[cell.Hour]
			if c == nil {
				x := newCounts()
				c = &x
				hours[cell.Hour] = c
			}
			c.add(cell.Measure, cell.Reason, n)
			continue
		}
		rep.Totals.add(cell.Measure, cell.Reason, n)
		v := versions[cell.Version]
		if v == nil {
			v = &VersionCounts{Version: cell.Version, Totals: newCounts()}
			versions[cell.Version] = v
			versionSteps[cell.Version] = map[string]*Counts{}
		}
		v.Totals.add(cell.Measure, cell.Reason, n)
		stepOf(versionSteps[cell.Version], cell.Step).add(cell.Measure, cell.Reason, n)
		stepOf(steps, cell.Step).add(cell.Measure, cell.Reason, n)
	}
	for num, v := range versions {
		v.Steps = stepList(versionSteps[num])
		rep.Versions = append(rep.Versions, *v)
	}
	slices.SortFunc(rep.Versions, func(a, b VersionCounts) int { return cmp.Compare(a.Version, b.Version) })
	rep.Steps = stepList(steps)
	for h, c := range hours {
		rep.Hourly = append(rep.Hourly, HourCounts{Hour: time.Unix(h*3600, 0).UTC(), Counts: *c})
	}
	slices.SortFunc(rep.Hourly, func(a, b HourCounts) int { return a.Hour.Compare(b.Hour) })
	return rep
}

func stepList(m map[string]*Counts) []StepCounts {
	out := make([]StepCounts, 0, len(m))
	for s, c := range m {
		out = append(out, StepCounts{Step: s, Counts: *c})
	}
	slices.SortFunc(out, func(a, b StepCounts) int { return cmp.Compare(a.Step, b.Step) })
	return out
}
