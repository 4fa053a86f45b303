package kafkatest

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// maxPrefixName bounds the part of a prefix taken from the test's name,
// keeping topic names far below Kafka's 249-character limit.
const maxPrefixName = 40

// Prefix returns a topic prefix unique to this call, such as
// "testproducesends.3f9a0c1e.", for t's topics, consumer groups and
// transactional IDs, so tests can share one real broker and run in
// parallel. It ends in a dot, like kafkaconn's TopicPrefix, and holds only
// lower-case letters, digits, '-' and '.': valid in topic names, and never
// with a '_', so it cannot make two names that differ only by '.' versus
// '_', which Kafka rejects as colliding.
func Prefix(t testing.TB) string {
	var b strings.Builder
	for _, r := range strings.ToLower(t.Name()) {
		if b.Len() == maxPrefixName {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '/' && b.Len() > 0:
			// Subtests: "TestA/case_1" becomes "testa-case1".
			b.WriteByte('-')
		}
	}
	name := strings.TrimRight(b.String(), "-")
	if name == "" {
		name = "test"
	}
	return fmt.Sprintf("%s.%08x.", name, rand.Uint32())
}
