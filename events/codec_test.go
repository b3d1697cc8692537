package events

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/smsgw/smsgw/internal/jsonx"
)

// codecSamples are envelopes covering every field, empty and full, and the
// string escapes encoding/json applies.
func codecSamples() []Event {
	ts := time.Date(2026, 11, 22, 10, 0, 4, 123456789, time.UTC)
	st := 88
	return []Event{
		{},
		{Type: MessageSent, Timestamp: Time{ts}},
		{ID: "evt_01J", Type: MessageDelivered, Timestamp: Time{ts.In(time.FixedZone("x", 3600))}, Data: Data{
			MessageID: "msg_1", To: "+447700900123", From: "Acme", Status: "delivered", PartCount: 2,
			Metadata: map[string]string{"b": "2", "a": "1", "<&>": "\u2028\u2029", "": ""}, SMSC: "sim",
			SubmittedAt: At(ts), DoneAt: At(ts.Add(time.Second)), Sequence: 2,
		}},
		{ID: "evt_2", Type: MessageUndelivered, Timestamp: Time{ts}, Data: Data{
			MessageID: "msg_2", Reason: NewReason(HardBounce, "UNDELIV", "001"), Sequence: 3,
		}},
		{ID: "evt_3", Type: MessageFailed, Timestamp: Time{ts}, Data: Data{
			Reason: &Reason{Message: "no route \"x\"\n\t\\ <b>", SMPPStatus: &st},
		}},
		{ID: "evt_4", Type: MessageInbound, Timestamp: Time{ts}, Data: Data{
			Text: "héllo \x00\x1f\x7f 😀 \xff broken", ReceivedAt: At(ts), InReplyTo: "msg_9",
			Number: "+1", Keyword: "STOP", EndpointID: "ep", URL: "https://x/?a=1&b=2", Sequence: -1,
		}},
		{Type: ContactOptedOut, Timestamp: Time{time.Time{}}, Data: Data{Reason: &Reason{}, Metadata: map[string]string{}}},
	}
}

func TestCodecEncodesAsEncodingJSON(t *testing.T) {
	for i, e := range codecSamples() {
		got, err := e.Marshal()
		want, werr := json.Marshal(e)
		if err != nil || werr != nil || !bytes.Equal(got, want) {
			t.Errorf("%d: Marshal\n got %s (%v)\nwant %s (%v)", i, got, err, want, werr)
		}
		got, err = e.WebhookBody()
		want, werr = json.Marshal(webhookBody{Type: e.Type, Timestamp: e.Timestamp, Data: e.Data})
		if err != nil || werr != nil || !bytes.Equal(got, want) {
			t.Errorf("%d: WebhookBody\n got %s (%v)\nwant %s (%v)", i, got, err, want, werr)
		}
	}
}

// checkUnmarshal compares Unmarshal with plain encoding/json on b.
func checkUnmarshal(t *testing.T, b []byte) {
	t.Helper()
	got, err := Unmarshal(b)
	want, werr := unmarshalSlow(b)
	if (err == nil) != (werr == nil) || (err != nil && err.Error() != werr.Error()) {
		t.Fatalf("%q: error %v, encoding/json %v", b, err, werr)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q:\n got %#v\nwant %#v", b, got, want)
	}
}

func TestCodecDecodesAsEncodingJSON(t *testing.T) {
	for _, e := range codecSamples() {
		b, _ := e.Marshal()
		checkUnmarshal(t, b)
		// The fast path must have taken it (no fallback for our own bytes).
		var x Event
		dec := newDecoder(b)
		x.Decode(dec)
		if !dec.Finish() {
			t.Errorf("fast path refused %s", b)
		}
	}
	for _, s := range codecOddInputs {
		checkUnmarshal(t, []byte(s))
	}
}

