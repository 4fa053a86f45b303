package interop

import (
	"bytes"
	"encoding/json"

	"github.com/beckon-dev/beckon/pkg/records"
)

// The peers take and print records in Avro's JSON encoding: a union value
// is {"<branch type>": value} or null, a timestamp-millis its long. These
// functions write Beckon's record types that way, so a test states a record
// once, as a Go value, and hands it to a peer or compares a peer's output
// with it.

// EventJSON returns e in Avro's JSON encoding of schemas/event.avsc.
func EventJSON(e records.Event) string {
	return marshal(map[string]any{
		"message_id":   e.MessageID,
		"type":         string(e.Type),
		"event":        optString(e.Name),
		"user_id":      e.UserID,
		"anonymous_id": optString(e.AnonymousID),
		"timestamp":    e.Timestamp.UnixMilli(),
		"properties":   string(e.Properties),
		"context":      string(e.Context),
		"session_id":   optString(e.SessionID),
	})
}

// ForgetRequestJSON returns r in Avro's JSON encoding of
// schemas/forget_request.avsc.
func ForgetRequestJSON(r records.ForgetRequest) string {
	return marshal(map[string]any{
		"request_id":   r.RequestID,
		"user_id":      r.UserID,
		"requested_at": r.RequestedAt.UnixMilli(),
		"requested_by": optString(r.RequestedBy),
	})
}

// ProfileJSON returns p in Avro's JSON encoding of schemas/profile.avsc.
func ProfileJSON(p records.Profile) string {
	tokens := make([]any, 0, len(p.Addresses.PushTokens))
	for _, t := range p.Addresses.PushTokens {
		tokens = append(tokens, map[string]any{"token": t.Token, "platform": t.Platform})
	}
	custom := map[string]any{}
	for k, v := range p.Addresses.Custom {
		custom[k] = v
	}
	consent := map[string]any{}
	for ch, c := range p.Consent {
		consent[ch] = map[string]any{"status": string(c.Status), "updated_at": c.UpdatedAt.UnixMilli()}
	}
	return marshal(map[string]any{
		"user_id": p.UserID,
		"traits":  string(p.Traits),
		"addresses": map[string]any{
			"email":       optString(p.Addresses.Email),
			"phone":       optString(p.Addresses.Phone),
			"push_tokens": tokens,
			"whatsapp":    optString(p.Addresses.WhatsApp),
			"custom":      custom,
		},
		"time_zone":  optString(p.TimeZone),
		"locale":     optString(p.Locale),
		"consent":    consent,
		"updated_at": p.UpdatedAt.UnixMilli(),
	})
}

// SendCommandJSON returns c in Avro's JSON encoding of
// schemas/send_command.avsc, decoded as Peer.Decode returns records.
func SendCommandJSON(c records.SendCommand) map[string]any {
	var deadline any
	if !c.Deadline.IsZero() {
		deadline = map[string]any{"long": c.Deadline.UnixMilli()}
	}
	return unmarshal(marshal(map[string]any{
		"command_id":      c.CommandID,
		"journey_id":      c.JourneyID,
		"journey_version": c.JourneyVersion,
		"instance_id":     c.InstanceID,
		"step_id":         c.StepID,
		"user_id":         c.UserID,
		"channel":         c.Channel,
		"recipient":       c.Recipient,
		"template_id":     optString(c.TemplateID),
		"locale":          optString(c.Locale),
		"payload":         string(c.Payload),
		"created_at":      c.CreatedAt.UnixMilli(),
		"deadline":        deadline,
		"traceparent":     optString(c.TraceParent),
	}))
}

// optString is a ["null","string"] union: null for "", as Beckon writes it.
func optString(s string) any {
	if s == "" {
		return nil
	}
	return map[string]any{"string": s}
}

func marshal(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err) // maps of strings and numbers always marshal
	}
	return b.String()
}

func unmarshal(s string) map[string]any {
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.UseNumber()
	var v map[string]any
	if err := dec.Decode(&v); err != nil {
		panic(err)
	}
	return v
}
