package simulator

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/fiorix/go-smpp/smpp/pdu"
	"github.com/fiorix/go-smpp/smpp/pdu/pdutext"
)

func TestBindCredentials(t *testing.T) {
	s := startSim(t, Config{Credentials: []Credential{{"smsgw", "secret"}, {"other", "pw2"}}})
	binds := map[string]func() pdu.Body{
		"transmitter": pdu.NewBindTransmitter,
		"receiver":    pdu.NewBindReceiver,
		"transceiver": pdu.NewBindTransceiver,
	}
	cases := []struct {
		name, user, pass string
		want             pdu.Status
	}{
		{"ok", "smsgw", "secret", statusOK},
		{"second credential", "other", "pw2", statusOK},
		{"wrong password", "smsgw", "nope", statusInvPaswd},
		{"password of another system_id", "smsgw", "pw2", statusInvPaswd},
		{"unknown system_id", "nobody", "secret", statusInvSysID},
		{"empty system_id", "", "", statusInvSysID},
	}
	for mode, newBind := range binds {
		for _, tc := range cases {
			t.Run(mode+"/"+tc.name, func(t *testing.T) {
				c := dialRaw(t, s)
				if got := c.bind(t, newBind(), tc.user, tc.pass); got != tc.want {
					t.Fatalf("status %#x, want %#x", uint32(got), uint32(tc.want))
				}
			})
		}
	}
}

func TestBindTwiceOnOneConnection(t *testing.T) {
	s := startSim(t, Config{})
	c := dialRaw(t, s)
	c.mustBind(t, pdu.NewBindTransceiver())
	if st := c.bind(t, pdu.NewBindTransmitter(), "smsgw", "secret"); st != statusAlyBnd {
		t.Fatalf("second bind: status %#x, want ESME_RALYBND", uint32(st))
	}
}

func TestBindLimit(t *testing.T) {
	s := startSim(t, Config{BindLimit: 2})
	for i := range 2 {
		c := dialRaw(t, s)
		if st := c.bind(t, pdu.NewBindTransceiver(), "smsgw", "secret"); st != 0 {
			t.Fatalf("bind %d: status %#x", i, uint32(st))
		}
	}
	c := dialRaw(t, s)
	if st := c.bind(t, pdu.NewBindTransceiver(), "smsgw", "secret"); st != statusAlyBnd {
		t.Fatalf("third bind: status %#x, want ESME_RALYBND", uint32(st))
	}
	if got := s.Stats().Binds; got != 2 {
		t.Fatalf("binds = %d, want 2", got)
	}
}

func TestBindLimitFreedByUnbind(t *testing.T) {
	s := startSim(t, Config{BindLimit: 1})
	c := dialRaw(t, s)
	c.mustBind(t, pdu.NewBindTransceiver())
	c.write(t, pdu.NewUnbind())
	if p := c.read(t); p.Header().ID != pdu.UnbindRespID {
		t.Fatalf("got %s, want unbind_resp", p.Header().ID)
	}
	c.closed(t)
	if _, err := s.WaitStats(ctxT(t), func(st Stats) bool { return st.Binds == 0 }); err != nil {
		t.Fatal(err)
	}
	dialRaw(t, s).mustBind(t, pdu.NewBindTransceiver())
}

