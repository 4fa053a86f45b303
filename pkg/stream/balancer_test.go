package stream

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beckon-dev/beckon/pkg/kafkatest"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const (
	events   = "events"
	receipts = "receipts"
	profiles = "profiles"
)

// inputs is the usual subscription: three co-partitioned input topics.
var inputs = []string{events, profiles, receipts}

// member is one group member's side of a rebalance: what its kgo client
// would send in JoinGroup.
type member struct {
	id, instance string
	topics       []string
	owned        map[string][]int32
	generation   int32
}

// assignment maps member ID => topic => partitions.
type assignment map[string]map[string][]int32

// numbers returns n, n+1, ..., m.
func numbers(n, m int32) []int32 {
	var ps []int32
	for p := n; p <= m; p++ {
		ps = append(ps, p)
	}
	return ps
}

// on returns ps in every one of topics: a co-located assignment.
func on(ps []int32, topics ...string) map[string][]int32 {
	m := make(map[string][]int32, len(topics))
	for _, t := range topics {
		m[t] = slices.Clone(ps)
	}
	return m
}

// counts returns topics with n partitions each.
func counts(n int32, topics ...string) map[string]int32 {
	m := make(map[string]int32, len(topics))
	for _, t := range topics {
		m[t] = n
	}
	return m
}

// joinMembers encodes members as the coordinator hands them to the leader.
func joinMembers(members []member) []kmsg.JoinGroupResponseMember {
	bal := CoPartitionedBalancer()
	var joined []kmsg.JoinGroupResponseMember
	for _, m := range members {
		j := kmsg.NewJoinGroupResponseMember()
		j.MemberID = m.id
		if m.instance != "" {
			j.InstanceID = kmsg.StringPtr(m.instance)
		}
		j.ProtocolMetadata = bal.JoinGroupMetadata(slices.Sorted(slices.Values(m.topics)), maps.Clone(m.owned), m.generation)
		joined = append(joined, j)
	}
	return joined
}

// balance runs one rebalance as the group leader's client does, and decodes
// what each member receives in SyncGroup.
func balance(t *testing.T, topics map[string]int32, members []member) (assignment, error) {
	t.Helper()
	bal := CoPartitionedBalancer()
	mb, _, err := bal.MemberBalancer(joinMembers(members))
	if err != nil {
		t.Fatalf("member balancer: %v", err)
	}
	into, err := mb.(kgo.GroupMemberBalancerOrError).BalanceOrError(topics)
	if err != nil {
		if into != nil {
			t.Errorf("balance failed with %v but returned plan %v", err, into)
		}
		return nil, err
	}
	got := assignment{}
	for _, a := range into.IntoSyncAssignment() {
		if _, dup := got[a.MemberID]; dup {
			t.Fatalf("member %s has two assignments", a.MemberID)
		}
		parsed, err := bal.ParseSyncAssignment(a.MemberAssignment)
		if err != nil {
			t.Fatalf("parse assignment of %s: %v", a.MemberID, err)
		}
		got[a.MemberID] = parsed
	}
	for _, m := range members {
		if _, ok := got[m.id]; !ok {
			t.Fatalf("member %s has no assignment in %v", m.id, got)
		}
	}
	return got, nil
}

// checkCooperative fails t unless got is a safe plan for a group whose
// members own what members say: topics only go to members subscribing to
// them, no partition number has two owners, and nothing a member does not
// already own is given while another member claims any topic at its number.
func checkCooperative(t *testing.T, topics map[string]int32, members []member, got assignment) {
	t.Helper()
	owner := map[int32]string{}
	for _, m := range members {
		for topic, ps := range got[m.id] {
			if !slices.Contains(m.topics, topic) {
				t.Errorf("%s got %s%v but does not subscribe to it", m.id, topic, ps)
			}
			for _, p := range ps {
				if p < 0 || p >= topics[topic] {
					t.Errorf("%s got %s[%d], out of range", m.id, topic, p)
				}
				if o, ok := owner[p]; ok && o != m.id {
					t.Errorf("partition %d is split between %s and %s", p, o, m.id)
				}
				owner[p] = m.id
				if slices.Contains(m.owned[topic], p) {
					continue
				}
				for _, other := range members {
					for ot, ops := range other.owned {
						if other.id != m.id && slices.Contains(ops, p) {
							t.Errorf("%s got %s[%d] while %s still owns %s[%d]", m.id, topic, p, other.id, ot, p)
						}
					}
				}
			}
		}
	}
}

