package simulator

import (
	"strconv"
	"testing"
	"time"

	"github.com/fiorix/go-smpp/smpp/pdu"
	"github.com/fiorix/go-smpp/smpp/pdu/pdufield"
	"github.com/fiorix/go-smpp/smpp/pdu/pdutext"
)

func TestFaultReceiptBeforeResp(t *testing.T) {
	s := startSim(t, Config{Faults: Faults{ReceiptBeforeResp: true}})
	c := dialRaw(t, s)
	c.mustBind(t, pdu.NewBindTransceiver())
	p := submitPDU("+447700900123", "x")
	c.write(t, p)
	first, second := c.read(t), c.read(t)
	if first.Header().ID != pdu.DeliverSMID || second.Header().ID != pdu.SubmitSMRespID {
		t.Fatalf("order %s, %s; want deliver_sm first", first.Header().ID, second.Header().ID)
	}
	if id := second.Fields()[pdufield.MessageID].String(); tlvID(first) != id {
		t.Fatalf("receipt for %q, resp id %q", tlvID(first), id)
	}
}

func TestFaultDuplicateReceipts(t *testing.T) {
	s := startSim(t, Config{Faults: Faults{DuplicateReceipts: true}})
	c := bindTRX(t, s, "smsgw", "secret")
	id := c.submit(t, "+447700900123", pdutext.Raw("x"), pdufield.FinalDeliveryReceipt)
	a, b := parseReceipt(t, c.next(t)), parseReceipt(t, c.next(t))
	if a.tlvID != id || b.tlvID != id || a.text != b.text {
		t.Fatalf("receipts %q and %q for %q", a.text, b.text, id)
	}
	if st, err := s.WaitStats(ctxT(t), func(st Stats) bool { return st.ReceiptsAcked == 2 }); err != nil || st.ReceiptsRetried != 0 {
		t.Fatalf("%v %+v", err, st)
	}
}

func TestFaultUnsolicitedReceipts(t *testing.T) {
	s := startSim(t, Config{Faults: Faults{UnsolicitedEvery: 2}})
	c := bindTRX(t, s, "smsgw", "secret")
	given := map[string]bool{}
	for range 4 {
		given[c.submit(t, "+447700900123", pdutext.Raw("x"), pdufield.FinalDeliveryReceipt)] = true
	}
	unknown := 0
	for range 6 {
		r := parseReceipt(t, c.next(t))
		if !given[r.tlvID] {
			unknown++
			if _, err := strconv.ParseUint(r.tlvID, 16, 64); err != nil {
				t.Errorf("unsolicited id %q is not hex", r.tlvID)
			}
		}
	}
	if unknown != 2 {
		t.Fatalf("%d receipts for unknown ids, want 2", unknown)
	}
}

func TestFaultDropAfterPDUs(t *testing.T) {
	s := startSim(t, Config{Faults: Faults{DropAfterPDUs: 3}})
	c := dialRaw(t, s)
	c.mustBind(t, pdu.NewBindTransmitter()) // PDU 1
	p := submitPDU("+447700900123", "x")
	p.Fields().Set(pdufield.RegisteredDelivery, 0)
	c.submitOK(t, "+447700900124") // PDU 2
	c.write(t, p)                  // PDU 3: read, never answered, connection closed
	c.closed(t)
	if n := len(s.Messages()); n != 1 {
		t.Fatalf("%d messages accepted, want 1", n)
	}
	// Each connection counts its own PDUs.
	c2 := dialRaw(t, s)
	c2.mustBind(t, pdu.NewBindTransmitter())
	c2.submitOK(t, "+447700900125")
}

func TestFaultDropProbability(t *testing.T) {
	s := startSim(t, Config{})
	c := dialRaw(t, s)
	c.mustBind(t, pdu.NewBindTransceiver())
	s.SetFaults(Faults{DropProbability: 1})
	c.write(t, pdu.NewEnquireLink())
	c.closed(t)
	if got := s.Faults().DropProbability; got != 1 {
		t.Fatalf("Faults() = %v", got)
	}
}

