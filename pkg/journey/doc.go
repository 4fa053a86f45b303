// Package journey is the journey semantics: definitions, their validation
// and compilation, and the pure function that moves a user's journey
// instances on an input.
//
//	(user state, input, now) -> (user state', effects)
//
// It does no I/O, reads no clock and starts no goroutines: the engine
// service (services/engine) feeds it events, receipts and timer wake-ups
// from the stream runtime and turns its effects into send commands,
// activity and hand-off records inside the runtime's transaction. Every
// feature is tested here in virtual time.
//
// It is not the place for Kafka, Pebble, encoding on the wire or payload
// enrichment from lookups; those belong to the engine.
package journey
