package bridge

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/smsgw/smsgw/events"
)

// One durable consumer takes every event for every endpoint: per-endpoint
// consumers cost JetStream per consumer, not per event (each acking
// consumer rewrites its state file up to 10 times a second, and looks up
// its next message on its own), which at 100 endpoints was more CPU than
// the deliveries. The shared consumer's dispatcher resolves each event to
// the account's matching endpoints and hands it to each one's bounded
// in-memory queue; the event is acknowledged once every endpoint's share is
// settled: delivered, dead-lettered, or stored in the endpoint's own durable
// queue (DirectConsumerName) — failed attempts with their retry time, and
// every event for an endpoint that is failing, paused, or too slow to take
// more. So the retry schedule still lives in JetStream, and a slow endpoint
// never holds the others up for longer than it takes to notice it is slow.
const (
	// SharedConsumer is the durable consumer of every endpoint's events,
	// on SMS_EVENTS (sms.events.>).
	SharedConsumer = "wh_events"
	// HeaderPriorAttempts (on an event in an endpoint's own queue) is the
	// number of attempts made before it was put there.
	HeaderPriorAttempts = "Smsgw-Prior-Attempts"
	// HeaderRetryAt (same) is when its next attempt is due (RFC 3339).
	HeaderRetryAt = "Smsgw-Retry-At"

	// sfPull is how many events the shared consumer keeps pulled ahead.
	sfPull = 1024
	// sfMaxAckPending bounds the shared consumer's events in flight: in
	// the endpoints' queues and attempts, plus the pull buffer.
	sfMaxAckPending = 1 << 16
	// sfSlowAge: an endpoint whose queue is full and whose oldest
	// attempt in flight began longer ago than this, and than sfSlowFactor
	// times the typical attempt (sfLatency), is slow; its events go to its
	// own queue instead of waiting. Otherwise the dispatcher waits for room:
	// the endpoint is busy, or the whole process is short of CPU (every
	// attempt then takes long, and moving events would only cost more).
	sfSlowAge    = 250 * time.Millisecond
	sfSlowFactor = 4
	// sfCheck is how often a dispatcher waiting for room looks again.
	sfCheck = 25 * time.Millisecond
	// sfNakDelay: an event one of whose shares could not be settled is
	// handed out again after this.
	sfNakDelay = time.Second
	// sfStartSeqKey (consumer metadata) is the first stream sequence of
	// the shared consumer: earlier events belong to legacy consumers.
	sfStartSeqKey = "smsgw_start_seq"
)

// sfConsumerConfig is the shared consumer.
func (b *Bridge) sfConsumerConfig() jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       SharedConsumer,
		Description:   "smsgw webhook endpoints: every event, resolved to its account's endpoints by the bridge",
		FilterSubject: events.StreamSubjects,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       b.conAckWait(0),
		MaxDeliver:    -1,
		MaxAckPending: sfMaxAckPending,
		DeliverPolicy: jetstream.DeliverNewPolicy,
	}
}

// sfCreate creates the shared consumer. It starts now, or at the
// created_at of the oldest endpoint created in the last hour that had no
// consumer of its own (events published between the API storing it and
// this first start), and notes its first sequence in its metadata.
func (b *Bridge) sfCreate(ctx context.Context) (jetstream.Consumer, error) {
	now := b.now()
	from := now
	b.mu.Lock()
	for id, ep := range b.endpoints {
		if ep.Enabled && !b.legacySeen[id] && !ep.CreatedAt.IsZero() && now.Sub(ep.CreatedAt) < conNewWindow && ep.CreatedAt.Before(from) {
			from = ep.CreatedAt
		}
	}
	b.mu.Unlock()
	info, err := b.stream.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("bridge: consumer %s: %w", SharedConsumer, err)
	}
	start := info.State.LastSeq + 1
	if from.Before(now) {
		oc, err := b.stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
			FilterSubjects: []string{events.StreamSubjects},
			DeliverPolicy:  jetstream.DeliverByStartTimePolicy,
			OptStartTime:   &from,
		})
		if err != nil {
			return nil, fmt.Errorf("bridge: consumer %s: %w", SharedConsumer, err)
		}
		batch, err := oc.FetchNoWait(1)
		if err != nil {
			return nil, fmt.Errorf("bridge: consumer %s: %w", SharedConsumer, err)
		}
		for m := range batch.Messages() {
			if md, err := m.Metadata(); err == nil {
				start = min(start, md.Sequence.Stream)
			}
		}
	}
	cfg := b.sfConsumerConfig()
	cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, start
	cfg.Metadata = map[string]string{sfStartSeqKey: strconv.FormatUint(start, 10)}
	c, err := b.stream.CreateConsumer(ctx, cfg)
	if errors.Is(err, jetstream.ErrConsumerExists) {
		c, err = b.stream.Consumer(ctx, SharedConsumer)
	} else if err == nil {
		b.log.Info("consumer created", "consumer", SharedConsumer, "start_seq", start)
	}
	if err != nil {
		return nil, fmt.Errorf("bridge: consumer %s: %w", SharedConsumer, err)
	}
	return c, nil
}

