package bridge

import (
	"context"
	"net/http"
	"sort"
	"testing"
	"time"

	"github.com/smsgw/smsgw/bus"
	"github.com/smsgw/smsgw/events"
)

// The bridge is killed mid-delivery (its NATS connection dropped, Close not
// waiting) and another one starts: every event is delivered, and a
// duplicate always carries the same webhook-id and body.
func TestRestartMidDelivery(t *testing.T) {
	srv := openBus(t, bus.Config{Listen: "127.0.0.1:0"})
	store := openStore(t, srv)
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) int {
		select {
		case <-time.After(20 * time.Millisecond):
		case <-r.Context().Done():
		}
		return 200
	}, testSecretA)
	createEndpoint(t, store, "acme", rc.srv.URL, []string{"*"})

	conn1 := openBus(t, bus.Config{URL: srv.ClientURL()})
	br1 := startBridge(t, conn1, openStore(t, conn1), func(c *Config) {
		c.AckWait = time.Second
		c.Settings.MaxInFlightPerEndpoint = 8
	})
	const n = 200
	want := map[string][]byte{}
	for range n {
		e := publish(t, srv, "acme", events.MessageSent, nil)
		want[e.ID], _ = e.WebhookBody()
	}
	waitFor(t, "some deliveries", 10*time.Second, func() bool { return len(rc.delivered()) >= 20 })

	conn1.NC.Close() // killed: acks of what is in flight never reach NATS
	dead, cancel := context.WithCancel(context.Background())
	cancel()
	_ = br1.Close(dead)
	before := len(rc.delivered())
	if before >= n {
		t.Fatalf("all %d delivered before the kill; slow the receiver down", before)
	}

	conn2 := openBus(t, bus.Config{URL: srv.ClientURL()})
	startBridge(t, conn2, openStore(t, conn2), func(c *Config) { c.AckWait = time.Second })
	waitFor(t, "every event after the restart", 30*time.Second, func() bool { return len(rc.delivered()) == n })

	dups := 0
	for id, rs := range rc.delivered() {
		body, ok := want[id]
		if !ok {
			t.Errorf("unknown webhook-id %q", id)
			continue
		}
		dups += len(rs) - 1
		for _, r := range rs {
			if string(r.body) != string(body) {
				t.Errorf("%s: body %s, want %s", id, r.body, body)
			}
		}
	}
	t.Logf("%d delivered before the kill, %d duplicates after the restart (same webhook-id)", before, dups)
}

// One endpoint hangs 10 s on every request while another endpoint of the
// same account receives 2,000 events: the healthy one's p99 delivery latency
// (publish → receipt) stays under 1 s.
func TestSlowEndpointDoesNotDelayOthers(t *testing.T) {
	if testing.Short() {
		t.Skip("isolation test publishes 2,000 events")
	}
	b := openBus(t, bus.Config{})
	store := openStore(t, b)
	release := make(chan struct{})
	slow := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) int {
		select {
		case <-time.After(10 * time.Second):
		case <-release:
		case <-r.Context().Done():
		}
		return 200
	})
	fast := newReceiver(t, nil, testSecretA)
	createEndpoint(t, store, "acme", slow.srv.URL, []string{"*"})
	createEndpoint(t, store, "acme", fast.srv.URL, []string{"*"})
	startBridge(t, b, store, func(c *Config) { c.Settings.Timeout = 30 * time.Second })
	t.Cleanup(func() { close(release) }) // runs before the bridge's Close

	// The healthy load runs at a steady, modest rate (at most 200/s, so
	// about 10 s): the bound is on each event's latency from its own
	// publication, not on how fast a 2,000-event burst drains on a loaded
	// 2-core machine under -race (which measured CPU, not isolation).
	const n = 2000
	published := make(map[string]time.Time, n)
	pace := time.NewTicker(5 * time.Millisecond)
	defer pace.Stop()
	for range n {
		<-pace.C
		e := events.New(events.MessageDelivered, events.Data{MessageID: events.NewMessageID(), Sequence: 2})
		at := time.Now()
		if _, err := b.PublishEvent(context.Background(), "acme", e, nil); err != nil {
			t.Fatal(err)
		}
		published[e.ID] = at
	}
	waitFor(t, "the healthy endpoint's deliveries", 60*time.Second, func() bool { return len(fast.delivered()) == n })
	lat := make([]time.Duration, 0, n)
	for id, rs := range fast.delivered() {
		lat = append(lat, rs[0].arrived.Sub(published[id]))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	p50, p99, worst := lat[n/2], lat[n*99/100], lat[n-1]
	t.Logf("healthy endpoint: p50 %s, p99 %s, max %s; slow endpoint holding %d requests", p50, p99, worst, slow.count())
	if p99 >= time.Second {
		t.Errorf("p99 %s, want < 1s", p99)
	}
}
