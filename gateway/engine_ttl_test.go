package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/smsgw/smsgw/config"
	"github.com/smsgw/smsgw/events"
	"github.com/smsgw/smsgw/smpp"
)

// engTTLStart is engStart with a 1-second final-record TTL.
func engTTLStart(t *testing.T, f *engFake) *engTestEnv {
	t.Helper()
	return engStart(t, []*engFake{f}, func(c *config.Config) { c.Messages.FinalRecordTTL = time.Second }, nil)
}

// apiView is the GET /v1/messages/{id} body of a record.
func apiView(t *testing.T, m *Message) []byte {
	t.Helper()
	b, err := json.Marshal(m.ResourceWithEvents())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// expiredAndArchived waits until the record of id has left sms_messages,
// then checks that the store answers the archived copy, identical to what
// it answered from KV (hot).
func (env *engTestEnv) expiredAndArchived(id string, hot *Message) *Message {
	env.t.Helper()
	e2eEventually(env.t, 10*time.Second, "record of "+id+" expired from "+BucketMessages, func() bool {
		_, err := env.store.Messages().Get(env.ctx, id)
		return errors.Is(err, jetstream.ErrKeyNotFound)
	})
	cold, rev, err := env.store.Message(env.ctx, id)
	if err != nil {
		env.t.Fatalf("GET after expiry: %v", err)
	}
	if rev != 0 {
		env.t.Errorf("archived record revision %d, want 0", rev)
	}
	if h, c := apiView(env.t, hot), apiView(env.t, cold); !bytes.Equal(h, c) {
		env.t.Errorf("GET answers differ:\nhot  %s\ncold %s", h, c)
	}
	hb, _ := hot.MarshalRecord()
	cb, _ := cold.MarshalRecord()
	if !bytes.Equal(hb, cb) {
		env.t.Errorf("records differ:\nhot  %s\ncold %s", hb, cb)
	}
	return cold
}

// TestFinalRecordExpiresAndArchives: a delivered message's record leaves
// sms_messages after messages.final_record_ttl and GET answers the same
// from SMS_RECORDS; its SMSC id expires too; a duplicate receipt after
// that is acknowledged as a duplicate, not kept in SMS_UNMATCHED.
func TestFinalRecordExpiresAndArchives(t *testing.T) {
	f := &engFake{name: "a"}
	f.bound.Store(true)
	env := engTTLStart(t, f)
	id := env.accept("+447700900123", "")
	env.sent(id)
	rid := fmt.Sprintf("%x", 0xabc001) // engFake's id of the first submit
	receipt := smpp.Inbound{IsReceipt: true, Receipt: smpp.Receipt{ID: rid, Stat: "DELIVRD", Err: "000", Final: true, Delivered: true}}
	if st := f.deliver(receipt); st != smpp.StatusOK {
		t.Fatalf("deliver status %v", st)
	}
	if fin := env.final(id); fin.Type != events.MessageDelivered {
		t.Fatalf("final %s", fin.Type)
	}
	hot := env.record(id, func(m *Message) bool { return m.Final() })
	env.expiredAndArchived(id, hot)

	idKey := engIDKey("a", smpp.IDKey(rid, smpp.IDAuto))
	e2eEventually(t, 10*time.Second, "smsc id expired from "+BucketSMSCIDs, func() bool {
		_, err := env.eng.kvIDs.Get(env.ctx, idKey)
		return errors.Is(err, jetstream.ErrKeyNotFound)
	})

	// The engine still knows the id (its cache): the receipt is matched
	// to the message, whose record is only in the archive now.
	if st := f.deliver(receipt); st != smpp.StatusOK {
		t.Fatalf("deliver status %v", st)
	}
	in, _ := env.b.JS.Stream(env.ctx, InboundStream)
	e2eEventually(t, 5*time.Second, "inbound queue empty", func() bool {
		info, err := in.Info(env.ctx)
		return err == nil && info.State.Msgs == 0
	})
	un, _ := env.b.JS.Stream(env.ctx, UnmatchedStream)
	if info, err := un.Info(env.ctx); err != nil || info.State.Msgs != 0 {
		t.Errorf("%s holds %d receipts (err %v), want none", UnmatchedStream, info.State.Msgs, err)
	}
	time.Sleep(200 * time.Millisecond)
	if n := e2eFinals(env.ev.snapshot())[id]; n != 1 {
		t.Errorf("%d final events", n)
	}
	if _, err := env.store.Messages().Get(env.ctx, id); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Errorf("the duplicate brought the record back: %v", err)
	}
}