// sfNoteStart reads the shared consumer's first sequence (legacy consumers
// deliver what is before it).
func (b *Bridge) sfNoteStart(c jetstream.Consumer) {
	info := c.CachedInfo()
	start, err := strconv.ParseUint(info.Config.Metadata[sfStartSeqKey], 10, 64)
	if err != nil || start == 0 {
		// Not made by a bridge: what it has not acknowledged is its.
		start = info.AckFloor.Stream + 1
	}
	b.sharedStart.Store(start)
}

// sfCovers reports whether the shared consumer delivers the event of md
// (a legacy consumer only acknowledges it).
func (b *Bridge) sfCovers(md *jetstream.MsgMetadata) bool {
	start := b.sharedStart.Load()
	return start > 0 && md.Sequence.Stream >= start
}

// sfDrained reports whether a legacy consumer has settled every event
// before the shared consumer's start.
func (b *Bridge) sfDrained(info *jetstream.ConsumerInfo) bool {
	start := b.sharedStart.Load()
	return start > 0 && info.AckFloor.Stream+1 >= start
}

// sfDeleteLegacy deletes w's drained legacy consumer; its loop ends.
func (b *Bridge) sfDeleteLegacy(w *conWorker, info *jetstream.ConsumerInfo) {
	ctx, cancel := context.WithTimeout(b.runCtx, 10*time.Second)
	defer cancel()
	if err := b.stream.DeleteConsumer(ctx, info.Name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		w.log.Warn("drained legacy consumer not deleted", "consumer", info.Name, "err", err)
		return
	}
	w.log.Info("legacy consumer drained and deleted", "consumer", info.Name)
}

// sfStart creates (or opens) the shared consumer, starts the legacy loops
// waiting for it, then its dispatcher. b.endpoints is loaded.
func (b *Bridge) sfStart(ctx context.Context) error {
	b.mu.Lock()
	if b.closing {
		b.mu.Unlock()
		return ErrClosed
	}
	w := &conWorker{b: b, id: conSharedID, sem: make(chan struct{}, 1), log: b.log.With("consumer", SharedConsumer)}
	w.ackWait = b.conAckWait(0)
	w.progress.Store(b.now().UnixNano())
	w.fetchCtx, w.fetchCancel = context.WithCancel(b.runCtx)
	w.workCtx, w.workCancel = context.WithCancel(b.workCtx)
	w.main = w.newLoop(conShared, b.stream)
	w.main.pull = sfPull
	b.sharedW = w
	b.mu.Unlock()

	c, err := w.main.ensure(ctx)
	if err != nil {
		return err
	}
	b.sfNoteStart(c)
	w.main.setConsumer(c)
	w.main.readyOnce.Do(func() { close(w.main.ready) })

	b.mu.Lock()
	b.sfReady = true
	for id := range b.legacySeen {
		if lw := b.workers[id]; lw != nil {
			lw.startLoop(conLegacy)
		}
	}
	b.mu.Unlock()
	go w.main.run()
	return nil
}

// sfAdd puts w in the dispatcher's index; b.mu is held. It returns the
// highest stream sequence the dispatcher resolved without w.
func (b *Bridge) sfAdd(w *conWorker) uint64 {
	acct := w.ep.Load().Account
	b.idxMu.Lock()
	defer b.idxMu.Unlock()
	b.byAccount[acct] = append(b.byAccount[acct], w)
	return b.resolved.Load()
}

