package records

// Record is implemented by every Beckon wire record. The codec uses it to find
// the Avro schema of a value, and producers use Key as the Kafka record key.
type Record interface {
	// AvroName is the full name of the record's Avro schema, e.g.
	// "dev.beckon.Event" (see package schemas).
	AvroName() string
	// Key is the Kafka record key the record is produced with: the user ID on
	// user-scoped topics, the entity ID on lookup topics.
	Key() string
}
