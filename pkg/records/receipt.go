package records

import (
	"time"

	"github.com/beckon-dev/beckon/schemas"
)

// ReceiptStatus says what a Receipt reports. Values other than the constants
// below can appear when a newer producer adds a symbol; treat them as unknown.
type ReceiptStatus string

// Receipt statuses, the symbols of the Avro enum dev.beckon.ReceiptStatus.
const (
	ReceiptSent         ReceiptStatus = "sent"
	ReceiptDelivered    ReceiptStatus = "delivered"
	ReceiptFailed       ReceiptStatus = "failed"
	ReceiptOpened       ReceiptStatus = "opened"
	ReceiptClicked      ReceiptStatus = "clicked"
	ReceiptReplied      ReceiptStatus = "replied"
	ReceiptUnsubscribed ReceiptStatus = "unsubscribed"
)

// Receipt is channel feedback about a message or a user's reaction
// (dev.beckon.Receipt), read from the receipts topic keyed by UserID.
type Receipt struct {
	ReceiptID     string        // unique ID assigned by the channel team
	CommandID     string        // the SendCommand it is about; optional
	UserID        string        // the user; the record key
	Channel       string        // channel it comes from
	Status        ReceiptStatus // what happened
	ReplyText     string        // the reply, for ReceiptReplied; optional
	FailureReason string        // why, for ReceiptFailed; optional
	OccurredAt    time.Time     // when it happened at the provider
	Attributes    JSON          // free-form provider details (object)
}

// AvroName returns "dev.beckon.Receipt".
func (Receipt) AvroName() string { return schemas.Receipt }

// Key returns the user ID.
func (r Receipt) Key() string { return r.UserID }
