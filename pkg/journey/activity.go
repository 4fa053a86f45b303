package journey

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"

	"github.com/beckon-dev/beckon/pkg/records"
)

// activity records a transition of inst. Its ID is the instance ID and a
// per-instance sequence number, so a replayed input yields the same IDs.
// j may be nil when the instance's version is unknown.
func (a *applier) activity(j *Journey, inst *Instance, kind records.ActivityKind, reason string, details map[string]any) {
	span := a.span(inst, kind == records.ActivityEntered)
	inst.Seq++
	act := records.Activity{
		ActivityID:     inst.ID + "-" + strconv.Itoa(inst.Seq),
		InstanceID:     inst.ID,
		JourneyID:      inst.Journey,
		JourneyVersion: inst.Version,
		UserID:         a.u.ID,
		EntryKey:       inst.EntryKey,
		StepID:         inst.Step,
		Kind:           kind,
		Reason:         reason,
		At:             a.now,
		TraceID:        inst.TraceID,
		SpanID:         span,
	}
	if j != nil {
		act.JourneyVersion = j.Version
	}
	if len(details) > 0 {
		act.Details = detailsJSON(details)
	}
	a.fx.Activities = append(a.fx.Activities, act)
}

// userActivity records something that happened for the user and a
// journey outside any instance: an entry refused or failed. Its ID hashes
// the journey, user, input and reason.
func (a *applier) userActivity(j *Journey, kind records.ActivityKind, reason string, details map[string]any) {
	h := sha256.New()
	for _, s := range []string{j.Def.ID, a.u.ID, a.inputID(), string(kind), reason} {
		h.Write([]byte(strconv.Itoa(len(s))))
		h.Write([]byte{':'})
		h.Write([]byte(s))
	}
	act := records.Activity{
		ActivityID:     hex.EncodeToString(h.Sum(nil)[:12]),
		JourneyID:      j.Def.ID,
		JourneyVersion: j.Version,
		UserID:         a.u.ID,
		Kind:           kind,
		Reason:         reason,
		At:             a.now,
		TraceID:        a.in.TraceID,
		SpanID:         a.in.SpanID,
	}
	if len(details) > 0 {
		act.Details = detailsJSON(details)
	}
	a.fx.Activities = append(a.fx.Activities, act)
}

// inputID identifies the input for activity IDs.
func (a *applier) inputID() string {
	switch {
	case a.in.Event != nil:
		return "event:" + a.in.Event.MessageID + "@" + a.in.Event.Timestamp.String()
	case a.in.Receipt != nil:
		return "receipt:" + a.in.Receipt.ReceiptID
	}
	return "wake:" + a.in.Wake + "@" + a.now.String()
}
