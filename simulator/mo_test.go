package simulator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/fiorix/go-smpp/smpp/pdu"
	"github.com/fiorix/go-smpp/smpp/pdu/pdufield"
)

// moPart is one MO deliver_sm as fiorix's client decoded it.
type moPart struct {
	srcTON, srcNPI, dstTON, dstNPI byte
	src, dst                       string
	esmClass, dc                   byte
	udh                            []byte // concatenation IE data: ref, total, seq
	ud                             []byte
}

func readMOPart(t *testing.T, p pdu.Body) moPart {
	t.Helper()
	f := p.Fields()
	m := moPart{
		srcTON: fixed(f, pdufield.SourceAddrTON), srcNPI: fixed(f, pdufield.SourceAddrNPI),
		dstTON: fixed(f, pdufield.DestAddrTON), dstNPI: fixed(f, pdufield.DestAddrNPI),
		src: str(f, pdufield.SourceAddr), dst: str(f, pdufield.DestinationAddr),
		esmClass: fixed(f, pdufield.ESMClass), dc: fixed(f, pdufield.DataCoding),
		ud: f[pdufield.ShortMessage].Bytes(),
	}
	if l, ok := f[pdufield.GSMUserData].(*pdufield.UDHList); ok {
		for _, ie := range l.Data {
			if ie.IEI.Data == 0x00 {
				m.udh = ie.IEData.Data
			}
		}
	}
	return m
}

func TestInjectMO(t *testing.T) {
	s := startSim(t, Config{})
	c := bindTRX(t, s, "smsgw", "secret")
	longGSM := strings.Repeat("Reply YES or NO {please} ", 20) // 500 septets + escapes
	longUCS := strings.Repeat("Да 😀 ", 30)                     // 180 UTF-16 units
	cases := []struct {
		name           string
		mo             MO
		dc             byte
		parts          int
		srcTON, dstTON byte
		src, dst       string
	}{
		{"contract example", MO{"+447700900123", "ACME", "YES"}, 0, 1, 1, 5, "447700900123", "ACME"},
		{"GSM extension", MO{"+447700900123", "+447700900000", "5€ [ok]"}, 0, 1, 1, 1, "447700900123", "447700900000"},
		{"exactly 160 septets", MO{"+447700900123", "12345", strings.Repeat("x", 158) + "€"}, 0, 1, 1, 3, "447700900123", "12345"},
		{"UCS-2", MO{"447700900123", "ACME", "Привет"}, 8, 1, 1, 5, "447700900123", "ACME"},
		{"long GSM", MO{"+447700900123", "ACME", longGSM}, 0, 4, 1, 5, "447700900123", "ACME"},
		{"long UCS-2", MO{"+447700900123", "ACME", longUCS}, 8, 3, 1, 5, "447700900123", "ACME"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.InjectMO(ctxT(t), tc.mo); err != nil {
				t.Fatal(err)
			}
			var text string
			var ref byte
			for i := range tc.parts {
				p := readMOPart(t, c.next(t))
				if p.srcTON != tc.srcTON || p.srcNPI != map[byte]byte{1: 1, 3: 0, 5: 0}[tc.srcTON] || p.src != tc.src {
					t.Errorf("source %d/%d %q", p.srcTON, p.srcNPI, p.src)
				}
				if p.dstTON != tc.dstTON || p.dst != tc.dst {
					t.Errorf("destination %d %q", p.dstTON, p.dst)
				}
				if p.dc != tc.dc {
					t.Errorf("data_coding %d, want %d", p.dc, tc.dc)
				}
				if tc.parts == 1 {
					if p.esmClass != 0 || p.udh != nil {
						t.Errorf("single part with esm_class %#x udh %x", p.esmClass, p.udh)
					}
				} else {
					if p.esmClass != 0x40 || len(p.udh) != 3 || int(p.udh[1]) != tc.parts || int(p.udh[2]) != i+1 {
						t.Fatalf("part %d: esm_class %#x udh %x", i+1, p.esmClass, p.udh)
					}
					if i == 0 {
						ref = p.udh[0]
					} else if p.udh[0] != ref {
						t.Errorf("part %d reference %d, want %d", i+1, p.udh[0], ref)
					}
					max := 153
					if tc.dc == 8 {
						max = 134
					}
					if len(p.ud) > max {
						t.Errorf("part %d has %d octets", i+1, len(p.ud))
					}
				}
				text += decodeText(p.dc, p.ud)
			}
			if text != tc.mo.Text {
				t.Errorf("text %q, want %q", text, tc.mo.Text)
			}
		})
	}
	st, err := s.WaitStats(ctxT(t), func(st Stats) bool { return st.MOAcked == 11 })
	if err != nil || st.MOSent != 11 || st.DeliverSM != 11 || st.ReceiptsSent != 0 {
		t.Fatalf("%v: %+v", err, st)
	}
}

func TestSplitMOKeepsEscapesAndSurrogatesWhole(t *testing.T) {
	// 152 'x' then '€' (2 septets) would straddle the 153-septet cut.
	sms, dc, err := splitMO(strings.Repeat("x", 152)+"€"+strings.Repeat("y", 10), 1)
	if err != nil || dc != 0 || len(sms) != 2 || len(sms[0]) != 6+152 || decodeGSM(sms[1][6:]) != "€"+strings.Repeat("y", 10) {
		t.Fatalf("GSM split: %v dc %d parts %d", err, dc, len(sms))
	}
	// 66 units then an emoji (2 units) would straddle the 67-unit cut.
	sms, dc, err = splitMO(strings.Repeat("ж", 66)+"😀"+"жжжжж", 1)
	if err != nil || dc != 8 || len(sms) != 2 || len(sms[0]) != 6+132 || decodeUCS2(sms[1][6:]) != "😀жжжжж" {
		t.Fatalf("UCS-2 split: %v dc %d parts %d", err, dc, len(sms))
	}
	if _, _, err := splitMO(strings.Repeat("x", 153*256), 1); !errors.Is(err, ErrMOTooLong) {
		t.Fatalf("256 parts: %v", err)
	}
}

