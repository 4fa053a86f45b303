//go:build race

package journey

// raceEnabled: the race detector's instrumentation allocates and slows
// down on its own, so allocation and time ceilings are not measured.
const raceEnabled = true
