package timeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/beckon-dev/beckon/pkg/stream"
)

// RouterConfig configures a Router.
type RouterConfig struct {
	// Admin reaches the Kafka cluster of the timeline processors. Required.
	Admin *kadm.Client
	// Group is the timeline processors' consumer group (Config.Group; the
	// engine service names it <engine group>-timelines). Required.
	Group string
	// Topic is the activity topic: its partition count places users, with
	// Kafka's default partitioner (murmur2), as the engine does, and the
	// members' assignments of it say who owns which. Required.
	Topic string
	// HTTP asks the processors; default a client with a 10s timeout.
	HTTP *http.Client
	// OwnersTTL is how long the owners read from the group are used
	// before they are read again; a refused or failed query reads them
	// again at once. Default 2s.
	OwnersTTL time.Duration
	Logger    *slog.Logger
}

// Router answers the timeline routes of the api service by asking the
// timeline processor instance that owns the user's partition, found from
// the timeline group: each member's metadata carries its query address (MemberData)
// and its assignment the partitions it owns. While the group rebalances,
// queries go to the owners of the last settled group, which answer for
// the partitions they kept. When the partition has no owner, or the owner
// refuses (it has given the partition up, or is restoring it), the
// answer is 503 with Retry-After and a JSON error body, never another
// instance's or a partial answer: only the owner of a restored partition
// answers for it (Processor.QueryHandler).
type Router struct {
	cfg RouterConfig

	mu     sync.Mutex
	owners *owners // nil: read them again
	// settled is the last view of a Stable group: while the group
	// rebalances, DescribeGroups returns no member metadata or
	// assignment, and queries go to the owners it names (see current).
	settled *owners
}

// owners is what the group said, at a point in time.
type owners struct {
	at         time.Time
	partitions int32
	addr       map[int32]string // partition -> query address
	stable     bool
	state      string
}

// NewRouter checks cfg and returns a Router.
func NewRouter(cfg RouterConfig) (*Router, error) {
	if cfg.Admin == nil || cfg.Group == "" || cfg.Topic == "" {
		return nil, errors.New("timeline router: Admin, Group and Topic are required")
	}
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.OwnersTTL <= 0 {
		cfg.OwnersTTL = 2 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Router{cfg: cfg}, nil
}

// Mount mounts the router's two routes with handle, e.g. the api
// service's
//
//	rt.Mount(func(method, pattern string, h http.Handler) { srv.Handle(method, pattern, api.Read, h) })
//
// The handlers read the path values of these patterns (userId,
// instanceId), so handle must register them with a Go 1.22 ServeMux
// pattern.
func (rt *Router) Mount(handle func(method, pattern string, h http.Handler)) {
	handle(http.MethodGet, "/v1/users/{userId}/instances", rt.UserInstances())
	handle(http.MethodGet, "/v1/instances/{instanceId}", rt.Instance())
}

// UserInstances serves GET /v1/users/{userId}/instances (UserInstances).
func (rt *Router) UserInstances() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user := r.PathValue("userId")
		if !validUser(w, user) {
			return
		}
		rt.forward(w, r, user, "/v1/users/"+url.PathEscape(user)+"/instances")
	})
}

// Instance serves GET /v1/instances/{instanceId} (InstanceTimeline), the
// instance ID being a reference (Ref) that names the user.
func (rt *Router) Instance() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, inst, err := ParseRef(r.PathValue("instanceId"))
		if err != nil {
			WriteError(w, http.StatusBadRequest, "invalid", "instanceId: "+err.Error())
			return
		}
		if !validUser(w, user) {
			return
		}
		rt.forward(w, r, user, "/v1/users/"+url.PathEscape(user)+"/instances/"+url.PathEscape(inst))
	})
}

func validUser(w http.ResponseWriter, user string) bool {
	if user == "" || strings.IndexByte(user, 0) >= 0 {
		WriteError(w, http.StatusBadRequest, "invalid", "userId: empty or holds a zero byte")
		return false
	}
	return true
}

// forward asks the owner of user's partition for path and relays its
// answer.
func (rt *Router) forward(w http.ResponseWriter, r *http.Request, user, path string) {
	o, err := rt.current(r.Context())
	if err != nil {
		rt.cfg.Logger.Warn("timeline router: cannot read the timeline group", "group", rt.cfg.Group, "err", err)
		Unavailable(w, "the timeline group cannot be read: "+err.Error())
		return
	}
	if o.state == "Empty" || o.state == "Dead" {
		Unavailable(w, "the timeline group has no members: no timeline processor runs")
		return
	}
	p := stream.PartitionFor([]byte(user), o.partitions)
	addr, ok := o.addr[p]
	if !ok {
		rt.invalidate()
		if !o.stable {
			Unavailable(w, fmt.Sprintf("the timeline group is rebalancing (%s) and partition %d had no owner before", o.state, p))
			return
		}
		Unavailable(w, fmt.Sprintf("partition %d has no timeline processor answering queries", p))
		return
	}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, baseURL(addr)+path, nil)
	if err != nil {
		WriteError(w, http.StatusInternalServerError, "internal", err.Error())
		return
	}
	req.Header.Set("Accept", "application/json")
	resp, err := rt.cfg.HTTP.Do(req)
	if err != nil {
		rt.invalidate()
		Unavailable(w, fmt.Sprintf("the timeline processor owning partition %d did not answer", p))
		return
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil || len(body) > maxAnswer {
		rt.invalidate()
		Unavailable(w, fmt.Sprintf("the answer of the timeline processor owning partition %d was cut short", p))
		return
	}
	if resp.StatusCode == http.StatusServiceUnavailable {
		rt.invalidate() // the owner refused: read the group again
	}
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		w.Header().Set("Retry-After", ra)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body)
}

