package smpp

import (
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fiorix/go-smpp/smpp/pdu"
	"github.com/fiorix/go-smpp/smpp/pdu/pdufield"
	"github.com/fiorix/go-smpp/smpp/pdu/pdutlv"
)

var updateGolden = flag.Bool("update", false, "rewrite golden files under testdata/")

// fiorixSubmitSM builds the same submit_sm with fiorix's encoder.
func fiorixSubmitSM(t *testing.T, seq uint32, s *sessSubmit) pdu.Body {
	t.Helper()
	var tlv pdutlv.Fields
	if s.sar {
		tlv = pdutlv.Fields{
			pdutlv.TagSarMsgRefNum:     []byte{byte(s.sarRef >> 8), byte(s.sarRef)},
			pdutlv.TagSarTotalSegments: []byte{s.sarTotal},
			pdutlv.TagSarSegmentSeqnum: []byte{s.sarSeq},
		}
	}
	p := pdu.NewSubmitSM(tlv)
	p.Header().Seq = seq
	f := p.Fields()
	set := func(k pdufield.Name, v any) {
		if err := f.Set(k, v); err != nil {
			t.Fatalf("set %s: %v", k, err)
		}
	}
	set(pdufield.ServiceType, "")
	set(pdufield.SourceAddrTON, s.srcTON)
	set(pdufield.SourceAddrNPI, s.srcNPI)
	set(pdufield.SourceAddr, s.src)
	set(pdufield.DestAddrTON, s.dstTON)
	set(pdufield.DestAddrNPI, s.dstNPI)
	set(pdufield.DestinationAddr, s.dst)
	set(pdufield.ESMClass, s.esmClass)
	set(pdufield.ProtocolID, uint8(0))
	set(pdufield.PriorityFlag, uint8(0))
	set(pdufield.ScheduleDeliveryTime, "")
	set(pdufield.ValidityPeriod, s.validity)
	set(pdufield.RegisteredDelivery, uint8(1))
	set(pdufield.ReplaceIfPresentFlag, uint8(0))
	set(pdufield.DataCoding, s.dataCoding)
	set(pdufield.SMDefaultMsgID, uint8(0))
	set(pdufield.ShortMessage, s.sm)
	return p
}

