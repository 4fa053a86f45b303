package webhook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/pkg/stream"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/trace"
)

// Sender delivers the commands of the send.webhook topic. Run it once per
// process; run as many processes as the topic has partitions at most.
type Sender struct {
	cfg   Config
	log   *slog.Logger
	slots chan struct{} // a token per request in flight
	// tracer makes delivery spans; nil when tracing is off.
	tracer trace.Tracer

	live liveness // Health and Ready

	mu      sync.Mutex
	workers map[int32]*partition
	stop    context.CancelCauseFunc // ends Run with a worker's error
}

// New checks cfg and returns a Sender.
func New(cfg Config) (*Sender, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	var tracer trace.Tracer
	if cfg.Tracing.Enabled() {
		tracer = cfg.Tracing.Tracer("github.com/beckon-dev/beckon/pkg/webhook")
		cfg.Kafka = append(slices.Clone(cfg.Kafka), cfg.Tracing.KafkaHooks(cfg.Group, nil)...)
	}
	return &Sender{
		tracer:  tracer,
		cfg:     cfg,
		log:     cfg.Logger.With("component", "webhook-sender"),
		slots:   make(chan struct{}, cfg.Concurrency),
		workers: map[int32]*partition{},
	}, nil
}

// Run consumes and delivers until ctx ends, then stops the partitions
// (abandoning sends still in flight, which stay uncommitted and are sent
// again by the next owner), and leaves the group. It returns nil after a
// cancellation, or the error that stopped it.
func (s *Sender) Run(parent context.Context) error {
	ctx, stop := context.WithCancelCause(parent)
	defer stop(nil)
	s.stop = stop
	opts := append([]kgo.Opt{}, s.cfg.Kafka...)
	opts = append(opts,
		kgo.ConsumerGroup(s.cfg.Group),
		kgo.ConsumeTopics(s.cfg.Commands),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.OnPartitionsAssigned(func(_ context.Context, cl *kgo.Client, assigned map[string][]int32) {
			s.assign(ctx, cl, assigned[s.cfg.Commands])
		}),
		kgo.OnPartitionsRevoked(func(_ context.Context, cl *kgo.Client, revoked map[string][]int32) {
			s.revoke(cl, revoked[s.cfg.Commands])
		}),
		kgo.OnPartitionsLost(func(_ context.Context, cl *kgo.Client, lost map[string][]int32) {
			s.revoke(cl, lost[s.cfg.Commands])
		}),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("webhook: kafka client: %w", err)
	}
	s.log.Info("webhook sender starting", "topic", s.cfg.Commands, "group", s.cfg.Group, "url", loggedURL(s.cfg.URL))
	s.started()
	defer s.stopped()
	s.poll(ctx, cl)
	s.revoke(cl, s.owned())
	cl.Close() // leaves the group; nothing is left to commit
	if parent.Err() == nil {
		err := context.Cause(ctx)
		s.log.Error("webhook sender failed", "err", err)
		return err
	}
	s.log.Info("webhook sender stopped")
	return nil
}

// poll hands fetched commands to their partition's worker until ctx ends
// (a worker that fails ends it too).
func (s *Sender) poll(ctx context.Context, cl *kgo.Client) {
	for {
		s.beat()
		pctx, cancel := context.WithTimeout(ctx, pollTick)
		fs := cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil || fs.IsClientClosed() {
			return
		}
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				s.log.Error("fetch", "topic", t, "partition", p, "err", err)
			}
		})
		fs.EachPartition(func(ftp kgo.FetchTopicPartition) {
			if len(ftp.Records) == 0 {
				return
			}
			s.mu.Lock()
			w := s.workers[ftp.Partition]
			s.mu.Unlock()
			if w == nil {
				return // revoked since the fetch; the next owner reads these
			}
			if w.push(ftp.Records) >= partitionBacklog {
				cl.PauseFetchPartitions(map[string][]int32{s.cfg.Commands: {ftp.Partition}})
			}
		})
	}
}

func (s *Sender) owned() []int32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	ps := make([]int32, 0, len(s.workers))
	for p := range s.workers {
		ps = append(ps, p)
	}
	return ps
}

