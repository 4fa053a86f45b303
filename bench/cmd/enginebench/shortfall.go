package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beckon-dev/beckon/pkg/records"
)

// shortfall explains a latency run that read fewer send commands than it
// paced events: it tallies the activity topic by kind and reason and
// counts the dead letters, so a missing send shows up as a skip with its
// reason, a dead letter, or a send the activity has but the channel topic
// does not.
func (d *deployment) shortfall(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var b strings.Builder
	for _, base := range []string{"activity", "dlq"} {
		topic := d.prefix + base
		tally, n, err := d.tally(ctx, topic, base == "activity")
		if err != nil {
			fmt.Fprintf(&b, "%s: %v; ", topic, err)
			continue
		}
		keys := make([]string, 0, len(tally))
		for k := range tally {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Fprintf(&b, "%s: %d records", topic, n)
		for _, k := range keys {
			fmt.Fprintf(&b, ", %s %d", k, tally[k])
		}
		b.WriteString("; ")
	}
	return strings.TrimSuffix(b.String(), "; ")
}

// tally reads topic to its end (read_committed) and counts its records by
// activity kind and reason, or by the dead letter's reason header.
func (d *deployment) tally(ctx context.Context, topic string, activity bool) (map[string]int, int, error) {
	tally, n := map[string]int{}, 0
	err := d.readTopic(ctx, topic, func(r *kgo.Record) {
		n++
		if !activity {
			reason := "?"
			for _, h := range r.Headers {
				if strings.HasSuffix(h.Key, "reason") {
					reason = string(h.Value)
				}
			}
			tally[reason]++
			return
		}
		var a records.Activity
		if err := d.cd.Decode(ctx, r.Value, &a); err != nil {
			tally["undecodable"]++
			return
		}
		k := string(a.Kind)
		if a.Reason != "" {
			k += "/" + a.Reason
		}
		tally[k]++
	})
	return tally, n, err
}
