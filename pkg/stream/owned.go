package stream

// Owned returns how many partitions this runner owns (restoring or
// ready) and how many of them are ready: for the owned-partitions gauge.
func (r *Runner) Owned() (owned, ready int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.parts {
		owned++
		if p.ready.Load() {
			ready++
		}
	}
	return owned, ready
}

// OwnedPartitions returns the partition numbers this runner owns,
// restoring or ready, in no particular order.
func (r *Runner) OwnedPartitions() []int32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]int32, 0, len(r.parts))
	for id := range r.parts {
		out = append(out, id)
	}
	return out
}
