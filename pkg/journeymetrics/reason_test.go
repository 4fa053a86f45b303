package journeymetrics

import (
	"strings"
	"testing"
)

func TestClipKeepsTheStablePartOfAReason(t *testing.T) {
	long := strings.Repeat("é", maxReasonBytes) // 2 bytes each
	for in, want := range map[string]string{
		"quiet_hours":                         "quiet_hours",
		"frequency_cap":                       "frequency_cap",
		"completed":                           "completed",
		"exit event Order Completed":          "exit event Order Completed",
		"reentry cooldown: entered 3m20s ago": "reentry cooldown",
		"reentry once_per_session: already entered in session s-9f2": "reentry once_per_session",
		"paused: later than max_lateness":                            "paused",
		long:                                                         long[:maxReasonBytes],
		"x" + long:                                                   "x" + long[:maxReasonBytes-2],
	} {
		if got := clip(in); got != want {
			t.Errorf("clip(%.40q) = %.40q, want %.40q", in, got, want)
		}
	}
}