// sfRemove takes w out of the dispatcher's index; b.mu is held.
func (b *Bridge) sfRemove(w *conWorker) {
	acct := w.ep.Load().Account
	b.idxMu.Lock()
	defer b.idxMu.Unlock()
	ws := slices.DeleteFunc(b.byAccount[acct], func(x *conWorker) bool { return x == w })
	if len(ws) == 0 {
		delete(b.byAccount, acct)
	} else {
		b.byAccount[acct] = ws
	}
}

// sfTargets appends to buf the workers of the endpoints an event goes to:
// enabled, of its account, taking its type, the one named by
// Smsgw-Endpoint-Id if set, and created before it was stored.
func (b *Bridge) sfTargets(buf []*conWorker, account, typ, only string, md *jetstream.MsgMetadata) []*conWorker {
	b.idxMu.RLock()
	defer b.idxMu.RUnlock()
	for _, w := range b.byAccount[account] {
		ep := w.ep.Load()
		if (only != "" && only != ep.ID) || !ep.Matches(typ) || md.Timestamp.Before(ep.CreatedAt) {
			continue
		}
		buf = append(buf, w)
	}
	seq := md.Sequence.Stream
	for cur := b.resolved.Load(); seq > cur && !b.resolved.CompareAndSwap(cur, seq); cur = b.resolved.Load() {
	}
	return buf
}

// sfItem is one event of the shared consumer and its endpoints' shares.
type sfItem struct {
	msg   jetstream.Msg
	md    *jetstream.MsgMetadata
	typ   string
	ev    events.Event
	body  []byte // encoded once for every endpoint
	owner *conWorker
	left  atomic.Int32
	nak   atomic.Bool
}

// settle ends one endpoint's share: ok when it is delivered or safely
// stored elsewhere. The last share acknowledges the event, or hands it out
// again if any share failed.
func (it *sfItem) settle(ok bool) {
	if !ok {
		it.nak.Store(true)
	}
	if it.left.Add(-1) != 0 {
		return
	}
	if it.nak.Load() {
		_ = it.msg.NakWithDelay(sfNakDelay)
	} else {
		_ = it.msg.Ack()
	}
	it.owner.markProgress()
}

// sfDispatcher is the shared consumer's callback state (one goroutine).
type sfDispatcher struct {
	b     *Bridge
	timer *time.Timer
	buf   []*conWorker
}

func (b *Bridge) newDispatcher(context.Context) *sfDispatcher {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &sfDispatcher{b: b, timer: t}
}

func (d *sfDispatcher) close() { d.timer.Stop() }

// dispatch resolves one event and offers it to each of its endpoints;
// events for none are acknowledged without being decoded.
func (d *sfDispatcher) dispatch(msg jetstream.Msg) {
	b := d.b
	owner := b.sharedW
	md, err := msg.Metadata()
	if err != nil {
		_ = msg.Term()
		return
	}
	account, typ, err := events.ParseSubject(msg.Subject())
	if err != nil || account == events.UnassignedAccount {
		_ = msg.Ack()
		owner.markProgress()
		return
	}
	d.buf = b.sfTargets(d.buf[:0], account, typ, msg.Headers().Get(events.HeaderEndpointID), md)
	if len(d.buf) == 0 {
		_ = msg.Ack()
		owner.markProgress()
		return
	}
	ev, err := events.Unmarshal(msg.Data())
	if err != nil {
		owner.log.Error("undecodable event dropped", "subject", msg.Subject(), "stream_seq", md.Sequence.Stream, "err", err)
		_ = msg.TermWithReason("undecodable event")
		return
	}
	body, err := ev.WebhookBody()
	if err != nil {
		owner.log.Error("event not encodable", "event_id", ev.ID, "err", err)
		_ = msg.TermWithReason("unencodable event")
		return
	}
	it := &sfItem{msg: msg, md: md, typ: typ, ev: ev, body: body, owner: owner}
	it.left.Store(int32(len(d.buf)))
	for i, w := range d.buf {
		w.offer(it, d)
		d.buf[i] = nil
	}
}