// maxAnswer bounds an engine's answer (a timeline is bounded by the
// retention: 250 entries of a few KiB).
const maxAnswer = 32 << 20

func baseURL(addr string) string {
	if strings.HasPrefix(addr, "http://") || strings.HasPrefix(addr, "https://") {
		return strings.TrimSuffix(addr, "/")
	}
	return "http://" + addr
}

func (rt *Router) invalidate() {
	rt.mu.Lock()
	rt.owners = nil
	rt.mu.Unlock()
}

// current returns the owners, read again when older than OwnersTTL.
func (rt *Router) current(ctx context.Context) (*owners, error) {
	rt.mu.Lock()
	o := rt.owners
	rt.mu.Unlock()
	if o != nil && time.Since(o.at) < rt.cfg.OwnersTTL {
		return o, nil
	}
	o, err := rt.read(ctx)
	if err != nil {
		return nil, err
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	switch {
	case o.stable:
		rt.settled = o
	case rt.settled != nil:
		// A rebalance keeps every member's partitions where they are
		// until it completes (cooperative), and a partition changes
		// hands only after its owner has revoked it: the owners of the
		// last settled group still answer for what they kept, and
		// refuse (503, and the group is read again) what they gave up.
		// Refusing every query instead would make each rebalance, which
		// waits up to a heartbeat interval for every member to rejoin,
		// seconds of 503s for all users.
		o.addr = rt.settled.addr
	}
	rt.owners = o
	return o, nil
}

// read describes the group: who owns which partition of the events
// topic, and where each member answers queries.
func (rt *Router) read(ctx context.Context) (*owners, error) {
	topics, err := rt.cfg.Admin.ListTopics(ctx, rt.cfg.Topic)
	if err != nil {
		return nil, err
	}
	td, ok := topics[rt.cfg.Topic]
	if !ok || td.Err != nil || len(td.Partitions) == 0 {
		return nil, fmt.Errorf("topic %s: not found (%v)", rt.cfg.Topic, td.Err)
	}
	groups, err := rt.cfg.Admin.DescribeGroups(ctx, rt.cfg.Group)
	if err != nil {
		return nil, err
	}
	g, ok := groups[rt.cfg.Group]
	if !ok {
		return nil, fmt.Errorf("group %s: not described", rt.cfg.Group)
	}
	if errors.Is(g.Err, kerr.GroupIDNotFound) {
		// Newer brokers say so of a group nobody has joined yet (no
		// engine runs, or none with --timelines): the same as Dead.
		g.Err, g.State, g.Members = nil, "Dead", nil
	}
	if g.Err != nil {
		return nil, fmt.Errorf("group %s: %w", rt.cfg.Group, g.Err)
	}
	o := &owners{at: time.Now(), partitions: int32(len(td.Partitions)), addr: map[int32]string{}, state: g.State, stable: g.State == "Stable"}
	for _, m := range g.Members {
		meta, ok := m.Join.AsConsumer()
		if !ok {
			continue
		}
		addr, ok := ParseMemberData(meta.UserData)
		if !ok {
			continue
		}
		asg, ok := m.Assigned.AsConsumer()
		if !ok {
			continue
		}
		for _, t := range asg.Topics {
			if t.Topic != rt.cfg.Topic {
				continue
			}
			for _, p := range t.Partitions {
				o.addr[p] = addr
			}
		}
	}
	return o, nil
}

// Unavailable answers 503 with Retry-After: msg says why, and that a
// retry will do.
func Unavailable(w http.ResponseWriter, msg string) {
	w.Header().Set("Retry-After", strconv.Itoa(RetryAfterSeconds))
	WriteError(w, http.StatusServiceUnavailable, "unavailable", msg+": retry")
}

// WriteError answers status with the JSON error body (ErrorBody).
func WriteError(w http.ResponseWriter, status int, code, msg string) {
	var b ErrorBody
	b.Error.Code, b.Error.Message = code, msg
	WriteJSON(w, status, b)
}

// WriteJSON answers status with v as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
