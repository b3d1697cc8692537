package gateway

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/smsgw/smsgw/config"
	"github.com/smsgw/smsgw/events"
	"github.com/smsgw/smsgw/simulator"
)

// BenchmarkEndToEnd measures sustained throughput of the whole gateway in
// one process; one op is one message, msgs/s is reported.
//
//   - http: HTTP batch submits (4 clients, 500 per request) → JetStream →
//     engine → simulator over TCP → receipts → engine → message.delivered
//     stored in JetStream, timed from the first request to the last event.
//
//   - queued: the engine alone draining a backlog of accepted messages to
//     message.delivered (what one gateway instance can push).
//
//     go test -run '^$' -bench BenchmarkEndToEnd -benchtime 20000x ./gateway/
func BenchmarkEndToEnd(b *testing.B) {
	b.Run("http", func(b *testing.B) { benchEndToEnd(b, false) })
	b.Run("queued", func(b *testing.B) { benchEndToEnd(b, true) })
}

func benchEndToEnd(b *testing.B, queued bool) {
	env := e2eStart(b, e2eOpts{
		sim: simulator.Config{MaxMessages: -1, Window: 256},
		conf: func(c *config.Config) {
			c.SMSCs[0].Binds = 2
			c.SMSCs[0].Window = 256
			c.Messages.SubmitWorkers = 256
		},
	})
	var delivered atomic.Int64
	done := make(chan struct{})
	var once sync.Once
	target := int64(b.N)
	sub, err := env.b.NC.Subscribe(events.Subject(e2eAccount, events.MessageDelivered), func(*nats.Msg) {
		if delivered.Add(1) >= target {
			once.Do(func() { close(done) })
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Unsubscribe()
	// Destinations end in 5: the simulator delivers them.
	to := func(i int64) string { return fmt.Sprintf("+4477%07d5", i) }

	if queued {
		if err := env.eng.Close(context.Background()); err != nil {
			b.Fatal(err)
		}
		for from := 0; from < b.N; from += 1000 {
			n := min(1000, b.N-from)
			msgs := make([]*Message, n)
			for i := range msgs {
				msgs[i] = &Message{ID: events.NewMessageID(), Account: e2eAccount, To: to(int64(from + i)), From: "ACME",
					Text: "benchmark message", Encoding: "gsm7", Parts: 1, Status: StatusAccepted, CreatedAt: time.Now()}
			}
			for _, err := range env.store.Accept(env.ctx, msgs) {
				if err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	b.ResetTimer()
	start := time.Now()
	accepted := time.Duration(0)
	if queued {
		env.eng = env.startEngine()
	} else {
		const batch, senders = 500, 4
		var wg sync.WaitGroup
		var next atomic.Int64
		for range senders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					from := next.Add(batch) - batch
					if from >= int64(b.N) {
						return
					}
					msgs := make([]map[string]any, min(int64(batch), int64(b.N)-from))
					for i := range msgs {
						msgs[i] = map[string]any{"to": to(from + int64(i)), "text": "benchmark message"}
					}
					env.submitBatch(msgs)
				}
			}()
		}
		wg.Wait()
		accepted = time.Since(start)
	}
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		types := map[string]int{}
		for _, e := range env.ev.snapshot() {
			types[e.Type]++
		}
		b.Fatalf("only %d of %d delivered; events %v; simulator %+v", delivered.Load(), b.N, types, env.sim.Stats())
	}
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/el.Seconds(), "msgs/s")
	if accepted > 0 {
		b.ReportMetric(float64(b.N)/accepted.Seconds(), "accepted/s")
	}
}
