package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/beckon-dev/beckon/bench"
)

// watchPeak follows the process's RSS while ctx lives and, at each new
// high (at least 8 MiB above the last), writes a heap profile to path and
// remembers how the RSS splits: the Go heap (live, its GC goal, what the
// runtime holds from the OS) against the rest (Pebble's block cache and
// memtables live in C memory with cgo, outside the Go heap). It returns a
// function that reports the split at the peak on stderr.
//
// With ENGINEBENCH_HEAP=path the engine child writes path.<run> this way,
// so the profile shows what the heap held when the RSS peaked.
func watchPeak(ctx context.Context, path string) (report func()) {
	var peak peakMem
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			rss, _ := bench.MemStatus()
			if rss < peak.rss+8<<20 {
				continue
			}
			peak.sample(rss)
			if f, err := os.Create(path); err == nil {
				_ = pprof.WriteHeapProfile(f)
				_ = f.Close()
			}
		}
	}()
	return func() {
		<-done
		logger.Print(peak)
	}
}

// peakMem is the memory split at the highest RSS seen.
type peakMem struct {
	rss                                      int64
	heapLive, heapGoal, heapSys, heapRel, gc uint64
	stacks, other                            uint64
}

func (p *peakMem) sample(rss int64) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	*p = peakMem{rss: rss, heapLive: ms.HeapAlloc, heapGoal: ms.NextGC, heapSys: ms.HeapSys, heapRel: ms.HeapReleased,
		gc: uint64(ms.NumGC), stacks: ms.StackSys, other: ms.Sys - ms.HeapSys - ms.StackSys}
}

func (p peakMem) String() string {
	mib := func(b uint64) uint64 { return b >> 20 }
	goHeld := p.heapSys - p.heapRel
	return fmt.Sprintf("peak RSS %d MiB: Go heap allocated %d MiB (GC goal %d MiB, held from the OS %d MiB), stacks %d MiB, runtime other %d MiB, outside Go (cgo: Pebble cache, memtables) ~%d MiB; %d GCs",
		p.rss>>20, mib(p.heapLive), mib(p.heapGoal), mib(goHeld), mib(p.stacks), mib(p.other),
		max(0, p.rss>>20-int64(mib(goHeld+p.stacks+p.other))), p.gc)
}
