package gateway

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/smsgw/smsgw/events"
	"github.com/smsgw/smsgw/smpp"
)

// rcptReasonHeader says why an item was kept in SMS_UNMATCHED.
const rcptReasonHeader = "Smsgw-Unmatched-Reason"

// rcptResult is what applying a receipt to a record came to.
type rcptResult int

const (
	rcptApplied   rcptResult = iota // recorded (maybe with the final event)
	rcptDuplicate                   // the part (or message) was final already
	rcptEarly                       // the record is not marked sent yet
	rcptStale                       // the id belongs to a superseded submit
)

// handleReceipt correlates a receipt with its message part and, when it
// makes every part final, publishes the message's one final event.
func (e *Engine) handleReceipt(ctx context.Context, msg jetstream.Msg, md *jetstream.MsgMetadata, it *inboundItem) {
	r := it.Inbound.Receipt
	format := e.idFormat[it.SMSC]
	if format == "" {
		format = smpp.IDAuto
	}
	var ref, key string
	keys := smpp.ReceiptIDKeys(r.ID, format)
	for _, k := range keys {
		if v, ok := e.idCache.get(engIDKey(it.SMSC, k)); ok {
			ref, key = v, k
			break
		}
	}
	for _, k := range keys {
		if ref != "" {
			break
		}
		ent, err := e.kvIDs.Get(ctx, engIDKey(it.SMSC, k))
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			if ctx.Err() == nil {
				e.log.Warn("gateway receipt lookup failed", "smsc", it.SMSC, "err", err)
				_ = msg.NakWithDelay(e.cfg.ReceiptRetryMin)
			}
			return
		}
		ref, key = string(ent.Value()), k
		break
	}
	if ref == "" && (md == nil || md.NumDelivered == 1) {
		// Often the submit that will learn this id is still being
		// recorded by this very instance: wait for it briefly (once).
		ck := make([]string, len(keys))
		for i, k := range keys {
			ck[i] = engIDKey(it.SMSC, k)
		}
		e.idWait.wait(ctx, ck, rcptLocalWait, func() bool {
			for i, k := range ck {
				if v, ok := e.idCache.get(k); ok {
					ref, key = v, keys[i]
					return true
				}
			}
			return false
		})
	}
	if ref == "" {
		e.rcptRetryOrKeep(ctx, msg, md, it, "no submitted part has this id")
		return
	}
	msgID, partStr, _ := strings.Cut(ref, "/")
	part, err := strconv.Atoi(partStr)
	if err != nil || msgID == "" {
		e.rcptKeep(ctx, msg, it, "corrupt id mapping "+ref)
		return
	}
	if ch, ok := e.pendingSent.Load(msgID); ok {
		// This instance is writing the sent record right now.
		t := time.NewTimer(e.cfg.PublishTimeout)
		select {
		case <-ch.(chan struct{}):
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
	res, err := e.applyReceipt(ctx, msgID, part, key, format, it)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		// A final record leaves sms_messages after
		// messages.final_record_ttl (archived in SMS_RECORDS): a receipt
		// for it is a duplicate. Not archived: the engine that submitted it
		// may not have created the record yet (it files the SMSC ids
		// first, then creates the record as sent): retried like a receipt
		// for a record not marked sent, then kept.
		final, aerr := e.archivedFinal(ctx, msgID)
		switch {
		case aerr != nil:
			err = aerr
		case final:
			res, err = rcptDuplicate, nil
		default:
			e.rcptRetryOrKeep(ctx, msg, md, it, "message record not stored yet, or gone")
			return
		}
	}
	switch {
	case err != nil:
		if ctx.Err() == nil {
			e.log.Warn("gateway receipt not recorded, will retry", "smsc", it.SMSC, "message_id", msgID, "err", err)
			_ = msg.NakWithDelay(e.cfg.ReceiptRetryMin)
		}
		return
	}
	switch res {
	case rcptEarly:
		e.rcptRetryOrKeep(ctx, msg, md, it, "message not marked sent")
		return
	case rcptStale:
		e.rcptKeep(ctx, msg, it, "id of a superseded submit of "+msgID)
		return
	}
	if r.Final {
		// The part is final: its id need not outlive the record.
		e.expireID(engIDKey(it.SMSC, key), ref)
	}
	e.m.receipts.WithLabelValues(it.SMSC, r.Stat).Inc()
	_ = msg.Ack()
}

