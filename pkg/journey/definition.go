package journey

// A Definition is a journey as its author writes it, in YAML or JSON (see
// docs/journeys.md and schemas/journey.schema.json). Field names are the
// document's keys. Conditions and computed values are CEL expressions;
// durations are strings like "90s", "30m", "1h30m", "1d" or "2w".
type Definition struct {
	// ID names the journey: lowercase letters, digits and dashes.
	ID          string `json:"id"`
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
	// Trigger says which events start an instance.
	Trigger Trigger `json:"trigger"`
	// State maintains the instance's state from events while it runs
	// (the cart's items, counters, values).
	State []StateRule `json:"state,omitempty"`
	// Exit lists exception events that end a running instance at any step.
	Exit []ExitRule `json:"exit,omitempty"`
	// Goal is the conversion this journey aims for.
	Goal *Goal `json:"goal,omitempty"`
	// Policies govern sends: time zone, quiet and business hours,
	// frequency caps, what a pause does to due sends, the event-rate guard.
	Policies Policies `json:"policies,omitempty"`
	// Steps run in order from the first; a step's next (or a branch's
	// targets) jumps elsewhere. Running past the last step ends the
	// instance.
	Steps []Step `json:"steps"`

	// pos is where Parse found each field, for Validate's errors.
	pos positions
}

// Trigger starts instances.
type Trigger struct {
	// Event is the event name that triggers entry.
	Event string `json:"event"`
	// When is a CEL condition over the event, profile and facts.
	When string `json:"when,omitempty"`
	// Audience is a CEL condition over profile and facts only: who may
	// enter at all.
	Audience string `json:"audience,omitempty"`
	// Key is a CEL expression over the event giving the entry key, so one
	// user can run several instances at once (one per cart:
	// event.properties.cart_id). Empty: one instance per user.
	Key string `json:"key,omitempty"`
	// Reentry is once, always (the default), once_per_session, or
	// cooldown (with Cooldown).
	Reentry string `json:"reentry,omitempty"`
	// Cooldown is the time after an entry before the user may enter again
	// (Reentry cooldown).
	Cooldown string `json:"cooldown,omitempty"`
	// MaxInstances caps the user's simultaneous instances of this journey.
	// Default 25.
	MaxInstances int `json:"max_instances,omitempty"`
}

// Re-entry policies.
const (
	ReentryAlways         = "always"
	ReentryOnce           = "once"
	ReentryOncePerSession = "once_per_session"
	ReentryCooldown       = "cooldown"
)

// StateRule changes the instance's state when a matching event arrives
// while it runs (same entry key, unless AnyKey).
type StateRule struct {
	// On is the event name.
	On string `json:"on"`
	// When is an optional CEL condition.
	When string `json:"when,omitempty"`
	// AnyKey applies the rule to every instance of the user, whatever the
	// event's entry key.
	AnyKey bool `json:"any_key,omitempty"`
	// AddItem adds or replaces an item in the instance's item list.
	AddItem *ItemRule `json:"add_item,omitempty"`
	// RemoveItem removes an item by key.
	RemoveItem *ItemRule `json:"remove_item,omitempty"`
	// Set assigns state values: name -> CEL expression.
	Set map[string]string `json:"set,omitempty"`
	// Increment adds one to each named counter.
	Increment []string `json:"increment,omitempty"`
	// Clear empties the item list.
	ClearItems bool `json:"clear_items,omitempty"`
}

// ItemRule names an item (Key, a CEL expression) and, to add, its value
// (a CEL expression; default event.properties).
type ItemRule struct {
	Key   string `json:"key"`
	Value string `json:"value,omitempty"`
	// Quantity is a CEL expression adding to the item's quantity instead
	// of replacing the item (remove_item: subtracting; at 0 it goes).
	Quantity string `json:"quantity,omitempty"`
}

