package bridge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/smsgw/smsgw/bus"
	"github.com/smsgw/smsgw/events"
)

// benchDeliverCases: one endpoint with the concurrency an operator gives a
// single busy receiver (256; 10,000/s at ~1 ms each needs more than the
// default 16), and 100 endpoints at the default
// bridge.max_in_flight_per_endpoint (16): 100 × 16 = 1,600 slots are far
// more than a 2-core process can keep busy, and 8 or 32 measured the same
// within the noise. BENCH_INFLIGHT=n overrides the 100-endpoint figure.
var benchDeliverCases = []struct {
	endpoints, inFlight int
}{{1, 256}, {100, 16}}

// BenchmarkDeliver measures steady-state deliveries per second to fast
// local keep-alive receivers: the endpoints are created, the bridge is
// started and every consumer has delivered one warm-up event before the
// clock starts; then b.N events are published (round robin over the
// endpoints' accounts) and the clock runs until every receiver has them
// all. Run with a fixed count, e.g. -bench 'BenchmarkDeliver$'
// -benchtime=20000x. "cores" is the process's CPU time (bridge, embedded
// NATS, publisher and receivers together) over the timed window, "µs/dlv"
// that CPU time per delivery (the figure to compare on a shared machine);
// "in-flight" the mean number of busy delivery slots over all endpoints;
// "dials" the connections opened in the timed window (0: every delivery
// reused a kept-alive connection); "queued" the events put in an endpoint's
// own queue instead of being delivered from the shared consumer (0 when no
// endpoint is failing or slow).
func BenchmarkDeliver(b *testing.B) {
	for _, tc := range benchDeliverCases {
		b.Run(fmt.Sprintf("endpoints=%d", tc.endpoints), func(b *testing.B) {
			benchDeliver(b, tc.endpoints, tc.inFlight, false)
		})
	}
}

// BenchmarkDeliverColdStart is the earlier variant: b.N events are
// published first (not timed), then the bridge starts and the clock runs
// until every one has been received, so it counts the start (one durable
// consumer created per endpoint) as well as the deliveries.
func BenchmarkDeliverColdStart(b *testing.B) {
	for _, tc := range benchDeliverCases {
		b.Run(fmt.Sprintf("endpoints=%d", tc.endpoints), func(b *testing.B) {
			benchDeliver(b, tc.endpoints, tc.inFlight, true)
		})
	}
}

func benchDeliver(b *testing.B, endpoints, inFlight int, cold bool) {
	if v, _ := strconv.Atoi(os.Getenv("BENCH_INFLIGHT")); v > 0 && endpoints > 1 {
		inFlight = v
	}
	bs := openBus(b, bus.Config{})
	store := openStore(b, bs)
	var got, want atomic.Int64
	done := make(chan struct{}, 1)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if got.Add(1) == want.Load() {
			select {
			case done <- struct{}{}:
			default:
			}
		}
	})
	accounts := make([]string, endpoints)
	for i := range endpoints {
		srv := httptest.NewServer(handler)
		b.Cleanup(srv.Close)
		accounts[i] = fmt.Sprintf("acct%d", i)
		createEndpoint(b, store, accounts[i], srv.URL, []string{"*"})
	}
	// publish sends n events asynchronously, round robin over the accounts.
	publish := func(n int) {
		for i := range n {
			e := events.New(events.MessageDelivered, events.Data{MessageID: events.NewMessageID(), To: "+447700900123", Status: "delivered", PartCount: 1, Sequence: 2})
			data, _ := e.Marshal()
			msg := &nats.Msg{Subject: events.Subject(accounts[i%endpoints], e.Type), Data: data, Header: nats.Header{}}
			for {
				_, err := bs.JS.PublishMsgAsync(msg)
				if err == nil {
					break
				}
				if !errors.Is(err, jetstream.ErrTooManyStalledMsgs) {
					b.Fatal(err)
				}
				// The server is busy delivering too: let the
				// outstanding publishes complete, then go on.
				select {
				case <-bs.JS.PublishAsyncComplete():
				case <-time.After(60 * time.Second):
					b.Fatal("publishing stalled")
				}
			}
		}
		select {
		case <-bs.JS.PublishAsyncComplete():
		case <-time.After(60 * time.Second):
			b.Fatal("publishing did not complete")
		}
	}
	wait := func(what string, n int64) {
		select {
		case <-done:
		case <-time.After(5 * time.Minute):
			b.Fatalf("%s: only %d of %d delivered", what, got.Load(), n)
		}
	}
	settings := testSettings()
	settings.MaxInFlightPerEndpoint = inFlight
	settings.Timeout = 10 * time.Second
	br, err := New(Config{Bus: bs, Store: store, Settings: settings, Version: "bench", QuickRetries: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = br.Close(ctx)
	}()
	if cold {
		// Consumers of new endpoints start at their created_at, so these
		// are all delivered once the bridge starts.
		want.Store(int64(b.N))
		publish(b.N)
	} else {
		if err := br.Start(context.Background()); err != nil {
			b.Fatal(err)
		}
		// Warm up: in-flight events per endpoint, so every consumer exists
		// and has a pull outstanding, and every receiver has kept-alive
		// connections as a running bridge would.
		// A backlog of several rounds, so each endpoint runs at its full
		// concurrency and opens all its connections before the clock
		// (with one round, ~1,200 of the 1,600 connections of 100
		// endpoints were dialed inside the timed window).
		warm := endpoints * inFlight * 4
		want.Store(int64(warm))
		publish(warm)
		wait("warm-up", int64(warm))
		want.Store(int64(warm + b.N))
	}
	// Sample the busy delivery slots over the timed window: far below
	// endpoints × in-flight means workers wait on pulls, not on receivers.
	stopSampling := make(chan struct{})
	sampled := make(chan float64, 1)
	go func() {
		var sum, n float64
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stopSampling:
				sampled <- sum / max(n, 1)
				return
			case <-t.C:
			}
			br.mu.Lock()
			for _, w := range br.workers {
				sum += float64(len(w.sem))
			}
			br.mu.Unlock()
			n++
		}
	}()
	queued := func() float64 { return float64(br.m.queuedN.Load()) }
	cpu0, dials0, queued0 := benchCPU(), br.d.Dials(), queued()
	b.ResetTimer()
	start := time.Now()
	if cold {
		if err := br.Start(context.Background()); err != nil {
			b.Fatal(err)
		}
	} else {
		publish(b.N)
	}
	wait("timed", want.Load())
	elapsed := time.Since(start)
	b.StopTimer()
	close(stopSampling)
	b.ReportMetric(<-sampled, "in-flight")
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "deliveries/s")
	cpu := benchCPU() - cpu0
	b.ReportMetric(cpu.Seconds()/elapsed.Seconds(), "cores")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "µs/dlv")
	b.ReportMetric(float64(br.d.Dials()-dials0), "dials")
	b.ReportMetric(queued()-queued0, "queued")
}

// benchCPU is the process's user and system CPU time so far.
func benchCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