// TestFailedRecordExpiresAndArchives: the failed path archives too.
func TestFailedRecordExpiresAndArchives(t *testing.T) {
	f := &engFake{name: "a", submit: func(int, smpp.Message) (smpp.Result, error) {
		return smpp.Result{}, &smpp.SubmitError{Status: smpp.StatusInvDstAdr, Part: 1, Err: smpp.StatusInvDstAdr}
	}}
	f.bound.Store(true)
	env := engTTLStart(t, f)
	id := env.accept("+447700900123", "")
	if fin := env.final(id); fin.Type != events.MessageFailed {
		t.Fatalf("final %s", fin.Type)
	}
	hot := env.record(id, func(m *Message) bool { return m.Final() })
	cold := env.expiredAndArchived(id, hot)
	if cold.Status != StatusFailed || len(cold.Events) != 1 {
		t.Errorf("archived %+v", cold)
	}
	// Not found stays not found.
	if _, _, err := env.store.Message(env.ctx, events.NewMessageID()); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown id: %v", err)
	}
}

// TestArchiveLookupWalk: the lookup walks its subject in batches from the
// id's creation time, skips other ids, stops at the end of the stream, and
// gives up (not found) after maxScan records.
func TestArchiveLookupWalk(t *testing.T) {
	env := engStart(t, nil, nil, nil)
	nc := env.b.NC
	id := events.NewMessageID()
	created, ok := recordCreated(id)
	if !ok {
		t.Fatalf("no time in %s", id)
	}
	subj := recordSubject(e2eAccount, id, created)
	put := func(mid string) {
		t.Helper()
		body, _ := (&Message{ID: mid, Account: e2eAccount, Status: StatusDelivered, CreatedAt: created}).MarshalRecord()
		h := nats.Header{}
		h.Set(recordIDHeader, mid)
		if _, err := env.b.JS.PublishMsg(env.ctx, &nats.Msg{Subject: subj, Data: body, Header: h}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := archiveLookup(env.ctx, nc, id, 1000); !errors.Is(err, ErrNotFound) {
		t.Fatalf("empty archive: %v", err)
	}
	const others = 2*recordBatch + 50 // more than one batch before it
	for i := range others {
		put(fmt.Sprintf("msg_other%d", i))
	}
	if _, err := archiveLookup(env.ctx, nc, id, 10*others); !errors.Is(err, ErrNotFound) || errors.Is(err, errArchiveScanLimited) {
		t.Fatalf("walk to the end: %v", err)
	}
	put(id)
	put("msg_after")
	m, err := archiveLookup(env.ctx, nc, id, 10*others)
	if err != nil || m.ID != id {
		t.Fatalf("lookup: %+v, %v", m, err)
	}
	if _, err := archiveLookup(env.ctx, nc, id, recordBatch); !errors.Is(err, ErrNotFound) || !errors.Is(err, errArchiveScanLimited) {
		t.Fatalf("bounded walk: %v", err)
	}
	for _, bad := range []string{"msg_nope", "x", "msg_" + "7ZZZZZZZZZZZZZZZZZZZZZZZZZ"} {
		if _, err := archiveLookup(env.ctx, nc, bad, 1000); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: %v", bad, err)
		}
	}
	// The API's store reopens the buckets whose TTLs the engine enabled.
	if _, err := OpenStore(env.ctx, StoreConfig{Bus: env.b}); err != nil {
		t.Fatalf("reopen store: %v", err)
	}
	s, err := env.b.JS.Stream(env.ctx, "KV_"+BucketMessages)
	if err != nil || !s.CachedInfo().Config.AllowMsgTTL {
		t.Fatalf("KV_%s allows per-message TTLs: %v", BucketMessages, err)
	}
}

// TestArchivedFinalSkipsYoungMessages: a message created less than the
// final-record TTL ago cannot have left sms_messages, so no lookup is made
// (the usual receipt that overtakes its record costs nothing).
func TestArchivedFinalSkipsYoungMessages(t *testing.T) {
	env := engStart(t, nil, func(c *config.Config) { c.Messages.FinalRecordTTL = time.Minute }, nil)
	id := events.NewMessageID()
	created, _ := recordCreated(id)
	body, _ := (&Message{ID: id, Account: e2eAccount, Status: StatusDelivered, CreatedAt: created}).MarshalRecord()
	h := nats.Header{}
	h.Set(recordIDHeader, id)
	if _, err := env.b.JS.PublishMsg(env.ctx, &nats.Msg{Subject: recordSubject(e2eAccount, id, created), Data: body, Header: h}); err != nil {
		t.Fatal(err)
	}
	if final, err := env.eng.archivedFinal(env.ctx, id); err != nil || final {
		t.Fatalf("young message: final %v, %v; want false without a lookup", final, err)
	}
	env.eng.now = func() time.Time { return time.Now().Add(time.Minute) }
	if final, err := env.eng.archivedFinal(env.ctx, id); err != nil || !final {
		t.Fatalf("a minute later: final %v, %v; want true", final, err)
	}
}
