package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/smsgw/smsgw/bus"
	"github.com/smsgw/smsgw/config"
	"github.com/smsgw/smsgw/events"
)

// --- harness: real embedded NATS, real endpoint store, real receivers ---

func openBus(t testing.TB, cfg bus.Config) *bus.Bus {
	t.Helper()
	if cfg.URL == "" && cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	b, err := bus.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func openStore(t testing.TB, b *bus.Bus) *EndpointStore {
	t.Helper()
	s, err := NewEndpointStore(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// testSettings: loopback receivers allowed, a retry schedule in
// milliseconds, no jitter.
func testSettings() config.Bridge {
	s := config.Default().Bridge
	s.AllowPrivateTargets = true
	s.RetrySchedule = []time.Duration{20 * time.Millisecond, 40 * time.Millisecond, 60 * time.Millisecond}
	s.Jitter = 0
	s.Timeout = 2 * time.Second
	s.DisableAfter = 0
	return s
}

func startBridge(t testing.TB, b *bus.Bus, store *EndpointStore, mod func(*Config)) *Bridge {
	t.Helper()
	cfg := Config{Bus: b, Store: store, Settings: testSettings(), Version: "test", QuickRetries: -1}
	if mod != nil {
		mod(&cfg)
	}
	br, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := br.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = br.Close(ctx)
	})
	return br
}

type received struct {
	id, ts, sig string
	body        []byte
	at          time.Time // answered
	arrived     time.Time // the request reached the receiver (before verification)
	status      int
}

// receiver is an httptest webhook receiver that verifies every request with
// the Standard Webhooks library (not our signing code), with each of its
// secrets.
type receiver struct {
	t       testing.TB
	srv     *httptest.Server
	secrets []string
	answer  func(n int, w http.ResponseWriter, r *http.Request) int // status; nil: 200

	mu   sync.Mutex
	got  []received
	seen chan struct{}
}

func newReceiver(t testing.TB, answer func(n int, w http.ResponseWriter, r *http.Request) int, secrets ...string) *receiver {
	rc := &receiver{t: t, secrets: secrets, answer: answer, seen: make(chan struct{}, 1)}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	arrived := time.Now()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	for _, sec := range rc.secrets {
		wh, err := standardwebhooks.NewWebhook(sec)
		if err != nil {
			rc.t.Errorf("receiver secret: %v", err)
			continue
		}
		if err := wh.Verify(body, r.Header); err != nil {
			rc.t.Errorf("receiver: verify with %s…: %v", sec[:12], err)
		}
	}
	rc.mu.Lock()
	n := len(rc.got)
	rc.got = append(rc.got, received{})
	rc.mu.Unlock()
	status := 200
	if rc.answer != nil {
		status = rc.answer(n, w, r)
	}
	if status == 0 {
		return // the answer func wrote (or hung up)
	}
	w.WriteHeader(status)
	rc.mu.Lock()
	rc.got[n] = received{
		id: r.Header.Get("webhook-id"), ts: r.Header.Get("webhook-timestamp"), sig: r.Header.Get("webhook-signature"),
		body: body, at: time.Now(), arrived: arrived, status: status,
	}
	rc.mu.Unlock()
	select {
	case rc.seen <- struct{}{}:
	default:
	}
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := make([]received, 0, len(rc.got))
	for _, g := range rc.got {
		if g.id != "" {
			out = append(out, g)
		}
	}
	return out
}

// count is every request received, answered or not.
func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.got)
}

// delivered is the 2xx requests, by webhook-id.
func (rc *receiver) delivered() map[string][]received {
	m := map[string][]received{}
	for _, g := range rc.requests() {
		if g.status/100 == 2 {
			m[g.id] = append(m[g.id], g)
		}
	}
	return m
}

func (rc *receiver) types() []string {
	var out []string
	for _, g := range rc.requests() {
		var e events.Event
		_ = json.Unmarshal(g.body, &e)
		out = append(out, e.Type)
	}
	sort.Strings(out)
	return out
}