var codecOddInputs = []string{
	``, `null`, `{}`, ` { "type" : "x" , "data" : { "sequence" : 1 } } `, `{"type":"x"}{}`, `{"type":"x",}`,
	`{"ID":"a","id":"b"}`, `{"id":"a","ID":"b"}`, `{"type":"a\u00e9\ud83d\ude00\ud800x\n\/"}`, `{"type":"\'"}`,
	`{"type":"\x"}`, `{"type":"\u12"}`, `{"type":1}`, `{"timestamp":"2026-11-22T10:00:04Z"}`,
	`{"timestamp":"2026-11-22T10:00:04.5+01:00"}`, `{"timestamp":"bad"}`, `{"timestamp":null}`,
	`{"data":{"sequence":1.0}}`, `{"data":{"sequence":1e2}}`, `{"data":{"sequence":-0}}`, `{"data":{"sequence":01}}`,
	`{"data":{"sequence":99999999999999999999}}`, `{"data":{"metadata":{"a":"1"},"metadata":{"b":"2"}}}`,
	`{"data":{"metadata":null}}`, `{"data":{"reason":{"code":1},"reason":{"message":"m"}}}`,
	`{"data":{"reason":{"smpp_status":5}},"data":{"to":"x"}}`, `{"data":{"unknown":1}}`, `{"data":[]}`,
	"{\"type\":\"\xff\"}", "{\"type\":\"a\tb\"}", `{"data":{"part_count":true}}`, `{"type":"x"`, `{"type"`, `{`,
	`{"data":{"submitted_at":"2026-11-22T10:00:04.000Z","submitted_at":"2026-11-22T10:00:05.000Z"}}`,
}

func FuzzUnmarshal(f *testing.F) {
	for _, e := range codecSamples() {
		b, _ := e.Marshal()
		f.Add(b)
	}
	for _, s := range codecOddInputs {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkUnmarshal(t, b)
	})
}

func FuzzMarshal(f *testing.F) {
	f.Add("evt_1", "message.sent", "msg_1", "héllo <&> \u2028", "k", "v", int64(1_700_000_000_123), 3, true)
	f.Add("", "", "", "\xff\x00", "", "", int64(0), 0, false)
	f.Fuzz(func(t *testing.T, id, typ, msgID, text, mk, mv string, unixMilli int64, seq int, reason bool) {
		e := Event{ID: id, Type: typ, Timestamp: Time{time.UnixMilli(unixMilli % (1 << 40))}, Data: Data{
			MessageID: msgID, Text: text, Metadata: map[string]string{mk: mv, mv: mk}, Sequence: seq,
		}}
		if reason {
			e.Data.Reason = &Reason{Message: text, SMPPStatus: &seq}
			e.Data.DoneAt = At(e.Timestamp.Time)
		}
		got, _ := e.Marshal()
		want, err := json.Marshal(e)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("Marshal\n got %s\nwant %s (%v)", got, want, err)
		}
		checkUnmarshal(t, got)
	})
}

func newDecoder(b []byte) *jsonx.Decoder { return jsonx.NewDecoder(b) }

func BenchmarkCodec(b *testing.B) {
	e := codecSamples()[2]
	enc, _ := e.Marshal()
	b.Run("Marshal", func(b *testing.B) {
		for b.Loop() {
			_, _ = e.Marshal()
		}
	})
	b.Run("MarshalEncodingJSON", func(b *testing.B) {
		for b.Loop() {
			_, _ = json.Marshal(e)
		}
	})
	b.Run("Unmarshal", func(b *testing.B) {
		for b.Loop() {
			_, _ = Unmarshal(enc)
		}
	})
	b.Run("UnmarshalEncodingJSON", func(b *testing.B) {
		for b.Loop() {
			_, _ = unmarshalSlow(enc)
		}
	})
}

// parseUTC agrees with time.Parse wherever it answers.
func FuzzParseUTC(f *testing.F) {
	for _, s := range []string{"2026-11-22T10:00:04.123Z", "2026-11-22T10:00:04Z", "2024-02-29T23:59:59.999999999Z",
		"2026-02-29T00:00:00Z", "2026-13-01T00:00:00Z", "2026-11-22T24:00:00Z", "2026-11-22T10:00:60Z", "0000-01-01T00:00:00.1Z",
		"2026-11-22T10:00:04.Z", "2026-11-22T10:00:04.1234567890Z", "2026-11-22T10:00:04+01:00", "2026-04-31T00:00:00Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseUTC(s)
		if !ok {
			return
		}
		want, err := time.Parse(time.RFC3339Nano, s)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: %v, time.Parse %v %v", s, got, want, err)
		}
	})
}
