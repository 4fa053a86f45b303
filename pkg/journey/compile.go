package journey

import (
	"time"

	// Time zones must resolve the same on every host, a scratch container
	// included, or a definition valid in one place fails in another.
	_ "time/tzdata"
)

// Journey is a validated definition with its expressions compiled and its
// durations parsed, ready for the engine. It is immutable and safe for
// concurrent use.
type Journey struct {
	Def     *Definition
	Version int32
	// Location is policies.time_zone, UTC by default: the zone for users
	// whose profile has none.
	Location *time.Location

	exprs map[string]*Expr
	durs  map[string]time.Duration
	steps map[string]int
}

// Compile validates def (see Validate) and compiles every CEL expression
// and parses every duration it uses, once.
func Compile(def *Definition, version int32, channels []string) (*Journey, error) {
	c := check(def, channels)
	if len(c.errs) > 0 {
		return nil, newValidationError(c.errs)
	}
	loc := time.UTC
	if tz := def.Policies.TimeZone; tz != "" {
		var err error
		if loc, err = time.LoadLocation(tz); err != nil {
			return nil, newValidationError([]FieldError{{Path: "policies.time_zone", Reason: err.Error()}})
		}
	}
	return &Journey{Def: def, Version: version, Location: loc, exprs: c.exprs, durs: c.durs, steps: c.steps}, nil
}

// Expr returns the compiled expression of a source string the definition
// uses; nil for "" (and for a string the definition does not use as an
// expression).
func (j *Journey) Expr(src string) *Expr { return j.exprs[src] }

// Duration returns the parsed value of a duration string the definition
// uses; 0 for "".
func (j *Journey) Duration(s string) time.Duration { return j.durs[s] }

// Step returns the step with the given ID and its index.
func (j *Journey) Step(id string) (*Step, int, bool) {
	i, ok := j.steps[id]
	if !ok {
		return nil, -1, false
	}
	return &j.Def.Steps[i], i, true
}

// NextOf returns the ID of the step that follows step i: its next, else
// the next in the list, else ExitTarget.
func (j *Journey) NextOf(i int) string { return nextOf(j.Def, i) }
