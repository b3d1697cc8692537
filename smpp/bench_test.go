package smpp_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/fiorix/go-smpp/smpp/pdu"

	"github.com/smsgw/smsgw/simulator"
	"github.com/smsgw/smsgw/smpp"
)

// BenchmarkSubmit measures single-part submits through one bind with a
// window of 64 against the simulator on loopback, from parallel submitters.
//
//	go test -run '^$' -bench BenchmarkSubmit -benchtime=3s -benchmem ./smpp/
func BenchmarkSubmit(b *testing.B) {
	for _, tc := range []struct {
		name     string
		receipts bool
	}{
		{"no_receipts", false},
		{"with_receipts", true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			cfg := simulator.Config{MaxMessages: -1}
			if !tc.receipts {
				cfg.Rules = []simulator.Rule{{Suffix: "", NoReceipt: true}}
			}
			sim := startSim(b, cfg)
			s := startClient(b, smpp.Config{
				Name: "bench", Addr: sim.Addr(), SystemID: "smsgw", Password: "secret",
				Window: 64, Binds: 1,
				Handler: smpp.HandlerFunc(func(context.Context, smpp.Inbound) pdu.Status { return smpp.StatusOK }),
			})
			waitFor(b, "bound", s.Bound)
			m := smpp.Message{From: "ACME", To: "+447700900123", Text: "benchmark message"}
			b.SetParallelism(64 / max(1, testingProcs()))
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				for pb.Next() {
					if _, err := s.Submit(ctx, m); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
		})
	}
}

func testingProcs() int { return runtime.GOMAXPROCS(0) }
