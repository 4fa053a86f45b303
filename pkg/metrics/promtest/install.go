package promtest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// marker marks a complete install: written last, it holds the Debian
// package's version.
const marker = "version.txt"

// Installed is an unpacked Prometheus.
type Installed struct {
	Prometheus, Promtool string
	Version              string // the Debian package's, e.g. 2.42.0+ds-5+deb12u1
}

// Install returns Prometheus and promtool from the user cache, fetching
// Debian's prometheus package with apt-get download (no root needed, the
// package lists must be there: apt-get update) and unpacking it with
// dpkg-deb on first use.
func Install(ctx context.Context) (Installed, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return Installed{}, fmt.Errorf("promtest: locate the user cache dir (set XDG_CACHE_HOME or HOME): %w", err)
	}
	root := filepath.Join(base, "beckon")
	dir := filepath.Join(root, "prometheus-debian")
	if in, ok := installed(dir); ok {
		return in, nil
	}
	for _, tool := range []string{"apt-get", "dpkg-deb"} {
		if _, err := exec.LookPath(tool); err != nil {
			return Installed{}, fmt.Errorf("promtest: Prometheus is installed from Debian's prometheus package, and %s is not on PATH: %w", tool, err)
		}
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return Installed{}, fmt.Errorf("promtest: %w", err)
	}
	// Fetch into a private directory and rename it into place, so that
	// concurrent first runs never see a half-filled cache.
	tmp, err := os.MkdirTemp(root, "prometheus-debian.partial-")
	if err != nil {
		return Installed{}, fmt.Errorf("promtest: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := fetch(ctx, tmp); err != nil {
		return Installed{}, err
	}
	if _, ok := installed(dir); !ok {
		_ = os.RemoveAll(dir)
		if err := os.Rename(tmp, dir); err != nil {
			if _, ok := installed(dir); !ok {
				return Installed{}, fmt.Errorf("promtest: move Prometheus into the cache %s: %w", dir, err)
			}
		}
	}
	in, ok := installed(dir)
	if !ok {
		return Installed{}, fmt.Errorf("promtest: %s is incomplete after installing", dir)
	}
	return in, nil
}

func fetch(ctx context.Context, dir string) error {
	run := func(name string, args ...string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Dir = dir
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("promtest: %s %s: %w\n%s", name, strings.Join(args, " "), err, out.String())
		}
		return out.Bytes(), nil
	}
	if _, err := run("apt-get", "download", "-q", "prometheus"); err != nil {
		return fmt.Errorf("%w(the package lists may be missing: run apt-get update once, as .ci/run does)", err)
	}
	debs, _ := filepath.Glob(filepath.Join(dir, "prometheus_*.deb"))
	if len(debs) != 1 {
		return fmt.Errorf("promtest: apt-get download left %d prometheus packages in %s", len(debs), dir)
	}
	version, err := run("dpkg-deb", "-f", debs[0], "Version")
	if err != nil {
		return err
	}
	if _, err := run("dpkg-deb", "-x", debs[0], "root"); err != nil {
		return err
	}
	if err := os.Mkdir(filepath.Join(dir, "bin"), 0o755); err != nil {
		return fmt.Errorf("promtest: %w", err)
	}
	for _, tool := range []string{"prometheus", "promtool"} {
		if err := os.Rename(filepath.Join(dir, "root", "usr", "bin", tool), filepath.Join(dir, "bin", tool)); err != nil {
			return fmt.Errorf("promtest: the prometheus package lacks %s: %w", tool, err)
		}
	}
	_ = os.RemoveAll(filepath.Join(dir, "root"))
	_ = os.Remove(debs[0])
	return os.WriteFile(filepath.Join(dir, marker), bytes.TrimSpace(version), 0o644)
}

func installed(dir string) (Installed, bool) {
	v, err := os.ReadFile(filepath.Join(dir, marker))
	if err != nil {
		return Installed{}, false
	}
	in := Installed{Prometheus: filepath.Join(dir, "bin", "prometheus"), Promtool: filepath.Join(dir, "bin", "promtool"), Version: string(v)}
	for _, p := range []string{in.Prometheus, in.Promtool} {
		if st, err := os.Stat(p); err != nil || st.Mode()&0o111 == 0 {
			return Installed{}, false
		}
	}
	return in, true
}
