package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/beckon-dev/beckon/pkg/journey"
	"github.com/beckon-dev/beckon/pkg/kafkaconn"
	"github.com/beckon-dev/beckon/pkg/settings"
	"github.com/beckon-dev/beckon/pkg/simulate"
	"github.com/beckon-dev/beckon/pkg/topics"
)

const simulateUsage = "usage: beckon journeys simulate FILE --from TIME|DURATION [--to TIME|DURATION] [--users N] [--json] [--api URL | kafka flags]\n"

// journeysSimulate runs `beckon journeys simulate FILE`: the definition
// run on a window of past traffic (docs/simulation.md), through the API
// with --api, else reading Kafka directly. It prints the report, and its
// progress to stderr.
func (c *cli) journeysSimulate(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("beckon journeys simulate", flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	remoteFlags := settings.Bind(fs, c.getenv, apiSettings)
	conn := kafkaconn.RegisterFlags(fs, c.getenv)
	layoutFlags := topics.RegisterFlags(fs, c.getenv)
	fromFlag := fs.String("from", "", "the window's start: an RFC 3339 time or a duration before now (168h, 7d); required")
	toFlag := fs.String("to", "", "the window's end, likewise (default now)")
	users := fs.Int("users", 0, "simulate at most this many users (0: all)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	maxRecords := fs.Int64("max-records", 0, "read at most this many events and receipts (0: no cap)")
	timeout := fs.Duration("timeout", 0, "give up after this long (0: never)")
	// The file may come before the flags, as the usage shows it.
	var files []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		files, rest = append(files, fs.Arg(0)), fs.Args()[1:]
	}
	if len(files) != 1 || *fromFlag == "" || *users < 0 {
		fmt.Fprint(c.stderr, simulateUsage)
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintf(c.stderr, "beckon journeys simulate: %v\n", err)
		return 1
	}
	file := files[0]
	data, err := os.ReadFile(file)
	if err != nil {
		return fail(err)
	}
	now := time.Now()
	from, err := simulate.ParseTime(*fromFlag, now)
	if err != nil {
		return fail(fmt.Errorf("--from: %w", err))
	}
	to := now
	if *toFlag != "" {
		if to, err = simulate.ParseTime(*toFlag, now); err != nil {
			return fail(fmt.Errorf("--to: %w", err))
		}
	}
	if *timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}
	var rep *simulate.Report
	if remote := apiClient(remoteFlags); remote != nil {
		fmt.Fprintf(c.stderr, "simulating %s from %s to %s through %s...\n", file, from.Format(time.RFC3339), to.Format(time.RFC3339), remote.URL)
		rep, err = remote.Simulate(ctx, data, formatOf(file), from.Format(time.RFC3339Nano), to.Format(time.RFC3339Nano), *users)
	} else {
		var o simulate.Options
		if o, err = kafkaSimulation(conn, layoutFlags); err != nil {
			return fail(err)
		}
		o.From, o.To, o.Users, o.MaxRecords = from, to, *users, *maxRecords
		o.Progress = func(p simulate.Progress) {
			fmt.Fprintf(c.stderr, "simulate: %d of %d partitions done, %d records read\n", p.PartitionsDone, p.Partitions, p.Records)
		}
		rep, err = simulate.Run(ctx, data, o)
	}
	var ve *journey.ValidationError
	if errors.As(err, &ve) {
		for _, fe := range ve.Errors {
			fmt.Fprintln(c.stdout, problemLine(file, fe))
		}
		return 1
	}
	if err != nil {
		return fail(err)
	}
	if *asJSON {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(rep)
	} else {
		err = rep.WriteText(c.stdout)
	}
	if err != nil {
		return fail(err)
	}
	return 0
}

// kafkaSimulation is a simulation's Kafka connection, topics and channels
// as the connection and layout flags describe them.
func kafkaSimulation(conn *kafkaconn.Flags, layoutFlags *topics.Flags) (simulate.Options, error) {
	cfg, err := conn.Config()
	if err != nil {
		return simulate.Options{}, err
	}
	opts, err := layoutFlags.Options(cfg.TopicPrefix)
	if err != nil {
		return simulate.Options{}, err
	}
	layout, err := topics.Declare(opts)
	if err != nil {
		return simulate.Options{}, err
	}
	kopts, err := cfg.ClientOpts()
	if err != nil {
		return simulate.Options{}, err
	}
	cd, err := cfg.Codec()
	if err != nil {
		return simulate.Options{}, err
	}
	return simulate.Options{Kafka: kopts, Layout: layout, Codec: cd, Channels: append(slices.Clone(journey.DefaultChannels), opts.Channels...)}, nil
}
