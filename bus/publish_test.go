package bus

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The publisher must answer as nats.go's jetstream publish does: the same
// acks (sequence, duplicate), the same errors for a conflict, a missing
// stream and a refused write.
func TestPublisherAgainstJetStream(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := Open(ctx, Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := b.Stream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}, Duplicates: time.Minute}); err != nil {
		t.Fatal(err)
	}
	kv, err := b.KV(ctx, jetstream.KeyValueConfig{Bucket: "tkv", History: 1})
	if err != nil {
		t.Fatal(err)
	}

	// Pipelined publishes, acknowledged in order with their sequences.
	var fs []*PubFuture
	for range 100 {
		f, err := b.PublishAsync(&nats.Msg{Subject: "t.a", Data: []byte("x")})
		if err != nil {
			t.Fatal(err)
		}
		fs = append(fs, f)
	}
	for i, f := range fs {
		ack, err := f.Wait(ctx)
		if err != nil || ack.Stream != "T" || ack.Sequence != uint64(i+1) || ack.Duplicate {
			t.Fatalf("ack %d: %+v %v", i, ack, err)
		}
		if again, err := f.Wait(ctx); err != nil || again.Sequence != ack.Sequence {
			t.Fatalf("second Wait: %+v %v", again, err)
		}
	}
	if err := WaitAll(ctx, fs); err != nil {
		t.Fatal(err)
	}

	// Deduplication by message id is reported as nats.go reports it.
	dup := func() *nats.Msg {
		return &nats.Msg{Subject: "t.b", Data: []byte("y"), Header: nats.Header{jetstream.MsgIDHeader: []string{"id-1"}}}
	}
	first, err := b.Publish(ctx, dup())
	if err != nil || first.Duplicate {
		t.Fatal(first, err)
	}
	second, err := b.Publish(ctx, dup())
	want, werr := b.JS.PublishMsg(ctx, dup())
	if err != nil || werr != nil || !second.Duplicate || !reflect.DeepEqual(second, want) {
		t.Fatalf("duplicate: %+v %v, nats.go %+v %v", second, err, want, werr)
	}

	// KV updates: revisions and conflicts.
	rev, err := kv.Create(ctx, "k", []byte("1"))
	if err != nil {
		t.Fatal(err)
	}
	nrev, err := b.KVUpdate(ctx, "tkv", "k", []byte("2"), rev)
	if err != nil || nrev != rev+1 {
		t.Fatal(nrev, err)
	}
	_, err = b.KVUpdate(ctx, "tkv", "k", []byte("3"), rev)
	_, werr = kv.Update(ctx, "k", []byte("3"), rev)
	if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) || !errors.Is(werr, jetstream.ErrKeyRevisionMismatch) {
		t.Fatalf("conflict: %v, nats.go %v", err, werr)
	}
	if !errors.Is(err, jetstream.ErrKeyExists) || err.Error() != werr.Error() {
		t.Fatalf("conflict: %q, nats.go %q", err, werr)
	}
	if e, err := kv.Get(ctx, "k"); err != nil || string(e.Value()) != "2" {
		t.Fatal(e, err)
	}
	// Expected sequence 0 creates only.
	f, _ := b.PublishAsync(&nats.Msg{Subject: "$KV.tkv.k", Data: []byte("4"),
		Header: nats.Header{jetstream.ExpectedLastSubjSeqHeader: []string{"0"}}})
	if _, err := f.Wait(ctx); !errors.Is(err, jetstream.ErrKeyExists) {
		t.Fatalf("create over a key: %v", err)
	}

	// No stream: no responders, after nats.go's retries.
	start := time.Now()
	_, err = b.Publish(ctx, &nats.Msg{Subject: "nostream.x", Data: []byte("z")})
	_, werr = b.JS.PublishMsg(ctx, &nats.Msg{Subject: "nostream.x", Data: []byte("z")})
	if !errors.Is(err, jetstream.ErrNoStreamResponse) || !errors.Is(werr, jetstream.ErrNoStreamResponse) {
		t.Fatalf("no stream: %v, nats.go %v", err, werr)
	}
	if d := time.Since(start); d < 2*noResponderWait {
		t.Fatalf("no stream answered after %v: not retried", d)
	}

	// A context that ends forgets the publish.
	cctx, ccancel := context.WithCancel(ctx)
	ccancel()
	f, _ = b.PublishAsync(&nats.Msg{Subject: "t.c", Data: []byte("z")})
	if _, err := f.Wait(cctx); !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	b.publisher.mu.Lock()
	left := len(b.publisher.pending)
	b.publisher.mu.Unlock()
	if left != 0 {
		t.Fatalf("%d publishes still pending", left)
	}
}

func TestParsePubAck(t *testing.T) {
	for _, s := range []string{
		`{"stream":"S","seq":5}`, `{"stream":"S","seq":5,"duplicate":true}`, `{"stream":"S","domain":"d","seq":18446744073709551615}`,
		`{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 3"},"stream":"S","seq":0}`,
		`{"stream":"","seq":1}`, `{}`, `nonsense`, `{"stream":"S","seq":1,"val":"x"}`, `{"type":"io.nats.jetstream.api.v1.pub_ack","stream":"S","seq":2}`,
	} {
		got, err := parsePubAck([]byte(s))
		var a pubAckAnswer
		jerr := json.Unmarshal([]byte(s), &a)
		switch {
		case jerr != nil:
			if !errors.Is(err, jetstream.ErrInvalidJSAck) {
				t.Errorf("%s: %v, want invalid ack", s, err)
			}
		case a.Error != nil:
			var apiErr *jetstream.APIError
			if !errors.As(err, &apiErr) || *apiErr != *a.Error {
				t.Errorf("%s: %v, want %v", s, err, a.Error)
			}
		case a.Stream == "":
			if !errors.Is(err, jetstream.ErrInvalidJSAck) {
				t.Errorf("%s: %v, want invalid ack", s, err)
			}
		default:
			want := jetstream.PubAck{Stream: a.Stream, Sequence: a.Sequence, Duplicate: a.Duplicate, Domain: a.Domain}
			if err != nil || got != want {
				t.Errorf("%s: %+v %v, want %+v", s, got, err, want)
			}
		}
	}
}

// The fast path reads what nats-server writes and agrees with the slow one.
func TestParsePubAckFast(t *testing.T) {
	for _, s := range []string{
		`{"stream":"KV_sms_messages","seq":12}`, `{"stream":"S","seq":0}`, `{"stream":"S","seq":7,"duplicate": true}`,
		`{"stream":"S","seq":7,"duplicate":true}`, `{"stream":"S","seq":18446744073709551615}`,
	} {
		fast, ok := parsePubAckFast([]byte(s))
		var a pubAckAnswer
		if err := json.Unmarshal([]byte(s), &a); err != nil || !ok {
			t.Fatalf("%s: fast path refused (%v)", s, err)
		}
		if want := (jetstream.PubAck{Stream: a.Stream, Sequence: a.Sequence, Duplicate: a.Duplicate}); fast != want {
			t.Fatalf("%s: %+v, want %+v", s, fast, want)
		}
	}
	for _, s := range []string{
		`{"stream":"S","seq":01}`, `{"stream":"S","seq":18446744073709551616}`, `{"stream":"S","domain":"d","seq":1}`,
		`{"stream":"a\"b","seq":1}`, `{"stream":"","seq":1}`, `{"stream":"S","seq":1,"x":1}`, `{"stream":"S","seq":}`, `{"error":{}}`,
	} {
		if a, ok := parsePubAckFast([]byte(s)); ok {
			t.Errorf("%s: fast path took it: %+v", s, a)
		}
	}
}
