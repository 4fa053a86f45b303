package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/beckon-dev/beckon/pkg/codec"
	"github.com/beckon-dev/beckon/pkg/journey"
	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/pkg/stream"
)

// The engine's table validators: a row the engine could not use later is
// dead-lettered when it arrives (stream.Validate), and the table keeps the
// key's previous row. Tombstones are always accepted.

// ErrKeyMismatch is the permanent error of a record whose key is not the
// ID its body is keyed by: processed under its key, it would reach the
// wrong user's state (or none) on a partition its user is not on.
var ErrKeyMismatch = errors.New("record key is not the record's ID")

// checkKey compares a record's key with the ID its body names; what is
// "user ID" or "journey key".
func checkKey(key []byte, id, what string) error {
	switch {
	case len(key) == 0:
		return fmt.Errorf("%w: the record has no key; it must be the %s (%q)", ErrKeyMismatch, what, id)
	case id == "":
		return fmt.Errorf("%w: the body has no %s; key %q", ErrKeyMismatch, what, key)
	case string(key) != id:
		return fmt.Errorf("%w: key %q, %s %q in the body", ErrKeyMismatch, key, what, id)
	case what == "user ID" && strings.IndexByte(id, 0) >= 0:
		// A zero byte separates a user's ID from an instance's in the
		// engine's state and timer keys (instanceKey, timerKey): such a
		// user's state could land on another user's instance.
		return fmt.Errorf("%w: the %s %q holds a zero byte", ErrKeyMismatch, what, id)
	}
	return nil
}

// decodeRow decodes a table row, marking a schema registry failure
// retryable: the row is not invalid, the registry is out of reach.
func (e *Engine) decodeRow(value []byte, into records.Record) error {
	if err := e.codec.Decode(context.Background(), value, into); err != nil {
		if codec.IsTransient(err) {
			return stream.Retryable(err)
		}
		return fmt.Errorf("decode %s: %w", into.AvroName(), err)
	}
	return nil
}

func (e *Engine) validateProfile(m stream.Message) error {
	if m.Value == nil {
		return nil
	}
	var p records.Profile
	if err := e.decodeRow(m.Value, &p); err != nil {
		return err
	}
	return checkKey(m.Key, p.UserID, "user ID")
}

func (e *Engine) validateFact(m stream.Message) error {
	if m.Value == nil {
		return nil
	}
	var f records.Fact
	if err := e.decodeRow(m.Value, &f); err != nil {
		return err
	}
	if err := checkKey(m.Key, f.UserID, "user ID"); err != nil {
		return err
	}
	if !json.Valid(f.Value) {
		return fmt.Errorf("fact %q of user %q: value is not JSON", f.Name, f.UserID)
	}
	return nil
}

func (e *Engine) validateLookup(m stream.Message) error {
	if m.Value == nil {
		return nil
	}
	var l records.LookupRecord
	if err := e.decodeRow(m.Value, &l); err != nil {
		return err
	}
	if err := checkKey(m.Key, l.ID, "entity ID"); err != nil {
		return err
	}
	if _, err := l.Attributes.Map(); err != nil {
		return fmt.Errorf("lookup row %q: attributes are not a JSON object: %w", l.ID, err)
	}
	return nil
}

// validateJourney rejects a journeys record the catalog cannot use: one
// that does not decode, whose key is not <journey>/<version>, whose
// definition does not parse, or a non-draft version that does not compile
// against the configured channels. The catalog, which follows the topic on
// its own, still records such a live version as has-errors; the dead
// letter tells the operator why.
func (e *Engine) validateJourney(m stream.Message) error {
	if m.Value == nil {
		return nil
	}
	var rec records.JourneyDefinition
	if err := e.decodeRow(m.Value, &rec); err != nil {
		return err
	}
	if err := checkJourneyKey(m.Key, &rec); err != nil {
		return err
	}
	if _, err := compileVersion(&rec, e.catalog.channels); err != nil && (rec.State != records.JourneyDraft || !errors.As(err, new(*compileError))) {
		return fmt.Errorf("journey %s version %d (%s): %w", rec.JourneyID, rec.Version, rec.State, err)
	}
	return nil
}

// checkJourneyKey checks that a journeys record is keyed
// <journey>/<version>, as the control plane writes it: compaction keeps
// one record per key, so another key would replace another version.
func checkJourneyKey(key []byte, rec *records.JourneyDefinition) error {
	return checkKey(key, rec.Key(), "journey key (<journey>/<version>)")
}

// compileVersion parses and compiles a journeys record's definition. A
// definition that parses but does not compile fails with a *compileError:
// a draft may be saved in that state.
func compileVersion(rec *records.JourneyDefinition, channels []string) (*journey.Journey, error) {
	def, err := journey.Parse([]byte(rec.Definition))
	if err == nil && def.ID != rec.JourneyID {
		err = fmt.Errorf("definition id %q does not match the record's journey %q", def.ID, rec.JourneyID)
	}
	if err != nil {
		return nil, err
	}
	j, err := journey.Compile(def, rec.Version, channels)
	if err != nil {
		return nil, &compileError{err}
	}
	return j, nil
}

// compileError is the error of a definition that parses but does not
// compile; it reads as the compiler's error.
type compileError struct{ err error }

func (c *compileError) Error() string { return c.err.Error() }
func (c *compileError) Unwrap() error { return c.err }
