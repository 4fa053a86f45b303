package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beckon-dev/beckon/pkg/codec"
	"github.com/beckon-dev/beckon/pkg/journey"
	"github.com/beckon-dev/beckon/pkg/records"
)

// Catalog is every journey version the journeys topic holds, compiled
// once, with each journey's lifecycle state. It follows the topic for as
// long as the engine runs; processing reads it concurrently.
//
// A journey's state is the state written on its highest non-draft version:
// publishing writes a new version as live, pausing, resuming and archiving
// rewrite that version's record with the new state. A live version that
// does not compile against the configured channels makes the journey
// has-errors: no entries and no sends until a valid version is published.
//
// A record is processed against one CatalogSnapshot (Snapshot), never the
// catalog itself: a publish that lands while a record is applied shows in
// the next record, never half-way through this one.
type Catalog struct {
	channels []string
	log      *slog.Logger

	mu       sync.RWMutex
	versions map[string]map[int32]*version
	snap     atomic.Pointer[CatalogSnapshot] // rebuilt on every Put
	ready    atomic.Bool
	changed  chan struct{} // closed and replaced on every Put
}

// version is one record of the journeys topic. It is not changed once
// made: a new record of the same version replaces it.
type version struct {
	rec      records.JourneyDefinition
	compiled *journey.Journey
	err      error
}

// NewCatalog returns an empty catalog that validates definitions against
// channels.
func NewCatalog(channels []string, log *slog.Logger) *Catalog {
	c := &Catalog{channels: channels, log: log, versions: map[string]map[int32]*version{}, changed: make(chan struct{})}
	c.snap.Store(&CatalogSnapshot{})
	return c
}

// Snapshot returns the catalog as it is now, unchanged by later Puts.
func (c *Catalog) Snapshot() *CatalogSnapshot { return c.snap.Load() }

// Current returns the current version of every live or paused journey,
// by ID.
func (c *Catalog) Current() []*journey.Journey { return c.Snapshot().Current() }

// Version returns a compiled version, nil if unknown or invalid.
func (c *Catalog) Version(id string, v int32) *journey.Journey { return c.Snapshot().Version(id, v) }

// State returns the journey's lifecycle state.
func (c *Catalog) State(id string) records.JourneyState { return c.Snapshot().State(id) }

// Errors returns why the journey's current version is invalid, or nil.
func (c *Catalog) Errors(id string) error { return c.Snapshot().Errors(id) }

// CatalogSnapshot is the catalog as of one moment, immutable: what one
// record's journey semantics read, so that every question they ask of it
// (which journeys are current, a pinned version, a journey's state) has
// the answer of the same moment.
type CatalogSnapshot struct {
	versions map[string]map[int32]*journey.Journey // compiled versions only
	current  []*journey.Journey                    // live or paused, sorted by ID
	states   map[string]records.JourneyState       // of every journey with a non-draft version
	errs     map[string]error                      // why a current version is invalid
}

// Current returns the current version of every live or paused journey,
// by ID.
func (s *CatalogSnapshot) Current() []*journey.Journey { return s.current }

// Version returns a compiled version, nil if unknown or invalid.
func (s *CatalogSnapshot) Version(id string, v int32) *journey.Journey { return s.versions[id][v] }

// State returns the journey's lifecycle state: archived when it was
// deleted or never published.
func (s *CatalogSnapshot) State(id string) records.JourneyState {
	if st, ok := s.states[id]; ok {
		return st
	}
	return records.JourneyArchived
}

// Errors returns why the journey's current version is invalid, or nil.
func (s *CatalogSnapshot) Errors(id string) error { return s.errs[id] }

// currentVersion is the journey's highest non-draft version.
func (c *Catalog) currentVersion(id string) *version {
	var best *version
	for _, v := range c.versions[id] {
		if v.rec.State != records.JourneyDraft && (best == nil || v.rec.Version > best.rec.Version) {
			best = v
		}
	}
	return best
}

