package stream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/twmb/franz-go/pkg/kgo"
)

// globalTables replicates every partition of the global table topics into
// one local Pebble store, restored before processing starts and followed
// for as long as the runner runs.
type globalTables struct {
	r      *Runner
	topics []string
	db     *pebble.DB
	cl     *kgo.Client
	ready  atomic.Bool
	// rejected counts the rows the store indexes as rejected by a
	// validator (validate.go); zero means there is nothing to dead-letter.
	rejected atomic.Int64
	stop     context.CancelFunc
	done     chan struct{}
}

func globalKey(topic string, k []byte) []byte {
	b := make([]byte, 0, 2+len(topic)+len(k))
	b = append(b, 'g')
	b = append(b, topic...)
	b = append(b, 0)
	return append(b, k...)
}

func globalMeta(topic string, partition int32) []byte {
	return []byte("mglobal:" + topic + ":" + strconv.Itoa(int(partition)))
}

func openGlobals(r *Runner, topics []string) (*globalTables, error) {
	dir := filepath.Join(r.o.StateDir, r.g.name, "global")
	db, err := pebble.Open(dir, storeOptions(r.log, r.cache))
	if err != nil {
		return nil, fmt.Errorf("open global tables %s: %w (delete the directory to rebuild it from the topics)", dir, err)
	}
	g := &globalTables{r: r, topics: slices.Clone(topics), db: db}
	if err := g.countRejected(); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open global tables %s: %w", dir, err)
	}
	return g, nil
}

func (g *globalTables) has(topic string) bool { return slices.Contains(g.topics, topic) }

func (g *globalTables) get(topic string, key []byte) ([]byte, bool, error) {
	v, c, err := g.db.Get(globalKey(topic, key))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("global table %s: %w", topic, err)
	}
	defer c.Close()
	return bytes.Clone(v), true, nil
}

// restore reads every partition of every global topic from what the store
// reflects to the current end, then marks the tables ready.
func (g *globalTables) restore(ctx context.Context) error {
	start := map[string]map[int32]kgo.Offset{}
	ends := map[string]map[int32]int64{}
	for _, topic := range g.topics {
		starts, err := g.r.adm.ListStartOffsets(ctx, topic)
		if err != nil {
			return fmt.Errorf("global table %s: %w", topic, err)
		}
		lso, err := g.r.adm.ListCommittedOffsets(ctx, topic)
		if err != nil {
			return fmt.Errorf("global table %s: %w", topic, err)
		}
		start[topic], ends[topic] = map[int32]kgo.Offset{}, map[int32]int64{}
		for p, lo := range lso[topic] {
			if lo.Err != nil {
				return fmt.Errorf("global table %s[%d]: %w", topic, p, lo.Err)
			}
			next, err := readOffset(g.db, globalMeta(topic, p))
			if err != nil {
				return err
			}
			if s, ok := starts.Lookup(topic, p); ok && next < s.Offset {
				next = s.Offset
			}
			start[topic][p] = kgo.NewOffset().At(next)
			if next < lo.Offset {
				ends[topic][p] = lo.Offset
			}
		}
	}
	cl, err := kgo.NewClient(append(append([]kgo.Opt(nil), g.r.o.Kafka...),
		kgo.ConsumePartitions(start),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
	)...)
	if err != nil {
		return err
	}
	g.cl = cl
	pending := 0
	for _, m := range ends {
		pending += len(m)
	}
	for pending > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fs.Err0(); err != nil {
			return fmt.Errorf("global tables: %w", err)
		}
		if err := g.apply(ctx, fs); err != nil {
			return err
		}
		fs.EachPartition(func(fp kgo.FetchTopicPartition) {
			if n := len(fp.Records); n > 0 {
				if end, ok := ends[fp.Topic][fp.Partition]; ok && fp.Records[n-1].Offset+1 >= end {
					delete(ends[fp.Topic], fp.Partition)
					pending--
				}
			}
		})
	}
	g.ready.Store(true)
	g.r.log.Info("global tables restored", "topics", g.topics)
	return nil
}

// startFollow keeps the tables current until ctx ends or close is called.
func (g *globalTables) startFollow(ctx context.Context) {
	ctx, g.stop = context.WithCancel(ctx)
	g.done = make(chan struct{})
	go g.follow(ctx)
}

func (g *globalTables) follow(ctx context.Context) {
	defer close(g.done)
	for ctx.Err() == nil {
		fs := g.cl.PollFetches(ctx)
		if fs.IsClientClosed() || ctx.Err() != nil {
			return
		}
		fs.EachError(func(t string, p int32, err error) {
			g.r.log.Warn("global table fetch", "topic", t, "partition", p, "err", err)
		})
		if err := g.apply(ctx, fs); err != nil {
			g.r.log.Error("global table apply", "err", err)
		}
	}
}

func (g *globalTables) apply(ctx context.Context, fs kgo.Fetches) error {
	b := g.db.NewBatch()
	defer b.Close()
	var err error
	fs.EachPartition(func(fp kgo.FetchTopicPartition) {
		for _, rec := range fp.Records {
			if !rec.Attrs.IsControl() {
				if ok, verr := g.validateGlobal(ctx, b, rec); !ok {
					err = errors.Join(err, verr)
					continue
				}
				k := globalKey(rec.Topic, rec.Key)
				if rec.Value == nil {
					err = errors.Join(err, b.Delete(k, nil))
				} else {
					err = errors.Join(err, b.Set(k, rec.Value, nil))
				}
			}
		}
		if n := len(fp.Records); n > 0 {
			err = errors.Join(err, b.Set(globalMeta(fp.Topic, fp.Partition), encodeOffset(fp.Records[n-1].Offset+1), nil))
		}
	})
	if err != nil {
		return err
	}
	return b.Commit(pebble.NoSync)
}

func (g *globalTables) close() {
	if g.stop != nil {
		g.stop()
		<-g.done
	}
	if g.cl != nil {
		g.cl.Close()
	}
	_ = g.db.Close()
}