// assign starts a worker per newly assigned partition.
func (s *Sender) assign(ctx context.Context, cl *kgo.Client, ps []int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range ps {
		if s.workers[p] != nil {
			continue
		}
		wctx, cancel := context.WithCancel(ctx)
		w := &partition{s: s, cl: cl, p: p, cancel: cancel, wake: make(chan struct{}, 1), done: make(chan struct{})}
		s.workers[p] = w
		go w.run(wctx)
	}
	s.log.Info("partitions assigned", "partitions", ps)
}

// revoke stops the workers of ps and waits for them. Each worker has
// committed every command it finished, so nothing else needs committing;
// a send in flight is abandoned, uncommitted, for the next owner.
func (s *Sender) revoke(cl *kgo.Client, ps []int32) {
	s.mu.Lock()
	var stopping []*partition
	for _, p := range ps {
		if w := s.workers[p]; w != nil {
			delete(s.workers, p)
			w.cancel()
			stopping = append(stopping, w)
		}
	}
	s.mu.Unlock()
	for _, w := range stopping {
		<-w.done
	}
	if len(ps) > 0 {
		// A partition paused for its backlog must fetch again if it comes back.
		cl.ResumeFetchPartitions(map[string][]int32{s.cfg.Commands: ps})
		s.log.Info("partitions released", "partitions", ps)
	}
}

// partition delivers the commands of one partition in order.
type partition struct {
	s      *Sender
	cl     *kgo.Client
	p      int32
	cancel context.CancelFunc
	wake   chan struct{}
	done   chan struct{}

	mu      sync.Mutex
	backlog []*kgo.Record
}

// push queues records and returns the backlog's length.
func (w *partition) push(rs []*kgo.Record) int {
	w.mu.Lock()
	w.backlog = append(w.backlog, rs...)
	n := len(w.backlog)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
	return n
}

// next takes the oldest queued record, resuming fetching when the backlog
// has drained to half.
func (w *partition) next(ctx context.Context) (*kgo.Record, bool) {
	for {
		w.mu.Lock()
		if n := len(w.backlog); n > 0 {
			r := w.backlog[0]
			w.backlog[0] = nil
			w.backlog = w.backlog[1:]
			w.mu.Unlock()
			if n == partitionBacklog/2 {
				w.cl.ResumeFetchPartitions(map[string][]int32{w.s.cfg.Commands: {w.p}})
			}
			return r, true
		}
		w.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, false
		case <-w.wake:
		}
	}
}

func (w *partition) run(ctx context.Context) {
	defer close(w.done)
	for {
		r, ok := w.next(ctx)
		if !ok {
			return
		}
		if err := w.s.handle(ctx, w.cl, r); err != nil {
			if ctx.Err() == nil {
				w.s.stop(fmt.Errorf("webhook: partition %d offset %d: %w", w.p, r.Offset, err))
			}
			return
		}
	}
}