// checkSettled fails t unless got is a final assignment: every member
// subscribing to an existing topic has floor(P/M) or ceil(P/M) numbers, and
// every number has an owner holding it in every topic it subscribes to.
func checkSettled(t *testing.T, topics map[string]int32, members []member, got assignment) {
	t.Helper()
	var partitions, eligible int32
	for _, n := range topics {
		partitions = n
	}
	for _, m := range members {
		if slices.ContainsFunc(m.topics, func(t string) bool { _, ok := topics[t]; return ok }) {
			eligible++
		}
	}
	owned := map[int32]bool{}
	for _, m := range members {
		mine := map[int32]bool{}
		for _, ps := range got[m.id] {
			for _, p := range ps {
				mine[p] = true
				owned[p] = true
			}
		}
		for _, topic := range m.topics {
			if _, ok := topics[topic]; ok && len(got[m.id][topic]) != len(mine) {
				t.Errorf("%s owns numbers %v but %s%v", m.id, slices.Sorted(maps.Keys(mine)), topic, got[m.id][topic])
			}
		}
		if n := int32(len(mine)); eligible > 0 && (n < partitions/eligible || n > (partitions+eligible-1)/eligible) {
			t.Errorf("%s owns %d of %d numbers among %d members: unbalanced", m.id, n, partitions, eligible)
		}
	}
	if eligible > 0 && int32(len(owned)) != partitions {
		t.Errorf("%d of %d numbers owned: %v", len(owned), partitions, got)
	}
}

