package records

import (
	"time"

	"github.com/beckon-dev/beckon/schemas"
)

// SendCommand instructs a channel team to deliver one message
// (dev.beckon.SendCommand), written to send.<channel> keyed by UserID.
type SendCommand struct {
	CommandID      string    // deterministic idempotency key
	JourneyID      string    // journey that issued the send
	JourneyVersion int32     // version the instance is pinned to
	InstanceID     string    // instance that issued the send
	StepID         string    // step that issued the send
	UserID         string    // recipient user; the record key
	Channel        string    // email, sms, push, whatsapp, inapp, webhook or custom
	Recipient      string    // address on the channel (email, E.164, token, URL)
	TemplateID     string    // template to render; optional
	Locale         string    // BCP 47 locale to render in; optional
	Payload        JSON      // free-form rendering context (object)
	CreatedAt      time.Time // when the engine issued the command
	Deadline       time.Time // do not deliver after this; zero means never expires
	TraceParent    string    // W3C traceparent of the issuing step; optional
}

// AvroName returns "dev.beckon.SendCommand".
func (SendCommand) AvroName() string { return schemas.SendCommand }

// Key returns the user ID.
func (s SendCommand) Key() string { return s.UserID }
