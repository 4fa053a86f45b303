package engine

import (
	"testing"

	"github.com/beckon-dev/beckon/pkg/stream"
)

// SetProcessFault makes every engine of this test binary ask fault before
// processing a message, until the test ends.
func SetProcessFault(t testing.TB, fault func(stream.Message) error) {
	processFault = fault
	t.Cleanup(func() { processFault = nil })
}
