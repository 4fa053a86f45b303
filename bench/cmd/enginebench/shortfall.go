package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
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
	ends, err := kadm.NewClient(d.cl).ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, 0, err
	}
	left := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			left[o.Partition] = o.Offset
		}
	})
	cl, err := kgo.NewClient(kgo.SeedBrokers(d.seeds...), kgo.ConsumeTopics(topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return nil, 0, err
	}
	defer cl.Close()
	tally, n := map[string]int{}, 0
	for len(left) > 0 {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			return tally, n, err
		}
		fs.EachRecord(func(r *kgo.Record) {
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
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			if end, ok := left[p.Partition]; ok && p.HighWatermark >= end && (len(p.Records) == 0 || p.Records[len(p.Records)-1].Offset+2 >= end) {
				delete(left, p.Partition)
			}
		})
	}
	return tally, n, nil
}
