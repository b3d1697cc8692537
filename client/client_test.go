package client_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/smsgw/smsgw/client"
	"github.com/smsgw/smsgw/loadtest/stacktest"
)

func startStack(t *testing.T) *stacktest.Stack {
	t.Helper()
	s, err := stacktest.Start(context.Background(), stacktest.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

func newClient(t *testing.T, url, key string) *client.Client {
	t.Helper()
	c, err := client.New(client.Config{BaseURL: url, APIKey: key, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestAgainstGateway runs every method against a real in-process gateway
// and bridge (embedded JetStream, simulator).
func TestAgainstGateway(t *testing.T) {
	s := startStack(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := newClient(t, s.URL, stacktest.APIKey)

	if err := c.Ready(ctx); err != nil {
		t.Fatalf("Ready: %v", err)
	}

	m, err := c.Submit(ctx, client.SubmitRequest{To: "+447700900123", Text: "hi", Metadata: map[string]string{"k": "v"}}, "idem-1")
	if err != nil {
		t.Fatalf("Submit: %v", err)
	}
	if !strings.HasPrefix(m.ID, "msg_") || m.Status != "accepted" || m.From != stacktest.Sender || m.Parts != 1 || m.Metadata["k"] != "v" {
		t.Fatalf("Submit answer: %+v", m)
	}
	again, err := c.Submit(ctx, client.SubmitRequest{To: "+447700900123", Text: "hi", Metadata: map[string]string{"k": "v"}}, "idem-1")
	if err != nil || again.ID != m.ID {
		t.Fatalf("idempotent retry: %+v, %v; want id %s", again, err, m.ID)
	}

	// The message reaches delivered through the simulator; GET shows the
	// history.
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := c.GetMessage(ctx, m.ID)
		if err != nil {
			t.Fatalf("GetMessage: %v", err)
		}
		if got.Status == "delivered" {
			if len(got.Events) < 2 || got.Events[0].Type != "message.sent" {
				t.Fatalf("events: %+v", got.Events)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status %q after 10s, want delivered", got.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}

	tests := []struct {
		name     string
		call     func() error
		status   int
		sentinel error
		field    string
	}{
		{"national number", func() error {
			_, err := c.Submit(ctx, client.SubmitRequest{To: "07700900123", Text: "x"}, "")
			return err
		}, 400, client.ErrInvalid, "to"},
		{"missing text", func() error {
			_, err := c.Submit(ctx, client.SubmitRequest{To: "+447700900123"}, "")
			return err
		}, 400, client.ErrInvalid, "text"},
		{"unknown message", func() error { _, err := c.GetMessage(ctx, "msg_nope"); return err }, 404, client.ErrNotFound, ""},
		{"bad webhook url", func() error {
			_, err := c.CreateWebhook(ctx, client.WebhookRequest{URL: "ftp://x", Events: []string{"message.*"}})
			return err
		}, 400, client.ErrInvalid, "url"},
		{"unauthorized", func() error {
			_, err := newClient(t, s.URL, "wrong").GetMessage(ctx, m.ID)
			return err
		}, 401, client.ErrUnauthorized, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			var p *client.Problem
			if !errors.As(err, &p) {
				t.Fatalf("err %v (%T), want *client.Problem", err, err)
			}
			if p.Status != tt.status || !errors.Is(err, tt.sentinel) {
				t.Fatalf("problem %+v, want status %d matching %v", p, tt.status, tt.sentinel)
			}
			if tt.field != "" && (len(p.Errors) == 0 || p.Errors[0].Field != tt.field) {
				t.Fatalf("field errors %+v, want %q first", p.Errors, tt.field)
			}
			if p.Reason() == "" || p.Error() == "" {
				t.Fatal("empty reason or message")
			}
		})
	}

	res, err := c.SubmitBatch(ctx, []client.SubmitRequest{
		{To: "+447700900124", Text: "a"},
		{To: "nope", Text: "b"},
		{To: "+447700900125", Text: "c"},
	}, "")
	if err != nil {
		t.Fatalf("SubmitBatch: %v", err)
	}
	if res[0].Status != 202 || res[0].Message == nil || res[1].Status != 400 || res[1].Problem == nil || res[2].Status != 202 {
		t.Fatalf("batch results: %+v", res)
	}
	if _, err := c.SubmitBatch(ctx, nil, ""); !errors.Is(err, client.ErrInvalid) {
		t.Fatalf("empty batch: %v", err)
	}

	wh, err := c.CreateWebhook(ctx, client.WebhookRequest{URL: "http://127.0.0.1:9/hook", Events: []string{"message.delivered"}})
	if err != nil {
		t.Fatalf("CreateWebhook: %v", err)
	}
	if !strings.HasPrefix(wh.Secret, "whsec_") || !wh.Enabled {
		t.Fatalf("webhook: %+v", wh)
	}
	list, err := c.ListWebhooks(ctx)
	if err != nil || len(list) != 1 || list[0].Secret != "" {
		t.Fatalf("ListWebhooks: %+v, %v", list, err)
	}
	if _, err := c.GetWebhook(ctx, wh.ID); err != nil {
		t.Fatalf("GetWebhook: %v", err)
	}
	if err := c.DeleteWebhook(ctx, wh.ID); err != nil {
		t.Fatalf("DeleteWebhook: %v", err)
	}
	if err := c.DeleteWebhook(ctx, wh.ID); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("second delete: %v, want ErrNotFound", err)
	}
}

func TestNewConfig(t *testing.T) {
	for _, u := range []string{"", "127.0.0.1:8080", "ftp://x", "http://", "::"} {
		if _, err := client.New(client.Config{BaseURL: u}); !errors.Is(err, client.ErrConfig) {
			t.Errorf("BaseURL %q: err %v, want ErrConfig", u, err)
		}
	}
}

// TestNonProblemAnswers: answers that are not problem+json still become a
// *Problem with the status; a connection that never answers is a
// *TransportError.
func TestNonProblemAnswers(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/messages/html":
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write([]byte("<h1>" + strings.Repeat("x", 2000) + "</h1>"))
		case "/v1/messages/garbage":
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte("{not json"))
		default:
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"type":"about:blank","title":"Service Unavailable","status":503,"detail":"store down"}`))
		}
	}))
	defer srv.Close()
	c := newClient(t, srv.URL, "k")
	ctx := context.Background()

	_, err := c.GetMessage(ctx, "html")
	var p *client.Problem
	if !errors.As(err, &p) || p.Status != 502 || len(p.Detail) > 600 {
		t.Fatalf("html answer: %v", err)
	}
	if _, err := c.GetMessage(ctx, "garbage"); !errors.Is(err, client.ErrUnexpected) {
		t.Fatalf("garbage 200: %v, want ErrUnexpected", err)
	}
	if _, err := c.GetMessage(ctx, "x"); !errors.Is(err, client.ErrUnavailable) || !strings.Contains(err.Error(), "store down") {
		t.Fatalf("503: %v", err)
	}

	srv.Close()
	_, err = c.GetMessage(ctx, "x")
	var te *client.TransportError
	if !errors.As(err, &te) {
		t.Fatalf("closed server: %v (%T), want *TransportError", err, err)
	}
}