func TestCoPartitionedBalancerAssigns(t *testing.T) {
	legacy := []string{events, receipts} // before the upgrade adds profiles
	for _, tc := range []struct {
		name    string
		topics  map[string]int32
		members []member
		want    assignment
	}{{
		name:    "one member gets every partition",
		topics:  counts(4, inputs...),
		members: []member{{id: "a", topics: inputs}},
		want:    assignment{"a": on(numbers(0, 3), inputs...)},
	}, {
		name:    "three members split twelve numbers, co-located",
		topics:  counts(12, inputs...),
		members: []member{{id: "a", topics: inputs}, {id: "b", topics: inputs}, {id: "c", topics: inputs}},
		want: assignment{
			"a": on(numbers(0, 3), inputs...),
			"b": on(numbers(4, 7), inputs...),
			"c": on(numbers(8, 11), inputs...),
		},
	}, {
		name:   "a member left: its numbers are spread, the others keep theirs",
		topics: counts(12, inputs...),
		members: []member{
			{id: "a", topics: inputs, owned: on(numbers(0, 3), inputs...), generation: 4},
			{id: "c", topics: inputs, owned: on(numbers(8, 11), inputs...), generation: 4},
		},
		want: assignment{
			"a": on([]int32{0, 1, 2, 3, 4, 5}, inputs...),
			"c": on([]int32{6, 7, 8, 9, 10, 11}, inputs...),
		},
	}, {
		name:   "a member joined: the first round only revokes",
		topics: counts(12, inputs...),
		members: []member{
			{id: "a", topics: inputs, owned: on(numbers(0, 3), inputs...), generation: 4},
			{id: "b", topics: inputs, owned: on(numbers(4, 7), inputs...), generation: 4},
			{id: "c", topics: inputs, owned: on(numbers(8, 11), inputs...), generation: 4},
			{id: "d", topics: inputs, generation: -1},
		},
		want: assignment{
			"a": on(numbers(0, 2), inputs...),
			"b": on(numbers(4, 6), inputs...),
			"c": on(numbers(8, 10), inputs...),
			"d": {},
		},
	}, {
		name:   "a member joined: the second round completes the move",
		topics: counts(12, inputs...),
		members: []member{
			{id: "a", topics: inputs, owned: on(numbers(0, 2), inputs...), generation: 5},
			{id: "b", topics: inputs, owned: on(numbers(4, 6), inputs...), generation: 5},
			{id: "c", topics: inputs, owned: on(numbers(8, 10), inputs...), generation: 5},
			{id: "d", topics: inputs, generation: 5},
		},
		want: assignment{
			"a": on(numbers(0, 2), inputs...),
			"b": on(numbers(4, 6), inputs...),
			"c": on(numbers(8, 10), inputs...),
			"d": on([]int32{3, 7, 11}, inputs...),
		},
	}, {
		name:   "the ceil quota stays with the member owning the most",
		topics: counts(7, inputs...),
		members: []member{
			{id: "a", topics: inputs, owned: on(numbers(0, 2), inputs...), generation: 2},
			{id: "b", topics: inputs, owned: on(numbers(3, 6), inputs...), generation: 2},
			{id: "c", topics: inputs, generation: -1},
		},
		want: assignment{
			"a": on(numbers(0, 1), inputs...),
			"b": on(numbers(3, 5), inputs...),
			"c": {},
		},
	}, {
		name:   "rolling upgrade: each member gets only its topics, a number is never split",
		topics: counts(4, inputs...),
		members: []member{
			{id: "old", topics: legacy},
			{id: "new", topics: inputs},
		},
		// profiles 2 and 3 would go to "old", which does not read
		// profiles: they wait for the upgrade to finish.
		want: assignment{
			"new": on(numbers(0, 1), inputs...),
			"old": on(numbers(2, 3), legacy...),
		},
	}, {
		name:   "a member subscribing to no existing topic gets nothing",
		topics: counts(4, inputs...),
		members: []member{
			{id: "a", topics: inputs},
			{id: "b", topics: inputs},
			{id: "gone", topics: []string{"deleted"}},
		},
		want: assignment{
			"a":    on(numbers(0, 1), inputs...),
			"b":    on(numbers(2, 3), inputs...),
			"gone": {},
		},
	}, {
		// kgo's AdjustCooperative, working per topic-partition, would
		// give b profiles 2 and 3 now, while a still holds events and
		// receipts 2 and 3.
		name:   "a new topic follows its number's move, not ahead of it",
		topics: counts(4, inputs...),
		members: []member{
			{id: "a", topics: inputs, owned: on(numbers(0, 3), legacy...), generation: 3},
			{id: "b", topics: inputs, generation: -1},
		},
		want: assignment{
			"a": on(numbers(0, 1), inputs...),
			"b": {},
		},
	}, {
		// c missed a rebalance and still claims 0 and 1, which a owns
		// now. a keeps them; c is not given 3 while b holds it.
		name:   "a stale claim neither takes a number nor blocks its owner",
		topics: counts(4, inputs...),
		members: []member{
			{id: "a", topics: inputs, owned: on(numbers(0, 1), inputs...), generation: 5},
			{id: "b", topics: inputs, owned: on(numbers(2, 3), inputs...), generation: 5},
			{id: "c", topics: inputs, owned: on(numbers(0, 1), inputs...), generation: 3},
		},
		want: assignment{
			"a": on(numbers(0, 1), inputs...),
			"b": on(numbers(2, 2), inputs...),
			"c": {},
		},
	}, {
		// KIP-792: c missed rebalances and still claims 2 and 3, which
		// a has owned since. The plan moves them to c, but only once a
		// has revoked them.
		name:   "a stale claim does not let its member take the number back at once",
		topics: counts(4, inputs...),
		members: []member{
			{id: "a", topics: inputs, owned: on(numbers(0, 3), inputs...), generation: 5},
			{id: "c", topics: inputs, owned: on(numbers(2, 3), inputs...), generation: 3},
		},
		want: assignment{
			"a": on(numbers(0, 1), inputs...),
			"c": {},
		},
	}, {
		// Number 1 is split between a and b (say, after a broker-side
		// failure). b keeps what it has, but gets no more of 1 until a
		// has revoked its part.
		name:   "a split number is not widened while a member still holds part of it",
		topics: counts(2, inputs...),
		members: []member{
			{id: "a", topics: inputs, owned: map[string][]int32{events: {0, 1}, receipts: {0}}, generation: 5},
			{id: "b", topics: inputs, owned: map[string][]int32{receipts: {1}}, generation: 5},
		},
		want: assignment{
			"a": on([]int32{0}, inputs...),
			"b": {receipts: {1}},
		},
	}, {
		name:   "static members are ordered by instance ID",
		topics: counts(3, inputs...),
		members: []member{
			{id: "m1", instance: "zeta", topics: inputs},
			{id: "m2", instance: "alpha", topics: inputs},
			{id: "m0", topics: inputs},
		},
		want: assignment{
			"m2": on(numbers(0, 0), inputs...),
			"m1": on(numbers(1, 1), inputs...),
			"m0": on(numbers(2, 2), inputs...),
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := balance(t, tc.topics, tc.members)
			if err != nil {
				t.Fatalf("balance: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("plan\n got %v\nwant %v", got, tc.want)
			}
			checkCooperative(t, tc.topics, tc.members, got)
		})
	}
}

// A group settles in one rebalance when nothing owned must move, and in two
// when something must (revoke, then assign), moving no more numbers than
// balance requires; every round is safe for the ownership it starts from.
func TestCoPartitionedBalancerSettles(t *testing.T) {
	owning := func(id string, ps []int32, topics ...string) member {
		return member{id: id, topics: inputs, owned: on(ps, topics...), generation: 1}
	}
	fresh := func(ids ...string) []member {
		var ms []member
		for _, id := range ids {
			ms = append(ms, member{id: id, topics: inputs, generation: -1})
		}
		return ms
	}
	for _, tc := range []struct {
		name       string
		partitions int32
		members    []member
		wantRounds int
		wantMoved  int // numbers taken from a member still in the group
	}{{
		name:       "one member joins three",
		partitions: 12,
		members:    append([]member{owning("a", numbers(0, 3), inputs...), owning("b", numbers(4, 7), inputs...), owning("c", numbers(8, 11), inputs...)}, fresh("d")...),
		wantRounds: 2,
		wantMoved:  3,
	}, {
		name:       "one member of three leaves",
		partitions: 12,
		members:    []member{owning("a", numbers(0, 3), inputs...), owning("c", numbers(8, 11), inputs...)},
		wantRounds: 1,
	}, {
		name:       "two members join at once",
		partitions: 12,
		members:    append([]member{owning("a", numbers(0, 5), inputs...), owning("b", numbers(6, 11), inputs...)}, fresh("c", "d")...),
		wantRounds: 2,
		wantMoved:  6,
	}, {
		name:       "a member is replaced",
		partitions: 12,
		members:    append([]member{owning("a", numbers(0, 3), inputs...), owning("b", numbers(4, 7), inputs...)}, fresh("z")...),
		wantRounds: 1,
	}, {
		name:       "more members than numbers",
		partitions: 6,
		members:    append([]member{owning("a", numbers(0, 2), inputs...), owning("b", numbers(3, 5), inputs...)}, fresh("c", "d", "e", "f", "g", "h")...),
		wantRounds: 2,
		wantMoved:  4,
	}, {
		name:       "uneven count",
		partitions: 7,
		members:    append([]member{owning("a", numbers(0, 3), inputs...), owning("b", numbers(4, 6), inputs...)}, fresh("c")...),
		wantRounds: 2,
		wantMoved:  2,
	}, {
		name:       "every member subscribes to a new topic",
		partitions: 12,
		members:    []member{owning("a", numbers(0, 5), events, receipts), owning("b", numbers(6, 11), events, receipts)},
		wantRounds: 1,
	}, {
		name:       "a new topic and a new member at once",
		partitions: 12,
		members:    append([]member{owning("a", numbers(0, 11), events, receipts)}, fresh("b")...),
		wantRounds: 2,
		wantMoved:  6,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			topics := counts(tc.partitions, inputs...)
			start := map[int32]string{}
			for _, m := range tc.members {
				for _, ps := range m.owned {
					for _, p := range ps {
						start[p] = m.id
					}
				}
			}
			members := slices.Clone(tc.members)
			rounds := 0
			for {
				got, err := balance(t, topics, members)
				if err != nil {
					t.Fatalf("round %d: %v", rounds+1, err)
				}
				checkCooperative(t, topics, members, got)
				changed := false
				for i := range members {
					if !reflect.DeepEqual(got[members[i].id], nonNil(members[i].owned)) {
						changed = true
					}
					members[i].owned = got[members[i].id]
					members[i].generation = int32(rounds + 2)
				}
				if !changed {
					checkSettled(t, topics, members, got)
					break
				}
				if rounds++; rounds > 4 {
					t.Fatalf("not settled after %d rounds: %v", rounds, got)
				}
			}
			if rounds != tc.wantRounds {
				t.Errorf("settled in %d rounds, want %d", rounds, tc.wantRounds)
			}
			moved := 0
			for _, m := range members {
				for p, was := range start {
					if was != m.id && slices.Contains(m.owned[events], p) && slices.ContainsFunc(members, func(o member) bool { return o.id == was }) {
						moved++
					}
				}
			}
			if moved != tc.wantMoved {
				t.Errorf("%d numbers moved between remaining members, want %d", moved, tc.wantMoved)
			}
		})
	}
}

