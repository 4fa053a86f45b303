package realkafka

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// probeTimeout bounds one readiness probe; waitReady retries until its
// context ends.
const probeTimeout = 10 * time.Second

// readyProbeID is the transactional ID the readiness probe initialises.
const readyProbeID = "beckon-realkafka-ready"

// waitReady polls the broker at addr until it lists itself, has a group
// coordinator and can hand a producer ID to a transactional producer, or
// until ctx ends or the JVM exits. Waiting for the coordinators also means
// their internal topics exist, so a test's first group or transaction does
// not pay for creating them.
func waitReady(ctx context.Context, addr string, exited <-chan struct{}) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ClientID("beckon-realkafka-ready"))
	if err != nil {
		return fmt.Errorf("readiness client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)

	var last error
	for {
		if last = probe(ctx, cl, adm); last == nil {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("broker exited while starting (last probe: %v)", last)
		case <-ctx.Done():
			return fmt.Errorf("broker not ready: %w (last probe: %v)", ctx.Err(), last)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// probe asks the broker once for everything waitReady needs.
func probe(ctx context.Context, cl *kgo.Client, adm *kadm.Client) error {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()

	brokers, err := adm.ListBrokers(ctx)
	if err != nil {
		return fmt.Errorf("list brokers: %w", err)
	}
	if len(brokers) == 0 {
		return errors.New("list brokers: none registered yet")
	}
	if err := adm.FindGroupCoordinators(ctx, readyProbeID).Error(); err != nil {
		return fmt.Errorf("find group coordinator: %w", err)
	}
	req := kmsg.NewPtrInitProducerIDRequest()
	req.TransactionalID = kmsg.StringPtr(readyProbeID)
	req.TransactionTimeoutMillis = 60_000
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return fmt.Errorf("init transactional producer ID: %w", err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return fmt.Errorf("init transactional producer ID: %w", err)
	}
	return nil
}
