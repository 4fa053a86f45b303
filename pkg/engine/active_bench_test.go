package engine

import (
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/beckon-dev/beckon/pkg/journey"
	"github.com/beckon-dev/beckon/pkg/stream"
)

// nopActive discards the counts.
type nopActive struct{}

func (nopActive) ActiveInstances(int32, map[string]int64) {}
func (nopActive) ActiveChanged(int32, string, int64)      {}

// BenchmarkActiveScan is what counting the running instances adds to a
// partition's restore, per 10,000 users with a waiting cart each (the
// store's iteration aside): the heads are read, not the instances.
func BenchmarkActiveScan(b *testing.B) {
	var keys, vals [][]byte
	for i := range 10000 {
		u := &journey.User{ID: fmt.Sprintf("user-%06d", i)}
		u.Instances = []*journey.Instance{{ID: fmt.Sprintf("inst-%06d", i), Journey: "abandoned-cart", Version: 1, EntryKey: "c1", Step: "idle"}}
		h, err := u.MarshalHead()
		if err != nil {
			b.Fatal(err)
		}
		keys = append(keys, []byte(u.ID))
		vals = append(vals, h)
	}
	w := activeWatcher{nopActive{}, slog.New(slog.NewTextHandler(io.Discard, nil))}
	scan := stream.StateScan(func(fn func(k, v []byte) bool) error {
		for i := range keys {
			fn(keys[i], vals[i])
		}
		return nil
	})
	b.ReportAllocs()
	for b.Loop() {
		w.Ready(0, scan)
	}
}
