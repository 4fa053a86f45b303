// Package simulate backtests a journey definition: it reads a window of
// past events and receipts (and the profiles, facts and lookup rows as
// they stood) from Kafka and runs the definition through the journey
// semantics (pkg/journey) in virtual time, per user, as the engine would
// have run it, and reports what would have happened (Report).
//
// It is read-only: it consumes partitions directly (no consumer group, no
// committed offsets) and produces nothing, so a simulation never sends a
// message or changes a live journey. It is not a replay of what the
// engine did (docs/simulation.md says what it does not model).
package simulate
