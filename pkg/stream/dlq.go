package stream

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Headers the runtime adds to a dead-lettered record; the original
// record's headers are kept before them (unless they were too large, see
// HeaderDLQTruncated).
const (
	HeaderDLQReason    = "beckon.dlq.reason"
	HeaderDLQTopic     = "beckon.dlq.topic"
	HeaderDLQPartition = "beckon.dlq.partition"
	HeaderDLQOffset    = "beckon.dlq.offset"
	HeaderDLQGroup     = "beckon.dlq.group"
	HeaderDLQAt        = "beckon.dlq.at"
	// HeaderDLQKeySize and HeaderDLQValueSize are the original key's and
	// value's sizes in bytes, always set.
	HeaderDLQKeySize   = "beckon.dlq.key.size"
	HeaderDLQValueSize = "beckon.dlq.value.size"
	// HeaderDLQTruncated is set when the original could not be stored
	// whole: a comma-separated list of what was cut ("key", "value",
	// "headers"). A cut key or value keeps its prefix; cut headers are
	// dropped. The original is at the source topic, partition and offset
	// (while its retention lasts).
	HeaderDLQTruncated = "beckon.dlq.truncated"
)

// deadLetter builds the dead-letter record of a message: the original key,
// value and headers, plus where it came from and why it was rejected. A
// timer's source topic is "timer" and its offset -1.
//
// The record never exceeds maxBytes as the producer counts it (recordBytes),
// whatever the message's size, so a dead letter cannot fail the
// transaction: a record that compressed well at its source may be far
// larger than any producer will write uncompressed.
func deadLetter(dlq, group string, m Message, reason string, now time.Time, maxBytes int) *kgo.Record {
	topic := m.Topic
	if m.Kind == KindTimer {
		topic = "timer"
	}
	r := &kgo.Record{Topic: dlq}
	own := []kgo.RecordHeader{
		{Key: HeaderDLQReason, Value: []byte(truncateText(reason, maxReasonBytes))},
		{Key: HeaderDLQTopic, Value: []byte(topic)},
		{Key: HeaderDLQPartition, Value: strconv.AppendInt(nil, int64(m.Partition), 10)},
		{Key: HeaderDLQOffset, Value: strconv.AppendInt(nil, m.Offset, 10)},
		{Key: HeaderDLQGroup, Value: []byte(group)},
		{Key: HeaderDLQAt, Value: now.UTC().AppendFormat(nil, time.RFC3339Nano)},
		{Key: HeaderDLQKeySize, Value: strconv.AppendInt(nil, int64(len(m.Key)), 10)},
		{Key: HeaderDLQValueSize, Value: strconv.AppendInt(nil, int64(len(m.Value)), 10)},
	}
	// What is left for the original after the runtime's headers, the
	// truncation header and the framing.
	budget := maxBytes - recordFraming - len(HeaderDLQTruncated) - len("key,value,headers") - 10
	for _, h := range own {
		budget -= len(h.Key) + len(h.Value) + 10
	}
	budget = max(budget, 0)
	var cut []string

	headerBytes := 0
	for _, h := range m.Headers {
		headerBytes += len(h.Key) + len(h.Value) + 10
	}
	if headerBytes <= min(maxKeptHeaderBytes, budget/4) {
		for _, h := range m.Headers {
			r.Headers = append(r.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
		}
		budget -= headerBytes
	} else {
		cut = append(cut, "headers")
	}

	r.Key = m.Key
	if keep := min(maxKeptKeyBytes, budget/4); len(m.Key) > keep {
		r.Key = m.Key[:keep]
		cut = append(cut, "key")
	}
	budget = max(budget-len(r.Key), 0)

	r.Value = m.Value
	if len(m.Value) > budget {
		r.Value = m.Value[:budget]
		cut = append(cut, "value")
	}

	r.Headers = append(r.Headers, own...)
	if len(cut) > 0 {
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: HeaderDLQTruncated, Value: []byte(strings.Join(cut, ","))})
	}
	return r
}

// truncateText cuts s to at most n bytes on a rune boundary, marking the
// cut.
func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "…(truncated)"
	s = s[:n-len(mark)]
	// Back off a rune cut in half (at most 3 bytes: a reason may hold
	// bytes that are not UTF-8 at all).
	for i := 0; i < 3 && len(s) > 0; i++ {
		if r, size := utf8.DecodeLastRuneInString(s); r != utf8.RuneError || size > 1 {
			break
		}
		s = s[:len(s)-1]
	}
	return s + mark
}
