package records

import (
	"time"

	"github.com/beckon-dev/beckon/schemas"
)

// Fact is one warehouse-derived fact about a user (dev.beckon.Fact), such as a
// loyalty tier or a lifetime value, read from the compacted facts.<name> topic
// keyed by UserID.
type Fact struct {
	UserID    string    // the user; the record key
	Name      string    // the fact's name, the <name> of its topic
	Value     JSON      // any JSON value: "gold", 1200, {"tier":"gold"}
	UpdatedAt time.Time // when the warehouse computed it
}

// AvroName returns "dev.beckon.Fact".
func (Fact) AvroName() string { return schemas.Fact }

// Key returns the user ID.
func (f Fact) Key() string { return f.UserID }
