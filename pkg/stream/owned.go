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
