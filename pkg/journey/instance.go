package journey

import (
	"encoding/json"
	"time"

	"github.com/beckon-dev/beckon/pkg/records"
)

// User is everything the engine keeps for one user: their running
// instances and the per-user history that entry rules, frequency caps and
// the rate guard need. It is the state the pure function transforms.
type User struct {
	ID        string      `json:"id"`
	Instances []*Instance `json:"instances,omitempty"`
	// Entries records, per journey ID, the user's entries (re-entry
	// policies).
	Entries map[string]*EntryLog `json:"entries,omitempty"`
	// Sends records recent sends per channel, across journeys, for
	// frequency caps; entries older than the longest cap are pruned.
	Sends []SendLog `json:"sends,omitempty"`
	// Unsubscribed holds channels the user unsubscribed from through a
	// receipt, over what the profile says.
	Unsubscribed []string `json:"unsubscribed,omitempty"`
	// Rate counts the user's events in the current minute (the event-rate
	// guard).
	Rate RateWindow `json:"rate,omitzero"`
}

// EntryLog is a user's entry history for one journey.
type EntryLog struct {
	Count int       `json:"n"`
	Last  time.Time `json:"last"`
	// Sessions holds the session IDs entered in (once_per_session), most
	// recent last, bounded.
	Sessions []string `json:"sessions,omitempty"`
}

// SendLog is one send, for frequency caps.
type SendLog struct {
	Channel string    `json:"ch"`
	At      time.Time `json:"at"`
}

// RateWindow counts events in the minute starting at Start.
type RateWindow struct {
	Start time.Time `json:"start,omitzero"`
	Count int       `json:"n,omitempty"`
}

// Instance is one run of a user through one journey version.
type Instance struct {
	// ID is deterministic: journey, version, user, entry key and the entry
	// sequence number hashed, so a replay produces the same IDs.
	ID       string `json:"id"`
	Journey  string `json:"journey"`
	Version  int32  `json:"version"`
	EntryKey string `json:"key,omitempty"`
	// Step is the current step's ID.
	Step      string    `json:"step"`
	EnteredAt time.Time `json:"entered"`
	// StepAt is when the current step began.
	StepAt time.Time `json:"step_at"`
	// WakeAt is when the instance wants to be woken (a delay, a hold's
	// timeout, a held send); zero when it only waits for events.
	WakeAt time.Time `json:"wake,omitzero"`
	// TimerAt is when the instance's timer is armed to fire (zero:
	// none), as Apply's timer effects left it. Timers are armed lazily: a
	// wake-up moved later (a hold's reset) keeps the earlier timer, which
	// fires, finds the instance not yet due and is re-armed (see
	// Effects.Timers). Only that bookkeeping reads it.
	TimerAt time.Time `json:"timer,omitzero"`
	// Resets counts a hold's timer resets.
	Resets int `json:"resets,omitempty"`
	// Trigger is the event that started the instance.
	Trigger TriggerEvent `json:"trigger"`
	// Items is the instance's item list (the cart), in insertion order.
	Items []Item `json:"items,omitempty"`
	// Vars holds values set by state rules and counters.
	Vars map[string]any `json:"vars,omitempty"`
	// Sends are the instance's send commands, oldest first.
	Sends []SentMessage `json:"sends,omitempty"`
	// Replies are inbound messages received during the instance.
	Replies []records.ConversationMessage `json:"replies,omitempty"`
	// Receipt is the last receipt a wait_receipt step matched.
	Receipt *ReceiptSeen `json:"receipt,omitempty"`
	// Held says why the current step waits beyond its time (quiet_hours,
	// business_hours, frequency_cap, paused); Due is when it first came
	// due, for the lateness bound on resume.
	Held string    `json:"held,omitempty"`
	Due  time.Time `json:"due,omitzero"`
	// Seq numbers the instance's activity records, so their IDs are
	// deterministic.
	Seq int `json:"seq,omitempty"`
	// TraceID and SpanID are the instance's own trace and the span ID of
	// its root, the entry (InstanceTrace): every step it executes is a
	// span of that trace. The trigger's trace is a link of the entry's
	// span.
	TraceID string `json:"trace,omitempty"`
	SpanID  string `json:"span,omitempty"`
	// stub says only ID, Journey, Version, EntryKey and Step are known
	// (UnmarshalHeadStubs): the instance's record was not read.
	stub bool
}

// Stub says whether inst is a stub of an instance whose record was not
// read (see UnmarshalHeadStubs and Touches): it is unchanged and has no
// record to write.
func (inst *Instance) Stub() bool { return inst.stub }

// TriggerEvent is what the instance keeps of its trigger event.
type TriggerEvent struct {
	Name       string          `json:"name"`
	MessageID  string          `json:"mid,omitempty"`
	Timestamp  time.Time       `json:"ts"`
	SessionID  string          `json:"session,omitempty"`
	Properties json.RawMessage `json:"props,omitempty"`
}

// Item is one entry of the instance's item list.
type Item struct {
	Key      string          `json:"k"`
	Value    json.RawMessage `json:"v,omitempty"`
	Quantity float64         `json:"q,omitempty"`
}

// SentMessage is a send the instance made.
type SentMessage struct {
	Step      string    `json:"step"`
	CommandID string    `json:"cmd"`
	Channel   string    `json:"ch"`
	Template  string    `json:"tpl"`
	At        time.Time `json:"at"`
	// Status is the latest receipt status seen for it.
	Status string `json:"status,omitempty"`
}

// ReceiptSeen is a receipt that moved a wait_receipt step.
type ReceiptSeen struct {
	CommandID string    `json:"cmd"`
	Status    string    `json:"status"`
	Text      string    `json:"text,omitempty"`
	At        time.Time `json:"at"`
}
