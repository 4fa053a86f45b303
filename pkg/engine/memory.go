package engine

import (
	"fmt"
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// DefaultMemoryLimit is the soft limit of the Go runtime's memory an
// engine process sets when neither GOMEMLIMIT nor a container memory limit
// says otherwise (see MemoryLimit). The engine's Go heap is bounded by its
// options (the row caches, StateCacheBytes per owned partition; the
// decoded profiles; the consumer's fetch, FetchMaxBytes; a transaction's
// records), about 100 MiB with 1M waiting cart instances on 6 partitions;
// without a limit the garbage collector lets the heap grow to twice that
// before it collects. Pebble's block cache and memtables are C memory with
// cgo and are not counted.
const DefaultMemoryLimit = 256 << 20

// MemoryLimit sets the Go runtime's soft memory limit (debug.SetMemoryLimit)
// from setting and returns the limit in force and where it came from:
//
//   - "auto" or empty: GOMEMLIMIT when the environment sets it (the runtime
//     has applied it); else, in a container with a memory limit (cgroup v2
//     memory.max or v1 memory.limit_in_bytes), that limit less 256 MiB for
//     Pebble's C memory and the rest, and at least half of it; else
//     DefaultMemoryLimit;
//   - "off": no limit (the garbage collector follows GOGC alone);
//   - a size: bytes, or with a KiB, MiB or GiB suffix ("384MiB").
//
// The limit is soft: when the live heap is above it the collector runs
// more often (at most about half the CPU) rather than failing.
func MemoryLimit(setting string) (limit int64, source string, err error) {
	return memoryLimit(setting, os.Getenv, os.ReadFile)
}

func memoryLimit(setting string, getenv func(string) string, readFile func(string) ([]byte, error)) (int64, string, error) {
	switch s := strings.TrimSpace(setting); s {
	case "", "auto":
		if getenv("GOMEMLIMIT") != "" {
			return debug.SetMemoryLimit(-1), "GOMEMLIMIT", nil
		}
		if c, ok := containerMemory(readFile); ok {
			limit := max(c/2, c-256<<20)
			debug.SetMemoryLimit(limit)
			return limit, fmt.Sprintf("container limit %d MiB", c>>20), nil
		}
		debug.SetMemoryLimit(DefaultMemoryLimit)
		return DefaultMemoryLimit, "default", nil
	case "off":
		debug.SetMemoryLimit(math.MaxInt64)
		return math.MaxInt64, "off", nil
	default:
		n, err := parseSize(s)
		if err != nil {
			return 0, "", fmt.Errorf("memory limit %q: want auto, off, or a size such as 384MiB", setting)
		}
		debug.SetMemoryLimit(n)
		return n, "set", nil
	}
}

// parseSize reads bytes with an optional KiB, MiB or GiB suffix.
func parseSize(s string) (int64, error) {
	mult := int64(1)
	for suffix, m := range map[string]int64{"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30} {
		if strings.HasSuffix(s, suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, suffix)), m
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("not a positive size")
	}
	return n * mult, nil
}

// containerMemory reads the memory limit of this process's cgroup (v2,
// then v1); false when there is none.
func containerMemory(readFile func(string) ([]byte, error)) (int64, bool) {
	for _, path := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		b, err := readFile(path)
		if err != nil {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		// "max" (v2) or a huge number (v1) mean no limit.
		if err != nil || n <= 0 || n >= 1<<60 {
			return 0, false
		}
		return n, true
	}
	return 0, false
}
