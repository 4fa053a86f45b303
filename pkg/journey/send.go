package journey

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/beckon-dev/beckon/pkg/records"
)

// Bounds of the per-user send log kept for frequency caps.
const (
	sendLogWindow = 31 * 24 * time.Hour
	sendLogMax    = 200
)

// send runs a send step: the delivery policies decide whether it goes now,
// later (the instance waits in the step) or not at all (recorded, and the
// journey moves on); then the send command is emitted.
func (a *applier) send(j *Journey, inst *Instance, st *Step, ev *records.Event) (string, bool) {
	s := st.Send
	next := j.NextOf(stepIndex(j, st.ID))
	held := inst.Held
	inst.Held = ""
	skip := func(reason string, details map[string]any) (string, bool) {
		inst.Due = time.Time{}
		a.activity(j, inst, records.ActivitySkipped, reason, details)
		return next, false
	}
	if !inst.Due.IsZero() && held != "missing_data" {
		// The step came due while the journey was paused.
		late := a.now.Sub(inst.Due)
		p := j.Def.Policies.Paused
		max := DefaultMaxLateness
		if p != nil && p.MaxLateness != "" {
			max = j.Duration(p.MaxLateness)
		}
		if p != nil && p.Action == PausedSkip {
			return skip("paused", map[string]any{"late_seconds": int64(late / time.Second)})
		}
		if late > max {
			return skip("paused: later than max_lateness", map[string]any{"late_seconds": int64(late / time.Second)})
		}
		inst.Due = time.Time{}
	}
	if slices.Contains(a.u.Unsubscribed, s.Channel) {
		return skip("unsubscribed", map[string]any{"channel": s.Channel})
	}
	p, _ := a.userProfile()
	if a.err != nil {
		return "", true // the input is not applied (see Apply)
	}
	if p == nil {
		if s.Missing == MissingWait && a.waitForData(j, inst, s) {
			return a.hold(j, inst, SendDecision{At: a.now.Add(missingRecheck), Reason: "missing_data"}, held)
		}
		return skip("no_profile", map[string]any{"channel": s.Channel})
	}
	if c := p.ConsentFor(s.Channel); c != records.ConsentSubscribed {
		return skip("no_consent", map[string]any{"channel": s.Channel, "consent": string(c)})
	}
	recipient := Recipient(p, s.Channel)
	if recipient == "" {
		return skip("no_address", map[string]any{"channel": s.Channel})
	}
	if why := badAddress(s.Channel, recipient); why != "" {
		return skip("invalid_address", map[string]any{"channel": s.Channel, "address": recipient, "why": why})
	}
	pol := &j.Def.Policies
	d, err := DeliveryWindow(pol.QuietHours, pol.BusinessHours, a.now, a.location(j))
	if err != nil {
		a.activity(j, inst, records.ActivityError, "delivery window: "+err.Error(), nil)
		return next, false
	}
	if !d.Allowed {
		if d.Skip {
			return skip(d.Reason, nil)
		}
		return a.hold(j, inst, d, held)
	}
	d = CheckCaps(pol.FrequencyCaps, j.Duration, s.Channel, a.u.Sends, a.now)
	if !d.Allowed {
		if d.Skip {
			return skip(d.Reason, map[string]any{"channel": s.Channel})
		}
		return a.hold(j, inst, d, held)
	}

	need := needAll // the default payload has the event, state and traits
	if len(s.Payload) > 0 {
		need = uses(j.Expr(s.Locale))
		for _, src := range s.Payload {
			need |= uses(j.Expr(src))
		}
	}
	vars := a.vars(inst, a.eventOr(inst, ev), nil, need|uses(lookupExprs(j, s)...))
	lookups, missing, err := a.lookups(j, s, vars)
	if a.err != nil {
		return "", true // the input is not applied; nothing else matters
	}
	if err != nil {
		a.activity(j, inst, records.ActivityError, "lookups: "+err.Error(), nil)
		return next, false
	}
	if len(missing) > 0 {
		details := map[string]any{"missing": missing}
		switch {
		case s.Missing == MissingSkip:
			return skip("missing_data", details)
		case s.Missing == MissingWait && a.waitForData(j, inst, s):
			return a.hold(j, inst, SendDecision{At: a.now.Add(missingRecheck), Reason: "missing_data"}, held)
		}
		a.activity(j, inst, records.ActivityStepCompleted, "sending without missing data", details)
	}
	vars.Lookups = lookups
	payload, err := a.payload(j, inst, s, vars)
	if err != nil {
		a.activity(j, inst, records.ActivityError, "payload: "+err.Error(), nil)
		return next, false
	}
	maxBytes := a.env.MaxPayloadBytes
	if maxBytes <= 0 {
		maxBytes = DefaultMaxPayloadBytes
	}
	if len(payload) > maxBytes {
		a.activity(j, inst, records.ActivityError, fmt.Sprintf("payload of %d bytes is over the %d-byte cap: not sent", len(payload), maxBytes), nil)
		return next, false
	}
	inst.Due = time.Time{}
	locale := p.Locale
	if s.Locale != "" {
		if locale, err = j.Expr(s.Locale).String(vars); err != nil {
			a.activity(j, inst, records.ActivityError, "locale: "+err.Error(), nil)
			return next, false
		}
	}
	deadline := DefaultSendDeadline
	if s.Deadline != "" {
		deadline = j.Duration(s.Deadline)
	}
	n := 1
	for _, m := range inst.Sends {
		if m.Step == st.ID {
			n++
		}
	}
	cmd := records.SendCommand{
		CommandID:      CommandID(inst.ID, st.ID, n),
		JourneyID:      j.Def.ID,
		JourneyVersion: j.Version,
		InstanceID:     inst.ID,
		StepID:         st.ID,
		UserID:         a.u.ID,
		Channel:        s.Channel,
		Recipient:      recipient,
		TemplateID:     s.Template,
		Locale:         locale,
		Payload:        payload,
		CreatedAt:      a.now,
		Deadline:       a.now.Add(deadline),
	}
	// W3C trace context: the send is a child of its step's span, in the
	// instance's trace.
	cmd.TraceParent = traceParent(inst, a.span(inst, false))
	a.fx.Sends = append(a.fx.Sends, cmd)
	inst.Sends = append(inst.Sends, SentMessage{Step: st.ID, CommandID: cmd.CommandID, Channel: s.Channel, Template: s.Template, At: a.now})
	a.u.Sends = PruneSends(append(a.u.Sends, SendLog{Channel: s.Channel, At: a.now}), sendLogWindow, a.now)
	if len(a.u.Sends) > sendLogMax {
		a.u.Sends = a.u.Sends[len(a.u.Sends)-sendLogMax:]
	}
	a.activity(j, inst, records.ActivitySent, s.Channel+" "+s.Template, map[string]any{"command_id": cmd.CommandID})
	return next, false
}

