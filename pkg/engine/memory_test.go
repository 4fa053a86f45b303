package engine

import (
	"errors"
	"io/fs"
	"math"
	"runtime/debug"
	"testing"
)

// TestMemoryLimit checks where the engine's soft memory limit comes from:
// GOMEMLIMIT, a container's limit, the default, or the setting, and that
// it is what the runtime then enforces.
func TestMemoryLimit(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	noEnv := func(string) string { return "" }
	noCgroup := func(string) ([]byte, error) { return nil, fs.ErrNotExist }
	cgroup := func(v2, v1 string) func(string) ([]byte, error) {
		return func(path string) ([]byte, error) {
			switch {
			case path == "/sys/fs/cgroup/memory.max" && v2 != "":
				return []byte(v2), nil
			case path == "/sys/fs/cgroup/memory/memory.limit_in_bytes" && v1 != "":
				return []byte(v1), nil
			}
			return nil, fs.ErrNotExist
		}
	}
	for _, c := range []struct {
		name, setting string
		getenv        func(string) string
		readFile      func(string) ([]byte, error)
		want          int64
		source        string
	}{
		{"default without a container limit", "auto", noEnv, noCgroup, DefaultMemoryLimit, "default"},
		{"empty is auto", "", noEnv, noCgroup, DefaultMemoryLimit, "default"},
		{"cgroup v2 limit less 256 MiB", "auto", noEnv, cgroup("1073741824\n", ""), 768 << 20, "container limit 1024 MiB"},
		{"a small container keeps half", "auto", noEnv, cgroup("402653184\n", ""), 192 << 20, "container limit 384 MiB"},
		{"cgroup v2 without a limit", "auto", noEnv, cgroup("max\n", ""), DefaultMemoryLimit, "default"},
		{"cgroup v1 limit", "auto", noEnv, cgroup("", "1073741824\n"), 768 << 20, "container limit 1024 MiB"},
		{"cgroup v1 without a limit", "auto", noEnv, cgroup("", "9223372036854771712\n"), DefaultMemoryLimit, "default"},
		{"a size in MiB", "384MiB", noEnv, noCgroup, 384 << 20, "set"},
		{"a size in GiB", "1GiB", noEnv, noCgroup, 1 << 30, "set"},
		{"bytes", "300000000", noEnv, noCgroup, 300000000, "set"},
		{"off", "off", noEnv, noCgroup, math.MaxInt64, "off"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, source, err := memoryLimit(c.setting, c.getenv, c.readFile)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want || source != c.source {
				t.Errorf("memoryLimit(%q) = %d (%s), want %d (%s)", c.setting, got, source, c.want, c.source)
			}
			if now := debug.SetMemoryLimit(-1); now != c.want {
				t.Errorf("the runtime's limit is %d, want %d", now, c.want)
			}
		})
	}
	t.Run("GOMEMLIMIT wins over auto", func(t *testing.T) {
		debug.SetMemoryLimit(500 << 20) // as the runtime does from GOMEMLIMIT at start
		got, source, err := memoryLimit("auto", func(k string) string {
			if k == "GOMEMLIMIT" {
				return "500MiB"
			}
			return ""
		}, cgroup("1073741824", ""))
		if err != nil || got != 500<<20 || source != "GOMEMLIMIT" {
			t.Errorf("memoryLimit(auto) with GOMEMLIMIT = %d (%s), %v; want %d (GOMEMLIMIT)", got, source, err, 500<<20)
		}
	})
	for _, bad := range []string{"lots", "-5MiB", "0", "12TB", "MiB"} {
		if _, _, err := memoryLimit(bad, noEnv, noCgroup); err == nil {
			t.Errorf("memoryLimit(%q): no error", bad)
		} else if errors.Is(err, fs.ErrNotExist) {
			t.Errorf("memoryLimit(%q): %v", bad, err)
		}
	}
}
