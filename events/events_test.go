package events

import (
	"strings"
	"testing"
	"time"
)

func TestWebhookBodyShape(t *testing.T) {
	ts := time.Date(2026, 11, 22, 10, 0, 4, 123456789, time.UTC)
	e := Event{ID: "evt_1", Type: MessageDelivered, Timestamp: Time{ts}, Data: Data{MessageID: "msg_1", Status: "delivered", PartCount: 1, Sequence: 2}}
	b, err := e.WebhookBody()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":"message.delivered","timestamp":"2026-11-22T10:00:04.123Z","data":{"message_id":"msg_1","status":"delivered","part_count":1,"sequence":2}}`
	if string(b) != want {
		t.Fatalf("body\n got %s\nwant %s", b, want)
	}
	stored, _ := e.Marshal()
	back, err := Unmarshal(stored)
	if err != nil || back.ID != "evt_1" || !back.Timestamp.Equal(ts.Truncate(time.Millisecond)) {
		t.Fatalf("round trip: %+v %v", back, err)
	}
}

func TestSubjects(t *testing.T) {
	s := Subject("acme", MessageDelivered)
	if s != "sms.events.acme.message.delivered" {
		t.Fatal(s)
	}
	a, typ, err := ParseSubject(s)
	if err != nil || a != "acme" || typ != MessageDelivered {
		t.Fatal(a, typ, err)
	}
	for _, bad := range []string{"x.y", "sms.events.", "sms.events.acme"} {
		if _, _, err := ParseSubject(bad); err == nil {
			t.Errorf("%q: want error", bad)
		}
	}
	if id := NewID(); !strings.HasPrefix(id, "evt_") || strings.Contains(id, ".") {
		t.Fatal(id)
	}
}
