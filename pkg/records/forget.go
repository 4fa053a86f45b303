package records

import (
	"time"

	"github.com/beckon-dev/beckon/schemas"
)

// ForgetRequest asks the engine to forget a user (docs/forget.md). The
// record's key is the request: a forget record with an empty value
// forgets its key's user too, so a platform team without an Avro
// encoder can produce one.
type ForgetRequest struct {
	RequestID   string
	UserID      string
	RequestedAt time.Time
	// RequestedBy is who or what asked; empty when not said.
	RequestedBy string
}

// AvroName returns "dev.beckon.ForgetRequest".
func (ForgetRequest) AvroName() string { return schemas.ForgetRequest }

// Key returns the user ID: forget records are keyed by user.
func (r ForgetRequest) Key() string { return r.UserID }
