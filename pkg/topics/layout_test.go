package topics

import (
	"strconv"
	"strings"
	"testing"

	"github.com/beckon-dev/beckon/pkg/stream"
)

func TestDeclare(t *testing.T) {
	l, err := Declare(Options{
		Prefix:   "acme.",
		Channels: []string{"line", "email"}, // email repeats a built-in channel
		Facts:    []string{"loyalty"},
		Lookups:  []string{"catalog"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		cop     bool
		cleanup string
		parts   int32
	}{
		"events":           {true, "delete", DefaultPartitions},
		"receipts":         {true, "delete", DefaultPartitions},
		"forget":           {true, "delete", DefaultPartitions},
		"profiles":         {true, "compact", DefaultPartitions},
		"facts.loyalty":    {true, "compact", DefaultPartitions},
		"changelog.engine": {true, "compact", DefaultPartitions},
		"lookups.catalog":  {false, "compact", DefaultPartitions},
		"journeys":         {false, "compact", 1},
		"send.email":       {false, "compact,delete", DefaultPartitions},
		"send.sms":         {false, "compact,delete", DefaultPartitions},
		"send.push":        {false, "compact,delete", DefaultPartitions},
		"send.whatsapp":    {false, "compact,delete", DefaultPartitions},
		"send.inapp":       {false, "compact,delete", DefaultPartitions},
		"send.webhook":     {false, "compact,delete", DefaultPartitions},
		"send.line":        {false, "compact,delete", DefaultPartitions},
		"activity":         {false, "compact,delete", DefaultPartitions},
		"handoff":          {false, "compact,delete", DefaultPartitions},
		"dlq":              {false, "delete", DefaultPartitions},

		"changelog.journey-metrics": {true, "compact", DefaultPartitions},
		"metrics.journeys":          {false, "compact", DefaultPartitions},
		"changelog.timelines":       {true, "compact", DefaultPartitions},
	}
	if len(l.Specs) != len(want) {
		t.Errorf("declared %d topics, want %d: %v", len(l.Specs), len(want), l.Names())
	}
	for base, w := range want {
		s, ok := l.Spec(base)
		if !ok {
			t.Errorf("%s not declared", base)
			continue
		}
		if s.Name != "acme."+base {
			t.Errorf("%s: name %q, want the prefix applied", base, s.Name)
		}
		if s.CoPartitioned != w.cop || s.Configs["cleanup.policy"] != w.cleanup || s.Partitions != w.parts {
			t.Errorf("%s: co-partitioned %v cleanup %q partitions %d, want %v %q %d", base, s.CoPartitioned, s.Configs["cleanup.policy"], s.Partitions, w.cop, w.cleanup, w.parts)
		}
		if s.ReplicationFactor != 3 || s.Configs["min.insync.replicas"] != "2" {
			t.Errorf("%s: rf %d min.insync.replicas %s, want 3 and 2", base, s.ReplicationFactor, s.Configs["min.insync.replicas"])
		}
		if w.cleanup == "compact,delete" && s.Configs["min.compaction.lag.ms"] != strconv.FormatInt(EraseLag.Milliseconds(), 10) {
			t.Errorf("%s: min.compaction.lag.ms %q, want EraseLag", base, s.Configs["min.compaction.lag.ms"])
		}
		if strings.HasSuffix(w.cleanup, "delete") && s.Configs["retention.ms"] == "" {
			t.Errorf("%s: delete policy without retention.ms", base)
		}
	}
}

func TestDeclareRejectsBadNames(t *testing.T) {
	for _, o := range []Options{
		{Channels: []string{"Email"}},
		{Facts: []string{"loyalty points"}},
		{Lookups: []string{""}},
		{Stores: []string{"a/b"}},
		{Partitions: -1},
	} {
		if _, err := Declare(o); err == nil {
			t.Errorf("Declare(%+v) accepted an invalid option", o)
		}
	}
	_, err := Declare(Options{Facts: []string{"Loyalty"}})
	if err == nil || !strings.Contains(err.Error(), `facts table name "Loyalty"`) {
		t.Errorf("error %v does not name the field and value", err)
	}
}

// TestRecordLimitsAreAligned: every topic accepts the largest batch the
// engine's producer builds, so no output, changelog record or dead letter
// the runtime checked against its limit is refused by a broker.
func TestRecordLimitsAreAligned(t *testing.T) {
	l, err := Declare(Options{Facts: []string{"f"}, Lookups: []string{"l"}, Channels: []string{"c"}})
	if err != nil {
		t.Fatal(err)
	}
	if MaxMessageBytes != stream.TopicMaxMessageBytes {
		t.Errorf("topics declare max.message.bytes %d, the runtime expects %d", MaxMessageBytes, stream.TopicMaxMessageBytes)
	}
	for _, s := range l.Specs {
		n, err := strconv.Atoi(s.Configs["max.message.bytes"])
		if err != nil || n < stream.DefaultProducerBatchMaxBytes {
			t.Errorf("%s: max.message.bytes %q, want at least the producer's %d", s.Base, s.Configs["max.message.bytes"], stream.DefaultProducerBatchMaxBytes)
		}
	}
}
