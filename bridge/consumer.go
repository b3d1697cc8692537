package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/time/rate"

	"github.com/smsgw/smsgw/events"
)

const (
	// ConsumerPrefix starts the durable consumer name an earlier version
	// gave every endpoint: "wh_<endpoint id>" (its account's events). The
	// bridge drains such a consumer and deletes it (see SharedConsumer).
	ConsumerPrefix = "wh_"
	// DirectConsumerPrefix starts the durable consumer name of an
	// endpoint's own queue: "whd_<endpoint id>".
	DirectConsumerPrefix = "whd_"
	// CallbackConsumer is the durable consumer of callback_url deliveries,
	// on SMS_CALLBACKS (an earlier version kept one of the same name on
	// SMS_EVENTS: Start deletes that).
	CallbackConsumer = "wh_callback"

	conCallbackID = CallbackTarget
	conSharedID   = "_shared"
	// conNewWindow: an endpoint created less than this long ago gets the
	// events from its created_at (covers the gap between the API storing
	// it and the bridge seeing it); an older one (re-enabled) from "now".
	conNewWindow = time.Hour
	// conHeartbeat is the idle heartbeat asked for each pull request: a
	// pull the server no longer holds (e.g. events it dropped for a slow
	// connection) is noticed after two missed ones and pulled again.
	// Consume pauses the check while the callback waits for a slot.
	conHeartbeat = time.Second
)

// ConsumerName is the durable consumer an earlier version kept for endpoint
// id's account events on SMS_EVENTS; it no longer exists once drained.
func ConsumerName(id string) string { return ConsumerPrefix + id }

// DirectConsumerName is endpoint id's own durable queue on SMS_EVENTS
// (sms.direct.<id>.>): replays, and the events the shared consumer could
// not deliver at once (failed attempts waiting for their retry, events for
// a failing, paused or slow endpoint). It exists once something was put
// there (PublishDirect, or the bridge's first such event).
func DirectConsumerName(id string) string { return DirectConsumerPrefix + id }

// conKind is what a conLoop consumes.
type conKind int

const (
	conDirect   conKind = iota // whd_<id>: the endpoint's own queue
	conCallback                // wh_callback on SMS_CALLBACKS
	conLegacy                  // an earlier version's wh_<id>, being drained
	conShared                  // wh_events: every endpoint's events
)

func (k conKind) String() string {
	switch k {
	case conDirect:
		return "direct"
	case conCallback:
		return "callback"
	case conLegacy:
		return "legacy"
	}
	return "shared"
}

// errConGone ends a loop whose consumer does not exist (direct, legacy).
var errConGone = errors.New("bridge: consumer gone")

// conWorker delivers one endpoint's events (or every callback_url's, or is
// the shared consumer's owner): the shared consumer's events through a
// bounded in-memory queue read by cap(sem) fast-path goroutines, and a
// fetch loop on the endpoint's own durable queue once it has one; at most
// cap(sem) deliveries at a time over both. Separate workers share nothing
// but the HTTP transport, so a slow endpoint never holds up another.
type conWorker struct {
	b        *Bridge
	id       string
	callback bool
	ep       atomic.Pointer[Endpoint]
	limiter  *rate.Limiter
	sem      chan struct{}
	ackWait  time.Duration

	main   *conLoop // the callback's or the shared consumer's loop; nil for an endpoint
	loopMu sync.Mutex
	direct *conLoop // the endpoint's own queue, once it exists
	legacy *conLoop // an earlier version's consumer, until drained

	// The fast path (endpoints only): events of the shared consumer.
	queue      chan *sfItem
	offerMu    sync.RWMutex // offers hold it shared; stop closes offers
	offersDone bool
	fastStart  []atomic.Int64 // per fast goroutine: unix nanos its attempt began, 0 idle
	fastWG     sync.WaitGroup
	directOK   atomic.Bool // the direct consumer is known to exist
	removed    atomic.Bool // stopped for good (deleted, disabled): shares are dropped

	paused      atomic.Int64 // unix nanos until which nothing is sent
	progress    atomic.Int64 // unix nanos of the last finished delivery
	healthBusy  atomic.Bool
	fetchCtx    context.Context
	fetchCancel context.CancelFunc
	workCtx     context.Context
	workCancel  context.CancelFunc
	handlers    sync.WaitGroup
	log         *slog.Logger
}

// conLoop keeps one Consume subscription of a worker on one durable
// consumer.
type conLoop struct {
	w         *conWorker
	kind      conKind
	stream    jetstream.Stream
	pull      int // events pulled ahead
	mu        sync.Mutex
	cons      jetstream.Consumer // owned by run
	done      chan struct{}
	ready     chan struct{} // closed once the consumer exists
	readyOnce sync.Once
}