// hold makes the instance wait in its send step until the decision's time.
// A hold for the same reason as the one just ended (a periodic re-check)
// records no new activity.
func (a *applier) hold(j *Journey, inst *Instance, d SendDecision, before string) (string, bool) {
	inst.Held = d.Reason
	inst.WakeAt = d.At
	if before != d.Reason {
		a.activity(j, inst, records.ActivityWaiting, "send held: "+d.Reason, map[string]any{"until": d.At.UTC().Format(time.RFC3339)})
	}
	return "", true
}

// payload builds the send's payload: the step's mapping, else the default
// of the trigger event's properties, the instance state and the profile
// traits.
func (a *applier) payload(j *Journey, inst *Instance, s *Send, vars *Vars) (records.JSON, error) {
	out := map[string]any{}
	if len(s.Payload) == 0 {
		out["event"] = vars.event()["properties"]
		out["state"] = vars.State
		out["traits"] = vars.Profile["traits"]
		if len(vars.Lookups) > 0 {
			out["lookups"] = vars.Lookups
		}
	}
	for _, k := range sortedKeys(s.Payload) {
		v, err := j.Expr(s.Payload[k]).Eval(vars)
		if err != nil {
			return nil, &fieldErr{field: k, err: err}
		}
		out[k] = v
	}
	b, err := json.Marshal(jsonValue(out))
	return records.JSON(b), err
}

type fieldErr struct {
	field string
	err   error
}

func (e *fieldErr) Error() string { return e.field + ": " + e.err.Error() }
func (e *fieldErr) Unwrap() error { return e.err }

// CommandID is the deterministic idempotency key of the n-th send of step
// in instance: channel teams de-duplicate deliveries on it.
func CommandID(instance, step string, n int) string {
	return instance + "/" + step + "/" + strconv.Itoa(n)
}

// Recipient resolves the user's address on channel from the profile: ""
// when the profile has none.
func Recipient(p *records.Profile, channel string) string {
	a := &p.Addresses
	switch channel {
	case "email":
		return a.Email
	case "sms":
		return a.Phone
	case "whatsapp":
		return a.WhatsApp
	case "push":
		if len(a.PushTokens) > 0 {
			return a.PushTokens[0].Token
		}
		return ""
	case "inapp":
		return p.UserID
	case "webhook":
		// A webhook goes to the configured endpoint; the recipient tells
		// it whom the message is for.
		if r := a.Custom[channel]; r != "" {
			return r
		}
		return p.UserID
	}
	return a.Custom[channel]
}