func TestAppendSubmitSMMatchesFiorix(t *testing.T) {
	udh := append([]byte{0x05, 0x00, 0x03, 0x2A, 0x02, 0x01}, bytes.Repeat([]byte{'a'}, 153)...)
	tests := []struct {
		name   string
		golden string
		s      sessSubmit
	}{
		{"gsm single international", "submit_sm_gsm.hex", sessSubmit{
			srcTON: 5, src: "ACME", dstTON: 1, dstNPI: 1, dst: "447700900123",
			dataCoding: 0, sm: []byte("Hello world"),
		}},
		{"ucs2 with validity", "submit_sm_ucs2.hex", sessSubmit{
			srcTON: 1, srcNPI: 1, src: "447700900000", dstTON: 1, dstNPI: 1, dst: "15551234567",
			dataCoding: 8, validity: "000001000000000R", sm: []byte{0x04, 0x1f, 0x04, 0x40},
		}},
		{"udh part", "submit_sm_udh.hex", sessSubmit{
			srcTON: 3, src: "12345", dstTON: 1, dstNPI: 1, dst: "447700900123",
			esmClass: 0x40, sm: udh,
		}},
		{"sar part", "submit_sm_sar.hex", sessSubmit{
			srcTON: 5, src: "ACME", dstTON: 1, dstNPI: 1, dst: "447700900123",
			sm: []byte("part two"), sar: true, sarRef: 0x1234, sarTotal: 3, sarSeq: 2,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := appendSubmitSM(nil, 77, &tt.s)

			// Same fields as fiorix decodes them (TLV order is random in
			// fiorix's encoder, so compare decoded, and bytes without TLVs).
			dec, err := pdu.Decode(bytes.NewReader(got))
			if err != nil {
				t.Fatalf("fiorix cannot decode our submit_sm: %v", err)
			}
			want := fiorixSubmitSM(t, 77, &tt.s)
			var wb bytes.Buffer
			if err := want.SerializeTo(&wb); err != nil {
				t.Fatal(err)
			}
			if !tt.s.sar && !bytes.Equal(got, wb.Bytes()) {
				t.Fatalf("bytes differ from fiorix\n got %x\nwant %x", got, wb.Bytes())
			}
			if len(got) != wb.Len() {
				t.Fatalf("length %d, fiorix %d", len(got), wb.Len())
			}
			if dec.Header().Seq != 77 || dec.Header().ID != pdu.SubmitSMID {
				t.Fatalf("header %+v", dec.Header())
			}
			for k, v := range want.Fields() {
				if g := dec.Fields()[k]; g == nil || !bytes.Equal(g.Bytes(), v.Bytes()) {
					t.Errorf("field %s: got %v want %v", k, g, v)
				}
			}
			for k, v := range want.TLVFields() {
				if g := dec.TLVFields()[k]; g == nil || !bytes.Equal(g.Bytes(), v.Bytes()) {
					t.Errorf("tlv %#x: got %v want %v", k, g, v)
				}
			}
			if dec.Fields()[pdufield.RegisteredDelivery].Raw().(uint8) != 1 {
				t.Error("registered_delivery is not 1")
			}

			path := filepath.Join("testdata", tt.golden)
			if *updateGolden {
				if err := os.WriteFile(path, []byte(hex.EncodeToString(got)+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			g, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("golden file (run with -update to create): %v", err)
			}
			if w := strings.TrimSpace(string(g)); hex.EncodeToString(got) != w {
				t.Fatalf("differs from %s\n got %x\nwant %s", path, got, w)
			}
		})
	}
}

func TestSmallPDUsDecode(t *testing.T) {
	tests := []struct {
		name string
		b    []byte
		id   pdu.ID
		st   pdu.Status
	}{
		{"enquire_link", appendEmptyPDU(nil, pdu.EnquireLinkID, 0, 5), pdu.EnquireLinkID, 0},
		{"enquire_link_resp", appendEmptyPDU(nil, pdu.EnquireLinkRespID, 0, 5), pdu.EnquireLinkRespID, 0},
		{"unbind", appendEmptyPDU(nil, pdu.UnbindID, 0, 5), pdu.UnbindID, 0},
		{"generic_nack", appendEmptyPDU(nil, pdu.GenericNACKID, StatusInvCmdID, 5), pdu.GenericNACKID, StatusInvCmdID},
		{"deliver_sm_resp", appendDeliverSMResp(nil, pdu.DeliverSMRespID, StatusRxTAppn, 5), pdu.DeliverSMRespID, StatusRxTAppn},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := pdu.Decode(bytes.NewReader(tt.b))
			if err != nil {
				t.Fatal(err)
			}
			h := p.Header()
			if h.ID != tt.id || h.Status != tt.st || h.Seq != 5 || int(h.Len) != len(tt.b) {
				t.Fatalf("header %+v", h)
			}
		})
	}
}

func TestParseCString(t *testing.T) {
	tests := map[string]struct {
		in   []byte
		want string
	}{
		"terminated":   {[]byte("abc\x00"), "abc"},
		"unterminated": {[]byte("abc"), "abc"},
		"empty":        {nil, ""},
		"nul only":     {[]byte{0}, ""},
		"trailing tlv": {[]byte("1f\x00\x01\x02"), "1f"},
	}
	for name, tt := range tests {
		if got := parseCString(tt.in); got != tt.want {
			t.Errorf("%s: got %q want %q", name, got, tt.want)
		}
	}
}

func u8(v uint8) *uint8 { return &v }

func TestSessAddress(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		ton, npi *uint8
		alnum    bool
		want     string
		wantTON  uint8
		wantNPI  uint8
		wantErr  bool
	}{
		{"e164 plus", "+447700900123", nil, nil, false, "447700900123", 1, 1, false},
		{"e164 digits", "447700900123", nil, nil, false, "447700900123", 1, 1, false},
		{"short code", "12345", nil, nil, true, "12345", 3, 0, false},
		{"short plus is intl", "+1234", nil, nil, false, "1234", 1, 1, false},
		{"alphanumeric", "ACME", nil, nil, true, "ACME", 5, 0, false},
		{"alphanumeric 11", "ABCDEFGHIJK", nil, nil, true, "ABCDEFGHIJK", 5, 0, false},
		{"alphanumeric too long", "ABCDEFGHIJKL", nil, nil, true, "", 0, 0, true},
		{"alphanumeric as dest", "ACME", nil, nil, false, "", 0, 0, true},
		{"empty", "", nil, nil, true, "", 0, 0, true},
		{"too long number", "+123456789012345678901", nil, nil, false, "", 0, 0, true},
		{"forced ton npi", "+447700900123", u8(0), u8(1), false, "447700900123", 0, 1, false},
		{"forced on alnum", "ACME", u8(5), u8(9), true, "ACME", 5, 9, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ton, npi, err := sessAddress(tt.in, tt.ton, tt.npi, tt.alnum)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidAddress) {
					t.Fatalf("err %v, want ErrInvalidAddress", err)
				}
				return
			}
			if err != nil || got != tt.want || ton != tt.wantTON || npi != tt.wantNPI {
				t.Fatalf("got %q %d/%d %v, want %q %d/%d", got, ton, npi, err, tt.want, tt.wantTON, tt.wantNPI)
			}
		})
	}
}