func (w *conWorker) newLoop(kind conKind, st jetstream.Stream) *conLoop {
	return &conLoop{w: w, kind: kind, stream: st, pull: cap(w.sem), done: make(chan struct{}), ready: make(chan struct{})}
}

// loops are the worker's running fetch loops.
func (w *conWorker) loops() []*conLoop {
	w.loopMu.Lock()
	defer w.loopMu.Unlock()
	var out []*conLoop
	for _, l := range []*conLoop{w.main, w.direct, w.legacy} {
		if l != nil {
			out = append(out, l)
		}
	}
	return out
}

// startLoop starts the endpoint's direct or legacy loop unless it runs or
// the worker is stopping; the loop ends when its consumer is gone.
func (w *conWorker) startLoop(kind conKind) {
	if w.callback || w.main != nil {
		return
	}
	w.loopMu.Lock()
	defer w.loopMu.Unlock()
	slot := &w.direct
	if kind == conLegacy {
		slot = &w.legacy
	}
	if *slot != nil || w.fetchCtx.Err() != nil {
		return
	}
	l := w.newLoop(kind, w.b.stream)
	*slot = l
	go func() {
		l.run()
		w.loopMu.Lock()
		if *slot == l {
			*slot = nil
		}
		w.loopMu.Unlock()
		if kind == conDirect {
			w.directOK.Store(false)
		}
	}()
}

// conStart starts a worker; b.mu is held. An endpoint's worker is added to
// the shared consumer's index; one the bridge learns of after it was
// created (and after the dispatcher resolved events without it) gets those
// events put in its own queue (sfCatchUp).
func (b *Bridge) conStart(id string, ep Endpoint, callback bool) *conWorker {
	conc := b.cfg.Settings.MaxInFlightPerEndpoint
	if callback {
		conc = b.cfg.CallbackConcurrency
	}
	w := &conWorker{
		b:        b,
		id:       id,
		callback: callback,
		sem:      make(chan struct{}, conc),
		limiter:  rate.NewLimiter(rate.Inf, 1),
		log:      b.log.With("endpoint_id", id),
	}
	w.ep.Store(&ep)
	w.setRate(ep.RateLimit)
	w.ackWait = b.conAckWait(ep.Timeout)
	w.progress.Store(b.now().UnixNano())
	w.fetchCtx, w.fetchCancel = context.WithCancel(b.runCtx)
	w.workCtx, w.workCancel = context.WithCancel(b.workCtx)
	if callback {
		w.main = w.newLoop(conCallback, b.callbackStream)
		go w.main.run()
		return w
	}
	w.queue = make(chan *sfItem, conc)
	w.fastStart = make([]atomic.Int64, conc)
	w.fastWG.Add(conc)
	for i := range conc {
		go w.fastLoop(i)
	}
	if b.directSeen[id] {
		w.startLoop(conDirect)
	}
	if b.legacySeen[id] && b.sfReady {
		w.startLoop(conLegacy)
	}
	if upTo := b.sfAdd(w); upTo > 0 && !ep.CreatedAt.IsZero() && b.now().Sub(ep.CreatedAt) < conNewWindow {
		b.loops.Add(1)
		go b.sfCatchUp(w, ep, upTo)
	}
	return w
}

// waitReady waits (bounded by ctx) until the worker's consumer exists, so
// events published from now on reach it even when it starts at "new".
func (w *conWorker) waitReady(ctx context.Context) {
	if w.main == nil {
		return
	}
	select {
	case <-w.main.ready:
	case <-ctx.Done():
	case <-w.main.done:
	}
}

// conAckWait is how long JetStream waits for an answer about a delivered
// event before handing it out again: every quick try's timeout and wait,
// plus a margin; waits for a pause or the rate limit send progress.
func (b *Bridge) conAckWait(timeout time.Duration) time.Duration {
	if b.cfg.AckWait > 0 {
		return b.cfg.AckWait
	}
	if timeout <= 0 {
		timeout = b.cfg.Settings.Timeout
	}
	q := max(b.d.cfg.QuickRetries, 0)
	// One more timeout for an event waiting in the pull buffer (or the
	// fast path's queue) for a slot.
	return time.Duration(q+2)*timeout + time.Duration(1<<q)*b.d.cfg.QuickRetryWait*2 + 30*time.Second
}

func (w *conWorker) setRate(perSecond float64) {
	if perSecond <= 0 {
		w.limiter.SetLimit(rate.Inf)
		return
	}
	w.limiter.SetLimit(rate.Limit(perSecond))
	w.limiter.SetBurst(max(1, int(math.Ceil(perSecond))))
}

