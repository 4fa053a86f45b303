package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Runner runs a Group: one instance of a horizontally scaled processor.
type Runner struct {
	g   *Group
	o   Options
	log *slog.Logger

	sess    *kgo.GroupTransactSession
	cache   *pebble.Cache // the block cache of all this runner's stores
	admCl   *kgo.Client
	adm     *kadm.Client
	globals *globalTables

	mu      sync.Mutex // guards parts between the loop, callbacks and restores
	parts   map[int32]*partitionState
	running atomic.Bool
	// counts are the partition counts of the inputs and tables, for
	// CheckPartitioning.
	countsMu sync.RWMutex
	counts   map[string]int32
	// joined is set once the group gave this instance an assignment, so
	// readiness is not claimed before the first rebalance.
	joined atomic.Bool
	// backlog is set by the loop when a transaction fired as many timers
	// as it may for some partition: more are probably due.
	backlog bool
	// rejected remembers, between attempts, the messages whose outputs the
	// broker refused (confine.go). The loop's alone.
	rejected map[string]rejection
	// loopAt is when the processing loop last began an iteration (unix
	// nanoseconds), stopped why Run returned: for Health.
	loopAt  atomic.Int64
	stopped atomic.Pointer[stopCause]
	// polling is when the loop's last poll began (TxnTiming.Poll);
	// lastPolled how many records it returned. The loop's alone.
	polling    time.Time
	lastPolled int
}

type stopCause struct{ err error }

