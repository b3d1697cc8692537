package simulator

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fiorix/go-smpp/smpp/pdu/pdufield"
	"github.com/fiorix/go-smpp/smpp/pdu/pdutext"
)

// TestOutcomeTable covers every row of the contract's table (section 7).
func TestOutcomeTable(t *testing.T) {
	s := startSim(t, Config{})
	c := bindTRX(t, s, "smsgw", "secret")
	cases := []struct {
		dst, stat, err string
		state          byte
	}{
		{"+447700901400", "UNDELIV", "001", 5},
		{"+447700901404", "UNDELIV", "027", 5},
		{"+447700901408", "REJECTD", "000", 8},
		{"+447700901409", "UNKNOWN", "000", 7},
		{"+447700901410", "EXPIRED", "027", 3},
		{"+447700900123", "DELIVRD", "000", 2},
		{"447700900001", "DELIVRD", "000", 2},
	}
	// 1499 first: receipts go out in submit order, so when the next
	// receipt arrives we know none was sent for it.
	c.submit(t, "+447700901499", pdutext.Raw("silence"), pdufield.FinalDeliveryReceipt)
	for _, tc := range cases {
		t.Run(tc.dst, func(t *testing.T) {
			before := time.Now().UTC().Add(-time.Minute)
			id := c.submit(t, tc.dst, pdutext.Raw("Hello world, this is longer than twenty"), pdufield.FinalDeliveryReceipt)
			r := parseReceipt(t, c.next(t))
			if r.esmClass != 0x04 {
				t.Errorf("esm_class %#x, want 0x04", r.esmClass)
			}
			if r.fields["id"] != id || r.tlvID != id {
				t.Errorf("receipt ids text %q tlv %q, submit_sm_resp %q", r.fields["id"], r.tlvID, id)
			}
			if r.fields["stat"] != tc.stat || r.fields["err"] != tc.err || r.tlvState != tc.state {
				t.Errorf("stat %q err %q message_state %d, want %s %s %d (%q)", r.fields["stat"], r.fields["err"], r.tlvState, tc.stat, tc.err, tc.state, r.text)
			}
			wantDlvrd := "000"
			if tc.stat == "DELIVRD" {
				wantDlvrd = "001"
			}
			if r.fields["sub"] != "001" || r.fields["dlvrd"] != wantDlvrd {
				t.Errorf("sub %q dlvrd %q", r.fields["sub"], r.fields["dlvrd"])
			}
			if r.fields["text"] != "Hello world, this is" {
				t.Errorf("text %q, want the first 20 characters", r.fields["text"])
			}
			for _, k := range []string{"submit date", "done date"} {
				d, err := time.Parse("0601021504", r.fields[k])
				if err != nil || d.Before(before.Truncate(time.Minute)) || d.After(time.Now().UTC().Add(time.Minute)) {
					t.Errorf("%s %q: %v", k, r.fields[k], err)
				}
			}
			// The receipt comes from the handset to the sender.
			if r.src != tc.dst || r.dst != "ACME" {
				t.Errorf("receipt from %q to %q", r.src, r.dst)
			}
		})
	}
	st := s.Stats()
	if st.ReceiptsSent != int64(len(cases)) || st.SubmitSM != int64(len(cases)+1) {
		t.Fatalf("stats %+v", st)
	}
}

func TestRegisteredDelivery(t *testing.T) {
	s := startSim(t, Config{})
	c := bindTRX(t, s, "smsgw", "secret")
	cases := []struct {
		name     string
		dst      string
		register pdufield.DeliverySetting
		want     bool
	}{
		{"none asked, delivered", "+447700900001", pdufield.NoDeliveryReceipt, false},
		{"none asked, failed", "+447700901400", pdufield.NoDeliveryReceipt, false},
		{"failure only, delivered", "+447700900002", pdufield.FailureDeliveryReceipt, false},
		{"failure only, failed", "+447700901404", pdufield.FailureDeliveryReceipt, true},
		{"final, delivered", "+447700900003", pdufield.FinalDeliveryReceipt, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id := c.submit(t, tc.dst, pdutext.Raw("x"), tc.register)
			// A marker after each case: its receipt arrives after any
			// receipt for the case itself.
			marker := c.submit(t, "+447700900999", pdutext.Raw("marker"), pdufield.FinalDeliveryReceipt)
			r := parseReceipt(t, c.next(t))
			if tc.want {
				if r.tlvID != id {
					t.Fatalf("got receipt for %q, want %q", r.tlvID, id)
				}
				r = parseReceipt(t, c.next(t))
			}
			if r.tlvID != marker {
				t.Fatalf("got receipt for %q, want the marker %q", r.tlvID, marker)
			}
		})
	}
}