// stop ends the fetch loops and the fast path and waits for in-flight
// deliveries. abort (the endpoint is gone or disabled) cancels them first
// and drops the endpoint's share of queued events; otherwise (Close) the
// queue is delivered while workCtx lasts, and what is left is handed back
// to JetStream.
func (w *conWorker) stop(abort bool) {
	if abort {
		w.removed.Store(true)
	}
	w.fetchCancel()
	if abort {
		w.workCancel()
	}
	if w.queue != nil {
		w.offerMu.Lock() // offers in progress see fetchCtx done and leave
		w.offersDone = true
		w.offerMu.Unlock()
	}
	// No loop starts once fetchCtx is done.
	for _, l := range w.loops() {
		<-l.done
	}
	w.fastWG.Wait()
	for w.queue != nil {
		select {
		case it := <-w.queue:
			it.settle(w.removed.Load())
			continue
		default:
		}
		break
	}
	w.handlers.Wait()
	w.workCancel()
}

// conSync applies the store's initial listing until EndpointsSynced.
// Workers start at once and are waited for together at the end: one at a
// time, 100 endpoints took 6.5 s to start.
func (b *Bridge) conSync(ctx context.Context, changes <-chan EndpointChange, seen map[string]bool) error {
	var started []*conWorker
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("loading endpoints: %w", ctx.Err())
		case c, ok := <-changes:
			if !ok {
				return errors.New("loading endpoints: watch ended")
			}
			if c.Op == EndpointsSynced {
				wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				defer cancel()
				for _, w := range started {
					w.waitReady(wctx)
				}
				return nil
			}
			seen[c.ID] = true
			if w := b.conApply(c); w != nil {
				started = append(started, w)
			}
		}
	}
}

// conWatch follows endpoint changes until Close, re-watching (and dropping
// workers of endpoints that vanished meanwhile) if the watch ends.
func (b *Bridge) conWatch(changes <-chan EndpointChange) {
	defer b.loops.Done()
	for {
		for c := range changes {
			if c.Op != EndpointsSynced {
				b.conApply(c)
			}
		}
		for {
			if !conSleep(b.runCtx, time.Second) {
				return
			}
			ch, err := b.store.Watch(b.runCtx)
			if err != nil {
				b.log.Warn("endpoint watch failed", "err", err)
				continue
			}
			seen := map[string]bool{}
			sctx, cancel := context.WithTimeout(b.runCtx, 30*time.Second)
			err = b.conSync(sctx, ch, seen)
			cancel()
			if err != nil {
				b.log.Warn("endpoint watch failed", "err", err)
				continue
			}
			b.mu.Lock()
			var gone []string
			for id := range b.endpoints {
				if !seen[id] {
					gone = append(gone, id)
				}
			}
			b.mu.Unlock()
			for _, id := range gone {
				b.conApply(EndpointChange{Op: EndpointDeleted, ID: id})
			}
			changes = ch
			break
		}
	}
}

// conApply starts, updates or stops the worker of one endpoint, and
// returns a worker it started.
func (b *Bridge) conApply(c EndpointChange) *conWorker {
	b.mu.Lock()
	if b.closing {
		b.mu.Unlock()
		return nil
	}
	var stop, started *conWorker
	switch c.Op {
	case EndpointPut:
		ep := c.Endpoint
		b.endpoints[ep.ID] = ep
		w := b.workers[ep.ID]
		switch {
		case ep.Enabled && w == nil:
			started = b.conStart(ep.ID, ep, false)
			b.workers[ep.ID] = started
		case ep.Enabled:
			// The shared consumer's dispatcher reads the new types,
			// URL and secrets from here at once.
			w.ep.Store(&ep)
			w.setRate(ep.RateLimit)
		case w != nil:
			stop = w
			delete(b.workers, ep.ID)
		}
	case EndpointDeleted:
		delete(b.endpoints, c.ID)
		if w := b.workers[c.ID]; w != nil {
			stop = w
			delete(b.workers, c.ID)
		}
	}
	if stop != nil {
		delete(b.directSeen, c.ID)
		delete(b.legacySeen, c.ID)
		b.sfRemove(stop)
	}
	b.mu.Unlock()
	if stop == nil {
		return started
	}
	// Disabled or deleted: its queued and scheduled events are dropped
	// with its consumers (a disabled endpoint gets nothing; replay
	// re-sends).
	stop.stop(true)
	ctx, cancel := context.WithTimeout(b.runCtx, 10*time.Second)
	defer cancel()
	for _, name := range []string{DirectConsumerName(c.ID), ConsumerName(c.ID)} {
		if err := b.stream.DeleteConsumer(ctx, name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) && b.runCtx.Err() == nil {
			b.log.Warn("consumer not deleted", "endpoint_id", c.ID, "consumer", name, "err", err)
		}
	}
	b.log.Info("endpoint stopped", "endpoint_id", c.ID, "deleted", c.Op == EndpointDeleted)
	return nil
}

