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
	eventsTopic   = "events"
	receiptsTopic = "receipts"
	profilesTopic = "profiles"
)

// inputTopics is the usual subscription: three co-partitioned input topics.
var inputTopics = []string{eventsTopic, profilesTopic, receiptsTopic}

// joiner is one group member's side of a rebalance: what its kgo client
// would send in JoinGroup.
type joiner struct {
	id, instance string
	topics       []string
	owned        map[string][]int32
	generation   int32
}

// syncPlan maps member ID => topic => partitions.
type syncPlan map[string]map[string][]int32

// partitionRange returns n, n+1, ..., m.
func partitionRange(n, m int32) []int32 {
	var ps []int32
	for p := n; p <= m; p++ {
		ps = append(ps, p)
	}
	return ps
}

// colocated returns ps in every one of topics: a co-located assignment.
func colocated(ps []int32, topics ...string) map[string][]int32 {
	m := make(map[string][]int32, len(topics))
	for _, t := range topics {
		m[t] = slices.Clone(ps)
	}
	return m
}

// partitionCounts returns topics with n partitions each.
func partitionCounts(n int32, topics ...string) map[string]int32 {
	m := make(map[string]int32, len(topics))
	for _, t := range topics {
		m[t] = n
	}
	return m
}

// joinMembers encodes members as the coordinator hands them to the leader.
func joinMembers(members []joiner) []kmsg.JoinGroupResponseMember {
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

// rebalance runs one rebalance as the group leader's client does, and decodes
// what each member receives in SyncGroup.
func rebalance(t *testing.T, topics map[string]int32, members []joiner) (syncPlan, error) {
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
	got := syncPlan{}
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
func checkCooperative(t *testing.T, topics map[string]int32, members []joiner, got syncPlan) {
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
func checkSettled(t *testing.T, topics map[string]int32, members []joiner, got syncPlan) {
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
	legacy := []string{eventsTopic, receiptsTopic} // before the upgrade adds profiles
	for _, tc := range []struct {
		name    string
		topics  map[string]int32
		members []joiner
		want    syncPlan
	}{{
		name:    "one member gets every partition",
		topics:  partitionCounts(4, inputTopics...),
		members: []joiner{{id: "a", topics: inputTopics}},
		want:    syncPlan{"a": colocated(partitionRange(0, 3), inputTopics...)},
	}, {
		name:    "three members split twelve numbers, co-located",
		topics:  partitionCounts(12, inputTopics...),
		members: []joiner{{id: "a", topics: inputTopics}, {id: "b", topics: inputTopics}, {id: "c", topics: inputTopics}},
		want: syncPlan{
			"a": colocated(partitionRange(0, 3), inputTopics...),
			"b": colocated(partitionRange(4, 7), inputTopics...),
			"c": colocated(partitionRange(8, 11), inputTopics...),
		},
	}, {
		name:   "a member left: its numbers are spread, the others keep theirs",
		topics: partitionCounts(12, inputTopics...),
		members: []joiner{
			{id: "a", topics: inputTopics, owned: colocated(partitionRange(0, 3), inputTopics...), generation: 4},
			{id: "c", topics: inputTopics, owned: colocated(partitionRange(8, 11), inputTopics...), generation: 4},
		},
		want: syncPlan{
			"a": colocated([]int32{0, 1, 2, 3, 4, 5}, inputTopics...),
			"c": colocated([]int32{6, 7, 8, 9, 10, 11}, inputTopics...),
		},
	}, {
		name:   "a member joined: the first round only revokes",
		topics: partitionCounts(12, inputTopics...),
		members: []joiner{
			{id: "a", topics: inputTopics, owned: colocated(partitionRange(0, 3), inputTopics...), generation: 4},
			{id: "b", topics: inputTopics, owned: colocated(partitionRange(4, 7), inputTopics...), generation: 4},
			{id: "c", topics: inputTopics, owned: colocated(partitionRange(8, 11), inputTopics...), generation: 4},
			{id: "d", topics: inputTopics, generation: -1},
		},
		want: syncPlan{
			"a": colocated(partitionRange(0, 2), inputTopics...),
			"b": colocated(partitionRange(4, 6), inputTopics...),
			"c": colocated(partitionRange(8, 10), inputTopics...),
			"d": {},
		},
	}, {
		name:   "a member joined: the second round completes the move",
		topics: partitionCounts(12, inputTopics...),
		members: []joiner{
			{id: "a", topics: inputTopics, owned: colocated(partitionRange(0, 2), inputTopics...), generation: 5},
			{id: "b", topics: inputTopics, owned: colocated(partitionRange(4, 6), inputTopics...), generation: 5},
			{id: "c", topics: inputTopics, owned: colocated(partitionRange(8, 10), inputTopics...), generation: 5},
			{id: "d", topics: inputTopics, generation: 5},
		},
		want: syncPlan{
			"a": colocated(partitionRange(0, 2), inputTopics...),
			"b": colocated(partitionRange(4, 6), inputTopics...),
			"c": colocated(partitionRange(8, 10), inputTopics...),
			"d": colocated([]int32{3, 7, 11}, inputTopics...),
		},
	}, {
		name:   "the ceil quota stays with the member owning the most",
		topics: partitionCounts(7, inputTopics...),
		members: []joiner{
			{id: "a", topics: inputTopics, owned: colocated(partitionRange(0, 2), inputTopics...), generation: 2},
			{id: "b", topics: inputTopics, owned: colocated(partitionRange(3, 6), inputTopics...), generation: 2},
			{id: "c", topics: inputTopics, generation: -1},
		},
		want: syncPlan{
			"a": colocated(partitionRange(0, 1), inputTopics...),
			"b": colocated(partitionRange(3, 5), inputTopics...),
			"c": {},
		},
	}, {
		name:   "rolling upgrade: each member gets only its topics, a number is never split",
		topics: partitionCounts(4, inputTopics...),
		members: []joiner{
			{id: "old", topics: legacy},
			{id: "new", topics: inputTopics},
		},
		// profiles 2 and 3 would go to "old", which does not read
		// profiles: they wait for the upgrade to finish.
		want: syncPlan{
			"new": colocated(partitionRange(0, 1), inputTopics...),
			"old": colocated(partitionRange(2, 3), legacy...),
		},
	}, {
		name:   "a member subscribing to no existing topic gets nothing",
		topics: partitionCounts(4, inputTopics...),
		members: []joiner{
			{id: "a", topics: inputTopics},
			{id: "b", topics: inputTopics},
			{id: "gone", topics: []string{"deleted"}},
		},
		want: syncPlan{
			"a":    colocated(partitionRange(0, 1), inputTopics...),
			"b":    colocated(partitionRange(2, 3), inputTopics...),
			"gone": {},
		},
	}, {
		// kgo's AdjustCooperative, working per topic-partition, would
		// give b profiles 2 and 3 now, while a still holds events and
		// receipts 2 and 3.
		name:   "a new topic follows its number's move, not ahead of it",
		topics: partitionCounts(4, inputTopics...),
		members: []joiner{
			{id: "a", topics: inputTopics, owned: colocated(partitionRange(0, 3), legacy...), generation: 3},
			{id: "b", topics: inputTopics, generation: -1},
		},
		want: syncPlan{
			"a": colocated(partitionRange(0, 1), inputTopics...),
			"b": {},
		},
	}, {
		// c missed a rebalance and still claims 0 and 1, which a owns
		// now. a keeps them; c is not given 3 while b holds it.
		name:   "a stale claim neither takes a number nor blocks its owner",
		topics: partitionCounts(4, inputTopics...),
		members: []joiner{
			{id: "a", topics: inputTopics, owned: colocated(partitionRange(0, 1), inputTopics...), generation: 5},
			{id: "b", topics: inputTopics, owned: colocated(partitionRange(2, 3), inputTopics...), generation: 5},
			{id: "c", topics: inputTopics, owned: colocated(partitionRange(0, 1), inputTopics...), generation: 3},
		},
		want: syncPlan{
			"a": colocated(partitionRange(0, 1), inputTopics...),
			"b": colocated(partitionRange(2, 2), inputTopics...),
			"c": {},
		},
	}, {
		// KIP-792: c missed rebalances and still claims 2 and 3, which
		// a has owned since. The plan moves them to c, but only once a
		// has revoked them.
		name:   "a stale claim does not let its member take the number back at once",
		topics: partitionCounts(4, inputTopics...),
		members: []joiner{
			{id: "a", topics: inputTopics, owned: colocated(partitionRange(0, 3), inputTopics...), generation: 5},
			{id: "c", topics: inputTopics, owned: colocated(partitionRange(2, 3), inputTopics...), generation: 3},
		},
		want: syncPlan{
			"a": colocated(partitionRange(0, 1), inputTopics...),
			"c": {},
		},
	}, {
		// Number 1 is already split between a and b (an earlier leader
		// with another balancer, or a zombie member). b keeps what it
		// has, but gets no more of 1 until a has revoked its part.
		name:   "a split number is not widened while a member still holds part of it",
		topics: partitionCounts(2, inputTopics...),
		members: []joiner{
			{id: "a", topics: inputTopics, owned: map[string][]int32{eventsTopic: {0, 1}, receiptsTopic: {0}}, generation: 5},
			{id: "b", topics: inputTopics, owned: map[string][]int32{receiptsTopic: {1}}, generation: 5},
		},
		want: syncPlan{
			"a": colocated([]int32{0}, inputTopics...),
			"b": {receiptsTopic: {1}},
		},
	}, {
		name:   "static members are ordered by instance ID",
		topics: partitionCounts(3, inputTopics...),
		members: []joiner{
			{id: "m1", instance: "zeta", topics: inputTopics},
			{id: "m2", instance: "alpha", topics: inputTopics},
			{id: "m0", topics: inputTopics},
		},
		want: syncPlan{
			"m2": colocated(partitionRange(0, 0), inputTopics...),
			"m1": colocated(partitionRange(1, 1), inputTopics...),
			"m0": colocated(partitionRange(2, 2), inputTopics...),
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := rebalance(t, tc.topics, tc.members)
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
	owning := func(id string, ps []int32, topics ...string) joiner {
		return joiner{id: id, topics: inputTopics, owned: colocated(ps, topics...), generation: 1}
	}
	fresh := func(ids ...string) []joiner {
		var ms []joiner
		for _, id := range ids {
			ms = append(ms, joiner{id: id, topics: inputTopics, generation: -1})
		}
		return ms
	}
	for _, tc := range []struct {
		name       string
		partitions int32
		members    []joiner
		wantRounds int
		wantMoved  int // numbers taken from a member still in the group
	}{{
		name:       "one member joins three",
		partitions: 12,
		members:    append([]joiner{owning("a", partitionRange(0, 3), inputTopics...), owning("b", partitionRange(4, 7), inputTopics...), owning("c", partitionRange(8, 11), inputTopics...)}, fresh("d")...),
		wantRounds: 2,
		wantMoved:  3,
	}, {
		name:       "one member of three leaves",
		partitions: 12,
		members:    []joiner{owning("a", partitionRange(0, 3), inputTopics...), owning("c", partitionRange(8, 11), inputTopics...)},
		wantRounds: 1,
	}, {
		name:       "two members join at once",
		partitions: 12,
		members:    append([]joiner{owning("a", partitionRange(0, 5), inputTopics...), owning("b", partitionRange(6, 11), inputTopics...)}, fresh("c", "d")...),
		wantRounds: 2,
		wantMoved:  6,
	}, {
		name:       "a member is replaced",
		partitions: 12,
		members:    append([]joiner{owning("a", partitionRange(0, 3), inputTopics...), owning("b", partitionRange(4, 7), inputTopics...)}, fresh("z")...),
		wantRounds: 1,
	}, {
		name:       "more members than numbers",
		partitions: 6,
		members:    append([]joiner{owning("a", partitionRange(0, 2), inputTopics...), owning("b", partitionRange(3, 5), inputTopics...)}, fresh("c", "d", "e", "f", "g", "h")...),
		wantRounds: 2,
		wantMoved:  4,
	}, {
		name:       "uneven count",
		partitions: 7,
		members:    append([]joiner{owning("a", partitionRange(0, 3), inputTopics...), owning("b", partitionRange(4, 6), inputTopics...)}, fresh("c")...),
		wantRounds: 2,
		wantMoved:  2,
	}, {
		name:       "every member subscribes to a new topic",
		partitions: 12,
		members:    []joiner{owning("a", partitionRange(0, 5), eventsTopic, receiptsTopic), owning("b", partitionRange(6, 11), eventsTopic, receiptsTopic)},
		wantRounds: 1,
	}, {
		name:       "a new topic and a new member at once",
		partitions: 12,
		members:    append([]joiner{owning("a", partitionRange(0, 11), eventsTopic, receiptsTopic)}, fresh("b")...),
		wantRounds: 2,
		wantMoved:  6,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			topics := partitionCounts(tc.partitions, inputTopics...)
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
				got, err := rebalance(t, topics, members)
				if err != nil {
					t.Fatalf("round %d: %v", rounds+1, err)
				}
				checkCooperative(t, topics, members, got)
				changed := false
				for i := range members {
					if !reflect.DeepEqual(got[members[i].id], orEmpty(members[i].owned)) {
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
					if was != m.id && slices.Contains(m.owned[eventsTopic], p) && slices.ContainsFunc(members, func(o joiner) bool { return o.id == was }) {
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

func orEmpty(m map[string][]int32) map[string][]int32 {
	if m == nil {
		return map[string][]int32{}
	}
	return m
}

func TestCoPartitionedBalancerRefusesMismatchedPartitionCounts(t *testing.T) {
	for _, tc := range []struct {
		name    string
		topics  map[string]int32
		members []joiner
		want    CoPartitionError
	}{{
		name:    "one member, three topics",
		topics:  map[string]int32{eventsTopic: 12, profilesTopic: 12, receiptsTopic: 6},
		members: []joiner{{id: "a", topics: inputTopics}},
		want:    CoPartitionError{Topic: eventsTopic, Partitions: 12, Other: receiptsTopic, OtherPartitions: 6},
	}, {
		name:    "members subscribing to different topics",
		topics:  map[string]int32{eventsTopic: 12, receiptsTopic: 24},
		members: []joiner{{id: "a", topics: []string{eventsTopic}}, {id: "b", topics: []string{receiptsTopic}}},
		want:    CoPartitionError{Topic: eventsTopic, Partitions: 12, Other: receiptsTopic, OtherPartitions: 24},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := rebalance(t, tc.topics, tc.members)
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
	topics := partitionCounts(11, inputTopics...)
	members := []joiner{
		{id: "m-3", topics: inputTopics, owned: colocated(partitionRange(0, 3), inputTopics...), generation: 7},
		{id: "m-1", instance: "i-2", topics: inputTopics, owned: colocated(partitionRange(7, 8), inputTopics...), generation: 7},
		{id: "m-2", instance: "i-1", topics: inputTopics},
		{id: "m-0", topics: []string{eventsTopic, receiptsTopic}},
	}
	first, err := rebalance(t, topics, members)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		shuffled := slices.Clone(members)
		if i%2 == 1 {
			slices.Reverse(shuffled)
		}
		got, err := rebalance(t, topics, shuffled)
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
	if !bal.IsCooperative() || bal.ProtocolName() != coPartitionedProtocol {
		t.Fatalf("protocol %q cooperative %v, want %q cooperative", bal.ProtocolName(), bal.IsCooperative(), coPartitionedProtocol)
	}
	owned := map[string][]int32{receiptsTopic: {3, 1}, eventsTopic: {1, 3}, profilesTopic: {1, 3}}
	raw := bal.JoinGroupMetadata(inputTopics, owned, 9)
	for range 10 { // map order varies between calls; the bytes must not
		if again := bal.JoinGroupMetadata(inputTopics, maps.Clone(owned), 9); !slices.Equal(again, raw) {
			t.Fatalf("metadata differs between calls: %x vs %x", raw, again)
		}
	}
	meta := kmsg.NewConsumerMemberMetadata()
	if err := meta.ReadFrom(raw); err != nil {
		t.Fatalf("parse: %v", err)
	}
	if meta.Version < 2 || meta.Generation != 9 || !slices.Equal(meta.Topics, inputTopics) {
		t.Errorf("version %d generation %d topics %v, want >= 2, 9, %v", meta.Version, meta.Generation, meta.Topics, inputTopics)
	}
	var got []string
	for _, o := range meta.OwnedPartitions {
		got = append(got, fmt.Sprintf("%s%v", o.Topic, o.Partitions))
	}
	if want := []string{"events[1 3]", "profiles[1 3]", "receipts[1 3]"}; !slices.Equal(got, want) {
		t.Errorf("owned partitions %v, want %v", got, want)
	}

	_, interests, err := bal.MemberBalancer(joinMembers([]joiner{{id: "a", topics: []string{eventsTopic}}, {id: "b", topics: []string{eventsTopic, receiptsTopic}}}))
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]struct{}{eventsTopic: {}, receiptsTopic: {}}; !reflect.DeepEqual(interests, want) {
		t.Errorf("group topics %v, want %v", interests, want)
	}
}

// liveOwnership tracks, from the members' own rebalance callbacks, which
// member owns which topic-partitions, and fails the test the moment a
// partition number has two owners or a member's partitions stop being
// co-located.
type liveOwnership struct {
	t      *testing.T
	prefix string   // trimmed from topic names
	topics []string // without prefix
	mu     sync.Mutex
	owned  map[string]map[int32][]string // member => number => topics
}

func (o *liveOwnership) assigned(who string, tps map[string][]int32) {
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

func (o *liveOwnership) released(who string, tps map[string][]int32) {
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

func (o *liveOwnership) checkColocated(who string) {
	for p, topics := range o.owned[who] {
		if len(topics) != len(o.topics) {
			o.t.Errorf("%s owns partition %d of %v only, not of all %v", who, p, topics, o.topics)
		}
	}
}

// numbersOwned returns how many numbers each member owns.
func (o *liveOwnership) numbersOwned() map[string]int {
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
func (o *liveOwnership) waitFor(want map[string]int) {
	o.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		got := o.numbersOwned()
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
	topics := []string{prefix + eventsTopic, prefix + receiptsTopic, prefix + profilesTopic}
	kafkatest.CreateTopics(t, brokers, 6, topics...)
	group := prefix + "group"

	own := &liveOwnership{t: t, prefix: prefix, topics: inputTopics, owned: map[string]map[int32][]string{}}
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
	kafkatest.CreateTopics(t, brokers, 2, prefix+eventsTopic)
	kafkatest.CreateTopics(t, brokers, 3, prefix+receiptsTopic)

	cl := kafkatest.Client(t, brokers,
		kgo.ConsumerGroup(prefix+"group"),
		kgo.ConsumeTopics(prefix+eventsTopic, prefix+receiptsTopic),
		kgo.Balancers(CoPartitionedBalancer()),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, tps map[string][]int32) {
			if len(tps) > 0 {
				t.Errorf("assigned %v over un-co-partitioned topics", tps)
			}
		}),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	want := CoPartitionError{Topic: prefix + eventsTopic, Partitions: 2, Other: prefix + receiptsTopic, OtherPartitions: 3}
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
