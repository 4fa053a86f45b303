package codec

import (
	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/schemas"
)

func eventToNative(e *records.Event) (map[string]any, error) {
	props, err := jsonObject(schemas.Event, "properties", e.Properties)
	if err != nil {
		return nil, err
	}
	ctx, err := jsonObject(schemas.Event, "context", e.Context)
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"message_id":   e.MessageID,
		"type":         string(e.Type),
		"event":        optString(e.Name),
		"user_id":      e.UserID,
		"anonymous_id": optString(e.AnonymousID),
		"timestamp":    millis(e.Timestamp),
		"properties":   props,
		"context":      ctx,
		"session_id":   optString(e.SessionID),
	}, nil
}

func eventFromNative(f *fields, e *records.Event) {
	e.MessageID = f.str("message_id", true)
	e.Type = records.EventType(f.str("type", true))
	e.Name = f.str("event", false)
	e.UserID = f.str("user_id", true)
	e.AnonymousID = f.str("anonymous_id", false)
	e.Timestamp = f.time("timestamp", true)
	e.Properties = f.json("properties")
	e.Context = f.json("context")
	e.SessionID = f.str("session_id", false)
}
