package topics

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Report is what Check found or Apply did.
type Report struct {
	// Drift is every difference found before any change.
	Drift []Drift
	// Created lists the topics Apply created.
	Created []string
	// Altered lists "topic: key=value" for each config Apply set.
	Altered []string
	// Unchanged lists the drift Apply cannot fix in place (partition counts
	// and replication factors), so operators see it every time.
	Unchanged []Drift
}

// Check compares the cluster with the layout and changes nothing. It
// returns a *CoPartitionError (with the report) when co-partitioned topics
// disagree on their partition count.
func Check(ctx context.Context, cl *kgo.Client, l Layout) (Report, error) {
	obs, err := inspect(ctx, cl, l)
	if err != nil {
		return Report{}, err
	}
	return Report{Drift: drift(l, obs)}, coPartition(l, obs)
}

// Apply creates missing topics with their configs and sets drifted configs
// on existing ones. It is idempotent. It changes nothing and returns a
// *CoPartitionError when the co-partitioned topics would disagree on their
// partition count.
func Apply(ctx context.Context, cl *kgo.Client, l Layout) (Report, error) {
	adm := kadm.NewClient(cl)
	obs, err := inspect(ctx, cl, l)
	if err != nil {
		return Report{}, err
	}
	r := Report{Drift: drift(l, obs)}
	if err := coPartition(l, obs); err != nil {
		return r, err
	}
	for _, d := range r.Drift {
		s, _ := l.specByName(d.Topic)
		switch {
		case d.What == "missing":
			created, err := create(ctx, adm, s)
			if err != nil {
				return r, err
			}
			if created {
				r.Created = append(r.Created, s.Name)
			}
		case strings.HasPrefix(d.What, "config "):
			key := strings.TrimPrefix(d.What, "config ")
			val := s.Configs[key]
			resp, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: key, Value: &val}}, s.Name)
			if err == nil {
				var ar kadm.AlterConfigsResponse
				if ar, err = resp.On(s.Name, nil); err == nil && ar.Err != nil {
					err = fmt.Errorf("%w %s", ar.Err, ar.ErrMessage)
				}
			}
			if err != nil {
				return r, fmt.Errorf("set %s=%s on %s: %w", key, val, s.Name, err)
			}
			r.Altered = append(r.Altered, fmt.Sprintf("%s: %s=%s", s.Name, key, val))
		default:
			r.Unchanged = append(r.Unchanged, d)
		}
	}
	if err := waitVisible(ctx, cl, r.Created); err != nil {
		return r, err
	}
	return r, nil
}

// waitVisible returns once the brokers' metadata shows every topic with a
// leader for each partition. A broker answers CreateTopics before every
// broker knows the topic; callers produce right after Apply, and the next
// Check must not report the topics missing.
func waitVisible(ctx context.Context, cl *kgo.Client, names []string) error {
	if len(names) == 0 {
		return nil
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		pending, err := notReady(ctx, cl, names)
		if err != nil {
			return err
		}
		if len(pending) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("created topics are not visible yet (%s): %w", strings.Join(pending, ", "), ctx.Err())
		case <-tick.C:
		}
	}
}

// create creates one topic; it reports false when the topic already
// existed (another apply raced this one, which reaches the same goal).
func create(ctx context.Context, adm *kadm.Client, s Spec) (bool, error) {
	cfg := make(map[string]*string, len(s.Configs))
	for _, k := range slices.Sorted(maps.Keys(s.Configs)) {
		cfg[k] = new(s.Configs[k])
	}
	resp, err := adm.CreateTopic(ctx, s.Partitions, s.ReplicationFactor, cfg, s.Name)
	if err == nil {
		err = resp.Err
	}
	switch {
	case errors.Is(err, kerr.TopicAlreadyExists):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("create topic %s (%d partitions, replication factor %d): %w %s", s.Name, s.Partitions, s.ReplicationFactor, err, resp.ErrMessage)
	}
	return true, nil
}

func (l Layout) specByName(name string) (Spec, bool) {
	i := slices.IndexFunc(l.Specs, func(s Spec) bool { return s.Name == name })
	if i < 0 {
		return Spec{}, false
	}
	return l.Specs[i], true
}
