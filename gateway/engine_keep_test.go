package gateway

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// keepMsg counts InProgress calls; nothing else of jetstream.Msg is used.
type keepMsg struct {
	jetstream.Msg
	n atomic.Int32
}

func (m *keepMsg) InProgress() error { m.n.Add(1); return nil }

func TestEngKeepInProgress(t *testing.T) {
	m := &keepMsg{}
	stop := engKeepInProgress(context.Background(), m, 10*time.Millisecond)
	deadline := time.Now().Add(5 * time.Second)
	for m.n.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	stop()
	n := m.n.Load()
	if n < 3 {
		t.Fatalf("%d InProgress in 5s, want a tick every 10ms", n)
	}
	time.Sleep(50 * time.Millisecond)
	if after := m.n.Load(); after != n {
		t.Fatalf("%d InProgress after stop", after-n)
	}
	stop() // twice is fine

	// A context that ends stops the ticks too.
	m2 := &keepMsg{}
	ctx, cancel := context.WithCancel(context.Background())
	stop2 := engKeepInProgress(ctx, m2, 10*time.Millisecond)
	cancel()
	time.Sleep(50 * time.Millisecond)
	stop2()
	if got := m2.n.Load(); got != 0 {
		t.Fatalf("%d InProgress after the context ended", got)
	}
}
