package realkafka

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// Default timeouts; see Options.
const (
	DefaultStartTimeout = 90 * time.Second
	DefaultStopTimeout  = 15 * time.Second
)

// Options configures Start. The zero value is ready to use.
type Options struct {
	// CacheDir holds the broker's jars between runs, one kafka-<version>
	// folder per Kafka release. Default: beckon in the user cache dir
	// ($XDG_CACHE_HOME/beckon, else ~/.cache/beckon on Linux).
	CacheDir string
	// StartTimeout bounds formatting the log dir, launching the JVM and
	// waiting until the broker serves metadata, groups and transactions.
	// The one-time download is bounded only by Start's context.
	// Default DefaultStartTimeout.
	StartTimeout time.Duration
	// StopTimeout is how long Stop waits after SIGTERM before it kills the
	// broker. Default DefaultStopTimeout.
	StopTimeout time.Duration
}

// Broker is a running single-node Apache Kafka (KRaft, combined broker and
// controller) on 127.0.0.1. Its data lives in a temporary directory that
// Stop removes.
type Broker struct {
	addr        string
	dir         string
	stopTimeout time.Duration

	cmd     *exec.Cmd
	exited  chan struct{} // closed once the JVM has exited
	waitErr error         // the JVM's exit status, set before exited closes

	stopOnce sync.Once
	stopErr  error
}

// Start fetches Kafka Version if it is not cached, formats a fresh KRaft log
// dir, launches the broker and returns once it answers. Cancelling ctx
// aborts the start; it does not stop a broker already returned.
func Start(ctx context.Context, opts Options) (*Broker, error) {
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = DefaultStartTimeout
	}
	if opts.StopTimeout <= 0 {
		opts.StopTimeout = DefaultStopTimeout
	}
	if opts.CacheDir == "" {
		root, err := defaultCacheRoot()
		if err != nil {
			return nil, fmt.Errorf("start kafka: %w", err)
		}
		opts.CacheDir = root
	}

	java, err := findJava(ctx)
	if err != nil {
		return nil, fmt.Errorf("start kafka: %w", err)
	}
	libs, err := libDir(ctx, opts.CacheDir)
	if err != nil {
		return nil, fmt.Errorf("start kafka: %w", err)
	}

	dir, err := os.MkdirTemp("", "beckon-kafka-")
	if err != nil {
		return nil, fmt.Errorf("start kafka: create broker dir: %w", err)
	}
	b := &Broker{dir: dir, stopTimeout: opts.StopTimeout, exited: make(chan struct{})}
	if err := b.start(ctx, java, libs, opts.StartTimeout); err != nil {
		err = fmt.Errorf("start kafka %s: %w\n%s", Version, err, b.logTail())
		b.abort()
		return nil, err
	}
	return b, nil
}

// Addr returns the broker's host:port for clients.
func (b *Broker) Addr() string { return b.addr }

// Stop shuts the broker down (SIGTERM, then SIGKILL after
// Options.StopTimeout) and removes its directory. It reports a broker that
// had died on its own, with the tail of its log. It is safe to call more
// than once.
func (b *Broker) Stop() error {
	b.stopOnce.Do(func() { b.stopErr = b.stop() })
	return b.stopErr
}

