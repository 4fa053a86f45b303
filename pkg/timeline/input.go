package timeline

import (
	"encoding/json"

	"github.com/beckon-dev/beckon/pkg/stream"
)

// InputHeader is the header of the engine's activity records that says
// what the engine was processing when it wrote them (an Input, as JSON):
// the activity record itself does not say, and the timeline processor
// reads activities, not the engine's inputs. One value serves every
// activity of an input, so it costs the engine one small encoding per
// input that moves an instance.
const InputHeader = "beckon-input"

// AppendInput appends in as the JSON of InputHeader.
func AppendInput(b []byte, in *Input) []byte {
	b = append(b, `{"type":`...)
	b = appendJSONString(b, in.Type)
	b = appendStringField(b, "name", in.Name, true)
	b = appendStringField(b, "message_id", in.MessageID, true)
	b = appendTimeField(b, "timestamp", in.Timestamp, true)
	b = appendStringField(b, "receipt_id", in.ReceiptID, true)
	return append(b, '}')
}

// inputOf reads InputHeader from an activity record's headers; nil if it
// has none or it does not decode (an older engine, another producer).
func inputOf(headers []stream.Header) *Input {
	for _, h := range headers {
		if h.Key != InputHeader {
			continue
		}
		var in Input
		if json.Unmarshal(h.Value, &in) != nil || in.Type == "" {
			return nil
		}
		return &in
	}
	return nil
}
