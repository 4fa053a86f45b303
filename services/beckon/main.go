// Command beckon is the operator's CLI: `beckon topics apply|check` for
// provisioning, `beckon journeys validate` for authors, and `beckon dev` to
// run everything on an embedded Kafka.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/beckon-dev/beckon/pkg/logging"
)

const usage = `beckon runs event-triggered customer journeys on Kafka.

Usage:
  beckon dev                 run Beckon on an embedded Kafka with sample traffic
  beckon topics apply        create missing topics, set drifted configs
  beckon topics check        report drift from the declared topics; exit 1 on drift
  beckon journeys validate FILE...
  beckon journeys publish FILE... | pause|resume|archive JOURNEY_ID...
                             check journey definitions; exit 1 if any is invalid

Run 'beckon COMMAND -h' for a command's flags. Every flag can also be set
with its BECKON_* environment variable (see docs/configuration.md).
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

// cli carries what every command needs; tests give it buffers and a fake
// environment.
type cli struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	log            *slog.Logger
	// journeyNow is the dev engine's (scaled) clock, for the receipts the
	// simulated channel writes.
	journeyNow func() time.Time
}

// run executes one command and returns the process exit code: 0 success,
// 1 the command's own "no" (drift found), 2 usage or runtime errors.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	c := &cli{stdout: stdout, stderr: stderr, getenv: getenv, log: logging.New(stderr, logging.Text, slog.LevelInfo)}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch cmd, rest := args[0], args[1:]; cmd {
	case "dev":
		err = c.dev(ctx, rest)
	case "topics":
		return c.topics(ctx, rest)
	case "journeys":
		return c.journeys(ctx, rest)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "beckon: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "beckon %s: %v\n", args[0], err)
		return 2
	}
	return 0
}
