package simulate

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseTime reads a window bound as the CLI and the API take it: an RFC
// 3339 time, or a duration before now ("168h", "90m", or days: "7d").
func ParseTime(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(s)
	if days, ok := strings.CutSuffix(s, "d"); ok && err != nil {
		n, nerr := strconv.Atoi(days)
		d, err = time.Duration(n)*24*time.Hour, nerr
	}
	if err != nil || d < 0 {
		return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time nor a duration before now such as 168h or 7d", s)
	}
	return now.Add(-d), nil
}
