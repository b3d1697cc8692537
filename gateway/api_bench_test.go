package gateway

import (
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// benchLatencies collects per-request latencies across goroutines.
type benchLatencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *benchLatencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

func (l *benchLatencies) report(b *testing.B, perOp int) {
	b.Helper()
	if len(l.d) == 0 {
		return
	}
	slices.Sort(l.d)
	p := func(q float64) float64 { return float64(l.d[int(q*float64(len(l.d)-1))].Microseconds()) / 1000 }
	b.ReportMetric(p(0.50), "p50_ms")
	b.ReportMetric(p(0.99), "p99_ms")
	b.ReportMetric(float64(b.N*perOp)/b.Elapsed().Seconds(), "msgs/s")
}

func benchPost(b *testing.B, e *apiTestEnv, path, body string, want int, perOp int) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}}
	defer client.CloseIdleConnections()
	var lat benchLatencies
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("POST", e.srv.URL+path, strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+apiTestKeyAcme)
			start := time.Now()
			res, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			lat.add(time.Since(start))
			if res.StatusCode != want {
				b.Errorf("status %d", res.StatusCode)
				return
			}
		}
	})
	b.StopTimer()
	lat.report(b, perOp)
}

// BenchmarkSubmitAPI: parallel POST /v1/messages over loopback keep-alive
// against a real embedded JetStream (file store); each 202 means the record
// and its queue entry were acknowledged by JetStream.
func BenchmarkSubmitAPI(b *testing.B) {
	e := newAPITestEnv(b)
	benchPost(b, e, "/v1/messages", `{"to":"+447700900123","text":"benchmark message","metadata":{"k":"v"}}`, 202, 1)
}

// BenchmarkSubmitBatchAPI: the batch route with 100 messages per request.
func BenchmarkSubmitBatchAPI(b *testing.B) {
	e := newAPITestEnv(b)
	const n = 100
	items := make([]string, n)
	for i := range items {
		items[i] = `{"to":"+447700900123","text":"benchmark message","metadata":{"k":"v"}}`
	}
	benchPost(b, e, "/v1/messages/batch", `{"messages":[`+strings.Join(items, ",")+`]}`, 207, n)
}
