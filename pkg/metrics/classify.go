package metrics

import "strings"

// A reason is free text (an error message that may quote a user ID or a
// record); labels need a small fixed set. Each class is matched by the
// texts the runtime and the engine write, in order; what matches none is
// "other". The classes are documented in docs/observability.md.

type rule struct{ contains, class string }

// deadLetterRules classify why a message was dead-lettered.
var deadLetterRules = []rule{
	{"record has no key", "no_key"},
	{"record is on the wrong partition", "wrong_partition"},
	{"panic", "panic"},
	{"not an Output of the group", "undeclared_output"},
	{"refused", "refused_by_broker"},
	{"too large", "too_large"},
	{"larger than", "too_large"},
	{"record key is not the record's ID", "key_mismatch"},
	{"invalid ", "invalid"},
	{"decode", "undecodable"},
	{"wrong magic", "undecodable"},
	{"stored journey", "bad_state"},
	{"timer key", "bad_timer"},
}

// transientRules classify why a transaction aborted or a partition was
// paused.
var transientRules = []rule{
	{"rebalance or fencing", "rebalance"},
	{"fenced", "fenced"},
	{"NOT_COORDINATOR", "coordinator"},
	{"COORDINATOR", "coordinator"},
	{"CONCURRENT_TRANSACTIONS", "coordinator"},
	{"registry", "schema_registry"},
	{"partition count", "metadata"},
	{"metadata", "metadata"},
	{"deadline exceeded", "timeout"},
	{"timeout", "timeout"},
	{"timed out", "timeout"},
	{"produce", "produce"},
	{"read ", "store_read"},
	{"store", "store"},
	{"context canceled", "shutdown"},
}

func classify(rules []rule, reason string) string {
	for _, r := range rules {
		if strings.Contains(reason, r.contains) {
			return r.class
		}
	}
	return "other"
}

// skipReason keeps the leading word of a skip's reason ("quiet_hours",
// "paused: later than max_lateness" -> "paused") when it is a short
// snake_case word, as the engine's reasons are; anything else is "other".
func skipReason(reason string) string {
	end := strings.IndexAny(reason, " :")
	if end < 0 {
		end = len(reason)
	}
	w := reason[:end]
	if w == "" || len(w) > 32 {
		return "other"
	}
	for i := 0; i < len(w); i++ {
		if c := w[i]; (c < 'a' || c > 'z') && c != '_' {
			return "other"
		}
	}
	return w
}
