package gateway

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/smsgw/smsgw/bus"
	"github.com/smsgw/smsgw/events"
	"github.com/smsgw/smsgw/smpp"
)

// engMissingRecordTries is how many times a submission whose record is not
// (yet) in sms_messages is retried before it is dropped.
const engMissingRecordTries = 5

// handleSubmit takes one queued submission to an SMSC and records the
// outcome. It acknowledges the work item only after the resulting event is
// stored; on a hard stop it leaves it unacknowledged for redelivery.
func (e *Engine) handleSubmit(ctx context.Context, msg jetstream.Msg) {
	// SubmitRequest with its record decoded in the same pass (not kept as
	// raw JSON and decoded again).
	req, err := decodeSubmitEntry(msg.Data())
	if err != nil {
		// A record that does not decode is read from KV instead.
		req.Record, req.Revision = nil, 0
		var id SubmitRequest
		if json.Unmarshal(msg.Data(), &id) == nil {
			req.ID, req.Account = id.ID, id.Account
		}
	}
	if req.ID == "" {
		e.log.Error("gateway submission unreadable, dropped", "subject", msg.Subject())
		_ = msg.Term()
		return
	}
	log := e.log.With("message_id", req.ID)
	attempt := 1
	if md, err := msg.Metadata(); err == nil {
		attempt = int(md.NumDelivered)
	}
	var (
		rec *Message
		rev uint64
	)
	err = nil
	queued := req.Record != nil && req.Record.ID == req.ID
	if attempt == 1 && queued {
		// First delivery: the record as the API queued it; revision 0
		// (not in KV yet: the first write creates it) unless an older
		// API stored it first. Only the engine changes an accepted record,
		// and only after taking the item.
		rec, rev = req.Record, req.Revision
	}
	if rec == nil {
		rec, rev, err = e.loadMessage(ctx, req.ID)
		if errors.Is(err, jetstream.ErrKeyNotFound) && queued && req.Revision == 0 {
			// A redelivery before anything was recorded (the attempts so
			// far waited for a bind, or the instance died first) — or after
			// the final record left KV (archived: a duplicate).
			final, aerr := e.archivedFinal(ctx, req.ID)
			switch {
			case aerr != nil:
				err = aerr
			case final:
				_ = msg.Ack()
				return
			default:
				rec, rev, err = req.Record, 0, nil
			}
		}
	}
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		if attempt < engMissingRecordTries {
			_ = msg.NakWithDelay(time.Second)
			return
		}
		log.Error("gateway submission has no message record, dropped")
		_ = msg.Term()
		return
	}
	if err != nil {
		if ctx.Err() == nil {
			log.Warn("gateway load message failed", "err", err)
			_ = msg.NakWithDelay(e.cfg.SubmitRetryMin)
		}
		return
	}
	if rec.Status != StatusAccepted {
		// Done before (a redelivery after a crash between the record update
		// and the ack): never submit twice.
		_ = msg.Ack()
		return
	}
	names := e.routes.lookup(rec.To, rec.Route)
	if len(names) == 0 {
		e.failMessage(ctx, msg, rec, rev, "", nil, fmt.Sprintf("no route to %s", engRouteDesc(rec)), log)
		return
	}
	smsc := e.pickSMSC(names, attempt)
	var (
		res     smpp.Result
		subErr  error
		smscNam string
	)
	if smsc == nil {
		// No SMSC of the route is bound, so nothing reached a carrier: not
		// a submit attempt. A carrier link that flaps must not fail
		// messages, so wait for a bind as long as the message is valid.
		if wait := engBindWait(rec); e.now().Sub(rec.CreatedAt) < wait {
			d := engBackoff(min(attempt, 8), e.cfg.SubmitRetryMin, e.cfg.SubmitRetryMax)
			log.Debug("gateway submit waits for a bind", "smsc", names[0], "retry_in", d.String())
			_ = msg.NakWithDelay(d)
			return
		}
		smscNam = names[0]
		subErr = &smpp.SubmitError{Temporary: false, Part: 1, Err: fmt.Errorf("no SMSC of the route bound within the message's validity: %w", smpp.ErrNotBound)}
	} else {
		smscNam = smsc.Name()
		sctx, cancel := context.WithTimeout(ctx, e.cfg.SubmitTimeout)
		start := time.Now()
		// A submit may wait longer than AckWait (a full window, a slow
		// SMSC): keep the item ours, or another instance would take it and
		// submit the same message too.
		stopKeep := engKeepInProgress(sctx, msg, e.cfg.AckWait/3)
		// Until recordSent has cached the ids (or this handler gives up),
		// receipts that overtake the answer wait for them: see idWaiters.
		defer e.idWait.submitStarted()()
		res, subErr = smsc.Submit(sctx, smpp.Message{
			To: rec.To, From: rec.From, Text: rec.Text,
			Encoding: smpp.Encoding(rec.Encoding), Validity: rec.Validity, Ref: engConcatRef(rec.ID),
		})
		stopKeep()
		e.m.submitSecs.WithLabelValues(smscNam).Observe(time.Since(start).Seconds())
		cancel()
	}
	if subErr != nil {
		if ctx.Err() != nil {
			return // hard stop: leave it for redelivery
		}
		if smpp.IsTemporary(subErr) {
			e.m.submits.WithLabelValues(smscNam, engSubmitResult(subErr)).Inc()
			// Count attempts that reached an SMSC in the record, not
			// deliveries of the work item (those include waits for a bind).
			tries := rec.SubmitAttempts + 1
			if tries < e.cfg.Config.Messages.SubmitAttempts {
				if _, err := e.updateMessage(ctx, rec.ID, rec, rev, func(m *Message) (bool, error) {
					m.SubmitAttempts = tries
					return m.Status == StatusAccepted, nil
				}); err != nil && ctx.Err() == nil {
					log.Warn("gateway record attempt failed", "err", err)
				}
				d := engBackoff(tries, e.cfg.SubmitRetryMin, e.cfg.SubmitRetryMax)
				log.Info("gateway submit will be retried", "smsc", smscNam, "attempt", tries, "retry_in", d.String(), "err", subErr)
				_ = msg.NakWithDelay(d)
				return
			}
			e.failMessage(ctx, msg, rec, rev, smscNam, engStatus(subErr),
				fmt.Sprintf("retries exhausted after %d attempts: %v", tries, subErr), log)
			return
		}
		e.m.submits.WithLabelValues(smscNam, submitPermanent).Inc()
		e.failMessage(ctx, msg, rec, rev, smscNam, engStatus(subErr), subErr.Error(), log)
		return
	}
	e.m.submits.WithLabelValues(smscNam, submitOK).Inc()
	if err := e.recordSent(ctx, rec, rev, smscNam, res, rec.SubmitAttempts+1); err != nil {
		if ctx.Err() == nil {
			// Submitted but not recorded: the redelivery submits again
			// (at worst one duplicate SMS; the sent event id is the same,
			// so JetStream keeps one).
			log.Warn("gateway record sent failed", "smsc", smscNam, "err", err)
			_ = msg.NakWithDelay(e.cfg.SubmitRetryMin)
		}
		return
	}
	_ = msg.Ack()
}

