package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/smsgw/smsgw/bus"
	"github.com/smsgw/smsgw/config"
	"github.com/smsgw/smsgw/events"
)

// Config configures a Bridge.
type Config struct {
	// Bus is the NATS connection. Required.
	Bus *bus.Bus
	// Store is the endpoint store. Required.
	Store *EndpointStore
	// Settings are the bridge.* config keys.
	Settings config.Bridge
	// Version goes into the User-Agent ("smsgw/<version>").
	Version string
	// Logger; nil discards.
	Logger *slog.Logger
	// Registry receives the metrics; nil keeps them unregistered.
	Registry prometheus.Registerer
	// Clock (tests); nil means time.Now.
	Clock func() time.Time
	// HTTPClient supplies the delivery transport (tests); nil uses the
	// bridge's keep-alive transport with the private-target guard.
	HTTPClient *http.Client
	// QuickRetries and QuickRetryWait: see DelivererConfig (negative
	// QuickRetries: none).
	QuickRetries   int
	QuickRetryWait time.Duration
	// AckWait overrides the consumers' ack wait (tests of redelivery after
	// a crash); 0 derives it from the timeouts.
	AckWait time.Duration
	// MaxAckPending per endpoint consumer: in-flight deliveries plus events
	// waiting for a scheduled retry. 0 means max(1000, 2 ×
	// Settings.MaxInFlightPerEndpoint).
	MaxAckPending int
	// CallbackConcurrency caps concurrent callback_url deliveries.
	// 0 means 64.
	CallbackConcurrency int
	// Rand is the jitter source, uniform in [0, 1); nil uses math/rand/v2.
	Rand func() float64
}

// Bridge delivers events from JetStream to webhook endpoints and
// callback_urls. Several Bridges (processes) may run against one NATS: they
// share the durable consumers (the shared one, each endpoint's own queue,
// the callback one), so an attempt is made by one of them only.
type Bridge struct {
	cfg   Config
	bus   *bus.Bus
	js    jetstream.JetStream
	store *EndpointStore
	d     *Deliverer
	log   *slog.Logger
	now   func() time.Time
	rnd   func() float64
	m     *dlvMetrics

	alog           *attemptLog
	stream         jetstream.Stream // SMS_EVENTS
	callbackStream jetstream.Stream // SMS_CALLBACKS
	directSub      *nats.Subscription

	runCtx     context.Context // fetching, watching, monitoring
	runCancel  context.CancelFunc
	workCtx    context.Context // in-flight deliveries and their bookkeeping
	workCancel context.CancelFunc
	loops      sync.WaitGroup // watch and monitor goroutines

	mu        sync.Mutex
	endpoints map[string]Endpoint
	workers   map[string]*conWorker
	callback  *conWorker
	sharedW   *conWorker // owner of the shared consumer's loop
	// directSeen: endpoints known to have a direct consumer (their own
	// queue); legacySeen: those with an earlier version's consumer.
	directSeen map[string]bool
	legacySeen map[string]bool
	sfReady    bool // the shared consumer exists: legacy loops may start
	started    bool
	closing    bool

	// The shared consumer's index: enabled endpoints' workers by account
	// (idxMu), the highest stream sequence resolved, and its first one.
	idxMu       sync.RWMutex
	byAccount   map[string][]*conWorker
	resolved    atomic.Uint64
	sharedStart atomic.Uint64
	sfLatency   atomic.Int64 // typical fast-path attempt, nanoseconds (sfObserve)

	stall     atomic.Pointer[error]
	closeOnce sync.Once
	closed    chan struct{}
}

