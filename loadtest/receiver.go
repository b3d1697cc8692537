package loadtest

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/smsgw/smsgw/events"
)

// NewSecret returns a fresh Standard Webhooks secret ("whsec_" + base64 of
// 32 random bytes).
func NewSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("loadtest: secret: %w", err)
	}
	return "whsec_" + base64.StdEncoding.EncodeToString(b), nil
}

// ReceiverConfig configures StartReceiver.
type ReceiverConfig struct {
	// Secret verifies every delivery ("whsec_…"). Required.
	Secret string
	// Addr to listen on. Default "127.0.0.1:0".
	Addr string
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Logger; nil discards.
	Logger *slog.Logger
}

// Final is the first final event (delivered, undelivered, failed) received
// for a message.
type Final struct {
	Type string
	At   time.Time // when the webhook arrived
}

// ReceiverStats counts what the receiver saw.
type ReceiverStats struct {
	Requests int `json:"requests"`
	// BadSignatures: deliveries whose signature did not verify (answered
	// 401, so the bridge retries them).
	BadSignatures int `json:"bad_signatures"`
	// Malformed: verified bodies that are not an event envelope.
	Malformed int `json:"malformed"`
	// DuplicateIDs: deliveries of a webhook-id already received.
	DuplicateIDs int `json:"duplicate_ids"`
	// DuplicateFinals: a second, distinct webhook-id carrying a final
	// event for a message that already had one.
	DuplicateFinals int `json:"duplicate_finals"`
	// Finals: messages with a final event.
	Finals int `json:"finals"`
}

// Receiver is a webhook endpoint that verifies every signature with the
// Standard Webhooks reference library and records final message events.
type Receiver struct {
	wh   *standardwebhooks.Webhook
	now  func() time.Time
	log  *slog.Logger
	ln   net.Listener
	srv  *http.Server
	done chan struct{}

	mu     sync.Mutex
	seen   map[string]struct{}
	finals map[string]Final
	stats  ReceiverStats
	notify chan struct{} // signalled (non-blocking) on every new final
	// count caches CountFinals for the id list it was last asked about:
	// bench asks ten times a second about the same 20,000 ids.
	count struct {
		first *string        // &ids[0] of that list
		n     int            // its length
		want  map[string]int // its ids (with repeats)
		found int            // how many of them have a final
	}

	closeOnce sync.Once
	closeErr  error
}

// maxWebhookBody caps a delivery body; events are far smaller.
const maxWebhookBody = 1 << 20

// StartReceiver listens and serves until Close.
func StartReceiver(cfg ReceiverConfig) (*Receiver, error) {
	wh, err := standardwebhooks.NewWebhook(cfg.Secret)
	if err != nil || cfg.Secret == "" {
		return nil, fmt.Errorf("%w: receiver secret: want whsec_<base64>", ErrConfig)
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("loadtest: receiver listen %s: %w", cfg.Addr, err)
	}
	r := &Receiver{
		wh: wh, now: cfg.Now, log: cfg.Logger, ln: ln, done: make(chan struct{}),
		seen: map[string]struct{}{}, finals: map[string]Final{}, notify: make(chan struct{}, 1),
	}
	r.srv = &http.Server{
		Handler:           r,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
	}
	go func() {
		defer close(r.done)
		if err := r.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			r.log.Error("webhook receiver stopped", "err", err)
		}
	}()
	return r, nil
}

// URL is where the receiver takes deliveries.
func (r *Receiver) URL() string { return "http://" + r.ln.Addr().String() + "/webhook" }

// Addr is the listen address.
func (r *Receiver) Addr() string { return r.ln.Addr().String() }

// Notify is signalled after each new final event (coalesced).
func (r *Receiver) Notify() <-chan struct{} { return r.notify }

// Stats returns the counters so far.
func (r *Receiver) Stats() ReceiverStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.stats
	s.Finals = len(r.finals)
	return s
}

// Final returns the first final event of a message, if any arrived.
func (r *Receiver) Final(messageID string) (Final, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f, ok := r.finals[messageID]
	return f, ok
}

// CountFinals counts how many of ids have a final event. Asked again
// about the same list (same slice, not changed since), it answers from a
// count kept up to date as finals arrive instead of looking every id up.
func (r *Receiver) CountFinals(ids []string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(ids) == 0 {
		return 0
	}
	c := &r.count
	if c.first == &ids[0] && c.n == len(ids) {
		return c.found
	}
	c.first, c.n, c.found = &ids[0], len(ids), 0
	c.want = make(map[string]int, len(ids))
	for _, id := range ids {
		c.want[id]++
		if _, ok := r.finals[id]; ok {
			c.found++
		}
	}
	return c.found
}

// Close stops the server, waiting for requests in flight. Safe to call
// twice.
func (r *Receiver) Close() error {
	r.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := r.srv.Shutdown(ctx); err != nil {
			_ = r.srv.Close()
			r.closeErr = fmt.Errorf("loadtest: receiver shutdown: %w", err)
		}
		<-r.done
	})
	return r.closeErr
}

// ServeHTTP verifies and records one delivery.
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	at := r.now()
	if req.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, maxWebhookBody))
	r.mu.Lock()
	r.stats.Requests++
	r.mu.Unlock()
	if err != nil {
		http.Error(w, "unreadable body", http.StatusBadRequest)
		return
	}
	if err := r.wh.Verify(body, req.Header); err != nil {
		r.mu.Lock()
		r.stats.BadSignatures++
		r.mu.Unlock()
		r.log.Warn("webhook signature did not verify", "webhook_id", req.Header.Get("webhook-id"), "err", err)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	ev, err := events.Unmarshal(body)
	if err != nil || ev.Type == "" {
		r.mu.Lock()
		r.stats.Malformed++
		r.mu.Unlock()
		// 2xx anyway: retrying a malformed body would not fix it.
		w.WriteHeader(http.StatusNoContent)
		return
	}
	id := req.Header.Get("webhook-id")
	r.record(id, ev, at)
	w.WriteHeader(http.StatusNoContent)
}

func (r *Receiver) record(id string, ev events.Event, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.seen[id]; dup {
		r.stats.DuplicateIDs++
		return
	}
	r.seen[id] = struct{}{}
	if !IsFinal(ev.Type) || ev.Data.MessageID == "" {
		return
	}
	if _, dup := r.finals[ev.Data.MessageID]; dup {
		r.stats.DuplicateFinals++
		return
	}
	r.finals[ev.Data.MessageID] = Final{Type: ev.Type, At: at}
	r.count.found += r.count.want[ev.Data.MessageID]
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

// FinalTypes are the event types that end a message's life.
var FinalTypes = []string{events.MessageDelivered, events.MessageUndelivered, events.MessageFailed}

// IsFinal reports whether typ is one of FinalTypes.
func IsFinal(typ string) bool {
	switch typ {
	case events.MessageDelivered, events.MessageUndelivered, events.MessageFailed:
		return true
	}
	return false
}
