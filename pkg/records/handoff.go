package records

import (
	"time"

	"github.com/beckon-dev/beckon/schemas"
)

// MessageDirection says who wrote a ConversationMessage.
type MessageDirection string

// Message directions, the symbols of the Avro enum dev.beckon.MessageDirection.
const (
	Inbound  MessageDirection = "inbound"  // from the user
	Outbound MessageDirection = "outbound" // to the user
)

// Handoff is a conversation handed to a human agent (dev.beckon.Handoff),
// written to the handoff topic keyed by UserID.
type Handoff struct {
	HandoffID    string                // deterministic unique ID
	InstanceID   string                // instance that handed off
	JourneyID    string                // its journey
	UserID       string                // the user; the record key
	Channel      string                // channel of the conversation
	Conversation []ConversationMessage // the conversation so far, oldest first
	Profile      JSON                  // free-form profile summary (object)
	Payload      JSON                  // free-form journey context (object)
	CreatedAt    time.Time             // when the engine handed off
}

// ConversationMessage is one message of a handed-off conversation.
type ConversationMessage struct {
	Direction MessageDirection
	Text      string
	At        time.Time // when it was sent or received
	CommandID string    // the SendCommand of an outbound message; optional
}

// AvroName returns "dev.beckon.Handoff".
func (Handoff) AvroName() string { return schemas.Handoff }

// Key returns the user ID.
func (h Handoff) Key() string { return h.UserID }
