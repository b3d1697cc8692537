package gateway

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/smsgw/smsgw/events"
	"github.com/smsgw/smsgw/smpp"
)

// queueMsg is a submit work item delivered for the delivered-th time; it
// records how it was settled.
type queueMsg struct {
	jetstream.Msg
	data      []byte
	delivered uint64
	acked     atomic.Int32
	naked     atomic.Int32
}

func (m *queueMsg) Data() []byte    { return m.data }
func (m *queueMsg) Subject() string { return SubmitSubjectPrefix + e2eAccount }
func (m *queueMsg) Metadata() (*jetstream.MsgMetadata, error) {
	return &jetstream.MsgMetadata{NumDelivered: m.delivered}, nil
}
func (m *queueMsg) Ack() error                       { m.acked.Add(1); return nil }
func (m *queueMsg) NakWithDelay(time.Duration) error { m.naked.Add(1); return nil }
func (m *queueMsg) InProgress() error                { return nil }
func (m *queueMsg) Term() error                      { return nil }

// The record of an accepted message lives only in its queue entry until
// the engine takes it. A redelivery of that entry after the message went
// final and its record left sms_messages must not submit it again: the
// archive says it is done.
func TestSubmitRedeliveryAfterFinalRecordLeftKV(t *testing.T) {
	f := &engFake{name: "a"}
	f.bound.Store(true)
	env := engTTLStart(t, f)
	at := time.Now()
	m := &Message{ID: events.NewMessageID(), Account: e2eAccount, To: "+447700900123", From: "ACME", Text: "hi",
		Encoding: "gsm7", Parts: 1, Status: StatusAccepted, CreatedAt: at}
	record, _ := m.MarshalRecord()
	entry := appendSubmitRequest(nil, m.ID, m.Account, record, 0)
	if err := env.store.Accept(env.ctx, []*Message{m})[0]; err != nil {
		t.Fatal(err)
	}
	// Queued or already taken, GET's lookup finds it.
	if q, rev, err := env.store.findMessage(env.ctx, e2eAccount, m.ID); err != nil || q.ID != m.ID || (rev == 0) != (q.Status == StatusAccepted) {
		t.Fatalf("lookup: %+v %d %v", q, rev, err)
	}
	env.sent(m.ID)
	receipt := smpp.Inbound{IsReceipt: true, Receipt: smpp.Receipt{ID: fmt.Sprintf("%x", 0xabc001), Stat: "DELIVRD", Err: "000", Final: true, Delivered: true}}
	if st := f.deliver(receipt); st != smpp.StatusOK {
		t.Fatalf("deliver status %v", st)
	}
	env.final(m.ID)
	hot := env.record(m.ID, func(m *Message) bool { return m.Final() })
	env.expiredAndArchived(m.ID, hot)

	f.mu.Lock()
	before := len(f.calls)
	f.mu.Unlock()
	redelivered := &queueMsg{data: entry, delivered: 2}
	env.eng.handleSubmit(env.ctx, redelivered)
	f.mu.Lock()
	after := len(f.calls)
	f.mu.Unlock()
	if after != before {
		t.Fatalf("a redelivered entry of a final message was submitted again (%d submits, was %d)", after, before)
	}
	if redelivered.acked.Load() != 1 || redelivered.naked.Load() != 0 {
		t.Fatalf("redelivery acked %d, naked %d; want acked once", redelivered.acked.Load(), redelivered.naked.Load())
	}

	// A redelivery of an entry never recorded (its first attempts waited
	// for a bind) is submitted from the entry's record.
	m2 := &Message{ID: events.NewMessageID(), Account: e2eAccount, To: "+447700900124", From: "ACME", Text: "hi",
		Encoding: "gsm7", Parts: 1, Status: StatusAccepted, CreatedAt: at}
	record2, _ := m2.MarshalRecord()
	second := &queueMsg{data: appendSubmitRequest(nil, m2.ID, m2.Account, record2, 0), delivered: 3}
	env.eng.handleSubmit(env.ctx, second)
	if second.acked.Load() != 1 {
		t.Fatalf("never-recorded redelivery: acked %d, naked %d", second.acked.Load(), second.naked.Load())
	}
	if rec := env.record(m2.ID, func(m *Message) bool { return m.Status == StatusSent }); rec.SubmitAttempts != 1 {
		t.Fatalf("record %+v", rec)
	}
}
