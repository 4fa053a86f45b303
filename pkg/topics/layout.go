package topics

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"time"
)

// Built-in channels: one send.<channel> topic each.
var Channels = []string{"email", "sms", "push", "whatsapp", "inapp", "webhook"}

// Defaults used when Options leaves a field zero.
const (
	DefaultPartitions        int32 = 12
	DefaultReplicationFactor int16 = 3
	DefaultStore                   = "engine"
	// JourneyMetricsStore is the state store of the journey metrics
	// processor (pkg/journeymetrics); its changelog is declared with the
	// engine's.
	JourneyMetricsStore = "journey-metrics"
	// TimelineStore is the state store of the timeline processor
	// (pkg/timeline); its changelog is declared with the others.
	TimelineStore = "timelines"
)

// MaxMessageBytes is every topic's max.message.bytes (Kafka's default,
// stated so a cluster whose default is lower cannot drift under Beckon):
// above the engine's producer limit (stream.DefaultProducerBatchMaxBytes),
// so a batch the engine builds is never refused, dead letters included.
// A record a producer compressed can still be accepted here at many times
// this size uncompressed; the engine's dead letter keeps a prefix of it.
const MaxMessageBytes = 1_048_588

// Retention of the delete-policy topics.
const (
	eventRetention    = 7 * 24 * time.Hour
	sendRetention     = 7 * 24 * time.Hour
	activityRetention = 30 * 24 * time.Hour
	handoffRetention  = 14 * 24 * time.Hour
	dlqRetention      = 30 * 24 * time.Hour
	// A forget request names the user it erases, so it expires like the
	// events: the engine reads it within seconds, and a week covers an
	// engine that was down for days.
	forgetRetention = 7 * 24 * time.Hour
)

// EraseLag is min.compaction.lag.ms of the user-keyed topics the engine
// writes (activity, handoff, send.<channel>): a record stays readable,
// whatever follows it, for at least this long, and a forgotten user's
// records are erased by compaction (docs/forget.md) some time after it.
// Consumers that fall further behind than this may miss records
// superseded by a later record of the same user.
const EraseLag = 24 * time.Hour

// Options size and name a deployment's topics.
type Options struct {
	// Prefix is prepended to every topic name.
	Prefix string
	// Partitions of every user-keyed topic. They are co-partitioned, so
	// this is also the engine's unit of parallelism. Default 12.
	Partitions int32
	// ReplicationFactor of every topic. Default 3; 1 for a single broker.
	ReplicationFactor int16
	// Channels are custom channels beyond the built-in ones.
	Channels []string
	// Facts names the facts.<name> tables (warehouse-derived, per user).
	Facts []string
	// Lookups names the lookups.<name> tables (entities by their own ID).
	Lookups []string
	// Stores names the state stores; each has a changelog.<store> topic.
	// Default {"engine"}.
	Stores []string
}

// Spec declares one topic.
type Spec struct {
	// Name is the full topic name, prefix included.
	Name string
	// Base is the name without the prefix ("events", "send.email").
	Base string
	// Partitions and ReplicationFactor of the topic.
	Partitions        int32
	ReplicationFactor int16
	// Configs are the topic configs Beckon relies on.
	Configs map[string]string
	// CoPartitioned topics are keyed by user ID and must all have the same
	// partition count: partition p of each is owned by one engine instance.
	CoPartitioned bool
	// Purpose says what the topic carries, for people reading check output.
	Purpose string
}

// Layout is every topic of one deployment.
type Layout struct {
	Prefix string
	Specs  []Spec
}

// Spec returns the declaration of a topic by its base name.
func (l Layout) Spec(base string) (Spec, bool) {
	i := slices.IndexFunc(l.Specs, func(s Spec) bool { return s.Base == base })
	if i < 0 {
		return Spec{}, false
	}
	return l.Specs[i], true
}

// Names returns the full names of every topic.
func (l Layout) Names() []string {
	out := make([]string, len(l.Specs))
	for i, s := range l.Specs {
		out[i] = s.Name
	}
	return out
}

