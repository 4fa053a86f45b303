package stream

import "context"

// RunBeside runs side while main runs, for a service that hosts a
// processor's group beside its own work (the engine hosts the journey
// metrics and timeline processors): when either returns, the other is
// stopped, and the first error is returned, main's if both failed.
func RunBeside(ctx context.Context, main, side func(context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- side(ctx)
		cancel()
	}()
	err := main(ctx)
	cancel()
	if serr := <-done; err == nil {
		err = serr
	}
	return err
}