// New checks the options and returns a Runner for g.
func New(g *Group, o Options) (*Runner, error) {
	o.defaults()
	var errs []error
	if g == nil {
		errs = append(errs, errors.New("nil group"))
	}
	if len(o.Kafka) == 0 {
		errs = append(errs, errors.New("Options.Kafka: no connection options"))
	}
	if o.StateDir == "" {
		errs = append(errs, errors.New("Options.StateDir: not set"))
	}
	if o.InstanceID == "" {
		errs = append(errs, errors.New("Options.InstanceID: not set"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("stream runner: %w", err)
	}
	return &Runner{g: g, o: o, log: o.Logger.With("group", g.name, "instance", o.InstanceID), parts: map[int32]*partitionState{}, rejected: map[string]rejection{}}, nil
}

// Ready reports whether the runner is running, has joined its group and
// every partition it owns (and every global table) is restored: a
// readiness probe.
func (r *Runner) Ready() bool {
	if !r.running.Load() || !r.joined.Load() || (r.globals != nil && !r.globals.ready.Load()) {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.parts {
		if !p.ready.Load() {
			return false
		}
	}
	return true
}

// Health reports whether the runner is alive and can make progress: a
// liveness probe. It is an error once Run has returned, when the
// processing loop has not turned over for UnhealthyAfter beyond the
// transaction timeout, or when a partition's restore has kept failing
// for UnhealthyAfter (a restart is the remedy left). A partition that is
// restoring normally, or paused after a transient failure, is healthy:
// readiness (Ready) and the logs say so.
func (r *Runner) Health() error {
	if s := r.stopped.Load(); s != nil {
		if s.err != nil {
			return fmt.Errorf("stream runner stopped: %w", s.err)
		}
		return errors.New("stream runner stopped")
	}
	if !r.running.Load() {
		return nil // starting
	}
	if since := time.Since(time.Unix(0, r.loopAt.Load())); since > r.o.UnhealthyAfter+r.o.TransactionTimeout+10*time.Second {
		return fmt.Errorf("stream runner: processing loop stalled for %v", since.Round(time.Second))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var errs []error
	for id, p := range r.parts {
		p.healthMu.Lock()
		if !p.restoreFailing.IsZero() && time.Since(p.restoreFailing) > r.o.UnhealthyAfter {
			errs = append(errs, fmt.Errorf("partition %d: restore failing for %v: %w", id, time.Since(p.restoreFailing).Round(time.Second), p.restoreErr))
		}
		p.healthMu.Unlock()
	}
	return errors.Join(errs...)
}

// Partitions returns the partition numbers this runner owns and has
// restored, in order.
func (r *Runner) Partitions() []int32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []int32
	for id, p := range r.parts {
		if p.ready.Load() {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// Run processes until ctx is cancelled, then finishes the transaction in
// flight, leaves the group and closes the stores. It returns nil after a
// cancellation, or the error that stopped it.
func (r *Runner) Run(ctx context.Context) (err error) {
	admCl, err := kgo.NewClient(r.o.Kafka...)
	if err != nil {
		return fmt.Errorf("stream runner: admin client: %w", err)
	}
	r.admCl, r.adm = admCl, kadm.NewClient(admCl)
	defer admCl.Close()
	r.cache = pebble.NewCache(r.o.BlockCacheBytes)
	defer r.cache.Unref()

	if len(r.g.globals) > 0 {
		r.globals, err = openGlobals(r, r.g.globals)
		if err != nil {
			return err
		}
		defer r.globals.close()
		if err := r.globals.restore(ctx); err != nil {
			return err
		}
		r.globals.startFollow(ctx)
	}

	// A produce that meets CONCURRENT_TRANSACTIONS right after EndTxn is
	// retried only after a metadata refresh, and refreshes are at least
	// MetadataMinAge apart (5s by default): multi-second stalls. A short
	// age comes first so callers can still override it.
	kopts := append([]kgo.Opt{kgo.MetadataMinAge(250 * time.Millisecond)}, r.o.Kafka...)
	sess, err := kgo.NewGroupTransactSession(append(kopts,
		kgo.ConsumerGroup(r.g.name),
		// Static membership: a restarted instance takes its place back
		// without a rebalance, so its partitions and stores stay put.
		kgo.InstanceID(r.o.InstanceID),
		kgo.ConsumeTopics(r.g.consumed()...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.TransactionalID(r.g.name+"-"+r.o.InstanceID),
		kgo.TransactionTimeout(r.o.TransactionTimeout),
		// A transaction produces its outputs and changelog records before
		// it flushes: room for them without blocking the processors.
		kgo.MaxBufferedRecords(100_000),
		// One limit for every record the runner writes, checked before
		// produce (see checkOutputs and deadLetter); topics accept it
		// (TopicMaxMessageBytes).
		kgo.ProducerBatchMaxBytes(int32(r.o.ProducerBatchMaxBytes)),
		kgo.MaxBufferedBytes(max(defaultMaxBufferedBytes, 4*r.o.ProducerBatchMaxBytes)),
		// A partition resumed after its restore joins the fetch only when
		// the fetch in flight returns: bound the broker's wait (the Java
		// client's default) so a late restore starts promptly.
		kgo.FetchMaxWait(500*time.Millisecond),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.RequireStableFetchOffsets(),
		kgo.Balancers(coPartitionedBalancerWith(r.o.GroupUserData)),
		kgo.BlockRebalanceOnPoll(),
		kgo.DisableAutoCommit(),
		kgo.RecordPartitioner(changelogPartitioner{changelog: r.g.changelog, def: kgo.StickyKeyPartitioner(nil)}),
		kgo.OnPartitionsAssigned(r.onAssigned),
		kgo.OnPartitionsRevoked(r.onRevoked),
		kgo.OnPartitionsLost(r.onRevoked),
	)...)
	if err != nil {
		return fmt.Errorf("stream runner: %w", err)
	}
	r.sess = sess
	r.loopAt.Store(time.Now().UnixNano())
	r.running.Store(true)
	defer func() {
		r.stopped.Store(&stopCause{err})
		r.running.Store(false)
		sess.Close() // onRevoked closes the stores
		r.closeAll()
		r.leave()
	}()

	r.log.Info("stream runner started", "inputs", r.g.inputs, "tables", r.g.tables, "globals", r.g.globals)
	for ctx.Err() == nil {
		r.loopAt.Store(time.Now().UnixNano())
		// With timers still due (the last transaction hit its bound), poll
		// without waiting: idle input must not slow a timer backlog down.
		wait := r.o.PollWait
		if r.backlog {
			wait = time.Millisecond
		}
		r.polling = time.Now()
		fetches := r.poll(ctx, wait)
		if fetches.IsClientClosed() {
			return nil
		}
		fetches.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				r.log.Warn("fetch error", "topic", t, "partition", p, "err", err)
			}
		})
		err := r.iterate(fetches)
		sess.AllowRebalance()
		if err != nil {
			var fatal *fatalError
			if errors.As(err, &fatal) {
				return err
			}
			if errors.Is(err, errConfined) {
				continue
			}
			r.log.Warn("transaction aborted", "err", err)
			sleep(ctx, r.o.RetryBackoff)
		}
	}
	return nil
}

// poll returns the records to process next. franz-go buffers one fetch
// per broker and sends the next fetch only once that one is polled, so a
// poll right after a transaction returns at once what arrived up to the
// fetch made while the transaction began; records that arrived since are
// one fetch away. Polling again takes them too. When records are flowing
// (the last loop took more than one) and this poll found its records
// already buffered, it waits up to RepollMaxWait: the fetch returns as
// soon as the broker has a record, after one round trip, so a record that
// arrived during the transaction does not wait a whole further loop.
// Otherwise, after a poll that waited for its records (fresh ones) or with
// records arriving one at a time, it waits only RepollWait.
func (r *Runner) poll(ctx context.Context, wait time.Duration) kgo.Fetches {
	began := time.Now()
	pollCtx, cancel := context.WithTimeout(ctx, wait)
	fetches := r.sess.PollRecords(pollCtx, r.o.MaxPollRecords)
	cancel()
	n := fetches.NumRecords()
	flowing := r.lastPolled > 1
	r.lastPolled = n
	if n == 0 || n >= r.o.MaxPollRecords || fetches.IsClientClosed() {
		return fetches
	}
	repoll := r.o.RepollWait
	if flowing && time.Since(began) < bufferedPoll {
		repoll = max(repoll, r.o.RepollMaxWait)
	}
	pollCtx, cancel = context.WithTimeout(ctx, repoll)
	defer cancel()
	more := r.sess.PollRecords(pollCtx, r.o.MaxPollRecords-n)
	if more.IsClientClosed() {
		return more
	}
	r.lastPolled += more.NumRecords()
	return append(fetches, more...)
}

// bufferedPoll is how quickly a poll that found its records already
// buffered returns; one that took longer waited for a fetch.
const bufferedPoll = time.Millisecond

// fatalError stops the runner: the transactional producer is unusable.
type fatalError struct{ err error }

func (f *fatalError) Error() string { return "stream runner: " + f.err.Error() }
func (f *fatalError) Unwrap() error { return f.err }

var errNotReady = errors.New("record of a partition that is not restored")

// iterate runs one transaction: the polled records, then the due timers of
// every ready partition.
func (r *Runner) iterate(fetches kgo.Fetches) error {
	now := r.o.Clock()
	records := fetches.Records()
	r.reportLag(fetches)

	r.mu.Lock()
	ready := make([]*partitionState, 0, len(r.parts))
	for _, p := range r.parts {
		if p.ready.Load() {
			ready = append(ready, p)
		}
	}
	r.mu.Unlock()
	sort.Slice(ready, func(i, j int) bool { return ready[i].id < ready[j].id })
	ready = r.resumeDue(ready)

	r.backlog = false
	if len(records) == 0 && !anyDue(ready, now) && !r.globalDeadLettersDue(ready) {
		return nil
	}
	begun := time.Now()
	if err := r.sess.Begin(); err != nil {
		return &fatalError{fmt.Errorf("begin transaction: %w", err)}
	}
	t := &txn{r: r, now: now, works: map[int32]*partitionWork{}}
	t.timing.Poll = begun.Sub(r.polling)
	err := t.run(records, ready)
	t.timing.Process = time.Since(begun)
	r.backlog = t.backlog.Load()
	if err != nil {
		t.abort(err)
	} else {
		err = t.commit(begun)
	}
	if err != nil {
		t.report(false)
		return r.confine(t, err)
	}
	r.settled(t)
	return nil
}

// anyDue reports whether a ready partition has a due timer, without
// starting a transaction.
func anyDue(ready []*partitionState, now time.Time) bool {
	for _, p := range ready {
		if p.hasDue(now) {
			return true
		}
	}
	return false
}

func (r *Runner) reportLag(fetches kgo.Fetches) {
	fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
		if n := len(fp.Records); n > 0 {
			r.o.Metrics.Lag(fp.Topic, fp.Partition, fp.HighWatermark-fp.Records[n-1].Offset-1)
		}
	})
}

// leave removes this instance's static membership so its partitions are
// reassigned now rather than after the session timeout.
func (r *Runner) leave() {
	if r.o.StayInGroupOnShutdown {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := r.adm.LeaveGroup(ctx, kadm.LeaveGroup(r.g.name).InstanceIDs(r.o.InstanceID).Reason("shutdown"))
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		r.log.Warn("leave group", "err", err)
	}
}

func (r *Runner) closeAll() {
	r.mu.Lock()
	parts := r.parts
	r.parts = map[int32]*partitionState{}
	r.mu.Unlock()
	for _, p := range parts {
		r.release(p)
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// changelogPartitioner sends changelog records to the partition the runtime
// sets (the store's), and everything else by key like Kafka's default
// partitioner.
type changelogPartitioner struct {
	changelog string
	def       kgo.Partitioner
}

func (p changelogPartitioner) ForTopic(topic string) kgo.TopicPartitioner {
	if topic == p.changelog {
		return kgo.ManualPartitioner().ForTopic(topic)
	}
	return p.def.ForTopic(topic)
}
