package gateway

import (
	"testing"
	"time"

	"github.com/smsgw/smsgw/smpp"
)

// A submit that takes longer than AckWait (a full window, a slow SMSC) must
// not be handed to another worker or instance meanwhile: each message is
// submitted once.
func TestEngineSlowSubmitNotRedelivered(t *testing.T) {
	f := &engFake{name: "slow"}
	f.bound.Store(true)
	f.submit = func(n int, _ smpp.Message) (smpp.Result, error) {
		time.Sleep(1200 * time.Millisecond) // four times AckWait
		return engOKAfter(n, 0)
	}
	env := engStart(t, []*engFake{f}, nil, func(c *EngineConfig) { c.AckWait = 300 * time.Millisecond })
	ids := []string{env.accept("+447700900123", ""), env.accept("+447700900124", ""), env.accept("+447700900125", "")}
	for _, id := range ids {
		env.sent(id)
	}
	time.Sleep(500 * time.Millisecond) // a redelivery would have come by now
	if n := f.submits(); n != len(ids) {
		t.Fatalf("submits = %d, want %d (one per message)", n, len(ids))
	}
}
