package timeline

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// appendEntry appends entry as JSON, as encoding/json would (without its
// HTML escaping), at a fraction of its cost: an entry is written for
// every activity. The details and payload are JSON the engine made and
// are copied as they are.
func appendEntry(b []byte, en *Entry) []byte {
	b = append(b, `{"seq":`...)
	b = strconv.AppendInt(b, int64(en.Seq), 10)
	if en.Sub != 0 {
		b = append(b, `,"sub":`...)
		b = strconv.AppendInt(b, int64(en.Sub), 10)
	}
	b = appendTimeField(b, "at", en.At, false)
	b = appendStringField(b, "kind", en.Kind, false)
	b = appendStringField(b, "step", en.Step, true)
	b = appendStringField(b, "reason", en.Reason, true)
	b = appendRawField(b, "details", en.Details)
	b = appendStringField(b, "activity_id", en.ActivityID, true)
	b = appendStringField(b, "span_id", en.SpanID, true)
	if in := en.Input; in != nil {
		b = append(b, `,"input":{"type":`...)
		b = appendJSONString(b, in.Type)
		b = appendStringField(b, "name", in.Name, true)
		b = appendStringField(b, "message_id", in.MessageID, true)
		b = appendTimeField(b, "timestamp", in.Timestamp, true)
		b = appendStringField(b, "receipt_id", in.ReceiptID, true)
		b = append(b, '}')
	}
	if s := en.Send; s != nil {
		b = append(b, `,"send":{"command_id":`...)
		b = appendJSONString(b, s.CommandID)
		b = appendStringField(b, "channel", s.Channel, false)
		b = appendStringField(b, "template", s.Template, true)
		b = appendStringField(b, "recipient", s.Recipient, true)
		b = appendStringField(b, "locale", s.Locale, true)
		b = appendRawField(b, "payload", s.Payload)
		b = appendTimeField(b, "deadline", s.Deadline, true)
		b = append(b, '}')
	}
	if r := en.Receipt; r != nil {
		b = append(b, `,"receipt":{"receipt_id":`...)
		b = appendJSONString(b, r.ReceiptID)
		b = appendStringField(b, "command_id", r.CommandID, true)
		b = appendStringField(b, "channel", r.Channel, true)
		b = appendStringField(b, "status", r.Status, false)
		b = appendStringField(b, "reply_text", r.ReplyText, true)
		b = appendStringField(b, "failure_reason", r.FailureReason, true)
		b = appendTimeField(b, "occurred_at", r.OccurredAt, true)
		b = append(b, '}')
	}
	return append(b, '}')
}

func appendStringField(b []byte, name, v string, omitEmpty bool) []byte {
	if omitEmpty && v == "" {
		return b
	}
	b = append(append(append(b, `,"`...), name...), `":`...)
	return appendJSONString(b, v)
}

func appendTimeField(b []byte, name string, t time.Time, omitZero bool) []byte {
	if omitZero && t.IsZero() {
		return b
	}
	b = append(append(append(b, `,"`...), name...), `":"`...)
	return append(t.AppendFormat(b, time.RFC3339Nano), '"')
}

func appendRawField(b []byte, name string, raw []byte) []byte {
	if len(raw) == 0 {
		return b
	}
	b = append(append(append(b, `,"`...), name...), `":`...)
	return append(b, raw...)
}

// appendJSONString appends s as a JSON string: quotes, backslashes and
// control characters escaped, invalid UTF-8 replaced by U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r != utf8.RuneError || size != 1 {
				i += size
				continue
			}
			b = append(append(b, s[start:i]...), `\ufffd`...)
			i++
			start = i
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, `\n`...)
		case '\r':
			b = append(b, `\r`...)
		case '\t':
			b = append(b, `\t`...)
		default:
			b = append(b, `\u00`...)
			b = append(b, hexDigits[c>>4], hexDigits[c&0xf])
		}
		i++
		start = i
	}
	return append(append(b, s[start:]...), '"')
}

const hexDigits = "0123456789abcdef"
