package records

import (
	"strconv"
	"time"

	"github.com/beckon-dev/beckon/schemas"
)

// JourneyState is the lifecycle state of a journey version. It is a string on
// the wire, not an enum, so states can be added; treat unknown states as not
// live.
type JourneyState string

// Known journey states.
const (
	JourneyDraft     JourneyState = "draft"
	JourneyLive      JourneyState = "live"
	JourneyPaused    JourneyState = "paused"
	JourneyArchived  JourneyState = "archived"
	JourneyHasErrors JourneyState = "has-errors"
)

// Definition formats.
const (
	FormatYAML = "yaml"
	FormatJSON = "json"
)

// JourneyDefinition is one version of a journey as published by the control
// plane (dev.beckon.JourneyDefinition), read from the compacted journeys topic.
type JourneyDefinition struct {
	JourneyID   string       // stable across versions
	Version     int32        // 1, 2, ...; instances stay pinned to theirs
	State       JourneyState // draft, live, paused, archived, has-errors
	Format      string       // FormatYAML or FormatJSON
	Definition  string       // the definition text
	PublishedAt time.Time    // zero for drafts never published
	PublishedBy string       // optional
}

// AvroName returns "dev.beckon.JourneyDefinition".
func (JourneyDefinition) AvroName() string { return schemas.JourneyDefinition }

// Key returns "<journey_id>/<version>": every version is its own key so that
// compaction keeps the old versions instances are still pinned to.
func (j JourneyDefinition) Key() string {
	return j.JourneyID + "/" + strconv.FormatInt(int64(j.Version), 10)
}
