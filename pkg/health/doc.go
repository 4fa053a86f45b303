// Package health serves what a service tells its orchestrator and its
// scraper: /healthz (the process is alive and its loop makes progress),
// /readyz (every owned partition and global table is restored) and
// /metrics, on one HTTP listener.
//
// It is not where health is decided: that is the service's own Health and
// Ready (stream.Runner's for the engine).
package health
