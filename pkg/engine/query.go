package engine

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/beckon-dev/beckon/pkg/stream"
	"github.com/beckon-dev/beckon/pkg/timeline"
)

// QueryHandler serves the timelines of the users in the partitions this
// instance owns and has restored (docs/api-timelines.md):
//
//	GET /v1/users/{userId}/instances
//	GET /v1/users/{userId}/instances/{instanceId}   (the engine's instance ID)
//
// A user whose partition this instance does not own, or is restoring, is
// answered 503 with Retry-After, never with what this instance may still
// hold of it: the api service (timeline.Router) asks the owner again. It
// has no authentication: serve it on an internal address only.
func (e *Engine) QueryHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/users/{userId}/instances", func(w http.ResponseWriter, r *http.Request) {
		user := r.PathValue("userId")
		var out timeline.UserInstances
		err := e.queryUser(user, func(p int32, v stream.View) error {
			ix, err := viewTimelineIndex(v, user)
			if err != nil {
				return err
			}
			out = timeline.UserInstances{UserID: user, Partition: p, Instances: make([]timeline.Instance, 0, len(ix.Instances)), NotEntered: ix.NotEntered}
			// The index is written when an instance enters, sends or
			// exits; its newest entry says where it is now.
			last, err := lastEntries(v, user)
			if err != nil {
				return err
			}
			for _, ti := range ix.Instances {
				in := publicInstance(user, ti)
				var en timeline.Entry
				if b, ok := last[ti.InstanceID]; ok && json.Unmarshal(b, &en) == nil && !en.At.Before(in.LastAt) {
					in.LastAt, in.Step = en.At, en.Step
				}
				out.Instances = append(out.Instances, in)
			}
			slices.SortStableFunc(out.Instances, func(a, b timeline.Instance) int { return b.LastAt.Compare(a.LastAt) })
			if out.NotEntered == nil {
				out.NotEntered = []timeline.NotEntered{}
			}
			return nil
		})
		if err != nil {
			queryError(w, err)
			return
		}
		timeline.WriteJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("GET /v1/users/{userId}/instances/{instanceId}", func(w http.ResponseWriter, r *http.Request) {
		user, id := r.PathValue("userId"), r.PathValue("instanceId")
		var out timeline.InstanceTimeline
		found := false
		err := e.queryUser(user, func(p int32, v stream.View) error {
			ix, err := viewTimelineIndex(v, user)
			if err != nil {
				return err
			}
			ti := ix.find(id)
			if ti == nil {
				return nil
			}
			found = true
			out = timeline.InstanceTimeline{Instance: publicInstance(user, *ti), Partition: p, Entries: []timeline.Entry{}}
			pre := timelineInstancePrefix(user, id)
			return v.Range(pre, prefixEnd(pre), func(k, val []byte) bool {
				var en timeline.Entry
				if json.Unmarshal(val, &en) != nil {
					// One unreadable entry is left out, said so in the log;
					// the rest of the timeline is still worth showing.
					e.log.Warn("timeline: unreadable entry left out", "user", user, "instance", id, "key", fmt.Sprintf("%x", k))
					out.Truncated = true
					return true
				}
				if en.Sub == 0 {
					en.ActivityID = id + "-" + strconv.Itoa(en.Seq)
				}
				out.Entries = append(out.Entries, en)
				return true
			})
		})
		switch {
		case err != nil:
			queryError(w, err)
		case !found:
			timeline.WriteError(w, http.StatusNotFound, "not_found", fmt.Sprintf("no timeline of instance %s of user %q (never existed, or past the retention)", id, user))
		default:
			slices.SortStableFunc(out.Entries, func(a, b timeline.Entry) int { return cmp.Or(cmp.Compare(a.Seq, b.Seq), cmp.Compare(a.Sub, b.Sub)) })
			if n := len(out.Entries); n > 0 {
				out.Truncated = out.Truncated || out.Entries[0].Seq > 1
				if last := out.Entries[n-1]; !last.At.Before(out.LastAt) {
					out.LastAt, out.Step = last.At, last.Step
				}
			}
			timeline.WriteJSON(w, http.StatusOK, out)
		}
	})
	return mux
}

// errNoPartitionCount: the engine has not read the partition counts yet
// (before its first restore).
var errNoPartitionCount = errors.New("partition counts not known yet")

// queryUser runs fn on a view of the partition that holds user's state,
// if this instance owns it and has restored it.
func (e *Engine) queryUser(user string, fn func(partition int32, v stream.View) error) error {
	if user == "" || bytes.IndexByte([]byte(user), 0) >= 0 {
		return errBadUser
	}
	e.mu.Lock()
	r := e.runner
	e.mu.Unlock()
	if r == nil {
		return stream.ErrNotOwned
	}
	p, ok := r.PartitionOf(e.topics.events, []byte(user))
	if !ok {
		return errNoPartitionCount
	}
	return r.Query(p, func(v stream.View) error { return fn(p, v) })
}

var errBadUser = errors.New("user ID is empty or holds a zero byte")

func viewTimelineIndex(v stream.View, user string) (tlIndex, error) {
	var ix tlIndex
	b, ok, err := v.Get(timelineIndexKey(user))
	if err != nil || !ok {
		return ix, err
	}
	if err := json.Unmarshal(b, &ix); err != nil {
		return tlIndex{}, fmt.Errorf("stored timeline of user %q: %w", user, err)
	}
	return ix, nil
}

// lastEntries returns the newest entry of each of user's instances, by
// instance ID.
func lastEntries(v stream.View, user string) (map[string][]byte, error) {
	pre := append(timelinePrefix(user), 'e')
	last := map[string][]byte{}
	err := v.Range(pre, prefixEnd(timelinePrefix(user)), func(k, val []byte) bool {
		if len(k) >= len(pre)+7 {
			last[string(k[len(pre):len(k)-7])] = bytes.Clone(val)
		}
		return true
	})
	return last, err
}

func publicInstance(user string, ti tlInstance) timeline.Instance {
	in := ti.Instance
	in.ID, in.UserID = timeline.Ref(user, ti.InstanceID), user
	return in
}

// queryError answers a query that could not be served here: 503 and
// Retry-After while the partition is elsewhere or restoring.
func queryError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, stream.ErrNotOwned):
		timeline.Unavailable(w, "this engine instance does not own the user's partition (it is moving)")
	case errors.Is(err, stream.ErrNotRestored), errors.Is(err, errNoPartitionCount):
		timeline.Unavailable(w, "the user's partition is being restored on this engine instance")
	case errors.Is(err, errBadUser):
		timeline.WriteError(w, http.StatusBadRequest, "invalid", "userId: "+err.Error())
	default:
		timeline.WriteError(w, http.StatusInternalServerError, "internal", err.Error())
	}
}
