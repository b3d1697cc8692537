package loadtest

import (
	"bytes"
	"net/http"
	"strconv"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/smsgw/smsgw/events"
)

func TestReceiver(t *testing.T) {
	secret, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	r, err := StartReceiver(ReceiverConfig{Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	wh, _ := standardwebhooks.NewWebhook(secret)
	other, _ := NewSecret()
	wrong, _ := standardwebhooks.NewWebhook(other)

	post := func(signer *standardwebhooks.Webhook, id, typ, msg string) int {
		t.Helper()
		ev := events.New(typ, events.Data{MessageID: msg, Sequence: 1})
		body, _ := ev.WebhookBody()
		now := time.Now()
		sig, _ := signer.Sign(id, now, body)
		req, _ := http.NewRequest(http.MethodPost, r.URL(), bytes.NewReader(body))
		req.Header.Set("webhook-id", id)
		req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
		req.Header.Set("webhook-signature", sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	steps := []struct {
		signer     *standardwebhooks.Webhook
		id, typ, m string
		wantStatus int
	}{
		{wh, "evt_1", events.MessageSent, "msg_a", 204},        // not final
		{wh, "evt_2", events.MessageDelivered, "msg_a", 204},   // final
		{wh, "evt_2", events.MessageDelivered, "msg_a", 204},   // same webhook-id again
		{wh, "evt_3", events.MessageDelivered, "msg_a", 204},   // second final, new id
		{wrong, "evt_4", events.MessageFailed, "msg_b", 401},   // bad signature
		{wh, "evt_5", events.MessageUndelivered, "msg_c", 204}, // final
	}
	for i, s := range steps {
		if got := post(s.signer, s.id, s.typ, s.m); got != s.wantStatus {
			t.Fatalf("step %d: status %d, want %d", i, got, s.wantStatus)
		}
	}
	want := ReceiverStats{Requests: 6, BadSignatures: 1, DuplicateIDs: 1, DuplicateFinals: 1, Finals: 2}
	if got := r.Stats(); got != want {
		t.Fatalf("stats %+v, want %+v", got, want)
	}
	if f, ok := r.Final("msg_c"); !ok || f.Type != events.MessageUndelivered {
		t.Fatalf("final of msg_c: %+v %v", f, ok)
	}
	if n := r.CountFinals([]string{"msg_a", "msg_b", "msg_c"}); n != 2 {
		t.Fatalf("CountFinals = %d", n)
	}
	select {
	case <-r.Notify():
	default:
		t.Fatal("no notification after finals")
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	if _, err := StartReceiver(ReceiverConfig{Secret: "whsec_%%%"}); err == nil {
		t.Fatal("bad secret accepted")
	}
}

func TestBenchAgainstGateway(t *testing.T) {
	_, c := startStack(t)
	var last Progress
	// Timeout is how long the finals may take after the last submit. On a
	// loaded 2-core machine under -race the stack delivers only ~10-40
	// finals/s (steadily, no stall), so 15 s reported messages that were
	// delivered, with their event published, as "lost"; 60 s (Bench's
	// default) is generous. Lost must still be 0.
	rep, err := Bench(t.Context(), BenchConfig{
		Client: c, N: 300, Batch: 100, Concurrency: 4, Timeout: 60 * time.Second, GatewayPID: -1,
		OnProgress: func(p Progress) { last = p },
	})
	if err != nil {
		t.Fatalf("Bench: %v", err)
	}
	for _, id := range rep.LostSample {
		m, err := c.GetMessage(t.Context(), id)
		if err != nil {
			t.Errorf("lost %s: %v", id, err)
			continue
		}
		t.Errorf("lost %s: to %s status %s events %+v", id, m.To, m.Status, m.Events)
	}
	if rep.Accepted != 300 || rep.Lost != 0 || rep.TimedOut || rep.Finals[events.MessageDelivered] != 300 {
		t.Fatalf("report %+v", rep)
	}
	if rep.Receiver.BadSignatures != 0 || rep.Receiver.DuplicateFinals != 0 || rep.Latency.Count != 300 ||
		rep.Latency.P50 <= 0 || rep.Latency.P99 < rep.Latency.P50 || rep.E2EPerSec <= 0 || rep.AcceptedPerSec <= 0 || rep.PeakRSS <= 0 {
		t.Fatalf("report %+v", rep)
	}
	if last.Finals != 300 || last.Accepted != 300 {
		t.Fatalf("last progress %+v", last)
	}
	// The bench endpoint is gone afterwards.
	if l, err := c.ListWebhooks(t.Context()); err != nil || len(l) != 0 {
		t.Fatalf("webhooks left: %+v %v", l, err)
	}
}

// CountFinals answers the same list from a running count; it must agree
// with looking every id up, before and after finals arrive, and for a new
// list.
func TestReceiverCountFinals(t *testing.T) {
	r := &Receiver{seen: map[string]struct{}{}, finals: map[string]Final{}, notify: make(chan struct{}, 1)}
	final := func(msg string) {
		r.record("w-"+msg, events.Event{Type: events.MessageDelivered, Data: events.Data{MessageID: msg}}, time.Now())
	}
	naive := func(ids []string) int {
		n := 0
		for _, id := range ids {
			if _, ok := r.finals[id]; ok {
				n++
			}
		}
		return n
	}
	final("a")
	ids := []string{"a", "b", "c", "b"}
	for step, f := range []string{"", "b", "x", "c", "c"} {
		if f != "" {
			final(f)
		}
		if got, want := r.CountFinals(ids), naive(ids); got != want {
			t.Fatalf("step %d: %d, want %d", step, got, want)
		}
	}
	other := []string{"c", "x", "y"}
	if got, want := r.CountFinals(other), naive(other); got != want || got != 2 {
		t.Fatalf("new list: %d, want %d", got, want)
	}
	if got := r.CountFinals(ids[:2]); got != 2 {
		t.Fatalf("shorter list: %d, want 2", got)
	}
	if got := r.CountFinals(nil); got != 0 {
		t.Fatalf("no ids: %d", got)
	}
}
