package simulate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// span is the offsets [start, end) of one partition to read.
type span struct{ start, end int64 }

// spans are the offsets to read, by topic and partition.
type spans map[string]map[int32]span

func (s spans) set(topic string, p int32, sp span) {
	if s[topic] == nil {
		s[topic] = map[int32]span{}
	}
	s[topic][p] = sp
}

// windowSpans lists, for every partition of topics, the offsets that
// hold the window: from the first record stamped at or after from (the
// topic's start when from is zero) to the first stamped at or after to,
// never past the last stable offset (what read_committed can read now).
//
// A broker answers an offset-for-timestamp query from its sparse time
// index: when the index entry it starts from has exactly the timestamp
// asked for, the records of that same millisecond before the entry are
// skipped. So the start is asked for one millisecond early, and the
// caller drops records stamped outside [from, to) (inWindow).
func windowSpans(ctx context.Context, adm *kadm.Client, from, to time.Time, topics ...string) (spans, error) {
	var starts kadm.ListedOffsets
	var err error
	if from.IsZero() {
		starts, err = adm.ListStartOffsets(ctx, topics...)
	} else {
		starts, err = adm.ListOffsetsAfterMilli(ctx, from.UnixMilli()-1, topics...)
	}
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("list offsets at %v: %w", from, err)
	}
	ends, err := adm.ListOffsetsAfterMilli(ctx, to.UnixMilli(), topics...)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("list offsets at %v: %w", to, err)
	}
	stable, err := adm.ListCommittedOffsets(ctx, topics...)
	if err == nil {
		err = stable.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("list last stable offsets: %w", err)
	}
	out := spans{}
	for _, t := range topics {
		if _, ok := stable[t]; !ok {
			return nil, fmt.Errorf("topic %s does not exist", t)
		}
		for p, lso := range stable[t] {
			end := lso.Offset
			if e, ok := ends.Lookup(t, p); ok && e.Offset >= 0 && e.Offset < end {
				end = e.Offset
			}
			start := int64(0)
			if s, ok := starts.Lookup(t, p); ok && s.Offset >= 0 {
				start = s.Offset
			}
			out.set(t, p, span{start, max(start, end)})
		}
	}
	return out, nil
}

// stalledRead is how long a read waits for a record of a partition it
// has not finished before it fails. The spans end at or before the last
// stable offset, so the broker has every record of them; a partition
// whose last offsets hold only records of an aborted transaction whose
// marker lies beyond the span, behind a transaction still open, can show
// nothing until that one ends. Failing says so; taking the partition as
// read would silently cut the window.
const stalledRead = time.Minute

// read consumes the spans directly (no consumer group: nothing is
// committed, nobody else's partitions move), read_committed, and hands
// every data record to fn in each partition's offset order. fn returning
// false stops the read.
func read(ctx context.Context, opts []kgo.Opt, sp spans, fn func(*kgo.Record) bool) error {
	consume := map[string]map[int32]kgo.Offset{}
	left := map[string]map[int32]int64{}
	for t, ps := range sp {
		for p, s := range ps {
			if s.start >= s.end {
				continue
			}
			if consume[t] == nil {
				consume[t], left[t] = map[int32]kgo.Offset{}, map[int32]int64{}
			}
			consume[t][p] = kgo.NewOffset().At(s.start)
			left[t][p] = s.end
		}
	}
	if len(consume) == 0 {
		return nil
	}
	cl, err := kgo.NewClient(append(slices.Clone(opts),
		kgo.ConsumePartitions(consume),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Commit markers tell where a partition's span ends when its
		// last records were written in transactions.
		kgo.KeepControlRecords(),
	)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	remaining := 0
	for _, ps := range left {
		remaining += len(ps)
	}
	for remaining > 0 {
		pctx, cancel := context.WithTimeout(ctx, stalledRead)
		fs := cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if pctx.Err() != nil && fs.NumRecords() == 0 {
			return fmt.Errorf("no record for %v before the window's end offsets %v: a transaction left open?", stalledRead, left)
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) && ferr == nil {
				ferr = fmt.Errorf("read %s/%d: %w", t, p, err)
			}
		})
		if ferr != nil {
			return ferr
		}
		stop := false
		fs.EachPartition(func(fp kgo.FetchTopicPartition) {
			end, ok := left[fp.Topic][fp.Partition]
			if !ok || stop {
				return
			}
			for _, r := range fp.Records {
				if r.Offset >= end {
					break
				}
				if !r.Attrs.IsControl() && !fn(r) {
					stop = true
					return
				}
			}
			if n := len(fp.Records); n > 0 && fp.Records[n-1].Offset >= end-1 {
				delete(left[fp.Topic], fp.Partition)
				remaining--
				// Past the window: not worth fetching.
				cl.RemoveConsumePartitions(map[string][]int32{fp.Topic: {fp.Partition}})
			}
		})
		if stop {
			return nil
		}
	}
	return nil
}
