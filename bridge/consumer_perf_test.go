package bridge

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/smsgw/smsgw/bus"
	"github.com/smsgw/smsgw/events"
)

// An endpoint only gets the types it subscribed to, and follows a change of
// them at once.
func TestEventTypesFilterTheEndpoint(t *testing.T) {
	b := openBus(t, bus.Config{})
	store := openStore(t, b)
	rc := newReceiver(t, nil, testSecretA)
	ep := createEndpoint(t, store, "acme", rc.srv.URL, []string{events.MessageDelivered})
	br := startBridge(t, b, store, nil)

	publish(t, b, "acme", events.MessageSent, nil)
	publish(t, b, "acme", events.MessageDelivered, nil)
	waitFor(t, "the delivered event", 10*time.Second, func() bool { return rc.count() == 1 })

	if _, err := store.Update(context.Background(), ep.ID, func(e *Endpoint) error {
		e.Events = []string{"message.*"}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the bridge to see the new types", 10*time.Second, func() bool {
		br.mu.Lock()
		defer br.mu.Unlock()
		w := br.workers[ep.ID]
		return w != nil && slices.Equal(w.ep.Load().Events, []string{"message.*"})
	})
	publish(t, b, "acme", events.MessageSent, nil)
	waitFor(t, "the sent event after the change", 10*time.Second, func() bool { return rc.count() == 2 })
	time.Sleep(50 * time.Millisecond) // nothing more may arrive
	if got := rc.types(); !slices.Equal(got, []string{events.MessageDelivered, events.MessageSent}) {
		t.Errorf("got %v", got)
	}
}