// engKeepInProgress tells JetStream every interval that msg is still being
// worked on, until the returned stop is called (after it returns, no more
// is sent) or ctx ends. A timer, not a goroutine: almost every submit
// stops it long before it fires.
func engKeepInProgress(ctx context.Context, msg jetstream.Msg, every time.Duration) (stop func()) {
	every = max(every, 10*time.Millisecond)
	var (
		mu      sync.Mutex
		stopped bool
		t       *time.Timer
	)
	mu.Lock()
	defer mu.Unlock()
	t = time.AfterFunc(every, func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped || ctx.Err() != nil {
			return
		}
		_ = msg.InProgress()
		t.Reset(every)
	})
	return func() {
		mu.Lock()
		stopped = true
		mu.Unlock()
		t.Stop()
	}
}

// pickSMSC returns the first bound SMSC of the route, starting further down
// the list on later attempts so a failing SMSC is bypassed.
func (e *Engine) pickSMSC(names []string, attempt int) EngineSMSC {
	start := (attempt - 1) % len(names)
	for i := range names {
		s := e.smscs[names[(start+i)%len(names)]]
		if s != nil && s.Bound() {
			return s
		}
	}
	return nil
}

func engRouteDesc(m *Message) string {
	if m.Route != "" {
		return m.To + " via " + m.Route
	}
	return m.To
}