// consumerConfig is the durable consumer the loop fetches from (the
// callback's, the shared one, and what a direct consumer's mutable fields
// should be; legacy consumers are only read).
func (l *conLoop) consumerConfig() jetstream.ConsumerConfig {
	w := l.w
	b := w.b
	switch l.kind {
	case conCallback:
		return jetstream.ConsumerConfig{
			Durable:       CallbackConsumer,
			Description:   "smsgw callback_url deliveries",
			FilterSubject: events.CallbackStreamSubjects,
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       w.ackWait,
			MaxDeliver:    -1,
			MaxAckPending: max(b.cfg.MaxAckPending, 4*cap(w.sem)),
			DeliverPolicy: jetstream.DeliverNewPolicy,
		}
	case conShared:
		return b.sfConsumerConfig()
	}
	return directConsumerConfig(w.id, w.ackWait, b.cfg.MaxAckPending)
}

// directConsumerConfig is endpoint id's own queue (one filter subject:
// sms.direct.<id>.>). Whoever puts an event there first creates it
// (PublishDirect, the bridge's divert; with defaults); the endpoint's
// worker sets its ack wait and MaxAckPending.
func directConsumerConfig(id string, ackWait time.Duration, maxAckPending int) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       DirectConsumerName(id),
		Description:   "smsgw webhook endpoint " + id + ": its own queue (retries, replays)",
		FilterSubject: events.DirectPrefix + id + ".>",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       ackWait,
		MaxDeliver:    -1, // the retry schedule decides, then the dead letter
		MaxAckPending: maxAckPending,
		DeliverPolicy: jetstream.DeliverNewPolicy,
	}
}

// ensure creates the loop's consumer (callback, shared), or updates the
// mutable settings of an existing one (another instance, or an earlier run,
// made it). Direct and legacy consumers are never created here: errConGone
// when there is none.
func (l *conLoop) ensure(ctx context.Context) (jetstream.Consumer, error) {
	w := l.w
	st := l.stream
	name := ConsumerName(w.id)
	switch l.kind {
	case conDirect:
		name = DirectConsumerName(w.id)
	case conCallback:
		name = CallbackConsumer
	case conShared:
		name = SharedConsumer
	}
	c, err := st.Consumer(ctx, name)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		switch l.kind {
		case conDirect, conLegacy:
			return nil, errConGone
		case conShared:
			return w.b.sfCreate(ctx)
		}
		want := l.consumerConfig()
		c, err = st.CreateConsumer(ctx, want)
		if errors.Is(err, jetstream.ErrConsumerExists) {
			c, err = st.Consumer(ctx, name)
		} else if err == nil {
			w.log.Info("consumer created", "consumer", name, "deliver_policy", want.DeliverPolicy.String())
			return c, nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("bridge: consumer %s: %w", name, err)
	}
	if l.kind == conLegacy {
		return c, nil
	}
	want := l.consumerConfig()
	cur := c.CachedInfo().Config
	if cur.AckWait != want.AckWait || cur.MaxAckPending != want.MaxAckPending {
		cur.AckWait, cur.MaxAckPending = want.AckWait, want.MaxAckPending
		if c, err = st.UpdateConsumer(ctx, cur); err != nil {
			return nil, fmt.Errorf("bridge: update consumer %s: %w", name, err)
		}
	}
	return c, nil
}

func (l *conLoop) consumer() jetstream.Consumer {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cons
}

func (l *conLoop) setConsumer(c jetstream.Consumer) {
	l.mu.Lock()
	l.cons = c
	l.mu.Unlock()
}

