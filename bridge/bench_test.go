package bridge

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/smsgw/smsgw/bus"
	"github.com/smsgw/smsgw/events"
)

// BenchmarkDeliver measures deliveries per second to fast local keep-alive
// receivers: b.N events are published first (not timed), then the bridge
// starts and the clock runs until every one has been received. Run with a
// fixed count, e.g. -benchtime=20000x.
func BenchmarkDeliver(b *testing.B) {
	for _, tc := range []struct {
		endpoints, inFlight int
	}{{1, 256}, {100, 32}} {
		b.Run(fmt.Sprintf("endpoints=%d", tc.endpoints), func(b *testing.B) {
			benchDeliver(b, tc.endpoints, tc.inFlight)
		})
	}
}

func benchDeliver(b *testing.B, endpoints, inFlight int) {
	bs := openBus(b, bus.Config{})
	store := openStore(b, bs)
	var got atomic.Int64
	done := make(chan struct{})
	n := int64(b.N)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if got.Add(1) == n {
			close(done)
		}
	})
	accounts := make([]string, endpoints)
	for i := range endpoints {
		srv := httptest.NewServer(handler)
		b.Cleanup(srv.Close)
		accounts[i] = fmt.Sprintf("acct%d", i)
		createEndpoint(b, store, accounts[i], srv.URL, []string{"*"})
	}
	// Pre-publish asynchronously; consumers of new endpoints start at their
	// created_at, so these are all delivered once the bridge starts.
	for i := range b.N {
		e := events.New(events.MessageDelivered, events.Data{MessageID: events.NewMessageID(), To: "+447700900123", Status: "delivered", PartCount: 1, Sequence: 2})
		data, _ := e.Marshal()
		msg := &nats.Msg{Subject: events.Subject(accounts[i%endpoints], e.Type), Data: data, Header: nats.Header{}}
		if _, err := bs.JS.PublishMsgAsync(msg); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-bs.JS.PublishAsyncComplete():
	case <-time.After(60 * time.Second):
		b.Fatal("publishing did not complete")
	}
	settings := testSettings()
	settings.MaxInFlightPerEndpoint = inFlight
	settings.Timeout = 10 * time.Second
	br, err := New(Config{Bus: bs, Store: store, Settings: settings, Version: "bench", QuickRetries: -1})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	if err := br.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		b.Fatalf("only %d of %d delivered", got.Load(), b.N)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "deliveries/s")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = br.Close(ctx)
}