func nonNil(m map[string][]int32) map[string][]int32 {
	if m == nil {
		return map[string][]int32{}
	}
	return m
}

func TestCoPartitionedBalancerRefusesMismatchedPartitionCounts(t *testing.T) {
	for _, tc := range []struct {
		name    string
		topics  map[string]int32
		members []member
		want    CoPartitionError
	}{{
		name:    "one member, three topics",
		topics:  map[string]int32{events: 12, profiles: 12, receipts: 6},
		members: []member{{id: "a", topics: inputs}},
		want:    CoPartitionError{Topic: events, Partitions: 12, Other: receipts, OtherPartitions: 6},
	}, {
		name:    "members subscribing to different topics",
		topics:  map[string]int32{events: 12, receipts: 24},
		members: []member{{id: "a", topics: []string{events}}, {id: "b", topics: []string{receipts}}},
		want:    CoPartitionError{Topic: events, Partitions: 12, Other: receipts, OtherPartitions: 24},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := balance(t, tc.topics, tc.members)
			var cpe *CoPartitionError
			if !errors.As(err, &cpe) {
				t.Fatalf("balance: err = %v, want a *CoPartitionError", err)
			}
			if *cpe != tc.want {
				t.Errorf("error %+v, want %+v", *cpe, tc.want)
			}
			for _, s := range []string{fmt.Sprintf("%q has %d", tc.want.Topic, tc.want.Partitions), fmt.Sprintf("%q has %d", tc.want.Other, tc.want.OtherPartitions)} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %s", err, s)
				}
			}
		})
	}
}

