package engine

import (
	"context"
	"hash/fnv"
	"sync"
	"time"

	"github.com/beckon-dev/beckon/pkg/codec"
	"github.com/beckon-dev/beckon/pkg/records"
)

// profileCache keeps decoded profiles by user, checked against a hash of
// the stored bytes, so a user's events do not each pay for decoding the
// same profile. Entries are read-only once stored (the journey semantics
// never change a profile); at most max are kept, evicted at random.
type profileCache struct {
	mu   sync.RWMutex
	rows map[string]cachedProfile
	max  int
}

type cachedProfile struct {
	sum uint64
	p   *records.Profile
	loc *time.Location
}

func newProfileCache(max int) *profileCache {
	return &profileCache{rows: map[string]cachedProfile{}, max: max}
}

// get returns the decoded profile of raw, decoding and caching it on a
// miss; loc resolves the profile's time zone.
func (c *profileCache) get(ctx context.Context, cd *codec.Codec, user string, raw []byte, loc func(string) *time.Location) (*records.Profile, *time.Location, error) {
	h := fnv.New64a()
	h.Write(raw)
	sum := h.Sum64()
	c.mu.RLock()
	row, ok := c.rows[user]
	c.mu.RUnlock()
	if ok && row.sum == sum {
		return row.p, row.loc, nil
	}
	var p records.Profile
	if err := cd.Decode(ctx, raw, &p); err != nil {
		return nil, nil, err
	}
	row = cachedProfile{sum: sum, p: &p, loc: loc(p.TimeZone)}
	c.mu.Lock()
	if len(c.rows) >= c.max {
		for k := range c.rows {
			delete(c.rows, k)
			if len(c.rows) < c.max*7/8 {
				break
			}
		}
	}
	c.rows[user] = row
	c.mu.Unlock()
	return row.p, row.loc, nil
}

// drop removes user's profile from the cache (a forgotten user).
func (c *profileCache) drop(user string) {
	c.mu.Lock()
	delete(c.rows, user)
	c.mu.Unlock()
}
