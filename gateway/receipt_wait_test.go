package gateway

import (
	"context"
	"testing"
	"time"
)

func TestIDWaiters(t *testing.T) {
	ctx := context.Background()
	t.Run("no submit in flight: no wait", func(t *testing.T) {
		var w idWaiters
		start := time.Now()
		if w.wait(ctx, []string{"k"}, time.Second, func() bool { return false }) {
			t.Fatal("found")
		}
		if time.Since(start) > 50*time.Millisecond {
			t.Fatal("waited")
		}
	})
	t.Run("woken when the key is learnt", func(t *testing.T) {
		var w idWaiters
		done := w.submitStarted()
		defer done()
		var known bool
		go func() {
			time.Sleep(20 * time.Millisecond)
			w.learnt("other")
			w.mu.Lock()
			known = true
			w.mu.Unlock()
			w.learnt("k2")
		}()
		start := time.Now()
		ok := w.wait(ctx, []string{"k1", "k2"}, 5*time.Second, func() bool {
			w.mu.Lock()
			defer w.mu.Unlock()
			return known
		})
		if !ok || time.Since(start) > time.Second {
			t.Fatalf("ok %v after %v", ok, time.Since(start))
		}
		if w.n.Load() != 0 || len(w.byKey) != 0 {
			t.Fatalf("waiters left: %d %v", w.n.Load(), w.byKey)
		}
	})
	t.Run("gives up when the submits end without it", func(t *testing.T) {
		var w idWaiters
		done := w.submitStarted()
		go func() { time.Sleep(20 * time.Millisecond); done() }()
		start := time.Now()
		if w.wait(ctx, []string{"k"}, 5*time.Second, func() bool { return false }) {
			t.Fatal("found")
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("waited %v", d)
		}
	})
	t.Run("found at registration", func(t *testing.T) {
		var w idWaiters
		done := w.submitStarted()
		defer done()
		if !w.wait(ctx, []string{"k"}, 5*time.Second, func() bool { return true }) {
			t.Fatal("not found")
		}
	})
}
