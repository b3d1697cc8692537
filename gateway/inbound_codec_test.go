package gateway

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/smsgw/smsgw/smpp"
)

func codecInboundItems() []inboundItem {
	at := time.Date(2026, 11, 22, 10, 0, 4, 123456789, time.UTC)
	return []inboundItem{
		{},
		{SMSC: "sim", ReceivedAt: at, Inbound: smpp.Inbound{IsReceipt: true, ESMClass: 4, From: "447700900123", To: "Acme",
			Receipt: smpp.Receipt{ID: "a1b2", Sub: "001", Dlvrd: "001", SubmitDate: at.Truncate(time.Minute), DoneDate: at.Truncate(time.Minute),
				Stat: "DELIVRD", Err: "000", Text: "hello <&>", MessageState: 2, Final: true, Delivered: true}}},
		{SMSC: "sim", ReceivedAt: at.In(time.FixedZone("x", 3600)), Inbound: smpp.Inbound{From: "447700900123", To: "12345",
			FromTON: 1, FromNPI: 1, ToTON: 255, DataCoding: 8, ESMClass: 0x40, Text: "stop \"now\" 😀\n",
			Concat:  &smpp.ConcatInfo{Ref: 65535, Total: 3, Seq: 2},
			Receipt: smpp.Receipt{NetworkErrorCode: []byte{3, 0, 1}}}},
		{Inbound: smpp.Inbound{Receipt: smpp.Receipt{NetworkErrorCode: []byte{}}}},
	}
}

func checkInboundDecode(t *testing.T, b []byte) {
	t.Helper()
	var got, want inboundItem
	err := unmarshalInboundItem(b, &got)
	werr := json.Unmarshal(b, &want)
	if (err == nil) != (werr == nil) || (err != nil && err.Error() != werr.Error()) {
		t.Fatalf("%q: error %v, encoding/json %v", b, err, werr)
	}
	if err == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%q:\n got %#v\nwant %#v", b, got, want)
	}
}

var inboundOddInputs = []string{
	``, `null`, `{}`, `{"inbound":{"Concat":{"Ref":1},"Concat":{"Seq":2}}}`, `{"inbound":{"Concat":null}}`,
	`{"inbound":{"FromTON":256}}`, `{"inbound":{"Concat":{"Ref":65536}}}`, `{"inbound":{"Receipt":{"NetworkErrorCode":"AwAB"}}}`,
	`{"inbound":{"Receipt":{"NetworkErrorCode":"A"}}}`, `{"inbound":{"Receipt":{"NetworkErrorCode":"AwAB\n"}}}`,
	`{"inbound":{"Receipt":{"NetworkErrorCode":""}}}`, `{"inbound":{"Receipt":{"Final":true},"Receipt":{"Stat":"X"}}}`,
	`{"smsc":"a","SMSC":"b"}`, `{"inbound":{"isreceipt":true}}`, `{"received_at":"2026-11-22T10:00:04Z"}`, `{"inbound":nul}`,
}

func TestInboundCodecAsEncodingJSON(t *testing.T) {
	for i, it := range codecInboundItems() {
		got, err := marshalInboundItem(&it)
		want, werr := json.Marshal(it)
		if err != nil || werr != nil || !bytes.Equal(got, want) {
			t.Fatalf("%d:\n got %s (%v)\nwant %s (%v)", i, got, err, want, werr)
		}
		checkInboundDecode(t, got)
	}
	for _, s := range inboundOddInputs {
		checkInboundDecode(t, []byte(s))
	}
}

func FuzzInboundDecode(f *testing.F) {
	for _, it := range codecInboundItems() {
		b, _ := marshalInboundItem(&it)
		f.Add(b)
	}
	for _, s := range inboundOddInputs {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkInboundDecode(t, b) })
}
