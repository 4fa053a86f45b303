package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/beckon-dev/beckon/pkg/kafkaconn"
	"github.com/beckon-dev/beckon/pkg/topics"
)

// topics runs `beckon topics apply|check`.
func (c *cli) topics(ctx context.Context, args []string) int {
	if len(args) == 0 || (args[0] != "apply" && args[0] != "check") {
		fmt.Fprint(c.stderr, "usage: beckon topics apply|check [flags]\n")
		return 2
	}
	verb := args[0]
	fs := flag.NewFlagSet("beckon topics "+verb, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	conn := kafkaconn.RegisterFlags(fs, c.getenv)
	layoutFlags := topics.RegisterFlags(fs, c.getenv)
	timeout := fs.Duration("timeout", time.Minute, "give up after this long")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	cfg, err := conn.Config()
	if err != nil {
		fmt.Fprintf(c.stderr, "beckon topics %s: %v\n", verb, err)
		return 2
	}
	opts, err := layoutFlags.Options(cfg.TopicPrefix)
	if err != nil {
		fmt.Fprintf(c.stderr, "beckon topics %s: %v\n", verb, err)
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	code, err := c.topicsVerb(ctx, verb, cfg, opts)
	if err != nil {
		fmt.Fprintf(c.stderr, "beckon topics %s: %v\n", verb, err)
		return 2
	}
	return code
}

func (c *cli) topicsVerb(ctx context.Context, verb string, cfg kafkaconn.Config, opts topics.Options) (int, error) {
	layout, err := topics.Declare(opts)
	if err != nil {
		return 2, err
	}
	cl, err := cfg.NewClient()
	if err != nil {
		return 2, err
	}
	defer cl.Close()
	if verb == "check" {
		r, err := topics.Check(ctx, cl, layout)
		if err != nil && !isCoPartition(err) {
			return 2, err
		}
		for _, d := range r.Drift {
			fmt.Fprintf(c.stdout, "drift    %s\n", d)
		}
		if err != nil {
			fmt.Fprintf(c.stdout, "refused  %v\n", err)
		}
		if len(r.Drift) == 0 && err == nil {
			fmt.Fprintf(c.stdout, "ok       %d topics as declared\n", len(layout.Specs))
			return 0, nil
		}
		fmt.Fprintf(c.stdout, "%d differences from the %d declared topics; `beckon topics apply` fixes missing topics and configs\n", len(r.Drift), len(layout.Specs))
		return 1, nil
	}
	r, err := topics.Apply(ctx, cl, layout)
	if err != nil {
		return 2, err
	}
	for _, name := range r.Created {
		s, _ := layout.Spec(strings.TrimPrefix(name, layout.Prefix))
		fmt.Fprintf(c.stdout, "created  %s (%d partitions, replication factor %d, %s)\n", name, s.Partitions, s.ReplicationFactor, configString(s.Configs))
	}
	for _, a := range r.Altered {
		fmt.Fprintf(c.stdout, "set      %s\n", a)
	}
	for _, d := range r.Unchanged {
		fmt.Fprintf(c.stdout, "kept     %s (apply never changes partition counts or replication factors)\n", d)
	}
	fmt.Fprintf(c.stdout, "%d topics declared: %d created, %d configs set, %d differences kept\n", len(layout.Specs), len(r.Created), len(r.Altered), len(r.Unchanged))
	return 0, nil
}

func isCoPartition(err error) bool {
	var cpe *topics.CoPartitionError
	return errors.As(err, &cpe)
}

func configString(m map[string]string) string {
	parts := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, " ")
}