func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func createEndpoint(t testing.TB, store *EndpointStore, account, url string, evs []string, secrets ...string) Endpoint {
	t.Helper()
	if len(secrets) == 0 {
		secrets = []string{testSecretA}
	}
	ep, err := store.Create(context.Background(), Endpoint{Account: account, URL: url, Events: evs, Enabled: true, Secrets: secrets})
	if err != nil {
		t.Fatal(err)
	}
	return ep
}

func publish(t testing.TB, b *bus.Bus, account, typ string, h nats.Header) events.Event {
	t.Helper()
	e := events.New(typ, events.Data{MessageID: events.NewMessageID(), To: "+447700900123", Status: "x", Sequence: 1})
	if _, err := b.PublishEvent(context.Background(), account, e, h); err != nil {
		t.Fatal(err)
	}
	return e
}

// --- acceptance tests ---

func TestDeliverFanOutAndFilters(t *testing.T) {
	b := openBus(t, bus.Config{})
	store := openStore(t, b)
	all := newReceiver(t, nil, testSecretA)
	onlyDelivered := newReceiver(t, nil, testSecretB)
	other := newReceiver(t, nil, testSecretA)
	createEndpoint(t, store, "acme", all.srv.URL+"/all", []string{"message.*"})
	createEndpoint(t, store, "acme", onlyDelivered.srv.URL, []string{events.MessageDelivered}, testSecretB)
	createEndpoint(t, store, "other", other.srv.URL, []string{"*"})
	startBridge(t, b, store, nil)

	sent := publish(t, b, "acme", events.MessageSent, nil)
	publish(t, b, "acme", events.MessageDelivered, nil)
	publish(t, b, "acme", events.ContactOptedOut, nil)
	publish(t, b, "other", events.MessageSent, nil)
	publish(t, b, events.UnassignedAccount, events.MessageInbound, nil)
	// A marker last: once it is in, everything before it has been handled.
	publish(t, b, "acme", events.MessageFailed, nil)
	publish(t, b, "other", events.MessageFailed, nil)

	waitFor(t, "deliveries", 10*time.Second, func() bool {
		return len(all.requests()) == 3 && len(onlyDelivered.requests()) == 1 && len(other.requests()) == 2
	})
	time.Sleep(100 * time.Millisecond) // nothing more may arrive
	if got, want := all.types(), []string{events.MessageDelivered, events.MessageFailed, events.MessageSent}; !slices.Equal(got, want) {
		t.Errorf("message.* endpoint got %v, want %v", got, want)
	}
	if got := onlyDelivered.types(); !slices.Equal(got, []string{events.MessageDelivered}) {
		t.Errorf("message.delivered endpoint got %v", got)
	}
	if got := other.types(); !slices.Equal(got, []string{events.MessageFailed, events.MessageSent}) {
		t.Errorf("other account got %v", got)
	}
	// The body is the envelope without id, exactly.
	want, _ := sent.WebhookBody()
	for _, r := range all.requests() {
		if r.id == sent.ID && string(r.body) != string(want) {
			t.Errorf("body %s, want %s", r.body, want)
		}
		if strings.Contains(string(r.body), `"id"`) {
			t.Errorf("body has an id field: %s", r.body)
		}
	}
}

func TestFailThreeTimesThenSucceed(t *testing.T) {
	b := openBus(t, bus.Config{})
	store := openStore(t, b)
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) int {
		if n < 3 {
			return 500
		}
		return 200
	}, testSecretA)
	ep := createEndpoint(t, store, "acme", rc.srv.URL, []string{"*"})
	startBridge(t, b, store, nil)
	e := publish(t, b, "acme", events.MessageSent, nil)

	var recs []AttemptRecord
	waitFor(t, "4 attempts logged", 10*time.Second, func() bool {
		var err error
		recs, err = RecentAttempts(context.Background(), b.JS, ep.ID, 0)
		return err == nil && len(recs) == 4
	})
	if d := rc.delivered(); len(d) != 1 || len(d[e.ID]) != 1 {
		t.Errorf("delivered %v, want once", d)
	}
	for i, r := range recs { // newest first
		wantOutcome, wantStatus := OutcomeRetry, 500
		if i == 0 {
			wantOutcome, wantStatus = OutcomeDelivered, 200
		}
		if r.Attempt != 4-i || r.Outcome != wantOutcome || r.Status != wantStatus || r.EventID != e.ID || r.EndpointID != ep.ID || r.EventType != events.MessageSent {
			t.Errorf("record %d: %+v", i, r)
		}
	}
	for _, r := range rc.requests() {
		if r.id != e.ID {
			t.Errorf("webhook-id %q on a retry, want %q", r.id, e.ID)
		}
	}
}

