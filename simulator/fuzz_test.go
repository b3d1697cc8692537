package simulator

import (
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/fiorix/go-smpp/smpp/pdu"
)

// Seed corpora live in testdata/fuzz/<FuzzName>/; f.Add adds a few more.

var fuzzBind = rawPDU(uint32(pdu.BindTransceiverID), 1, []byte("smsgw\x00secret\x00\x00\x34\x00\x00\x00"))

// FuzzSessionInput feeds arbitrary bytes to a bound session over a real
// connection (net.Pipe into the session's reader and writer). The
// simulator must answer or hang up, never panic or hang.
func FuzzSessionInput(f *testing.F) {
	f.Add(rawPDU(uint32(pdu.SubmitSMID), 2, []byte("\x00\x05\x00ACME\x00\x01\x0144\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x02hi")))
	f.Add(rawPDU(uint32(pdu.EnquireLinkID), 2, nil))
	f.Add(rawPDU(uint32(pdu.DeliverSMRespID), 2, []byte{0}))
	f.Add([]byte{0, 0, 0, 1})
	s, err := Start(context.Background(), Config{ReceiptRetry: 1, ResponseTimeout: 1})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	f.Fuzz(func(t *testing.T, data []byte) {
		client, server := net.Pipe()
		c := newSession(s, server)
		s.wg.Add(1)
		done := make(chan struct{})
		go func() { c.serve(); close(done) }()
		go io.Copy(io.Discard, client)
		client.Write(fuzzBind)
		client.Write(data)
		client.Write(rawPDU(uint32(pdu.UnbindID), 99, nil))
		client.Close()
		<-done
	})
}

// FuzzParseSubmit decodes arbitrary submit_sm bodies.
func FuzzParseSubmit(f *testing.F) {
	f.Add([]byte("\x00\x05\x00ACME\x00\x01\x0144\x00\x40\x00\x00\x00\x00\x01\x00\x00\x00\x08\x05\x00\x03\x01\x02\x01hi"))
	f.Add([]byte("\x00\x05\x00ACME\x00\x01\x0144\x00\x00\x00\x00\x00\x00\x01\x00\x08\x00\x00\x04\x24\x00\x04\x00h\x00i"))
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := decodePDU(rawPDU(uint32(pdu.SubmitSMID), 1, body))
		if err != nil {
			return
		}
		sub, st, err := parseSubmit(p)
		if err != nil || st != statusOK {
			return
		}
		if !utf8.ValidString(sub.text) {
			t.Fatalf("decoded text is not UTF-8: %q", sub.text)
		}
		if sub.part.total > 0 && sub.dst.digits == "" {
			t.Fatal("accepted without destination")
		}
	})
}

// FuzzGSM checks the GSM 03.38 codec: decoding never fails, and encoding
// what fits round-trips with the septet count gsmSeptets promised.
func FuzzGSM(f *testing.F) {
	f.Add("Hello {world} €5", []byte("\x1b\x65\x1b"))
	f.Add("ÄÖÜ äöü ß @£$", []byte{0x80, 0x1b, 0x1b})
	f.Fuzz(func(t *testing.T, s string, septets []byte) {
		if d := decodeGSM(septets); !utf8.ValidString(d) {
			t.Fatalf("decodeGSM(%x) not UTF-8", septets)
		}
		n, ok := gsmSeptets(s)
		if !ok {
			return
		}
		enc := appendGSM(nil, s)
		if len(enc) != n {
			t.Fatalf("%q: %d octets, gsmSeptets said %d", s, len(enc), n)
		}
		if got := decodeGSM(enc); got != s {
			t.Fatalf("round trip %q -> %q", s, got)
		}
	})
}

// FuzzSplitMO checks that every MO text is cut into parts that fit and
// that join back to the text.
func FuzzSplitMO(f *testing.F) {
	f.Add(strings.Repeat("x", 152) + "€€")
	f.Add(strings.Repeat("ж", 66) + "😀😀")
	f.Add("YES")
	f.Fuzz(func(t *testing.T, text string) {
		if !utf8.ValidString(text) || text == "" {
			return
		}
		sms, dc, err := splitMO(text, 7)
		if err != nil {
			return
		}
		var joined strings.Builder
		for i, sm := range sms {
			ud := sm
			if len(sms) > 1 {
				var c concat
				var ok bool
				ud, c, ok = splitUDH(sm)
				if !ok || c.ref != 7 || c.total != len(sms) || c.seq != i+1 {
					t.Fatalf("part %d: bad UDH %x", i+1, sm[:6])
				}
			}
			if len(sm) > 140 && !(dc == 0 && len(sm) <= 160) {
				t.Fatalf("part %d: %d octets with data_coding %d", i+1, len(sm), dc)
			}
			joined.WriteString(decodeText(dc, ud))
		}
		if joined.String() != text {
			t.Fatalf("parts join to %q, want %q", joined.String(), text)
		}
	})
}

// FuzzSplitUDH reads arbitrary user data headers.
func FuzzSplitUDH(f *testing.F) {
	f.Add([]byte{0x05, 0x00, 0x03, 0x2A, 0x02, 0x01, 'h', 'i'})
	f.Add([]byte{0x06, 0x08, 0x04, 0x01, 0x02, 0x02, 0x01, 'h'})
	f.Fuzz(func(t *testing.T, data []byte) {
		ud, _, ok := splitUDH(data)
		if ok && !strings.HasSuffix(string(data), string(ud)) {
			t.Fatalf("user data %x is not the tail of %x", ud, data)
		}
	})
}
