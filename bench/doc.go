// Package bench holds the workloads that measure Beckon's runtime and
// engine against their ceiling and their peers (the programs are in
// cmd/streambench and cmd/enginebench, the peers in peers/): a plain franz-go consume-produce pipe, the
// runtime's exactly-once per-user counter, a restore of a prefilled
// changelog and a due-time index full of timers. Each pipeline runs in its
// own process (see cmd/streambench, which re-executes itself as the child)
// so that its peak RSS is its own; the goka version of the counter is a
// separate module in peers/goka so that goka's dependencies stay out of
// the product's go.mod.
//
// It is not a general load generator: the event and output formats are the
// ones these measurements need (a send time and a sequence number to check
// latency and exactly-once delivery), nothing more.
package bench