func TestSessValidity(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, ""},
		{-time.Second, ""},
		{time.Millisecond, "000000000001000R"},
		{90 * time.Second, "000000000130000R"},
		{2 * time.Hour, "000000020000000R"},
		{48*time.Hour + 3*time.Minute + 4*time.Second, "000002000304000R"},
		{1000 * 24 * time.Hour, "000099000000000R"},
	}
	for _, tt := range tests {
		got := sessValidity(tt.d)
		if got != tt.want {
			t.Errorf("%v: got %q want %q", tt.d, got, tt.want)
		}
		if got != "" && len(got) != 16 {
			t.Errorf("%v: %q is not 16 characters", tt.d, got)
		}
	}
}

func TestBindBackoff(t *testing.T) {
	const minD, maxD = time.Second, 60 * time.Second
	tests := []struct {
		n      int
		rnd    float64
		lo, hi time.Duration
	}{
		{0, 0, 500 * time.Millisecond, 500 * time.Millisecond},
		{0, 0.999, 500 * time.Millisecond, time.Second},
		{1, 0, time.Second, time.Second},
		{3, 0.5, 6 * time.Second, 6 * time.Second},
		{5, 0.999, 16 * time.Second, 32 * time.Second}, // 32s → [16s, 32s)
		{6, 0, 30 * time.Second, 30 * time.Second},     // 64s capped to 60s, half fixed
		{100, 0.999, 30 * time.Second, 60 * time.Second},
	}
	for _, tt := range tests {
		got := bindBackoff(tt.n, minD, maxD, tt.rnd)
		if got < tt.lo || got > tt.hi {
			t.Errorf("n=%d rnd=%v: %v not in [%v, %v]", tt.n, tt.rnd, got, tt.lo, tt.hi)
		}
		if got > maxD {
			t.Errorf("n=%d: %v above max", tt.n, got)
		}
	}
}

func TestStatusTemporary(t *testing.T) {
	tests := []struct {
		st   pdu.Status
		want bool
	}{
		{StatusThrottled, true},
		{StatusMsgQFul, true},
		{StatusSysErr, true},
		{StatusSubmitFail, true},
		{StatusRxTAppn, true},
		{StatusInvBndSts, true},
		{StatusBindFail, true},
		{StatusDeliveryFail, true},
		{StatusUnknownErr, true},
		{StatusInvMsgLen, false},
		{StatusInvCmdLen, false},
		{StatusInvCmdID, false},
		{StatusInvSrcAdr, false},
		{StatusInvDstAdr, false},
		{StatusInvPaswd, false},
		{StatusInvSysID, false},
		{StatusInvExpiry, false},
		{StatusRxPAppn, false},
		{StatusRxRAppn, false},
		{0x00000043, false}, // ESME_RINVESMCLASS
		{0x00000048, false}, // ESME_RINVSRCTON
		{0x00000051, false}, // ESME_RINVDSTNPI
		{0x000000C1, false}, // ESME_ROPTPARNOTALLWD
		{0x00000400, false}, // vendor specific
	}
	for _, tt := range tests {
		if got := StatusTemporary(tt.st); got != tt.want {
			t.Errorf("%#x (%v): got %v want %v", uint32(tt.st), tt.st, got, tt.want)
		}
	}
}

func TestIsTemporary(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"throttled", &SubmitError{Status: StatusThrottled, Temporary: true, Err: StatusThrottled}, true},
		{"bad dest", &SubmitError{Status: StatusInvDstAdr, Err: StatusInvDstAdr}, false},
		{"timeout", ErrTimeout, true},
		{"wrapped lost", errors.Join(errors.New("x"), ErrConnectionLost), true},
		{"not bound", ErrNotBound, true},
		{"closed", ErrClosed, true},
		{"bare status", StatusMsgQFul, true},
		{"bare permanent status", StatusInvSrcAdr, false},
		{"other", errors.New("boom"), false},
	}
	for _, tt := range tests {
		if got := IsTemporary(tt.err); got != tt.want {
			t.Errorf("%s: got %v want %v", tt.name, got, tt.want)
		}
	}
}
