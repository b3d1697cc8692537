package bridge

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/smsgw/smsgw/config"
	"github.com/smsgw/smsgw/events"
)

// TestAPIDeadLetterReplayEndToEnd runs the real delivery side: an event
// exhausts a short retry schedule against a failing receiver, lands in the
// dead-letter store, and the replay route delivers it once the receiver is
// fixed — same webhook-id, valid signature, dead letter gone.
func TestAPIDeadLetterReplayEndToEnd(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	env := newAPIEnv(t, APIConfig{AllowPrivateTargets: true})

	var healthy atomic.Bool
	var mu sync.Mutex
	var secret string
	delivered := map[string]int{}
	failed := 0
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		wh, _ := standardwebhooks.NewWebhook(secret)
		if err := wh.Verify(body, r.Header); err != nil {
			t.Errorf("delivery does not verify: %v", err)
		}
		if !healthy.Load() {
			failed++
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		delivered[r.Header.Get("webhook-id")]++
	}))
	defer rc.Close()

	settings := config.Default().Bridge
	settings.AllowPrivateTargets = true
	settings.RetrySchedule = []time.Duration{20 * time.Millisecond, 20 * time.Millisecond}
	settings.Jitter = 0
	br, err := New(Config{Bus: env.bus, Store: env.store, Settings: settings, QuickRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := br.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = br.Close(context.Background()) }()

	ep := env.create(t, apiKeyAcme, `{"url":"`+rc.URL+`","events":["message.*"]}`)
	mu.Lock()
	secret = ep.Secret
	mu.Unlock()

	e := events.New(events.MessageSent, events.Data{MessageID: events.NewMessageID(), Status: "sent", Sequence: 1})
	if _, err := env.bus.PublishEvent(ctx, "acme", e, nil); err != nil {
		t.Fatal(err)
	}
	epWait(t, "the dead letter", func() bool {
		s, err := env.bus.JS.Stream(ctx, DeadLetterStream)
		if err != nil {
			return false
		}
		info, err := s.Info(ctx)
		return err == nil && info.State.Msgs == 1
	})
	mu.Lock()
	if failed != 3 || len(delivered) != 0 {
		t.Fatalf("before replay: %d failed attempts (want 1 + 2 retries), %d delivered", failed, len(delivered))
	}
	mu.Unlock()

	// The attempts route shows them, newest first (records are stored in
	// batches, within 100 ms).
	var st int
	var b []byte
	epWait(t, "the attempts", func() bool {
		st, b = env.do(t, apiKeyAcme, "GET", "/v1/webhooks/"+ep.ID+"/attempts", "")
		var page AttemptsPage
		return json.Unmarshal(b, &page) == nil && st == 200 && len(page.Attempts) == 3 && page.Attempts[0].EventID == e.ID
	})

	healthy.Store(true)
	st, b = env.do(t, apiKeyAcme, "POST", "/v1/webhooks/"+ep.ID+"/replay", `{"dead_letter":true}`)
	if st != http.StatusAccepted || !strings.Contains(string(b), `"replayed":1`) {
		t.Fatalf("replay: %d %s", st, b)
	}
	epWait(t, "the replayed delivery", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return delivered[e.ID] == 1
	})
	s, _ := env.bus.JS.Stream(ctx, DeadLetterStream)
	if info, err := s.Info(ctx); err != nil || info.State.Msgs != 0 {
		t.Fatalf("dead letters after replay: %+v %v", info.State, err)
	}
}

func epWait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
