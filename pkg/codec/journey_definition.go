package codec

import (
	"github.com/beckon-dev/beckon/pkg/records"
)

func journeyDefinitionToNative(j *records.JourneyDefinition) (map[string]any, error) {
	return map[string]any{
		"journey_id":   j.JourneyID,
		"version":      j.Version,
		"state":        string(j.State),
		"format":       j.Format,
		"definition":   j.Definition,
		"published_at": optTime(j.PublishedAt),
		"published_by": optString(j.PublishedBy),
	}, nil
}

func journeyDefinitionFromNative(f *fields, j *records.JourneyDefinition) {
	j.JourneyID = f.str("journey_id", true)
	j.Version = f.int32("version")
	j.State = records.JourneyState(f.str("state", true))
	j.Format = f.str("format", true)
	j.Definition = f.str("definition", true)
	j.PublishedAt = f.time("published_at", false)
	j.PublishedBy = f.str("published_by", false)
}
