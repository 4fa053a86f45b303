package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/beckon-dev/beckon/pkg/records"
)

// Headers of every request.
const (
	HeaderIdempotencyKey = "Idempotency-Key"    // the command ID
	HeaderSignature      = "X-Beckon-Signature" // "sha256=" + hex HMAC-SHA256 of the body
	HeaderTimestamp      = "X-Beckon-Timestamp" // Unix seconds of the attempt
	HeaderTraceParent    = "traceparent"        // W3C trace context of the issuing step, when known
)

// Body is the JSON document POSTed for one SendCommand. Timestamps are
// RFC 3339 in UTC with millisecond precision; Deadline is null when the
// command never expires; Payload is the command's rendering context, an
// object ({} when absent). The body is the same for every attempt of a
// command, so its signature is too.
type Body struct {
	CommandID      string       `json:"command_id"`
	JourneyID      string       `json:"journey_id"`
	JourneyVersion int32        `json:"journey_version"`
	InstanceID     string       `json:"instance_id"`
	StepID         string       `json:"step_id"`
	UserID         string       `json:"user_id"`
	Channel        string       `json:"channel"`
	Recipient      string       `json:"recipient"`
	TemplateID     string       `json:"template_id,omitempty"`
	Locale         string       `json:"locale,omitempty"`
	Payload        records.JSON `json:"payload"`
	CreatedAt      time.Time    `json:"created_at"`
	Deadline       *time.Time   `json:"deadline"`
}

// NewBody returns the body for cmd.
func NewBody(cmd records.SendCommand) Body {
	b := Body{
		CommandID:      cmd.CommandID,
		JourneyID:      cmd.JourneyID,
		JourneyVersion: cmd.JourneyVersion,
		InstanceID:     cmd.InstanceID,
		StepID:         cmd.StepID,
		UserID:         cmd.UserID,
		Channel:        cmd.Channel,
		Recipient:      cmd.Recipient,
		TemplateID:     cmd.TemplateID,
		Locale:         cmd.Locale,
		Payload:        cmd.Payload,
		CreatedAt:      cmd.CreatedAt.UTC().Truncate(time.Millisecond),
	}
	if b.Payload.IsZero() {
		b.Payload = records.JSON("{}")
	}
	if !cmd.Deadline.IsZero() {
		d := cmd.Deadline.UTC().Truncate(time.Millisecond)
		b.Deadline = &d
	}
	return b
}

// encodeBody marshals the body of cmd.
func encodeBody(cmd records.SendCommand) ([]byte, error) {
	b, err := json.Marshal(NewBody(cmd))
	if err != nil {
		return nil, fmt.Errorf("webhook: encode body of command %s: %w", cmd.CommandID, err)
	}
	return b, nil
}

// Sign returns the X-Beckon-Signature value of body: "sha256=" and the hex
// HMAC-SHA256 of the exact body bytes keyed with secret. Receivers recompute
// it over the raw request body and compare with hmac.Equal.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}