// validName is what a channel, fact, lookup or store name may contain so
// the topic name stays valid and readable.
var validName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// Declare returns the layout for opts: the one declaration of Beckon's
// topics.
func Declare(opts Options) (Layout, error) {
	if opts.Partitions == 0 {
		opts.Partitions = DefaultPartitions
	}
	if opts.ReplicationFactor == 0 {
		opts.ReplicationFactor = DefaultReplicationFactor
	}
	if len(opts.Stores) == 0 {
		opts.Stores = []string{DefaultStore}
	}
	if opts.Partitions < 1 || opts.ReplicationFactor < 1 {
		return Layout{}, fmt.Errorf("topics: partitions (%d) and replication factor (%d) must be at least 1", opts.Partitions, opts.ReplicationFactor)
	}
	for kind, names := range map[string][]string{"channel": opts.Channels, "facts table": opts.Facts, "lookups table": opts.Lookups, "store": opts.Stores} {
		for _, n := range names {
			if !validName.MatchString(n) {
				return Layout{}, fmt.Errorf("topics: %s name %q: want lower-case letters, digits, '_' or '-', at most 64", kind, n)
			}
		}
	}

	l := Layout{Prefix: opts.Prefix}
	add := func(base string, parts int32, cop bool, cfg map[string]string, purpose string) {
		for _, s := range l.Specs {
			if s.Base == base {
				return // a custom channel that repeats a built-in one
			}
		}
		cfg["min.insync.replicas"] = strconv.Itoa(minISR(opts.ReplicationFactor))
		cfg["max.message.bytes"] = strconv.Itoa(MaxMessageBytes)
		l.Specs = append(l.Specs, Spec{
			Name:              opts.Prefix + base,
			Base:              base,
			Partitions:        parts,
			ReplicationFactor: opts.ReplicationFactor,
			Configs:           cfg,
			CoPartitioned:     cop,
			Purpose:           purpose,
		})
	}
	p := opts.Partitions
	add("events", p, true, deleteAfter(eventRetention), "behavioural events (track/identify/page), keyed by user ID")
	add("receipts", p, true, deleteAfter(eventRetention), "channel feedback: sent, delivered, failed, opened, clicked, replied, unsubscribed")
	add("forget", p, true, deleteAfter(forgetRetention), "requests to forget a user, keyed by user ID (docs/forget.md)")
	add("profiles", p, true, compacted(), "user traits, addresses, time zone, locale, consent; a table keyed by user ID")
	for _, f := range opts.Facts {
		add("facts."+f, p, true, compacted(), "warehouse-derived per-user facts: "+f)
	}
	for _, s := range opts.Stores {
		add("changelog."+s, p, true, compacted(), "changelog of the "+s+" state store; Pebble is its cache")
	}
	add("changelog."+JourneyMetricsStore, p, true, compacted(), "changelog of the journey metrics processor's partial counts")
	add("changelog."+TimelineStore, p, true, compacted(), "changelog of the timeline processor's instance timelines")
	for _, lk := range opts.Lookups {
		add("lookups."+lk, p, false, compacted(), "warehouse entities keyed by their own ID, replicated to every engine: "+lk)
	}
	add("journeys", 1, false, compacted(), "journey definitions and versions, read in full by every engine")
	for _, c := range append(slices.Clone(Channels), opts.Channels...) {
		add("send."+c, p, false, erasable(sendRetention), "send commands for the "+c+" channel, keyed by user ID")
	}
	add("activity", p, false, erasable(activityRetention), "every journey instance transition")
	add("handoff", p, false, erasable(handoffRetention), "conversations handed to a human agent")
	add("dlq", p, false, deleteAfter(dlqRetention), "undecodable or invalid input, with reason and origin in headers")
	add("metrics.journeys", p, false, compacted(), "partial journey counts per input partition, read and summed by the API; names no user")
	return l, nil
}

// minISR keeps acks=all writes available with one replica down.
func minISR(rf int16) int {
	if rf >= 3 {
		return 2
	}
	return 1
}

func deleteAfter(d time.Duration) map[string]string {
	return map[string]string{
		"cleanup.policy": "delete",
		"retention.ms":   strconv.FormatInt(d.Milliseconds(), 10),
	}
}

// erasable is deleteAfter with compaction as well, so that a user's
// tombstone, which the engine writes when it forgets the user, erases
// the user's earlier records once they are older than EraseLag; until a
// tombstone comes, compaction only drops a user's records that are
// superseded and older than EraseLag.
func erasable(d time.Duration) map[string]string {
	cfg := deleteAfter(d)
	cfg["cleanup.policy"] = "compact,delete"
	cfg["min.compaction.lag.ms"] = strconv.FormatInt(EraseLag.Milliseconds(), 10)
	return cfg
}

func compacted() map[string]string {
	return map[string]string{"cleanup.policy": "compact"}
}