// New builds a Bridge; Start starts it.
func New(cfg Config) (*Bridge, error) {
	if cfg.Bus == nil || cfg.Bus.JS == nil {
		return nil, errors.New("bridge: config: Bus is required")
	}
	if cfg.Store == nil {
		return nil, errors.New("bridge: config: Store is required")
	}
	s := &cfg.Settings
	def := config.Default().Bridge
	if s.Timeout <= 0 {
		s.Timeout = def.Timeout
	}
	if len(s.RetrySchedule) == 0 {
		s.RetrySchedule = def.RetrySchedule
	}
	if s.Jitter < 0 || s.Jitter > 1 {
		return nil, fmt.Errorf("bridge: config: jitter %v: want 0 to 1", s.Jitter)
	}
	for i, d := range s.RetrySchedule {
		if d <= 0 {
			return nil, fmt.Errorf("bridge: config: retry_schedule[%d] %s: want > 0", i, d)
		}
	}
	if s.MaxInFlightPerEndpoint <= 0 {
		s.MaxInFlightPerEndpoint = def.MaxInFlightPerEndpoint
	}
	if s.StallTimeout <= 0 {
		s.StallTimeout = def.StallTimeout
	}
	if cfg.MaxAckPending <= 0 {
		cfg.MaxAckPending = max(1000, 2*s.MaxInFlightPerEndpoint)
	}
	if cfg.CallbackConcurrency <= 0 {
		cfg.CallbackConcurrency = 64
	}
	b := &Bridge{
		cfg:       cfg,
		bus:       cfg.Bus,
		js:        cfg.Bus.JS,
		store:     cfg.Store,
		log:       cfg.Logger,
		now:       cfg.Clock,
		rnd:       cfg.Rand,
		endpoints: map[string]Endpoint{},
		workers:   map[string]*conWorker{},
		closed:    make(chan struct{}),

		directSeen: map[string]bool{},
		legacySeen: map[string]bool{},
		byAccount:  map[string][]*conWorker{},
	}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	if b.now == nil {
		b.now = time.Now
	}
	if b.rnd == nil {
		b.rnd = rand.Float64
	}
	b.d = NewDeliverer(DelivererConfig{
		AllowPrivateTargets: s.AllowPrivateTargets,
		Timeout:             s.Timeout,
		QuickRetries:        cfg.QuickRetries,
		QuickRetryWait:      cfg.QuickRetryWait,
		Version:             cfg.Version,
		HTTPClient:          cfg.HTTPClient,
		Logger:              b.log,
		Now:                 b.now,
	})
	m, err := newMetrics(cfg.Registry, b.d.Dials)
	if err != nil {
		return nil, fmt.Errorf("bridge: metrics: %w", err)
	}
	b.m = m
	b.runCtx, b.runCancel = context.WithCancel(context.Background())
	b.workCtx, b.workCancel = context.WithCancel(context.Background())
	return b, nil
}

// Deliverer is the bridge's HTTP side, for one-off attempts (the test
// route).
func (b *Bridge) Deliverer() *Deliverer { return b.d }

// Start creates the streams and the callback consumer, loads every endpoint
// and starts delivering. It returns once every existing endpoint has its
// worker; ctx bounds only the start.
func (b *Bridge) Start(ctx context.Context) error {
	b.mu.Lock()
	if b.closing {
		b.mu.Unlock()
		return ErrClosed
	}
	if b.started {
		b.mu.Unlock()
		return errors.New("bridge: already started")
	}
	b.started = true
	b.mu.Unlock()

	if _, err := b.bus.Stream(ctx, DeadLetterStreamConfig()); err != nil {
		return fmt.Errorf("bridge: start: %w", err)
	}
	alog, err := newAttemptLog(ctx, b.bus, b.log, b.m)
	if err != nil {
		return fmt.Errorf("bridge: start: %w", err)
	}
	b.alog = alog
	st, err := b.bus.EventsStream(ctx)
	if err != nil {
		return fmt.Errorf("bridge: start: %w", err)
	}
	b.stream = st
	if b.callbackStream, err = b.bus.CallbacksStream(ctx); err != nil {
		return fmt.Errorf("bridge: start: %w", err)
	}
	// Endpoints' own queues: follow new ones from now on, then list those
	// there are (and an earlier version's per-endpoint consumers, to
	// drain), so workers start with theirs.
	if err := b.subscribeDirect(); err != nil {
		return fmt.Errorf("bridge: start: %w", err)
	}
	names, err := b.listConsumers(ctx)
	if err != nil {
		return fmt.Errorf("bridge: start: %w", err)
	}
	for _, n := range names {
		if id, ok := strings.CutPrefix(n, DirectConsumerPrefix); ok {
			b.mu.Lock()
			b.directSeen[id] = true
			b.mu.Unlock()
		}
		if id, ok := conLegacyID(n); ok {
			b.mu.Lock()
			b.legacySeen[id] = true
			b.mu.Unlock()
		}
		if n == CallbackConsumer {
			// An earlier version's callback consumer took every event of
			// SMS_EVENTS; callback_url deliveries come from SMS_CALLBACKS
			// now, and it would only keep a backlog.
			if err := st.DeleteConsumer(ctx, n); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
				return fmt.Errorf("bridge: start: delete the old %s: %w", n, err)
			}
			b.log.Info("old callback consumer on "+events.StreamName+" deleted", "consumer", n)
		}
	}

	changes, err := b.store.Watch(b.runCtx)
	if err != nil {
		return fmt.Errorf("bridge: start: %w", err)
	}
	seen := map[string]bool{}
	if err := b.conSync(ctx, changes, seen); err != nil {
		return fmt.Errorf("bridge: start: %w", err)
	}
	// Every endpoint is known: the shared consumer may resolve events.
	if err := b.sfStart(ctx); err != nil {
		return fmt.Errorf("bridge: start: %w", err)
	}
	b.mu.Lock()
	if b.closing {
		b.mu.Unlock()
		return ErrClosed
	}
	b.callback = b.conStart(conCallbackID, Endpoint{}, true)
	b.mu.Unlock()
	b.callback.waitReady(ctx)

	b.loops.Add(2)
	go b.conWatch(changes)
	go b.conMonitor()
	b.log.Info("bridge started", "endpoints", len(seen), "retry_steps", len(b.cfg.Settings.RetrySchedule))
	return nil
}

