package main

import (
	"strings"
	"testing"
	"time"
)

// TestOwnershipCheck: the scale-out benchmark's proof that no partition
// was owned twice must catch every overlap, also one with a span that is
// not the one just before it, and accept clean handovers.
func TestOwnershipCheck(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	type ev struct {
		member string
		ms     int
		parts  []int32
	}
	for _, tc := range []struct {
		name      string
		events    []ev
		overlap   string // part of the error, "" for none
		handovers int
		minGap    time.Duration
	}{
		{name: "clean handover", events: []ev{
			{"a", 0, []int32{0, 1}}, {"b", 0, nil},
			{"a", 100, []int32{0}}, {"b", 150, []int32{1}},
			{"a", 300, nil}, {"b", 320, []int32{0, 1}},
		}, handovers: 2, minGap: 20 * time.Millisecond},
		{name: "two owners at once", events: []ev{
			{"a", 0, []int32{0}}, {"b", 50, []int32{0}}, {"a", 100, nil}, {"b", 200, nil},
		}, overlap: "partition 0 owned by a", handovers: 1},
		{name: "overlap with an earlier, longer span", events: []ev{
			// a owns 0 from 0 to 1000; b holds it briefly inside that
			// (caught against a), then c from 500 (also inside a's span,
			// though after b's ended).
			{"a", 0, []int32{0}}, {"b", 100, []int32{0}}, {"b", 200, nil},
			{"c", 500, []int32{0}}, {"a", 1000, nil}, {"c", 1100, nil},
		}, overlap: "and c", handovers: 2},
		{name: "a member keeps its partition", events: []ev{
			{"a", 0, []int32{0}}, {"a", 100, []int32{0, 1}}, {"a", 200, []int32{1}}, {"a", 300, nil},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var o ownership
			for _, e := range tc.events {
				o.add(e.member, at(e.ms), e.parts)
			}
			handovers, minGap, err := o.check()
			switch {
			case tc.overlap == "" && err != nil:
				t.Fatalf("check: %v, want no overlap", err)
			case tc.overlap != "" && (err == nil || !strings.Contains(err.Error(), tc.overlap)):
				t.Fatalf("check: %v, want an overlap naming %q", err, tc.overlap)
			}
			if handovers != tc.handovers {
				t.Errorf("handovers %d, want %d", handovers, tc.handovers)
			}
			if tc.overlap == "" && tc.handovers > 0 && minGap != tc.minGap {
				t.Errorf("shortest gap %v, want %v", minGap, tc.minGap)
			}
		})
	}
}
