package smpp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/fiorix/go-smpp/smpp/pdu"
	"github.com/fiorix/go-smpp/smpp/pdu/pdufield"
	"github.com/fiorix/go-smpp/smpp/pdu/pdutlv"
)

type testTLV struct {
	tag uint16
	val []byte
}

// testDeliver is a deliver_sm body, written to wire bytes by hand so the
// tests go through fiorix's real decoder as the session does.
type testDeliver struct {
	id                             pdu.ID
	src, dst                       string
	srcTON, srcNPI, dstTON, dstNPI uint8
	esm, dc                        uint8
	sm                             []byte
	tlvs                           []testTLV
}

func (d testDeliver) wire() []byte {
	id := d.id
	if id == 0 {
		id = pdu.DeliverSMID
	}
	b := make([]byte, 16, 256)
	b = append(b, 0)                                // service_type
	b = append(b, d.srcTON, d.srcNPI)               //
	b = append(append(b, d.src...), 0)              // source_addr
	b = append(b, d.dstTON, d.dstNPI)               //
	b = append(append(b, d.dst...), 0)              // destination_addr
	b = append(b, d.esm, 0, 0, 0, 0, 0, 0, d.dc, 0) // esm, pid, prio, sched, validity, reg, replace, dc, default id
	b = append(b, byte(len(d.sm)))
	b = append(b, d.sm...)
	for _, t := range d.tlvs {
		b = binary.BigEndian.AppendUint16(b, t.tag)
		b = binary.BigEndian.AppendUint16(b, uint16(len(t.val)))
		b = append(b, t.val...)
	}
	binary.BigEndian.PutUint32(b[0:], uint32(len(b)))
	binary.BigEndian.PutUint32(b[4:], uint32(id))
	binary.BigEndian.PutUint32(b[12:], 7)
	return b
}

func (d testDeliver) decode(t testing.TB) pdu.Body {
	t.Helper()
	p, err := pdu.Decode(bytes.NewReader(d.wire()))
	if err != nil {
		t.Fatalf("fiorix decode: %v", err)
	}
	return p
}

func gsmBytes(t testing.TB, s string) []byte {
	t.Helper()
	e, err := Encode(s, EncodingGSM7, ConcatSAR, 0)
	if err != nil || len(e.Parts) != 1 {
		t.Fatalf("gsmBytes(%q): %v", s, err)
	}
	return e.Parts[0].ShortMessage
}

func ucs2Bytes(t testing.TB, s string) []byte {
	t.Helper()
	e, err := Encode(s, EncodingUCS2, ConcatSAR, 0)
	if err != nil || len(e.Parts) != 1 {
		t.Fatalf("ucs2Bytes(%q): %v", s, err)
	}
	return e.Parts[0].ShortMessage
}

const simReceipt = "id:0A1B2C sub:001 dlvrd:001 submit date:2401151230 done date:2401151231 stat:DELIVRD err:000 text:Hello"