// engConcatRef derives the concatenation reference from the message id, so
// a retried submit carries the same reference (1..255: fits UDH and SAR).
func engConcatRef(id string) uint16 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	return uint16(h.Sum32()%255) + 1
}

// engStatus is the SMPP command_status of a submit error, if it has one.
func engStatus(err error) *int {
	var se *smpp.SubmitError
	if errors.As(err, &se) && se.Status != 0 {
		v := int(se.Status)
		return &v
	}
	return nil
}

// engBindWait is how long a message waits for a bind of its route before
// it fails: its validity, else a day.
func engBindWait(m *Message) time.Duration {
	if m.Validity > 0 {
		return m.Validity
	}
	return 24 * time.Hour
}

// engBackoff is min·2^(attempt-1), capped at max, with ±20 % jitter.
func engBackoff(attempt int, minD, maxD time.Duration) time.Duration {
	d := minD
	for i := 1; i < attempt && d < maxD; i++ {
		d *= 2
	}
	d = min(d, maxD)
	j := 0.8 + 0.4*rand.Float64() //nolint:gosec // jitter, not security
	return time.Duration(float64(d) * j)
}

// loadMessage reads a record and its revision.
func (e *Engine) loadMessage(ctx context.Context, id string) (*Message, uint64, error) {
	ent, err := e.kvMsgs.Get(ctx, id)
	if err != nil {
		return nil, 0, fmt.Errorf("gateway: load message %s: %w", id, err)
	}
	m, err := UnmarshalMessage(ent.Value())
	if err != nil {
		return nil, 0, err
	}
	return m, ent.Revision(), nil
}

// updateMessage applies fn to the record and writes it back with optimistic
// concurrency, reloading and re-applying on a conflict; m and rev, when m
// is not nil, are a copy the caller already has (fn may change it). fn may
// publish events (their ids are derived, so a re-applied publish is
// deduplicated); it returns false to write nothing. The written record is
// kept in the local cache until it is final.
func (e *Engine) updateMessage(ctx context.Context, id string, m *Message, rev uint64, fn func(*Message) (bool, error)) (*Message, error) {
	for try := 0; ; try++ {
		if m == nil {
			var err error
			if m, rev, err = e.loadMessage(ctx, id); err != nil {
				return nil, err
			}
		}
		write, err := fn(m)
		if err != nil || !write {
			return m, err
		}
		b, err := m.MarshalRecord()
		if err != nil {
			return nil, err
		}
		nrev, err := e.b.KVUpdate(ctx, BucketMessages, id, b, rev)
		if err == nil {
			if m.Final() {
				e.recCache.del(id)
			} else {
				e.recCache.put(id, engCachedRecord{m: engClone(m), rev: nrev})
			}
			return m, nil
		}
		if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) || try >= 50 {
			return nil, fmt.Errorf("gateway: update message %s: %w", id, err)
		}
		e.recCache.del(id)
		m = nil
	}
}

// cachedMessage is a private copy of the record of id as this instance
// last wrote it, if it still has it.
func (e *Engine) cachedMessage(id string) (*Message, uint64) {
	if c, ok := e.recCache.get(id); ok {
		return engClone(c.m), c.rev
	}
	return nil, 0
}

