package codec

import (
	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/schemas"
)

func activityToNative(a *records.Activity) (map[string]any, error) {
	details, err := jsonObject(schemas.Activity, "details", a.Details)
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"activity_id":     a.ActivityID,
		"instance_id":     a.InstanceID,
		"journey_id":      a.JourneyID,
		"journey_version": a.JourneyVersion,
		"user_id":         a.UserID,
		"entry_key":       a.EntryKey,
		"step_id":         optString(a.StepID),
		"kind":            string(a.Kind),
		"reason":          optString(a.Reason),
		"at":              millis(a.At),
		"trace_id":        optString(a.TraceID),
		"span_id":         optString(a.SpanID),
		"details":         details,
	}, nil
}

func activityFromNative(f *fields, a *records.Activity) {
	a.ActivityID = f.str("activity_id", true)
	a.InstanceID = f.str("instance_id", true)
	a.JourneyID = f.str("journey_id", true)
	a.JourneyVersion = f.int32("journey_version")
	a.UserID = f.str("user_id", true)
	a.EntryKey = f.str("entry_key", false)
	a.StepID = f.str("step_id", false)
	a.Kind = records.ActivityKind(f.str("kind", true))
	a.Reason = f.str("reason", false)
	a.At = f.time("at", true)
	a.TraceID = f.str("trace_id", false)
	a.SpanID = f.str("span_id", false)
	a.Details = f.json("details")
}
