// Package stream is Beckon's stream-processing runtime: Kafka Streams'
// model in Go. A Group declares its edges (co-partitioned inputs, tables,
// global tables, a changelog, a dead-letter topic) and one Processor; a
// Runner consumes the inputs in a consumer group, keeps one Pebble state
// store per owned partition backed by the changelog topic, fires durable
// timers, and commits outputs, changelog records and input offsets in one
// Kafka transaction.
//
// Processing code sees a Context with a key/value and range API, table
// lookups, Emit and Schedule; it never touches Kafka or Pebble. Processing
// must be deterministic given the message, the state and Context.Now: the
// runtime may abort a transaction and process the same records again.
//
// It is not a general dataflow engine: there are no repartitions, windows
// or joins between streams; a Group is one processor over co-partitioned
// inputs.
package stream