// The leader's plan depends only on the members, not on the order the
// coordinator lists them in or on map iteration.
func TestCoPartitionedBalancerIsDeterministic(t *testing.T) {
	// A member owning 4 to 6 and 9 to 10 left: they go to the newcomers.
	topics := counts(11, inputs...)
	members := []member{
		{id: "m-3", topics: inputs, owned: on(numbers(0, 3), inputs...), generation: 7},
		{id: "m-1", instance: "i-2", topics: inputs, owned: on(numbers(7, 8), inputs...), generation: 7},
		{id: "m-2", instance: "i-1", topics: inputs},
		{id: "m-0", topics: []string{events, receipts}},
	}
	first, err := balance(t, topics, members)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		shuffled := slices.Clone(members)
		if i%2 == 1 {
			slices.Reverse(shuffled)
		}
		got, err := balance(t, topics, shuffled)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, first) {
			t.Fatalf("run %d: plan %v, first run %v", i, got, first)
		}
	}
}

func TestCoPartitionedBalancerJoinMetadata(t *testing.T) {
	bal := CoPartitionedBalancer()
	if !bal.IsCooperative() || bal.ProtocolName() != CoPartitionedProtocol {
		t.Fatalf("protocol %q cooperative %v, want %q cooperative", bal.ProtocolName(), bal.IsCooperative(), CoPartitionedProtocol)
	}
	owned := map[string][]int32{receipts: {3, 1}, events: {1, 3}, profiles: {1, 3}}
	raw := bal.JoinGroupMetadata(inputs, owned, 9)
	for range 10 { // map order varies between calls; the bytes must not
		if again := bal.JoinGroupMetadata(inputs, maps.Clone(owned), 9); !slices.Equal(again, raw) {
			t.Fatalf("metadata differs between calls: %x vs %x", raw, again)
		}
	}
	meta := kmsg.NewConsumerMemberMetadata()
	if err := meta.ReadFrom(raw); err != nil {
		t.Fatalf("parse: %v", err)
	}
	if meta.Version < 2 || meta.Generation != 9 || !slices.Equal(meta.Topics, inputs) {
		t.Errorf("version %d generation %d topics %v, want >= 2, 9, %v", meta.Version, meta.Generation, meta.Topics, inputs)
	}
	var got []string
	for _, o := range meta.OwnedPartitions {
		got = append(got, fmt.Sprintf("%s%v", o.Topic, o.Partitions))
	}
	if want := []string{"events[1 3]", "profiles[1 3]", "receipts[1 3]"}; !slices.Equal(got, want) {
		t.Errorf("owned partitions %v, want %v", got, want)
	}

	_, interests, err := bal.MemberBalancer(joinMembers([]member{{id: "a", topics: []string{events}}, {id: "b", topics: []string{events, receipts}}}))
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]struct{}{events: {}, receipts: {}}; !reflect.DeepEqual(interests, want) {
		t.Errorf("group topics %v, want %v", interests, want)
	}
}

