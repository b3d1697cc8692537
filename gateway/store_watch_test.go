package gateway

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// The shared watcher cancels every live context with ErrDisconnected once
// the connection is down, leaves finished ones alone, and stops when none
// is left.
func TestConnWatch(t *testing.T) {
	var w connWatch
	var up atomic.Bool
	up.Store(true)
	watched := func() (context.Context, func()) {
		ctx, cancel := context.WithCancelCause(context.Background())
		id := w.add(cancel, up.Load)
		return ctx, func() { w.remove(id); cancel(nil) }
	}
	a, stopA := watched()
	b, stopB := watched()
	stopB() // finished before the drop
	time.Sleep(3 * connCheck)
	if a.Err() != nil {
		t.Fatal("cancelled while connected")
	}
	up.Store(false)
	select {
	case <-a.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("not cancelled after the connection went down")
	}
	if !errors.Is(context.Cause(a), nats.ErrDisconnected) {
		t.Fatalf("cause %v", context.Cause(a))
	}
	if !errors.Is(context.Cause(b), context.Canceled) {
		t.Fatalf("finished context's cause %v", context.Cause(b))
	}
	stopA()
	deadline := time.Now().Add(2 * time.Second)
	for {
		w.mu.Lock()
		running := w.running
		w.mu.Unlock()
		if !running {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("watcher still running with nothing to watch")
		}
		time.Sleep(connCheck)
	}
	// And it starts again for the next one.
	up.Store(false)
	c, stopC := watched()
	defer stopC()
	select {
	case <-c.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("restarted watcher did not cancel")
	}
}
