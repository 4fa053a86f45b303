package journeymetrics

import (
	"encoding/json"
	"fmt"
	"time"
)

// Measure names what a cell counts.
type Measure string

// The measures. Flows (everything but MeasureActive) are counted all time
// and per hour; MeasureActive is a level, kept all time only.
const (
	MeasureEntered   Measure = "entered"   // instances that entered (at their first step)
	MeasureActive    Measure = "active"    // instances whose latest transition was at the step
	MeasureExited    Measure = "exited"    // instances that ended, by reason
	MeasureSent      Measure = "sent"      // send commands the engine issued
	MeasureSkipped   Measure = "skipped"   // sends or entries a rule skipped, by reason
	MeasureConverted Measure = "converted" // instances that reached the journey's goal
	MeasureErrors    Measure = "errors"    // error activities (bad expressions, missing steps)
	// Receipt measures count sends with at least one receipt of the
	// status, once per send however many such receipts come.
	MeasureAccepted     Measure = "accepted" // receipt status "sent": the provider took it
	MeasureDelivered    Measure = "delivered"
	MeasureFailed       Measure = "failed"
	MeasureOpened       Measure = "opened"
	MeasureClicked      Measure = "clicked"
	MeasureReplied      Measure = "replied"
	MeasureUnsubscribed Measure = "unsubscribed"
)

// maxReasonBytes bounds a reason kept in a key: reasons are short
// sentences, but some quote an expression's error.
const maxReasonBytes = 200

// Cell identifies one count: a measure of one step of one journey
// version, in one hour or all time. Journey-level activities (an entry
// refused before any instance existed) have Step "".
type Cell struct {
	Journey string  `json:"j"`
	Version int32   `json:"v"`
	Step    string  `json:"s"`
	Measure Measure `json:"m"`
	Reason  string  `json:"r,omitempty"`
	// Hour is the start of the hour in Unix hours (seconds/3600); 0 is
	// all time.
	Hour int64 `json:"h,omitempty"`
}

// hourOf returns t's Unix hour; never 0, which means all time.
func hourOf(t time.Time) int64 {
	h := t.Unix() / 3600
	if h <= 0 {
		return 1
	}
	return h
}

// outputKey is a record key of the metrics topic: a cell and the input
// partition whose partial count the record carries.
type outputKey struct {
	Cell
	Partition int32 `json:"p"`
}

// encode is deterministic (struct fields in order), so the same cell and
// partition always make the same key and compaction keeps its latest
// partial count.
func (k outputKey) encode() []byte {
	b, err := json.Marshal(k)
	if err != nil {
		panic(fmt.Sprintf("journeymetrics: encode key: %v", err)) // strings and integers only
	}
	return b
}

func decodeOutputKey(b []byte) (outputKey, error) {
	var k outputKey
	if err := json.Unmarshal(b, &k); err != nil {
		return k, fmt.Errorf("metrics key %q: %w", b, err)
	}
	if k.Journey == "" || k.Measure == "" {
		return k, fmt.Errorf("metrics key %q: no journey or measure", b)
	}
	return k, nil
}
