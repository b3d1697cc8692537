package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/smsgw/smsgw/bridge"
	"github.com/smsgw/smsgw/bus"
	"github.com/smsgw/smsgw/config"
	"github.com/smsgw/smsgw/events"
	"github.com/smsgw/smsgw/httpapi"
)

// wbReceiver records every verified delivery by webhook-id.
type wbReceiver struct {
	srv    *httptest.Server
	secret func() string
	mu     sync.Mutex
	ids    []string
	bad    int
}

func newWBReceiver(t *testing.T) *wbReceiver {
	rc := &wbReceiver{}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		defer rc.mu.Unlock()
		wh, err := standardwebhooks.NewWebhook(rc.secret())
		if err == nil {
			err = wh.Verify(body, r.Header)
		}
		if err != nil {
			rc.bad++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		rc.ids = append(rc.ids, r.Header.Get("webhook-id"))
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *wbReceiver) count(id string) (n, bad int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, x := range rc.ids {
		if x == id {
			n++
		}
	}
	return n, rc.bad
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestStartBridgeEndToEnd wires the bridge as serve does and drives it over
// HTTP: a static endpoint and an API-made one receive signed events, and a
// replay re-sends one with the same webhook-id.
func TestStartBridgeEndToEnd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b, err := bus.Open(ctx, bus.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	static := newWBReceiver(t)
	staticSecret := bridge.NewSecret()
	static.secret = func() string { return staticSecret }
	cfg := config.Default()
	cfg.Bridge.AllowPrivateTargets = true
	cfg.Webhooks = []config.Webhook{{Account: "acme", URL: static.srv.URL + "/static", Events: []string{"message.*"}, Secret: staticSecret}}
	keys := httpapi.Keys{"acme-key-0001": "acme"}

	mux := http.NewServeMux()
	stop, _, err := startBridge(ctx, cfg, b, mux, keys, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := stop(context.Background()); err != nil {
			t.Error(err)
		}
		if err := stop(context.Background()); err != nil {
			t.Error("second stop:", err)
		}
	}()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	call := func(key, method, path, body string) (int, []byte) {
		req, _ := http.NewRequestWithContext(ctx, method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	if st, _ := call("wrong-key-0001", "GET", "/v1/webhooks", ""); st != http.StatusUnauthorized {
		t.Fatalf("unknown key: %d", st)
	}

	api := newWBReceiver(t)
	var created bridge.EndpointResource
	st, body := call("acme-key-0001", "POST", "/v1/webhooks", `{"url":"`+api.srv.URL+`/api","events":["message.delivered"]}`)
	if st != http.StatusCreated || json.Unmarshal(body, &created) != nil {
		t.Fatalf("create: %d %s", st, body)
	}
	api.secret = func() string { return created.Secret }
	st, body = call("acme-key-0001", "GET", "/v1/webhooks", "")
	if st != 200 || !strings.Contains(string(body), `"static":true`) || strings.Contains(string(body), "whsec_") {
		t.Fatalf("list: %d %s", st, body)
	}

	// The bridge's consumers pick endpoints up through the KV watch.
	e := events.New(events.MessageDelivered, events.Data{MessageID: events.NewMessageID(), Status: "delivered", Sequence: 2})
	waitFor(t, "both endpoints to receive the event", func() bool {
		// Publishing again is deduplicated by event id: only one is stored.
		if _, err := b.PublishEvent(ctx, "acme", e, nil); err != nil {
			t.Fatal(err)
		}
		n1, _ := static.count(e.ID)
		n2, _ := api.count(e.ID)
		return n1 >= 1 && n2 >= 1
	})

	from := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	st, body = call("acme-key-0001", "POST", "/v1/webhooks/"+created.ID+"/replay", fmt.Sprintf(`{"from":%q}`, from))
	if st != http.StatusAccepted || !strings.Contains(string(body), `"replayed":1`) {
		t.Fatalf("replay: %d %s", st, body)
	}
	waitFor(t, "the replay", func() bool { n, _ := api.count(e.ID); return n >= 2 })
	time.Sleep(100 * time.Millisecond) // would the static endpoint get the replay too? it must not
	if n, bad := static.count(e.ID); n != 1 || bad != 0 {
		t.Fatalf("static endpoint got %d deliveries (%d unverifiable), want 1", n, bad)
	}
	if _, bad := api.count(e.ID); bad != 0 {
		t.Fatalf("%d deliveries did not verify", bad)
	}
}