// ownership tracks, from the members' own rebalance callbacks, which
// member owns which topic-partitions, and fails the test the moment a
// partition number has two owners or a member's partitions stop being
// co-located.
type ownership struct {
	t      *testing.T
	prefix string   // trimmed from topic names
	topics []string // without prefix
	mu     sync.Mutex
	owned  map[string]map[int32][]string // member => number => topics
}

func (o *ownership) assigned(who string, tps map[string][]int32) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.owned[who] == nil {
		o.owned[who] = map[int32][]string{}
	}
	for topic, ps := range tps {
		topic = strings.TrimPrefix(topic, o.prefix)
		for _, p := range ps {
			for other, nums := range o.owned {
				if other != who && len(nums[p]) > 0 {
					o.t.Errorf("%s was assigned %s[%d] while %s owns %v[%d]", who, topic, p, other, nums[p], p)
				}
			}
			o.owned[who][p] = append(o.owned[who][p], topic)
		}
	}
	o.checkColocated(who)
}

func (o *ownership) released(who string, tps map[string][]int32) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for topic, ps := range tps {
		topic = strings.TrimPrefix(topic, o.prefix)
		for _, p := range ps {
			o.owned[who][p] = slices.DeleteFunc(o.owned[who][p], func(t string) bool { return t == topic })
			if len(o.owned[who][p]) == 0 {
				delete(o.owned[who], p)
			}
		}
	}
	o.checkColocated(who)
}

func (o *ownership) checkColocated(who string) {
	for p, topics := range o.owned[who] {
		if len(topics) != len(o.topics) {
			o.t.Errorf("%s owns partition %d of %v only, not of all %v", who, p, topics, o.topics)
		}
	}
}

