package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// A child process announces its progress with lines on stdout: a word,
// then fields. "ready <unix ns>" says the pipeline owns all its partitions
// and is processing; the goka binary speaks the same protocol.

// Announce writes one progress line to stdout.
func Announce(word string, fields ...any) {
	parts := []string{word}
	for _, f := range fields {
		parts = append(parts, fmt.Sprint(f))
	}
	fmt.Fprintln(os.Stdout, strings.Join(parts, " "))
}

// Child is a pipeline running in its own process.
type Child struct {
	Name  string
	cmd   *exec.Cmd
	lines chan []string
	done  chan struct{}
	err   error

	stopOnce  sync.Once
	stopUsage Usage
	stopErr   error
}

// StartChild starts path with args; its stderr goes to ours.
func StartChild(name, path string, args ...string) (*Child, error) {
	cmd := exec.Command(path, args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &Child{Name: name, cmd: cmd, lines: make(chan []string, 64), done: make(chan struct{})}
	go c.read(out)
	return c, nil
}

func (c *Child) read(out io.Reader) {
	defer close(c.lines)
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		c.lines <- f
	}
}

// Await returns the fields after word of the next line starting with word,
// skipping other lines.
func (c *Child) Await(ctx context.Context, word string) ([]string, error) {
	for {
		select {
		case f, ok := <-c.lines:
			if !ok {
				return nil, fmt.Errorf("%s exited before saying %q", c.Name, word)
			}
			if f[0] == word {
				return f[1:], nil
			}
		case <-ctx.Done():
			return nil, fmt.Errorf("%s did not say %q: %w", c.Name, word, ctx.Err())
		}
	}
}

// AwaitTime waits for "word <unix ns>" and returns the time.
func (c *Child) AwaitTime(ctx context.Context, word string) (time.Time, []string, error) {
	f, err := c.Await(ctx, word)
	if err != nil {
		return time.Time{}, nil, err
	}
	if len(f) == 0 {
		return time.Time{}, nil, fmt.Errorf("%s: %q without a time", c.Name, word)
	}
	ns, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return time.Time{}, nil, fmt.Errorf("%s: %q: %w", c.Name, word, err)
	}
	return time.Unix(0, ns), f[1:], nil
}

// Usage is what a child process used over its life.
type Usage struct {
	// PeakRSS is the process's VmHWM in bytes just before it was told to
	// stop. Not ru_maxrss from wait4: os/exec starts children with
	// CLONE_VM|CLONE_VFORK, and at exec Linux folds the high-water mark of
	// the mm the child shared with its parent into the child's maxrss, so
	// ru_maxrss is at least the parent's peak (here a kfake broker holding
	// every record of the run).
	PeakRSS int64
	CPU     time.Duration // user + system, from wait4
}

// Stop sends SIGTERM, waits (SIGKILL after grace) and returns the child's
// resource usage. A child that had to be killed or exited non-zero is an
// error, with the usage still filled in.
//
// Stop is idempotent: later calls return the first call's result, so a
// deferred Stop is a safe backstop after an explicit one.
func (c *Child) Stop(grace time.Duration) (Usage, error) {
	c.stopOnce.Do(func() { c.stopUsage, c.stopErr = c.stop(grace) })
	return c.stopUsage, c.stopErr
}

func (c *Child) stop(grace time.Duration) (Usage, error) {
	var u Usage
	_, u.PeakRSS = procMem(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	waited := make(chan error, 1)
	go func() { waited <- c.cmd.Wait() }()
	var err error
	select {
	case err = <-waited:
	case <-time.After(grace):
		_ = c.cmd.Process.Kill()
		err = errors.Join(fmt.Errorf("%s did not stop within %v; killed", c.Name, grace), <-waited)
	}
	if st := c.cmd.ProcessState; st != nil {
		u.CPU = st.UserTime() + st.SystemTime()
	}
	if err != nil {
		return u, fmt.Errorf("%s: %w", c.Name, err)
	}
	return u, nil
}

// MemStatus reads VmRSS and VmHWM of this process from /proc, in bytes.
func MemStatus() (rss, hwm int64) { return procMem("/proc/self/status") }

// procMem reads VmRSS and VmHWM from a /proc status file, in bytes; -1
// when it cannot be read.
func procMem(path string) (rss, hwm int64) {
	rss, hwm = -1, -1
	b, err := os.ReadFile(path)
	if err != nil {
		return -1, -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		switch f[0] {
		case "VmRSS:":
			rss = kb * 1024
		case "VmHWM:":
			hwm = kb * 1024
		}
	}
	return rss, hwm
}

// Next returns the next line the child announced, whatever its word.
func (c *Child) Next(ctx context.Context) ([]string, error) {
	select {
	case f, ok := <-c.lines:
		if !ok {
			return nil, io.EOF
		}
		return f, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Kill ends the child with SIGKILL, as a crash would (no shutdown, no
// leaving the group), waits for it, and returns its CPU use. Later calls
// of Stop return the same.
func (c *Child) Kill() Usage {
	c.stopOnce.Do(func() {
		_ = c.cmd.Process.Kill()
		_ = c.cmd.Wait()
		if st := c.cmd.ProcessState; st != nil {
			c.stopUsage.CPU = st.UserTime() + st.SystemTime()
		}
	})
	return c.stopUsage
}
