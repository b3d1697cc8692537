package gateway

import (
	"context"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// optCacheMaxStale bounds how old the opt-out cache may be when a submit
// trusts it: every opt-out stored (by any instance) more than this before
// the check is in it. Older than that (watcher behind, NATS down, not
// started yet), Has reads KV as before.
const optCacheMaxStale = time.Second

// optCacheCheck is how often the cache's freshness is re-established.
const optCacheCheck = 100 * time.Millisecond

// optCache is an in-memory copy of sms_optouts kept current by a KV watcher,
// so the per-submit opt-out check needs no KV read. Freshness: every
// optCacheCheck the bucket stream's last sequence L is read at time T; once
// the watcher has applied every revision up to L, the cache holds every
// write stored before T (freshAt = T). Has uses the cache only while
// freshAt is younger than optCacheMaxStale, so an opt-out made on another
// instance is seen within about optCacheMaxStale; this instance's own
// writes are applied at once (with their revisions, so an older watched
// entry never undoes them).
type optCache struct {
	mu      sync.RWMutex
	keys    map[string]optCacheEntry
	lastRev uint64    // highest revision the watcher applied
	ready   bool      // initial values received
	freshAt time.Time // see above; zero: not usable
	pendAt  time.Time // a freshness check waiting for the watcher
	pendSeq uint64
}

type optCacheEntry struct {
	rev uint64
	in  bool // on the list (false: removed at rev)
}

// apply records key's state at rev unless a newer one is known.
func (c *optCache) apply(key string, rev uint64, in bool) {
	if cur, ok := c.keys[key]; ok && cur.rev >= rev {
		return
	}
	c.keys[key] = optCacheEntry{rev: rev, in: in}
}

// set is apply for this instance's own writes.
func (c *optCache) set(key string, rev uint64, in bool) {
	c.mu.Lock()
	c.apply(key, rev, in)
	c.mu.Unlock()
}

// lookup answers from the cache; ok is false when it is not fresh enough.
func (c *optCache) lookup(key string, now time.Time) (has, ok bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if !c.ready || c.freshAt.IsZero() || now.Sub(c.freshAt) > optCacheMaxStale {
		return false, false
	}
	e := c.keys[key]
	return e.in, true
}

// optCacheStart starts the watcher and the freshness loop (once per Store,
// on the first check); both end when the NATS connection closes.
func (s *Store) optCacheStart() {
	s.optOnce.Do(func() {
		c := &optCache{keys: map[string]optCacheEntry{}}
		w, err := s.optouts.WatchAll(context.Background())
		if err != nil {
			s.log.Warn("opt-out cache not started; checks read KV", "err", err)
			return
		}
		s.oc = c
		go s.optCacheWatch(c, w)
		go s.optCacheFresh(c)
	})
}

func (s *Store) optCacheWatch(c *optCache, w jetstream.KeyWatcher) {
	defer func() { _ = w.Stop() }()
	for e := range w.Updates() {
		c.mu.Lock()
		if e == nil {
			c.ready = true
			if c.pendSeq != 0 && c.lastRev >= c.pendSeq {
				c.freshAt, c.pendSeq = c.pendAt, 0
			}
		} else {
			k := e.Key()
			c.apply(k, e.Revision(), e.Operation() == jetstream.KeyValuePut)
			if r := e.Revision(); r > c.lastRev {
				c.lastRev = r
			}
			if c.ready && c.pendSeq != 0 && c.lastRev >= c.pendSeq {
				c.freshAt, c.pendSeq = c.pendAt, 0
			}
		}
		c.mu.Unlock()
	}
	// Watcher gone (connection closed): stop trusting the cache.
	c.mu.Lock()
	c.ready, c.freshAt = false, time.Time{}
	c.mu.Unlock()
}

func (s *Store) optCacheFresh(c *optCache) {
	t := time.NewTicker(optCacheCheck)
	defer t.Stop()
	for range t.C {
		if s.b.NC == nil || s.b.NC.IsClosed() {
			return
		}
		if !s.b.NC.IsConnected() {
			continue
		}
		at := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), optCacheMaxStale)
		st, err := s.optouts.Status(ctx)
		cancel()
		if err != nil {
			continue
		}
		last := st.(*jetstream.KeyValueBucketStatus).StreamInfo().State.LastSeq
		c.mu.Lock()
		if c.ready && c.lastRev >= last {
			c.freshAt, c.pendSeq = at, 0
		} else if c.pendSeq == 0 || !c.ready {
			// The watcher is behind: it makes the cache fresh as of at
			// once it has applied last (see optCacheWatch).
			c.pendAt, c.pendSeq = at, max(last, 1)
		}
		c.mu.Unlock()
	}
}

// hasCached answers Has from the watched copy alone, without blocking;
// ok is false when Has must be asked (copy not fresh or not started,
// NATS down, a key that cannot be one).
func (s *Store) hasCached(account, number string) (has, ok bool) {
	k, err := optOutKey(account, number)
	if err != nil || s.connected() != nil {
		return false, false
	}
	s.optCacheStart()
	if s.oc == nil {
		return false, false
	}
	return s.oc.lookup(k, time.Now())
}
