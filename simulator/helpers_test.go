package simulator

import (
	"bufio"
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fiorix/go-smpp/smpp"
	"github.com/fiorix/go-smpp/smpp/pdu"
	"github.com/fiorix/go-smpp/smpp/pdu/pdufield"
	"github.com/fiorix/go-smpp/smpp/pdu/pdutext"
	"github.com/fiorix/go-smpp/smpp/pdu/pdutlv"
)

// testTimeout bounds every wait in the tests; nothing sleeps for it.
const testTimeout = 10 * time.Second

func startSim(t testing.TB, cfg Config) *Server {
	t.Helper()
	s, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// coded is a pdutext.Codec with any data_coding, for submitting bytes the
// test encoded itself.
type coded struct {
	dc uint8
	b  []byte
}

func (c coded) Type() pdutext.DataCoding { return pdutext.DataCoding(c.dc) }
func (c coded) Encode() []byte           { return c.b }
func (c coded) Decode() []byte           { return c.b }

// trx is a fiorix Transceiver bound to the simulator that collects every
// deliver_sm it receives.
type trx struct {
	*smpp.Transceiver
	mu  sync.Mutex
	got []pdu.Body
	ch  chan pdu.Body
}

func bindTRX(t testing.TB, s *Server, user, pass string) *trx {
	t.Helper()
	c := &trx{ch: make(chan pdu.Body, 1024)}
	c.Transceiver = &smpp.Transceiver{
		Addr:        s.Addr(),
		User:        user,
		Passwd:      pass,
		RespTimeout: 5 * time.Second,
		Handler: func(p pdu.Body) {
			if p.Header().ID != pdu.DeliverSMID {
				return
			}
			c.mu.Lock()
			c.got = append(c.got, p)
			c.mu.Unlock()
			select {
			case c.ch <- p:
			default:
			}
		},
	}
	st := c.Bind()
	select {
	case ev := <-st:
		if ev.Status() != smpp.Connected {
			t.Fatalf("bind %s: %v %v", user, ev.Status(), ev.Error())
		}
	case <-time.After(testTimeout):
		t.Fatal("bind: timeout")
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// next returns the next deliver_sm.
func (c *trx) next(t testing.TB) pdu.Body {
	t.Helper()
	select {
	case p := <-c.ch:
		return p
	case <-time.After(testTimeout):
		t.Fatal("no deliver_sm within timeout")
		return nil
	}
}

func (c *trx) submit(t testing.TB, dst string, text pdutext.Codec, register pdufield.DeliverySetting) string {
	t.Helper()
	sm, err := c.Submit(&smpp.ShortMessage{Src: "ACME", Dst: dst, Text: text, Register: register, SourceAddrTON: 5, DestAddrTON: 1, DestAddrNPI: 1})
	if err != nil {
		t.Fatalf("submit to %s: %v", dst, err)
	}
	return sm.RespID()
}

// receipt is a parsed receipt deliver_sm.
type receipt struct {
	text     string
	fields   map[string]string // from the Appendix B text
	tlvID    string
	tlvState byte
	src, dst string
	esmClass byte
}

func parseReceipt(t testing.TB, p pdu.Body) receipt {
	t.Helper()
	f := p.Fields()
	r := receipt{
		text:     f[pdufield.ShortMessage].String(),
		fields:   map[string]string{},
		src:      f[pdufield.SourceAddr].String(),
		dst:      f[pdufield.DestinationAddr].String(),
		esmClass: f[pdufield.ESMClass].Raw().(uint8),
	}
	// "id:X sub:001 dlvrd:001 submit date:… done date:… stat:… err:… text:…"
	rest := r.text
	for _, k := range []string{"id", "sub", "dlvrd", "submit date", "done date", "stat", "err", "text"} {
		i := strings.Index(rest, k+":")
		if i < 0 {
			t.Fatalf("receipt %q has no %s:", r.text, k)
		}
		rest = rest[i+len(k)+1:]
		v := rest
		if j := strings.Index(rest, " "); j >= 0 && k != "text" && k != "submit date" {
			v = rest[:j]
		}
		if k == "submit date" || k == "done date" {
			v = rest[:10]
		}
		r.fields[k] = v
	}
	tl := p.TLVFields()
	if v := tl[pdutlv.TagReceiptedMessageID]; v != nil {
		r.tlvID = strings.TrimRight(string(v.Bytes()), "\x00")
	}
	if v := tl[pdutlv.TagMessageStateOption]; v != nil && len(v.Bytes()) == 1 {
		r.tlvState = v.Bytes()[0]
	}
	return r
}

// rawClient is a client built on fiorix's smpp.Dial and pdu package, for
// tests that need control over every PDU (answers to deliver_sm, exact
// command_status of binds).
type rawClient struct {
	conn smpp.Conn
	in   chan pdu.Body
}

func dialRaw(t testing.TB, s *Server) *rawClient {
	t.Helper()
	conn, err := smpp.Dial(s.Addr(), nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c := &rawClient{conn: conn, in: make(chan pdu.Body, 1024)}
	go func() {
		defer close(c.in)
		for {
			p, err := conn.Read()
			if err != nil {
				return
			}
			c.in <- p
		}
	}()
	t.Cleanup(func() { conn.Close() })
	return c
}

// read returns the next PDU; nil when the connection closed.
func (c *rawClient) read(t testing.TB) pdu.Body {
	t.Helper()
	select {
	case p := <-c.in:
		return p
	case <-time.After(testTimeout):
		t.Fatal("raw client: nothing read within timeout")
		return nil
	}
}

// readNone asserts nothing arrives within d.
func (c *rawClient) readNone(t testing.TB, d time.Duration) {
	t.Helper()
	select {
	case p, ok := <-c.in:
		if ok {
			t.Fatalf("unexpected %s (status %#x)", p.Header().ID, uint32(p.Header().Status))
		}
		t.Fatal("connection closed unexpectedly")
	case <-time.After(d):
	}
}

// closed asserts the server closed the connection.
func (c *rawClient) closed(t testing.TB) {
	t.Helper()
	for {
		select {
		case p, ok := <-c.in:
			if !ok {
				return
			}
			t.Logf("read %s before close", p.Header().ID)
		case <-time.After(testTimeout):
			t.Fatal("connection not closed")
		}
	}
}

func (c *rawClient) write(t testing.TB, p pdu.Body) {
	t.Helper()
	if err := c.conn.Write(p); err != nil {
		t.Fatalf("write %s: %v", p.Header().ID, err)
	}
}

func (c *rawClient) bind(t testing.TB, p pdu.Body, user, pass string) pdu.Status {
	t.Helper()
	p.Fields().Set(pdufield.SystemID, user)
	p.Fields().Set(pdufield.Password, pass)
	p.Fields().Set(pdufield.InterfaceVersion, 0x34)
	c.write(t, p)
	resp := c.read(t)
	if resp == nil {
		t.Fatal("bind: connection closed")
	}
	if resp.Header().ID != p.Header().ID|0x80000000 {
		t.Fatalf("bind answered with %s", resp.Header().ID)
	}
	return resp.Header().Status
}

func (c *rawClient) mustBind(t testing.TB, p pdu.Body) {
	t.Helper()
	if st := c.bind(t, p, "smsgw", "secret"); st != 0 {
		t.Fatalf("bind: status %#x", uint32(st))
	}
}

// submitPDU builds a submit_sm asking for a receipt.
func submitPDU(dst string, text string) pdu.Body {
	p := pdu.NewSubmitSM(nil)
	f := p.Fields()
	f.Set(pdufield.SourceAddrTON, 5)
	f.Set(pdufield.SourceAddr, "ACME")
	f.Set(pdufield.DestAddrTON, 1)
	f.Set(pdufield.DestAddrNPI, 1)
	f.Set(pdufield.DestinationAddr, dst)
	f.Set(pdufield.RegisteredDelivery, 1)
	f.Set(pdufield.ShortMessage, pdutext.Raw(text))
	return p
}

// rawTCP dials the simulator without any SMPP library, for bytes no
// library would send.
func rawTCP(t testing.TB, s *Server) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	conn.SetDeadline(time.Now().Add(testTimeout))
	t.Cleanup(func() { conn.Close() })
	return conn
}

type bufioReader = bufio.Reader

func newBufioReader(r io.Reader) *bufio.Reader { return bufio.NewReader(r) }

// shortMessage is a submit asking for a final receipt.
func shortMessage(dst string, text pdutext.Codec) *smpp.ShortMessage {
	return &smpp.ShortMessage{Src: "ACME", Dst: dst, Text: text, Register: pdufield.FinalDeliveryReceipt, SourceAddrTON: 5, DestAddrTON: 1, DestAddrNPI: 1}
}
