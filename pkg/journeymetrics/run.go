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
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		done := make(chan error, 1)
		go func() {
			err := r.Run(ctx)
			if err != nil {
				err = fmt.Errorf("journey metrics: %w", err)
			}
			done <- err
			cancel()
		}()
		err := main(ctx)
		cancel()
		if merr := <-done; err == nil {
			err = merr
		}
		return err
	}, nil
}
