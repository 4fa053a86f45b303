package records

import (
	"time"

	"github.com/beckon-dev/beckon/schemas"
)

// ActivityKind says what kind of transition an Activity records. It is a
// string on the wire, not an enum, so kinds can be added without breaking
// readers: code must accept kinds it does not know.
type ActivityKind string

// Known activity kinds.
const (
	ActivityEntered       ActivityKind = "entered"
	ActivityStepCompleted ActivityKind = "step_completed"
	ActivityWaiting       ActivityKind = "waiting"
	ActivitySent          ActivityKind = "sent"
	ActivitySkipped       ActivityKind = "skipped"
	ActivityExited        ActivityKind = "exited"
	ActivityConverted     ActivityKind = "converted"
	ActivityError         ActivityKind = "error"
)

// Activity is one transition of a journey instance (dev.beckon.Activity),
// written to the activity topic keyed by UserID.
type Activity struct {
	ActivityID     string       // deterministic unique ID of the transition
	InstanceID     string       // the instance that moved
	JourneyID      string       // its journey
	JourneyVersion int32        // the version it is pinned to
	UserID         string       // its user; the record key
	EntryKey       string       // its entry key; empty for single-entry journeys
	StepID         string       // the step concerned; optional
	Kind           ActivityKind // what happened
	Reason         string       // why, e.g. "quiet_hours"; optional
	At             time.Time    // engine time of the transition
	TraceID        string       // OpenTelemetry trace ID (hex); optional
	SpanID         string       // OpenTelemetry span ID (hex); optional
	Details        JSON         // free-form details (object)
}

// AvroName returns "dev.beckon.Activity".
func (Activity) AvroName() string { return schemas.Activity }

// Key returns the user ID.
func (a Activity) Key() string { return a.UserID }
