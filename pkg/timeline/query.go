package timeline

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/pkg/stream"
)

// QueryHandler serves the timelines of the users in the partitions this
// instance owns and has restored (docs/api-timelines.md):
//
//	GET /v1/users/{userId}/instances
//	GET /v1/users/{userId}/instances/{instanceId}   (the engine's instance ID)
//
// A user whose partition this instance does not own, or is restoring, is
// answered 503 with Retry-After, never with what this instance may still
// hold of it: the api service (Router) asks the owner again. It
// has no authentication: serve it on an internal address only.
func (p *Processor) QueryHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/users/{userId}/instances", func(w http.ResponseWriter, r *http.Request) {
		user := r.PathValue("userId")
		var out UserInstances
		err := p.queryUser(user, func(part int32, v stream.View) error {
			ix, err := viewTimelineIndex(v, user)
			if err != nil {
				return err
			}
			out = UserInstances{UserID: user, Partition: part, Instances: make([]Instance, 0, len(ix.Instances)), NotEntered: ix.NotEntered}
			// The index is written when an instance enters, sends or
			// exits; its newest entry says where it is now.
			last, err := lastEntries(v, user)
			if err != nil {
				return err
			}
			for _, ti := range ix.Instances {
				in := publicInstance(user, ti)
				var en Entry
				if b, ok := last[ti.InstanceID]; ok && json.Unmarshal(b, &en) == nil && !en.At.Before(in.LastAt) {
					in.LastAt, in.Step = en.At, en.Step
				}
				out.Instances = append(out.Instances, in)
			}
			slices.SortStableFunc(out.Instances, func(a, b Instance) int { return b.LastAt.Compare(a.LastAt) })
			if out.NotEntered == nil {
				out.NotEntered = []NotEntered{}
			}
			return nil
		})
		if err != nil {
			queryError(w, err)
			return
		}
		WriteJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("GET /v1/users/{userId}/instances/{instanceId}", func(w http.ResponseWriter, r *http.Request) {
		user, id := r.PathValue("userId"), r.PathValue("instanceId")
		var out InstanceTimeline
		err := p.queryUser(user, func(part int32, v stream.View) error { return p.serveInstance(user, id, part, v, &out) })
		switch {
		case errors.Is(err, errNoInstance):
			WriteError(w, http.StatusNotFound, "not_found", fmt.Sprintf("no timeline of instance %s of user %q (never existed, or past the retention)", id, user))
		case err != nil:
			queryError(w, err)
		default:
			WriteJSON(w, http.StatusOK, out)
		}
	})
	return mux
}

var errNoInstance = errors.New("no such instance")

// serveInstance reads instance id of user from v into out: its summary,
// its entries oldest first, each "sent" entry with its send command.
func (p *Processor) serveInstance(user, id string, part int32, v stream.View, out *InstanceTimeline) error {
	ix, err := viewTimelineIndex(v, user)
	if err != nil {
		return err
	}
	ti := ix.find(id)
	if ti == nil {
		return errNoInstance
	}
	*out = InstanceTimeline{Instance: publicInstance(user, *ti), Partition: part, Entries: []Entry{}}
	pre := timelineInstancePrefix(user, id)
	err = v.Range(pre, prefixEnd(pre), func(k, val []byte) bool {
		var en Entry
		if json.Unmarshal(val, &en) != nil {
			// One unreadable entry is left out, said so in the log; the
			// rest of the timeline is still worth showing.
			p.log.Warn("timeline: unreadable entry left out", "user", user, "instance", id, "key", fmt.Sprintf("%x", k))
			out.Truncated = true
			return true
		}
		if en.Sub == 0 {
			en.ActivityID = id + "-" + strconv.Itoa(en.Seq)
		}
		out.Entries = append(out.Entries, en)
		return true
	})
	if err != nil {
		return err
	}
	for i := range out.Entries {
		en := &out.Entries[i]
		if en.Kind != string(records.ActivitySent) {
			continue
		}
		cmd := commandOf(&records.Activity{Kind: records.ActivitySent, Details: records.JSON(en.Details)})
		if cmd == "" {
			continue
		}
		b, ok, err := v.Get(sendKey(user, id, cmd))
		if err != nil {
			return err
		}
		var s Send
		if ok && json.Unmarshal(b, &s) == nil {
			en.Send = &s
		}
	}
	slices.SortStableFunc(out.Entries, func(a, b Entry) int { return cmp.Or(cmp.Compare(a.Seq, b.Seq), cmp.Compare(a.Sub, b.Sub)) })
	if n := len(out.Entries); n > 0 {
		out.Truncated = out.Truncated || out.Entries[0].Seq > 1
		if last := out.Entries[n-1]; !last.At.Before(out.LastAt) {
			out.LastAt, out.Step = last.At, last.Step
		}
	}
	return nil
}

// errNoPartitionCount: the processor has not read the partition counts yet
// (before its first restore).
var errNoPartitionCount = errors.New("partition counts not known yet")

// queryUser runs fn on a view of the partition that holds user's state,
// if this instance owns it and has restored it.
func (p *Processor) queryUser(user string, fn func(partition int32, v stream.View) error) error {
	if user == "" || bytes.IndexByte([]byte(user), 0) >= 0 {
		return errBadUser
	}
	r := p.currentRunner()
	if r == nil {
		return stream.ErrNotOwned
	}
	part, ok := r.PartitionOf(p.keyTopic, []byte(user))
	if !ok {
		return errNoPartitionCount
	}
	return r.Query(part, func(v stream.View) error { return fn(part, v) })
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
	err := v.Range(pre, prefixEnd(pre), func(k, val []byte) bool {
		if len(k) >= len(pre)+7 {
			last[string(k[len(pre):len(k)-7])] = bytes.Clone(val)
		}
		return true
	})
	return last, err
}

func publicInstance(user string, ti tlInstance) Instance {
	in := ti.Instance
	in.ID, in.UserID = Ref(user, ti.InstanceID), user
	return in
}

// queryError answers a query that could not be served here: 503 and
// Retry-After while the partition is elsewhere or restoring.
func queryError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, stream.ErrNotOwned):
		Unavailable(w, "this timeline processor instance does not own the user's partition (it is moving)")
	case errors.Is(err, stream.ErrNotRestored), errors.Is(err, errNoPartitionCount):
		Unavailable(w, "the user's partition is being restored on this timeline processor instance")
	case errors.Is(err, errBadUser):
		WriteError(w, http.StatusBadRequest, "invalid", "userId: "+err.Error())
	default:
		WriteError(w, http.StatusInternalServerError, "internal", err.Error())
	}
}
