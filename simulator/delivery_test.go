package simulator

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fiorix/go-smpp/smpp/pdu"
	"github.com/fiorix/go-smpp/smpp/pdu/pdufield"
	"github.com/fiorix/go-smpp/smpp/pdu/pdutext"
	"github.com/fiorix/go-smpp/smpp/pdu/pdutlv"
)

func tlvID(p pdu.Body) string {
	if v := p.TLVFields()[pdutlv.TagReceiptedMessageID]; v != nil {
		return strings.TrimRight(string(v.Bytes()), "\x00")
	}
	return ""
}

// submitRaw sends a submit_sm and returns the message id of its answer.
func (c *rawClient) submitOK(t *testing.T, dst string) string {
	t.Helper()
	p := submitPDU(dst, "hello")
	c.write(t, p)
	for {
		r := c.read(t)
		if r == nil {
			t.Fatal("closed")
		}
		if r.Header().ID == pdu.SubmitSMRespID && r.Header().Seq == p.Header().Seq {
			if r.Header().Status != 0 {
				t.Fatalf("submit_sm_resp status %#x", uint32(r.Header().Status))
			}
			return r.Fields()[pdufield.MessageID].String()
		}
		t.Fatalf("got %s while waiting for submit_sm_resp", r.Header().ID)
	}
}

func (c *rawClient) answer(t *testing.T, p pdu.Body, status pdu.Status) {
	t.Helper()
	r := pdu.NewDeliverSMRespSeq(p.Header().Seq)
	r.Header().Status = status
	c.write(t, r)
}

// TestReceiptRetryAfterTemporaryError is the acceptance case: the client
// answers the receipt ESME_RX_T_APPN (as the gateway does when it cannot
// store the event) and the simulator sends it again later.
func TestReceiptRetryAfterTemporaryError(t *testing.T) {
	s := startSim(t, Config{ReceiptRetry: 30 * time.Millisecond})
	c := dialRaw(t, s)
	c.mustBind(t, pdu.NewBindTransceiver())
	id := c.submitOK(t, "+447700900123")
	first := c.read(t)
	if first.Header().ID != pdu.DeliverSMID || tlvID(first) != id {
		t.Fatalf("got %s for %q", first.Header().ID, tlvID(first))
	}
	c.answer(t, first, 0x64) // ESME_RX_T_APPN
	start := time.Now()
	second := c.read(t)
	if second.Header().ID != pdu.DeliverSMID || tlvID(second) != id {
		t.Fatalf("retry: got %s for %q", second.Header().ID, tlvID(second))
	}
	if el := time.Since(start); el < 25*time.Millisecond {
		t.Fatalf("retried after %v, before ReceiptRetry", el)
	}
	if second.Header().Seq == first.Header().Seq {
		t.Fatal("retry reused the sequence number")
	}
	if a, b := first.Fields()[pdufield.ShortMessage].String(), second.Fields()[pdufield.ShortMessage].String(); a != b {
		t.Fatalf("retry changed the receipt: %q vs %q", a, b)
	}
	c.answer(t, second, 0)
	st, err := s.WaitStats(ctxT(t), func(st Stats) bool { return st.ReceiptsAcked == 1 })
	if err != nil || st.ReceiptsSent != 2 || st.ReceiptsRetried != 1 {
		t.Fatalf("%v: %+v", err, st)
	}
	c.readNone(t, 100*time.Millisecond)
}

func TestReceiptRetryAfterGenericNack(t *testing.T) {
	s := startSim(t, Config{ReceiptRetry: 10 * time.Millisecond})
	c := dialRaw(t, s)
	c.mustBind(t, pdu.NewBindTransceiver())
	id := c.submitOK(t, "+447700900123")
	first := c.read(t)
	nack := pdu.NewGenericNACK()
	nack.Header().Seq = first.Header().Seq
	nack.Header().Status = statusInvCmdID
	c.write(t, nack)
	if again := c.read(t); tlvID(again) != id {
		t.Fatalf("got %q", tlvID(again))
	}
}

func TestReceiptRetryAfterTimeout(t *testing.T) {
	s := startSim(t, Config{ReceiptRetry: 10 * time.Millisecond, ResponseTimeout: 50 * time.Millisecond})
	c := dialRaw(t, s)
	c.mustBind(t, pdu.NewBindTransceiver())
	id := c.submitOK(t, "+447700900123")
	first := c.read(t) // never answered
	start := time.Now()
	second := c.read(t)
	if tlvID(first) != id || tlvID(second) != id {
		t.Fatalf("ids %q %q, want %q", tlvID(first), tlvID(second), id)
	}
	if el := time.Since(start); el < 40*time.Millisecond {
		t.Fatalf("re-sent after %v, before ResponseTimeout", el)
	}
	// A late answer to the first attempt is ignored, not counted.
	c.answer(t, first, 0)
	c.answer(t, second, 0)
	st, err := s.WaitStats(ctxT(t), func(st Stats) bool { return st.ReceiptsAcked == 1 })
	if err != nil || st.ReceiptsRetried != 1 {
		t.Fatalf("%v: %+v", err, st)
	}
}

