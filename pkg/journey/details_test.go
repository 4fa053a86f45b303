package journey

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/beckon-dev/beckon/pkg/records"
)

// An activity's details are the same bytes encoding/json writes, on the
// direct path and off it.
func TestDetailsJSONMatchesEncodingJSON(t *testing.T) {
	at := time.Date(2026, 12, 3, 4, 5, 6, 789, time.FixedZone("x", 3600))
	cases := []map[string]any{
		{"until": at, "resets": 3},
		{"events_per_minute": 601},
		{"channel": "email", "consent": "unsubscribed"},
		{"late_seconds": int64(42), "b": true, "n": nil, "f": 2.0, "neg": -0.0},
		{"f": 2.5}, {"big": 1e21}, {"big": float64(1 << 62)}, {"i64": int64(math.MaxInt64)}, {"nan": math.NaN()},
		{"html": "<b>&"}, {"quote": `a"b`}, {"uni": "café"}, {"ctl": "a\nb"}, {"nested": map[string]any{"a": 1}},
		{"list": []any{1, "x"}}, {"running": 25, "max": 25}, {"k<": 1},
	}
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(uint64(seed), 0))
	for range 200 {
		m := map[string]any{}
		for range 1 + r.IntN(9) {
			k := string(rune('a' + r.IntN(26)))
			switch r.IntN(6) {
			case 0:
				m[k] = r.IntN(1 << 20)
			case 1:
				m[k] = float64(r.Int64N(1<<60)) * []float64{1, -1, 0.5, 1e-7}[r.IntN(4)]
			case 2:
				m[k] = time.UnixMilli(r.Int64N(1 << 42)).In(time.FixedZone("", 3600*r.IntN(12)))
			case 3:
				m[k] = []string{"email", "x y", "a<b", ""}[r.IntN(4)]
			case 4:
				m[k] = r.IntN(2) == 0
			case 5:
				m[k] = int64(r.Int64())
			}
		}
		cases = append(cases, m)
	}
	for _, d := range cases {
		want, err := records.NewJSON(jsonValue(d))
		got := detailsJSON(d)
		if err != nil {
			want = nil // encoding/json fails (NaN): the activity has none
		}
		if string(got) != string(want) {
			t.Errorf("%v: got %s, encoding/json %s", d, got, want)
		}
	}
}