// counts returns how many numbers each member owns.
func (o *ownership) counts() map[string]int {
	o.mu.Lock()
	defer o.mu.Unlock()
	c := map[string]int{}
	for who, nums := range o.owned {
		if len(nums) > 0 {
			c[who] = len(nums)
		}
	}
	return c
}

// waitFor waits until each member owns as many numbers as want says.
func (o *ownership) waitFor(want map[string]int) {
	o.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		got := o.counts()
		if maps.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			o.t.Fatalf("members own %v numbers, want %v", got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Three kgo members join a group one after another and one leaves; at no
// moment do two of them own the same partition number.
func TestCoPartitionedBalancerLiveGroup(t *testing.T) {
	t.Parallel()
	brokers := kafkatest.Brokers(t)
	prefix := kafkatest.Prefix(t)
	topics := []string{prefix + events, prefix + receipts, prefix + profiles}
	kafkatest.CreateTopics(t, brokers, 6, topics...)
	group := prefix + "group"

	own := &ownership{t: t, prefix: prefix, topics: inputs, owned: map[string]map[int32][]string{}}
	var polling sync.WaitGroup
	t.Cleanup(polling.Wait)
	join := func(who string) *kgo.Client {
		cl := kafkatest.Client(t, brokers,
			kgo.ConsumerGroup(group),
			kgo.ConsumeTopics(topics...),
			kgo.Balancers(CoPartitionedBalancer()),
			kgo.HeartbeatInterval(250*time.Millisecond), // notice rebalances quickly
			kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, tps map[string][]int32) { own.assigned(who, tps) }),
			kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, tps map[string][]int32) { own.released(who, tps) }),
			kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, tps map[string][]int32) {
				t.Errorf("%s lost %v: the group session failed", who, tps)
				own.released(who, tps)
			}),
		)
		polling.Add(1)
		go func() {
			defer polling.Done()
			for {
				fs := cl.PollFetches(context.Background())
				if fs.IsClientClosed() {
					return
				}
				fs.EachError(func(topic string, p int32, err error) { t.Errorf("%s: poll %s[%d]: %v", who, topic, p, err) })
			}
		}()
		return cl
	}

	join("a")
	own.waitFor(map[string]int{"a": 6})
	b := join("b")
	own.waitFor(map[string]int{"a": 3, "b": 3})
	join("c")
	own.waitFor(map[string]int{"a": 2, "b": 2, "c": 2})
	b.Close()
	own.waitFor(map[string]int{"a": 3, "c": 3})
}

// A group over topics with different partition counts gets no assignment,
// and the leader's poll reports why.
func TestCoPartitionedBalancerLiveGroupRefusesMismatch(t *testing.T) {
	t.Parallel()
	brokers := kafkatest.Brokers(t)
	prefix := kafkatest.Prefix(t)
	kafkatest.CreateTopics(t, brokers, 2, prefix+events)
	kafkatest.CreateTopics(t, brokers, 3, prefix+receipts)

	cl := kafkatest.Client(t, brokers,
		kgo.ConsumerGroup(prefix+"group"),
		kgo.ConsumeTopics(prefix+events, prefix+receipts),
		kgo.Balancers(CoPartitionedBalancer()),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, tps map[string][]int32) {
			if len(tps) > 0 {
				t.Errorf("assigned %v over un-co-partitioned topics", tps)
			}
		}),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	want := CoPartitionError{Topic: prefix + events, Partitions: 2, Other: prefix + receipts, OtherPartitions: 3}
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("no *CoPartitionError from poll within 15s")
		}
		for _, fe := range fs.Errors() {
			var cpe *CoPartitionError
			var session *kgo.ErrGroupSession
			if !errors.As(fe.Err, &cpe) || !errors.As(fe.Err, &session) {
				t.Fatalf("poll error %v, want a *CoPartitionError in a *kgo.ErrGroupSession", fe.Err)
			}
			if *cpe != want {
				t.Fatalf("error %+v, want %+v", *cpe, want)
			}
			return
		}
	}
}
