package journey

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strconv"
	"time"

	"github.com/beckon-dev/beckon/pkg/records"
)

// enter starts an instance of j for the event if the trigger, audience,
// entry key, re-entry policy and instance cap allow it.
func (a *applier) enter(j *Journey, ev *records.Event) {
	t := &j.Def.Trigger
	if t.Event != ev.Name {
		return
	}
	if ev.UserID == "" {
		a.userActivity(j, records.ActivityError, "event without a user ID", nil)
		return
	}
	if st := a.env.Catalog.State(j.Def.ID); st != records.JourneyLive {
		a.userActivity(j, records.ActivitySkipped, "journey "+string(st)+": no entries", nil)
		return
	}
	key, err := a.entryKey(j, ev)
	if err != nil {
		a.userActivity(j, records.ActivityError, "entry key: "+err.Error(), nil)
		return
	}
	for _, inst := range a.u.Instances {
		if inst.Journey == j.Def.ID && inst.EntryKey == key && inst.Step != "" {
			return // already running for this key: the event updated it
		}
	}
	vars := a.vars(nil, ev, nil, uses(j.Expr(t.When), j.Expr(t.Audience)))
	if t.When != "" {
		ok, err := j.Expr(t.When).Bool(vars)
		if err != nil {
			a.userActivity(j, records.ActivityError, "trigger.when: "+err.Error(), nil)
			return
		}
		if !ok {
			return
		}
	}
	if t.Audience != "" {
		ok, err := j.Expr(t.Audience).Bool(vars)
		if err != nil {
			a.userActivity(j, records.ActivityError, "trigger.audience: "+err.Error(), nil)
			return
		}
		if !ok {
			return
		}
	}
	log := a.u.entryLog(j.Def.ID)
	if reason := a.reentryRefused(j, log, ev); reason != "" {
		a.userActivity(j, records.ActivitySkipped, reason, nil)
		return
	}
	running := 0
	for _, inst := range a.u.Instances {
		if inst.Journey == j.Def.ID && inst.Step != "" {
			running++
		}
	}
	max := t.MaxInstances
	if max == 0 {
		max = DefaultMaxInstances
	}
	if running >= max {
		a.userActivity(j, records.ActivitySkipped, "max_instances", map[string]any{"running": running, "max": max})
		return
	}

	log.Count++
	log.Last = a.now
	if ev.SessionID != "" && !slices.Contains(log.Sessions, ev.SessionID) {
		log.Sessions = append(log.Sessions, ev.SessionID)
		if len(log.Sessions) > maxSessions {
			log.Sessions = log.Sessions[len(log.Sessions)-maxSessions:]
		}
	}
	inst := &Instance{
		ID:        InstanceID(j.Def.ID, a.u.ID, key, log.Count, ev.MessageID),
		Journey:   j.Def.ID,
		Version:   j.Version,
		EntryKey:  key,
		EnteredAt: a.now,
		StepAt:    a.now,
		Trigger: TriggerEvent{
			Name: ev.Name, MessageID: ev.MessageID, Timestamp: ev.Timestamp, SessionID: ev.SessionID,
			Properties: json.RawMessage(ev.Properties),
		},
	}
	inst.TraceID, inst.SpanID = InstanceTrace(inst.ID)
	a.u.Instances = append(a.u.Instances, inst)
	inst.Step = j.Def.Steps[0].ID
	a.activity(j, inst, records.ActivityEntered, "trigger "+ev.Name, nil)
	for i := range j.Def.State {
		if r := &j.Def.State[i]; r.On == ev.Name {
			a.applyStateRule(j, inst, r, ev)
		}
	}
	if a.env.Catalog.State(j.Def.ID) != records.JourneyLive {
		return
	}
	a.run(j, inst, inst.Step, ev)
}

// reentryRefused says why the user may not enter j again, or "".
func (a *applier) reentryRefused(j *Journey, log *EntryLog, ev *records.Event) string {
	t := &j.Def.Trigger
	switch t.Reentry {
	case ReentryOnce:
		if log.Count > 0 {
			return "reentry once: already entered"
		}
	case ReentryCooldown:
		if log.Count > 0 && a.now.Sub(log.Last) < j.Duration(t.Cooldown) {
			return "reentry cooldown: entered " + a.now.Sub(log.Last).Round(time.Second).String() + " ago"
		}
	case ReentryOncePerSession:
		if ev.SessionID == "" {
			return "reentry once_per_session: event has no session ID"
		}
		if slices.Contains(log.Sessions, ev.SessionID) {
			return "reentry once_per_session: already entered in session " + ev.SessionID
		}
	}
	return ""
}

func (u *User) entryLog(journey string) *EntryLog {
	if u.Entries == nil {
		u.Entries = map[string]*EntryLog{}
	}
	l, ok := u.Entries[journey]
	if !ok {
		l = &EntryLog{}
		u.Entries[journey] = l
	}
	return l
}

// entryKey evaluates the trigger's key expression on an event; "" when
// the journey has none (one instance per user).
func (a *applier) entryKey(j *Journey, ev *records.Event) (string, error) {
	if j.Def.Trigger.Key == "" {
		return "", nil
	}
	k := entryKeyOf{j, ev}
	if r, ok := a.keys[k]; ok {
		return r.key, r.err
	}
	e := j.Expr(j.Def.Trigger.Key)
	key, err := e.String(a.vars(nil, ev, nil, uses(e)))
	if a.keys == nil {
		a.keys = map[entryKeyOf]entryKeyResult{}
	}
	a.keys[k] = entryKeyResult{key, err}
	return key, err
}

// InstanceID is the deterministic ID of the user's seq-th entry into
// journey (counted over all entry keys), under key, by the event whose
// message ID is trigger: replays of the same input produce the same IDs,
// and so the same command and activity IDs. The trigger keeps a user's
// new instances from taking the IDs, and their sends the command IDs, of
// instances the user had before being forgotten (docs/forget.md): the
// entry count starts again then, but the event is another.
func InstanceID(journey, user, key string, seq int, trigger string) string {
	h := sha256.New()
	for _, s := range []string{journey, user, key, strconv.Itoa(seq), trigger} {
		h.Write([]byte(strconv.Itoa(len(s))))
		h.Write([]byte{':'})
		h.Write([]byte(s))
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}
