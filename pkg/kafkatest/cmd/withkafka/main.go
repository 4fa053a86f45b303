package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/beckon-dev/beckon/pkg/kafkatest"
	"github.com/beckon-dev/beckon/pkg/kafkatest/realkafka"
)

func main() { os.Exit(run(os.Args[1:])) }

// logger writes withkafka's own few lines to stderr; stdout belongs to the
// command.
var logger = log.New(os.Stderr, "withkafka: ", 0)

// run is main without the exit, returning the exit code.
func run(args []string) int {
	flags := flag.NewFlagSet("withkafka", flag.ContinueOnError)
	require := flags.Bool("require", false, "fail instead of skipping when the broker cannot start (implied by CI=true)")
	startTimeout := flags.Duration("start-timeout", realkafka.DefaultStartTimeout, "how long the broker may take to start, once its jars are cached")
	flags.Usage = func() {
		fmt.Fprintf(flags.Output(), "usage: withkafka [-require] [-start-timeout d] -- command [args...]\n\n"+
			"Starts Apache Kafka %s on 127.0.0.1, runs command with %s set to it, stops the broker\n"+
			"and exits with the command's code. Without Java or Maven it skips (exit 0) unless CI=true or -require.\n\n",
			realkafka.Version, kafkatest.EnvBrokers)
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		return 2
	}
	command := flags.Args()
	if len(command) == 0 {
		flags.Usage()
		return 2
	}
	required := *require || os.Getenv("CI") == "true"

	// Signals are ours from here on: during the start they abort it, while
	// the command runs they are passed on to it, and the broker is stopped
	// either way.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)

	broker, code, ok := startBroker(sigs, required, *startTimeout)
	if !ok {
		return code
	}
	code = runCommand(command, broker.Addr(), sigs)
	if err := broker.Stop(); err != nil {
		logger.Printf("stopping the broker: %v", err)
	}
	return code
}

// startBroker starts the broker, giving up when a signal arrives. When it
// returns ok false, code is withkafka's exit code: a skip (0), a required
// broker that did not start (1) or an interruption (128+signal).
func startBroker(sigs <-chan os.Signal, required bool, timeout time.Duration) (b *realkafka.Broker, code int, ok bool) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	interrupted := make(chan os.Signal, 1)
	started := make(chan struct{})
	go func() {
		select {
		case s := <-sigs:
			interrupted <- s
			cancel()
		case <-started:
			interrupted <- nil
		}
	}()

	logger.Printf("starting Apache Kafka %s (its first start downloads it with Maven)", realkafka.Version)
	began := time.Now()
	b, err := realkafka.Start(ctx, realkafka.Options{StartTimeout: timeout})
	close(started)
	if s := <-interrupted; s != nil {
		if b != nil {
			if err := b.Stop(); err != nil {
				logger.Printf("stopping the broker: %v", err)
			}
		}
		logger.Printf("interrupted by %v while starting the broker", s)
		return nil, signalCode(s), false
	}
	if err != nil {
		if required {
			logger.Printf("the real-broker suite is required (CI=true or -require) but the broker did not start: %v", err)
			return nil, 1, false
		}
		logger.Printf("skipping the real-broker suite: %v", err)
		logger.Printf("(set CI=true or pass -require to make this an error)")
		return nil, 0, false
	}
	logger.Printf("Kafka %s is up at %s after %v", realkafka.Version, b.Addr(), time.Since(began).Round(100*time.Millisecond))
	return b, 0, true
}

// runCommand runs command with the broker's address in its environment,
// passing on signals, and returns its exit code.
func runCommand(command []string, addr string, sigs <-chan os.Signal) int {
	cmd := exec.Command(command[0], command[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), kafkatest.EnvBrokers+"="+addr)
	if err := cmd.Start(); err != nil {
		logger.Printf("run %s: %v", strings.Join(command, " "), err)
		return 127
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for {
		select {
		case s := <-sigs:
			logger.Printf("got %v: passing it to %s; the broker stops once it exits", s, command[0])
			_ = cmd.Process.Signal(s)
		case err := <-done:
			return exitCode(err)
		}
	}
}

// exitCode is the shell's view of how a command ended: its exit status, or
// 128+n when signal n killed it.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		logger.Printf("waiting for the command: %v", err)
		return 1
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ee.ExitCode()
}

// signalCode is the exit code for dying of s.
func signalCode(s os.Signal) int {
	if n, ok := s.(syscall.Signal); ok {
		return 128 + int(n)
	}
	return 1
}