// handoff emits the conversation so far to the agent inbox.
func (a *applier) handoff(j *Journey, inst *Instance, st *Step) {
	h := st.Handoff
	channel := h.Channel
	if channel == "" && len(inst.Sends) > 0 {
		channel = inst.Sends[len(inst.Sends)-1].Channel
	}
	var conv []records.ConversationMessage
	for _, m := range inst.Sends {
		conv = append(conv, records.ConversationMessage{Direction: records.Outbound, Text: "template " + m.Template, At: m.At, CommandID: m.CommandID})
	}
	conv = append(conv, inst.Replies...)
	slices.SortStableFunc(conv, func(x, y records.ConversationMessage) int { return x.At.Compare(y.At) })
	vars := a.vars(inst, nil, nil, needAll)
	profile, _ := records.NewJSON(jsonValue(vars.Profile))
	payload, _ := records.NewJSON(jsonValue(map[string]any{"state": vars.State, "queue": h.Queue, "note": h.Note, "trigger": inst.Trigger.Name}))
	a.fx.Handoffs = append(a.fx.Handoffs, records.Handoff{
		HandoffID:    inst.ID + "/" + st.ID,
		InstanceID:   inst.ID,
		JourneyID:    j.Def.ID,
		UserID:       a.u.ID,
		Channel:      channel,
		Conversation: conv,
		Profile:      profile,
		Payload:      payload,
		CreatedAt:    a.now,
	})
	a.activity(j, inst, records.ActivityStepCompleted, "handed off to an agent", map[string]any{"channel": channel, "queue": h.Queue})
}

func lookupExprs(j *Journey, s *Send) []*Expr {
	var out []*Expr
	for _, lk := range s.Lookups {
		out = append(out, j.Expr(lk.Key), j.Expr(lk.Keys))
	}
	return out
}

// lookups reads the send's named lookup rows: lookups.<name> is the row
// (key) or a map from key to row (keys). It returns the names or
// name[key]s with no row.
func (a *applier) lookups(j *Journey, s *Send, vars *Vars) (map[string]any, []string, error) {
	if len(s.Lookups) == 0 {
		return nil, nil, nil
	}
	if a.env.Lookup == nil {
		return nil, nil, fmt.Errorf("no lookup tables are configured")
	}
	out := map[string]any{}
	var missing []string
	for _, lk := range s.Lookups {
		if lk.Key != "" {
			key, err := j.Expr(lk.Key).String(vars)
			if err != nil {
				// The key comes from data that is not there (a fact, a
				// property): the row is missing data too.
				missing = append(missing, lk.Name+" (key: "+err.Error()+")")
				continue
			}
			row, ok, err := a.lookup(&lk, key)
			if err != nil {
				return nil, nil, err
			}
			if !ok {
				missing = append(missing, lk.Name)
				continue
			}
			out[lk.Name] = row
			continue
		}
		v, err := j.Expr(lk.Keys).Eval(vars)
		if err != nil {
			missing = append(missing, lk.Name+" (keys: "+err.Error()+")")
			continue
		}
		list, ok := v.([]any)
		if !ok {
			return nil, nil, fmt.Errorf("%s.keys: want a list of keys, got %T", lk.Name, v)
		}
		rows := map[string]any{}
		for _, k := range list {
			key, err := keyText(k)
			if err != nil {
				return nil, nil, fmt.Errorf("%s.keys: %w", lk.Name, err)
			}
			row, ok, err := a.lookup(&lk, key)
			if err != nil {
				return nil, nil, err
			}
			if !ok {
				missing = append(missing, lk.Name+"["+key+"]")
				continue
			}
			rows[key] = row
		}
		out[lk.Name] = rows
	}
	return out, missing, nil
}

// lookup reads one row through the snapshot's port. A table the port does
// not have is the instance's error; any other failure to read stops the
// whole Apply (a.err), to be retried: a row that could not be read is not
// a missing one.
func (a *applier) lookup(lk *Lookup, key string) (map[string]any, bool, error) {
	row, ok, err := a.env.Lookup(lk.Table, key)
	switch {
	case err == nil:
		return row, ok, nil
	case errors.Is(err, ErrNoTable):
		return nil, false, fmt.Errorf("%s: %w", lk.Name, err)
	}
	a.err = fmt.Errorf("lookup %s (table %s, key %q): %w", lk.Name, lk.Table, key, err)
	return nil, false, a.err
}

// keyText is a lookup key as text: strings as they are, numbers in
// decimal.
func keyText(k any) (string, error) {
	switch v := k.(type) {
	case string:
		return v, nil
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case uint64:
		return strconv.FormatUint(v, 10), nil
	}
	return "", fmt.Errorf("a key is %T, want a string or a number", k)
}

// waitForData reports whether a send still waits for missing data (within
// max_wait of first finding it missing); it records when that was.
func (a *applier) waitForData(j *Journey, inst *Instance, s *Send) bool {
	max := DefaultMaxWait
	if s.MaxWait != "" {
		max = j.Duration(s.MaxWait)
	}
	if inst.Due.IsZero() {
		inst.Due = a.now
	}
	return a.now.Sub(inst.Due) < max
}

// e164 is an international phone number: a plus and 7 to 15 digits.
var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// badAddress says why a profile's address cannot be used on channel, or
// "": a malformed address is skipped (and recorded), not sent to a
// provider that would bounce it.
func badAddress(channel, addr string) string {
	switch channel {
	case "email":
		at := strings.LastIndexByte(addr, '@')
		if at < 1 || at == len(addr)-1 || strings.ContainsAny(addr, " \t\r\n<>") || !strings.Contains(addr[at+1:], ".") {
			return "not an email address"
		}
	case "sms", "whatsapp":
		if !e164.MatchString(addr) {
			return "not an E.164 phone number (+ and 7 to 15 digits)"
		}
	}
	return ""
}
