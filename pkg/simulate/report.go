package simulate

import (
	"time"

	"github.com/beckon-dev/beckon/pkg/timeline"
)

// Report is what a simulation found: the body of POST /v1/simulations and
// of `beckon journeys simulate --json`. Field names are stable
// (docs/simulation.md documents each one); counts are over the whole
// window and every simulated user.
type Report struct {
	// JourneyID and Version are the simulated definition's.
	JourneyID string `json:"journeyId"`
	Version   int32  `json:"version"`
	// From and To are the window [From, To) of input record timestamps.
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Input is what was read.
	Input Input `json:"input"`
	// Entered counts instances that entered; EnteredUsers the distinct
	// users among them.
	Entered      int64 `json:"entered"`
	EnteredUsers int64 `json:"enteredUsers"`
	// Active counts instances still running at To.
	Active int64 `json:"active"`
	// Converted counts goal activities (conversions).
	Converted int64 `json:"converted"`
	// Exited counts ended instances by exit reason ("exit event Order
	// Completed", "converted", "completed", "cart emptied", ...).
	Exited []Count `json:"exited"`
	// Sends counts send commands by step and channel.
	Sends []StepSends `json:"sends"`
	// Skipped counts sends not made and entries refused, by reason
	// (quiet_hours when the window says skip, frequency_cap, no_consent,
	// unsubscribed, max_instances, "reentry once: already entered", ...).
	Skipped []Count `json:"skipped"`
	// Held counts sends that waited before they went (or were still
	// waiting at To), by reason: quiet_hours, frequency_cap,
	// missing_data, delivery window.
	Held []Count `json:"held"`
	// Errors counts error activities by reason (an expression that failed
	// for a user, a payload over its cap); each cost that user's instance
	// the step, never the run.
	Errors []Count `json:"errors"`
	// SendTimes is the distribution of the send commands' times.
	SendTimes SendTimes `json:"sendTimes"`
	// Samples are a few instances' full timelines, in the shape of
	// GET /v1/instances/{instanceId} (pkg/timeline), chosen to show
	// different outcomes.
	Samples []timeline.InstanceTimeline `json:"samples"`
	// ElapsedMillis is the simulation's wall time.
	ElapsedMillis int64 `json:"elapsedMillis"`
}

// Input describes what the simulation read.
type Input struct {
	// Partitions is the events topic's partition count; all were read.
	Partitions int `json:"partitions"`
	// Events and Receipts are the records read in the window (of the
	// simulated users when Users limits them).
	Events   int64 `json:"events"`
	Receipts int64 `json:"receipts"`
	// Users is how many distinct users were simulated; UsersLimit the
	// limit asked for (0: none).
	Users      int64 `json:"users"`
	UsersLimit int   `json:"usersLimit,omitempty"`
	// Timers counts the timer wake-ups the simulation fired.
	Timers int64 `json:"timers"`
	// Undecodable counts records that could not be decoded (the engine
	// dead-letters them); they were skipped.
	Undecodable int64 `json:"undecodable"`
	// Truncated is set when the input was cut short: "maxEvents" when the
	// cap on records read was reached (the counts cover the records
	// before it), empty otherwise.
	Truncated string `json:"truncated,omitempty"`
}

// Count is a count by reason.
type Count struct {
	Reason string `json:"reason"`
	Count  int64  `json:"count"`
}

// StepSends counts the send commands of one step on one channel.
type StepSends struct {
	Step     string `json:"step"`
	Channel  string `json:"channel"`
	Template string `json:"template,omitempty"`
	Count    int64  `json:"count"`
}

// SendTimes is the distribution of send times: by hour of the day and by
// day in TimeZone, and by delay since the instance entered.
type SendTimes struct {
	// TimeZone is the zone of ByHour and ByDay: the journey's
	// policies.time_zone, else UTC.
	TimeZone string `json:"timeZone"`
	// ByHour[h] counts sends in hour h (0-23) of the day.
	ByHour [24]int64 `json:"byHour"`
	// ByDay counts sends per calendar day, oldest first, days without
	// sends left out.
	ByDay []DayCount `json:"byDay"`
	// SinceEntry is a histogram of the delay from entry to send.
	SinceEntry []Bucket `json:"sinceEntry"`
}

// DayCount counts sends on one day.
type DayCount struct {
	// Day is the date, YYYY-MM-DD.
	Day   string `json:"day"`
	Count int64  `json:"count"`
}

// Bucket counts sends whose delay since entry is at most UpToSeconds
// (and more than the previous bucket's); the last bucket has
// UpToSeconds 0 and counts everything longer.
type Bucket struct {
	// UpTo is the bound as a duration ("1h0m0s"), "" for the last bucket.
	UpTo        string `json:"upTo"`
	UpToSeconds int64  `json:"upToSeconds"`
	Count       int64  `json:"count"`
}

// sinceEntryBounds are the bucket bounds of SendTimes.SinceEntry.
var sinceEntryBounds = []time.Duration{
	time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour, 3 * time.Hour, 6 * time.Hour,
	12 * time.Hour, 24 * time.Hour, 48 * time.Hour, 72 * time.Hour, 7 * 24 * time.Hour,
}
