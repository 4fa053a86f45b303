package codec

import (
	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/schemas"
)

func handoffToNative(h *records.Handoff) (map[string]any, error) {
	profile, err := jsonObject(schemas.Handoff, "profile", h.Profile)
	if err != nil {
		return nil, err
	}
	payload, err := jsonObject(schemas.Handoff, "payload", h.Payload)
	if err != nil {
		return nil, err
	}
	conv := make([]any, len(h.Conversation))
	for i, m := range h.Conversation {
		conv[i] = map[string]any{
			"direction":  string(m.Direction),
			"text":       m.Text,
			"at":         millis(m.At),
			"command_id": optString(m.CommandID),
		}
	}
	return map[string]any{
		"handoff_id":   h.HandoffID,
		"instance_id":  h.InstanceID,
		"journey_id":   h.JourneyID,
		"user_id":      h.UserID,
		"channel":      h.Channel,
		"conversation": conv,
		"profile":      profile,
		"payload":      payload,
		"created_at":   millis(h.CreatedAt),
	}, nil
}

func handoffFromNative(f *fields, h *records.Handoff) {
	h.HandoffID = f.str("handoff_id", true)
	h.InstanceID = f.str("instance_id", true)
	h.JourneyID = f.str("journey_id", true)
	h.UserID = f.str("user_id", true)
	h.Channel = f.str("channel", true)
	f.array("conversation", func(name string, v any, t *node) {
		mf := f.asRecord(name, v, t)
		if mf == nil {
			return
		}
		h.Conversation = append(h.Conversation, records.ConversationMessage{
			Direction: records.MessageDirection(mf.str("direction", true)),
			Text:      mf.str("text", true),
			At:        mf.time("at", true),
			CommandID: mf.str("command_id", false),
		})
	})
	h.Profile = f.json("profile")
	h.Payload = f.json("payload")
	h.CreatedAt = f.time("created_at", true)
}
