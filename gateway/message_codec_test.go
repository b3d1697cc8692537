package gateway

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/smsgw/smsgw/events"
)

// codecRecords are records in every state, with the strings encoding/json
// escapes.
func codecRecords() []*Message {
	created := time.Date(2026, 11, 22, 10, 0, 4, 123456789, time.UTC)
	sub := created.Add(20 * time.Millisecond)
	done := sub.Add(time.Second).In(time.FixedZone("x", -7200))
	st := 11
	sent := events.Event{ID: "evt_a", Type: events.MessageSent, Timestamp: events.Time{Time: sub}, Data: events.Data{
		MessageID: "msg_1", To: "+447700900123", From: "Acme", Status: StatusSent, PartCount: 2,
		Metadata: map[string]string{"order": "42", "<x>": "a&b"}, SMSC: "sim", SubmittedAt: events.At(sub), Sequence: 1,
	}}
	undeliv := events.Event{ID: "evt_b", Type: events.MessageUndelivered, Timestamp: events.Time{Time: done}, Data: events.Data{
		MessageID: "msg_1", Status: StatusUndelivered, Reason: events.NewReason(events.HardBounce, "UNDELIV", "001"), Sequence: 2,
	}}
	return []*Message{
		{},
		{ID: "msg_1", Account: "acme", To: "+447700900123", From: "Acme", Text: "hello", Encoding: "gsm7", Parts: 1,
			Status: StatusAccepted, CreatedAt: created},
		{ID: "msg_1", Account: "acme", To: "+447700900123", From: "Acme", Text: "héllo \"<b>\" \n\t\x01 \u2028 😀 \xfe",
			Encoding: "ucs2", Parts: 2, Metadata: map[string]string{"order": "42", "<x>": "a&b"},
			CallbackURL: "https://example.com/cb?a=1&b=2", Validity: 90 * time.Minute, Route: "sim",
			Status: StatusUndelivered, CreatedAt: created, SMSC: "sim", SubmittedAt: &sub, DoneAt: &done,
			PartIDs: []string{"a1", "a2"}, PartStates: []PartState{
				{Final: true, Delivered: true, Stat: "DELIVRD", Err: "000", DoneAt: &done},
				{Final: true, Stat: "UNDELIV", Err: "001", DoneAt: &sub},
			}, Sequence: 2, Events: []events.Event{sent, undeliv}, SubmitAttempts: 3},
		{ID: "msg_2", Status: StatusFailed, CreatedAt: created.Local(), PartIDs: []string{}, PartStates: []PartState{{}},
			Metadata: map[string]string{}, Events: []events.Event{{Type: events.MessageFailed, Data: events.Data{
				Reason: &events.Reason{Message: "no route", SMPPStatus: &st}}}}},
	}
}

func TestRecordCodecEncodesAsEncodingJSON(t *testing.T) {
	for i, m := range codecRecords() {
		got, err := m.MarshalRecord()
		want, werr := json.Marshal(m)
		if err != nil || werr != nil || !bytes.Equal(got, want) {
			t.Errorf("%d:\n got %s (%v)\nwant %s (%v)", i, got, err, want, werr)
		}
		got = appendSubmitRequest(nil, m.ID, m.Account, want, uint64(i))
		want, _ = json.Marshal(SubmitRequest{ID: m.ID, Account: m.Account, Record: want, Revision: uint64(i)})
		if !bytes.Equal(got, want) {
			t.Errorf("%d: submit entry\n got %s\nwant %s", i, got, want)
		}
	}
	// A time encoding/json refuses is refused the same way.
	bad := &Message{CreatedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}
	if _, err := bad.MarshalRecord(); err == nil {
		t.Error("year 10000 encoded")
	}
}

func checkRecordDecode(t *testing.T, b []byte) {
	t.Helper()
	got, err := UnmarshalMessage(b)
	want, werr := unmarshalMessageSlow(b)
	if (err == nil) != (werr == nil) || (err != nil && err.Error() != werr.Error()) {
		t.Fatalf("%q: error %v, encoding/json %v", b, err, werr)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q:\n got %#v\nwant %#v", b, got, want)
	}
	e, err := decodeSubmitEntry(b)
	var we submitEntry
	werr = json.Unmarshal(b, &we)
	if (err == nil) != (werr == nil) || (err != nil && err.Error() != werr.Error()) {
		t.Fatalf("%q: entry error %v, encoding/json %v", b, err, werr)
	}
	if err == nil && !reflect.DeepEqual(e, we) {
		t.Fatalf("%q: entry\n got %#v\nwant %#v", b, e, we)
	}
}