// handle delivers one command, produces its receipt and commits its
// offset, in that order. It returns an error, leaving the offset
// uncommitted, when ctx ends first or the receipt cannot be produced.
func (s *Sender) handle(ctx context.Context, cl *kgo.Client, r *kgo.Record) error {
	if r.Value == nil {
		// A tombstone: the engine forgot the user (docs/forget.md).
		// There is nothing to deliver, and the sender keeps nothing of
		// the user to delete.
		return s.commit(ctx, cl, r)
	}
	var cmd records.SendCommand
	if err := s.cfg.Codec.Decode(ctx, r.Value, &cmd); err != nil {
		// Without a user ID there is nobody to send a receipt about: the
		// record goes to the dead-letter topic, with why and from where.
		s.log.Error("undecodable send command dead-lettered", "partition", r.Partition, "offset", r.Offset, "err", err)
		if s.cfg.DeadLetter != "" {
			dl := &kgo.Record{Topic: s.cfg.DeadLetter, Key: r.Key, Value: r.Value, Headers: append(slices.Clone(r.Headers),
				kgo.RecordHeader{Key: stream.HeaderDLQReason, Value: []byte("decode send command: " + err.Error())},
				kgo.RecordHeader{Key: stream.HeaderDLQTopic, Value: []byte(r.Topic)},
				kgo.RecordHeader{Key: stream.HeaderDLQPartition, Value: strconv.AppendInt(nil, int64(r.Partition), 10)},
				kgo.RecordHeader{Key: stream.HeaderDLQOffset, Value: strconv.AppendInt(nil, r.Offset, 10)},
				kgo.RecordHeader{Key: stream.HeaderDLQGroup, Value: []byte(s.cfg.Group)},
			)}
			if err := cl.ProduceSync(ctx, dl).FirstErr(); err != nil {
				return fmt.Errorf("dead-letter partition %d offset %d: %w", r.Partition, r.Offset, err)
			}
		}
		return s.commit(ctx, cl, r)
	}
	tp := header(r, HeaderTraceParent)
	if tp == "" {
		tp = cmd.TraceParent
	}
	log := s.log.With("command_id", cmd.CommandID, "user_id", cmd.UserID)
	if traceID, spanID := traceContext(tp); traceID != "" {
		log = log.With("trace_id", traceID, "span_id", spanID)
	}
	dctx, span, tp := s.startDelivery(ctx, cmd, tp)
	out, err := s.deliver(dctx, cmd, tp)
	endDelivery(span, out, err)
	if err != nil {
		log.Info("send abandoned; it stays uncommitted", "err", err)
		return err
	}
	// The outcome is final: record it even if a shutdown began meanwhile.
	octx, cancel := context.WithTimeout(context.WithoutCancel(ctx), outcomeTimeout)
	defer cancel()
	rec, err := s.receipt(octx, cmd, out, tp)
	if err != nil {
		return err
	}
	if err := cl.ProduceSync(octx, rec).FirstErr(); err != nil {
		return fmt.Errorf("produce receipt of command %s: %w", cmd.CommandID, err)
	}
	s.observe(out)
	if out.status == records.ReceiptDelivered {
		log.Info("webhook delivered", "attempts", out.attempts, "http_status", out.code)
	} else {
		log.Warn("webhook failed", "attempts", out.attempts, "reason", out.reason)
	}
	cctx, cancelCommit := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	defer cancelCommit()
	return s.commit(cctx, cl, r)
}

// commit commits r's offset. A failed commit (typically a rebalance) is
// logged, not fatal: the next commit covers it, or the next owner sends
// the command again, which the Idempotency-Key makes harmless.
func (s *Sender) commit(ctx context.Context, cl *kgo.Client, r *kgo.Record) error {
	if err := cl.CommitRecords(ctx, r); err != nil {
		s.log.Warn("commit", "partition", r.Partition, "offset", r.Offset, "err", err)
	}
	return nil
}

// ReceiptID returns the ID of the receipt reporting status for a command:
// derived from the command ID alone, so a re-delivered command yields the
// same receipt ID and readers can de-duplicate.
func ReceiptID(commandID string, status records.ReceiptStatus) string {
	return commandID + "/" + string(status)
}

func (s *Sender) receipt(ctx context.Context, cmd records.SendCommand, out outcome, traceparent string) (*kgo.Record, error) {
	attrs := map[string]any{"attempts": out.attempts}
	if out.code != 0 {
		attrs["http_status"] = out.code
	}
	j, err := records.NewJSON(attrs)
	if err != nil {
		return nil, err
	}
	rc := records.Receipt{
		ReceiptID:     ReceiptID(cmd.CommandID, out.status),
		CommandID:     cmd.CommandID,
		UserID:        cmd.UserID,
		Channel:       cmd.Channel,
		Status:        out.status,
		FailureReason: out.reason,
		OccurredAt:    out.at,
		Attributes:    j,
	}
	v, err := s.cfg.Codec.Encode(ctx, s.cfg.Receipts, rc)
	if err != nil {
		return nil, fmt.Errorf("encode receipt of command %s: %w", cmd.CommandID, err)
	}
	rec := &kgo.Record{Topic: s.cfg.Receipts, Key: []byte(rc.Key()), Value: v}
	if traceparent != "" {
		rec.Headers = []kgo.RecordHeader{{Key: HeaderTraceParent, Value: []byte(traceparent)}}
	}
	return rec, nil
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if strings.EqualFold(h.Key, key) {
			return string(h.Value)
		}
	}
	return ""
}

// traceContext splits a W3C traceparent into its trace and span IDs for
// logs; empty when malformed.
func traceContext(tp string) (traceID, spanID string) {
	parts := strings.Split(tp, "-")
	if len(parts) != 4 || len(parts[1]) != 32 || len(parts[2]) != 16 {
		return "", ""
	}
	return parts[1], parts[2]
}
