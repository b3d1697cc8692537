package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServeDemo runs `smsgw serve` with no config file (demo mode: embedded
// NATS, simulator, gateway, bridge), submits the printed curl's message,
// waits for its delivery and stops it with a cancelled context.
func TestServeDemo(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv("SMSGW_HTTP_ADDR", "127.0.0.1:0")
	t.Setenv("SMSGW_NATS_LISTEN", "127.0.0.1:0")
	t.Setenv("SMSGW_SIMULATOR_LISTEN", "127.0.0.1:0")
	t.Setenv("SMSGW_SIMULATOR_HTTP", "127.0.0.1:0")
	t.Setenv("SMSGW_SIMULATOR_RECEIPT_DELAY", "10ms")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncBuffer
	cmd := newRootCmd()
	cmd.SetArgs([]string{"serve"})
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()

	urlRe := regexp.MustCompile(`http://127\.0\.0\.1:\d+`)
	var base string
	deadline := time.Now().Add(20 * time.Second)
	for base == "" {
		base = urlRe.FindString(out.String())
		select {
		case err := <-done:
			t.Fatalf("serve exited: %v\n%s", err, errOut.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no demo hint:\n%s\n%s", out.String(), errOut.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(out.String(), "demo-key") {
		t.Fatalf("hint lacks the key: %s", out.String())
	}
	req, _ := http.NewRequest("POST", base+"/v1/messages", strings.NewReader(`{"to":"+447700900123","text":"Hello from smsgw"}`))
	req.Header.Set("Authorization", "Bearer demo-key")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var m struct{ ID, Status string }
	_ = json.NewDecoder(res.Body).Decode(&m)
	res.Body.Close()
	if res.StatusCode != 202 || m.ID == "" {
		t.Fatalf("submit %d %+v", res.StatusCode, m)
	}
	for {
		req, _ := http.NewRequest("GET", base+"/v1/messages/"+m.ID, nil)
		req.Header.Set("Authorization", "Bearer demo-key")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if strings.Contains(string(b), `"status":"delivered"`) && strings.Contains(string(b), "message.delivered") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not delivered: %s\n%s", b, errOut.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The bridge's routes are mounted on the same server.
	req, _ = http.NewRequest("GET", base+"/v1/webhooks", nil)
	req.Header.Set("Authorization", "Bearer demo-key")
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 200 {
		t.Fatalf("webhooks route: %v %v", res, err)
	} else {
		res.Body.Close()
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v\n%s", err, errOut.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
	if !strings.Contains(errOut.String(), "gateway engine stopped") {
		t.Fatalf("no clean stop:\n%s", errOut.String())
	}
}

func TestGatewayBadConfig(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv("SMSGW_HTTP_MAX_BODY_BYTES", "-5")
	var errOut syncBuffer
	cmd := newRootCmd()
	cmd.SetArgs([]string{"gateway"})
	cmd.SetErr(&errOut)
	if err := cmd.ExecuteContext(t.Context()); err == nil || !strings.Contains(errOut.String(), "http.max_body_bytes") {
		t.Fatalf("err %v, out %q", err, errOut.String())
	}
}
