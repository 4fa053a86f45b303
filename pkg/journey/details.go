package journey

import (
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/beckon-dev/beckon/pkg/records"
)

// detailsJSON encodes an activity's details as records.NewJSON of
// jsonValue(details) does: most activities (a hold's reset, on every cart
// event) carry a few plain values, which are written here directly
// without encoding/json's reflection. Anything else (nested values, text
// encoding/json would escape, numbers it would write with an exponent)
// goes through encoding/json.
func detailsJSON(details map[string]any) records.JSON {
	if b, ok := appendDetails(make([]byte, 0, 64), details); ok {
		return b
	}
	j, _ := records.NewJSON(jsonValue(details))
	return j
}

func appendDetails(b []byte, details map[string]any) ([]byte, bool) {
	var keys [8]string
	ks := keys[:0]
	for k := range details {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	b = append(b, '{')
	for i, k := range ks {
		if i > 0 {
			b = append(b, ',')
		}
		var ok bool
		if b, ok = appendPlainString(b, k); !ok {
			return nil, false
		}
		b = append(b, ':')
		switch v := details[k].(type) {
		case nil:
			b = append(b, "null"...)
		case bool:
			b = strconv.AppendBool(b, v)
		case string:
			b, ok = appendPlainString(b, v)
		case int:
			b = strconv.AppendInt(b, int64(v), 10)
		case int64:
			b, ok = appendIntegral(b, float64(v)) // jsonValue makes it a float64
		case float64:
			b, ok = appendIntegral(b, v)
		case time.Time:
			b, ok = appendPlainString(b, v.UTC().Format(time.RFC3339Nano))
		default:
			return nil, false
		}
		if !ok {
			return nil, false
		}
	}
	return append(b, '}'), true
}

// appendPlainString writes s quoted when encoding/json would write it
// unchanged: printable ASCII without quotes, backslashes or <, >, &
// (which it escapes for HTML).
func appendPlainString(b []byte, s string) ([]byte, bool) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c >= 0x7f, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return b, false
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"'), true
}

// appendIntegral writes a float64 holding an integer below 1e21 as
// encoding/json does (its digits, no exponent).
func appendIntegral(b []byte, f float64) ([]byte, bool) {
	if f != math.Trunc(f) || math.Abs(f) >= 1e21 {
		return b, false
	}
	return strconv.AppendFloat(b, f, 'f', -1, 64), true
}