func readDeadLetters(t testing.TB, js jetstream.JetStream, target string) []DeadLetter {
	t.Helper()
	ctx := context.Background()
	s, err := js.Stream(ctx, DeadLetterStream)
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{DeadLetterSubject(target)}})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := c.FetchNoWait(100)
	if err != nil {
		t.Fatal(err)
	}
	var out []DeadLetter
	for m := range batch.Messages() {
		md, _ := m.Metadata()
		dl, err := DecodeDeadLetter(m.Subject(), m.Headers(), m.Data(), md.Sequence.Stream, md.Timestamp)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, dl)
	}
	return out
}

func TestDeadLetterThenReplay(t *testing.T) {
	b := openBus(t, bus.Config{})
	store := openStore(t, b)
	var up atomic.Bool
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) int {
		if up.Load() {
			return 200
		}
		return 503
	}, testSecretA)
	ep := createEndpoint(t, store, "acme", rc.srv.URL, []string{"*"})
	startBridge(t, b, store, nil)
	e := publish(t, b, "acme", events.MessageDelivered, nil)

	var dls []DeadLetter
	waitFor(t, "a dead letter", 10*time.Second, func() bool {
		dls = readDeadLetters(t, b.JS, ep.ID)
		return len(dls) == 1
	})
	dl := dls[0]
	if dl.Event.ID != e.ID || dl.EndpointID != ep.ID || dl.LastStatus != 503 || dl.Attempts != 4 {
		t.Errorf("dead letter %+v", dl)
	}
	if n := len(rc.requests()); n != 4 {
		t.Errorf("%d attempts before the dead letter, want 1 + 3 retries", n)
	}
	var recs []AttemptRecord
	waitFor(t, "the attempt records", 5*time.Second, func() bool {
		recs, _ = RecentAttempts(context.Background(), b.JS, ep.ID, 0)
		return len(recs) == 4
	})
	if recs[0].Outcome != OutcomeDeadLetter {
		t.Errorf("last attempt %+v, want dead_letter", recs[0])
	}

	// Replay: the endpoint is back; the dead letter is re-sent to it alone.
	up.Store(true)
	if err := PublishDirect(context.Background(), b, ep.ID, dl.Event, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the replay", 10*time.Second, func() bool { return len(rc.delivered()[e.ID]) == 1 })
	want, _ := e.WebhookBody()
	if got := rc.delivered()[e.ID][0].body; string(got) != string(want) {
		t.Errorf("replayed body %s, want %s", got, want)
	}
}

