package gateway

import "sync"

// engCache is a bounded map that forgets its oldest entries first. The
// engine keeps records it just wrote and the SMSC ids it just filed in it,
// so the receipt that follows a submit usually needs no KV read. It is only
// a hint: KV stays the truth (a stale record fails its revision check and
// is read again), so several instances still share work correctly.
type engCache[V any] struct {
	mu   sync.Mutex
	m    map[string]V
	ring []string
	next int
}

func newEngCache[V any](size int) *engCache[V] {
	return &engCache[V]{m: make(map[string]V, size), ring: make([]string, size)}
}

func (c *engCache[V]) get(k string) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[k]
	return v, ok
}

func (c *engCache[V]) put(k string, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[k]; !ok {
		if old := c.ring[c.next]; old != "" {
			delete(c.m, old)
		}
		c.ring[c.next] = k
		c.next = (c.next + 1) % len(c.ring)
	}
	c.m[k] = v
}

func (c *engCache[V]) del(k string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, k) // its ring slot is reused later; deleting a missing key is harmless
}

// engCachedRecord is a record and the revision it was written at.
type engCachedRecord struct {
	m   *Message
	rev uint64
}

// engClone copies m deeply enough that applying an update to the copy
// never changes m (Metadata is never modified, so it is shared).
func engClone(m *Message) *Message {
	c := *m
	c.PartIDs = append([]string(nil), m.PartIDs...)
	c.PartStates = append([]PartState(nil), m.PartStates...)
	c.Events = append(c.Events[:0:0], m.Events...)
	return &c
}
