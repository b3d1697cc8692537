package main

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/smsgw/smsgw/bus"
	"github.com/smsgw/smsgw/events"
)

func TestTailSubjects(t *testing.T) {
	tests := []struct {
		account string
		types   []string
		want    []string
		err     string
	}{
		{"", nil, []string{"sms.events.*.>"}, ""},
		{"acme", nil, []string{"sms.events.acme.>"}, ""},
		{"acme", []string{"message.delivered"}, []string{"sms.events.acme.message.delivered"}, ""},
		{"", []string{"message.*", "contact.opted_out", "message.*"}, []string{"sms.events.*.message.*", "sms.events.*.contact.opted_out"}, ""},
		{"", []string{"message.>"}, []string{"sms.events.*.message.>"}, ""},
		{"acme", []string{"message.sent", "*"}, []string{"sms.events.acme.>"}, ""},
		{"", []string{">"}, []string{"sms.events.*.>"}, ""},
		{"ac.me", nil, nil, "--account"},
		{"a*", nil, nil, "--account"},
		{"", []string{""}, nil, "empty"},
		{"", []string{"message..sent"}, nil, "empty token"},
		{"", []string{"message.del*"}, nil, "whole token"},
		{"", []string{">.sent"}, nil, "must be last"},
		{"", []string{"message sent"}, nil, "spaces"},
	}
	for _, tt := range tests {
		got, err := tailSubjects(tt.account, tt.types)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("tailSubjects(%q, %q): err %v, want %q", tt.account, tt.types, err, tt.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("tailSubjects(%q, %q) = %q, %v; want %q", tt.account, tt.types, got, err, tt.want)
		}
	}
}

// TestTailEvents publishes to a real embedded JetStream and reads back
// through tailEvents: history with --all and --since, filters, then live
// events only, and a clean stop on cancel.
func TestTailEvents(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	b, err := bus.Open(ctx, bus.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	pub := func(account, typ, id string) events.Event {
		t.Helper()
		e := events.New(typ, events.Data{MessageID: id, To: "+447700900123", Status: strings.TrimPrefix(typ, "message."), Sequence: 1})
		if _, err := b.PublishEvent(ctx, account, e, nil); err != nil {
			t.Fatal(err)
		}
		return e
	}
	pub("acme", events.MessageSent, "msg_1")
	d1 := pub("acme", events.MessageDelivered, "msg_1")
	pub("other", events.MessageDelivered, "msg_2")
	pub("acme", events.ContactOptedOut, "")

	// run tails until want lines arrived (or the deadline), then stops it.
	run := func(o tailOptions, want int, during func()) []string {
		t.Helper()
		tctx, tcancel := context.WithCancel(ctx)
		defer tcancel()
		buf := &syncBuffer{}
		done := make(chan error, 1)
		go func() { done <- tailEvents(tctx, b.JS, o, buf) }()
		if during != nil {
			time.Sleep(200 * time.Millisecond) // let the consumer start: DeliverNew
			during()
		}
		deadline := time.Now().Add(5 * time.Second)
		for strings.Count(buf.String(), "\n") < want && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(100 * time.Millisecond) // anything extra would show up now
		tcancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("tailEvents: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("tailEvents did not stop on cancel")
		}
		return strings.Split(strings.TrimSpace(buf.String()), "\n")
	}

	lines := run(tailOptions{All: true, Account: "acme", Types: []string{"message.delivered"}, Format: "json"}, 1, nil)
	if len(lines) != 1 {
		t.Fatalf("lines %q", lines)
	}
	var got events.Event
	if err := json.Unmarshal([]byte(lines[0]), &got); err != nil || got.ID != d1.ID || got.Type != events.MessageDelivered {
		t.Fatalf("line %q: %+v %v", lines[0], got, err)
	}

	lines = run(tailOptions{Since: time.Minute, Types: []string{"message.*"}, Format: "json"}, 3, nil)
	if len(lines) != 3 {
		t.Fatalf("message.* since 1m: %q", lines)
	}
	if lines = run(tailOptions{Since: time.Minute, Now: func() time.Time { return time.Now().Add(time.Hour) }, Format: "json"}, 0, nil); lines[0] != "" {
		t.Fatalf("since 1m an hour from now: %q", lines)
	}

	lines = run(tailOptions{Format: "table"}, 2, func() { pub("acme", events.MessageUndelivered, "msg_3") })
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "TIME") {
		t.Fatalf("table: %q", lines)
	}
	for _, want := range []string{"acme", "message.undelivered", "msg_3", "+447700900123", "undelivered"} {
		if !strings.Contains(lines[1], want) {
			t.Fatalf("table line %q lacks %q", lines[1], want)
		}
	}
}