func TestParseDeliverSMReceipts(t *testing.T) {
	tests := []struct {
		name      string
		d         testDeliver
		wantID    string
		wantStat  string
		wantErr   string
		wantState uint8
		wantNEC   []byte
		err       error
	}{
		{
			name: "simulator: text and TLVs",
			d: testDeliver{esm: 0x04, src: "447700900123", dst: "ACME", sm: []byte(simReceipt), tlvs: []testTLV{
				{0x001E, []byte("0A1B2C\x00")}, {0x0427, []byte{2}},
			}},
			wantID: "0A1B2C", wantStat: "DELIVRD", wantErr: "000", wantState: 2,
		},
		{
			name:   "text only, underscore keys survive data_coding 0",
			d:      testDeliver{esm: 0x04, dc: 0, sm: []byte("id:123 submit_date:2401151230 done_date:2401151231 stat:UNDELIV err:001")},
			wantID: "123", wantStat: "UNDELIV", wantErr: "001", wantState: 5,
		},
		{
			name:   "TLV id wins over text id",
			d:      testDeliver{esm: 0x04, sm: []byte("id:0000000042 stat:DELIVRD err:000"), tlvs: []testTLV{{0x001E, []byte("2a\x00")}}},
			wantID: "2a", wantStat: "DELIVRD", wantErr: "000", wantState: 2,
		},
		{
			name: "TLV-only receipt with network error code",
			d: testDeliver{esm: 0x04, tlvs: []testTLV{
				{0x001E, []byte("ff01\x00")}, {0x0427, []byte{5}}, {0x0423, []byte{3, 0x00, 0x01}},
			}},
			wantID: "ff01", wantStat: "UNDELIV", wantState: 5, wantNEC: []byte{3, 0, 1},
		},
		{
			name: "TLV receipt with free text keeps its err",
			d: testDeliver{esm: 0x04, sm: []byte("Message delivered err:000"), tlvs: []testTLV{
				{0x001E, []byte("77\x00")}, {0x0427, []byte{2}},
			}},
			wantID: "77", wantStat: "DELIVRD", wantErr: "000", wantState: 2,
		},
		{
			name:   "receipted_message_id alone marks a receipt",
			d:      testDeliver{esm: 0x00, sm: []byte(simReceipt), tlvs: []testTLV{{0x001E, []byte("0A1B2C")}}},
			wantID: "0A1B2C", wantStat: "DELIVRD", wantErr: "000", wantState: 2,
		},
		{
			name:   "message_state TLV wins over text stat",
			d:      testDeliver{esm: 0x04, sm: []byte(simReceipt), tlvs: []testTLV{{0x0427, []byte{3}}}},
			wantID: "0A1B2C", wantStat: "EXPIRED", wantErr: "000", wantState: 3,
		},
		{
			name:   "SME delivery ack",
			d:      testDeliver{esm: 0x08, sm: []byte(simReceipt)},
			wantID: "0A1B2C", wantStat: "DELIVRD", wantErr: "000", wantState: 2,
		},
		{
			name:   "intermediate notification",
			d:      testDeliver{esm: 0x20, sm: []byte("id:9 stat:ENROUTE err:000")},
			wantID: "9", wantStat: "ENROUTE", wantErr: "000", wantState: 1,
		},
		{
			name:   "UCS-2 receipt text",
			d:      testDeliver{esm: 0x04, dc: 8, sm: ucs2Bytes(t, "id:9 stat:DELIVRD err:000 text:Привет")},
			wantID: "9", wantStat: "DELIVRD", wantErr: "000", wantState: 2,
		},
		{
			name: "receipt flag but no receipt",
			d:    testDeliver{esm: 0x04, sm: []byte("hello")},
			err:  ErrNotReceipt,
		},
		{
			name: "TLV state without id and bad text",
			d:    testDeliver{esm: 0x04, sm: []byte("hello"), tlvs: []testTLV{{0x0427, []byte{2}}}},
			err:  ErrNotReceipt,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := ParseDeliverSM(tt.d.decode(t))
			if !in.IsReceipt {
				t.Fatalf("not classified as receipt")
			}
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			r := in.Receipt
			if r.ID != tt.wantID || r.Stat != tt.wantStat || r.Err != tt.wantErr || r.MessageState != tt.wantState ||
				!bytes.Equal(r.NetworkErrorCode, tt.wantNEC) {
				t.Fatalf("receipt %+v", r)
			}
			if _, final := receiptStatState(r.Stat); r.Final != final || r.Delivered != (r.Stat == "DELIVRD") {
				t.Fatalf("flags %+v", r)
			}
			if in.Concat != nil {
				t.Fatalf("receipt with concat %+v", in.Concat)
			}
		})
	}
}

