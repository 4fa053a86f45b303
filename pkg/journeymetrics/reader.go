package journeymetrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beckon-dev/beckon/pkg/topics"
)

// ErrNotReady is returned while a Reader has not yet read the metrics
// topic up to where it stood when the Reader started.
var ErrNotReady = errors.New("journey metrics: still loading")

// Reader materialises the metrics topic in memory: the latest partial
// count of every cell from every input partition. It reads committed
// records only, so a count it serves was committed with the offsets of
// the inputs it counts.
type Reader struct {
	log   *slog.Logger
	ready atomic.Bool

	mu sync.RWMutex
	// allTime and hourly hold, per journey, each cell's partial counts by
	// input partition; apart, so headline counts need not walk the hours.
	allTime, hourly map[string]map[Cell]map[int32]int64
}

// NewReader returns an empty Reader; Follow fills it. log nil: slog.Default.
func NewReader(log *slog.Logger) *Reader {
	if log == nil {
		log = slog.Default()
	}
	return &Reader{log: log, allTime: map[string]map[Cell]map[int32]int64{}, hourly: map[string]map[Cell]map[int32]int64{}}
}

// Ready reports whether the Reader has caught up with the topic as it
// stood when Follow started.
func (r *Reader) Ready() bool { return r.ready.Load() }

// Follow reads topic from its start until ctx ends, and returns nil
// then. opts are the Kafka connection options.
func (r *Reader) Follow(ctx context.Context, opts []kgo.Opt, topic string) error {
	adm, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	stable, err := kadm.NewClient(adm).ListCommittedOffsets(ctx, topic)
	adm.Close()
	if err == nil {
		err = stable.Error()
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("journey metrics: stable offsets of %s: %w", topic, err)
	}
	remaining := map[int32]int64{}
	stable.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			remaining[o.Partition] = o.Offset
		}
	})
	cl, err := kgo.NewClient(append(slices.Clone(opts),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// The commit markers are the last offsets of a transactional
		// topic: seeing them tells when the stable offset is reached.
		kgo.KeepControlRecords(),
	)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	if len(remaining) == 0 {
		r.ready.Store(true)
	}
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		fs.EachError(func(t string, p int32, err error) {
			r.log.Warn("journey metrics fetch", "topic", t, "partition", p, "err", err)
		})
		fs.EachRecord(func(rec *kgo.Record) {
			if !rec.Attrs.IsControl() {
				r.apply(rec)
			}
			if end, ok := remaining[rec.Partition]; ok && rec.Offset+1 >= end {
				delete(remaining, rec.Partition)
			}
		})
		if len(remaining) == 0 && !r.ready.Load() {
			r.ready.Store(true)
			r.log.Info("journey metrics loaded", "journeys", r.journeyCount())
		}
	}
}

// apply takes one record of the metrics topic: a partial count, or a
// tombstone of an expired hourly count.
func (r *Reader) apply(rec *kgo.Record) {
	k, err := decodeOutputKey(rec.Key)
	if err != nil {
		r.log.Error("journey metrics: bad record", "partition", rec.Partition, "offset", rec.Offset, "err", err)
		return
	}
	var n int64
	if rec.Value != nil {
		if n, err = strconv.ParseInt(string(rec.Value), 10, 64); err != nil {
			r.log.Error("journey metrics: bad count", "partition", rec.Partition, "offset", rec.Offset, "err", err)
			return
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	journeys := r.allTime
	if k.Hour != 0 {
		journeys = r.hourly
	}
	cells := journeys[k.Journey]
	if rec.Value == nil {
		if parts := cells[k.Cell]; parts != nil {
			delete(parts, k.Partition)
			if len(parts) == 0 {
				delete(cells, k.Cell)
			}
		}
		return
	}
	if cells == nil {
		cells = map[Cell]map[int32]int64{}
		journeys[k.Journey] = cells
	}
	parts := cells[k.Cell]
	if parts == nil {
		parts = map[int32]int64{}
		cells[k.Cell] = parts
	}
	parts[k.Partition] = n
}

func (r *Reader) journeyCount() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.allTime)
}

// cells returns a journey's cells summed over partitions: all of them, or
// the all-time ones only.
func (r *Reader) cells(journey string, hourly bool) (map[Cell]int64, error) {
	if !r.Ready() {
		return nil, ErrNotReady
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	sets := []map[Cell]map[int32]int64{r.allTime[journey]}
	if hourly {
		sets = append(sets, r.hourly[journey])
	}
	out := map[Cell]int64{}
	for _, set := range sets {
		for c, parts := range set {
			var sum int64
			for _, n := range parts {
				sum += n
			}
			out[c] = sum
		}
	}
	return out, nil
}

// Headline are a journey's counts for lists of journeys, all versions and
// steps together. Its fields are those of the API's Counts, so one
// converts to the other.
type Headline struct {
	Entered, Active, Sent, Delivered, Opened, Clicked, Replied, Converted int64
}

// JourneyCounts returns a journey's headline counts (the API's
// CountsSource); ErrNotReady while the Reader loads.
func (r *Reader) JourneyCounts(ctx context.Context, journeyID string) (Headline, error) {
	cells, err := r.cells(journeyID, false)
	if err != nil {
		return Headline{}, err
	}
	t := summarise(journeyID, cells, Query{}).Totals
	return Headline{Entered: t.Entered, Active: t.Active, Sent: t.Sent, Delivered: t.Delivered,
		Opened: t.Opened, Clicked: t.Clicked, Replied: t.Replied, Converted: t.Converted}, nil
}

// Journey returns a journey's report: totals, per version, per step and
// the hourly series selected by q.
func (r *Reader) Journey(journeyID string, q Query) (Report, error) {
	cells, err := r.cells(journeyID, true)
	if err != nil {
		return Report{}, err
	}
	return summarise(journeyID, cells, q), nil
}

// TopicOf returns the metrics topic of a deployment's layout, for Follow.
func TopicOf(l topics.Layout) (string, error) {
	s, ok := l.Spec("metrics.journeys")
	if !ok {
		return "", errors.New("journey metrics: the topic layout has no metrics.journeys")
	}
	return s.Name, nil
}