func TestInjectMOErrors(t *testing.T) {
	s := startSim(t, Config{})
	if err := s.InjectMO(ctxT(t), MO{"+447700900123", "ACME", "YES"}); !errors.Is(err, ErrNoReceiver) {
		t.Fatalf("no bind: %v", err)
	}
	// A transmitter cannot receive.
	dialRaw(t, s).mustBind(t, pdu.NewBindTransmitter())
	if err := s.InjectMO(ctxT(t), MO{"+447700900123", "ACME", "YES"}); !errors.Is(err, ErrNoReceiver) {
		t.Fatalf("transmitter only: %v", err)
	}
	bindTRX(t, s, "smsgw", "secret")
	for _, mo := range []MO{
		{"", "ACME", "x"},
		{"+447700900123", "", "x"},
		{"+447700900123", "ACME", ""},
		{"+447700900123", "ACME\x01", "x"},
		{"+123456789012345678901", "ACME", "x"},
	} {
		if err := s.InjectMO(ctxT(t), mo); !errors.Is(err, ErrInvalidMO) {
			t.Errorf("%+v: %v", mo, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.InjectMO(ctx, MO{"+447700900123", "ACME", "x"}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
}

// TestMORoundRobin: with several receivers of any system_id, MO messages
// are spread over them in turn.
func TestMORoundRobin(t *testing.T) {
	s := startSim(t, Config{Credentials: []Credential{{"a", "pa"}, {"b", "pb"}}})
	a := bindTRX(t, s, "a", "pa")
	b := bindTRX(t, s, "b", "pb")
	for range 6 {
		if err := s.InjectMO(ctxT(t), MO{"+447700900123", "ACME", "hi"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.WaitStats(ctxT(t), func(st Stats) bool { return st.MOAcked == 6 }); err != nil {
		t.Fatal(err)
	}
	a.mu.Lock()
	b.mu.Lock()
	na, nb := len(a.got), len(b.got)
	b.mu.Unlock()
	a.mu.Unlock()
	if na != 3 || nb != 3 {
		t.Fatalf("a got %d, b got %d; want 3 each", na, nb)
	}
}

func TestControlAPI(t *testing.T) {
	s := startSim(t, Config{HTTPAddr: "127.0.0.1:0"})
	base := "http://" + s.HTTPAddr()
	post := func(body string) (*http.Response, map[string]any) {
		t.Helper()
		resp, err := http.Post(base+"/mo", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		return resp, m
	}
	resp, m := post(`{"from": "+447700900123", "to": "ACME", "text": "YES"}`)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Content-Type") != "application/problem+json" || m["status"] != float64(503) {
		t.Fatalf("no receiver: %d %v", resp.StatusCode, m)
	}
	c := bindTRX(t, s, "smsgw", "secret")
	resp, m = post(`{"from": "+447700900123", "to": "ACME", "text": "YES"}`)
	if resp.StatusCode != http.StatusAccepted || m["parts"] != float64(1) {
		t.Fatalf("POST /mo: %d %v", resp.StatusCode, m)
	}
	if p := readMOPart(t, c.next(t)); p.src != "447700900123" || string(p.ud) != "YES" {
		t.Fatalf("delivered %+v", p)
	}
	for _, bad := range []string{
		`{"from": "+447700900123", "to": "ACME"}`,
		`{"from": "+447700900123", "to": "ACME", "text": "x", "extra": 1}`,
		`not json`,
		`{"from": "+447700900123", "to": "ACME", "text": "x"} {}`,
	} {
		if resp, _ := post(bad); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", bad, resp.StatusCode)
		}
	}
	if resp, _ := post(`{"text": "` + strings.Repeat("x", maxMOBody) + `"}`); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("huge body: status %d", resp.StatusCode)
	}
	c.submit(t, "+447700900123", coded{0, []byte("hi")}, pdufield.FinalDeliveryReceipt)
	if _, err := s.WaitStats(ctxT(t), func(st Stats) bool { return st.ReceiptsAcked == 1 && st.MOAcked == 1 }); err != nil {
		t.Fatal(err)
	}

	r, err := http.Get(base + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.NewDecoder(r.Body).Decode(&raw); err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	for _, k := range []string{"binds", "submit_sm", "deliver_sm", "receipts_sent", "receipts_acked", "receipts_retried", "throttled", "mo_sent"} {
		if _, ok := raw[k].(float64); !ok {
			t.Errorf("stats %s = %v, want a number", k, raw[k])
		}
	}
	if raw["binds"] != float64(1) || raw["submit_sm"] != float64(1) || raw["mo_sent"] != float64(1) || raw["deliver_sm"] != float64(2) {
		t.Errorf("stats %v", raw)
	}
	if pdus, _ := raw["pdus"].(map[string]any); pdus["submit_sm"] != float64(1) || pdus["bind_transceiver"] != float64(1) {
		t.Errorf("pdus %v", raw["pdus"])
	}

	r, err = http.Get(base + "/messages")
	if err != nil {
		t.Fatal(err)
	}
	var msgs []Submitted
	if err := json.NewDecoder(r.Body).Decode(&msgs); err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if len(msgs) != 1 || msgs[0].Text != "hi" {
		t.Fatalf("messages %+v", msgs)
	}
	if r, err := http.Post(base+"/stats", "application/json", bytes.NewReader(nil)); err != nil || r.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST /stats: %v %v", err, r.StatusCode)
	}
}
