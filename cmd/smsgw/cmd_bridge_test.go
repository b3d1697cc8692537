package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smsgw/smsgw/bus"
	"github.com/smsgw/smsgw/config"
	"github.com/smsgw/smsgw/events"
)

// smsgw bridge: static endpoints from the config get their events, and the
// health, readiness and metrics routes answer.
func TestBridgeCommandRun(t *testing.T) {
	var got atomic.Int32
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("webhook-signature") != "" {
			got.Add(1)
		}
	}))
	defer rc.Close()
	cfg := config.Default()
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.Accounts = []config.Account{{ID: "acme", APIKeys: []string{"key-acme-123"}}}
	cfg.Webhooks = []config.Webhook{{Account: "acme", URL: rc.URL, Events: []string{"*"}, Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}
	cfg.Bridge.AllowPrivateTargets = true

	ctx, cancel := context.WithCancel(context.Background())
	b, err := bus.Open(ctx, bus.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = b.Close() }()
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- brRun(ctx, cfg, b, nil, func(a string) { addr <- a }) }()
	var base string
	select {
	case a := <-addr:
		base = "http://" + a
	case err := <-done:
		t.Fatalf("brRun: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("bridge did not start")
	}
	if _, err := b.PublishEvent(ctx, "acme", events.New(events.MessageSent, events.Data{Sequence: 1}), nil); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for got.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got.Load() != 1 {
		t.Fatalf("static endpoint got %d signed deliveries, want 1", got.Load())
	}
	for path, want := range map[string]string{
		"/healthz": `"ok"`,
		"/readyz":  `"ready"`,
		"/metrics": "smsgw_webhook_deliveries_total{outcome=\"delivered\"} 1",
	} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Errorf("GET %s: %d %s, want %s", path, resp.StatusCode, body, want)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("brRun: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("bridge did not stop")
	}
}
