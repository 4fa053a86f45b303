// Package engine runs journeys on the stream runtime: it is the imperative
// shell around package journey. It declares the engine's stream group
// (events and receipts as inputs; profiles and facts as co-partitioned
// tables; lookups as global tables), follows the journeys topic into a
// compiled catalog, and for every input loads the user's journey state,
// applies the journey semantics, stores the result, re-arms the instances'
// timers and emits send commands, activity and hand-offs, all in the
// runtime's exactly-once transaction.
//
// It is not where journey semantics live (package journey), nor the
// command line (services/engine, services/beckon).
package engine