// ExitRule ends a running instance when its event arrives.
type ExitRule struct {
	Event string `json:"event"`
	When  string `json:"when,omitempty"`
	// AnyKey matches regardless of the entry key.
	AnyKey bool `json:"any_key,omitempty"`
}

// Goal records a conversion when its event arrives within Within of
// entry; the instance ends unless Continue.
type Goal struct {
	Event    string `json:"event"`
	When     string `json:"when,omitempty"`
	Within   string `json:"within,omitempty"`
	AnyKey   bool   `json:"any_key,omitempty"`
	Continue bool   `json:"continue,omitempty"`
}

// Policies govern when and whether sends go out.
type Policies struct {
	// TimeZone is the IANA zone used when the profile has none.
	// Default UTC.
	TimeZone string `json:"time_zone,omitempty"`
	// QuietHours holds sends inside the window.
	QuietHours *Window `json:"quiet_hours,omitempty"`
	// BusinessHours holds sends outside the window.
	BusinessHours *Window `json:"business_hours,omitempty"`
	// FrequencyCaps limit sends per channel per user over a rolling
	// window, counted across all journeys.
	FrequencyCaps []FrequencyCap `json:"frequency_caps,omitempty"`
	// Paused says what resume does with sends that came due while the
	// journey was paused.
	Paused *PausedPolicy `json:"paused,omitempty"`
	// MaxEventsPerMinute drops a user's events for this journey beyond
	// this rate (recorded in activity). Default 600.
	MaxEventsPerMinute int `json:"max_events_per_minute,omitempty"`
}

// Window is a daily time window in the user's time zone, "HH:MM" to
// "HH:MM" (wrapping past midnight when To is earlier), on Days (mon..sun;
// empty means every day). Action is delay (the default: hold the send
// until the window allows it) or skip.
type Window struct {
	From   string   `json:"from"`
	To     string   `json:"to"`
	Days   []string `json:"days,omitempty"`
	Action string   `json:"action,omitempty"`
}

// Window actions.
const (
	ActionDelay = "delay"
	ActionSkip  = "skip"
)

// FrequencyCap allows at most Max sends on Channel per Per.
type FrequencyCap struct {
	Channel string `json:"channel"`
	Max     int    `json:"max"`
	Per     string `json:"per"`
	// Action is skip (the default) or delay.
	Action string `json:"action,omitempty"`
}

// PausedPolicy: Action send_late sends what came due during a pause on
// resume, unless it is more than MaxLateness late (then it is skipped);
// skip drops them.
type PausedPolicy struct {
	Action      string `json:"action"`
	MaxLateness string `json:"max_lateness,omitempty"`
}

// Paused policy actions.
const (
	PausedSendLate = "send_late"
	PausedSkip     = "skip"
)

// Step is one node of the journey. Exactly one of the kinds is set.
type Step struct {
	// ID is unique within the journey.
	ID string `json:"id"`
	// Next is the step that follows; default the next in the list.
	Next string `json:"next,omitempty"`

	Delay       *Delay       `json:"delay,omitempty"`
	Hold        *Hold        `json:"hold,omitempty"`
	Branch      *Branch      `json:"branch,omitempty"`
	Split       *Split       `json:"split,omitempty"`
	Send        *Send        `json:"send,omitempty"`
	WaitReceipt *WaitReceipt `json:"wait_receipt,omitempty"`
	Handoff     *Handoff     `json:"handoff,omitempty"`
	Exit        *ExitStep    `json:"exit,omitempty"`
}

// Delay waits: For a fixed duration, Until a CEL timestamp, or until the
// next AtTime ("HH:MM") in the user's time zone, optionally after For.
type Delay struct {
	For    string `json:"for,omitempty"`
	AtTime string `json:"at_time,omitempty"`
	Until  string `json:"until,omitempty"`
}