func TestGoneDisablesEndpoint(t *testing.T) {
	b := openBus(t, bus.Config{})
	store := openStore(t, b)
	gone := newReceiver(t, func(int, http.ResponseWriter, *http.Request) int { return 410 }, testSecretA)
	watcher := newReceiver(t, nil, testSecretA)
	ep := createEndpoint(t, store, "acme", gone.srv.URL+"/x?token=secret", []string{"message.*"})
	createEndpoint(t, store, "acme", watcher.srv.URL, []string{"*"})
	br := startBridge(t, b, store, nil)
	publish(t, b, "acme", events.MessageSent, nil)

	waitFor(t, "endpoint.disabled at the other endpoint", 10*time.Second, func() bool {
		return slices.Contains(watcher.types(), events.EndpointDisabled)
	})
	got, err := store.Get(context.Background(), ep.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Enabled || got.DisabledReason != "410 Gone" {
		t.Errorf("endpoint %+v, want disabled by 410", got)
	}
	for _, r := range watcher.requests() {
		var e events.Event
		_ = json.Unmarshal(r.body, &e)
		if e.Type == events.EndpointDisabled {
			if e.Data.EndpointID != ep.ID || strings.Contains(e.Data.URL, "secret") || e.Data.Sequence != 1 {
				t.Errorf("endpoint.disabled data %+v", e.Data)
			}
		}
	}
	if n := len(gone.requests()); n != 1 {
		t.Errorf("gone endpoint hit %d times, want 1", n)
	}
	waitFor(t, "its consumer deleted", 5*time.Second, func() bool {
		_, err := br.stream.Consumer(context.Background(), ConsumerName(ep.ID))
		return errors.Is(err, jetstream.ErrConsumerNotFound)
	})
	// Disabled: later events do not reach it.
	publish(t, b, "acme", events.MessageDelivered, nil)
	waitFor(t, "the watcher's second message", 5*time.Second, func() bool {
		return slices.Contains(watcher.types(), events.MessageDelivered)
	})
	if n := len(gone.requests()); n != 1 {
		t.Errorf("disabled endpoint hit %d times", n)
	}
	if dls := readDeadLetters(t, b.JS, ep.ID); len(dls) != 1 || dls[0].LastStatus != 410 {
		t.Errorf("dead letters %+v, want the 410'd event", dls)
	}
}

func TestThrottleHonoursRetryAfterClamped(t *testing.T) {
	tests := []struct {
		name       string
		retryAfter string
		min, max   time.Duration
	}{
		// schedule[0] = 300ms: Retry-After 1s is clamped to 600ms.
		{"429 with Retry-After", "1", 580 * time.Millisecond, 1000 * time.Millisecond},
		{"429 without Retry-After", "", 280 * time.Millisecond, 560 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := openBus(t, bus.Config{})
			store := openStore(t, b)
			rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) int {
				if n == 0 {
					if tt.retryAfter != "" {
						w.Header().Set("Retry-After", tt.retryAfter)
					}
					return 429
				}
				return 200
			}, testSecretA)
			createEndpoint(t, store, "acme", rc.srv.URL, []string{"*"})
			startBridge(t, b, store, func(c *Config) {
				c.Settings.RetrySchedule = []time.Duration{300 * time.Millisecond, time.Second}
			})
			publish(t, b, "acme", events.MessageSent, nil)
			waitFor(t, "the retry", 10*time.Second, func() bool { return len(rc.requests()) == 2 })
			r := rc.requests()
			if gap := r[1].at.Sub(r[0].at); gap < tt.min || gap > tt.max {
				t.Errorf("retry after %s, want %s to %s", gap, tt.min, tt.max)
			}
		})
	}
}

func TestCallbackURL(t *testing.T) {
	b := openBus(t, bus.Config{})
	store := openStore(t, b)
	cb := newReceiver(t, nil, testSecretB)
	// The account's endpoint only takes message.failed; its secret signs the
	// account's callback_url deliveries.
	createEndpoint(t, store, "acme", newReceiver(t, nil).srv.URL, []string{events.MessageFailed}, testSecretB)
	startBridge(t, b, store, nil)
	h := nats.Header{}
	h.Set(events.HeaderCallbackURL, cb.srv.URL+"/cb")
	e := publish(t, b, "acme", events.MessageSent, h)
	publish(t, b, "acme", events.MessageDelivered, nil) // no callback_url
	waitFor(t, "the callback", 10*time.Second, func() bool { return len(cb.requests()) == 1 })
	time.Sleep(100 * time.Millisecond)
	r := cb.requests()
	if len(r) != 1 || r[0].id != e.ID {
		t.Fatalf("callback got %+v", r)
	}
	var recs []AttemptRecord
	waitFor(t, "the callback's attempt record", 5*time.Second, func() bool {
		recs, _ = RecentAttempts(context.Background(), b.JS, CallbackTarget, 0)
		return len(recs) > 0
	})
	if len(recs) != 1 || recs[0].Outcome != OutcomeDelivered || !strings.HasSuffix(recs[0].URL, "/cb") {
		t.Errorf("callback attempts %+v", recs)
	}
}

