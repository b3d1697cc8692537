package bus

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/smsgw/smsgw/events"
)

func TestEmbeddedPublishAndReopen(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	b, err := Open(ctx, Config{DataDir: dir, Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if b.ClientURL() == "" {
		t.Fatal("no client url with a listener")
	}
	e := events.New(events.MessageSent, events.Data{MessageID: "msg_1", Sequence: 1})
	for i := 0; i < 2; i++ { // the second publish is deduplicated by event id
		if _, err := b.PublishEvent(ctx, "acme", e, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.PublishDirect(ctx, "ep_1", e, nil); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal("second close:", err)
	}

	// The file store survives a restart.
	b2, err := Open(ctx, Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	s, err := b2.JS.Stream(ctx, events.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 2 {
		t.Fatalf("stored %d messages, want 2 (one deduplicated)", info.State.Msgs)
	}
	m, err := s.GetLastMsgForSubject(ctx, events.Subject("acme", events.MessageSent))
	if err != nil {
		t.Fatal(err)
	}
	got, err := events.Unmarshal(m.Data)
	if err != nil || got.ID != e.ID {
		t.Fatalf("got %+v, %v", got, err)
	}
	kv, err := b2.KV(ctx, jetstream.KeyValueConfig{Bucket: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
}

func TestRedact(t *testing.T) {
	if got := redact("nats://u:p@h:4222,nats://h2:4222"); got != "nats://[redacted]@h:4222,nats://h2:4222" {
		t.Fatal(got)
	}
}
