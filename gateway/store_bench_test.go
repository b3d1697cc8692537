package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/smsgw/smsgw/events"
)

// BenchmarkStoreAccept compares Store.Accept (async publishes, one wait for
// all acks) with the plain synchronous way (kv.Create then a synchronous
// publish, per message), for batches of 1 and 100 messages.
func BenchmarkStoreAccept(b *testing.B) {
	e := newAPITestEnv(b)
	ctx := context.Background()
	newMsgs := func(n int) []*Message {
		ms := make([]*Message, n)
		for i := range ms {
			ms[i] = &Message{ID: events.NewMessageID(), Account: "acme", To: "+447700900123", From: "ACME",
				Text: "benchmark", Encoding: "gsm7", Parts: 1, Status: StatusAccepted, CreatedAt: time.Now()}
		}
		return ms
	}
	for _, n := range []int{1, 100} {
		b.Run(fmt.Sprintf("async/batch=%d", n), func(b *testing.B) {
			for b.Loop() {
				for _, err := range e.store.Accept(ctx, newMsgs(n)) {
					if err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "msgs/s")
		})
		b.Run(fmt.Sprintf("sync/batch=%d", n), func(b *testing.B) {
			for b.Loop() {
				for _, m := range newMsgs(n) {
					body, _ := m.MarshalRecord()
					if _, err := e.store.messages.Create(ctx, m.ID, body); err != nil {
						b.Fatal(err)
					}
					req, _ := json.Marshal(SubmitRequest{ID: m.ID, Account: m.Account})
					if _, err := e.bus.JS.PublishMsg(ctx, &nats.Msg{Subject: SubmitSubject(m.Account), Data: req,
						Header: nats.Header{jetstream.MsgIDHeader: []string{m.ID}}}); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}