// recordSent files each part's SMSC id for receipt matching, remembers the
// message for in_reply_to, publishes message.sent and updates the record.
// The three stores are pipelined (one round trip, not three); the record
// is written only once all are acknowledged, so it never says sent before
// the event is stored.
func (e *Engine) recordSent(ctx context.Context, rec *Message, rev uint64, smsc string, res smpp.Result, attempt int) error {
	now := e.now()
	apply := func(m *Message) {
		m.Status = StatusSent
		m.SMSC = smsc
		m.SubmittedAt = &now
		m.PartIDs = make([]string, len(res.Parts))
		for i, p := range res.Parts {
			m.PartIDs[i] = p.MessageID
		}
		m.PartStates = make([]PartState, len(res.Parts))
		m.Parts = len(res.Parts)
		if res.Encoding != "" {
			m.Encoding = string(res.Encoding)
		}
		m.SubmitAttempts = attempt
		m.Sequence = 1
	}
	// Receipts may overtake this record update; let them wait for it
	// here rather than find "accepted" and retry later.
	written := make(chan struct{})
	e.pendingSent.Store(rec.ID, written)
	defer func() {
		e.pendingSent.Delete(rec.ID)
		close(written)
	}()
	preview := engClone(rec)
	apply(preview)
	ev := seqMessageEvent(preview, events.MessageSent, 1, now)

	futures := make([]*bus.PubFuture, 0, len(res.Parts)+3)
	for i, p := range res.Parts {
		k := engIDKey(smsc, smpp.IDKey(p.MessageID, e.idFormat[smsc]))
		ref := rec.ID + "/" + strconv.Itoa(i)
		e.idCache.put(k, ref)
		e.idWait.learnt(k)
		f, err := e.b.PublishAsync(&nats.Msg{Subject: engKVSubject(BucketSMSCIDs, k), Data: []byte(ref)})
		if err != nil {
			bus.CancelAll(futures)
			return fmt.Errorf("gateway: file smsc id: %w", err)
		}
		futures = append(futures, f)
	}
	f, err := e.b.PublishAsync(&nats.Msg{Subject: engKVSubject(BucketLastSent, engLastSentKey(rec.Account, rec.To)), Data: []byte(rec.ID)})
	if err != nil {
		bus.CancelAll(futures)
		return fmt.Errorf("gateway: remember last sent: %w", err)
	}
	futures = append(futures, f)
	// message.sent, stored exactly as bus.PublishEvent stores it (subject,
	// Nats-Msg-Id = event id), but without waiting for it alone.
	evMsg, err := e.eventMsg(rec, ev)
	if err != nil {
		bus.CancelAll(futures)
		return err
	}
	start := time.Now()
	if f, err = e.b.PublishAsync(evMsg); err != nil {
		bus.CancelAll(futures)
		return fmt.Errorf("gateway: publish %s: %w", ev.Type, err)
	}
	futures = append(futures, f)
	if rec.CallbackURL != "" {
		// The callback worker's copy (see bus.PublishEvent).
		cb := &nats.Msg{Subject: events.CallbackSubject(rec.Account, ev.Type), Data: evMsg.Data, Header: evMsg.Header}
		if f, err = e.b.PublishAsync(cb); err != nil {
			bus.CancelAll(futures)
			return fmt.Errorf("gateway: publish %s callback copy: %w", ev.Type, err)
		}
		futures = append(futures, f)
	}
	if err := engWaitFutures(ctx, futures); err != nil {
		return err
	}
	e.m.publish.WithLabelValues("event").Observe(time.Since(start).Seconds())
	e.m.finalEvents.WithLabelValues(ev.Type).Inc()
	_, err = e.updateMessage(ctx, rec.ID, rec, rev, func(m *Message) (bool, error) {
		if m.Status != StatusAccepted {
			return false, nil
		}
		apply(m)
		m.Events = append(m.Events, ev)
		return true, nil
	})
	return err
}

// eventMsg is the NATS message bus.PublishEvent would store for ev of m.
func (e *Engine) eventMsg(m *Message, ev events.Event) (*nats.Msg, error) {
	body, err := ev.Marshal()
	if err != nil {
		return nil, fmt.Errorf("gateway: encode event: %w", err)
	}
	h := nats.Header{}
	h.Set(jetstream.MsgIDHeader, ev.ID)
	if m.CallbackURL != "" {
		h.Set(events.HeaderCallbackURL, m.CallbackURL)
	}
	return &nats.Msg{Subject: events.Subject(m.Account, ev.Type), Data: body, Header: h}, nil
}

