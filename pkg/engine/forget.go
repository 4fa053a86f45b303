package engine

import (
	"context"
	"fmt"
	"strings"

	"github.com/beckon-dev/beckon/pkg/codec"
	"github.com/beckon-dev/beckon/pkg/journey"
	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/pkg/stream"
)

// forget carries out a record of the forget topic (docs/forget.md): in
// the partition's transaction it ends the user's instances (their exits
// reach the activity topic, so counts and timelines see them end),
// deletes the user's whole state (head, instances, the frequency caps and
// entry history the head holds) and every timer, and writes a tombstone
// keyed by the user to each user-keyed topic the engine writes, so that
// compaction erases the user's records there and each consumer learns to
// forget the user after the last record the engine wrote about them.
//
// The key is the request: an empty value forgets the key's user. A value
// is a ForgetRequest for the audit trail; one that cannot be decoded
// still forgets the key's user (the log says why its request ID is
// missing), but one that names another user is a dead letter: which of
// the two was meant is not the engine's to guess.
func (e *Engine) forget(c partition, m stream.Message) error {
	user := string(m.Key)
	if user == "" || strings.IndexByte(user, 0) >= 0 {
		return fmt.Errorf("forget: %w: the key must be a user ID without zero bytes", ErrKeyMismatch)
	}
	var req records.ForgetRequest
	if len(m.Value) > 0 {
		switch err := e.codec.Decode(context.Background(), m.Value, &req); {
		case err != nil && codec.IsTransient(err):
			return fmt.Errorf("decode forget request: %w", err)
		case err != nil:
			e.log.WarnContext(m.Context(), "forget request value is undecodable: the key's user is forgotten without its request ID", "partition", m.Partition, "offset", m.Offset, "err", err)
		default:
			if err := checkKey(m.Key, req.UserID, "user ID"); err != nil {
				return fmt.Errorf("forget request %s: %w", req.RequestID, err)
			}
		}
	}
	u, _, err := e.loadUser(c, user, nil)
	switch {
	case err != nil && stream.IsRetryable(err):
		return err
	case err != nil:
		// Undecodable state is forgotten like any other: the prefix
		// deletes below take it.
		e.log.WarnContext(m.Context(), "forgetting a user whose state is undecodable", "partition", m.Partition, "offset", m.Offset, "err", err)
		u = &journey.User{ID: user}
	}
	fx, err := journey.Forget(u, c.Now())
	if err != nil {
		return fmt.Errorf("forget: %w", err) // a bug: loadUser read every instance
	}
	if err := e.timers(c, user, fx.Timers); err != nil {
		return err
	}
	prefix := append([]byte(user), 0)
	// Timers and instances under the user's prefix that the head does
	// not list (left by an older engine, or by a head that cannot be
	// read) go too.
	if err := c.CancelPrefix(prefix); err != nil {
		return stream.Retryable(fmt.Errorf("cancel the timers of a forgotten user: %w", err))
	}
	if err := c.DeletePrefix(prefix); err != nil {
		return stream.Retryable(fmt.Errorf("delete the state of a forgotten user: %w", err))
	}
	c.Delete(m.Key)
	if err := e.emit(c, journey.Input{}, fx); err != nil {
		return err
	}
	for _, topic := range e.erasable() {
		c.Emit(topic, m.Key, nil)
	}
	p, requestID := c.Partition(), req.RequestID
	c.AfterCommit(func() {
		e.profiles.drop(user)
		// The request ID and the partition, never the user ID: the log
		// outlives the erasure.
		e.log.Info("user forgotten", "request_id", requestID, "partition", p, "instances_ended", len(fx.Activities))
	})
	return nil
}

// erasable returns the user-keyed topics the engine writes, which are
// compacted as well as deleted (topics.EraseLag): a tombstone keyed by a
// user erases the user's records there.
func (e *Engine) erasable() []string {
	out := []string{e.topics.activity, e.topics.handoff}
	for _, name := range sortedNames(e.topics.send) {
		out = append(out, e.topics.send[name])
	}
	return out
}
