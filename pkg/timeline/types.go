// Package timeline keeps journey instance timelines and serves them: the
// Processor (a stream group beside the engine, fed by the activity,
// send and receipt topics) and its query handler, the JSON shapes, the
// instance references that lead from an instance to its user (and so to
// its partition), and the Router the api service uses to send a query to
// the processor instance that owns the user's partition
// (docs/api-timelines.md).
package timeline

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// Instance summarises one journey instance of a user: the item of
// GET /v1/users/{userId}/instances, and the head of an instance's
// timeline.
type Instance struct {
	// ID is the instance reference for GET /v1/instances/{instanceId}
	// (Ref): it leads to the user, whose partition holds the timeline.
	ID string `json:"id"`
	// InstanceID is the engine's instance ID, as in activity records.
	InstanceID     string `json:"instance_id"`
	UserID         string `json:"user_id"`
	JourneyID      string `json:"journey_id"`
	JourneyVersion int32  `json:"journey_version"`
	EntryKey       string `json:"entry_key,omitempty"`
	// TraceID is the instance's OpenTelemetry trace (hex); empty when
	// tracing was off.
	TraceID string `json:"trace_id,omitempty"`
	// Status is "active" or "exited".
	Status string `json:"status"`
	// ExitReason says why it exited (an exit event, "completed",
	// "holdout", ...); set when Status is "exited".
	ExitReason string `json:"exit_reason,omitempty"`
	// Step is the step of the last entry.
	Step      string    `json:"step,omitempty"`
	EnteredAt time.Time `json:"entered_at,omitzero"`
	LastAt    time.Time `json:"last_at"`
}

// Entry is one thing that happened to an instance: an activity (kind
// entered, step_completed, waiting, sent, skipped, exited, converted,
// error: records.ActivityKind) or a receipt of one of its sends that
// moved nothing (kind "receipt").
type Entry struct {
	// Seq orders the entries of an instance; Sub orders receipts that
	// came after the same activity.
	Seq int `json:"seq"`
	Sub int `json:"sub,omitempty"`
	// At is the engine's time of the transition.
	At   time.Time `json:"at"`
	Kind string    `json:"kind"`
	Step string    `json:"step,omitempty"`
	// Reason says why: "trigger Product Added", "timer reset by Product
	// Added", "quiet_hours", "event Order Completed".
	Reason string `json:"reason,omitempty"`
	// Details are the activity's details (a JSON object), as on the
	// activity topic.
	Details json.RawMessage `json:"details,omitempty"`
	// ActivityID is the activity record's ID; empty for a receipt.
	ActivityID string `json:"activity_id,omitempty"`
	// SpanID is the span of the step in the instance's trace.
	SpanID string `json:"span_id,omitempty"`
	// Input is what the engine was processing: an event, a receipt or a
	// timer.
	Input *Input `json:"input,omitempty"`
	// Send is the send command of a "sent" entry, with its payload.
	Send *Send `json:"send,omitempty"`
	// Receipt is the receipt of a "receipt" entry, or of an entry a
	// receipt caused.
	Receipt *Receipt `json:"receipt,omitempty"`
}

// Input is what made an entry happen.
type Input struct {
	// Type is "event", "receipt" or "timer".
	Type string `json:"type"`
	// Name, MessageID and Timestamp describe an event.
	Name      string    `json:"name,omitempty"`
	MessageID string    `json:"message_id,omitempty"`
	Timestamp time.Time `json:"timestamp,omitzero"`
	// ReceiptID describes a receipt.
	ReceiptID string `json:"receipt_id,omitempty"`
}

// Send is a send command as the engine issued it.
type Send struct {
	CommandID string          `json:"command_id"`
	Channel   string          `json:"channel"`
	Template  string          `json:"template,omitempty"`
	Recipient string          `json:"recipient,omitempty"`
	Locale    string          `json:"locale,omitempty"`
	Payload   json.RawMessage `json:"payload,omitempty"`
	Deadline  time.Time       `json:"deadline,omitzero"`
}

// Receipt is a channel's report about a send.
type Receipt struct {
	ReceiptID     string    `json:"receipt_id"`
	CommandID     string    `json:"command_id,omitempty"`
	Channel       string    `json:"channel,omitempty"`
	Status        string    `json:"status"`
	ReplyText     string    `json:"reply_text,omitempty"`
	FailureReason string    `json:"failure_reason,omitempty"`
	OccurredAt    time.Time `json:"occurred_at,omitzero"`
}

// NotEntered is something that happened for the user and a journey
// outside any instance: an entry skipped (journey paused, max_instances,
// rate_limited) or failed.
type NotEntered struct {
	At time.Time `json:"at"`
	// JourneyID and JourneyVersion are empty for what concerns no
	// journey (a receipt of a command no running instance sent).
	JourneyID      string `json:"journey_id,omitempty"`
	JourneyVersion int32  `json:"journey_version,omitempty"`
	Kind           string `json:"kind"`
	Reason         string `json:"reason"`
	TraceID        string `json:"trace_id,omitempty"`
	Input          *Input `json:"input,omitempty"`
}

// UserInstances is the body of GET /v1/users/{userId}/instances: the
// user's instances kept by the retention, the most recently active first.
type UserInstances struct {
	UserID     string       `json:"user_id"`
	Partition  int32        `json:"partition"`
	Instances  []Instance   `json:"instances"`
	NotEntered []NotEntered `json:"not_entered"`
}

// InstanceTimeline is the body of GET /v1/instances/{instanceId}.
type InstanceTimeline struct {
	Instance
	Partition int32 `json:"partition"`
	// Entries are oldest first; the oldest may have been dropped by the
	// retention (Truncated).
	Entries   []Entry `json:"entries"`
	Truncated bool    `json:"truncated,omitempty"`
}

// ErrorBody is the JSON body of an error response, the api service's
// shape: {"error": {"code": ..., "message": ...}}.
type ErrorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// Ref returns the reference of instance of user: the user ID in
// unpadded base64url, a dot, and the instance ID. The user's partition
// is found from it without asking anyone.
func Ref(user, instance string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(user)) + "." + instance
}

// ParseRef splits an instance reference (Ref) into user and instance.
func ParseRef(ref string) (user, instance string, err error) {
	u, inst, ok := strings.Cut(ref, ".")
	if !ok || u == "" || inst == "" {
		return "", "", errors.New("not an instance reference: base64url(user ID) \".\" instance ID")
	}
	b, err := base64.RawURLEncoding.DecodeString(u)
	if err != nil || len(b) == 0 {
		return "", "", errors.New("not an instance reference: the part before the dot is not a base64url user ID")
	}
	return string(b), inst, nil
}

// RetryAfterSeconds is the Retry-After of a 503 while a user's partition
// moves or restores: a rebalance of the engine group settles in seconds.
const RetryAfterSeconds = 1