func (b *Broker) start(ctx context.Context, java, libs string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	ports, err := freePorts(2)
	if err != nil {
		return err
	}
	b.addr = fmt.Sprintf("127.0.0.1:%d", ports[0])
	dataDir := filepath.Join(b.dir, "data")
	props := filepath.Join(b.dir, "server.properties")
	if err := os.WriteFile(props, []byte(serverProperties(ports[0], ports[1], dataDir)), 0o644); err != nil {
		return fmt.Errorf("write server.properties: %w", err)
	}
	if err := os.WriteFile(b.path("log4j2.properties"), []byte(log4j2Properties(b.path("server.log"))), 0o644); err != nil {
		return fmt.Errorf("write log4j2.properties: %w", err)
	}

	// Format the single-voter KRaft quorum. A short-lived tool: C1 only
	// starts faster.
	format := b.javaCmd(ctx, java, libs, []string{"-Xmx256m", "-XX:TieredStopAtLevel=1"},
		"kafka.tools.StorageTool", "format", "--standalone",
		"--cluster-id", newClusterID(), "--config", props)
	if out, err := format.CombinedOutput(); err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return fmt.Errorf("format log dir (kafka.tools.StorageTool): %w\n%s", err, lastLines(out, 20))
	}

	out, err := os.Create(b.path("broker.out"))
	if err != nil {
		return fmt.Errorf("create broker.out: %w", err)
	}
	defer out.Close() // the child holds its own descriptor
	// Not bound to ctx: the broker outlives Start.
	cmd := b.javaCmd(context.Background(), java, libs, []string{"-Xms256m", "-Xmx1g", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20"},
		"kafka.Kafka", props)
	cmd.Stdout, cmd.Stderr = out, out
	isolate(cmd)
	if err := b.launch(cmd); err != nil {
		return fmt.Errorf("launch broker: %w", err)
	}
	if err := waitReady(ctx, b.addr, b.exited); err != nil {
		return err
	}
	return nil
}

// javaCmd builds a JVM command running class main with the broker's
// classpath and logging.
func (b *Broker) javaCmd(ctx context.Context, java, libs string, jvm []string, main string, args ...string) *exec.Cmd {
	full := append([]string{
		"-Djava.awt.headless=true",
		"-Dlog4j2.configurationFile=" + b.path("log4j2.properties"),
		"-Dkafka.logs.dir=" + b.dir,
	}, jvm...)
	// The wildcard is expanded by the JVM, keeping the command line short.
	full = append(full, "-cp", filepath.Join(libs, "*"), main)
	full = append(full, args...)
	cmd := exec.CommandContext(ctx, java, full...)
	cmd.Dir = b.dir
	return cmd
}

// launch starts cmd from a goroutine locked to its OS thread and keeps that
// thread until the JVM exits: Linux's parent-death signal fires when the
// starting thread ends, not the process, and the Go runtime may retire an
// unlocked thread at any time.
func (b *Broker) launch(cmd *exec.Cmd) error {
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		b.cmd = cmd
		started <- nil
		b.waitErr = cmd.Wait()
		close(b.exited)
	}()
	return <-started
}

func (b *Broker) stop() error {
	var errs []error
	if b.cmd != nil {
		select {
		case <-b.exited:
			errs = append(errs, fmt.Errorf("kafka broker exited on its own before Stop (%v)\n%s", b.waitErr, b.logTail()))
		default:
			if err := signalGroup(b.cmd.Process, syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) && !errors.Is(err, syscall.ESRCH) {
				errs = append(errs, fmt.Errorf("stop kafka broker: SIGTERM: %w", err))
			}
			select {
			case <-b.exited:
			case <-time.After(b.stopTimeout):
				if err := signalGroup(b.cmd.Process, syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) && !errors.Is(err, syscall.ESRCH) {
					errs = append(errs, fmt.Errorf("stop kafka broker: SIGKILL: %w", err))
				}
				<-b.exited
			}
		}
	}
	if err := os.RemoveAll(b.dir); err != nil {
		errs = append(errs, fmt.Errorf("remove kafka broker dir: %w", err))
	}
	return errors.Join(errs...)
}

// abort kills a broker that failed to start and removes its directory.
// Its log tail is already in Start's error.
func (b *Broker) abort() {
	if b.cmd != nil {
		_ = signalGroup(b.cmd.Process, syscall.SIGKILL)
		<-b.exited
	}
	_ = os.RemoveAll(b.dir)
}

// logTail is the end of the broker's logs, for errors.
func (b *Broker) logTail() string {
	return tailFiles(40, b.path("broker.out"), b.path("server.log"))
}

func (b *Broker) path(name string) string { return filepath.Join(b.dir, name) }

// freePorts returns n distinct free TCP ports on 127.0.0.1. Another process
// may take one before the broker binds it; the broker then fails to start
// with a clear "Address already in use" in its log.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("pick a free port: %w", err)
		}
		defer l.Close() // held until all are picked, so they differ
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
