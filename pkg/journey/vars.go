package journey

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/beckon-dev/beckon/pkg/records"
)

// vars builds the CEL variables for an expression evaluated for inst (nil
// before entry), on event ev and receipt rc (either may be nil).
//
//	event    name, type, user_id, message_id, session_id, timestamp,
//	         properties, context
//	profile  user_id, traits, time_zone, locale, consent (channel ->
//	         status), addresses
//	facts    fact name -> value
//	state    the instance's values and counters, plus items (a list of
//	         {key, quantity, value}), entry_key, entered_at, step
//	receipt  status, text, channel, command_id, at
//	now      the engine's time
//
// A variable the expressions do not need is left nil, which evaluates as
// an empty map; with needAll (a default payload, a hand-off, which read
// the maps themselves) every one is a map.
func (a *applier) vars(inst *Instance, ev *records.Event, rc *ReceiptSeen, need varSet) *Vars {
	v := &Vars{Facts: a.env.Facts, Now: a.now}
	if need == needAll {
		v.Event, v.State, v.Receipt = map[string]any{}, map[string]any{}, map[string]any{}
		if v.Facts == nil {
			v.Facts = map[string]any{}
		}
	}
	if need&needProfile != 0 {
		v.Profile = a.profileVars()
	}
	if ev != nil && need&needEvent != 0 {
		v.Event = nil
		v.lazyEvent = func() map[string]any { return a.eventVars(ev) }
		v.props = a.propsOf(ev)
	}
	if inst != nil && need&needState != 0 {
		v.State = make(map[string]any, len(inst.Vars)+4)
		for k, x := range inst.Vars {
			v.State[k] = x
		}
		v.State["items"] = a.itemVars(inst)
		v.State["entry_key"] = inst.EntryKey
		v.State["entered_at"] = inst.EnteredAt
		v.State["step"] = inst.Step
	}
	if rc == nil && inst != nil {
		rc = inst.Receipt
	}
	if rc != nil && need&needReceipt != 0 {
		v.Receipt = map[string]any{"status": rc.Status, "text": rc.Text, "command_id": rc.CommandID, "at": rc.At}
	}
	return v
}

// propsOf is ev's properties for property reads, shared by the
// expressions of one Apply (and of the Touches before it).
func (a *applier) propsOf(ev *records.Event) *eventProps {
	if a.props != nil && a.props.ev == ev {
		return &a.props.p
	}
	a.props = &propsOfEvent{ev: ev, p: eventProps{text: ev.Properties}}
	return &a.props.p
}

// eventVars is the event as CEL sees it, parsed once per Apply: an event
// is matched against many rules and instances.
func (a *applier) eventVars(ev *records.Event) map[string]any {
	if m, ok := a.events[ev]; ok {
		return m
	}
	props, _ := ev.Properties.Map()
	ctx, _ := ev.Context.Map()
	m := map[string]any{
		"name": ev.Name, "type": string(ev.Type), "user_id": ev.UserID, "message_id": ev.MessageID,
		"session_id": ev.SessionID, "timestamp": ev.Timestamp, "properties": props, "context": ctx,
	}
	if a.events == nil {
		a.events = map[*records.Event]map[string]any{}
	}
	a.events[ev] = m
	return m
}

// itemVars is the instance's item list as CEL sees it, parsed once until
// a state rule changes the items.
func (a *applier) itemVars(inst *Instance) []any {
	if items, ok := a.items[inst]; ok {
		return items
	}
	items := make([]any, 0, len(inst.Items))
	for _, it := range inst.Items {
		var value any
		if len(it.Value) > 0 {
			_ = json.Unmarshal(it.Value, &value)
		}
		items = append(items, map[string]any{"key": it.Key, "quantity": it.Quantity, "value": value})
	}
	if a.items == nil {
		a.items = map[*Instance][]any{}
	}
	a.items[inst] = items
	return items
}

// profileVars is the profile as CEL sees it, built once per Apply.
func (a *applier) profileVars() map[string]any {
	if a.profile != nil {
		return a.profile
	}
	a.profile = map[string]any{}
	p, _ := a.userProfile()
	if p == nil {
		return a.profile
	}
	traits, _ := p.Traits.Map()
	consent := map[string]any{}
	for ch, c := range p.Consent {
		consent[ch] = string(c.Status)
	}
	a.profile = map[string]any{
		"user_id": p.UserID, "traits": traits, "time_zone": p.TimeZone, "locale": p.Locale, "consent": consent,
		"addresses": map[string]any{"email": p.Addresses.Email, "phone": p.Addresses.Phone, "whatsapp": p.Addresses.WhatsApp},
	}
	return a.profile
}

// holds evaluates a condition for inst; an empty condition holds. An
// evaluation error records an error activity (naming where) and counts as
// false, so a bad property in one event cannot stall the partition.
func (a *applier) holds(j *Journey, inst *Instance, src string, ev *records.Event, rc *ReceiptSeen, where string) bool {
	if src == "" {
		return true
	}
	e := j.Expr(src)
	ok, err := e.Bool(a.vars(inst, ev, rc, uses(e)))
	if err != nil {
		a.activity(j, inst, records.ActivityError, where+": "+err.Error(), nil)
		return false
	}
	return ok
}

// holdsReceipt evaluates a reply condition with the receipt in scope.
func (a *applier) holdsReceipt(j *Journey, inst *Instance, src string, rc *ReceiptSeen, where string) bool {
	return a.holds(j, inst, src, nil, rc, where)
}

// number evaluates an expression to a float.
func number(e *Expr, v *Vars) (float64, error) {
	x, err := e.Eval(v)
	if err != nil {
		return 0, err
	}
	switch n := x.(type) {
	case float64:
		return n, nil
	case int64:
		return float64(n), nil
	case uint64:
		return float64(n), nil
	case string:
		f, err := strconv.ParseFloat(n, 64)
		if err != nil {
			return 0, fmt.Errorf("%q is not a number", n)
		}
		return f, nil
	}
	return 0, fmt.Errorf("want a number, got %T", x)
}

// jsonValue makes an evaluation result storable as JSON: times as RFC
// 3339 text, durations as Go duration text, integers as floats (what JSON
// reads back).
func jsonValue(x any) any {
	switch v := x.(type) {
	case time.Time:
		return v.UTC().Format(time.RFC3339Nano)
	case time.Duration:
		return v.String()
	case int64:
		return float64(v)
	case uint64:
		return float64(v)
	case []byte:
		return string(v)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = jsonValue(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = jsonValue(e)
		}
		return out
	}
	return x
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// varSet says which CEL variables an evaluation needs, so the costly ones
// (the items, the profile's traits) are only built when read.
type varSet uint8

const (
	needEvent varSet = 1 << iota
	needProfile
	needState
	needReceipt
	needLookups
	needAll varSet = 0xff
)

// uses returns the variables the expressions refer to (from the checked
// expressions' references).
func uses(exprs ...*Expr) varSet {
	var set varSet
	for _, e := range exprs {
		if e == nil {
			continue
		}
		for _, name := range e.vars {
			switch name {
			case varEvent:
				set |= needEvent
			case varProfile:
				set |= needProfile
			case varState:
				set |= needState
			case varReceipt:
				set |= needReceipt
			case varLookups:
				set |= needLookups
			}
		}
	}
	return set
}
