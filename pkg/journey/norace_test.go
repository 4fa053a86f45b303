//go:build !race

package journey

// raceEnabled: see race_test.go.
const raceEnabled = false
