package stream

import (
	"cmp"
	"fmt"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// coPartitionedProtocol is the group protocol name of CoPartitionedBalancer.
// Kafka only picks a protocol all members offer, so renaming it stalls a
// rolling deploy: old and new members could not form one group.
const coPartitionedProtocol = "beckon-copartitioned"

// CoPartitionedBalancer returns a cooperative, sticky group balancer that
// assigns partition p of every subscribed topic to one member, so that the
// member holding the state store of partition p sees every record of p.
//
// The unit of assignment is a partition number. Each member gets
// floor(P/M) or ceil(P/M) of the P numbers, and with each number p every
// topic-partition p of the topics it subscribes to. A member keeps the
// numbers it owned when that keeps the group balanced (sticky); numbers of
// members that left and the excess of over-loaded members go to
// under-loaded members, lowest number and first member (by instance ID,
// then member ID) first.
//
// A number moves in two rebalances (cooperative, KIP-429): the first takes
// it from its owner and gives it to nobody, and only once the owner has
// revoked it and rejoined, listing what it still owns (kgo's cooperative
// client rejoins by itself after revoking), does the second give it to its
// new owner. No topic-partition of a number is handed out while another
// member may still own any topic-partition of that number, so members that
// revoke before rejoining never hold the same number at once.
//
// During a rolling upgrade members may subscribe to different topics. A
// member is only given topics it subscribes to, and a number still has one
// owner: partition p of a topic that p's owner does not subscribe to is
// assigned to nobody (its committed offset holds) until the owner
// subscribes to it or p moves to a member that does. Splitting p between
// two members instead would give two members the state of p.
//
// If the subscribed topics differ in partition count, balancing fails with
// a *CoPartitionError; the group leader's PollFetches reports it wrapped in
// a *kgo.ErrGroupSession, and the group gets no assignment (the leader
// retries with backoff) until the counts match.
func CoPartitionedBalancer() kgo.GroupBalancer { return coPartitionedBalancer{} }

// coPartitionedBalancerWith is CoPartitionedBalancer with userData in the
// member's metadata (Options.GroupUserData).
func coPartitionedBalancerWith(userData []byte) kgo.GroupBalancer {
	return coPartitionedBalancer{userData: userData}
}

// CoPartitionError is the balancing error of a group whose subscribed
// topics do not all have the same partition count: partition p of one
// topic would not hold the same users as partition p of the other.
type CoPartitionError struct {
	// Topic is the first subscribed topic by name, with its partition count.
	Topic      string
	Partitions int32
	// Other is the first topic by name whose count differs from Topic's.
	Other           string
	OtherPartitions int32
}

func (e *CoPartitionError) Error() string {
	return fmt.Sprintf("input topics are not co-partitioned: %q has %d partitions but %q has %d; partition p of each would hold different users",
		e.Topic, e.Partitions, e.Other, e.OtherPartitions)
}

// coPartitionedBalancer implements kgo.GroupBalancer with kgo's "consumer"
// member metadata, so group tooling can still read members' subscriptions.
type coPartitionedBalancer struct {
	// userData is the member's ConsumerMemberMetadata.UserData: what it
	// tells the other members and group tooling about itself (the
	// address it answers queries on).
	userData []byte
}

func (coPartitionedBalancer) ProtocolName() string { return coPartitionedProtocol }

func (coPartitionedBalancer) IsCooperative() bool { return true }

// JoinGroupMetadata lists the topics the member subscribes to and what it
// owns now. Version 2 is the first to carry both OwnedPartitions (the
// stickiness and cooperative input) and Generation (which tells a stale
// claim from a current one). The output is sorted so that an unchanged
// member sends unchanged metadata and does not trigger a rebalance.
func (bal coPartitionedBalancer) JoinGroupMetadata(interests []string, currentAssignment map[string][]int32, generation int32) []byte {
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Version = 2
	meta.Topics = interests
	meta.UserData = bal.userData
	meta.Generation = generation
	for topic, partitions := range currentAssignment {
		owned := kmsg.NewConsumerMemberMetadataOwnedPartition()
		owned.Topic = topic
		owned.Partitions = slices.Sorted(slices.Values(partitions))
		meta.OwnedPartitions = append(meta.OwnedPartitions, owned)
	}
	slices.SortFunc(meta.OwnedPartitions, func(a, b kmsg.ConsumerMemberMetadataOwnedPartition) int {
		return cmp.Compare(a.Topic, b.Topic)
	})
	return meta.AppendTo(nil)
}

func (coPartitionedBalancer) ParseSyncAssignment(assignment []byte) (map[string][]int32, error) {
	return kgo.ParseConsumerSyncAssignment(assignment)
}

func (bal coPartitionedBalancer) MemberBalancer(members []kmsg.JoinGroupResponseMember) (kgo.GroupMemberBalancer, map[string]struct{}, error) {
	b, err := kgo.NewConsumerBalancer(bal, members)
	return b, b.MemberTopics(), err
}

// Balance plans the assignment of one rebalance; see CoPartitionedBalancer.
func (coPartitionedBalancer) Balance(b *kgo.ConsumerBalancer, topics map[string]int32) kgo.IntoSyncAssignment {
	names := slices.Sorted(maps.Keys(topics))
	if len(names) == 0 {
		return b.NewPlan()
	}
	numbers := topics[names[0]]
	for _, t := range names[1:] {
		if topics[t] != numbers {
			b.SetError(&CoPartitionError{Topic: names[0], Partitions: numbers, Other: t, OtherPartitions: topics[t]})
			return nil // untyped: kgo reports the error and sends no plan
		}
	}

	members := groupMembers(b, topics, numbers)
	owner := stickyOwners(members, numbers)
	plan := b.NewPlan()
	for p, i := range owner {
		if i < 0 {
			continue
		}
		m := &members[i]
		for _, t := range cooperativeTopics(members, i, int32(p)) {
			plan.AddPartition(m.join, t, int32(p))
		}
	}
	return plan
}

// groupMember is one member as the balancer sees it.
type groupMember struct {
	join *kmsg.JoinGroupResponseMember
	// topics are the subscribed topics that exist, sorted. A member
	// without any is given nothing.
	topics []string
	// generation is the last generation the member took part in; of two
	// members claiming a number, the one with the older generation missed
	// a rebalance and its claim is stale.
	generation int32
	// claims maps each partition number below the partition count that
	// the member says it owns, in any topic, to those topics.
	claims map[int32][]string
}

// groupMembers reads the members of b in a deterministic order: by instance
// ID (static members first), then member ID, whatever order the coordinator
// listed them in.
func groupMembers(b *kgo.ConsumerBalancer, topics map[string]int32, numbers int32) []groupMember {
	var members []groupMember
	b.EachMember(func(join *kmsg.JoinGroupResponseMember, meta *kmsg.ConsumerMemberMetadata) {
		m := groupMember{join: join, generation: meta.Generation, claims: make(map[int32][]string)}
		for _, t := range meta.Topics {
			if _, ok := topics[t]; ok && !slices.Contains(m.topics, t) {
				m.topics = append(m.topics, t)
			}
		}
		slices.Sort(m.topics)
		for _, owned := range meta.OwnedPartitions {
			for _, p := range owned.Partitions {
				if p >= 0 && p < numbers {
					m.claims[p] = append(m.claims[p], owned.Topic)
				}
			}
		}
		members = append(members, m)
	})
	slices.SortFunc(members, func(a, b groupMember) int {
		ai, bi := a.join.InstanceID, b.join.InstanceID
		switch {
		case ai != nil && bi != nil:
			if c := cmp.Compare(*ai, *bi); c != 0 {
				return c
			}
		case ai != nil:
			return -1
		case bi != nil:
			return 1
		}
		return cmp.Compare(a.join.MemberID, b.join.MemberID)
	})
	return members
}

// stickyOwners returns, for each partition number, the index in members of
// the member that should own it once the group settles, or -1 if no member
// subscribes to any of the topics.
//
// A number's current owner is the member claiming it with the newest
// generation (the first such member on a tie). The ceil(P/M) quotas go to
// the members that own the most numbers, so that as few numbers as possible
// move; each member keeps its lowest owned numbers up to its quota, and the
// rest, with the numbers nobody owns, fill the under-loaded members in
// order, lowest number first.
func stickyOwners(members []groupMember, numbers int32) []int {
	owner := make([]int, numbers)
	for p := range owner {
		owner[p] = -1
	}
	var eligible []int
	for i, m := range members {
		if len(m.topics) > 0 {
			eligible = append(eligible, i)
		}
	}
	if len(eligible) == 0 {
		return owner
	}

	kept := make(map[int][]int32, len(eligible))
	for p := range numbers {
		current := -1
		for _, i := range eligible {
			if _, ok := members[i].claims[p]; ok && (current < 0 || members[i].generation > members[current].generation) {
				current = i
			}
		}
		if current >= 0 {
			kept[current] = append(kept[current], p)
		}
	}

	base, extra := int(numbers)/len(eligible), int(numbers)%len(eligible)
	byOwned := slices.Clone(eligible)
	slices.SortStableFunc(byOwned, func(a, b int) int { return cmp.Compare(len(kept[b]), len(kept[a])) })
	quota := make(map[int]int, len(eligible))
	for rank, i := range byOwned {
		quota[i] = base
		if rank < extra {
			quota[i]++
		}
	}

	load := make(map[int]int, len(eligible))
	for _, i := range eligible {
		for _, p := range kept[i][:min(len(kept[i]), quota[i])] {
			owner[p] = i
			load[i]++
		}
	}
	p := int32(0)
	for _, i := range eligible {
		for ; load[i] < quota[i]; load[i]++ {
			for owner[p] >= 0 {
				p++
			}
			owner[p] = i
		}
	}
	return owner
}

// cooperativeTopics returns the topics at partition number p to give to
// members[i], p's settled owner, in this rebalance.
//
// While another member claims any topic at p, nothing of p that members[i]
// does not already own is given: the other member first revokes p (it is
// not in its plan) and rejoins, and the next rebalance completes the move.
// kgo's BalancePlan.AdjustCooperative is not enough, as it works per
// topic-partition: a topic nobody owned yet at p (newly created, or newly
// subscribed in a rolling upgrade) would go to the new owner at once while
// the old owner still held the other topics at p.
//
// A claim is trusted as current ownership only if no other member claims p
// with a newer generation; any other claim, even a stale one, still holds p
// back, because revoking more than needed is safe and sharing is not.
func cooperativeTopics(members []groupMember, i int, p int32) []string {
	m := &members[i]
	contested := false
	newest := m.generation
	for j := range members {
		if _, ok := members[j].claims[p]; ok && j != i {
			contested = true
			newest = max(newest, members[j].generation)
		}
	}
	if !contested {
		return m.topics
	}
	if m.generation < newest {
		return nil
	}
	var owned []string
	for _, t := range m.topics {
		if slices.Contains(m.claims[p], t) {
			owned = append(owned, t)
		}
	}
	return owned
}
