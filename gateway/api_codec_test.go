package gateway

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/smsgw/smsgw/events"
	"github.com/smsgw/smsgw/httpapi"
)

var submitCodecInputs = []string{
	`{"to":"+447700900123","text":"hi"}`,
	`{"to":"+447700900123","from":"Acme","text":"héllo € \u00e9 \n","encoding":"gsm7","metadata":{"a":"b","c":"\u003c"},"validity":"90m","route":"sim","callback_url":"https://a.example/?a=1&b=2"}`,
	` { "to" : "+1" , "text" : "x" } `, `{}`, `{"To":"+1"}`, `{"to":"+1","x":1}`, `{"to":null}`, `{"to":1}`, `{"metadata":{"a":1}}`,
	`{"metadata":{"a":"1"},"metadata":{"b":"2"}}`, `{"metadata":null}`, `{"metadata":{}}`, `{"to":"a"}{}`, `{"to":"a"} x`, ``, `  `,
	`[]`, `null`, `{`, `{"to":"\ud800"}`, "{\"text\":\"\xff\"}", `{"to":"a","to":"b"}`, `{"metadata":{"a":"b","a":"c"}}`,
}

func checkSubmitDecode(t *testing.T, body []byte) {
	t.Helper()
	var got, want SubmitBody
	p := apiDecodeSubmit(body, &got)
	wp := httpapi.DecodeBytes(body, &want)
	if !reflect.DeepEqual(p, wp) {
		t.Fatalf("%q: problem %+v, encoding/json %+v", body, p, wp)
	}
	if wp == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%q:\n got %#v\nwant %#v", body, got, want)
	}
}

func TestSubmitDecodeAsEncodingJSON(t *testing.T) {
	for _, s := range submitCodecInputs {
		checkSubmitDecode(t, []byte(s))
	}
}

func FuzzSubmitDecode(f *testing.F) {
	for _, s := range submitCodecInputs {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkSubmitDecode(t, b) })
}

// checkBatchDecode: when the fast path takes a batch, encoding/json takes
// it too, item for item the same.
func checkBatchDecode(t *testing.T, body []byte) {
	t.Helper()
	items, ok := apiDecodeBatchFast(body)
	if !ok {
		return
	}
	var bb struct {
		Messages *[]json.RawMessage `json:"messages"`
	}
	if p := httpapi.DecodeBytes(body, &bb); p != nil || bb.Messages == nil {
		t.Fatalf("%q: fast path took a batch encoding/json refuses: %+v", body, p)
	}
	if len(*bb.Messages) != len(items) {
		t.Fatalf("%q: %d items, encoding/json %d", body, len(items), len(*bb.Messages))
	}
	for i, raw := range *bb.Messages {
		var want SubmitBody
		if p := httpapi.DecodeBytes(raw, &want); p != nil || !reflect.DeepEqual(items[i], want) {
			t.Fatalf("%q item %d: %#v, encoding/json %#v (%+v)", body, i, items[i], want, p)
		}
	}
}

var batchCodecInputs = []string{
	`{"messages":[{"to":"+447700900123","text":"a"},{"to":"+447700900124","text":"b","metadata":{"k":"v"}}]}`,
	`{"messages":[]}`, `{"messages":null}`, `{}`, `{"messages":[1]}`, `{"messages":[{"to":1}]}`, `{"messages":[{}],"x":1}`,
	`{"messages":[{}],"messages":[{}]}`, `{"Messages":[{}]}`, ` {"messages" : [ {} , {"text":"x"} ] } `, `{"messages":[{},]}`,
}

func TestBatchDecodeAsEncodingJSON(t *testing.T) {
	for _, s := range batchCodecInputs {
		checkBatchDecode(t, []byte(s))
	}
	if items, ok := apiDecodeBatchFast([]byte(batchCodecInputs[0])); !ok || len(items) != 2 {
		t.Fatalf("usual batch not taken: %v %v", items, ok)
	}
}

func FuzzBatchDecode(f *testing.F) {
	for _, s := range batchCodecInputs {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkBatchDecode(t, b) })
}

func TestAnswersEncodeAsEncodingJSON(t *testing.T) {
	at := events.Time{Time: time.Date(2026, 11, 22, 10, 0, 4, 123456789, time.FixedZone("x", 3600))}
	r1 := MessageResource{ID: "msg_1", Status: StatusAccepted, To: "+447700900123", From: "Acme <&>", Parts: 2,
		Encoding: "ucs2", Metadata: map[string]string{"b": "2", "a": "\u2028"}, CreatedAt: at}
	r2 := MessageResource{ID: "msg_2", Metadata: map[string]string{}}
	r3 := MessageResource{}
	p := httpapi.NewProblem(400, "the message is invalid", httpapi.FieldError{Field: "to", Message: "is required"})
	for i, v := range []any{
		r1, r2, r3,
		BatchAnswer{Results: []BatchResult{{Status: 202, Message: &r1}, {Status: 400, Error: p}, {Status: 202, Message: &r2}}},
		BatchAnswer{}, BatchAnswer{Results: []BatchResult{}},
		map[string]int{"x": 1},
	} {
		got, err := apiMarshal(v)
		want, werr := json.Marshal(v)
		if err != nil || werr != nil || !bytes.Equal(got, want) {
			t.Errorf("%d:\n got %s (%v)\nwant %s (%v)", i, got, err, want, werr)
		}
	}
}