// run keeps a Consume subscription on the loop's consumer: JetStream
// keeps up to l.pull events pulled ahead (refilled in the background, so
// fetching overlaps delivering). The shared consumer's callback resolves
// and hands out each event itself (sfDispatch, waiting while the queues it
// feeds are full); the others start one goroutine per event once a
// delivery slot is free, waiting (so nothing more is pulled) while every
// slot is busy. Consume, unlike the Messages iterator, queues what the
// server sends in the subscription: the iterator's channel holds exactly
// PullMaxMessages entries, and a heartbeat or status arriving while every
// slot was busy made it drop an event as a slow consumer and stop pulling
// until heartbeats went missing (the ~30 s bench stall). A direct or legacy
// loop ends when its consumer is gone.
func (l *conLoop) run() {
	defer close(l.done)
	w := l.w
	ctx := w.fetchCtx
	backoff := 100 * time.Millisecond
	fail := func(what string, err error) {
		if ctx.Err() == nil {
			w.log.Warn(what, "err", err, "retry_in", backoff)
		}
		conSleep(ctx, backoff)
		backoff = min(2*backoff, 10*time.Second)
	}
	// gate orders the callback's handlers.Add before stop's handlers.Wait:
	// once run has taken it after ctx ended, no callback starts a handler.
	var gate sync.RWMutex
	defer func() {
		gate.Lock()
		defer gate.Unlock()
	}()
	var dispatch *sfDispatcher
	if l.kind == conShared {
		dispatch = w.b.newDispatcher(ctx)
		defer dispatch.close()
	}
	handler := func(msg jetstream.Msg) {
		if dispatch != nil {
			dispatch.dispatch(msg)
			return
		}
		for {
			d := w.pausedFor()
			if d <= 0 || !conSleep(ctx, min(d, time.Second)) {
				break
			}
		}
		select {
		case w.sem <- struct{}{}:
		case <-ctx.Done():
			return // not settled: redelivered after the ack wait
		}
		gate.RLock()
		defer gate.RUnlock()
		if ctx.Err() != nil {
			w.release(1)
			return
		}
		w.handlers.Add(1)
		go w.handle(l.kind, msg)
	}
	for ctx.Err() == nil {
		cons := l.consumer()
		if cons == nil {
			c, err := l.ensure(ctx)
			if errors.Is(err, errConGone) {
				return
			}
			if err != nil {
				fail("consumer not ready", err)
				continue
			}
			l.setConsumer(c)
			l.readyOnce.Do(func() { close(l.ready) })
			cons = c
		}
		var gone atomic.Bool
		cc, err := cons.Consume(handler, jetstream.PullMaxMessages(l.pull), jetstream.PullHeartbeat(conHeartbeat),
			jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
				if conGone(err) {
					gone.Store(true)
				}
				if ctx.Err() == nil && !errors.Is(err, jetstream.ErrNoHeartbeat) {
					w.log.Debug("consume", "consumer_kind", l.kind.String(), "err", err)
				}
			}))
		if err != nil {
			if conGone(err) {
				l.setConsumer(nil)
			}
			fail("fetch failed", err)
			continue
		}
		backoff = 100 * time.Millisecond
		select {
		case <-ctx.Done():
			cc.Stop()
			<-cc.Closed()
			return
		case <-cc.Closed():
			// The consumer was deleted or the connection closed: make sure
			// it exists again, then resume.
			if gone.Load() {
				l.setConsumer(nil)
				if l.kind == conDirect || l.kind == conLegacy {
					continue // ensure ends the loop if it is really gone
				}
			}
			fail("fetch failed", errors.New("consume ended"))
		}
	}
}

func conGone(err error) bool {
	return errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrConsumerDeleted)
}

func (w *conWorker) release(n int) {
	for range n {
		<-w.sem
	}
}

func (w *conWorker) pausedFor() time.Duration {
	until := w.paused.Load()
	if until == 0 {
		return 0
	}
	return time.Duration(until - w.b.now().UnixNano())
}

// pause holds every delivery to this endpoint for d (a throttle answer).
func (w *conWorker) pause(d time.Duration) {
	until := w.b.now().Add(d).UnixNano()
	for {
		cur := w.paused.Load()
		if cur >= until || w.paused.CompareAndSwap(cur, until) {
			return
		}
	}
}

// hold waits out a pause and the rate limit, telling JetStream the event is
// still being worked on so it is not handed to another instance meanwhile.
func (w *conWorker) hold(msg jetstream.Msg) bool {
	for {
		d := w.pausedFor()
		if d <= 0 {
			break
		}
		if !w.waitWorking(msg, d) {
			return false
		}
	}
	r := w.limiter.Reserve()
	if !r.OK() {
		return true
	}
	if d := r.Delay(); d > 0 && !w.waitWorking(msg, d) {
		r.Cancel()
		return false
	}
	return true
}

func (w *conWorker) waitWorking(msg jetstream.Msg, d time.Duration) bool {
	tick := max(w.ackWait/3, 10*time.Millisecond)
	for d > 0 {
		step := min(d, tick)
		if !conSleep(w.workCtx, step) {
			return false
		}
		d -= step
		if d > 0 {
			_ = msg.InProgress()
		}
	}
	return true
}

// conTarget is where one event goes.
type conTarget struct {
	dlv     dlvTarget
	account string
}

