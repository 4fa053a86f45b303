// Package journeymetrics counts what journeys do, per journey, version and
// step, and serves the counts: how many instances entered, are active,
// exited (by reason), were sent a message and what became of it
// (delivered, failed, opened, clicked, replied), converted, and how many
// sends or entries were skipped (by reason), all time and per hour.
//
// A Processor is a group on the stream runtime over the activity and
// receipts topics. Both are keyed by user, so each input partition keeps
// its own partial counts in its store and writes every changed partial
// count, in the same transaction, to the compacted metrics.journeys topic
// keyed by journey, version, step, measure, hour and partition. A Reader
// materialises that topic and sums the partitions, so whoever serves the
// counts needs no routing to the partition owners. Neither the counts nor
// their keys name a user.
//
// A service that serves the counts runs a Reader (NewReader, then Follow
// on TopicOf(layout) in a goroutine) and hands it to the API (pkg/api):
// Reader.Journey answers "GET /v1/journeys/{id}/metrics" and
// Reader.JourneyCounts the journey lists' headline counts. This package
// has no HTTP; docs/api-metrics.md describes the counts and the JSON.
//
// It is not a general metrics pipeline: the runtime's and the engine's
// operational measurements are OpenTelemetry metrics (pkg/metrics).
package journeymetrics
