package smpp_test

import (
	"context"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	fsmpp "github.com/fiorix/go-smpp/smpp"
	"github.com/fiorix/go-smpp/smpp/pdu"
	"github.com/fiorix/go-smpp/smpp/pdu/pdufield"
	"github.com/fiorix/go-smpp/smpp/pdu/pdutlv"

	"github.com/smsgw/smsgw/simulator"
	"github.com/smsgw/smsgw/smpp"
)

// simClient is a bare SMPP client over fiorix's conn: enough to drive the
// codec against the real simulator without the session half.
type simClient struct {
	t    *testing.T
	conn fsmpp.Conn
	in   chan pdu.Body
	// held keeps, in order, the deliver_sm that arrived while a
	// submit_sm_resp was awaited: the simulator sends a part's receipt
	// (ReceiptDelay 1ms) while the next part is still being submitted.
	held []pdu.Body
}

func dialSim(t *testing.T, ctx context.Context, addr string) *simClient {
	t.Helper()
	conn, err := fsmpp.Dial(addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &simClient{t: t, conn: conn, in: make(chan pdu.Body, 64)}
	done := make(chan struct{})
	go func() { // owned by the test: ends when conn is closed
		defer close(done)
		defer close(c.in)
		for {
			p, err := conn.Read()
			if err != nil {
				return
			}
			c.in <- p
		}
	}()
	t.Cleanup(func() { conn.Close(); <-done })
	b := pdu.NewBindTransceiver()
	_ = b.Fields().Set(pdufield.SystemID, "smsgw")
	_ = b.Fields().Set(pdufield.Password, "secret")
	c.write(b)
	if r := c.next(ctx, pdu.BindTransceiverRespID); r.Header().Status != 0 {
		t.Fatalf("bind: %v", r.Header().Status)
	}
	return c
}

func (c *simClient) write(p pdu.Body) {
	c.t.Helper()
	if err := c.conn.Write(p); err != nil {
		c.t.Fatal(err)
	}
}

// next returns the next PDU of type id, answering enquire_link on the way.
func (c *simClient) next(ctx context.Context, id pdu.ID) pdu.Body {
	c.t.Helper()
	if id == pdu.DeliverSMID && len(c.held) > 0 {
		p := c.held[0]
		c.held = c.held[1:]
		return p
	}
	for {
		select {
		case p, ok := <-c.in:
			if !ok {
				c.t.Fatalf("connection closed waiting for %s", id)
			}
			switch p.Header().ID {
			case id:
				return p
			case pdu.EnquireLinkID:
				r := pdu.NewEnquireLinkRespSeq(p.Header().Seq)
				c.write(r)
			case pdu.DeliverSMID:
				if id != pdu.SubmitSMRespID {
					c.t.Fatalf("unexpected %s waiting for %s", p.Header().ID, id)
				}
				c.held = append(c.held, p)
			default:
				c.t.Fatalf("unexpected %s waiting for %s", p.Header().ID, id)
			}
		case <-ctx.Done():
			c.t.Fatalf("waiting for %s: %v", id, ctx.Err())
		}
	}
}

// submit sends every part of e and returns their message ids.
func (c *simClient) submit(ctx context.Context, to string, e smpp.Encoded) []string {
	c.t.Helper()
	var ids []string
	for _, part := range e.Parts {
		p := pdu.NewSubmitSM(nil)
		f := p.Fields()
		_ = f.Set(pdufield.SourceAddr, "ACME")
		_ = f.Set(pdufield.SourceAddrTON, uint8(5))
		_ = f.Set(pdufield.DestinationAddr, to)
		_ = f.Set(pdufield.DestAddrTON, uint8(1))
		_ = f.Set(pdufield.DestAddrNPI, uint8(1))
		_ = f.Set(pdufield.RegisteredDelivery, uint8(1))
		_ = f.Set(pdufield.ESMClass, part.ESMClass)
		_ = f.Set(pdufield.ShortMessage, part.ShortMessage)
		_ = f.Set(pdufield.DataCoding, part.DataCoding)
		if part.SAR != nil {
			tl := p.TLVFields()
			_ = tl.Set(pdutlv.TagSarMsgRefNum, []byte{byte(part.SAR.Ref >> 8), byte(part.SAR.Ref)})
			_ = tl.Set(pdutlv.TagSarTotalSegments, part.SAR.Total)
			_ = tl.Set(pdutlv.TagSarSegmentSeqnum, part.SAR.Seq)
		}
		c.write(p)
		r := c.next(ctx, pdu.SubmitSMRespID)
		if r.Header().Status != 0 {
			c.t.Fatalf("submit_sm: %v", r.Header().Status)
		}
		ids = append(ids, r.Fields()[pdufield.MessageID].String())
	}
	return ids
}

// deliver reads the next deliver_sm, parses it, and acknowledges it.
func (c *simClient) deliver(ctx context.Context) smpp.Inbound {
	c.t.Helper()
	p := c.next(ctx, pdu.DeliverSMID)
	in, err := smpp.ParseDeliverSM(p)
	if err != nil {
		c.t.Fatalf("ParseDeliverSM: %v", err)
	}
	c.write(pdu.NewDeliverSMRespSeq(p.Header().Seq))
	return in
}

// The codec against the real simulator: Encode's parts (UDH and SAR,
// GSM and UCS-2) are reassembled by it to the original text, its receipts
// parse and find their submit ids (also with SwapIDFormat), and its
// concatenated MO parts carry what is needed to reassemble them.
func TestCodecWithSimulator(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, format := range []string{"hex", "dec"} {
		t.Run(format, func(t *testing.T) {
			srv, err := simulator.Start(ctx, simulator.Config{Addr: "127.0.0.1:0", IDFormat: format, ReceiptDelay: time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			c := dialSim(t, ctx, srv.Addr())

			msgs := []struct {
				text string
				enc  smpp.Encoding
				mode smpp.ConcatMode
				to   string
				stat string
				err  string
				swap bool
			}{
				{text: "Hello €uro [ok]", to: "447700900001", stat: "DELIVRD", err: "000"},
				{text: strings.Repeat("x", 152) + "€" + strings.Repeat("{long} ", 30), to: "447700901400", stat: "UNDELIV", err: "001"},
				{text: strings.Repeat("Привет 😀 ", 12), mode: smpp.ConcatSAR, to: "447700901408", stat: "REJECTD", err: "000"},
				{text: "swap " + strings.Repeat("ж", 80), to: "447700901410", stat: "EXPIRED", err: "027", swap: true},
			}
			var want []string
			for i, m := range msgs {
				srv.SetFaults(simulator.Faults{SwapIDFormat: m.swap})
				e, err := smpp.Encode(m.text, m.enc, m.mode, uint16(1000+i))
				if err != nil {
					t.Fatal(err)
				}
				ids := c.submit(ctx, m.to, e)
				filed := map[string]bool{}
				for _, id := range ids {
					filed[smpp.IDKey(id, smpp.IDAuto)] = true
				}
				for range ids {
					in := c.deliver(ctx)
					if !in.IsReceipt {
						t.Fatalf("message %d: not a receipt: %+v", i, in)
					}
					r := in.Receipt
					if r.Stat != m.stat || r.Err != m.err || !r.Final || r.Delivered != (m.stat == "DELIVRD") || r.SubmitDate.IsZero() {
						t.Errorf("message %d: receipt %+v", i, r)
					}
					keys := smpp.ReceiptIDKeys(r.ID, smpp.IDAuto)
					if !slices.ContainsFunc(keys, func(k string) bool { return filed[k] }) {
						t.Errorf("message %d: receipt id %q (keys %q) finds none of %q", i, r.ID, keys, ids)
					}
				}
				want = append(want, m.text)
			}
			if got := srv.Reassembled(); !slices.Equal(got, want) {
				t.Errorf("simulator reassembled\n%q\nwant\n%q", got, want)
			}

			// MO: the simulator splits with an 8-bit UDH reference.
			for _, text := range []string{"YES", strings.Repeat("Reply with € and [x] ", 10), strings.Repeat("Ответ 😀 ", 20)} {
				if err := srv.InjectMO(ctx, simulator.MO{From: "+447700900123", To: "ACME", Text: text}); err != nil {
					t.Fatal(err)
				}
				n, _, err := smpp.CountParts(text, smpp.EncodingAuto)
				if err != nil {
					t.Fatal(err)
				}
				var parts []smpp.Inbound
				for range n {
					in := c.deliver(ctx)
					if in.IsReceipt || in.From != "447700900123" || in.FromTON != 1 || in.FromNPI != 1 || in.To != "ACME" {
						t.Fatalf("MO part %+v", in)
					}
					parts = append(parts, in)
				}
				if n == 1 {
					if parts[0].Concat != nil || parts[0].Text != text {
						t.Errorf("single MO %q: %+v", text, parts[0])
					}
					continue
				}
				sort.Slice(parts, func(i, j int) bool { return parts[i].Concat.Seq < parts[j].Concat.Seq })
				var sb strings.Builder
				for i, p := range parts {
					if p.Concat == nil || int(p.Concat.Total) != n || int(p.Concat.Seq) != i+1 || p.Concat.Ref != parts[0].Concat.Ref {
						t.Fatalf("MO part %d concat %+v", i+1, p.Concat)
					}
					sb.WriteString(p.Text)
				}
				if sb.String() != text {
					t.Errorf("MO reassembled %q, want %q", sb.String(), text)
				}
			}
		})
	}
}
