package bridge

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/smsgw/smsgw/bus"
	"github.com/smsgw/smsgw/events"
)

func TestConFilterSubjects(t *testing.T) {
	const acme = "sms.events.acme."
	for _, tc := range []struct {
		name   string
		events []string
		want   []string
	}{
		{"all", []string{"*"}, []string{acme + ">"}},
		{"all absorbs the rest", []string{"message.sent", "*", "contact.*"}, []string{acme + ">"}},
		{"finals", []string{"message.delivered", "message.undelivered", "message.failed"},
			[]string{acme + "message.delivered", acme + "message.undelivered", acme + "message.failed"}},
		{"wildcard absorbs its types", []string{"message.delivered", "message.*", "contact.opted_out"},
			[]string{acme + "message.*", acme + "contact.opted_out"}},
		{"both wildcards", []string{"message.*", "contact.*"}, []string{acme + "message.*", acme + "contact.*"}},
		{"duplicates once", []string{"message.sent", "message.sent"}, []string{acme + "message.sent"}},
		{"none is everything, never an empty filter", nil, []string{acme + ">"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := conFilterSubjects(Endpoint{ID: "ep_1", Account: "acme", Events: tc.events})
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// An endpoint's consumer only takes the types it subscribed to, and
// follows a change of them.
func TestEventTypesFilterTheConsumer(t *testing.T) {
	b := openBus(t, bus.Config{})
	store := openStore(t, b)
	rc := newReceiver(t, nil, testSecretA)
	ep := createEndpoint(t, store, "acme", rc.srv.URL, []string{events.MessageDelivered})
	br := startBridge(t, b, store, nil)

	consumerFilter := func() []string {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := br.stream.Consumer(ctx, ConsumerName(ep.ID))
		if err != nil {
			t.Fatal(err)
		}
		return c.CachedInfo().Config.FilterSubjects
	}
	if got := consumerFilter(); !slices.Contains(got, "sms.events.acme.message.delivered") || slices.Contains(got, "sms.events.acme.>") {
		t.Fatalf("consumer filter %q", got)
	}
	publish(t, b, "acme", events.MessageSent, nil)
	publish(t, b, "acme", events.MessageDelivered, nil)
	waitFor(t, "the delivered event", 10*time.Second, func() bool { return rc.count() == 1 })

	if _, err := store.Update(context.Background(), ep.ID, func(e *Endpoint) error {
		e.Events = []string{"message.*"}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the new filter", 10*time.Second, func() bool {
		return slices.Contains(consumerFilter(), "sms.events.acme.message.*")
	})
	publish(t, b, "acme", events.MessageSent, nil)
	waitFor(t, "the sent event after the change", 10*time.Second, func() bool { return rc.count() == 2 })
	time.Sleep(50 * time.Millisecond) // nothing more may arrive
	if got := rc.types(); !slices.Equal(got, []string{events.MessageDelivered, events.MessageSent}) {
		t.Errorf("got %v", got)
	}
}
