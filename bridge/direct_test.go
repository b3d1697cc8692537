package bridge

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/smsgw/smsgw/bus"
	"github.com/smsgw/smsgw/events"
)

func publishDirect(t testing.TB, b *bus.Bus, endpointID, typ string) events.Event {
	t.Helper()
	e := events.New(typ, events.Data{MessageID: events.NewMessageID(), To: "+447700900123", Status: "x", Sequence: 1})
	if err := PublishDirect(context.Background(), b, endpointID, e, nil); err != nil {
		t.Fatal(err)
	}
	return e
}

func consumerExists(t testing.TB, b *bus.Bus, stream, name string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := b.JS.Consumer(ctx, stream, name)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return true
}

// Direct events go to the endpoint alone, whatever its type filter, through
// a consumer of their own: made by the publisher, found by the bridge when
// it starts (listing) and while it runs (the created advisory, well before
// the periodic listing).
func TestDirectEventsHaveTheirOwnConsumer(t *testing.T) {
	b := openBus(t, bus.Config{})
	store := openStore(t, b)
	rc := newReceiver(t, nil, testSecretA)
	other := newReceiver(t, nil, testSecretA)
	ep := createEndpoint(t, store, "acme", rc.srv.URL, []string{events.MessageFailed})
	late := createEndpoint(t, store, "acme", other.srv.URL, []string{"*"})

	before := publishDirect(t, b, ep.ID, events.MessageDelivered) // not a type ep takes
	br := startBridge(t, b, store, func(c *Config) { c.Settings.StallTimeout = 10 * time.Minute })
	waitFor(t, "the event published before the start", 10*time.Second, func() bool { return len(rc.delivered()[before.ID]) == 1 })

	start := time.Now()
	after := publishDirect(t, b, late.ID, events.MessageSent)
	waitFor(t, "the event published while running", 5*time.Second, func() bool { return len(other.delivered()[after.ID]) == 1 })
	t.Logf("direct consumer found and its event delivered in %s", time.Since(start))
	if n := rc.count(); n != 1 {
		t.Errorf("the first endpoint got %d requests, want 1", n)
	}

	// Deleting the endpoint deletes its own queue.
	if !consumerExists(t, b, events.StreamName, DirectConsumerName(ep.ID)) {
		t.Fatal("no direct consumer")
	}
	if err := store.Delete(context.Background(), ep.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the consumer deleted", 10*time.Second, func() bool {
		return !consumerExists(t, b, events.StreamName, DirectConsumerName(ep.ID))
	})
	_ = br
}

// Consumers made by an earlier version: the endpoint's own consumer of its
// account's events (with its direct events as a second filter) is drained —
// what it had before the shared consumer started is delivered, the rest is
// left to the shared consumer — and then deleted; the old callback consumer
// on SMS_EVENTS is deleted at once.
func TestLegacyConsumersDrained(t *testing.T) {
	b := openBus(t, bus.Config{})
	store := openStore(t, b)
	rc := newReceiver(t, nil, testSecretA)
	ep := createEndpoint(t, store, "acme", rc.srv.URL, []string{"*"})
	ctx := context.Background()
	for _, cfg := range []jetstream.ConsumerConfig{{
		Durable:        ConsumerName(ep.ID),
		FilterSubjects: []string{"sms.events.acme.>", events.DirectPrefix + ep.ID + ".>"},
		AckPolicy:      jetstream.AckExplicitPolicy,
		DeliverPolicy:  jetstream.DeliverNewPolicy,
	}, {
		Durable:       CallbackConsumer,
		FilterSubject: events.StreamSubjects,
		AckPolicy:     jetstream.AckExplicitPolicy,
	}} {
		if _, err := b.JS.CreateConsumer(ctx, events.StreamName, cfg); err != nil {
			t.Fatal(err)
		}
	}
	// Published the old way, with no direct consumer, and an account
	// event, both before the upgrade.
	e := events.New(events.MessageDelivered, events.Data{MessageID: events.NewMessageID(), Sequence: 2})
	if _, err := b.PublishDirect(ctx, ep.ID, e, nil); err != nil {
		t.Fatal(err)
	}
	old := publish(t, b, "acme", events.MessageSent, nil)

	startBridge(t, b, store, func(c *Config) { c.Settings.StallTimeout = 400 * time.Millisecond })
	if consumerExists(t, b, events.StreamName, CallbackConsumer) {
		t.Errorf("the old %s on %s was not deleted", CallbackConsumer, events.StreamName)
	}
	if !consumerExists(t, b, events.CallbackStream, CallbackConsumer) {
		t.Errorf("no %s on %s", CallbackConsumer, events.CallbackStream)
	}
	live := publish(t, b, "acme", events.MessageFailed, nil)
	waitFor(t, "the three events", 10*time.Second, func() bool {
		d := rc.delivered()
		return len(d[e.ID]) == 1 && len(d[old.ID]) == 1 && len(d[live.ID]) == 1
	})
	waitFor(t, "the legacy consumer deleted", 10*time.Second, func() bool {
		return !consumerExists(t, b, events.StreamName, ConsumerName(ep.ID))
	})
	time.Sleep(100 * time.Millisecond)
	if n := rc.count(); n != 3 {
		t.Errorf("%d requests, want 3 (none twice)", n)
	}
}

