package bridge

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/smsgw/smsgw/bus"
)

// Records are stored in batches (JSON lines); RecentAttempts reads them and
// single-record messages (the test route, earlier versions) newest first.
func TestAttemptLogBatches(t *testing.T) {
	b := openBus(t, bus.Config{})
	m, err := newMetrics(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	alog, err := newAttemptLog(ctx, b, slog.New(slog.DiscardHandler), m)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	rec := func(n int) AttemptRecord {
		return AttemptRecord{EventID: "evt_x", EndpointID: "ep_1", Attempt: n, Status: 200, At: at, Outcome: OutcomeDelivered}
	}
	for n := 1; n <= 10; n++ {
		alog.publish(rec(n))
	}
	alog.publish(AttemptRecord{EndpointID: "ep_2", Attempt: 1})
	time.Sleep(2 * attemptFlushEvery) // the periodic flush stores these
	old, _ := json.Marshal(rec(11))
	if _, err := b.JS.PublishMsg(ctx, &nats.Msg{Subject: AttemptsSubject("ep_1"), Data: old}); err != nil {
		t.Fatal(err)
	}
	for n := 12; n <= 150; n++ {
		alog.publish(rec(n))
	}
	fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	alog.flush(fctx)

	recs, err := RecentAttempts(ctx, b.JS, "ep_1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != AttemptsPerEndpoint {
		t.Fatalf("%d records, want %d", len(recs), AttemptsPerEndpoint)
	}
	for i, r := range recs {
		if r.Attempt != 150-i {
			t.Fatalf("record %d is attempt %d, want %d (newest first)", i, r.Attempt, 150-i)
		}
	}
	if recs, _ := RecentAttempts(ctx, b.JS, "ep_2", 0); len(recs) != 1 {
		t.Errorf("ep_2: %d records, want 1", len(recs))
	}
	if recs, _ := RecentAttempts(ctx, b.JS, "ep_1", 5); len(recs) != 5 || recs[0].Attempt != 150 {
		t.Errorf("limit 5: %+v", recs)
	}
}
