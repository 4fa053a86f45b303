package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beckon-dev/beckon/pkg/codec"
	"github.com/beckon-dev/beckon/pkg/journey"
	"github.com/beckon-dev/beckon/pkg/records"
)

// Control changes journeys on a running deployment by writing the journeys
// topic, which every engine follows: publish a new version, pause, resume,
// archive. It validates before writing, so an engine never sees a
// definition that the control plane knew to be invalid.
type Control struct {
	Kafka    []kgo.Opt
	Topic    string // the journeys topic
	Codec    *codec.Codec
	Channels []string
	// By is recorded as the publisher.
	By string
}

// load reads the journeys topic to its end.
func (c *Control) load(ctx context.Context) (*Catalog, error) {
	cat := NewCatalog(c.Channels, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- cat.Follow(ctx, c.Kafka, c.Topic, c.Codec, ready) }()
	select {
	case <-ready:
		return cat, nil
	case err := <-done:
		if err == nil {
			err = ctx.Err()
		}
		return nil, err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// TransactionalID is the transactional ID every Control of the journeys
// topic topic writes under. Sharing it is what makes a change safe with
// several writers (API replicas, CLIs): see change.
func TransactionalID(topic string) string { return "beckon-control." + topic }

// controlAttempts bounds how often a change is tried again after another
// writer fenced it.
const controlAttempts = 8

// change reads the journeys topic and writes the one record decide makes
// of what it read, so that no other writer's change lands in between: a
// version number chosen from what was read is never chosen twice.
//
// Every writer uses the same transactional ID. Initialising it fences any
// other writer holding it and has the broker abort that writer's open
// transaction, so the topic read after it holds every change that will
// ever commit before ours. Ours commits only if no writer initialised
// since; if one did, the commit is refused as fenced, nothing of ours is
// visible (readers are read_committed), and the change is made again from
// a fresh read. A writer paused between its read and its commit (SIGSTOP,
// GC) is such a fenced writer when it wakes.
func (c *Control) change(ctx context.Context, decide func(*Catalog) (*kgo.Record, error)) error {
	var err error
	for attempt := range controlAttempts {
		if attempt > 0 {
			select {
			case <-time.After(time.Duration(attempt*attempt) * 20 * time.Millisecond):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		err = c.changeOnce(ctx, decide)
		if !fenced(err) && !errors.Is(err, kerr.UnknownServerError) {
			return err
		}
	}
	return fmt.Errorf("journeys topic: another writer changed it %d times in a row: %w", controlAttempts, err)
}

// A commit can also fail with UNKNOWN_SERVER_ERROR when another writer's
// initialisation races it (seen on Apache Kafka 4.3 in CI). Whether it
// committed is then unknown; the change is made again from a fresh read,
// which sees it if it did: a draft, a state or a deletion made twice is
// made once, a draft already published is reported as no draft, and a
// publish can land as two versions with the same definition.
//
// fenced reports whether err says another writer took the transactional
// ID before this one committed, which aborted this one's transaction: the
// brokers answer a write or commit of such a writer with one of these
// (INVALID_TXN_STATE when its transaction was already aborted for it).
func fenced(err error) bool {
	return errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch) || errors.Is(err, kerr.InvalidTxnState)
}

func (c *Control) changeOnce(ctx context.Context, decide func(*Catalog) (*kgo.Record, error)) error {
	cl, err := kgo.NewClient(append(slices.Clone(c.Kafka), kgo.TransactionalID(TransactionalID(c.Topic)))...)
	if err != nil {
		return err
	}
	defer cl.Close()
	if _, _, err := cl.ProducerID(ctx); err != nil {
		return fmt.Errorf("journeys topic: take the writer's transactional ID: %w", err)
	}
	cat, err := c.load(ctx)
	if err != nil {
		return fmt.Errorf("read journeys: %w", err)
	}
	r, err := decide(cat)
	if err != nil {
		return err
	}
	r.Topic = c.Topic
	if err := cl.BeginTransaction(); err != nil {
		return fmt.Errorf("journeys topic: begin: %w", err)
	}
	if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
		// Abort what the transaction holds; the error decides the retry.
		_ = cl.EndTransaction(context.WithoutCancel(ctx), kgo.TryAbort)
		return fmt.Errorf("journeys topic: write: %w", err)
	}
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		return fmt.Errorf("journeys topic: commit: %w", err)
	}
	return nil
}

// Publish validates a definition and writes it as the journey's next
// version, live. It returns the version.
func (c *Control) Publish(ctx context.Context, text []byte, format string) (int32, error) {
	def, err := journey.Parse(text)
	if err != nil {
		return 0, err
	}
	if _, err := journey.Compile(def, 0, c.Channels); err != nil {
		return 0, err
	}
	var next int32
	err = c.change(ctx, func(cat *Catalog) (*kgo.Record, error) {
		next = 1
		cat.mu.RLock()
		for v := range cat.versions[def.ID] {
			next = max(next, v+1)
		}
		cat.mu.RUnlock()
		return c.record(ctx, &records.JourneyDefinition{
			JourneyID: def.ID, Version: next, State: records.JourneyLive, Format: format,
			Definition: string(text), PublishedAt: time.Now().UTC(), PublishedBy: c.By,
		})
	})
	return next, err
}

// Draft saves a definition as the journey's draft: a version engines do
// not run, for review before it is published. A journey has at most one
// draft: saving again replaces it. The definition must parse (its id names
// the journey) but need not validate yet. It returns the draft's version.
func (c *Control) Draft(ctx context.Context, text []byte, format string) (int32, error) {
	def, err := journey.Parse(text)
	if err != nil {
		return 0, err
	}
	var v int32
	err = c.change(ctx, func(cat *Catalog) (*kgo.Record, error) {
		v = 1
		cat.mu.RLock()
		for n, x := range cat.versions[def.ID] {
			if x.rec.State == records.JourneyDraft && n >= v {
				v = n // replace the draft
			} else {
				v = max(v, n+1)
			}
		}
		cat.mu.RUnlock()
		return c.record(ctx, &records.JourneyDefinition{JourneyID: def.ID, Version: v, State: records.JourneyDraft, Format: format, Definition: string(text), PublishedBy: c.By})
	})
	return v, err
}

// PublishDraft publishes the journey's draft: it must validate; its
// version becomes live and the journey's current one.
func (c *Control) PublishDraft(ctx context.Context, id string) (int32, error) {
	var v int32
	err := c.change(ctx, func(cat *Catalog) (*kgo.Record, error) {
		cat.mu.RLock()
		var draft *version
		for _, x := range cat.versions[id] {
			if x.rec.State == records.JourneyDraft && (draft == nil || x.rec.Version > draft.rec.Version) {
				draft = x
			}
		}
		cat.mu.RUnlock()
		if draft == nil {
			return nil, fmt.Errorf("journey %q has %w", id, ErrNoDraft)
		}
		if draft.err != nil {
			return nil, draft.err
		}
		rec := draft.rec
		rec.State, rec.PublishedAt = records.JourneyLive, time.Now().UTC()
		if c.By != "" {
			rec.PublishedBy = c.By
		}
		v = rec.Version
		return c.record(ctx, &rec)
	})
	return v, err
}

// SetState moves a journey to state (paused, live to resume, archived) by
// rewriting its current version's record.
func (c *Control) SetState(ctx context.Context, id string, state records.JourneyState) error {
	if !slices.Contains([]records.JourneyState{records.JourneyLive, records.JourneyPaused, records.JourneyArchived}, state) {
		return fmt.Errorf("journey state %q: want live, paused or archived", state)
	}
	return c.change(ctx, func(cat *Catalog) (*kgo.Record, error) {
		cat.mu.RLock()
		cur := cat.currentVersion(id)
		cat.mu.RUnlock()
		if cur == nil {
			return nil, fmt.Errorf("journey %q: no published version: %w", id, ErrState)
		}
		if cur.rec.State == records.JourneyArchived && state != records.JourneyArchived {
			return nil, fmt.Errorf("journey %q is archived; publish a new version instead: %w", id, ErrState)
		}
		if state == records.JourneyLive && cur.err != nil {
			return nil, fmt.Errorf("journey %q version %d does not validate (has-errors): %w", id, cur.rec.Version, cur.err)
		}
		rec := cur.rec
		rec.State = state
		return c.record(ctx, &rec)
	})
}

// ErrState is returned for a change the journey's lifecycle state does
// not allow (resuming an archived journey, pausing one never published).
var ErrState = errors.New("not allowed in the journey's state")

// ErrNoDraft is returned for a draft operation on a journey without one.
var ErrNoDraft = errors.New("no draft")

// DeleteDraft removes the journey's draft by tombstoning its record; the
// published versions stay. It returns the deleted draft's version.
func (c *Control) DeleteDraft(ctx context.Context, id string) (int32, error) {
	var v int32
	err := c.change(ctx, func(cat *Catalog) (*kgo.Record, error) {
		cat.mu.RLock()
		var key string
		v = 0
		for n, x := range cat.versions[id] {
			if x.rec.State == records.JourneyDraft && n > v {
				key, v = x.rec.Key(), n
			}
		}
		cat.mu.RUnlock()
		if key == "" {
			return nil, fmt.Errorf("journey %q: %w", id, ErrNoDraft)
		}
		return &kgo.Record{Key: []byte(key)}, nil
	})
	return v, err
}

// record encodes rec as the journeys topic's record for it.
func (c *Control) record(ctx context.Context, rec *records.JourneyDefinition) (*kgo.Record, error) {
	b, err := c.Codec.Encode(ctx, c.Topic, rec)
	if err != nil {
		return nil, err
	}
	return &kgo.Record{Key: []byte(rec.Key()), Value: b}, nil
}

// PublishIfChanged publishes text unless the journey's current version
// already has exactly this definition (so a restarted dev setup does not
// stack identical versions). It returns the version in effect and whether
// it published.
func (c *Control) PublishIfChanged(ctx context.Context, text []byte, format string) (int32, bool, error) {
	def, err := journey.Parse(text)
	if err != nil {
		return 0, false, err
	}
	cat, err := c.load(ctx)
	if err != nil {
		return 0, false, fmt.Errorf("read journeys: %w", err)
	}
	cat.mu.RLock()
	cur := cat.currentVersion(def.ID)
	cat.mu.RUnlock()
	if cur != nil && cur.rec.Definition == string(text) && cur.rec.State == records.JourneyLive {
		return cur.rec.Version, false, nil
	}
	v, err := c.Publish(ctx, text, format)
	return v, err == nil, err
}
