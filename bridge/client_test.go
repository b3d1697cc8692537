package bridge

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/smsgw/smsgw/events"
)

// refusedURL is an address nothing listens on.
func refusedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr + "/hook"
}

// TestAnswerTable drives every line of the contract's answer table through
// the real client against a real receiver, and checks the pure policy's
// verdict for it.
func TestAnswerTable(t *testing.T) {
	type answer struct {
		status     int
		retryAfter string
		sleep      time.Duration
		location   string
	}
	tests := []struct {
		name        string
		answer      answer
		refused     bool
		wantStatus  int
		wantVerdict Verdict
		wantRA      time.Duration
		wantErr     bool
	}{
		{name: "200", answer: answer{status: 200}, wantStatus: 200, wantVerdict: Done},
		{name: "204", answer: answer{status: 204}, wantStatus: 204, wantVerdict: Done},
		{name: "301 not followed", answer: answer{status: 301, location: "/elsewhere"}, wantStatus: 301, wantVerdict: Retry},
		{name: "302 not followed", answer: answer{status: 302, location: "/elsewhere"}, wantStatus: 302, wantVerdict: Retry},
		{name: "410", answer: answer{status: 410}, wantStatus: 410, wantVerdict: Disable},
		{name: "429 with Retry-After", answer: answer{status: 429, retryAfter: "7"}, wantStatus: 429, wantVerdict: Throttle, wantRA: 7 * time.Second},
		{name: "429 without Retry-After", answer: answer{status: 429}, wantStatus: 429, wantVerdict: Throttle},
		{name: "500", answer: answer{status: 500}, wantStatus: 500, wantVerdict: Retry},
		{name: "502", answer: answer{status: 502}, wantStatus: 502, wantVerdict: Throttle},
		{name: "503 with Retry-After", answer: answer{status: 503, retryAfter: "3"}, wantStatus: 503, wantVerdict: Throttle, wantRA: 3 * time.Second},
		{name: "504", answer: answer{status: 504}, wantStatus: 504, wantVerdict: Throttle},
		{name: "400", answer: answer{status: 400}, wantStatus: 400, wantVerdict: Retry},
		{name: "404", answer: answer{status: 404}, wantStatus: 404, wantVerdict: Retry},
		{name: "timeout", answer: answer{status: 200, sleep: time.Second}, wantStatus: 0, wantVerdict: Retry, wantErr: true},
		{name: "refused connection", refused: true, wantStatus: 0, wantVerdict: Retry, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hits, redirected atomic.Int32
			mux := http.NewServeMux()
			mux.HandleFunc("/elsewhere", func(w http.ResponseWriter, r *http.Request) { redirected.Add(1) })
			mux.HandleFunc("/hook", func(w http.ResponseWriter, r *http.Request) {
				hits.Add(1)
				if tt.answer.sleep > 0 {
					select {
					case <-time.After(tt.answer.sleep):
					case <-r.Context().Done():
						return
					}
				}
				if tt.answer.retryAfter != "" {
					w.Header().Set("Retry-After", tt.answer.retryAfter)
				}
				if tt.answer.location != "" {
					w.Header().Set("Location", tt.answer.location)
				}
				w.WriteHeader(tt.answer.status)
				_, _ = io.WriteString(w, "answer body")
			})
			srv := httptest.NewServer(mux)
			defer srv.Close()
			url := srv.URL + "/hook"
			if tt.refused {
				url = refusedURL(t)
			}
			d := NewDeliverer(DelivererConfig{AllowPrivateTargets: true, QuickRetries: -1, Timeout: 300 * time.Millisecond})
			defer d.Close()
			r := d.Attempt(context.Background(), Endpoint{ID: "ep_t", URL: url, Secrets: []string{testSecretA}}, events.New(events.WebhookTest, events.Data{Sequence: 1}))
			if r.Status != tt.wantStatus {
				t.Errorf("status %d, want %d (err %q)", r.Status, tt.wantStatus, r.Err)
			}
			if r.Verdict != tt.wantVerdict || Classify(r.Status, errors.New(r.Err)) != tt.wantVerdict {
				t.Errorf("verdict %s, want %s", r.Verdict, tt.wantVerdict)
			}
			if r.RetryAfter != tt.wantRA {
				t.Errorf("retry-after %s, want %s", r.RetryAfter, tt.wantRA)
			}
			if (r.Err != "") != tt.wantErr {
				t.Errorf("err %q, want error %v", r.Err, tt.wantErr)
			}
			if !tt.refused && tt.answer.sleep == 0 && tt.answer.status != 204 && r.ResponseExcerpt != "answer body" {
				t.Errorf("excerpt %q", r.ResponseExcerpt)
			}
			if redirected.Load() != 0 {
				t.Error("a redirect was followed")
			}
			if !tt.refused && hits.Load() != 1 {
				t.Errorf("hits %d, want exactly 1 (no retries in Attempt)", hits.Load())
			}
			if r.Latency <= 0 && !tt.refused {
				t.Errorf("latency %s", r.Latency)
			}
		})
	}
}