var recordOddInputs = []string{
	``, `null`, `{}`, `[]`, `{"id":"a","ID":"b"}`, `{"part_ids":["a"],"part_ids":["b","c"]}`,
	`{"events":[{"type":"x"}],"events":[{"id":"y"}]}`, `{"part_states":[{"final":true}],"part_states":[{"stat":"x"}]}`,
	`{"metadata":{"a":"1"},"metadata":{"b":"2"}}`, `{"created_at":"2026-11-22T10:00:04Z"}`,
	`{"created_at":"2026-11-22T10:00:04.1+01:00"}`, `{"created_at":"2026-11-22 10:00:04Z"}`,
	`{"created_at":"2026-11-22T10:00:04\u005a"}`, `{"created_at":null}`, `{"submitted_at":null}`, `{"validity":1.5}`,
	`{"parts":-1}`, `{"part_states":[{"final":1}]}`, `{"part_states":[{"final":null}]}`, `{"events":[{"data":{"x":1}}]}`,
	`{"record":{"id":"r"},"revision":5,"id":"e","account":"a"}`, `{"record":{"id":"r"},"record":{"to":"x"}}`,
	`{"revision":-1}`, `{"revision":18446744073709551616}`, `{"record":null}`, `{"id":"x"} x`, `{"id":"x",}`,
}

func TestRecordCodecDecodesAsEncodingJSON(t *testing.T) {
	for _, m := range codecRecords() {
		b, _ := m.MarshalRecord()
		checkRecordDecode(t, b)
		e := appendSubmitRequest(nil, m.ID, m.Account, b, 7)
		checkRecordDecode(t, e)
		if got, err := decodeSubmitEntry(e); err != nil || got.Revision != 7 || got.Record == nil {
			t.Fatalf("entry %s: %+v %v", e, got, err)
		}
	}
	for _, s := range recordOddInputs {
		checkRecordDecode(t, []byte(s))
	}
}

func FuzzRecordDecode(f *testing.F) {
	for _, m := range codecRecords() {
		b, _ := m.MarshalRecord()
		f.Add(b)
		f.Add(appendSubmitRequest(nil, m.ID, m.Account, b, 7))
	}
	for _, s := range recordOddInputs {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkRecordDecode(t, b)
	})
}

func FuzzRecordEncode(f *testing.F) {
	f.Add("msg_1", "héllo <&>", "k", "v", "p1", int64(1_700_000_000_123), 90, true)
	f.Add("", "\xff\x00\u2029", "", "", "", int64(0), 0, false)
	f.Fuzz(func(t *testing.T, id, text, mk, mv, part string, unixMilli int64, n int, final bool) {
		at := time.UnixMilli(unixMilli % (1 << 40))
		m := &Message{ID: id, Text: text, Metadata: map[string]string{mk: mv}, CreatedAt: at, Parts: n,
			Validity: time.Duration(n), PartIDs: []string{part}, PartStates: []PartState{{Final: final, Stat: mv, DoneAt: &at}},
			Events: []events.Event{{ID: id, Type: text, Timestamp: events.Time{Time: at}, Data: events.Data{Text: text, Sequence: n}}}}
		got, err := m.MarshalRecord()
		want, werr := json.Marshal(m)
		if (err == nil) != (werr == nil) || !bytes.Equal(got, want) {
			t.Fatalf("\n got %s (%v)\nwant %s (%v)", got, err, want, werr)
		}
		if err == nil {
			checkRecordDecode(t, got)
		}
	})
}

func BenchmarkRecordCodec(b *testing.B) {
	m := codecRecords()[2]
	enc, _ := m.MarshalRecord()
	b.Run("Marshal", func(b *testing.B) {
		for b.Loop() {
			_, _ = m.MarshalRecord()
		}
	})
	b.Run("MarshalEncodingJSON", func(b *testing.B) {
		for b.Loop() {
			_, _ = json.Marshal(m)
		}
	})
	b.Run("Unmarshal", func(b *testing.B) {
		for b.Loop() {
			_, _ = UnmarshalMessage(enc)
		}
	})
	b.Run("UnmarshalEncodingJSON", func(b *testing.B) {
		for b.Loop() {
			_, _ = unmarshalMessageSlow(enc)
		}
	})
}
