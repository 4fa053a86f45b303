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
	return func(ctx context.Context) error {
		return stream.RunBeside(ctx, main, func(ctx context.Context) error {
			if err := r.Run(ctx); err != nil {
				return fmt.Errorf("journey metrics: %w", err)
			}
			return nil
		})
	}, nil
}
