// Package topics is the one place that declares every Kafka topic Beckon
// uses (DESIGN.md's data flow): its name with the deployment's prefix, its
// partition count, replication factor, cleanup policy and retention, and
// whether it is co-partitioned with the other user-keyed topics.
//
// Apply creates what is missing and converges declared configs; Check only
// reports drift. Both refuse a deployment whose co-partitioned topics have
// different partition counts, because the engine would then join one user's
// events with another user's state.
//
// It does not produce or consume records.
package topics
