// Package records defines the Go types of Beckon's wire records (Event,
// Profile, Fact, LookupRecord, SendCommand, Receipt, Activity, Handoff,
// JourneyDefinition, ForgetRequest), one per Avro schema in schemas/.
//
// It is the shared vocabulary of the engine, the journey semantics and the
// services, and deliberately has no dependencies beyond the standard library
// and the schema names: the pure journey core can use these types without
// pulling in Avro, Kafka or a schema registry. It is not for encoding: pkg/codec
// turns these values into bytes and back, reading fields by name so schemas can
// evolve.
//
// Conventions shared by every type:
//   - An optional (nullable) string is the empty string when absent, and an
//     optional timestamp is the zero time.Time; the codec writes both as Avro
//     null.
//   - Timestamps travel with millisecond precision (Avro timestamp-millis) and
//     decode in UTC.
//   - Free-form data (event properties, traits, payloads...) is JSON, kept as
//     raw text and parsed only when someone needs it; see JSON.
package records
