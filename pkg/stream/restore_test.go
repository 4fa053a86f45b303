package stream

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestRestoreRebuildsDeletedAndCorruptStores: after a stop, one
// partition's store is deleted and another's is corrupted; the restarted
// runner rebuilds both from the changelog and counting continues where it
// left off.
func TestRestoreRebuildsDeletedAndCorruptStores(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	g := e.counter()
	r, stop := e.run(g, "a", dir, nil)
	waitReady(t, r)
	users := []string{"u0", "u1", "u2", "u3", "u4", "u5"}
	for range 3 {
		for _, u := range users {
			e.produce(e.events, u, "x")
		}
	}
	e.readAll(e.out, 18)
	stop()

	if err := os.RemoveAll(storeDir(dir, g.name, 0)); err != nil {
		t.Fatal(err)
	}
	// A store whose files are garbage: Pebble cannot open it.
	bad := storeDir(dir, g.name, 1)
	if err := os.RemoveAll(bad); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(bad, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bad, "CURRENT"), []byte("MANIFEST-garbage\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	r, _ = e.run(g, "a", dir, nil)
	waitReady(t, r)
	for _, u := range users {
		e.produce(e.events, u, "x")
	}
	got := values(e.readAll(e.out, 24))
	for _, u := range users {
		for n := 1; n <= 4; n++ {
			if k := fmt.Sprintf("%s=%d", u, n); got[k] != 1 {
				t.Errorf("%s seen %d times, want once: the restored count is wrong", k, got[k])
			}
		}
	}
	if len(got) != 24 {
		t.Errorf("%d distinct outputs, want 24: %v", len(got), got)
	}
}

func TestTablesAndGlobalTables(t *testing.T) {
	e := newEnv(t)
	e.produce(e.catalog, "sku-1", "Linen Shirt")
	g, err := Define(e.prefix+"joiner",
		Input(e.events), Table(e.profile, true), GlobalTable(e.catalog),
		Changelog(e.change), DeadLetter(e.dlq),
		Process(func(c *Context, m Message) error {
			if m.Kind == KindTableUpdate {
				c.Emit(e.out, m.Key, fmt.Appendf(nil, "profile %s is now %s", m.Key, m.Value))
				return nil
			}
			profile, _, err := c.Lookup(e.profile, m.Key)
			if err != nil {
				return err
			}
			product, ok, err := c.Lookup(e.catalog, m.Value)
			if err != nil {
				return err
			}
			if !ok {
				product = []byte("?")
			}
			c.Emit(e.out, m.Key, fmt.Appendf(nil, "%s (%s) added %s", m.Key, profile, product))
			return nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	r, stop := e.run(g, "a", dir, nil)
	waitReady(t, r)
	e.produce(e.profile, "u1", "gold")
	e.readAll(e.out, 1)
	e.produce(e.catalog, "sku-2", "Rain Parka")
	time.Sleep(300 * time.Millisecond) // the global table follows its topic
	e.produce(e.events, "u1", "sku-1", "u1", "sku-2", "u2", "sku-1")
	got := values(e.readAll(e.out, 4))
	for _, want := range []string{"profile u1 is now gold", "u1 (gold) added Linen Shirt", "u1 (gold) added Rain Parka", "u2 () added Linen Shirt"} {
		if got[want] != 1 {
			t.Errorf("%q seen %d times; all: %v", want, got[want], got)
		}
	}
	stop()

	// Tables come back after a restart with their stores deleted: the
	// table topics are their own changelogs.
	if err := os.RemoveAll(filepath.Join(dir, g.name)); err != nil {
		t.Fatal(err)
	}
	r, _ = e.run(g, "a", dir, nil)
	waitReady(t, r)
	e.produce(e.events, "u1", "sku-2")
	got = values(e.readAll(e.out, 5))
	if got["u1 (gold) added Rain Parka"] != 2 {
		t.Errorf("after rebuilding the stores the profile or catalog row is missing: %v", got)
	}
}

// TestTableRowsBeforeAnEventAreSeenByIt: a profile table far bigger than
// one fetch, written before the events that join it, is read in full
// before the partition's first event: every event finds its user's row,
// though the group reads the table and the events at their own pace.
// Rows written while the runner runs, and rows the group then reads a
// second time, keep the last value.
func TestTableRowsBeforeAnEventAreSeenByIt(t *testing.T) {
	e := newEnv(t)
	const users = 3000
	pad := strings.Repeat("p", 200)
	var rows, evs []string
	for u := range users {
		rows = append(rows, fmt.Sprintf("u%d", u), fmt.Sprintf("gold %s", pad))
		evs = append(evs, fmt.Sprintf("u%d", u), "x")
	}
	// Many small batches: a fetch returns whole batches, so one big batch
	// per partition would arrive in one piece.
	for i := 0; i < len(rows); i += 120 {
		e.produce(e.profile, rows[i:i+120]...)
	}
	e.produce(e.events, evs...)
	g, err := Define(e.prefix+"join",
		Input(e.events), Table(e.profile, false),
		Changelog(e.change), DeadLetter(e.dlq),
		Process(func(c *Context, m Message) error {
			profile, ok, err := c.Lookup(e.profile, m.Key)
			if err != nil {
				return err
			}
			if !ok {
				profile = []byte("missing")
			}
			c.Emit(e.out, m.Key, fmt.Appendf(nil, "%s %.4s", m.Key, profile))
			return nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(g, Options{
		Kafka:         []kgo.Opt{kgo.SeedBrokers(e.brokers...)},
		StateDir:      t.TempDir(),
		InstanceID:    "a",
		FetchMaxBytes: 16 << 10, // the table takes dozens of fetches
		Logger:        slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		t.Fatal(err)
	}
	e.start(r)
	got := values(e.readAll(e.out, users))
	missing := 0
	for u := range users {
		if n := got[fmt.Sprintf("u%d gold", u)]; n != 1 {
			missing++
			if missing <= 5 {
				t.Errorf("u%d: its event saw the row %d times (missing: %d), want once", u, n, got[fmt.Sprintf("u%d miss", u)])
			}
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d events did not see the profile row written before them", missing, users)
	}

	// A row updated now is seen by the next event; the rows the group
	// read again (already applied by the restore) did not overwrite it.
	e.produce(e.profile, "u7", "silver")
	deadline := time.Now().Add(30 * time.Second)
	for {
		e.produce(e.events, "u7", "x")
		out := values(e.readAll(e.out, users+1))
		if out["u7 silv"] > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("u7's event never saw its new row: %v", out["u7 gold"])
		}
	}
}
