package stream

import (
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Options configure a Runner. Zero values take the documented defaults.
type Options struct {
	// Kafka are the connection options (seed brokers, TLS, SASL), e.g. from
	// kafkaconn.Config.ClientOpts. Required.
	Kafka []kgo.Opt
	// StateDir holds one Pebble store per owned partition under
	// StateDir/<group>/<partition>, and the global tables. Required.
	StateDir string
	// InstanceID names this instance stably across restarts (a pod name).
	// It makes the transactional ID, so a restarted instance fences its
	// previous incarnation. Required.
	InstanceID string
	// Clock is the wall clock timers are compared with. Default time.Now.
	Clock func() time.Time
	// MaxPollRecords bounds the records processed per transaction.
	// Default 5000.
	MaxPollRecords int
	// MaxTimersPerPartition bounds the timers fired per partition per
	// transaction, so a burst of due timers cannot starve input. Default 500.
	MaxTimersPerPartition int
	// BlockCacheBytes is the Pebble block cache shared by all the
	// runner's stores (partitions and global tables): the working set of
	// state that point reads find in memory. Default 64 MiB.
	BlockCacheBytes int64
	// RepollWait is how long the loop polls a second time for records
	// that arrived meanwhile after a poll that waited for its records,
	// before it processes what the first poll returned. Default 3ms.
	RepollWait time.Duration
	// RepollMaxWait is how long the loop polls a second time, while
	// records are flowing (the last loop took more than one), after a
	// poll that found its records already buffered (fetched while the last
	// transaction ran): the records that arrived during the transaction
	// are one fetch round trip away, and the poll returns as soon as they
	// come. Default 25ms.
	RepollMaxWait time.Duration
	// StateCacheBytes bounds, per owned partition, an in-memory cache of
	// committed state and table rows (absent keys included) in front of
	// Pebble, so reads of recently active keys skip the store. 0 takes the
	// default of 4 MiB; negative disables the cache.
	StateCacheBytes int
	// FetchMaxBytes bounds one fetch of the processing consumer (kgo.
	// FetchMaxBytes), and so the input it holds in memory ahead of
	// processing: franz-go keeps a fetch response decompressed, as
	// records, until polls have taken all of it, and a fetch of a backlog
	// fills to this bound (the client's default of 50 MiB held ~150 MiB of
	// heap with a backlog of small events). A fetch still returns at least
	// one batch, whatever its size. 0 takes the default of 1 MiB (about
	// 10,000 events of 300 bytes compressed 3x, twice MaxPollRecords; the
	// fetch being processed and the one buffered behind it then hold ~25
	// MiB of heap); negative leaves franz-go's default. A kgo.FetchMaxBytes in Kafka overrides
	// it.
	FetchMaxBytes int32
	// PollWait is how long a poll waits for records before the loop checks
	// timers. It bounds timer lateness when input is idle. Default 100ms.
	PollWait time.Duration
	// TransactionTimeout is the broker-side limit of a transaction: how long
	// a crashed instance's open transaction blocks its partitions'
	// read_committed readers before the broker aborts it. Default 10s.
	TransactionTimeout time.Duration
	// RetryBackoff is the wait after a retryable error or a failed commit.
	// Default 500ms.
	RetryBackoff time.Duration
	// ProducerBatchMaxBytes is the largest record batch, before
	// compression, the producer writes, and so the largest record: an
	// output or a changelog record over it is a permanent error of the
	// message that made it (dead-lettered), and a dead letter is cut to
	// fit it. The topics written must accept batches of this size
	// (max.message.bytes; TopicMaxMessageBytes). Default
	// DefaultProducerBatchMaxBytes.
	ProducerBatchMaxBytes int
	// MaxRetryBackoff caps the exponential backoff of a partition whose
	// processing keeps failing transiently; the first wait is
	// RetryBackoff. Default 30s.
	MaxRetryBackoff time.Duration
	// UnhealthyAfter is how long a partition may keep failing to restore,
	// or the processing loop may go without finishing an iteration, before
	// Health reports the runner unhealthy (a liveness probe then restarts
	// the process). Default 2m.
	UnhealthyAfter time.Duration
	// StayInGroupOnShutdown keeps this instance's static group membership
	// when Run returns, so a restart within the session timeout (a rolling
	// update) gets the same partitions back without a rebalance and without
	// restoring. By default a graceful shutdown leaves the group and its
	// partitions move to the other instances at once (a scale-down).
	StayInGroupOnShutdown bool
	// GroupUserData is carried in this instance's consumer group member
	// metadata (ConsumerMemberMetadata.UserData), where anyone who
	// describes the group reads it with the member's assignment: the
	// address this instance answers interactive queries on, as Kafka
	// Streams' application.server. Changing it takes a rebalance. Default
	// none.
	GroupUserData []byte
	// Metrics receives the runtime's measurements. Default: none.
	Metrics Metrics
	// Logger receives the runtime's logs. Default: slog.Default().
	Logger *slog.Logger
}

func (o *Options) defaults() {
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.MaxPollRecords == 0 {
		o.MaxPollRecords = 5000
	}
	if o.BlockCacheBytes == 0 {
		o.BlockCacheBytes = 64 << 20
	}
	if o.RepollWait == 0 {
		o.RepollWait = 3 * time.Millisecond
	}
	if o.RepollMaxWait == 0 {
		o.RepollMaxWait = 25 * time.Millisecond
	}
	if o.StateCacheBytes == 0 {
		o.StateCacheBytes = 4 << 20
	}
	if o.MaxTimersPerPartition == 0 {
		o.MaxTimersPerPartition = 500
	}
	if o.FetchMaxBytes == 0 {
		o.FetchMaxBytes = 1 << 20
	}
	if o.FetchMaxBytes > 0 && len(o.Kafka) > 0 {
		// First, so the caller's own options win; the restore's client
		// sets its own, larger bound after these.
		o.Kafka = append([]kgo.Opt{kgo.FetchMaxBytes(o.FetchMaxBytes)}, o.Kafka...)
	}
	if o.PollWait == 0 {
		o.PollWait = 100 * time.Millisecond
	}
	if o.TransactionTimeout == 0 {
		o.TransactionTimeout = 10 * time.Second
	}
	if o.RetryBackoff == 0 {
		o.RetryBackoff = 500 * time.Millisecond
	}
	if o.ProducerBatchMaxBytes == 0 {
		o.ProducerBatchMaxBytes = DefaultProducerBatchMaxBytes
	}
	if o.MaxRetryBackoff == 0 {
		o.MaxRetryBackoff = 30 * time.Second
	}
	if o.UnhealthyAfter == 0 {
		o.UnhealthyAfter = 2 * time.Minute
	}
	if o.Metrics == nil {
		o.Metrics = NopMetrics{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}
