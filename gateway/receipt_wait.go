package gateway

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// rcptLocalWait bounds how long a receipt whose SMSC id is not known yet
// waits for this instance's own submits in flight to learn it. SMSCs often
// send a receipt right behind (or even before) its submit_sm_resp, so the
// receipt reaches the inbound worker while the submit's worker is still
// recording the id; waiting here a few milliseconds instead of retrying the
// work item after ReceiptRetryMin (100 ms) is what keeps the submit →
// final-event p99 low.
const rcptLocalWait = time.Second

// idWaiters lets receipt handlers wait for an SMSC id key to be learnt by a
// submit of this instance (idCache.put). Puts are on the submit hot path,
// so with no waiter they cost one atomic load.
type idWaiters struct {
	submitting atomic.Int64 // submits of this instance whose ids are not cached yet
	n          atomic.Int64 // registered waiters
	mu         sync.Mutex
	byKey      map[string][]chan struct{}
}

// submitStarted counts a submit whose SMSC ids will be learnt (or not, if it
// fails) before the returned func is called.
func (w *idWaiters) submitStarted() (done func()) {
	w.submitting.Add(1)
	return func() { w.submitting.Add(-1) }
}

// learnt wakes the waiters of key.
func (w *idWaiters) learnt(key string) {
	if w.n.Load() == 0 {
		return
	}
	w.mu.Lock()
	chs := w.byKey[key]
	delete(w.byKey, key)
	w.mu.Unlock()
	for _, ch := range chs {
		close(ch)
	}
}

// wait waits until one of keys is learnt (lookup then finds it), or until
// no submit of this instance is in flight, d passes or ctx ends. lookup is
// called after registering, so a put between the caller's own lookup and
// the registration is not missed.
func (w *idWaiters) wait(ctx context.Context, keys []string, d time.Duration, lookup func() bool) bool {
	if len(keys) == 0 || w.submitting.Load() == 0 {
		return false
	}
	ch := make(chan struct{})
	w.n.Add(1)
	w.mu.Lock()
	if w.byKey == nil {
		w.byKey = map[string][]chan struct{}{}
	}
	for _, k := range keys {
		w.byKey[k] = append(w.byKey[k], ch)
	}
	w.mu.Unlock()
	var once sync.Once
	unregister := func() {
		once.Do(func() {
			w.mu.Lock()
			for _, k := range keys {
				chs := w.byKey[k]
				for i, c := range chs {
					if c == ch {
						chs = append(chs[:i], chs[i+1:]...)
						break
					}
				}
				if len(chs) == 0 {
					delete(w.byKey, k)
				} else {
					w.byKey[k] = chs
				}
			}
			w.mu.Unlock()
			w.n.Add(-1)
		})
	}
	defer unregister()
	if lookup() {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	// The in-flight submits may all end without learning this id (it is
	// someone else's, or unknown): check now and then rather than wait d.
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ch:
			return lookup()
		case <-tick.C:
			if w.submitting.Load() == 0 {
				return lookup()
			}
		case <-t.C:
			return lookup()
		case <-ctx.Done():
			return false
		}
	}
}
