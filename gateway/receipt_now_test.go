package gateway

import (
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/smsgw/smsgw/events"
	"github.com/smsgw/smsgw/smpp"
)

// TestReceiptNow: a receipt for a part this instance submitted is recorded
// before its deliver_sm is answered (the final event is in SMS_EVENTS when
// the handler returns) and never goes through SMS_INBOUND; one whose id
// this instance does not know (submitted elsewhere: here, dropped from the
// cache) still goes through SMS_INBOUND and ends the same way.
func TestReceiptNow(t *testing.T) {
	cases := []struct {
		name    string
		forget  bool // drop the part's id from the engine's cache first
		atOnce  bool
		inbound uint64 // items stored in SMS_INBOUND
	}{
		{"known to this instance", false, true, 0},
		{"unknown to this instance", true, false, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := &engFake{name: "a"}
			f.bound.Store(true)
			env := engStart(t, []*engFake{f}, nil, nil)
			id := env.accept("+447700900123", "")
			env.sent(id)
			rec := env.record(id, func(m *Message) bool { return m.Status == StatusSent })
			rid := rec.PartIDs[0]
			if c.forget {
				env.eng.idCache.del(engIDKey("a", smpp.IDKey(rid, smpp.IDAuto)))
			}
			st := f.deliver(smpp.Inbound{IsReceipt: true, Receipt: smpp.Receipt{ID: rid, Stat: "DELIVRD", Err: "000", Final: true, Delivered: true}})
			if st != smpp.StatusOK {
				t.Fatalf("deliver status %v", st)
			}
			evs, err := env.b.JS.Stream(env.ctx, events.StreamName)
			if err != nil {
				t.Fatal(err)
			}
			_, err = evs.GetLastMsgForSubject(env.ctx, events.Subject(e2eAccount, events.MessageDelivered))
			if c.atOnce && err != nil {
				// (Through SMS_INBOUND it may or may not be stored yet.)
				t.Errorf("final event not stored when the deliver_sm was answered: %v", err)
			}
			in, err := env.b.JS.Stream(env.ctx, InboundStream)
			if err != nil {
				t.Fatal(err)
			}
			info, err := in.Info(env.ctx)
			if err != nil {
				t.Fatal(err)
			}
			if info.State.LastSeq != c.inbound {
				t.Errorf("%s received %d items, want %d", InboundStream, info.State.LastSeq, c.inbound)
			}
			fin := env.final(id)
			if fin.Type != events.MessageDelivered || fin.Data.Sequence != 2 {
				t.Errorf("final %s %+v", fin.Type, fin.Data)
			}
			time.Sleep(200 * time.Millisecond)
			if n := e2eFinals(env.ev.snapshot())[id]; n != 1 {
				t.Errorf("%d final events", n)
			}
			want := 0.0
			if c.atOnce {
				want = 1
			}
			var mv dto.Metric
			if err := env.eng.m.receiptsNow.Write(&mv); err != nil {
				t.Fatal(err)
			}
			if got := mv.GetCounter().GetValue(); got != want {
				t.Errorf("smsgw_receipts_at_once_total %v, want %v", got, want)
			}
		})
	}
}
