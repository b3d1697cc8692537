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

	c, err := br.stream.Consumer(context.Background(), ConsumerName(ep.ID))
	if err != nil {
		t.Fatal(err)
	}
	if got := conFilters(c.CachedInfo().Config); len(got) != 1 || got[0] != "sms.events.acme.message.failed" {
		t.Errorf("main consumer filters %q, want the account's types only", got)
	}

	// Deleting the endpoint deletes both of its consumers.
	if err := store.Delete(context.Background(), ep.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the consumers deleted", 10*time.Second, func() bool {
		return !consumerExists(t, b, events.StreamName, ConsumerName(ep.ID)) &&
			!consumerExists(t, b, events.StreamName, DirectConsumerName(ep.ID))
	})
}

// A consumer made by an earlier version took the endpoint's direct events
// too: the bridge moves those not yet acknowledged to the direct consumer,
// and drops the old consumer on SMS_EVENTS that fed callback_url deliveries.
func TestDirectMigrationFromTwoFilters(t *testing.T) {
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
	// Published the old way, with no direct consumer.
	e := events.New(events.MessageDelivered, events.Data{MessageID: events.NewMessageID(), Sequence: 2})
	if _, err := b.PublishDirect(ctx, ep.ID, e, nil); err != nil {
		t.Fatal(err)
	}
	live := publish(t, b, "acme", events.MessageSent, nil)

	br := startBridge(t, b, store, nil)
	waitFor(t, "both events", 10*time.Second, func() bool {
		d := rc.delivered()
		return len(d[e.ID]) == 1 && len(d[live.ID]) == 1
	})
	c, err := br.stream.Consumer(ctx, ConsumerName(ep.ID))
	if err != nil {
		t.Fatal(err)
	}
	if got := conFilters(c.CachedInfo().Config); len(got) != 1 || got[0] != "sms.events.acme.>" {
		t.Errorf("main consumer filters %q after the migration", got)
	}
	if consumerExists(t, b, events.StreamName, CallbackConsumer) {
		t.Errorf("the old %s on %s was not deleted", CallbackConsumer, events.StreamName)
	}
	if !consumerExists(t, b, events.CallbackStream, CallbackConsumer) {
		t.Errorf("no %s on %s", CallbackConsumer, events.CallbackStream)
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