// offer hands it to w's fast path: at once when the queue has room; to w's
// own queue when w is failing, paused, has a timeout beyond the shared
// consumer's ack wait, or is slow; otherwise it waits for room (a healthy
// endpoint that is merely busy: backpressure on the shared consumer).
func (w *conWorker) offer(it *sfItem, d *sfDispatcher) {
	w.offerMu.RLock()
	defer w.offerMu.RUnlock()
	if w.offersDone {
		it.settle(w.removed.Load())
		return
	}
	if w.sfDivertAll() {
		w.divert(it)
		return
	}
	select {
	case w.queue <- it:
		return
	default:
	}
	for {
		if w.sfSlow() {
			w.divert(it)
			return
		}
		d.timer.Reset(sfCheck)
		select {
		case w.queue <- it:
			return
		case <-d.timer.C:
		case <-w.fetchCtx.Done():
			it.settle(w.removed.Load())
			return
		}
	}
}

// sfDivertAll: w's events skip its fast path.
func (w *conWorker) sfDivertAll() bool {
	ep := w.ep.Load()
	return ep.FailingSince != nil || w.pausedFor() > 0 || ep.Timeout > w.b.cfg.Settings.Timeout
}

// sfSlow: more than half of w's events in hand began more than sfSlowAge
// and sfSlowFactor typical attempts ago (hung or slow answers, a rate
// limit, or slots held by its own queue). Half, not the oldest: with many
// slots one late answer or scheduling hiccup is always there.
func (w *conWorker) sfSlow() bool {
	limit := int64(max(sfSlowAge, sfSlowFactor*time.Duration(w.b.sfLatency.Load())))
	now := w.b.now().UnixNano()
	busy, old := 0, 0
	for i := range w.fastStart {
		if s := w.fastStart[i].Load(); s != 0 {
			busy++
			if now-s > limit {
				old++
			}
		}
	}
	return 2*old > busy
}

// sfObserve folds a fast-path attempt's duration into the typical one: an
// exponential average (1/64 per attempt) of samples capped at twice it, so
// a few hung attempts barely move it while a process short of CPU raises
// it within a few hundred attempts.
func (b *Bridge) sfObserve(d time.Duration) {
	cur := b.sfLatency.Load()
	x := min(int64(d), 2*cur+int64(time.Millisecond))
	b.sfLatency.Store(cur + (x-cur)/64)
}

// divert puts it in w's own queue, in the background; its share is settled
// once stored.
func (w *conWorker) divert(it *sfItem) {
	w.handlers.Add(1)
	go func() {
		defer w.handlers.Done()
		it.settle(w.divertNow(queuedBusy, it.msg.Data(), it.typ, it.ev.ID, it.md.Sequence.Stream, 0, time.Time{}))
	}()
}

// divertNow stores an event (data as in SMS_EVENTS, stream sequence seq)
// in w's own queue, with the attempts made so far and when the next is
// due (zero: at once). Its Nats-Msg-Id makes a second copy of the same
// event for the same endpoint within the dedupe window a no-op. An endpoint
// that is gone needs nothing: true.
func (w *conWorker) divertNow(reason string, data []byte, typ, evID string, seq uint64, prior int, retryAt time.Time) bool {
	b := w.b
	if w.removed.Load() {
		return true
	}
	ctx, cancel := context.WithTimeout(b.workCtx, 10*time.Second)
	defer cancel()
	if !w.directOK.Load() {
		if err := EnsureDirectConsumer(ctx, b.js, w.id); err != nil {
			w.log.Warn("own queue not created", "err", err)
			return false
		}
		w.directOK.Store(true)
		w.startLoop(conDirect)
	}
	h := nats.Header{}
	h.Set(events.HeaderEndpointID, w.id)
	h.Set(jetstream.MsgIDHeader, evID+"-"+w.id+"-"+strconv.FormatUint(seq, 10))
	if prior > 0 {
		h.Set(HeaderPriorAttempts, strconv.Itoa(prior))
	}
	if !retryAt.IsZero() {
		h.Set(HeaderRetryAt, retryAt.UTC().Format(time.RFC3339Nano))
	}
	if _, err := b.js.PublishMsg(ctx, &nats.Msg{Subject: events.DirectSubject(w.id, typ), Header: h, Data: data}); err != nil {
		if !w.removed.Load() {
			w.log.Warn("event not put in the endpoint's own queue", "event_id", evID, "err", err)
		}
		return false
	}
	b.m.queued.WithLabelValues(reason).Inc()
	b.m.queuedN.Add(1)
	return true
}

