package records

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// JSON is free-form data (event properties, context, traits, payloads, ...)
// carried as JSON text. On the wire it is an Avro string; in Go it stays raw
// bytes until someone calls Map or Decode, because most records cross the
// engine without anyone looking inside their free-form fields, and parsing JSON
// costs several times more than decoding the Avro around it (docs/schemas.md
// has the measurements).
//
// A nil or empty JSON means "absent"; the codec writes it as {} for object
// fields and null for Fact.Value. JSON marshals to and from encoding/json as
// the raw value it holds, like json.RawMessage.
type JSON []byte

// NewJSON marshals v (typically a map[string]any or a struct) into JSON.
func NewJSON(v any) (JSON, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("records: marshal JSON: %w", err)
	}
	return JSON(b), nil
}

// IsZero reports whether j holds nothing (nil or only white space).
func (j JSON) IsZero() bool {
	return len(bytes.TrimSpace(j)) == 0
}

// Map parses j as a JSON object. An absent value or JSON null gives an empty,
// non-nil map; any other non-object value is an error. Numbers decode as
// float64, as with encoding/json.
func (j JSON) Map() (map[string]any, error) {
	m := map[string]any{}
	if j.IsZero() {
		return m, nil
	}
	if fast, ok := parseObject(j); ok {
		return fast, nil
	}
	if err := json.Unmarshal(j, &m); err != nil {
		return nil, fmt.Errorf("records: parse JSON object: %w", err)
	}
	if m == nil { // the text was null
		m = map[string]any{}
	}
	return m, nil
}

// Decode parses j into v, like json.Unmarshal. An absent value leaves v
// unchanged.
func (j JSON) Decode(v any) error {
	if j.IsZero() {
		return nil
	}
	if err := json.Unmarshal(j, v); err != nil {
		return fmt.Errorf("records: parse JSON: %w", err)
	}
	return nil
}

// MarshalJSON returns j itself, or null when j is absent.
func (j JSON) MarshalJSON() ([]byte, error) {
	if j.IsZero() {
		return []byte("null"), nil
	}
	return j, nil
}

// UnmarshalJSON stores a copy of data in j.
func (j *JSON) UnmarshalJSON(data []byte) error {
	if j == nil {
		return fmt.Errorf("records: UnmarshalJSON on nil *JSON")
	}
	*j = append((*j)[:0], data...)
	return nil
}
