package engine

import (
	"strings"

	"github.com/beckon-dev/beckon/pkg/stream"
)

// traceContext reads a W3C traceparent header ("00-<trace id>-<span
// id>-<flags>") into its trace and span IDs; empty when absent or
// malformed.
func traceContext(headers []stream.Header) (traceID, spanID string) {
	for _, h := range headers {
		if !strings.EqualFold(h.Key, "traceparent") {
			continue
		}
		parts := strings.Split(string(h.Value), "-")
		if len(parts) != 4 || len(parts[1]) != 32 || len(parts[2]) != 16 || !isHex(parts[1]) || !isHex(parts[2]) {
			return "", ""
		}
		return parts[1], parts[2]
	}
	return "", ""
}

func isHex(s string) bool {
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
