package engine_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/beckon-dev/beckon/pkg/engine"
	"github.com/beckon-dev/beckon/pkg/records"
)

// Writers that share the journeys topic (API replicas, CLIs) each choose a
// version number by reading the topic; TestConcurrentWritersNeverShareAVersion
// shows no two of them ever choose the same one, however their reads and
// writes interleave, and that each version holds what its writer wrote.
func TestConcurrentWritersNeverShareAVersion(t *testing.T) {
	h := newHarness(t)
	const writers, each = 4, 3
	ctx, cancel := context.WithTimeout(h.ctx, 2*time.Minute)
	defer cancel()

	type wrote struct {
		version int32
		text    string
	}
	var (
		mu  sync.Mutex
		got []wrote
		wg  sync.WaitGroup
	)
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each writer is its own Control, as each API replica is.
			c := *h.control
			c.By = fmt.Sprintf("writer-%d", w)
			for i := range each {
				text := fmt.Sprintf("%s\n# writer %d, change %d\n", cartJourney, w, i)
				var v int32
				var err error
				if i%2 == 0 {
					v, err = c.Publish(ctx, []byte(text), records.FormatYAML)
				} else {
					v, err = c.Draft(ctx, []byte(text), records.FormatYAML)
					if err == nil {
						// Another writer may have replaced the draft before
						// it was published (then this publishes that one),
						// or published it already (then there is none).
						text = ""
						v, err = c.PublishDraft(ctx, "abandoned-cart")
						if errors.Is(err, engine.ErrNoDraft) {
							continue
						}
					}
				}
				if err != nil {
					errs <- fmt.Errorf("writer %d change %d: %w", w, i, err)
					return
				}
				mu.Lock()
				got = append(got, wrote{v, text})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	cat := engine.NewCatalog(h.control.Channels, slog.New(slog.DiscardHandler))
	ready := make(chan struct{})
	fctx, fcancel := context.WithCancel(ctx)
	defer fcancel()
	go func() { _ = cat.Follow(fctx, h.control.Kafka, h.control.Topic, h.codec, ready) }()
	select {
	case <-ready:
	case <-ctx.Done():
		t.Fatal("journeys topic not read")
	}
	recs := map[int32]engine.VersionRecord{}
	for _, r := range cat.Records("abandoned-cart") {
		recs[r.Version] = r
	}
	seen := map[int32]bool{}
	publishes := 0
	for _, w := range got {
		if w.text == "" {
			continue // a draft published: its version may be another writer's draft
		}
		publishes++
		if seen[w.version] {
			t.Errorf("version %d returned to two writers", w.version)
		}
		seen[w.version] = true
		r, ok := recs[w.version]
		if !ok {
			t.Errorf("version %d: not on the topic", w.version)
			continue
		}
		if r.Definition != w.text {
			t.Errorf("version %d holds another writer's definition:\n%s\nwant:\n%s", w.version, r.Definition, w.text)
		}
	}
	// Every version on the topic is live (no draft stayed unpublished) and
	// they are numbered without a gap.
	for v := int32(1); v <= int32(len(recs)); v++ {
		r, ok := recs[v]
		if !ok {
			t.Errorf("version %d missing; versions %d", v, len(recs))
			continue
		}
		if r.State != records.JourneyLive {
			t.Errorf("version %d is %s, want live", v, r.State)
		}
	}
	t.Logf("%d writers x %d changes: %d versions, %d direct publishes", writers, each, len(recs), publishes)
}
