package stream

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
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
