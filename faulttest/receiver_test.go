package faulttest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/smsgw/smsgw/events"
)

// receiver is the webhook endpoint of the fault tests. It verifies every
// delivery with the Standard Webhooks reference library and records, per
// message, every distinct webhook-id of each final event, so the end of a
// test can tell a redelivery (same webhook-id: allowed) from a second,
// different final (never allowed) and from a loss.
type receiver struct {
	srv *httptest.Server
	wh  *standardwebhooks.Webhook

	// refuseUntil (unix nanos): until then every delivery is answered 503.
	refuseUntil atomic.Int64
	// delay is how long each accepted delivery takes (nanos), so bridges
	// always have deliveries in flight when a fault hits.
	delay atomic.Int64
	// inflight counts requests being answered now.
	inflight atomic.Int64

	mu        sync.Mutex
	requests  int
	refused   int
	aborted   int // the sender went away before the answer
	badSig    int
	malformed int
	perID     map[string]int                       // webhook-id → deliveries received
	finals    map[string]map[string]string         // message id → webhook-id → type
	inbound   map[string]map[string]struct{}       // inbound text → webhook-ids
	firstAt   map[string]time.Time                 // message id → first final
	sequences map[string]map[int]map[string]string // message id → sequence → webhook-id → type
}

func newReceiver(t testing.TB, secret string) *receiver {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	r := &receiver{
		wh: wh, perID: map[string]int{}, finals: map[string]map[string]string{},
		inbound: map[string]map[string]struct{}{}, firstAt: map[string]time.Time{},
		sequences: map[string]map[int]map[string]string{},
	}
	r.srv = httptest.NewServer(r)
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) URL() string { return r.srv.URL + "/hook" }

// refuseFor answers 503 to every delivery for d from now.
func (r *receiver) refuseFor(d time.Duration) {
	r.refuseUntil.Store(time.Now().Add(d).UnixNano())
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	r.mu.Lock()
	r.requests++
	r.mu.Unlock()
	if err != nil {
		http.Error(w, "unreadable", http.StatusBadRequest)
		return
	}
	r.inflight.Add(1)
	defer r.inflight.Add(-1)
	if d := time.Duration(r.delay.Load()); d > 0 {
		select {
		case <-time.After(d):
		case <-req.Context().Done():
			// The sender is gone (a killed bridge): it never saw an answer,
			// so this does not count as delivered.
			r.mu.Lock()
			r.aborted++
			r.mu.Unlock()
			return
		}
	}
	if time.Now().UnixNano() < r.refuseUntil.Load() {
		r.mu.Lock()
		r.refused++
		r.mu.Unlock()
		w.Header().Set("Retry-After", "1")
		http.Error(w, "maintenance", http.StatusServiceUnavailable)
		return
	}
	if err := r.wh.Verify(body, req.Header); err != nil {
		r.mu.Lock()
		r.badSig++
		r.mu.Unlock()
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var ev events.Event
	if err := json.Unmarshal(body, &ev); err != nil || ev.Type == "" {
		r.mu.Lock()
		r.malformed++
		r.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
		return
	}
	id := req.Header.Get("webhook-id")
	r.mu.Lock()
	r.perID[id]++
	switch {
	case isFinal(ev.Type):
		m := r.finals[ev.Data.MessageID]
		if m == nil {
			m = map[string]string{}
			r.finals[ev.Data.MessageID] = m
			r.firstAt[ev.Data.MessageID] = time.Now()
		}
		m[id] = ev.Type
	case ev.Type == events.MessageInbound:
		s := r.inbound[ev.Data.Text]
		if s == nil {
			s = map[string]struct{}{}
			r.inbound[ev.Data.Text] = s
		}
		s[id] = struct{}{}
	}
	if ev.Data.MessageID != "" && ev.Type != events.MessageInbound {
		bySeq := r.sequences[ev.Data.MessageID]
		if bySeq == nil {
			bySeq = map[int]map[string]string{}
			r.sequences[ev.Data.MessageID] = bySeq
		}
		if bySeq[ev.Data.Sequence] == nil {
			bySeq[ev.Data.Sequence] = map[string]string{}
		}
		bySeq[ev.Data.Sequence][id] = ev.Type
	}
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func isFinal(typ string) bool {
	switch typ {
	case events.MessageDelivered, events.MessageUndelivered, events.MessageFailed:
		return true
	}
	return false
}

// progress counts how many of ids have a final and a message.sent, and how
// many of texts an inbound event.
func (r *receiver) progress(ids []string, texts []string) (finals, sent, inbound int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range ids {
		if len(r.finals[id]) > 0 {
			finals++
		}
		if len(r.sequences[id][1]) > 0 {
			sent++
		}
	}
	for _, s := range texts {
		if len(r.inbound[s]) > 0 {
			inbound++
		}
	}
	return finals, sent, inbound
}
