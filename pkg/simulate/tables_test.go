package simulate

import (
	"testing"
	"time"
)

// A table answers each key as it stood at a moment of the window: the
// last version before the window, then the changes inside it, a
// tombstone removing the row from its time on.
func TestTableAsOf(t *testing.T) {
	from := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	tb := newTable(from)
	tb.put("u1", from.Add(-2*time.Hour), []byte("old"))
	tb.put("u1", from.Add(-time.Hour), []byte("as of from"))
	tb.put("u1", from.Add(time.Hour), []byte("changed"))
	tb.put("u1", from.Add(2*time.Hour), nil)
	tb.put("u2", from.Add(time.Hour), []byte("new"))
	if n := len(tb.rows["u1"]); n != 3 {
		t.Errorf("u1 keeps %d versions, want 3 (one before the window)", n)
	}
	for _, c := range []struct {
		key  string
		at   time.Duration
		want string
	}{
		{"u1", 0, "as of from"}, {"u1", time.Hour - time.Millisecond, "as of from"}, {"u1", time.Hour, "changed"},
		{"u1", 2 * time.Hour, ""}, {"u2", 0, ""}, {"u2", time.Hour, "new"}, {"u3", time.Hour, ""},
	} {
		got := ""
		if v := tb.get(c.key, from.Add(c.at)); v != nil {
			got = string(v.value)
		}
		if got != c.want {
			t.Errorf("%s at from+%v: %q, want %q", c.key, c.at, got, c.want)
		}
	}
}