// applyReceipt records receipt it for part of message msgID (whose SMSC
// id's key is idKey) with optimistic concurrency; receipts of several parts
// may be applied at once by different workers or instances. The final
// event is published before the record says final.
func (e *Engine) applyReceipt(ctx context.Context, msgID string, part int, idKey string, format smpp.IDFormat, it *inboundItem) (rcptResult, error) {
	r := it.Inbound.Receipt
	var (
		res     rcptResult
		ev      *events.Event
		latency time.Duration = -1 // submit → final receipt, once the message is final
	)
	// The record as this instance last wrote it (usually at message.sent)
	// spares a KV read; a stale one fails the revision check and is read
	// again. Parts only ever become final, so a stale copy never makes the
	// message look final before the fresh one would.
	cached, rev := e.cachedMessage(msgID)
	// updateRecord: the write that makes the message final archives the
	// record and lets it expire from sms_messages (engine_ttl.go).
	_, err := e.updateRecord(ctx, msgID, cached, rev, func(m *Message) (bool, error) {
		res, latency = rcptApplied, -1
		if m.Status == StatusAccepted || len(m.PartIDs) == 0 {
			res = rcptEarly
			return false, nil
		}
		if part < 0 || part >= len(m.PartIDs) || m.SMSC != it.SMSC || smpp.IDKey(m.PartIDs[part], format) != idKey {
			res = rcptStale
			return false, nil
		}
		if m.Final() {
			res = rcptDuplicate
			return false, nil
		}
		if len(m.PartStates) != len(m.PartIDs) {
			ps := make([]PartState, len(m.PartIDs))
			copy(ps, m.PartStates)
			m.PartStates = ps
		}
		ps := &m.PartStates[part]
		if ps.Final {
			res = rcptDuplicate
			return false, nil
		}
		if !r.Final {
			if ps.Stat == r.Stat && ps.Err == r.Err {
				res = rcptDuplicate
				return false, nil
			}
			ps.Stat, ps.Err = r.Stat, r.Err
			return true, nil
		}
		done := it.ReceivedAt
		*ps = PartState{Final: true, Delivered: r.Delivered, Stat: r.Stat, Err: r.Err, DoneAt: &done}
		var last time.Time
		for _, p := range m.PartStates {
			if !p.Final {
				return true, nil
			}
			if p.DoneAt != nil && p.DoneAt.After(last) {
				last = *p.DoneAt
			}
		}
		status, reason := e.rcptMessageOutcome(it.SMSC, m)
		m.Status = status
		m.DoneAt = &last
		seq := m.Sequence + 1
		typ := events.MessageDelivered
		if status == StatusUndelivered {
			typ = events.MessageUndelivered
		}
		if ev == nil || ev.Data.Sequence != seq || ev.Type != typ {
			x := seqMessageEvent(m, typ, seq, e.now())
			x.Data.Reason = reason
			if err := e.publishEvent(ctx, m, x); err != nil {
				return false, err
			}
			ev = &x
		}
		m.Sequence = seq
		m.Events = append(m.Events, *ev)
		if m.SubmittedAt != nil {
			latency = max(last.Sub(*m.SubmittedAt), 0) // a receipt may overtake its submit_sm_resp
		}
		return true, nil
	})
	if err == nil && latency >= 0 {
		e.m.receiptSecs.WithLabelValues(it.SMSC).Observe(latency.Seconds())
	}
	return res, err
}

// rcptMessageOutcome is the message-level result once every part is final:
// delivered when all parts are, else undelivered with the reason of the
// first part that was not delivered.
func (e *Engine) rcptMessageOutcome(smsc string, m *Message) (string, *events.Reason) {
	for _, p := range m.PartStates {
		if p.Delivered {
			continue
		}
		delivered, cat := rcptOutcome(e.errorMap[smsc], p.Stat, p.Err)
		if delivered { // a rule cannot turn a failed part into a delivery
			cat = events.UnknownBounce
		}
		return StatusUndelivered, events.NewReason(cat, p.Stat, p.Err)
	}
	return StatusDelivered, nil
}

// rcptRetryOrKeep retries a receipt that may have overtaken its submit, for
// up to ReceiptMatchTimeout after it arrived, then keeps it in
// SMS_UNMATCHED.
func (e *Engine) rcptRetryOrKeep(ctx context.Context, msg jetstream.Msg, md *jetstream.MsgMetadata, it *inboundItem, why string) {
	if e.now().Sub(it.ReceivedAt) < e.cfg.ReceiptMatchTimeout {
		n := 1
		if md != nil {
			n = int(md.NumDelivered)
		}
		_ = msg.NakWithDelay(engBackoff(n, e.cfg.ReceiptRetryMin, e.cfg.ReceiptRetryMax))
		return
	}
	e.rcptKeep(ctx, msg, it, why)
}

// rcptKeep stores an uncorrelatable receipt in SMS_UNMATCHED (never
// dropped) and acknowledges it.
func (e *Engine) rcptKeep(ctx context.Context, msg jetstream.Msg, it *inboundItem, why string) {
	h := nats.Header{}
	h.Set(rcptReasonHeader, why)
	if md, err := msg.Metadata(); err == nil {
		// A redelivery after a crash here is stored once.
		h.Set(jetstream.MsgIDHeader, fmt.Sprintf("unmatched-%s-%d", md.Stream, md.Sequence.Stream))
	}
	if _, err := e.b.JS.PublishMsg(ctx, &nats.Msg{Subject: UnmatchedSubject(engKeyPart(it.SMSC)), Data: msg.Data(), Header: h}); err != nil {
		if ctx.Err() == nil {
			e.log.Warn("gateway unmatched receipt not stored, will retry", "smsc", it.SMSC, "err", err)
			_ = msg.NakWithDelay(e.cfg.ReceiptRetryMin)
		}
		return
	}
	e.m.unmatched.WithLabelValues(it.SMSC).Inc()
	e.log.Warn("gateway receipt unmatched, kept in "+UnmatchedStream, "smsc", it.SMSC,
		"smsc_message_id", it.Inbound.Receipt.ID, "stat", it.Inbound.Receipt.Stat, "reason", why)
	_ = msg.Ack()
}
