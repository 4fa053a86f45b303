package webhook

import (
	"net/http"
	"testing"
	"time"
)

// Full jitter: the wait is drawn below min(Max, Base*2^n), never above.
func TestBackoffDelay(t *testing.T) {
	b := Backoff{Base: 200 * time.Millisecond, Max: 30 * time.Second}
	highest := func(n int64) int64 { return n - 1 }
	tests := []struct {
		retry int
		limit time.Duration
	}{
		{0, 200 * time.Millisecond},
		{1, 400 * time.Millisecond},
		{4, 3200 * time.Millisecond},
		{7, 25600 * time.Millisecond},
		{8, 30 * time.Second},
		{70, 30 * time.Second}, // no overflow past 2^63
	}
	for _, tt := range tests {
		if got := b.delay(tt.retry, highest); got != tt.limit-1 {
			t.Errorf("retry %d: highest delay %v, want just under %v", tt.retry, got, tt.limit)
		}
		if got := b.delay(tt.retry, func(int64) int64 { return 0 }); got != 0 {
			t.Errorf("retry %d: lowest delay %v, want 0", tt.retry, got)
		}
		for range 50 {
			if got := b.Delay(tt.retry); got < 0 || got >= tt.limit {
				t.Fatalf("retry %d: delay %v outside [0, %v)", tt.retry, got, tt.limit)
			}
		}
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		header string
		want   time.Duration
		ok     bool
	}{
		{"", 0, false},
		{"1", time.Second, true},
		{" 120 ", 2 * time.Minute, true},
		{"-3", 0, false},
		{"soon", 0, false},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0, true},
	}
	for _, tt := range tests {
		got, ok := retryAfter(tt.header, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("retryAfter(%q) = %v, %v; want %v, %v", tt.header, got, ok, tt.want, tt.ok)
		}
	}
}

// RFC 4231 test case 2.
func TestSign(t *testing.T) {
	got := Sign([]byte("Jefe"), []byte("what do ya want for nothing?"))
	if want := "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"; got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
}
