package engine

import (
	"cmp"
	"slices"

	"github.com/beckon-dev/beckon/pkg/records"
)

// VersionRecord is one record of the journeys topic as the catalog holds
// it: what the control plane lists and shows.
type VersionRecord struct {
	records.JourneyDefinition
	// Err says why the version does not compile against the catalog's
	// channels (a *journey.ValidationError when it does not validate);
	// nil when it does.
	Err error
}

// JourneyIDs returns the ID of every journey with at least one version
// record, sorted.
func (c *Catalog) JourneyIDs() []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	ids := make([]string, 0, len(c.versions))
	for id := range c.versions {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Records returns every version record of a journey, drafts included,
// by ascending version; none when the journey is unknown.
func (c *Catalog) Records(id string) []VersionRecord {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]VersionRecord, 0, len(c.versions[id]))
	for _, v := range c.versions[id] {
		out = append(out, VersionRecord{JourneyDefinition: v.rec, Err: v.err})
	}
	slices.SortFunc(out, func(a, b VersionRecord) int { return cmp.Compare(a.Version, b.Version) })
	return out
}

// Changed returns a channel that is closed at the next change to the
// catalog, so that a writer can wait until its own write has been read
// back instead of polling.
func (c *Catalog) Changed() <-chan struct{} {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.changed
}