func TestParseDeliverSMMO(t *testing.T) {
	payload := gsmBytes(t, "Hello €")
	tests := []struct {
		name   string
		d      testDeliver
		text   string
		concat *ConcatInfo
		err    error
	}{
		{
			name: "gsm single",
			d:    testDeliver{src: "447700900123", srcTON: 1, srcNPI: 1, dst: "ACME", dstTON: 5, sm: payload},
			text: "Hello €",
		},
		{
			name:   "udh 8-bit",
			d:      testDeliver{esm: 0x40, sm: append([]byte{5, 0, 3, 0x7f, 3, 2}, payload...)},
			text:   "Hello €",
			concat: &ConcatInfo{Ref: 0x7f, Total: 3, Seq: 2},
		},
		{
			name:   "udh 16-bit",
			d:      testDeliver{esm: 0x40, sm: append([]byte{6, 8, 4, 0x12, 0x34, 2, 1}, payload...)},
			text:   "Hello €",
			concat: &ConcatInfo{Ref: 0x1234, Total: 2, Seq: 1},
		},
		{
			name:   "udh with port element before concat",
			d:      testDeliver{esm: 0x43, sm: append([]byte{11, 5, 4, 0x0b, 0x84, 0x23, 0xf0, 0, 3, 9, 2, 2}, payload...)},
			text:   "Hello €",
			concat: &ConcatInfo{Ref: 9, Total: 2, Seq: 2},
		},
		{
			name: "sar TLVs",
			d: testDeliver{sm: payload, tlvs: []testTLV{
				{0x020C, []byte{0x01, 0x02}}, {0x020E, []byte{4}}, {0x020F, []byte{3}},
			}},
			text:   "Hello €",
			concat: &ConcatInfo{Ref: 0x0102, Total: 4, Seq: 3},
		},
		{
			name: "ucs2 with emoji",
			d:    testDeliver{dc: 8, sm: ucs2Bytes(t, "Да 😀")},
			text: "Да 😀",
		},
		{
			name:   "ucs2 udh",
			d:      testDeliver{dc: 8, esm: 0x40, sm: append([]byte{5, 0, 3, 1, 2, 1}, ucs2Bytes(t, "Да")...)},
			text:   "Да",
			concat: &ConcatInfo{Ref: 1, Total: 2, Seq: 1},
		},
		{
			name: "message_payload TLV",
			d:    testDeliver{tlvs: []testTLV{{0x0424, []byte(strings.Repeat("z", 200))}}},
			text: strings.Repeat("z", 200),
		},
		{
			name: "one-part concat is single",
			d:    testDeliver{esm: 0x40, sm: append([]byte{5, 0, 3, 7, 1, 1}, payload...)},
			text: "Hello €",
		},
		{name: "binary", d: testDeliver{dc: 4, sm: []byte{1, 2, 3}}, err: ErrBinary},
		{name: "bad gsm", d: testDeliver{sm: []byte{0x41, 0xff}}, err: ErrBadText},
		{name: "concat seq 0", d: testDeliver{esm: 0x40, sm: append([]byte{5, 0, 3, 7, 2, 0}, payload...)}, err: ErrBadPDU},
		{name: "concat seq beyond total", d: testDeliver{esm: 0x40, sm: append([]byte{5, 0, 3, 7, 2, 3}, payload...)}, err: ErrBadPDU},
		{name: "concat element wrong size", d: testDeliver{esm: 0x40, sm: append([]byte{4, 0, 2, 7, 2}, payload...)}, err: ErrBadPDU},
		{
			// fiorix accepts this (the TLV after it makes up the octets it
			// over-reads) and would hand over a shifted text.
			name: "udh element overruns header",
			d:    testDeliver{esm: 0x40, sm: append([]byte{3, 0, 3, 7, 2, 1}, payload...), tlvs: []testTLV{{0x1400, []byte{0, 0, 0, 0}}}},
			err:  ErrBadPDU,
		},
		{name: "incomplete SAR", d: testDeliver{sm: payload, tlvs: []testTLV{{0x020C, []byte{1}}}}, err: ErrBadPDU},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := ParseDeliverSM(tt.d.decode(t))
			if in.IsReceipt {
				t.Fatalf("MO classified as receipt")
			}
			if in.From != tt.d.src || in.To != tt.d.dst || in.FromTON != tt.d.srcTON || in.FromNPI != tt.d.srcNPI ||
				in.ToTON != tt.d.dstTON || in.DataCoding != tt.d.dc || in.ESMClass != tt.d.esm {
				t.Fatalf("addressing %+v", in)
			}
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if in.Text != tt.text {
				t.Fatalf("text %q, want %q", in.Text, tt.text)
			}
			if (in.Concat == nil) != (tt.concat == nil) || in.Concat != nil && *in.Concat != *tt.concat {
				t.Fatalf("concat %+v, want %+v", in.Concat, tt.concat)
			}
		})
	}
}