// Hold waits for an event of the instance (same entry key unless AnyKey)
// up to Timeout. A matching Event goes to OnEvent (default: the next
// step); the timeout goes to OnTimeout (default: the next step). ResetOn
// events restart the timeout, at most MaxResets times (default 100).
type Hold struct {
	Event     string   `json:"event,omitempty"`
	When      string   `json:"when,omitempty"`
	AnyKey    bool     `json:"any_key,omitempty"`
	Timeout   string   `json:"timeout"`
	ResetOn   []string `json:"reset_on,omitempty"`
	MaxResets int      `json:"max_resets,omitempty"`
	OnEvent   string   `json:"on_event,omitempty"`
	OnTimeout string   `json:"on_timeout,omitempty"`
}

// Branch takes the first case whose condition holds, else Else (default:
// the next step).
type Branch struct {
	Cases []Case `json:"cases"`
	Else  string `json:"else,omitempty"`
}

// Case is a condition and the step it leads to.
type Case struct {
	When string `json:"when"`
	Next string `json:"next"`
}

// Split sends each user down one path by weight, deterministically per
// (user, journey); Holdout is the percentage kept out of every path (they
// exit, recorded as holdout).
type Split struct {
	Paths   []Path `json:"paths"`
	Holdout int    `json:"holdout,omitempty"`
}

// Path is a split's weighted branch.
type Path struct {
	Name   string `json:"name"`
	Weight int    `json:"weight"`
	Next   string `json:"next"`
}

// Send emits a send command on Channel.
type Send struct {
	Channel  string `json:"channel"`
	Template string `json:"template"`
	// Locale is a CEL expression; default the profile's locale.
	Locale string `json:"locale,omitempty"`
	// Payload maps payload fields to CEL expressions; default: the
	// trigger event, the instance state and the profile traits.
	Payload map[string]string `json:"payload,omitempty"`
	// Deadline is how long after it is due the send may still be
	// delivered. Default 24h.
	Deadline string `json:"deadline,omitempty"`
	// Lookups names rows of lookup tables (lookups.<table> topics) the
	// payload uses, found by foreign key: the payload's expressions see
	// them as lookups.<name>, and the default payload includes them.
	Lookups []Lookup `json:"lookups,omitempty"`
	// Missing says what happens when the profile or a named lookup row is
	// missing when the send is due: send (the default: without the
	// missing lookup; a send cannot go without a profile), wait (up to
	// MaxWait, checking again every minute, then send without it), or skip.
	Missing string `json:"missing,omitempty"`
	// MaxWait bounds missing: wait. Default 1h.
	MaxWait string `json:"max_wait,omitempty"`
}

// Lookup finds rows of a lookup table by key: Key gives one row
// (lookups.<name> is the row), Keys a list of rows (lookups.<name> maps
// each key to its row, leaving out keys without one).
type Lookup struct {
	Name  string `json:"name"`
	Table string `json:"table"`
	Key   string `json:"key,omitempty"`
	Keys  string `json:"keys,omitempty"`
}

// Missing-data policies of a send.
const (
	MissingSend = "send"
	MissingWait = "wait"
	MissingSkip = "skip"
)

// WaitReceipt waits for a receipt of an earlier send step (Of) up to
// Timeout and branches on it: On maps a receipt status (delivered,
// opened, clicked, replied, failed) to a step; Replies branches replied
// receipts on their text (CEL over receipt); timeout goes to OnTimeout
// (default: the next step).
type WaitReceipt struct {
	Of        string            `json:"of"`
	Timeout   string            `json:"timeout"`
	On        map[string]string `json:"on,omitempty"`
	Replies   []Case            `json:"replies,omitempty"`
	OnTimeout string            `json:"on_timeout,omitempty"`
}

// Handoff hands the conversation to a human agent on Channel (default:
// the channel of the last send).
type Handoff struct {
	Channel string `json:"channel,omitempty"`
	Queue   string `json:"queue,omitempty"`
	Note    string `json:"note,omitempty"`
}

// ExitStep ends the instance, with an optional reason for the activity.
type ExitStep struct {
	Reason string `json:"reason,omitempty"`
}