func TestRules(t *testing.T) {
	s := startSim(t, Config{Rules: []Rule{
		{Suffix: "77", Stat: "DELETED"},
		{Suffix: "88", Stat: "UNDELIV", Err: "5"},
		{Suffix: "1400", Stat: "ACCEPTD", Probability: 1},
		{Suffix: "99", NoReceipt: true},
		{Suffix: "55", Stat: "REJECTD", Probability: 0.000001}, // almost never: falls through to the table
	}})
	c := bindTRX(t, s, "smsgw", "secret")
	cases := []struct{ dst, stat, err string }{
		{"+447700900077", "DELETED", "000"},
		{"+447700900088", "UNDELIV", "005"},
		{"+447700901400", "ACCEPTD", "000"}, // a rule overrides the table
		{"+447700900055", "DELIVRD", "000"},
	}
	c.submit(t, "+447700900099", pdutext.Raw("x"), pdufield.FinalDeliveryReceipt)
	for _, tc := range cases {
		c.submit(t, tc.dst, pdutext.Raw("x"), pdufield.FinalDeliveryReceipt)
		r := parseReceipt(t, c.next(t))
		if r.src != tc.dst || r.fields["stat"] != tc.stat || r.fields["err"] != tc.err {
			t.Errorf("%s: got %q", tc.dst, r.text)
		}
	}
}

func TestRuleProbability(t *testing.T) {
	s := startSim(t, Config{Rules: []Rule{{Suffix: "", Stat: "UNDELIV", Probability: 0.5}}})
	c := bindTRX(t, s, "smsgw", "secret")
	const n = 200
	for i := range n {
		c.submit(t, "+4477009"+strconv.Itoa(10000+i), pdutext.Raw("x"), pdufield.FinalDeliveryReceipt)
	}
	undeliv := 0
	for range n {
		if parseReceipt(t, c.next(t)).fields["stat"] == "UNDELIV" {
			undeliv++
		}
	}
	// Binomial(200, 0.5): outside [60, 140] has probability < 1e-8.
	if undeliv < 60 || undeliv > 140 {
		t.Fatalf("%d of %d UNDELIV with probability 0.5", undeliv, n)
	}
}

func TestIDFormats(t *testing.T) {
	cases := []struct {
		format string
		swap   bool
	}{{"hex", false}, {"dec", false}, {"hex", true}, {"dec", true}}
	for _, tc := range cases {
		t.Run(tc.format+map[bool]string{true: "-swapped"}[tc.swap], func(t *testing.T) {
			s := startSim(t, Config{IDFormat: tc.format, Faults: Faults{SwapIDFormat: tc.swap}})
			c := bindTRX(t, s, "smsgw", "secret")
			seen := map[string]bool{}
			for range 5 {
				id := c.submit(t, "+447700900123", pdutext.Raw("x"), pdufield.FinalDeliveryReceipt)
				if seen[id] {
					t.Fatalf("id %s handed out twice", id)
				}
				seen[id] = true
				base := 16
				if tc.format == "dec" {
					base = 10
				}
				n, err := strconv.ParseUint(id, base, 64)
				if err != nil {
					t.Fatalf("id %q is not %s: %v", id, tc.format, err)
				}
				want := id
				if tc.swap {
					want = strconv.FormatUint(n, 26-base) // the other base
				}
				r := parseReceipt(t, c.next(t))
				if r.tlvID != want || r.fields["id"] != want {
					t.Fatalf("receipt id %q / %q, want %q (submit_sm_resp %q)", r.tlvID, r.fields["id"], want, id)
				}
			}
		})
	}
}

func TestReceiptDelay(t *testing.T) {
	s := startSim(t, Config{ReceiptDelay: 150 * time.Millisecond, ReceiptDelayMax: 250 * time.Millisecond})
	c := bindTRX(t, s, "smsgw", "secret")
	start := time.Now()
	c.submit(t, "+447700900123", pdutext.Raw("x"), pdufield.FinalDeliveryReceipt)
	c.next(t)
	if el := time.Since(start); el < 150*time.Millisecond {
		t.Fatalf("receipt after %v, want at least 150ms", el)
	}
}

func TestReceiptExcerptKeepsOnlyPortableCharacters(t *testing.T) {
	got := string(appendReceiptExcerpt(nil, "a@b$c_d[é€xyz0123456789"))
	if got != "a.b.c.d...xyz0123456" {
		t.Fatalf("excerpt %q", got)
	}
	if strings.Contains(string(appendReceiptExcerpt(nil, "ok")), ".") {
		t.Fatal("plain text changed")
	}
}
