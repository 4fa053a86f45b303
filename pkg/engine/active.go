package engine

import (
	"bytes"
	"log/slog"
	"strings"

	"github.com/beckon-dev/beckon/pkg/journey"
	"github.com/beckon-dev/beckon/pkg/stream"
)

// ActiveMetrics is implemented by a Metrics that reports the running
// instances of each journey: the true number, from the state of the
// partitions this engine owns, whenever it started. The engine counts a
// partition's instances when its store is restored (assignment, restart),
// moves the count by the entries and exits of each committed transaction,
// and drops it when the partition goes. Summed over the engines of a
// deployment, it is the number of instances running.
type ActiveMetrics interface {
	// ActiveInstances sets a partition's count of running instances per
	// journey; nil forgets the partition.
	ActiveInstances(partition int32, byJourney map[string]int64)
	// ActiveChanged moves a partition's count for journey by delta.
	ActiveChanged(partition int32, journey string, delta int64)
}

// activeWatcher counts each restored partition's instances for
// ActiveMetrics (a stream.Watcher).
type activeWatcher struct {
	m   ActiveMetrics
	log *slog.Logger
}

// Ready counts the instances in a partition's state: a user's head lists
// their running instances with their journeys (format 6); an older head
// lists only IDs, and its instances, stored under the user's key, a zero
// byte and the instance ID, follow it in key order; a whole user (formats 1
// and 2) holds them. Ended instances are deleted from the state, so every
// instance found runs. A record that cannot be decoded is logged and not
// counted: the user's next input dead-letters it.
func (w activeWatcher) Ready(partition int32, scan stream.StateScan) error {
	// Journey IDs may share the store's memory, valid only during fn, and
	// an assignment to a map with a string key stores the key it is given
	// even when the key is there already: so the map holds counters, and
	// only a cloned key is ever assigned.
	counters := map[string]*int64{}
	count := func(j string) {
		if n, ok := counters[j]; ok {
			*n++
		} else {
			one := int64(1)
			counters[strings.Clone(j)] = &one
		}
	}
	var legacy []byte // the user whose head (format 3) names instances stored apart
	err := scan(func(key, value []byte) bool {
		if i := bytes.IndexByte(key, 0); i >= 0 {
			if legacy == nil || !bytes.Equal(key[:i], legacy) {
				return true // an instance a format 6 head counted
			}
			inst, _, err := journey.UnmarshalInstance(value)
			if err != nil {
				w.log.Warn("counting active instances: undecodable instance", "partition", partition, "key", string(key), "err", err)
				return true
			}
			count(inst.Journey)
			return true
		}
		legacy = nil
		if !journey.IsHead(value) {
			var u journey.User
			if err := u.UnmarshalBinary(value); err != nil {
				w.log.Warn("counting active instances: undecodable user state", "partition", partition, "user", string(key), "err", err)
				return true
			}
			for _, inst := range u.Instances {
				count(inst.Journey)
			}
			return true
		}
		listed, err := journey.HeadJourneys(value, count)
		if err != nil {
			w.log.Warn("counting active instances: undecodable user state", "partition", partition, "user", string(key), "err", err)
			return true
		}
		if !listed {
			legacy = bytes.Clone(key)
		}
		return true
	})
	if err != nil {
		return err
	}
	counts := make(map[string]int64, len(counters))
	for j, n := range counters {
		counts[j] = *n
	}
	w.m.ActiveInstances(partition, counts)
	return nil
}

// Released forgets the partition's count: its next owner reports it.
func (w activeWatcher) Released(partition int32) { w.m.ActiveInstances(partition, nil) }