func TestFaultResponseDelay(t *testing.T) {
	const delay = 120 * time.Millisecond
	s := startSim(t, Config{Faults: Faults{ResponseDelay: delay}})
	c := dialRaw(t, s)
	start := time.Now()
	c.mustBind(t, pdu.NewBindTransceiver())
	if el := time.Since(start); el < delay {
		t.Fatalf("bind_resp after %v", el)
	}
	start = time.Now()
	p := submitPDU("+447700900123", "x")
	c.write(t, p)
	resp := c.read(t)
	if el := time.Since(start); el < delay || resp.Header().ID != pdu.SubmitSMRespID {
		t.Fatalf("%s after %v, want submit_sm_resp after %v", resp.Header().ID, el, delay)
	}
	// The receipt does not overtake its delayed response.
	if r := c.read(t); r.Header().ID != pdu.DeliverSMID {
		t.Fatalf("got %s", r.Header().ID)
	}
	start = time.Now()
	c.write(t, pdu.NewEnquireLink())
	if r := c.read(t); r.Header().ID != pdu.EnquireLinkRespID || time.Since(start) < delay {
		t.Fatalf("enquire_link_resp after %v", time.Since(start))
	}
}

func TestFaultNeverAnswerSubmit(t *testing.T) {
	s := startSim(t, Config{})
	c := dialRaw(t, s)
	c.mustBind(t, pdu.NewBindTransceiver())
	s.SetFaults(Faults{NeverAnswerSubmit: true})
	c.write(t, submitPDU("+447700900123", "lost"))
	c.readNone(t, 100*time.Millisecond)
	msgs, err := s.WaitMessages(ctxT(t), 1)
	if err != nil || msgs[0].ID != "" || msgs[0].Text != "lost" {
		t.Fatalf("%v %+v", err, msgs)
	}
	// Other requests are still answered, and the fault can be lifted.
	c.write(t, pdu.NewEnquireLink())
	if p := c.read(t); p.Header().ID != pdu.EnquireLinkRespID {
		t.Fatalf("got %s", p.Header().ID)
	}
	s.SetFaults(Faults{})
	c.submitOK(t, "+447700900123")
}

func TestFaultGenericNack(t *testing.T) {
	s := startSim(t, Config{Faults: Faults{GenericNack: true}})
	c := dialRaw(t, s)
	c.mustBind(t, pdu.NewBindTransceiver())
	p := submitPDU("+447700900123", "x")
	c.write(t, p)
	r := c.read(t)
	if r.Header().ID != pdu.GenericNACKID || r.Header().Seq != p.Header().Seq || r.Header().Status == 0 {
		t.Fatalf("got %s seq %d status %#x", r.Header().ID, r.Header().Seq, uint32(r.Header().Status))
	}
	if len(s.Messages()) != 0 {
		t.Fatal("nacked submit_sm recorded")
	}
	c.readNone(t, 50*time.Millisecond) // and no receipt
}

func TestDropConnections(t *testing.T) {
	s := startSim(t, Config{})
	a, b := dialRaw(t, s), dialRaw(t, s)
	a.mustBind(t, pdu.NewBindTransceiver())
	b.mustBind(t, pdu.NewBindReceiver())
	s.DropConnections()
	a.closed(t)
	b.closed(t)
	if _, err := s.WaitStats(ctxT(t), func(st Stats) bool { return st.Binds == 0 }); err != nil {
		t.Fatal(err)
	}
	dialRaw(t, s).mustBind(t, pdu.NewBindTransceiver())
	if st := s.Stats(); st.Binds != 1 || st.BindsTotal != 3 {
		t.Fatalf("stats %+v", st)
	}
}

// TestFaultsToggledUnderLoad flips faults while a fiorix client submits.
func TestFaultsToggledUnderLoad(t *testing.T) {
	s := startSim(t, Config{ReceiptRetry: 5 * time.Millisecond})
	c := bindTRX(t, s, "smsgw", "secret")
	faults := []Faults{{}, {DuplicateReceipts: true}, {SwapIDFormat: true}, {ReceiptBeforeResp: true}, {}}
	for i, f := range faults {
		s.SetFaults(f)
		for j := range 10 {
			if _, err := c.Submit(shortMessage("+4477009"+strconv.Itoa(10000+10*i+j), pdutext.Raw("load"))); err != nil {
				t.Fatalf("fault set %d: %v", i, err)
			}
		}
	}
	if _, err := s.WaitStats(ctxT(t), func(st Stats) bool { return st.ReceiptsAcked == 60 }); err != nil {
		t.Fatalf("%v %+v", err, s.Stats())
	}
}