// Put adds or replaces a version record (nil deletes the key).
func (c *Catalog) Put(key string, rec *records.JourneyDefinition) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if rec == nil {
		for id, vs := range c.versions {
			for n, v := range vs {
				if v.rec.Key() == key {
					delete(vs, n)
				}
			}
			if len(vs) == 0 {
				delete(c.versions, id)
			}
		}
		c.rebuild()
		return
	}
	v := &version{rec: *rec}
	var err error
	v.compiled, err = compileVersion(rec, c.channels)
	v.err = err
	if err != nil && rec.State != records.JourneyDraft {
		c.log.Error("journey version invalid", "journey", rec.JourneyID, "version", rec.Version, "err", err)
	}
	if c.versions[rec.JourneyID] == nil {
		c.versions[rec.JourneyID] = map[int32]*version{}
	}
	c.versions[rec.JourneyID][rec.Version] = v
	c.rebuild()
}

// rebuild makes the snapshot of the versions as they are now; c.mu is
// held.
func (c *Catalog) rebuild() {
	s := &CatalogSnapshot{
		versions: make(map[string]map[int32]*journey.Journey, len(c.versions)),
		states:   map[string]records.JourneyState{},
		errs:     map[string]error{},
	}
	for id, vs := range c.versions {
		compiled := make(map[int32]*journey.Journey, len(vs))
		for n, v := range vs {
			if v.compiled != nil {
				compiled[n] = v.compiled
			}
		}
		s.versions[id] = compiled
		cur := c.currentVersion(id)
		if cur == nil {
			continue
		}
		s.states[id] = cur.rec.State
		if cur.err != nil {
			s.errs[id] = cur.err
			if cur.rec.State == records.JourneyLive {
				s.states[id] = records.JourneyHasErrors
			}
		}
		if cur.compiled != nil && (cur.rec.State == records.JourneyLive || cur.rec.State == records.JourneyPaused) {
			s.current = append(s.current, cur.compiled)
		}
	}
	slices.SortFunc(s.current, func(a, b *journey.Journey) int { return cmp.Compare(a.Def.ID, b.Def.ID) })
	c.snap.Store(s)
	close(c.changed)
	c.changed = make(chan struct{})
}

// Ready reports whether the catalog has read the topic up to where it
// stood when following began.
func (c *Catalog) Ready() bool { return c.ready.Load() }

// Follow reads the journeys topic from the start into the catalog until
// ctx ends; ready is closed once it has caught up with the end offsets it
// saw at the start.
func (c *Catalog) Follow(ctx context.Context, opts []kgo.Opt, topic string, cd *codec.Codec, ready chan<- struct{}) error {
	adm, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	ends, err := kadm.NewClient(adm).ListEndOffsets(ctx, topic)
	adm.Close()
	if err != nil {
		return fmt.Errorf("journeys catalog: end offsets of %s: %w", topic, err)
	}
	if err := ends.Error(); err != nil {
		return fmt.Errorf("journeys catalog: end offsets of %s: %w", topic, err)
	}
	remaining := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			remaining[o.Partition] = o.Offset
		}
	})
	cl, err := kgo.NewClient(append(slices.Clone(opts),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// A transaction's commit marker can be the last offset before the
		// end: kept, it shows the catalog has read that far.
		kgo.KeepControlRecords(),
	)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	markReady := func() {
		if len(remaining) == 0 && !c.ready.Load() {
			c.ready.Store(true)
			close(ready)
		}
	}
	markReady()
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				c.log.Warn("journeys catalog fetch", "partition", p, "err", err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) {
			if r.Attrs.IsControl() {
				// Nothing to read; only the offset counts.
			} else if r.Value == nil {
				c.Put(string(r.Key), nil)
			} else {
				var rec records.JourneyDefinition
				if err := cd.Decode(ctx, r.Value, &rec); err != nil {
					c.log.Error("journeys catalog: undecodable record", "key", string(r.Key), "offset", r.Offset, "err", err)
				} else if err := checkJourneyKey(r.Key, &rec); err != nil {
					// The engine's validator dead-letters it; the
					// catalog keeps the version the key had.
					c.log.Error("journeys catalog: record keyed wrongly", "key", string(r.Key), "offset", r.Offset, "err", err)
				} else {
					c.Put(string(r.Key), &rec)
				}
			}
			if end, ok := remaining[r.Partition]; ok && r.Offset+1 >= end {
				delete(remaining, r.Partition)
			}
		})
		markReady()
	}
}