// failMessage publishes message.failed, records it (archived, and
// expiring from sms_messages: see updateRecord) and acknowledges the work
// item.
func (e *Engine) failMessage(ctx context.Context, msg jetstream.Msg, rec *Message, rev uint64, smsc string, status *int, why string, log interface {
	Warn(string, ...any)
}) {
	now := e.now()
	var ev *events.Event
	_, err := e.updateRecord(ctx, rec.ID, rec, rev, func(m *Message) (bool, error) {
		if m.Status != StatusAccepted {
			return false, nil
		}
		m.Status = StatusFailed
		m.SMSC = smsc
		m.DoneAt = &now
		if ev == nil {
			x := seqMessageEvent(m, events.MessageFailed, m.Sequence+1, now)
			x.Data.Reason = &events.Reason{Message: why, SMPPStatus: status}
			if err := e.publishEvent(ctx, m, x); err != nil {
				return false, err
			}
			ev = &x
		}
		m.Sequence = ev.Data.Sequence
		m.Events = append(m.Events, *ev)
		return true, nil
	})
	if err != nil {
		if ctx.Err() == nil {
			log.Warn("gateway record failure failed", "err", err)
			_ = msg.NakWithDelay(e.cfg.SubmitRetryMin)
		}
		return
	}
	log.Warn("gateway message failed", "smsc", smsc, "reason", why)
	_ = msg.Ack()
}

// seqMessageEvent builds event number seq of m from the record's current
// state. Its id is derived from the message id and seq (see seqEventID).
func seqMessageEvent(m *Message, typ string, seq int, now time.Time) events.Event {
	d := events.Data{
		MessageID: m.ID, To: m.To, From: m.From, Status: m.Status,
		PartCount: m.Parts, Metadata: m.Metadata, SMSC: m.SMSC, Sequence: seq,
	}
	if m.SubmittedAt != nil {
		d.SubmittedAt = events.At(*m.SubmittedAt)
	}
	if m.DoneAt != nil {
		d.DoneAt = events.At(*m.DoneAt)
	}
	// sent and failed both claim sequence 1 (a crash between a submit and
	// its record may lead to either on the retry): keep their ids apart.
	key := m.ID
	if typ == events.MessageSent || typ == events.MessageFailed {
		key += "/" + typ
	}
	return events.Event{ID: seqEventID(key, seq, m.CreatedAt), Type: typ, Timestamp: events.Time{Time: now}, Data: d}
}

// publishEvent stores a message's event in JetStream (with its
// callback_url as a header) and waits for the acknowledgement.
func (e *Engine) publishEvent(ctx context.Context, m *Message, ev events.Event) error {
	var h nats.Header
	if m.CallbackURL != "" {
		h = nats.Header{}
		h.Set(events.HeaderCallbackURL, m.CallbackURL)
	}
	return e.publishAccountEvent(ctx, m.Account, ev, h)
}

func (e *Engine) publishAccountEvent(ctx context.Context, account string, ev events.Event, h nats.Header) error {
	start := time.Now()
	_, err := e.b.PublishEvent(ctx, account, ev, h)
	e.m.publish.WithLabelValues("event").Observe(time.Since(start).Seconds())
	if err != nil {
		return fmt.Errorf("gateway: publish %s: %w", ev.Type, err)
	}
	e.m.finalEvents.WithLabelValues(ev.Type).Inc()
	return nil
}

// engWaitFutures waits for every asynchronous publish to be acknowledged.
func engWaitFutures(ctx context.Context, fs []*bus.PubFuture) error {
	if err := bus.WaitAll(ctx, fs); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("gateway: store: %w", err)
	}
	return nil
}

// engKVSubject is the subject a put to bucket's key is published on (the
// KV API's wire format), so several puts can be pipelined asynchronously.
func engKVSubject(bucket, key string) string { return "$KV." + bucket + "." + key }

// engKeyPart makes s usable inside a KV key (letters, digits, '-', '_',
// '='; '.' separates parts): kept as is when it already is, else base64url.
func engKeyPart(s string) string {
	ok := s != ""
	for i := 0; ok && i < len(s); i++ {
		c := s[i]
		ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
	}
	if ok {
		return s
	}
	return "=" + base64.RawURLEncoding.EncodeToString([]byte(s))
}

// engIDKey is the sms_smsc_ids key of an SMSC message id.
func engIDKey(smsc, idKey string) string { return engKeyPart(smsc) + "." + engKeyPart(idKey) }

// engLastSentKey is the sms_last_sent key of account and a number.
func engLastSentKey(account, number string) string {
	return engKeyPart(account) + "." + engKeyPart(strings.TrimPrefix(number, "+"))
}
