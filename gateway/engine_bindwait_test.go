package gateway

import (
	"testing"
	"time"

	"github.com/smsgw/smsgw/config"
	"github.com/smsgw/smsgw/events"
)

// A route whose SMSC has no bound session must not fail its messages while
// they are valid: nothing reached a carrier. Once the link is back, the
// message is sent, and the waits did not use up its submit attempts.
func TestEngineWaitsForRouteBind(t *testing.T) {
	a, b := &engFake{name: "a"}, &engFake{name: "b"}
	b.bound.Store(true) // the engine keeps pulling: some SMSC is bound
	env := engStart(t, []*engFake{a, b}, func(c *config.Config) {
		c.Routes = []config.Route{{Prefix: "+44", SMSCs: []string{"a"}}, {Prefix: "+", SMSCs: []string{"b"}}}
		c.Messages.SubmitAttempts = 2
	}, nil)
	id := env.accept("+447700900123", "")

	// Far more deliveries of the work item than submit_attempts, none failing.
	time.Sleep(600 * time.Millisecond)
	if rec := env.record(id, func(*Message) bool { return true }); rec.Status != StatusAccepted {
		t.Fatalf("status %s while the route's SMSC was down, want accepted", rec.Status)
	}
	for _, e := range e2eFor(env.ev.snapshot(), id) {
		if e.Type == events.MessageFailed {
			t.Fatalf("message failed while waiting for a bind: %+v", e)
		}
	}

	a.bound.Store(true)
	if ev := env.sent(id); ev.Data.SMSC != "a" {
		t.Fatalf("sent via %q, want a", ev.Data.SMSC)
	}
	if rec := env.record(id, func(m *Message) bool { return m.Status == StatusSent }); rec.SubmitAttempts != 1 {
		t.Fatalf("submit_attempts %d, want 1 (waits are not attempts)", rec.SubmitAttempts)
	}
}

func TestEngBindWait(t *testing.T) {
	if got := engBindWait(&Message{Validity: time.Hour}); got != time.Hour {
		t.Fatal(got)
	}
	if got := engBindWait(&Message{}); got != 24*time.Hour {
		t.Fatal(got)
	}
}