// target is where this endpoint's deliveries go.
func (w *conWorker) target() conTarget {
	ep := w.ep.Load()
	return conTarget{account: ep.Account, dlv: dlvTarget{url: ep.URL, secrets: ep.ActiveSecrets(w.b.now()), timeout: ep.Timeout}}
}

// resolve decides whether this worker delivers an event of its own queue,
// a legacy consumer or the callback consumer, and where.
func (w *conWorker) resolve(msg jetstream.Msg, ev events.Event) (conTarget, bool) {
	subj := msg.Subject()
	if w.callback {
		u := msg.Headers().Get(events.HeaderCallbackURL)
		if u == "" {
			return conTarget{}, false
		}
		account, _, err := events.ParseCallbackSubject(subj)
		if err != nil || account == events.UnassignedAccount {
			return conTarget{}, false
		}
		return conTarget{account: account, dlv: dlvTarget{url: u, secrets: w.b.callbackSecrets(account)}}, true
	}
	ep := w.ep.Load()
	if strings.HasPrefix(subj, events.DirectPrefix) {
		// Meant for this endpoint alone (a replay, or an event the shared
		// consumer resolved for it): no type filter.
		return w.target(), true
	}
	account, _, err := events.ParseSubject(subj)
	if err != nil || account != ep.Account || account == events.UnassignedAccount {
		return conTarget{}, false
	}
	if only := msg.Headers().Get(events.HeaderEndpointID); only != "" && only != ep.ID {
		return conTarget{}, false
	}
	return w.target(), ep.Matches(ev.Type)
}

// dlvStep is what follows an attempt.
type dlvStep int

const (
	stepDone    dlvStep = iota // delivered
	stepRetry                  // retry after the returned delay
	stepDead                   // dead-letter it (no step left, or 410)
	stepAborted                // shutdown or the endpoint's removal: not an attempt
)

// attempt makes scheduled attempt number n of ev to t: it waits out a pause
// and the rate limit, sends (with the quick retries), records, and updates
// the endpoint's health; the caller settles the event as the step says.
func (w *conWorker) attempt(msg jetstream.Msg, ev events.Event, body []byte, n int, t conTarget) (step dlvStep, delay time.Duration, try dlvTry, outcome string) {
	b := w.b
	if !w.hold(msg) {
		return stepAborted, 0, try, ""
	}
	try = b.d.send(w.workCtx, t.dlv, ev.ID, body, true, func(tr dlvTry, more bool) {
		if more {
			w.record(ev, n, t, tr, OutcomeRetry)
		}
	})
	if w.workCtx.Err() != nil {
		// Aborted by Close or the endpoint's removal: not an attempt.
		return stepAborted, 0, try, ""
	}
	bctx := b.workCtx
	sched := b.cfg.Settings.RetrySchedule
	switch verdict := Classify(try.status, try.err); verdict {
	case Done:
		w.record(ev, n, t, try, OutcomeDelivered)
		w.healthy(bctx)
		return stepDone, 0, try, OutcomeDelivered
	case Disable:
		if !w.callback {
			b.disable(bctx, *w.ep.Load(), "410 Gone")
		}
		return stepDead, 0, try, OutcomeDisabled
	default:
		delay = RetryDelay(n, sched, b.cfg.Settings.Jitter, b.rnd)
		if delay < 0 {
			return stepDead, 0, try, OutcomeDeadLetter
		}
		outcome = OutcomeRetry
		if verdict == Throttle {
			ra := ParseRetryAfter(try.retryAfter, b.now())
			delay = ClampRetryAfter(ra, delay)
			if !w.callback {
				w.pause(min(ClampRetryAfter(ra, sched[0]), delay))
			}
			outcome = OutcomeThrottled
		}
		w.record(ev, n, t, try, outcome)
		w.failing(bctx)
		return stepRetry, delay, try, outcome
	}
}

