package journeymetrics

import (
	"context"
	"fmt"

	"github.com/beckon-dev/beckon/pkg/stream"
)

// Alongside returns a function that runs the processor's group with o
// while main runs, for a service that hosts the processor beside its own
// work (the engine does, with --journey-metrics): when either returns,
// the other is stopped, and the first error is returned.
func (p *Processor) Alongside(o stream.Options, main func(context.Context) error) (func(context.Context) error, error) {
	r, err := stream.New(p.group, o)
	if err != nil {
		return nil, fmt.Errorf("journeymetrics: %w", err)
	}
	p.runner.Store(r)
	return func(ctx context.Context) error {
		return stream.RunBeside(ctx, main, func(ctx context.Context) error {
			if err := r.Run(ctx); err != nil {
				return fmt.Errorf("journey metrics: %w", err)
			}
			return nil
		})
	}, nil
}

// Ready reports whether the processor run by Alongside has joined its
// group and restored the partitions it owns (the engine's /readyz waits
// for it); false before it runs.
func (p *Processor) Ready() bool {
	r := p.runner.Load()
	return r != nil && r.Ready()
}

// Health is nil while the processor run by Alongside makes progress (or
// has not started), and otherwise says why not.
func (p *Processor) Health() error {
	if r := p.runner.Load(); r != nil {
		if err := r.Health(); err != nil {
			return fmt.Errorf("journey metrics: %w", err)
		}
	}
	return nil
}