// Quick retries: a 500 is repeated at once within one scheduled attempt,
// each try signed afresh with the same webhook-id; a 503 is not.
func TestQuickRetries(t *testing.T) {
	var mu sync.Mutex
	var ids, stamps []string
	var fails atomic.Int32
	fails.Store(2)
	wh, _ := standardwebhooks.NewWebhook(testSecretA)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := wh.Verify(body, r.Header); err != nil {
			t.Errorf("verify: %v", err)
		}
		if r.Header.Get("User-Agent") != "smsgw/1.2.3" || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("headers %v", r.Header)
		}
		mu.Lock()
		ids = append(ids, r.Header.Get("webhook-id"))
		stamps = append(stamps, r.Header.Get("webhook-timestamp"))
		mu.Unlock()
		if fails.Add(-1) >= 0 {
			w.WriteHeader(500)
		}
	}))
	defer srv.Close()
	var clock atomic.Int64
	clock.Store(time.Now().Unix())
	now := func() time.Time { return time.Unix(clock.Add(1), 0) } // every call a second later
	d := NewDeliverer(DelivererConfig{AllowPrivateTargets: true, QuickRetries: 2, QuickRetryWait: time.Millisecond, Version: "1.2.3", Now: now})
	defer d.Close()
	e := events.New(events.MessageSent, events.Data{MessageID: "msg_1", Sequence: 1})
	body, _ := e.WebhookBody()
	var tries []dlvTry
	last := d.send(context.Background(), dlvTarget{url: srv.URL, secrets: []string{testSecretA}}, e.ID, body, true, func(tr dlvTry, more bool) {
		tries = append(tries, tr)
	})
	if last.status != 200 || len(tries) != 3 {
		t.Fatalf("last %d, tries %d; want 200 after 3", last.status, len(tries))
	}
	for i, id := range ids {
		if id != e.ID {
			t.Errorf("try %d webhook-id %q, want %q", i, id, e.ID)
		}
	}
	if stamps[0] == stamps[1] || stamps[1] == stamps[2] {
		t.Errorf("timestamps not fresh per try: %v", stamps)
	}
	// 503 is a throttle: never repeated at once.
	fails.Store(0)
	srv503 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fails.Add(1)
		w.WriteHeader(503)
	}))
	defer srv503.Close()
	d.send(context.Background(), dlvTarget{url: srv503.URL, secrets: []string{testSecretA}}, e.ID, body, true, nil)
	if fails.Load() != 1 {
		t.Errorf("503 tried %d times, want 1", fails.Load())
	}
}

func TestExcerptCappedAndURLRedacted(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(500)
		_, _ = io.WriteString(w, strings.Repeat("é", 4000)) // 8000 bytes, multi-byte
	}))
	defer srv.Close()
	d := NewDeliverer(DelivererConfig{AllowPrivateTargets: true, QuickRetries: -1})
	defer d.Close()
	r := d.Attempt(context.Background(), Endpoint{URL: srv.URL, Secrets: []string{testSecretA}}, events.New(events.WebhookTest, events.Data{}))
	if len(r.ResponseExcerpt) > ExcerptBytes || len(r.ResponseExcerpt) < ExcerptBytes-4 || !strings.HasPrefix(r.ResponseExcerpt, "éé") {
		t.Errorf("excerpt of %d bytes", len(r.ResponseExcerpt))
	}
	if strings.ContainsRune(r.ResponseExcerpt, '\uFFFD') {
		t.Error("excerpt cut inside a character")
	}
	u := refusedURL(t)
	u = strings.Replace(u, "http://", "http://user:pass@", 1) + "?token=s3cret"
	r = d.Attempt(context.Background(), Endpoint{URL: u, Secrets: []string{testSecretA}}, events.New(events.WebhookTest, events.Data{}))
	if r.Err == "" || strings.Contains(r.Err, "s3cret") || strings.Contains(r.Err, "pass") {
		t.Errorf("error not redacted: %q", r.Err)
	}
	for in, want := range map[string]string{
		"https://u:p@h.example/x?y=1#f": "https://h.example/x",
		"http://h/p":                    "http://h/p",
		"::bad":                         "[unparsable url]",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// Keep-alive: many deliveries to one receiver reuse a few connections.
func TestConnectionReuse(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	d := NewDeliverer(DelivererConfig{AllowPrivateTargets: true, QuickRetries: -1})
	defer d.Close()
	ep := Endpoint{URL: srv.URL, Secrets: []string{testSecretA}}
	for range 200 {
		if r := d.Attempt(context.Background(), ep, events.New(events.WebhookTest, events.Data{})); r.Status != 200 {
			t.Fatalf("%+v", r)
		}
	}
	// A failing endpoint elsewhere must not drop this one's idle connections.
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }))
	defer bad.Close()
	qd := NewDeliverer(DelivererConfig{AllowPrivateTargets: true, QuickRetries: 1, QuickRetryWait: time.Millisecond})
	defer qd.Close()
	qd.transport = d.transport
	qd.quick = newRetryClient(d.transport, 1, time.Millisecond, time.Millisecond)
	body := []byte("{}")
	qd.send(context.Background(), dlvTarget{url: bad.URL, secrets: []string{testSecretA}}, "evt_x", body, true, nil)
	for range 10 {
		d.Attempt(context.Background(), ep, events.New(events.WebhookTest, events.Data{}))
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for sequential deliveries, want 1", n)
	}
}
