package bus

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/smsgw/smsgw/internal/jsonx"
)

// The hot paths store several JetStream messages per SMS (record, queue
// entry, SMSC id, events, ...). nats.go's jetstream publish decodes every
// acknowledgement with encoding/json, and its asynchronous publisher does
// so under one lock shared by every publish; together that was about 5 %
// of the CPU per message. The publisher below sends the same messages
// with a reply subject of its own and reads the acknowledgements by hand
// (encoding/json only for an error answer). What is stored, and the
// errors callers see, are those of nats.go.

// Header names of JetStream publish expectations (as nats.go sends them).
const (
	headerMsgID            = jetstream.MsgIDHeader
	headerExpectedLastSubj = jetstream.ExpectedLastSubjSeqHeader
)

// PubFuture is a publish waiting for its acknowledgement.
type PubFuture struct {
	p       *publisher
	id      uint64
	msg     *nats.Msg      // for a retry after "no responders"
	retries int            // retries so far (only the reply handler touches it)
	gone    bool           // given up on (under p.mu)
	ch      chan pubResult // buffered: the ack handler never blocks
	res     *pubResult     // once Wait has it
}

type pubResult struct {
	ack jetstream.PubAck
	err error
}

// publisher owns the reply subscription and the pending publishes.
type publisher struct {
	nc     *nats.Conn
	prefix string // "<inbox>." followed by the publish id

	mu      sync.Mutex
	next    uint64
	pending map[uint64]*PubFuture
	sub     *nats.Subscription
	subErr  error
}

// pub returns the bus's publisher, subscribing its reply subject on first
// use.
func (b *Bus) pub() (*publisher, error) {
	b.pubOnce.Do(func() {
		p := &publisher{nc: b.NC, prefix: b.NC.NewInbox() + ".", pending: map[uint64]*PubFuture{}}
		p.sub, p.subErr = b.NC.Subscribe(p.prefix+"*", p.handle)
		if p.subErr == nil {
			// Acks must never be dropped as a slow consumer: waiters would
			// time out on a message that was stored.
			p.subErr = p.sub.SetPendingLimits(-1, -1)
		}
		b.publisher = p
	})
	if b.publisher.subErr != nil {
		return nil, fmt.Errorf("bus: publish replies: %w", b.publisher.subErr)
	}
	return b.publisher, nil
}

// handle resolves the future an acknowledgement answers.
func (p *publisher) handle(m *nats.Msg) {
	id, err := strconv.ParseUint(m.Subject[len(p.prefix):], 36, 64)
	if err != nil {
		return
	}
	p.mu.Lock()
	f := p.pending[id]
	delete(p.pending, id)
	p.mu.Unlock()
	if f == nil {
		return // given up on
	}
	if len(m.Data) == 0 && m.Header.Get("Status") == "503" {
		// No stream answered (a leader election, a stream not made yet):
		// try again a little later, as nats.go does.
		if f.retries < noResponderRetries {
			f.retries++
			time.AfterFunc(noResponderWait, func() { p.resend(f) })
			return
		}
		f.ch <- pubResult{err: jetstream.ErrNoStreamResponse}
		return
	}
	ack, err := parsePubAck(m.Data)
	f.ch <- pubResult{ack: ack, err: err}
}

// PublishAsync stores m in JetStream without waiting: Wait on the future
// for the acknowledgement. m.Reply is overwritten; m must not change until
// the future is resolved (a publish answered "no responders" is sent again
// twice, 250 ms apart, as nats.go does).
func (b *Bus) PublishAsync(m *nats.Msg) (*PubFuture, error) {
	p, err := b.pub()
	if err != nil {
		return nil, err
	}
	return p.publish(m)
}

// resend publishes f's message again under the same id, unless f was
// given up on meanwhile.
func (p *publisher) resend(f *PubFuture) {
	p.mu.Lock()
	if f.gone {
		p.mu.Unlock()
		return
	}
	p.pending[f.id] = f
	p.mu.Unlock()
	if err := p.nc.PublishMsg(f.msg); err != nil {
		f.forget()
		f.ch <- pubResult{err: err}
	}
}