func TestConcurrentBinds(t *testing.T) {
	s := startSim(t, Config{Credentials: []Credential{{"a", "pa"}, {"b", "pb"}}})
	const perUser, msgs = 3, 10
	var wg sync.WaitGroup
	errs := make(chan error, 2*perUser)
	for _, u := range []Credential{{"a", "pa"}, {"b", "pb"}} {
		for i := range perUser {
			c := bindTRX(t, s, u.SystemID, u.Password)
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range msgs {
					sm := &smppShortMessage{dst: fmt.Sprintf("+4477009%02d%03d", i, j), text: "hi"}
					if err := sm.send(c); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	st, err := s.WaitStats(ctxT(t), func(st Stats) bool { return st.ReceiptsAcked == 2*perUser*msgs })
	if err != nil {
		t.Fatalf("%v (stats %+v)", err, s.Stats())
	}
	if st.Binds != 2*perUser || st.SubmitSM != 2*perUser*msgs {
		t.Fatalf("stats %+v", st)
	}
	// Receipts go only to binds of the system_id that submitted.
	bySys := map[string]int{}
	for _, m := range s.Messages() {
		bySys[m.SystemID]++
	}
	if bySys["a"] != perUser*msgs || bySys["b"] != perUser*msgs {
		t.Fatalf("messages by system_id %v", bySys)
	}
}

type smppShortMessage struct{ dst, text string }

func (m *smppShortMessage) send(c *trx) error {
	_, err := c.Submit(shortMessage(m.dst, pdutext.Raw(m.text)))
	return err
}

func TestRefuseBindsUntil(t *testing.T) {
	s := startSim(t, Config{Faults: Faults{RefuseBindsUntil: time.Now().Add(time.Hour)}})
	c := dialRaw(t, s)
	if st := c.bind(t, pdu.NewBindTransceiver(), "smsgw", "secret"); st != statusBindFail {
		t.Fatalf("status %#x, want ESME_RBINDFAIL", uint32(st))
	}
	s.SetFaults(Faults{RefuseBindsUntil: time.Now().Add(-time.Second)})
	if st := c.bind(t, pdu.NewBindTransceiver(), "smsgw", "secret"); st != 0 {
		t.Fatalf("after the refusal period: status %#x", uint32(st))
	}
}

func TestEnquireLinkAndUnbind(t *testing.T) {
	s := startSim(t, Config{})
	c := dialRaw(t, s)
	// enquire_link is answered before and after bind.
	for _, bind := range []bool{false, true} {
		if bind {
			c.mustBind(t, pdu.NewBindTransceiver())
		}
		el := pdu.NewEnquireLink()
		c.write(t, el)
		p := c.read(t)
		if p.Header().ID != pdu.EnquireLinkRespID || p.Header().Seq != el.Header().Seq || p.Header().Status != 0 {
			t.Fatalf("got %s seq %d status %#x", p.Header().ID, p.Header().Seq, uint32(p.Header().Status))
		}
	}
	u := pdu.NewUnbind()
	c.write(t, u)
	if p := c.read(t); p.Header().ID != pdu.UnbindRespID || p.Header().Seq != u.Header().Seq {
		t.Fatalf("got %s", p.Header().ID)
	}
	c.closed(t)
}

func TestSubmitNeedsTransmitterBind(t *testing.T) {
	s := startSim(t, Config{})
	for _, bind := range []func() pdu.Body{nil, pdu.NewBindReceiver} {
		c := dialRaw(t, s)
		if bind != nil {
			c.mustBind(t, bind())
		}
		c.write(t, submitPDU("+447700900123", "x"))
		p := c.read(t)
		if p.Header().ID != pdu.SubmitSMRespID || p.Header().Status != statusInvBndSts {
			t.Fatalf("got %s status %#x, want submit_sm_resp ESME_RINVBNDSTS", p.Header().ID, uint32(p.Header().Status))
		}
	}
}

// rawPDU builds PDU bytes by hand.
func rawPDU(id uint32, seq uint32, body []byte) []byte {
	b := make([]byte, 16, 16+len(body))
	binary.BigEndian.PutUint32(b[0:], uint32(16+len(body)))
	binary.BigEndian.PutUint32(b[4:], id)
	binary.BigEndian.PutUint32(b[12:], seq)
	return append(b, body...)
}

func TestGenericNackForUnknownAndMalformed(t *testing.T) {
	s := startSim(t, Config{})
	bindBody := []byte("smsgw\x00secret\x00\x00\x34\x00\x00\x00")
	cases := []struct {
		name      string
		pdu       []byte
		wantID    pdu.ID
		wantSt    pdu.Status
		wantClose bool
	}{
		{"unknown command_id", rawPDU(0x00000077, 7, nil), pdu.GenericNACKID, statusInvCmdID, false},
		{"unknown response id", rawPDU(0x80000077, 7, nil), pdu.GenericNACKID, statusInvCmdID, false},
		{"unsupported query_sm", rawPDU(uint32(pdu.QuerySMID), 7, []byte("1\x00\x00\x00\x00")), pdu.GenericNACKID, statusInvCmdID, false},
		{"unsupported data_sm", rawPDU(uint32(pdu.DataSMID), 7, nil), pdu.GenericNACKID, statusInvCmdID, false},
		{"truncated submit_sm", rawPDU(uint32(pdu.SubmitSMID), 7, []byte("\x00\x05\x00ACME\x00\x01\x01")), pdu.GenericNACKID, statusInvCmdLen, false},
		{"sm_length past the end", rawPDU(uint32(pdu.SubmitSMID), 7, []byte("\x00\x05\x00ACME\x00\x01\x0144\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x50hi")), pdu.GenericNACKID, statusInvCmdLen, false},
		{"TLV longer than the body", rawPDU(uint32(pdu.SubmitSMID), 7, []byte("\x00\x05\x00ACME\x00\x01\x0144\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x02hi\x04\x24\x00\x09ab")), pdu.GenericNACKID, statusInvCmdLen, false},
		{"bad UDH", rawPDU(uint32(pdu.SubmitSMID), 7, []byte("\x00\x05\x00ACME\x00\x01\x0144\x00\x40\x00\x00\x00\x00\x01\x00\x00\x00\x03\x09ab")), pdu.SubmitSMRespID, statusInvEsmClass, false},
		{"no destination", rawPDU(uint32(pdu.SubmitSMID), 7, []byte("\x00\x05\x00ACME\x00\x01\x01\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x02hi")), pdu.SubmitSMRespID, statusInvDstAdr, false},
		{"short_message and message_payload", rawPDU(uint32(pdu.SubmitSMID), 7, []byte("\x00\x05\x00ACME\x00\x01\x0144\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x02hi\x04\x24\x00\x02ab")), pdu.SubmitSMRespID, statusOptParNAllwd, false},
		{"command_length too small", []byte{0, 0, 0, 8, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 7}, pdu.GenericNACKID, statusInvCmdLen, true},
		{"command_length too large", []byte{0, 1, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 7}, pdu.GenericNACKID, statusInvCmdLen, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			conn := rawTCP(t, s)
			conn.Write(rawPDU(uint32(pdu.BindTransceiverID), 1, bindBody))
			r := newTestReader(conn)
			if h, _ := r.next(t); h.id != pdu.BindTransceiverRespID || h.status != 0 {
				t.Fatalf("bind: %s %#x", h.id, uint32(h.status))
			}
			conn.Write(tc.pdu)
			h, _ := r.next(t)
			if h.id != tc.wantID || h.status != tc.wantSt || h.seq != 7 {
				t.Fatalf("got %s status %#x seq %d, want %s status %#x seq 7", h.id, uint32(h.status), h.seq, tc.wantID, uint32(tc.wantSt))
			}
			if tc.wantClose {
				if _, err := r.read(); !errors.Is(err, io.EOF) {
					t.Fatalf("connection not closed: %v", err)
				}
				return
			}
			// The connection still works.
			conn.Write(rawPDU(uint32(pdu.EnquireLinkID), 8, nil))
			if h, _ := r.next(t); h.id != pdu.EnquireLinkRespID || h.seq != 8 {
				t.Fatalf("after the bad PDU: %s seq %d", h.id, h.seq)
			}
		})
	}
	if st := s.Stats(); st.PDUs["unknown"] < 2 {
		t.Fatalf("unknown PDUs not counted: %v", st.PDUs)
	}
}

// testReader reads PDUs with the simulator's own framing.
type testReader struct {
	r   *bufioReader
	buf []byte
}

func newTestReader(conn io.Reader) *testReader {
	return &testReader{r: newBufioReader(conn), buf: make([]byte, maxPDU)}
}

func (r *testReader) read() (header, error) {
	h, _, err := readPDU(r.r, r.buf)
	return h, err
}

func (r *testReader) next(t testing.TB) (header, []byte) {
	t.Helper()
	h, raw, err := readPDU(r.r, r.buf)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return h, append([]byte(nil), raw...)
}
