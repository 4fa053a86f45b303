package peers

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

//go:embed requirements.txt
var requirements []byte

// doneMarker is written last into a built peer's directory; a directory
// without it is a build that did not finish and is never used.
const doneMarker = ".complete"

var (
	pythonOnce sync.Once
	pythonPath string
	pythonErr  error
)

// Python returns the interpreter of a virtual environment holding the
// packages pinned in requirements.txt, creating it on first use. It fails
// t if that cannot be done.
func Python(t testing.TB) string {
	t.Helper()
	pythonOnce.Do(func() { pythonPath, pythonErr = python() })
	if pythonErr != nil {
		t.Fatalf("peers: Python with %s: %v", strings.Join(pinned(), ", "), pythonErr)
	}
	return pythonPath
}

func python() (string, error) {
	root, err := cacheRoot()
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(requirements)
	dir := filepath.Join(root, "python-"+hex.EncodeToString(sum[:6]))
	bin := filepath.Join(dir, "bin", "python")
	if done(dir) {
		return bin, nil
	}
	py, err := exec.LookPath("python3")
	if err != nil {
		return "", fmt.Errorf("python3 is not on PATH: %w", err)
	}
	err = buildInto(root, dir, func(tmp string) error {
		// The venv is made in place (its scripts hold absolute paths),
		// then its packages are installed; the marker says it is whole.
		if err := run("", py, "-m", "venv", tmp); err != nil {
			return err
		}
		req := filepath.Join(tmp, "requirements.txt")
		if err := os.WriteFile(req, requirements, 0o644); err != nil {
			return err
		}
		return run("", filepath.Join(tmp, "bin", "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check", "-r", req)
	})
	if err != nil {
		return "", err
	}
	return bin, nil
}

// Java builds the Maven project in dir (a folder of this repository) once
// and returns the java command and the classpath of its classes and
// runtime dependencies. It fails t if that cannot be done.
func Java(t testing.TB, dir string) (java, classpath string) {
	t.Helper()
	java, classpath, err := BuildJava(dir)
	if err != nil {
		t.Fatalf("peers: %v", err)
	}
	return java, classpath
}

// BuildJava is Java for programs that are not tests (the benchmarks): it
// builds the Maven project in dir once per process (and once per content
// in the user cache) and returns the java command and the classpath.
func BuildJava(dir string) (java, classpath string, err error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", "", err
	}
	javaMu.Lock()
	b, ok := javaBuilt[abs]
	if !ok {
		b = &javaBuild{}
		javaBuilt[abs] = b
	}
	javaMu.Unlock()
	b.once.Do(func() { b.classpath, b.err = buildJava(abs) })
	if b.err != nil {
		return "", "", fmt.Errorf("build the Java peer in %s: %w", dir, b.err)
	}
	java, err = exec.LookPath("java")
	if err != nil {
		return "", "", fmt.Errorf("java is not on PATH: %w", err)
	}
	return java, b.classpath, nil
}

type javaBuild struct {
	once      sync.Once
	classpath string
	err       error
}

var (
	javaMu    sync.Mutex
	javaBuilt = map[string]*javaBuild{}
)

func buildJava(src string) (string, error) {
	root, err := cacheRoot()
	if err != nil {
		return "", err
	}
	sum, err := hashTree(src)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(root, "java-"+filepath.Base(src)+"-"+sum)
	if !done(dir) {
		mvn, err := exec.LookPath("mvn")
		if err != nil {
			return "", fmt.Errorf("mvn is not on PATH: %w", err)
		}
		err = buildInto(root, dir, func(tmp string) error {
			if err := os.CopyFS(tmp, os.DirFS(src)); err != nil {
				return err
			}
			return run(tmp, mvn, "-B", "-q", "-DskipTests", "package",
				"org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies",
				"-DincludeScope=runtime", "-DoutputDirectory=target/lib")
		})
		if err != nil {
			return "", err
		}
	}
	jars, _ := filepath.Glob(filepath.Join(dir, "target", "lib", "*.jar"))
	cp := append([]string{filepath.Join(dir, "target", "classes")}, jars...)
	return strings.Join(cp, string(os.PathListSeparator)), nil
}

// hashTree hashes the names and contents of the files under dir, leaving
// out Maven's target folder.
func hashTree(dir string) (string, error) {
	h := sha256.New()
	var names []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "target" {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			names = append(names, p)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	slices.Sort(names)
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			return "", err
		}
		rel, _ := filepath.Rel(dir, n)
		fmt.Fprintf(h, "%s\x00%d\x00", rel, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)[:6]), nil
}

// buildInto builds into a private folder under root and renames it to dir,
// so concurrent first runs never use a half-built peer. A venv records its
// own path, so build runs where the result will live: it gets dir itself
// when no other build holds it (a lock file says so), else a private one.
func buildInto(root, dir string, build func(tmp string) error) error {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	lock := dir + ".lock"
	f, err := os.OpenFile(lock, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		// Another process builds it: wait for its marker.
		return waitDone(dir, lock)
	}
	f.Close()
	defer os.Remove(lock)
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := build(dir); err != nil {
		os.RemoveAll(dir)
		return err
	}
	return os.WriteFile(filepath.Join(dir, doneMarker), nil, 0o644)
}

func done(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, doneMarker))
	return err == nil
}

func run(dir, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, tail(out.Bytes(), 40))
	}
	return nil
}

func tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func pinned() []string {
	var out []string
	for _, l := range strings.Split(string(requirements), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

func cacheRoot() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("locate the user cache dir (set XDG_CACHE_HOME or HOME): %w", err)
	}
	return filepath.Join(base, "beckon"), nil
}

// waitDone waits while another process holds dir's lock, then reports
// whether it left a finished build. A lock older than lockStale is taken
// to be left by a killed build and is removed.
func waitDone(dir, lock string) error {
	deadline := time.Now().Add(lockStale)
	for time.Now().Before(deadline) {
		if done(dir) {
			return nil
		}
		if _, err := os.Stat(lock); os.IsNotExist(err) {
			if done(dir) {
				return nil
			}
			return fmt.Errorf("a concurrent build of %s ended without finishing it", dir)
		}
		time.Sleep(200 * time.Millisecond)
	}
	os.Remove(lock)
	return fmt.Errorf("waited %v for a concurrent build of %s (lock %s removed; run again)", lockStale, dir, lock)
}

// lockStale bounds the wait for another process's build.
const lockStale = 15 * time.Minute
