package topics

import (
	"flag"
	"strconv"

	"github.com/beckon-dev/beckon/pkg/settings"
)

// Settings size the deployment's topics.
var Settings = []settings.Setting{
	{Flag: "partitions", Env: "BECKON_PARTITIONS", Default: strconv.Itoa(int(DefaultPartitions)), Usage: "partitions of every user-keyed topic (co-partitioned; the engine's unit of parallelism)"},
	{Flag: "replication-factor", Env: "BECKON_REPLICATION_FACTOR", Default: strconv.Itoa(int(DefaultReplicationFactor)), Usage: "replication factor of every topic (1 on a single broker)"},
	{Flag: "channels", Env: "BECKON_CHANNELS", Usage: "comma-separated custom channels, each gets a send.NAME topic beside the built-in email, sms, push, whatsapp, inapp, webhook"},
	{Flag: "facts", Env: "BECKON_FACTS", Usage: "comma-separated facts tables, each a co-partitioned facts.NAME topic"},
	{Flag: "lookups", Env: "BECKON_LOOKUPS", Usage: "comma-separated lookup tables, each a global lookups.NAME topic"},
}

// Flags is Options bound to a flag set.
type Flags struct{ v *settings.Values }

// RegisterFlags adds the topic layout flags to fs, with defaults read from
// getenv (os.Getenv when nil).
func RegisterFlags(fs *flag.FlagSet, getenv func(string) string) *Flags {
	return &Flags{settings.Bind(fs, getenv, Settings)}
}

// Options returns the layout options the flags describe, with the given
// topic prefix (a connection setting, see kafkaconn).
func (f *Flags) Options(prefix string) (Options, error) {
	parts, err := f.v.Int("partitions", 32)
	if err != nil {
		return Options{}, err
	}
	rf, err := f.v.Int("replication-factor", 16)
	if err != nil {
		return Options{}, err
	}
	return Options{
		Prefix:            prefix,
		Partitions:        int32(parts),
		ReplicationFactor: int16(rf),
		Channels:          f.v.List("channels"),
		Facts:             f.v.List("facts"),
		Lookups:           f.v.List("lookups"),
	}, nil
}
