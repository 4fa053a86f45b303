package topics

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Drift is one way the cluster differs from the layout.
type Drift struct {
	Topic string
	// What differs: "missing", "partitions", "replication factor" or
	// "config <key>".
	What string
	Want string
	Got  string
}

func (d Drift) String() string {
	if d.What == "missing" {
		return fmt.Sprintf("%s: missing", d.Topic)
	}
	return fmt.Sprintf("%s: %s is %s, want %s", d.Topic, d.What, d.Got, d.Want)
}

// CoPartitionError refuses a deployment whose co-partitioned topics would
// have different partition counts. Each Mismatch names a topic and its count
// next to the reference topic and its count.
type CoPartitionError struct {
	Reference  string
	Partitions int32
	Mismatches []TopicPartitions
}

// TopicPartitions is a topic and its partition count (existing, or to be
// created).
type TopicPartitions struct {
	Topic      string
	Partitions int32
}

func (e *CoPartitionError) Error() string {
	var b strings.Builder
	b.WriteString("co-partitioned topics must have the same partition count:")
	for _, m := range e.Mismatches {
		fmt.Fprintf(&b, " %q has %d partitions but %q has %d;", e.Reference, e.Partitions, m.Topic, m.Partitions)
	}
	b.WriteString(" a user's events, tables and state would land on different engine instances. Recreate the odd topics (or set --partitions to match) before applying")
	return b.String()
}

// observed is what the cluster has for one topic.
type observed struct {
	partitions int32
	rf         int16
	configs    map[string]string
}

// inspect reads every declared topic's partitions, replication factor and
// configs; missing topics are absent from the result.
//
// It asks the brokers directly rather than through kadm's metadata cache,
// which remembers a missing topic for a few seconds and would hide the
// topics Apply just created.
func inspect(ctx context.Context, cl *kgo.Client, l Layout) (map[string]observed, error) {
	resp, err := metadata(ctx, cl, l.Names())
	if err != nil {
		return nil, err
	}
	out := make(map[string]observed)
	var existing []string
	for _, t := range resp.Topics {
		var name string
		if t.Topic != nil {
			name = *t.Topic
		}
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			if errors.Is(err, kerr.UnknownTopicOrPartition) {
				continue
			}
			return nil, fmt.Errorf("describe topic %s: %w", name, err)
		}
		rf := int16(0)
		if len(t.Partitions) > 0 {
			rf = int16(len(t.Partitions[0].Replicas))
		}
		out[name] = observed{partitions: int32(len(t.Partitions)), rf: rf, configs: map[string]string{}}
		existing = append(existing, name)
	}
	if len(existing) == 0 {
		return out, nil
	}
	rcs, err := kadm.NewClient(cl).DescribeTopicConfigs(ctx, existing...)
	if err != nil {
		return nil, fmt.Errorf("describe topic configs: %w", err)
	}
	for _, rc := range rcs {
		if rc.Err != nil {
			return nil, fmt.Errorf("describe configs of %s: %w", rc.Name, rc.Err)
		}
		for _, c := range rc.Configs {
			out[rc.Name].configs[c.Key] = c.MaybeValue()
		}
	}
	return out, nil
}

// metadata asks a broker, bypassing the client's cache, about topics.
func metadata(ctx context.Context, cl *kgo.Client, names []string) (*kmsg.MetadataResponse, error) {
	req := kmsg.NewPtrMetadataRequest()
	for _, name := range names {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(name)
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("list topics: %w", err)
	}
	return resp, nil
}

// notReady returns the topics among names that metadata does not yet show
// with a leader for every partition.
func notReady(ctx context.Context, cl *kgo.Client, names []string) ([]string, error) {
	resp, err := metadata(ctx, cl, names)
	if err != nil {
		return nil, err
	}
	ready := make(map[string]bool, len(names))
	for _, t := range resp.Topics {
		if t.Topic == nil || t.ErrorCode != 0 || len(t.Partitions) == 0 {
			continue
		}
		ok := true
		for _, p := range t.Partitions {
			ok = ok && p.ErrorCode == 0 && p.Leader >= 0
		}
		ready[*t.Topic] = ok
	}
	var pending []string
	for _, n := range names {
		if !ready[n] {
			pending = append(pending, n)
		}
	}
	return pending, nil
}

// drift lists the differences between l and the observed cluster.
func drift(l Layout, obs map[string]observed) []Drift {
	var out []Drift
	for _, s := range l.Specs {
		o, ok := obs[s.Name]
		if !ok {
			out = append(out, Drift{Topic: s.Name, What: "missing"})
			continue
		}
		if o.partitions != s.Partitions {
			out = append(out, Drift{s.Name, "partitions", itoa(s.Partitions), itoa(o.partitions)})
		}
		if o.rf != s.ReplicationFactor {
			out = append(out, Drift{s.Name, "replication factor", itoa(s.ReplicationFactor), itoa(o.rf)})
		}
		for _, k := range slices.Sorted(maps.Keys(s.Configs)) {
			if got := o.configs[k]; got != s.Configs[k] {
				out = append(out, Drift{s.Name, "config " + k, s.Configs[k], orUnset(got)})
			}
		}
	}
	return out
}

// coPartition checks that every co-partitioned topic has, or will be
// created with, the same partition count.
func coPartition(l Layout, obs map[string]observed) error {
	var ref *TopicPartitions
	var all []TopicPartitions
	for _, s := range l.Specs {
		if !s.CoPartitioned {
			continue
		}
		tp := TopicPartitions{Topic: s.Name, Partitions: s.Partitions}
		if o, ok := obs[s.Name]; ok {
			tp.Partitions = o.partitions
			// An existing topic is the reference: it cannot be changed
			// without losing its key-to-partition mapping.
			if ref == nil {
				ref = &tp
			}
		}
		all = append(all, tp)
	}
	if ref == nil && len(all) > 0 {
		ref = &all[0]
	}
	err := &CoPartitionError{}
	for _, tp := range all {
		if tp.Partitions != ref.Partitions {
			err.Reference, err.Partitions = ref.Topic, ref.Partitions
			err.Mismatches = append(err.Mismatches, tp)
		}
	}
	if len(err.Mismatches) > 0 {
		return err
	}
	return nil
}

func itoa[T int16 | int32](v T) string { return strconv.Itoa(int(v)) }

func orUnset(v string) string {
	if v == "" {
		return "unset"
	}
	return v
}
