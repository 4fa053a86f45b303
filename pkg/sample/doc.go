// Package sample generates plausible traffic for a small online shop: a
// product catalog (lookups.catalog), user profiles, loyalty facts, and a
// stream of behavioural events in which some shoppers abandon their carts,
// some buy, and some start a credit-card application.
//
// `beckon dev` feeds it into the embedded Kafka so a new user sees journeys
// react to something real; tests use it as a deterministic workload (the
// same seed gives the same records). It is not a load generator for
// benchmarks of the engine's limits.
package sample
