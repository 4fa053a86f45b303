package codec

import (
	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/schemas"
)

func sendCommandToNative(s *records.SendCommand) (map[string]any, error) {
	payload, err := jsonObject(schemas.SendCommand, "payload", s.Payload)
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"command_id":      s.CommandID,
		"journey_id":      s.JourneyID,
		"journey_version": s.JourneyVersion,
		"instance_id":     s.InstanceID,
		"step_id":         s.StepID,
		"user_id":         s.UserID,
		"channel":         s.Channel,
		"recipient":       s.Recipient,
		"template_id":     optString(s.TemplateID),
		"locale":          optString(s.Locale),
		"payload":         payload,
		"created_at":      millis(s.CreatedAt),
		"deadline":        optTime(s.Deadline),
		"traceparent":     optString(s.TraceParent),
	}, nil
}

func sendCommandFromNative(f *fields, s *records.SendCommand) {
	s.CommandID = f.str("command_id", true)
	s.JourneyID = f.str("journey_id", true)
	s.JourneyVersion = f.int32("journey_version")
	s.InstanceID = f.str("instance_id", true)
	s.StepID = f.str("step_id", true)
	s.UserID = f.str("user_id", true)
	s.Channel = f.str("channel", true)
	s.Recipient = f.str("recipient", true)
	s.TemplateID = f.str("template_id", false)
	s.Locale = f.str("locale", false)
	s.Payload = f.json("payload")
	s.CreatedAt = f.time("created_at", true)
	s.Deadline = f.time("deadline", false)
	s.TraceParent = f.str("traceparent", false)
}