func TestRotationSendsBothSignatures(t *testing.T) {
	b := openBus(t, bus.Config{})
	store := openStore(t, b)
	// The receiver verifies every request with the old and with the new
	// secret: both must accept.
	rc := newReceiver(t, nil, testSecretA, testSecretB)
	ep := createEndpoint(t, store, "acme", rc.srv.URL, []string{"*"})
	_, newSecret := rotateTo(t, store, ep, testSecretB)
	startBridge(t, b, store, nil)
	publish(t, b, "acme", events.MessageSent, nil)
	waitFor(t, "delivery", 10*time.Second, func() bool { return len(rc.requests()) == 1 })
	sig := rc.requests()[0].sig
	parts := strings.Split(sig, " ")
	if len(parts) != 2 {
		t.Fatalf("signature %q, want two", sig)
	}
	wh, _ := standardwebhooks.NewWebhook(newSecret)
	r := rc.requests()[0]
	want, _ := wh.Sign(r.id, time.Unix(mustAtoi(t, r.ts), 0), r.body)
	if parts[0] != want {
		t.Errorf("first signature is not the new secret's")
	}
}

func rotateTo(t testing.TB, store *EndpointStore, ep Endpoint, secret string) (Endpoint, string) {
	t.Helper()
	ep, err := store.Update(context.Background(), ep.ID, func(e *Endpoint) error {
		epRotate(e, secret, time.Now())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ep, secret
}

func mustAtoi(t testing.TB, s string) int64 {
	var n int64
	if err := json.Unmarshal([]byte(s), &n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestGuardInBridge(t *testing.T) {
	b := openBus(t, bus.Config{})
	store := openStore(t, b)
	rc := newReceiver(t, nil, testSecretA)
	ep := createEndpoint(t, store, "acme", rc.srv.URL, []string{"*"})
	startBridge(t, b, store, func(c *Config) { c.Settings.AllowPrivateTargets = false })
	publish(t, b, "acme", events.MessageSent, nil)
	var recs []AttemptRecord
	waitFor(t, "refused attempts", 10*time.Second, func() bool {
		recs, _ = RecentAttempts(context.Background(), b.JS, ep.ID, 0)
		return len(recs) >= 1
	})
	if !strings.Contains(recs[len(recs)-1].Error, ErrPrivateTarget.Error()) || recs[len(recs)-1].Status != 0 {
		t.Errorf("attempt %+v, want refused by the guard", recs[len(recs)-1])
	}
	if n := len(rc.requests()); n != 0 {
		t.Errorf("loopback receiver reached %d times", n)
	}
}

func TestDisableAfterContinuousFailure(t *testing.T) {
	b := openBus(t, bus.Config{})
	store := openStore(t, b)
	rc := newReceiver(t, func(int, http.ResponseWriter, *http.Request) int { return 500 }, testSecretA)
	ep := createEndpoint(t, store, "acme", rc.srv.URL, []string{"*"})
	sub, err := b.NC.SubscribeSync(events.Subject("acme", events.EndpointDisabled))
	if err != nil {
		t.Fatal(err)
	}
	startBridge(t, b, store, func(c *Config) {
		c.Settings.DisableAfter = 100 * time.Millisecond
		c.Settings.RetrySchedule = slices.Repeat([]time.Duration{30 * time.Millisecond}, 50)
	})
	publish(t, b, "acme", events.MessageSent, nil)
	msg, err := sub.NextMsg(10 * time.Second)
	if err != nil {
		t.Fatalf("no endpoint.disabled event: %v", err)
	}
	e, _ := events.Unmarshal(msg.Data)
	if e.Data.EndpointID != ep.ID {
		t.Errorf("endpoint.disabled for %q", e.Data.EndpointID)
	}
	got, _ := store.Get(context.Background(), ep.ID)
	if got.Enabled || !strings.HasPrefix(got.DisabledReason, "failing since ") || got.FailingSince == nil {
		t.Errorf("endpoint %+v", got)
	}
}

// A success ends the failing run.
func TestSuccessClearsFailingSince(t *testing.T) {
	b := openBus(t, bus.Config{})
	store := openStore(t, b)
	rc := newReceiver(t, func(n int, _ http.ResponseWriter, _ *http.Request) int {
		if n == 0 {
			return 500
		}
		return 200
	}, testSecretA)
	ep := createEndpoint(t, store, "acme", rc.srv.URL, []string{"*"})
	startBridge(t, b, store, func(c *Config) { c.Settings.DisableAfter = time.Hour })
	publish(t, b, "acme", events.MessageSent, nil)
	waitFor(t, "delivery", 10*time.Second, func() bool { return len(rc.delivered()) == 1 })
	waitFor(t, "failing_since cleared", 5*time.Second, func() bool {
		got, _ := store.Get(context.Background(), ep.ID)
		return got.FailingSince == nil && got.Enabled
	})
}

func TestReadyAndCloseTwice(t *testing.T) {
	b := openBus(t, bus.Config{})
	store := openStore(t, b)
	br, err := New(Config{Bus: b, Store: store, Settings: testSettings()})
	if err != nil {
		t.Fatal(err)
	}
	if err := br.Ready(); !errors.Is(err, ErrNotStarted) {
		t.Errorf("Ready before Start: %v", err)
	}
	if err := br.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := br.Ready(); err != nil {
		t.Errorf("Ready: %v", err)
	}
	if err := br.Start(context.Background()); err == nil {
		t.Error("second Start succeeded")
	}
	ctx := context.Background()
	if err := br.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := br.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := br.Ready(); !errors.Is(err, ErrClosed) {
		t.Errorf("Ready after Close: %v", err)
	}
	if _, err := New(Config{Store: store}); err == nil {
		t.Error("New without a bus succeeded")
	}
	if _, err := New(Config{Bus: b}); err == nil {
		t.Error("New without a store succeeded")
	}
}

func TestStallRule(t *testing.T) {
	now := time.Now()
	br := &Bridge{now: func() time.Time { return now }, cfg: Config{Settings: config.Bridge{StallTimeout: time.Minute}}}
	w := &conWorker{b: br, id: "ep_x"}
	old := now.Add(-2 * time.Minute)
	recent := now.Add(-time.Second)
	tests := []struct {
		name     string
		progress time.Time
		info     jetstream.ConsumerInfo
		paused   bool
		stalled  bool
	}{
		{"empty queue", old, jetstream.ConsumerInfo{NumPending: 0}, false, false},
		{"pending, no progress", old, jetstream.ConsumerInfo{NumPending: 5}, false, true},
		{"pending, recent local progress", recent, jetstream.ConsumerInfo{NumPending: 5}, false, false},
		{"pending, another instance progressed", old, jetstream.ConsumerInfo{NumPending: 5, AckFloor: jetstream.SequenceInfo{Last: &recent}}, false, false},
		{"pending, every slot waiting for a retry", old, jetstream.ConsumerInfo{NumPending: 5, NumAckPending: 10, Config: jetstream.ConsumerConfig{MaxAckPending: 10}}, false, false},
		{"pending, paused by a throttle", old, jetstream.ConsumerInfo{NumPending: 5}, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w.progress.Store(tt.progress.UnixNano())
			w.paused.Store(0)
			if tt.paused {
				w.paused.Store(now.Add(time.Minute).UnixNano())
			}
			if tt.info.Config.MaxAckPending == 0 {
				tt.info.Config.MaxAckPending = 1000
			}
			err := w.stalled(&tt.info)
			if (err != nil) != tt.stalled {
				t.Fatalf("stalled = %v, want %v", err, tt.stalled)
			}
			if err != nil && (!errors.Is(err, ErrStalled) || !strings.Contains(err.Error(), "ep_x")) {
				t.Errorf("error %v does not name the endpoint", err)
			}
		})
	}
}
