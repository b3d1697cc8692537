package simulator

import (
	"encoding/binary"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/fiorix/go-smpp/smpp/pdu/pdufield"
	"github.com/fiorix/go-smpp/smpp/pdu/pdutext"
	"github.com/fiorix/go-smpp/smpp/pdu/pdutlv"
)

func TestGSMCodec(t *testing.T) {
	cases := []struct {
		text    string
		septets int
		ok      bool
	}{
		{"Hello", 5, true},
		{"@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCXYZÄÖÑÜ§¿abcxyzäöñüà", 87, true},
		{"{}[]~\\|^€\f", 20, true},
		{"price: 5€", 10, true},
		{"emoji 😀", 0, false},
		{"Cyrillic Ж", 0, false},
		{"ç lowercase cedilla is not GSM", 0, false},
		{"", 0, true},
	}
	for _, tc := range cases {
		n, ok := gsmSeptets(tc.text)
		if ok != tc.ok || n != tc.septets {
			t.Errorf("gsmSeptets(%q) = %d, %v; want %d, %v", tc.text, n, ok, tc.septets, tc.ok)
		}
		if !ok {
			continue
		}
		enc := appendGSM(nil, tc.text)
		if len(enc) != n {
			t.Errorf("%q encodes to %d octets, want %d", tc.text, len(enc), n)
		}
		if got := decodeGSM(enc); got != tc.text {
			t.Errorf("round trip %q -> %q", tc.text, got)
		}
	}
	// Receivers' rules from 03.38: unknown escape shows the basic
	// character, a trailing escape a space, octets above 0x7F '?'.
	for in, want := range map[string]string{
		"\x1b\x41":  "A",
		"ab\x1b":    "ab ",
		"\x80x":     "?x",
		"\x1b\x1bA": " A",
		"\x1b\x65":  "€",
		"\x00\x02":  "@$",
	} {
		if got := decodeGSM([]byte(in)); got != want {
			t.Errorf("decodeGSM(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDecodeText(t *testing.T) {
	ucs2 := func(s string) []byte {
		var b []byte
		for _, u := range utf16.Encode([]rune(s)) {
			b = binary.BigEndian.AppendUint16(b, u)
		}
		return b
	}
	cases := []struct {
		name string
		dc   byte
		in   []byte
		want string
	}{
		{"GSM with escapes", 0, appendGSM(nil, "a{b}€"), "a{b}€"},
		{"ASCII", 1, []byte("plain @ $"), "plain @ $"},
		{"ASCII with 8-bit octet", 1, []byte{'a', 0xE9}, "a?"},
		{"Latin-1", 3, []byte{'c', 'a', 'f', 0xE9}, "café"},
		{"UCS-2 BMP", 8, ucs2("Привет"), "Привет"},
		{"UCS-2 surrogate pair", 8, ucs2("ok 😀"), "ok 😀"},
		{"UCS-2 odd length", 8, append(ucs2("ab"), 0x00), "ab"},
		{"binary", 4, []byte{0xDE, 0xAD}, "dead"},
		{"class 1 GSM", 0xF1, appendGSM(nil, "hi"), "hi"},
		{"class 8-bit", 0xF5, []byte{1, 2}, "0102"},
	}
	for _, tc := range cases {
		if got := decodeText(tc.dc, tc.in); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestSubmitDataCodings submits over TCP with fiorix's Transceiver and
// checks what the simulator decoded.
func TestSubmitDataCodings(t *testing.T) {
	s := startSim(t, Config{})
	c := bindTRX(t, s, "smsgw", "secret")
	cases := []struct {
		name  string
		codec pdutext.Codec
		dc    byte
		want  string
	}{
		{"GSM 03.38 with extension table", coded{0, appendGSM(nil, "Total: 5€ {ok} [x] ~|^\\")}, 0, "Total: 5€ {ok} [x] ~|^\\"},
		{"UCS-2 (fiorix codec)", pdutext.UCS2("Привет 😀"), 8, "Привет 😀"},
		{"Latin-1 (fiorix codec)", pdutext.Latin1("Olá, café"), 3, "Olá, café"},
		{"IA5", coded{1, []byte("ascii text")}, 1, "ascii text"},
	}
	for _, tc := range cases {
		c.submit(t, "+447700900123", tc.codec, pdufield.NoDeliveryReceipt)
	}
	msgs := s.Messages()
	if len(msgs) != len(cases) {
		t.Fatalf("%d messages, want %d", len(msgs), len(cases))
	}
	for i, tc := range cases {
		if msgs[i].Text != tc.want || msgs[i].DataCoding != tc.dc {
			t.Errorf("%s: text %q dc %d, want %q dc %d", tc.name, msgs[i].Text, msgs[i].DataCoding, tc.want, tc.dc)
		}
		if msgs[i].SystemID != "smsgw" || msgs[i].From != "ACME" || msgs[i].To != "+447700900123" || msgs[i].ID == "" || msgs[i].At.IsZero() {
			t.Errorf("%s: %+v", tc.name, msgs[i])
		}
	}
}

func TestMessagePayloadTLV(t *testing.T) {
	s := startSim(t, Config{})
	c := bindTRX(t, s, "smsgw", "secret")
	long := strings.Repeat("payload ", 40) // 320 octets: too long for short_message
	sm := shortMessage("+447700900123", pdutext.Raw(""))
	sm.TLVFields = pdutlv.Fields{pdutlv.TagMessagePayload: []byte(long)}
	if _, err := c.Submit(sm); err != nil {
		t.Fatal(err)
	}
	if got := s.Messages()[0].Text; got != long {
		t.Fatalf("text %q", got)
	}
}

// TestLongMessagesIn sends concatenated messages in the three usual ways
// and checks parts and reassembly.
func TestLongMessagesIn(t *testing.T) {
	s := startSim(t, Config{})
	c := bindTRX(t, s, "smsgw", "secret")
	text16 := strings.Repeat("sixteen-bit reference ", 15) // 330 chars
	// 1. fiorix's SubmitLongMsg: UDH with a 16-bit reference (IEI 08).
	parts, err := c.SubmitLongMsg(shortMessage("+447700900001", pdutext.Raw(text16)))
	if err != nil {
		t.Fatal(err)
	}
	// 2. 8-bit reference UDH (IEI 00) with UCS-2 parts, as the gateway sends.
	textU := strings.Repeat("Ωmega ", 30) // 180 chars: 3 UCS-2 parts of 67
	u := utf16.Encode([]rune(textU))
	var n8 int
	for i := 0; i*67 < len(u); i++ {
		chunk := u[i*67 : min((i+1)*67, len(u))]
		sm := []byte{0x05, 0x00, 0x03, 0x2A, 3, byte(i + 1)}
		for _, x := range chunk {
			sm = binary.BigEndian.AppendUint16(sm, x)
		}
		msg := shortMessage("+447700900002", coded{8, sm})
		msg.ESMClass = 0x40
		if _, err := c.Submit(msg); err != nil {
			t.Fatal(err)
		}
		n8++
	}
	// 3. SAR TLVs, parts sent out of order.
	sar := []string{"first part, ", "second part, ", "third part."}
	for _, i := range []int{2, 0, 1} {
		msg := shortMessage("+447700900003", pdutext.Raw(sar[i]))
		msg.TLVFields = pdutlv.Fields{
			pdutlv.TagSarMsgRefNum:     []byte{0x01, 0x02},
			pdutlv.TagSarTotalSegments: uint8(3),
			pdutlv.TagSarSegmentSeqnum: uint8(i + 1),
		}
		if _, err := c.Submit(msg); err != nil {
			t.Fatal(err)
		}
	}
	msgs := s.Messages()
	if len(msgs) != len(parts)+n8+3 {
		t.Fatalf("%d messages, want %d", len(msgs), len(parts)+n8+3)
	}
	for _, m := range msgs {
		if m.PartTotal < 2 || m.PartSeq < 1 || m.PartSeq > m.PartTotal || m.ID == "" {
			t.Errorf("part %+v", m)
		}
	}
	if msgs[len(parts)].PartRef != 0x2A || msgs[len(msgs)-1].PartRef != 0x0102 {
		t.Errorf("references %d, %d", msgs[len(parts)].PartRef, msgs[len(msgs)-1].PartRef)
	}
	got := s.Reassembled()
	want := []string{text16, textU, strings.Join(sar, "")}
	if len(got) != len(want) {
		t.Fatalf("reassembled %d messages: %q", len(got), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("message %d: %q, want %q", i, got[i], want[i])
		}
	}
	// One receipt per part.
	if _, err := s.WaitStats(ctxT(t), func(st Stats) bool { return st.ReceiptsAcked == int64(len(msgs)) }); err != nil {
		t.Fatalf("%v: %+v", err, s.Stats())
	}
	ids := map[string]bool{}
	for range msgs {
		ids[parseReceipt(t, c.next(t)).tlvID] = true
	}
	for _, m := range msgs {
		if !ids[m.ID] {
			t.Errorf("no receipt for part %s", m.ID)
		}
	}
}

func TestReassembledSkipsIncompleteAndReusedReferences(t *testing.T) {
	s := startSim(t, Config{})
	c := bindTRX(t, s, "smsgw", "secret")
	send := func(ref, total, seq byte, text string) {
		t.Helper()
		msg := shortMessage("+447700900001", coded{0, append([]byte{5, 0, 3, ref, total, seq}, appendGSM(nil, text)...)})
		msg.ESMClass = 0x40
		msg.Register = 0
		if _, err := c.Submit(msg); err != nil {
			t.Fatal(err)
		}
	}
	send(7, 2, 1, "a")
	send(7, 2, 2, "b")
	send(7, 2, 2, "d") // reference 7 reused for a new message
	send(7, 2, 1, "c")
	send(9, 3, 1, "incomplete")
	if _, err := c.Submit(shortMessage("+447700900002", pdutext.Raw("single"))); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(s.Reassembled(), "|")
	if got != "ab|cd|single" {
		t.Fatalf("reassembled %q", got)
	}
}
