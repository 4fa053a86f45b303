package webhook

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Backoff is exponential backoff with full jitter: the wait before retry n
// (0 for the first retry) is uniform in [0, min(Max, Base*2^n)). Full
// jitter spreads the retries of many senders hitting one recovering
// endpoint instead of synchronising them.
type Backoff struct {
	Base time.Duration
	Max  time.Duration
}

// Delay returns the wait before retry n.
func (b Backoff) Delay(n int) time.Duration {
	return b.delay(n, rand.Int64N)
}

func (b Backoff) delay(n int, intn func(int64) int64) time.Duration {
	limit := b.Max
	if n < 62 && b.Base > 0 {
		if d := b.Base << n; d > 0 && d < limit {
			limit = d
		}
	}
	if limit <= 0 {
		return 0
	}
	return time.Duration(intn(int64(limit)))
}

// retryAfter parses a Retry-After header, delta-seconds or an HTTP date,
// relative to now. ok is false when the header is absent or malformed.
func retryAfter(h string, now time.Time) (wait time.Duration, ok bool) {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(h, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		return time.Duration(min(secs, int64(24*time.Hour/time.Second))) * time.Second, true
	}
	at, err := http.ParseTime(h)
	if err != nil {
		return 0, false
	}
	return max(at.Sub(now), 0), true
}