// TestReceiptsWaitForReceiver: receipts for a transmitter-only client wait
// until a receiver of that system_id binds.
func TestReceiptsWaitForReceiver(t *testing.T) {
	s := startSim(t, Config{Credentials: []Credential{{"smsgw", "secret"}, {"other", "pw"}}})
	tx := dialRaw(t, s)
	tx.mustBind(t, pdu.NewBindTransmitter())
	ids := map[string]bool{}
	for i := range 5 {
		ids[tx.submitOK(t, fmt.Sprintf("+44770090010%d", i))] = true
	}
	if st, err := s.WaitStats(ctxT(t), func(st Stats) bool { return st.Queued == 5 }); err != nil {
		t.Fatalf("%v: %+v", err, st)
	}
	tx.readNone(t, 50*time.Millisecond) // nothing on the transmitter
	// A receiver of another system_id gets none of them.
	other := dialRaw(t, s)
	if st := other.bind(t, pdu.NewBindReceiver(), "other", "pw"); st != 0 {
		t.Fatal(st)
	}
	rx := dialRaw(t, s)
	rx.mustBind(t, pdu.NewBindReceiver())
	for range 5 {
		p := rx.read(t)
		if !ids[tlvID(p)] {
			t.Fatalf("unexpected receipt %q", tlvID(p))
		}
		delete(ids, tlvID(p))
		rx.answer(t, p, 0)
	}
	other.readNone(t, 50*time.Millisecond)
	if st, err := s.WaitStats(ctxT(t), func(st Stats) bool { return st.ReceiptsAcked == 5 && st.Queued == 0 }); err != nil {
		t.Fatalf("%v: %+v", err, st)
	}
}

// TestUnansweredReceiptsSurviveDisconnect: receipts outstanding on a
// connection that drops are sent again on the next bind.
func TestUnansweredReceiptsSurviveDisconnect(t *testing.T) {
	s := startSim(t, Config{ReceiptRetry: 20 * time.Millisecond})
	c := dialRaw(t, s)
	c.mustBind(t, pdu.NewBindTransceiver())
	id := c.submitOK(t, "+447700900123")
	if p := c.read(t); tlvID(p) != id {
		t.Fatalf("got %q", tlvID(p))
	}
	s.DropConnections()
	c.closed(t)
	c2 := dialRaw(t, s)
	c2.mustBind(t, pdu.NewBindReceiver())
	p := c2.read(t)
	if tlvID(p) != id {
		t.Fatalf("after reconnect got %q, want %q", tlvID(p), id)
	}
	c2.answer(t, p, 0)
	if st, err := s.WaitStats(ctxT(t), func(st Stats) bool { return st.ReceiptsAcked == 1 }); err != nil || st.ReceiptsRetried != 1 {
		t.Fatalf("%v: %+v", err, st)
	}
}

// TestWindow: at most Window deliver_sm wait for an answer on one bind.
func TestWindow(t *testing.T) {
	s := startSim(t, Config{Window: 3})
	c := dialRaw(t, s)
	c.mustBind(t, pdu.NewBindTransceiver())
	for i := range 6 {
		p := submitPDU(fmt.Sprintf("+44770090010%d", i), "x")
		c.write(t, p)
	}
	var pending []pdu.Body
	resps := 0
	for resps < 6 || len(pending) < 3 {
		p := c.read(t)
		switch p.Header().ID {
		case pdu.SubmitSMRespID:
			resps++
		case pdu.DeliverSMID:
			pending = append(pending, p)
		}
	}
	c.readNone(t, 50*time.Millisecond) // the window is full
	if st := s.Stats(); st.Queued != 3 || st.ReceiptsSent != 3 {
		t.Fatalf("stats %+v", st)
	}
	c.answer(t, pending[0], 0)
	if p := c.read(t); p.Header().ID != pdu.DeliverSMID {
		t.Fatalf("got %s", p.Header().ID)
	}
	c.readNone(t, 50*time.Millisecond)
}

// TestThrottling: above TPS, submit_sm is answered ESME_RTHROTTLED.
func TestThrottling(t *testing.T) {
	s := startSim(t, Config{TPS: 5})
	c := dialRaw(t, s)
	c.mustBind(t, pdu.NewBindTransmitter())
	const n = 20
	for range n {
		p := submitPDU("+447700900123", "x")
		p.Fields().Set(pdufield.RegisteredDelivery, 0)
		c.write(t, p)
	}
	ok, throttled := 0, 0
	for range n {
		p := c.read(t)
		switch p.Header().Status {
		case 0:
			ok++
		case statusThrottled:
			throttled++
		default:
			t.Fatalf("status %#x", uint32(p.Header().Status))
		}
	}
	// The bucket holds one second's worth; the burst takes far less than
	// a second, so about 5 pass (6 if a token refilled meanwhile).
	if ok < 5 || ok > 7 || ok+throttled != n {
		t.Fatalf("%d accepted, %d throttled", ok, throttled)
	}
	if st := s.Stats(); st.Throttled != int64(throttled) || st.SubmitAccepted != int64(ok) || len(s.Messages()) != ok {
		t.Fatalf("stats %+v", st)
	}
}

func TestThrottlingWithFiorixClient(t *testing.T) {
	s := startSim(t, Config{TPS: 2})
	c := bindTRX(t, s, "smsgw", "secret")
	var errs []error
	for range 5 {
		if _, err := c.Submit(shortMessage("+447700900123", pdutext.Raw("x"))); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) < 2 || errs[0] != pdu.Status(statusThrottled) {
		t.Fatalf("errors %v, want ESME_RTHROTTLED", errs)
	}
}