func (p *publisher) publish(m *nats.Msg) (*PubFuture, error) {
	f := &PubFuture{p: p, msg: m, ch: make(chan pubResult, 1)}
	p.mu.Lock()
	p.next++
	f.id = p.next
	p.pending[f.id] = f
	p.mu.Unlock()
	var buf [64]byte
	m.Reply = string(strconv.AppendUint(append(buf[:0], p.prefix...), f.id, 36))
	if err := p.nc.PublishMsg(m); err != nil {
		f.forget()
		return nil, err
	}
	return f, nil
}

func (f *PubFuture) forget() {
	f.p.mu.Lock()
	delete(f.p.pending, f.id)
	f.gone = true
	f.p.mu.Unlock()
}

// Wait returns the acknowledgement (the stream sequence, for a KV put its
// revision), or the error JetStream answered, or ctx's error (the publish
// is then forgotten; it may still have been stored). A nil future (an
// earlier publish error) returns ErrNoStreamResponse.
func (f *PubFuture) Wait(ctx context.Context) (*jetstream.PubAck, error) {
	if f == nil {
		return nil, jetstream.ErrNoStreamResponse
	}
	if f.res == nil {
		select {
		case r := <-f.ch:
			f.res = &r
		case <-ctx.Done():
			f.forget()
			return nil, ctx.Err()
		}
	}
	if f.res.err != nil {
		return nil, f.res.err
	}
	return &f.res.ack, nil
}

// waitFor is Wait bounded by d as well: past it, the publish is forgotten
// and the error is context.DeadlineExceeded (what a context with that
// deadline would give).
func (f *PubFuture) waitFor(ctx context.Context, d time.Duration) (*jetstream.PubAck, error) {
	if f.res == nil {
		t := time.NewTimer(d)
		select {
		case r := <-f.ch:
			f.res = &r
		case <-ctx.Done():
			t.Stop()
			f.forget()
			return nil, ctx.Err()
		case <-t.C:
			f.forget()
			return nil, context.DeadlineExceeded
		}
		t.Stop()
	}
	if f.res.err != nil {
		return nil, f.res.err
	}
	return &f.res.ack, nil
}

// Cancel forgets a publish nobody will wait for.
func (f *PubFuture) Cancel() {
	if f != nil && f.res == nil {
		f.forget()
	}
}

// WaitAll waits for every future; at the first error it forgets the rest
// and returns it.
func WaitAll(ctx context.Context, fs []*PubFuture) error {
	for i, f := range fs {
		if _, err := f.Wait(ctx); err != nil {
			for _, g := range fs[i+1:] {
				g.Cancel()
			}
			return err
		}
	}
	return nil
}

// CancelAll forgets publishes nobody will wait for.
func CancelAll(fs []*PubFuture) {
	for _, f := range fs {
		f.Cancel()
	}
}

// defaultPublishTimeout bounds a synchronous publish whose context has no
// deadline (nats.go's jetstream default).
const defaultPublishTimeout = 5 * time.Second

// noResponderRetries and noResponderWait are nats.go's retries of a
// publish answered "no responders" (a stream leader change).
const (
	noResponderRetries = 2
	noResponderWait    = 250 * time.Millisecond
)

// Publish stores m in JetStream and waits for the acknowledgement, as
// jetstream's PublishMsg does (errors wrapped the same way: an API error
// as "nats: <error>"; no stream as jetstream.ErrNoStreamResponse, after
// two retries 250 ms apart, as for PublishAsync).
func (b *Bus) Publish(ctx context.Context, m *nats.Msg) (*jetstream.PubAck, error) {
	f, err := b.PublishAsync(m)
	if err != nil {
		return nil, err
	}
	var ack *jetstream.PubAck
	if _, ok := ctx.Deadline(); ok {
		ack, err = f.Wait(ctx)
	} else {
		// A plain timer, not a context with a deadline: cheaper, and most
		// callers (engine handlers) pass their long-lived context.
		ack, err = f.waitFor(ctx, defaultPublishTimeout)
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		return nil, fmt.Errorf("nats: %w", apiErr)
	}
	return ack, err
}

// KVUpdate writes value to key of bucket if its current revision is rev,
// as jetstream.KeyValue.Update does (a conflict is an error matching
// jetstream.ErrKeyRevisionMismatch), and returns the new revision.
func (b *Bus) KVUpdate(ctx context.Context, bucket, key string, value []byte, rev uint64) (uint64, error) {
	m := &nats.Msg{Subject: "$KV." + bucket + "." + key, Data: value,
		Header: nats.Header{headerExpectedLastSubj: []string{strconv.FormatUint(rev, 10)}}}
	ack, err := b.Publish(ctx, m)
	if err != nil {
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
			apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant) {
			return 0, fmt.Errorf("%w: %w", err, jetstream.ErrKeyRevisionMismatch)
		}
		return 0, err
	}
	return ack.Sequence, nil
}