// A replay to a hanging endpoint fills only that endpoint's slots: another
// endpoint's replay and live events still arrive at once.
func TestDirectReplayToHangingEndpointIsolated(t *testing.T) {
	b := openBus(t, bus.Config{})
	store := openStore(t, b)
	release := make(chan struct{})
	hang := newReceiver(t, func(_ int, _ http.ResponseWriter, r *http.Request) int {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		return 200
	}, testSecretA)
	ok := newReceiver(t, nil, testSecretA)
	hangEP := createEndpoint(t, store, "acme", hang.srv.URL, []string{"*"})
	okEP := createEndpoint(t, store, "acme", ok.srv.URL, []string{"*"})
	startBridge(t, b, store, func(c *Config) {
		c.Settings.Timeout = 30 * time.Second
		c.Settings.MaxInFlightPerEndpoint = 4
	})
	t.Cleanup(func() { close(release) }) // before the bridge's Close
	for range 50 {
		publishDirect(t, b, hangEP.ID, events.MessageDelivered)
	}
	waitFor(t, "the hanging endpoint's slots taken", 5*time.Second, func() bool { return hang.count() == 4 })
	replayed := publishDirect(t, b, okEP.ID, events.MessageDelivered)
	live := publish(t, b, "acme", events.MessageSent, nil)
	waitFor(t, "the healthy endpoint's events", 2*time.Second, func() bool {
		d := ok.delivered()
		return len(d[replayed.ID]) == 1 && len(d[live.ID]) == 1
	})
}

// Events published right after an endpoint is created reach it even when
// the shared consumer resolves some of them before the bridge sees the
// endpoint (those are put in its own queue): every one, once.
func TestNewEndpointGetsEventsFromItsCreation(t *testing.T) {
	b := openBus(t, bus.Config{})
	store := openStore(t, b)
	other := newReceiver(t, nil, testSecretA)
	createEndpoint(t, store, "acme", other.srv.URL, []string{"*"})
	br := startBridge(t, b, store, nil)
	publish(t, b, "acme", events.MessageSent, nil) // the dispatcher has resolved something
	waitFor(t, "the first event", 5*time.Second, func() bool { return other.count() == 1 })

	rc := newReceiver(t, nil, testSecretA)
	ep := createEndpoint(t, store, "beta", rc.srv.URL, []string{"*"})
	const n = 100
	for range n {
		publish(t, b, "beta", events.MessageSent, nil)
	}
	waitFor(t, "every event", 10*time.Second, func() bool { return len(rc.delivered()) == n })
	time.Sleep(100 * time.Millisecond)
	if got := rc.count(); got != n {
		t.Errorf("%d requests for %d events", got, n)
	}

	// The catch-up itself: what the dispatcher resolved up to a sequence
	// is put in the endpoint's own queue (here a second time).
	br.mu.Lock()
	w := br.workers[ep.ID]
	br.mu.Unlock()
	before := br.m.queuedN.Load()
	br.loops.Add(1)
	br.sfCatchUp(w, *w.ep.Load(), br.resolved.Load())
	if got := br.m.queuedN.Load() - before; got != n {
		t.Errorf("catch-up queued %d events, want %d", got, n)
	}
	// Events already caught up when the bridge learned the endpoint keep
	// their Nats-Msg-Id (event, endpoint, sequence): stored once.
	t.Logf("%d events were resolved before the bridge knew the endpoint", before)
	want := 2*n - int(before)
	waitFor(t, "the caught-up copies", 10*time.Second, func() bool { return rc.count() == want })
}
