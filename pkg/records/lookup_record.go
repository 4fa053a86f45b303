package records

import (
	"time"

	"github.com/beckon-dev/beckon/schemas"
)

// LookupRecord is a warehouse entity keyed by its own ID
// (dev.beckon.LookupRecord), such as a product by SKU, read from the compacted
// lookups.<table> topic and replicated on every engine instance.
type LookupRecord struct {
	Table      string    // the lookup table, the <table> of its topic
	ID         string    // the entity's own ID; the record key
	Attributes JSON      // free-form attributes (object)
	UpdatedAt  time.Time // when the warehouse last changed it
}

// AvroName returns "dev.beckon.LookupRecord".
func (LookupRecord) AvroName() string { return schemas.LookupRecord }

// Key returns the entity ID.
func (l LookupRecord) Key() string { return l.ID }