// pubAckAnswer is JetStream's publish answer, for encoding/json when the
// fast path does not read it (errors, unknown fields).
type pubAckAnswer struct {
	Error     *jetstream.APIError `json:"error,omitempty"`
	Stream    string              `json:"stream"`
	Sequence  uint64              `json:"seq"`
	Duplicate bool                `json:"duplicate,omitempty"`
	Domain    string              `json:"domain,omitempty"`
}

// parsePubAck reads a publish acknowledgement as nats.go does: an error
// answer is its *jetstream.APIError, an answer without a stream is
// jetstream.ErrInvalidJSAck.
func parsePubAck(b []byte) (jetstream.PubAck, error) {
	if a, ok := parsePubAckFast(b); ok {
		return a, nil
	}
	var a pubAckAnswer
	dec := jsonx.NewDecoder(b)
	mem := dec.Members()
	for !dec.Failed() {
		k, ok := mem.Next()
		if !ok {
			break
		}
		switch string(k) {
		case "stream":
			a.Stream = dec.String()
		case "seq":
			a.Sequence = dec.Uint(64)
		case "duplicate":
			a.Duplicate = dec.Bool()
		case "domain":
			a.Domain = dec.String()
		default:
			dec.Fail()
		}
	}
	if !dec.Finish() {
		a = pubAckAnswer{}
		if err := json.Unmarshal(b, &a); err != nil {
			return jetstream.PubAck{}, jetstream.ErrInvalidJSAck
		}
	}
	if a.Error != nil {
		return jetstream.PubAck{}, a.Error
	}
	if a.Stream == "" {
		return jetstream.PubAck{}, jetstream.ErrInvalidJSAck
	}
	return jetstream.PubAck{Stream: a.Stream, Sequence: a.Sequence, Duplicate: a.Duplicate, Domain: a.Domain}, nil
}

// parsePubAckFast reads the acknowledgement exactly as nats-server writes
// it for a stored (or deduplicated) message:
// {"stream":"<name>","seq":<n>} or {"stream":"<name>","seq":<n>,"duplicate": true}.
// Anything else (errors, a domain, escapes) is left to parsePubAck.
func parsePubAckFast(b []byte) (jetstream.PubAck, bool) {
	const head, mid = `{"stream":"`, `","seq":`
	if !bytes.HasPrefix(b, []byte(head)) {
		return jetstream.PubAck{}, false
	}
	rest := b[len(head):]
	end := bytes.IndexByte(rest, '"')
	if end <= 0 || bytes.IndexByte(rest[:end], '\\') >= 0 || !bytes.HasPrefix(rest[end:], []byte(mid)) {
		return jetstream.PubAck{}, false
	}
	name := rest[:end]
	rest = rest[end+len(mid):]
	n := 0
	for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
		n++
	}
	if n == 0 || (n > 1 && rest[0] == '0') {
		return jetstream.PubAck{}, false
	}
	seq, err := strconv.ParseUint(string(rest[:n]), 10, 64)
	if err != nil {
		return jetstream.PubAck{}, false
	}
	a := jetstream.PubAck{Sequence: seq}
	switch tail := string(rest[n:]); tail {
	case "}":
	case `,"duplicate": true}`, `,"duplicate":true}`:
		a.Duplicate = true
	default:
		return jetstream.PubAck{}, false
	}
	a.Stream = streamNames.intern(name)
	return a, true
}

// streamNames interns stream names: every ack names one of a handful.
var streamNames = &internTable{m: map[string]string{}}

type internTable struct {
	mu sync.RWMutex
	m  map[string]string
}

func (t *internTable) intern(b []byte) string {
	t.mu.RLock()
	s, ok := t.m[string(b)]
	t.mu.RUnlock()
	if ok {
		return s
	}
	s = string(b)
	t.mu.Lock()
	if len(t.m) < 1024 { // names are few; never grow without bound
		t.m[s] = s
	}
	t.mu.Unlock()
	return s
}