// PDUs built with fiorix's constructors keep the UDH inside short_message;
// data_sm carries its text in message_payload.
func TestParseDeliverSMBuilt(t *testing.T) {
	p := pdu.NewDeliverSM()
	f := p.Fields()
	_ = f.Set(pdufield.SourceAddr, "447700900123")
	_ = f.Set(pdufield.DestinationAddr, "12345")
	_ = f.Set(pdufield.ESMClass, uint8(0x40))
	_ = f.Set(pdufield.ShortMessage, append([]byte{5, 0, 3, 0x55, 2, 2}, gsmBytes(t, "part two")...))
	in, err := ParseDeliverSM(p)
	if err != nil {
		t.Fatal(err)
	}
	if in.Text != "part two" || in.Concat == nil || *in.Concat != (ConcatInfo{Ref: 0x55, Total: 2, Seq: 2}) || in.From != "447700900123" {
		t.Fatalf("%+v %+v", in, in.Concat)
	}

	_ = f.Set(pdufield.ShortMessage, []byte{9, 0, 3})
	if _, err := ParseDeliverSM(p); !errors.Is(err, ErrBadPDU) {
		t.Fatalf("overlong UDH: err = %v", err)
	}
	_ = f.Set(pdufield.ShortMessage, []byte{})
	if _, err := ParseDeliverSM(p); !errors.Is(err, ErrBadPDU) {
		t.Fatalf("UDHI with empty message: err = %v", err)
	}

	d := pdu.NewDeliverSM()
	d.Header().ID = pdu.DataSMID
	_ = d.TLVFields().Set(pdutlv.TagMessagePayload, ucs2Bytes(t, "data_sm ✓"))
	_ = d.Fields().Set(pdufield.DataCoding, uint8(8))
	in, err = ParseDeliverSM(d)
	if err != nil || in.Text != "data_sm ✓" {
		t.Fatalf("data_sm: %+v %v", in, err)
	}

	if _, err := ParseDeliverSM(pdu.NewSubmitSM(nil)); !errors.Is(err, ErrBadPDU) {
		t.Fatalf("submit_sm: err = %v", err)
	}
	if _, err := ParseDeliverSM(nil); !errors.Is(err, ErrBadPDU) {
		t.Fatalf("nil: err = %v", err)
	}
}

// FuzzParseDeliverSM: whatever body fiorix decodes, ParseDeliverSM does
// not panic, and its errors are the documented ones.
func FuzzParseDeliverSM(f *testing.F) {
	seeds := []testDeliver{
		{esm: 0x04, sm: []byte(simReceipt), tlvs: []testTLV{{0x001E, []byte("0A1B2C\x00")}, {0x0427, []byte{2}}}},
		{esm: 0x40, sm: []byte{5, 0, 3, 1, 2, 1, 0x41}},
		{esm: 0x40, sm: []byte{6, 8, 4, 0, 1, 2, 2, 0x41}},
		{dc: 8, sm: []byte{0xd8, 0x3d, 0xde, 0x00}},
		{sm: []byte("x"), tlvs: []testTLV{{0x020C, []byte{0, 1}}, {0x020E, []byte{2}}, {0x020F, []byte{1}}}},
	}
	for _, s := range seeds {
		f.Add(s.wire()[16:])
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if len(body) > pdu.MaxSize {
			return
		}
		b := make([]byte, 16, 16+len(body))
		binary.BigEndian.PutUint32(b[0:], uint32(16+len(body)))
		binary.BigEndian.PutUint32(b[4:], uint32(pdu.DeliverSMID))
		b = append(b, body...)
		p, ok := fiorixDecode(b)
		if !ok {
			return
		}
		_, err := ParseDeliverSM(p)
		if err != nil && !errors.Is(err, ErrBadPDU) && !errors.Is(err, ErrNotReceipt) && !errors.Is(err, ErrBinary) &&
			!errors.Is(err, ErrBadText) && !errors.Is(err, ErrUnsupportedDataCoding) {
			t.Fatalf("undocumented error %v", err)
		}
	})
}

// fiorixDecode runs fiorix's decoder, which is not ours to harden: its
// errors and panics just mean there is nothing to parse.
func fiorixDecode(b []byte) (p pdu.Body, ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	p, err := pdu.Decode(bytes.NewReader(b))
	return p, err == nil
}

func BenchmarkParseDeliverSM(b *testing.B) {
	cases := []struct {
		name string
		d    testDeliver
	}{
		{"receipt", testDeliver{esm: 0x04, src: "447700900123", dst: "ACME", sm: []byte(simReceipt), tlvs: []testTLV{
			{0x001E, []byte("0A1B2C\x00")}, {0x0427, []byte{2}},
		}}},
		{"mo_udh", testDeliver{esm: 0x40, src: "447700900123", dst: "ACME", sm: append([]byte{5, 0, 3, 1, 2, 1}, bytes.Repeat([]byte("hello "), 25)...)}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			p := c.d.decode(b)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ParseDeliverSM(p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