// handle makes one scheduled attempt of an event of the endpoint's own
// queue, the callback consumer or a legacy consumer, and settles it with
// JetStream: ack (delivered or not for us), nak with the schedule's delay,
// or term after a dead letter. A legacy consumer's failures move to the
// endpoint's own queue instead, so it drains.
func (w *conWorker) handle(kind conKind, msg jetstream.Msg) {
	defer w.handlers.Done()
	defer w.release(1)
	b := w.b
	md, err := msg.Metadata()
	if err != nil {
		_ = msg.Term()
		return
	}
	if kind == conLegacy && b.sfCovers(md) {
		_ = msg.Ack() // the shared consumer has it
		w.markProgress()
		return
	}
	n := int(md.NumDelivered)
	h := msg.Headers()
	if kind == conCallback && h.Get(events.HeaderCallbackURL) == "" {
		// Settle an event without a callback_url before paying for a
		// decode.
		_ = msg.Ack()
		w.markProgress()
		return
	}
	if kind == conDirect {
		prior, _ := strconv.Atoi(h.Get(HeaderPriorAttempts))
		n += prior
		if ra := h.Get(HeaderRetryAt); ra != "" {
			// Put here by the fast path after a failed attempt: the first
			// delivery only waits for the retry's time.
			n--
			if md.NumDelivered == 1 {
				at, _ := time.Parse(time.RFC3339Nano, ra)
				_ = msg.NakWithDelay(max(at.Sub(b.now()), 0))
				w.markProgress()
				return
			}
		}
	}
	ev, err := events.Unmarshal(msg.Data())
	if err != nil {
		w.log.Error("undecodable event dropped", "subject", msg.Subject(), "stream_seq", md.Sequence.Stream, "err", err)
		_ = msg.TermWithReason("undecodable event")
		w.markProgress()
		return
	}
	t, ok := w.resolve(msg, ev)
	if !ok {
		_ = msg.Ack()
		w.markProgress()
		return
	}
	body, err := ev.WebhookBody()
	if err != nil {
		w.log.Error("event not encodable", "event_id", ev.ID, "err", err)
		_ = msg.TermWithReason("unencodable event")
		return
	}
	step, delay, try, outcome := w.attempt(msg, ev, body, n, t)
	bctx := b.workCtx
	switch step {
	case stepAborted:
		_ = msg.Nak()
		return
	case stepDone:
		_ = msg.Ack()
	case stepDead:
		if w.storeDeadLetter(bctx, msg, ev, n, t, try, outcome) {
			_ = msg.TermWithReason(outcome)
		} else {
			// Not stored: keep the event and try again shortly rather
			// than lose it.
			_ = msg.NakWithDelay(30 * time.Second)
		}
		if outcome == OutcomeDeadLetter {
			w.failing(bctx)
		}
	case stepRetry:
		if kind != conLegacy {
			_ = msg.NakWithDelay(delay)
			break
		}
		if w.divertNow(queuedRetry, msg.Data(), ev.Type, ev.ID, md.Sequence.Stream, n, b.now().Add(delay)) {
			_ = msg.Ack()
		} else {
			_ = msg.NakWithDelay(delay)
		}
	}
	w.markProgress()
}

// storeDeadLetter stores the event as a dead letter of this worker's
// target and records the attempt; false when it could not be stored.
func (w *conWorker) storeDeadLetter(ctx context.Context, msg jetstream.Msg, ev events.Event, n int, t conTarget, try dlvTry, outcome string) bool {
	if err := w.b.dlvDeadLetter(ctx, w.id, msg, ev, n, try); err != nil {
		w.log.Error("dead letter not stored", "event_id", ev.ID, "err", err)
		return false
	}
	w.b.m.deadLetters.Inc()
	w.record(ev, n, t, try, outcome)
	return true
}

func (w *conWorker) markProgress() { w.progress.Store(w.b.now().UnixNano()) }

// record logs one attempt: metrics, the attempts stream, one log line.
func (w *conWorker) record(ev events.Event, attempt int, t conTarget, try dlvTry, outcome string) {
	b := w.b
	r := AttemptRecord{
		EventID: ev.ID, EventType: ev.Type, EndpointID: w.id, Attempt: attempt,
		Status: try.status, LatencyMS: float64(try.latency.Microseconds()) / 1000,
		ResponseExcerpt: try.excerpt, At: try.at.UTC(), Outcome: outcome,
	}
	if try.err != nil {
		r.Error = dlvRedactErr(try.err).Error()
	}
	if w.callback {
		r.URL = RedactURL(t.dlv.url)
	}
	b.m.delivered(outcome)
	b.m.attemptSeconds.Observe(try.latency.Seconds())
	b.alog.publish(r)
	// One info line per attempt (issue 7); an operator who finds that too
	// chatty at high rates sets log.level: warn and keeps failures.
	level := slog.LevelInfo
	switch outcome {
	case OutcomeDisabled, OutcomeDeadLetter:
		level = slog.LevelWarn
	}
	if !w.log.Enabled(context.Background(), level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("event_id", ev.ID), slog.String("event_type", ev.Type),
		slog.String("message_id", ev.Data.MessageID), slog.Int("attempt", attempt),
		slog.Int("status", try.status), slog.Float64("latency_ms", r.LatencyMS), slog.String("outcome", outcome),
	}
	if ev.Data.SMSC != "" {
		attrs = append(attrs, slog.String("smsc", ev.Data.SMSC))
	}
	if r.Error != "" {
		attrs = append(attrs, slog.String("err", r.Error))
	}
	if w.callback {
		attrs = append(attrs, slog.String("url", r.URL))
	}
	w.log.LogAttrs(context.Background(), level, "webhook attempt", attrs...)
}

