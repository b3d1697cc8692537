package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// engFinal is how this engine lets final records and SMSC ids leave the
// hot buckets (store_archive.go, docs/NATS.md "Hot and cold records").
type engFinal struct {
	ttl  time.Duration // messages.final_record_ttl
	msgs bool          // sms_messages takes per-message TTLs: archive and expire final records
	ids  bool          // sms_smsc_ids does: expire the ids of final parts
}

// setupFinal enables per-message TTLs on the record and SMSC id buckets and
// makes sure RecordsStream exists. A server without per-message TTLs
// (nats-server < 2.11) keeps today's retention: records for 30 days, ids
// for messages.id_ttl.
func (e *Engine) setupFinal(ctx context.Context) error {
	e.fin.ttl = e.cfg.Config.Messages.FinalRecordTTL
	if _, err := engOpenStream(ctx, e.b, RecordsStreamConfig()); err != nil {
		return err
	}
	var err error
	if e.fin.msgs, err = enableMsgTTL(ctx, e.b, "KV_"+BucketMessages, nil); err != nil {
		return err
	}
	if e.fin.ids, err = enableMsgTTL(ctx, e.b, "KV_"+BucketSMSCIDs, nil); err != nil {
		return err
	}
	if !e.fin.msgs || !e.fin.ids {
		e.log.Warn("gateway: the NATS server has no per-message TTLs (nats-server 2.11 or later has): final records stay in " +
			BucketMessages + " for 30 days and SMSC ids for messages.id_ttl, so memory grows with the message rate")
	}
	return nil
}

// updateRecord is updateMessage for updates that may make the record
// final. A final record is appended to RecordsStream first, then written
// to BucketMessages with the final-record TTL (with the same revision
// check), so it is never missing from both. A record appended and then
// beaten by another writer is harmless: a conflict re-applies fn to the
// fresh record, and a lookup takes the first archived copy (writers that
// race to the same final state compute the same record but for event
// timestamps).
func (e *Engine) updateRecord(ctx context.Context, id string, m *Message, rev uint64, fn func(*Message) (bool, error)) (*Message, error) {
	if !e.fin.msgs {
		return e.updateMessage(ctx, id, m, rev, fn)
	}
	var archived []byte
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
		if m.Final() {
			if !bytes.Equal(b, archived) {
				if err := e.archiveRecord(ctx, m, b); err != nil {
					return nil, err
				}
				archived = b
			}
			err = e.putFinal(ctx, id, b, rev)
			if err == nil {
				e.recCache.del(id)
				return m, nil
			}
		} else {
			var nrev uint64
			if nrev, err = e.kvMsgs.Update(ctx, id, b, rev); err == nil {
				e.recCache.put(id, engCachedRecord{m: engClone(m), rev: nrev})
				return m, nil
			}
		}
		if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) || try >= 50 {
			return nil, fmt.Errorf("gateway: update message %s: %w", id, err)
		}
		e.recCache.del(id)
		m = nil
	}
}

// archiveRecord appends the final record m (encoded as body) to
// RecordsStream.
func (e *Engine) archiveRecord(ctx context.Context, m *Message, body []byte) error {
	created, ok := recordCreated(m.ID)
	if !ok {
		created = m.CreatedAt
	}
	h := nats.Header{}
	h.Set(recordIDHeader, m.ID)
	start := time.Now()
	_, err := e.b.Publish(ctx, &nats.Msg{Subject: recordSubject(m.Account, m.ID, created), Data: body, Header: h})
	e.m.publish.WithLabelValues("record").Observe(time.Since(start).Seconds())
	if err != nil {
		return fmt.Errorf("gateway: archive record %s: %w", m.ID, err)
	}
	return nil
}

// putFinal writes the final record of id to BucketMessages if its revision
// is still rev, with the final-record TTL (kv.Update cannot set one on a
// bucket without subject delete markers). A conflict wraps
// jetstream.ErrKeyRevisionMismatch, as kv.Update's does.
func (e *Engine) putFinal(ctx context.Context, id string, body []byte, rev uint64) error {
	_, err := e.b.Publish(ctx, &nats.Msg{Subject: engKVSubject(BucketMessages, id), Data: body, Header: nats.Header{
		jetstream.ExpectedLastSubjSeqHeader: []string{strconv.FormatUint(rev, 10)},
		jetstream.MsgTTLHeader:              []string{e.fin.ttl.String()},
	}})
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant) {
		return fmt.Errorf("%w: %w", err, jetstream.ErrKeyRevisionMismatch)
	}
	return err
}

// expireID re-puts the SMSC id key of a part whose receipt was final with
// the final-record TTL, so it leaves sms_smsc_ids soon instead of after
// messages.id_ttl (ids of parts with no final receipt keep that). It does
// not wait: a put that fails leaves the key to the bucket's TTL.
func (e *Engine) expireID(kvKey, ref string) {
	if !e.fin.ids {
		return
	}
	// A plain publish, no reply subject: JetStream stores it without
	// sending an acknowledgement nobody would read.
	err := e.b.NC.PublishMsg(&nats.Msg{Subject: engKVSubject(BucketSMSCIDs, kvKey), Data: []byte(ref),
		Header: nats.Header{jetstream.MsgTTLHeader: []string{e.fin.ttl.String()}}})
	if err != nil {
		e.log.Debug("gateway: could not expire smsc id", "key", kvKey, "err", err)
	}
}

// archivedFinal reports whether message id has a final record in
// RecordsStream (its record left sms_messages after it became final).
// A message created less than the final-record TTL ago (less the clock
// skew a lookup allows) cannot have left sms_messages yet: it is answered
// false without a lookup, and so is every message when the server has no
// per-message TTLs. That is the usual case (a receipt or a
// redelivery before the record is stored), and it costs nothing.
func (e *Engine) archivedFinal(ctx context.Context, id string) (bool, error) {
	if !e.fin.msgs {
		return false, nil // no per-message TTLs: nothing is archived
	}
	if created, ok := recordCreated(id); ok && created.After(e.now().Add(recordSkew-e.fin.ttl)) {
		return false, nil
	}
	actx, cancel := context.WithTimeout(ctx, e.cfg.PublishTimeout)
	defer cancel()
	m, err := archivedMessage(actx, e.b.NC, id, e.log)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return m.Final(), nil
}
