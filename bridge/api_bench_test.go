package bridge

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/smsgw/smsgw/events"
)

func BenchmarkEndpointMatches(b *testing.B) {
	ep := Endpoint{Events: []string{"message.sent", "message.delivered", "contact.*"}}
	for b.Loop() {
		_ = ep.Matches(events.ContactOptedIn)
	}
}

// BenchmarkAPIGetEndpoint: GET /v1/webhooks/{id} over HTTP with a KV read
// from the embedded JetStream.
func BenchmarkAPIGetEndpoint(b *testing.B) {
	env := newAPIEnv(b, APIConfig{})
	ep := env.create(b, apiKeyAcme, `{"url":"https://client.example/"}`)
	req, _ := http.NewRequest("GET", env.srv.URL+"/v1/webhooks/"+ep.ID, nil)
	req.Header.Set("Authorization", "Bearer "+apiKeyAcme)
	b.ResetTimer()
	for b.Loop() {
		resp, err := env.srv.Client().Do(req)
		if err != nil || resp.StatusCode != 200 {
			b.Fatal(err, resp)
		}
		resp.Body.Close()
	}
}

// BenchmarkAPIReplay1000: one time-range replay of 1,000 stored events
// (each re-published to the endpoint's direct subject with an ack).
func BenchmarkAPIReplay1000(b *testing.B) {
	env := newAPIEnv(b, APIConfig{})
	ep := env.create(b, apiKeyAcme, `{"url":"https://client.example/"}`)
	from := time.Now().Add(-time.Second)
	for range 1000 {
		e := events.New(events.MessageDelivered, events.Data{MessageID: events.NewMessageID(), Sequence: 2})
		if _, err := env.bus.PublishEvent(b.Context(), "acme", e, nil); err != nil {
			b.Fatal(err)
		}
	}
	body := fmt.Sprintf(`{"from":%q}`, from.Format(time.RFC3339Nano))
	b.ResetTimer()
	for b.Loop() {
		req, _ := http.NewRequest("POST", env.srv.URL+"/v1/webhooks/"+ep.ID+"/replay", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+apiKeyAcme)
		resp, err := env.srv.Client().Do(req)
		if err != nil || resp.StatusCode != 202 {
			b.Fatal(err, resp)
		}
		resp.Body.Close()
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "events/s")
}
