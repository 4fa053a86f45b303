package stream

import (
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Headers the runtime adds to a dead-lettered record; the original
// record's headers are kept before them.
const (
	HeaderDLQReason    = "beckon.dlq.reason"
	HeaderDLQTopic     = "beckon.dlq.topic"
	HeaderDLQPartition = "beckon.dlq.partition"
	HeaderDLQOffset    = "beckon.dlq.offset"
	HeaderDLQGroup     = "beckon.dlq.group"
	HeaderDLQAt        = "beckon.dlq.at"
)

// deadLetter builds the dead-letter record of a message: the original key,
// value and headers, plus where it came from and why it was rejected. A
// timer's source topic is "timer" and its offset -1.
func deadLetter(dlq, group string, m Message, reason string, now time.Time) *kgo.Record {
	topic := m.Topic
	if m.Kind == KindTimer {
		topic = "timer"
	}
	r := &kgo.Record{Topic: dlq, Key: m.Key, Value: m.Value}
	for _, h := range m.Headers {
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
	}
	r.Headers = append(r.Headers,
		kgo.RecordHeader{Key: HeaderDLQReason, Value: []byte(reason)},
		kgo.RecordHeader{Key: HeaderDLQTopic, Value: []byte(topic)},
		kgo.RecordHeader{Key: HeaderDLQPartition, Value: strconv.AppendInt(nil, int64(m.Partition), 10)},
		kgo.RecordHeader{Key: HeaderDLQOffset, Value: strconv.AppendInt(nil, m.Offset, 10)},
		kgo.RecordHeader{Key: HeaderDLQGroup, Value: []byte(group)},
		kgo.RecordHeader{Key: HeaderDLQAt, Value: now.UTC().AppendFormat(nil, time.RFC3339Nano)},
	)
	return r
}
