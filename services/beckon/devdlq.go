package main

import (
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beckon-dev/beckon/pkg/stream"
)

// showDeadLetter prints a dead letter with where it came from and why.
func showDeadLetter(w io.Writer, r *kgo.Record) {
	h := map[string]string{}
	for _, x := range r.Headers {
		h[x.Key] = string(x.Value)
	}
	fmt.Fprintf(w, "DLQ    %s[%s]@%s key %s: %s\n", h[stream.HeaderDLQTopic], h[stream.HeaderDLQPartition], h[stream.HeaderDLQOffset], printableKey(r.Key), h[stream.HeaderDLQReason])
}

// printableKey shows a record key as text when it is text, quoted when it
// holds anything else, and says so when it is missing.
func printableKey(k []byte) string {
	switch {
	case k == nil:
		return "(none)"
	case utf8.Valid(k) && strconv.CanBackquote(string(k)) && len(k) > 0:
		return string(k)
	default:
		return strconv.Quote(string(k))
	}
}
