package records

import (
	"time"

	"github.com/beckon-dev/beckon/schemas"
)

// EventType is the kind of an Event. Values other than the constants below can
// appear when a newer producer adds a symbol; treat them as unknown.
type EventType string

// Event types, the symbols of the Avro enum dev.beckon.EventType.
const (
	EventTrack    EventType = "track"    // the user did something
	EventIdentify EventType = "identify" // who the user is; traits in Properties
	EventPage     EventType = "page"     // the user viewed a page
)

// Event is a behavioural event from a platform team (dev.beckon.Event), read
// from the events topic keyed by UserID.
type Event struct {
	MessageID   string    // producer-assigned unique ID, used to de-duplicate
	Type        EventType // track, identify or page
	Name        string    // event name ("Product Added"); empty for identify
	UserID      string    // the user; the record key
	AnonymousID string    // pre-identification device ID; optional
	Timestamp   time.Time // when it happened at the source
	Properties  JSON      // free-form event properties (object)
	Context     JSON      // free-form context: ip, user_agent, page, locale... (object)
	SessionID   string    // optional session ID
}

// AvroName returns "dev.beckon.Event".
func (Event) AvroName() string { return schemas.Event }

// Key returns the user ID.
func (e Event) Key() string { return e.UserID }