// Ready reports whether the bridge is delivering: started, not closed, and
// no delivery queue stalled (work waiting, capacity free, no progress for
// bridge.stall_timeout). The error names the stalled endpoint.
func (b *Bridge) Ready() error {
	b.mu.Lock()
	started, closing := b.started, b.closing
	b.mu.Unlock()
	switch {
	case closing:
		return ErrClosed
	case !started:
		return ErrNotStarted
	}
	if p := b.stall.Load(); p != nil && *p != nil {
		return *p
	}
	return nil
}

// Close stops fetching, lets in-flight deliveries finish until ctx ends,
// then aborts the rest (they are redelivered, to this or another
// instance), and waits for every goroutine. Safe to call twice; a second
// call waits for the first.
func (b *Bridge) Close(ctx context.Context) error {
	first := false
	b.closeOnce.Do(func() {
		first = true
		b.mu.Lock()
		b.closing = true
		// The shared consumer's loop first: no more offers to the
		// endpoints' queues once it has stopped.
		ws := make([]*conWorker, 0, len(b.workers)+2)
		if b.sharedW != nil {
			ws = append(ws, b.sharedW)
		}
		for _, w := range b.workers {
			ws = append(ws, w)
		}
		if b.callback != nil {
			ws = append(ws, b.callback)
		}
		sub := b.directSub
		b.mu.Unlock()

		b.runCancel()
		if sub != nil {
			_ = sub.Unsubscribe()
		}
		done := make(chan struct{})
		go func() {
			for _, w := range ws {
				w.stop(false)
			}
			b.loops.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-ctx.Done():
			b.workCancel()
			<-done
		}
		b.workCancel()
		if b.alog != nil {
			fctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			b.alog.flush(fctx)
			cancel()
		}
		b.d.Close()
		close(b.closed)
	})
	if !first {
		select {
		case <-b.closed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// disable turns ep off and announces it with an endpoint.disabled event.
func (b *Bridge) disable(ctx context.Context, ep Endpoint, reason string) {
	changed, err := b.store.Disable(ctx, ep.ID, reason)
	if err != nil {
		b.log.Error("endpoint not disabled", "endpoint_id", ep.ID, "reason", reason, "err", err)
		return
	}
	if !changed {
		return
	}
	b.m.disabled.Inc()
	b.log.Warn("endpoint disabled", "endpoint_id", ep.ID, "account", ep.Account, "reason", reason)
	e := events.New(events.EndpointDisabled, events.Data{EndpointID: ep.ID, URL: RedactURL(ep.URL), Sequence: 1})
	if _, err := b.bus.PublishEvent(ctx, ep.Account, e, nil); err != nil {
		b.log.Error("endpoint.disabled event not published", "endpoint_id", ep.ID, "err", err)
	}
}

// callbackSecrets are the secrets signing an account's callback_url
// deliveries: those of its first enabled endpoint (config-declared ones
// first, then the oldest). None when the account has no endpoint.
func (b *Bridge) callbackSecrets(account string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var best *Endpoint
	for id := range b.endpoints {
		ep := b.endpoints[id]
		if ep.Account != account || !ep.Enabled || len(ep.Secrets) == 0 {
			continue
		}
		if best == nil || conBefore(ep, *best) {
			e := ep
			best = &e
		}
	}
	if best == nil {
		return nil
	}
	return best.ActiveSecrets(b.now())
}

func conBefore(a, b Endpoint) bool {
	if a.Static != b.Static {
		return a.Static
	}
	if !a.CreatedAt.Equal(b.CreatedAt) {
		return a.CreatedAt.Before(b.CreatedAt)
	}
	return a.ID < b.ID
}