// fastLoop delivers events of w's fast-path queue; slot indexes fastStart.
// Once stopping, it delivers what is queued while workCtx lasts.
func (w *conWorker) fastLoop(slot int) {
	defer w.fastWG.Done()
	for {
		select {
		case it := <-w.queue:
			w.fastOne(it, slot)
			continue
		case <-w.fetchCtx.Done():
		}
		for {
			select {
			case it := <-w.queue:
				w.fastOne(it, slot)
			default:
				return
			}
		}
	}
}

// fastOne makes the first attempt of one event: delivered, dead-lettered
// (410, or no retry step at all), or put in the endpoint's own queue with
// its retry time.
func (w *conWorker) fastOne(it *sfItem, slot int) {
	// In hand from now: waiting for a slot (held by the endpoint's own
	// queue) counts towards being slow.
	w.fastStart[slot].Store(w.b.now().UnixNano())
	defer w.fastStart[slot].Store(0)
	select {
	case w.sem <- struct{}{}:
	case <-w.workCtx.Done():
		it.settle(w.removed.Load())
		return
	}
	defer w.release(1)
	b := w.b
	t := w.target()
	step, delay, try, outcome := w.attempt(it.msg, it.ev, it.body, 1, t)
	b.sfObserve(time.Duration(b.now().UnixNano() - w.fastStart[slot].Load()))
	switch step {
	case stepAborted:
		it.settle(w.removed.Load())
		return
	case stepDone:
		it.settle(true)
	case stepDead:
		it.settle(w.storeDeadLetter(b.workCtx, it.msg, it.ev, 1, t, try, outcome))
		if outcome == OutcomeDeadLetter {
			w.failing(b.workCtx)
		}
	case stepRetry:
		it.settle(w.divertNow(queuedRetry, it.msg.Data(), it.typ, it.ev.ID, it.md.Sequence.Stream, 1, b.now().Add(delay)))
	}
	w.markProgress()
}

// sfCatchUp puts in w's own queue the events of its account stored since
// its created_at that the dispatcher resolved (up to sequence upTo)
// before this instance knew the endpoint. An event another instance
// delivered to it meanwhile may so arrive twice.
func (b *Bridge) sfCatchUp(w *conWorker, ep Endpoint, upTo uint64) {
	defer b.loops.Done()
	ctx := b.runCtx
	from := ep.CreatedAt
	oc, err := b.stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{events.SubjectPrefix + ep.Account + ".>"},
		DeliverPolicy:  jetstream.DeliverByStartTimePolicy,
		OptStartTime:   &from,
	})
	if err != nil {
		if ctx.Err() == nil {
			w.log.Error("events since the endpoint's creation not read", "err", err)
		}
		return
	}
	n := 0
	err = apiScan(oc, func(m jetstream.Msg, md *jetstream.MsgMetadata) (bool, error) {
		if md.Sequence.Stream > upTo {
			return true, nil
		}
		_, typ, err := events.ParseSubject(m.Subject())
		cur := w.ep.Load()
		if err != nil || !cur.Matches(typ) || md.Timestamp.Before(cur.CreatedAt) {
			return false, nil
		}
		if only := m.Headers().Get(events.HeaderEndpointID); only != "" && only != cur.ID {
			return false, nil
		}
		ev, err := events.Unmarshal(m.Data())
		if err != nil {
			return false, nil
		}
		if !w.divertNow(queuedCatchUp, m.Data(), typ, ev.ID, md.Sequence.Stream, 0, time.Time{}) {
			return true, errors.New("not stored")
		}
		n++
		return false, nil
	})
	if err != nil && ctx.Err() == nil {
		w.log.Error("events since the endpoint's creation not all queued", "queued", n, "err", err)
		return
	}
	if n > 0 {
		w.log.Info("events since the endpoint's creation queued", "events", n, "up_to_seq", upTo)
	}
}