// failing notes a failed attempt on the endpoint: it starts the endpoint's
// failing_since clock, and disables the endpoint once that is older than
// bridge.disable_after. The clock lives in the endpoint record so every
// instance and restart shares it.
func (w *conWorker) failing(ctx context.Context) {
	after := w.b.cfg.Settings.DisableAfter
	if w.callback || after <= 0 {
		return
	}
	ep := w.ep.Load()
	if ep.FailingSince != nil {
		if w.b.now().Sub(*ep.FailingSince) >= after {
			if w.healthBusy.CompareAndSwap(false, true) {
				defer w.healthBusy.Store(false)
				w.b.disable(ctx, *ep, "failing since "+ep.FailingSince.UTC().Format(time.RFC3339))
			}
		}
		return
	}
	w.setFailingSince(ctx, true)
}

// healthy ends the endpoint's failing run.
func (w *conWorker) healthy(ctx context.Context) {
	if w.callback || w.ep.Load().FailingSince == nil {
		return
	}
	w.setFailingSince(ctx, false)
}

func (w *conWorker) setFailingSince(ctx context.Context, failing bool) {
	if !w.healthBusy.CompareAndSwap(false, true) {
		return
	}
	defer w.healthBusy.Store(false)
	now := w.b.now().UTC()
	ep, err := w.b.store.Update(ctx, w.id, func(ep *Endpoint) error {
		switch {
		case failing && ep.FailingSince == nil:
			ep.FailingSince = &now
		case !failing && ep.FailingSince != nil:
			ep.FailingSince = nil
		default:
			return errDlvUnchanged
		}
		return nil
	})
	switch {
	case err == nil:
		// The watch brings it too; storing now spares the next delivery
		// another write.
		cur := *w.ep.Load()
		cur.FailingSince = ep.FailingSince
		w.ep.Store(&cur)
	case errors.Is(err, errDlvUnchanged), errors.Is(err, ErrEndpointNotFound):
	default:
		w.log.Warn("endpoint health not stored", "err", err)
	}
}

// conMonitor samples every consumer for the queue-depth gauge and stall
// detection, deletes legacy consumers once drained, and now and then looks
// for direct consumers the advisory subscription missed.
func (b *Bridge) conMonitor() {
	defer b.loops.Done()
	every := min(max(b.cfg.Settings.StallTimeout/4, 50*time.Millisecond), 15*time.Second)
	var listed time.Time
	for conSleep(b.runCtx, every) {
		if time.Since(listed) >= conDirectScan {
			listed = time.Now()
			b.scanDirect()
		}
		b.mu.Lock()
		ws := make([]*conWorker, 0, len(b.workers)+2)
		for _, w := range b.workers {
			ws = append(ws, w)
		}
		for _, w := range []*conWorker{b.callback, b.sharedW} {
			if w != nil {
				ws = append(ws, w)
			}
		}
		b.mu.Unlock()
		var depth uint64
		var stalled error
		for _, w := range ws {
			for _, l := range w.loops() {
				c := l.consumer()
				if c == nil {
					continue
				}
				ctx, cancel := context.WithTimeout(b.runCtx, 5*time.Second)
				info, err := c.Info(ctx)
				cancel()
				if err != nil {
					continue
				}
				if l.kind == conLegacy && b.sfDrained(info) {
					b.sfDeleteLegacy(w, info)
					continue
				}
				depth += info.NumPending + uint64(info.NumAckPending)
				if stalled == nil {
					stalled = w.stalled(info)
				}
			}
		}
		b.m.queueDepth.Set(float64(depth))
		b.stall.Store(&stalled)
	}
}

// stalled: events are waiting, there is room to deliver them, the endpoint
// is not paused, and neither this instance nor any other (the consumer's
// last activity) made progress for bridge.stall_timeout.
func (w *conWorker) stalled(info *jetstream.ConsumerInfo) error {
	if info.NumPending == 0 || info.NumAckPending >= info.Config.MaxAckPending || w.pausedFor() > 0 {
		return nil
	}
	last := time.Unix(0, w.progress.Load())
	for _, t := range []*time.Time{info.Delivered.Last, info.AckFloor.Last} {
		if t != nil && t.After(last) {
			last = *t
		}
	}
	idle := w.b.now().Sub(last)
	if idle < w.b.cfg.Settings.StallTimeout {
		return nil
	}
	return &StallError{EndpointID: w.id, Pending: info.NumPending, Since: idle.Round(time.Second).String()}
}

// conSleep waits d or until ctx ends; false means ctx ended.
func conSleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
