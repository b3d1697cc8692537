package smpp

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/fiorix/go-smpp/smpp/pdu"
	"github.com/fiorix/go-smpp/smpp/pdu/pdufield"
)

// fakeSMSC is a small, scriptable SMSC over real TCP for the session's
// edge cases (the simulator package covers the realistic behaviour). Every
// connection goroutine is tracked and Close waits for them.
type fakeSMSC struct {
	t  *testing.T
	ln net.Listener

	// submit decides the answer to a submit_sm: answer=false leaves it
	// unanswered. nil answers ESME_ROK with a counter id.
	submit func(n int, b pdu.Body) (st pdu.Status, id string, answer bool)
	// answerEnquire=false stops answering enquire_link.
	answerEnquire atomic.Bool
	password      string

	mu        sync.Mutex
	conns     map[*fakeConn]bool
	binds     []pdu.ID
	submits   []pdu.Body
	unbinds   int
	enquires  int
	delivResp chan pdu.Body // deliver_sm_resp received
	bindCh    chan pdu.ID   // a bind succeeded

	wg sync.WaitGroup
}

type fakeConn struct {
	nc    net.Conn
	wmu   sync.Mutex
	bound pdu.ID
	seq   atomic.Uint32
}

func (c *fakeConn) write(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err := c.nc.Write(b)
	return err
}

func newFakeSMSC(t *testing.T, tlsCfg *tls.Config) *fakeSMSC {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
	}
	f := &fakeSMSC{
		t: t, ln: ln, password: "secret",
		conns:     map[*fakeConn]bool{},
		delivResp: make(chan pdu.Body, 100),
		bindCh:    make(chan pdu.ID, 100),
	}
	f.answerEnquire.Store(true)
	f.wg.Add(1)
	go f.accept()
	t.Cleanup(f.Close)
	return f
}

func (f *fakeSMSC) Addr() string { return f.ln.Addr().String() }

func (f *fakeSMSC) Close() {
	_ = f.ln.Close()
	f.DropAll()
	f.wg.Wait()
}

// DropAll closes every connection.
func (f *fakeSMSC) DropAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.conns {
		_ = c.nc.Close()
	}
}

func (f *fakeSMSC) accept() {
	defer f.wg.Done()
	for {
		nc, err := f.ln.Accept()
		if err != nil {
			return
		}
		c := &fakeConn{nc: nc}
		f.mu.Lock()
		f.conns[c] = true
		f.mu.Unlock()
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			f.serve(c)
			_ = nc.Close()
			f.mu.Lock()
			delete(f.conns, c)
			f.mu.Unlock()
		}()
	}
}

func (f *fakeSMSC) serve(c *fakeConn) {
	br := bufio.NewReader(c.nc)
	for {
		var hdr [16]byte
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return
		}
		n := binary.BigEndian.Uint32(hdr[:4])
		if n < 16 || n > 4096 {
			return
		}
		frame := make([]byte, n)
		copy(frame, hdr[:])
		if _, err := io.ReadFull(br, frame[16:]); err != nil {
			return
		}
		p, err := pdu.Decode(bytes.NewReader(frame))
		if err != nil {
			f.t.Errorf("fake smsc: decode %x: %v", frame, err)
			return
		}
		h := p.Header()
		switch h.ID {
		case pdu.BindTransceiverID, pdu.BindTransmitterID, pdu.BindReceiverID:
			st := StatusOK
			if p.Fields()[pdufield.Password].String() != f.password {
				st = StatusInvPaswd
			}
			out := appendHeader(nil, h.ID|0x80000000, st, h.Seq)
			out = appendCString(out, "fake")
			_ = c.write(finishPDU(out, 0))
			if st == StatusOK {
				f.mu.Lock()
				c.bound = h.ID
				f.binds = append(f.binds, h.ID)
				f.mu.Unlock()
				f.bindCh <- h.ID
			}
		case pdu.SubmitSMID:
			f.mu.Lock()
			f.submits = append(f.submits, p)
			n := len(f.submits)
			fn := f.submit
			f.mu.Unlock()
			st, id, answer := StatusOK, fmt.Sprintf("%x", n), true
			if fn != nil {
				st, id, answer = fn(n, p)
			}
			if answer {
				out := appendHeader(nil, pdu.SubmitSMRespID, st, h.Seq)
				if st == StatusOK {
					out = appendCString(out, id)
				}
				_ = c.write(finishPDU(out, 0))
			}
		case pdu.EnquireLinkID:
			f.mu.Lock()
			f.enquires++
			f.mu.Unlock()
			if f.answerEnquire.Load() {
				_ = c.write(appendEmptyPDU(nil, pdu.EnquireLinkRespID, 0, h.Seq))
			}
		case pdu.UnbindID:
			f.mu.Lock()
			f.unbinds++
			f.mu.Unlock()
			_ = c.write(appendEmptyPDU(nil, pdu.UnbindRespID, 0, h.Seq))
			return
		case pdu.DeliverSMRespID:
			f.delivResp <- p
		case pdu.UnbindRespID, pdu.GenericNACKID, pdu.EnquireLinkRespID:
		default:
			_ = c.write(appendEmptyPDU(nil, pdu.GenericNACKID, StatusInvCmdID, h.Seq))
		}
	}
}

// receiverConn returns a bound connection that may receive deliver_sm.
func (f *fakeSMSC) receiverConn() *fakeConn {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.conns {
		if c.bound == pdu.BindTransceiverID || c.bound == pdu.BindReceiverID {
			return c
		}
	}
	return nil
}

// Deliver sends an MO deliver_sm with the given text on a receiving bind
// and returns its sequence number.
func (f *fakeSMSC) Deliver(from, to, text string) uint32 {
	f.t.Helper()
	c := f.receiverConn()
	if c == nil {
		f.t.Fatal("fake smsc: no receiving bind")
	}
	seq := 1000 + c.seq.Add(1)
	b := appendHeader(nil, pdu.DeliverSMID, 0, seq)
	b = append(b, 0, 1, 1)
	b = appendCString(b, from)
	b = append(b, 1, 1)
	b = appendCString(b, to)
	b = append(b, 0, 0, 0, 0, 0, 0, 0, 0, 0, byte(len(text)))
	b = append(b, text...)
	if err := c.write(finishPDU(b, 0)); err != nil {
		f.t.Fatalf("fake smsc: deliver: %v", err)
	}
	return seq
}

// SendUnbind asks every bound connection to unbind.
func (f *fakeSMSC) SendUnbind() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.conns {
		_ = c.write(appendEmptyPDU(nil, pdu.UnbindID, 0, 9999))
	}
}

func (f *fakeSMSC) counts() (binds, submits, unbinds, enquires int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.binds), len(f.submits), f.unbinds, f.enquires
}

func (f *fakeSMSC) submitted() []pdu.Body {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]pdu.Body(nil), f.submits...)
}

func (f *fakeSMSC) setSubmit(fn func(n int, b pdu.Body) (pdu.Status, string, bool)) {
	f.mu.Lock()
	f.submit = fn
	f.mu.Unlock()
}
