package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/smsgw/smsgw/bus"
)

// NATS names of the attempts log.
const (
	// AttemptsStream keeps the recent delivery attempts of every endpoint.
	AttemptsStream = "SMS_WEBHOOK_ATTEMPTS"
	// AttemptsSubjectPrefix is followed by the endpoint id.
	AttemptsSubjectPrefix = "sms.attempts."
	// AttemptsPerEndpoint is how many attempts are kept per endpoint.
	AttemptsPerEndpoint = 100
	// AttemptsMaxAge is how long an attempt is kept.
	AttemptsMaxAge = 7 * 24 * time.Hour
	// CallbackTarget stands in for the endpoint id of callback_url
	// deliveries in attempt and dead-letter subjects.
	CallbackTarget = "_callback"
)

// Outcomes of an attempt (AttemptRecord.Outcome).
const (
	OutcomeDelivered  = "delivered"
	OutcomeRetry      = "retry"
	OutcomeThrottled  = "throttled"
	OutcomeDisabled   = "disabled"
	OutcomeDeadLetter = "dead_letter"
)

// AttemptsSubject is the subject of endpointID's attempts.
func AttemptsSubject(endpointID string) string { return AttemptsSubjectPrefix + endpointID }

// AttemptRecord is one HTTP request made to deliver an event, as kept in
// the attempts log (GET /v1/webhooks/{id}/attempts).
type AttemptRecord struct {
	EventID    string `json:"event_id"`
	EventType  string `json:"event_type"`
	EndpointID string `json:"endpoint_id"`
	// Attempt is the scheduled attempt number, from 1; quick in-process
	// retries of one scheduled attempt share its number.
	Attempt int `json:"attempt"`
	// Status is the HTTP status, 0 when there was no answer.
	Status    int     `json:"status"`
	LatencyMS float64 `json:"latency_ms"`
	// ResponseExcerpt is the start of the response body (at most 1 KiB).
	ResponseExcerpt string `json:"response_excerpt,omitempty"`
	// Error is the transport error (timeout, refused, …), URL redacted.
	Error string    `json:"error,omitempty"`
	At    time.Time `json:"at"`
	// Outcome is delivered, retry, throttled, disabled or dead_letter.
	Outcome string `json:"outcome"`
	// URL is the target, redacted (callback_url deliveries differ per
	// message).
	URL string `json:"url,omitempty"`
}

// AttemptsStreamConfig is the attempts log's stream.
func AttemptsStreamConfig() jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:              AttemptsStream,
		Description:       "smsgw webhook delivery attempts, newest 100 messages (of 1-32 records) per endpoint",
		Subjects:          []string{AttemptsSubjectPrefix + ">"},
		Retention:         jetstream.LimitsPolicy,
		MaxMsgsPerSubject: AttemptsPerEndpoint,
		MaxAge:            AttemptsMaxAge,
		Discard:           jetstream.DiscardOld,
	}
}

// RecentAttempts returns up to limit (at most AttemptsPerEndpoint) of
// endpointID's attempts, newest first. Records are published in batches
// (up to attemptBatchMax, or what 100 ms gathered), so the newest few may not
// be stored yet.
func RecentAttempts(ctx context.Context, js jetstream.JetStream, endpointID string, limit int) ([]AttemptRecord, error) {
	if limit <= 0 || limit > AttemptsPerEndpoint {
		limit = AttemptsPerEndpoint
	}
	s, err := js.Stream(ctx, AttemptsStream)
	if err != nil {
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return nil, nil
		}
		return nil, fmt.Errorf("bridge: attempts: %w", err)
	}
	subj := AttemptsSubject(endpointID)
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(subj))
	if err != nil {
		return nil, fmt.Errorf("bridge: attempts: %w", err)
	}
	n := info.State.Subjects[subj]
	if n == 0 {
		return nil, nil
	}
	c, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subj}})
	if err != nil {
		return nil, fmt.Errorf("bridge: attempts: %w", err)
	}
	batch, err := c.FetchNoWait(int(n))
	if err != nil {
		return nil, fmt.Errorf("bridge: attempts: %w", err)
	}
	out := make([]AttemptRecord, 0, n)
	for m := range batch.Messages() {
		for line := range bytes.SplitSeq(m.Data(), []byte{'\n'}) {
			var r AttemptRecord
			if err := json.Unmarshal(line, &r); err == nil {
				out = append(out, r)
			}
		}
	}
	if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
		return nil, fmt.Errorf("bridge: attempts: %w", err)
	}
	slices.Reverse(out)
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// Batching of attempt records: one JetStream message per delivery was as
// many stores as deliveries (about 10 % of the process's CPU per delivery
// at 10,000/s). Records are gathered per endpoint and published as one
// message every attemptFlushEvery, or at attemptBatchMax records.
const (
	attemptFlushEvery = 100 * time.Millisecond
	attemptBatchMax   = 32
)

// attemptLog publishes attempt records without waiting for JetStream: a
// lost record is a gap in a log, not a lost delivery, and deliveries must not
// wait on it. A stored message holds one or more records of one endpoint, as
// JSON lines, oldest first.
type attemptLog struct {
	js  jetstream.JetStream
	log *slog.Logger
	m   *dlvMetrics

	mu      sync.Mutex
	pending map[string]*attemptBatch // by endpoint id
	quit    chan struct{}
	done    chan struct{}
	once    sync.Once
}

type attemptBatch struct {
	data []byte
	n    int
}

func newAttemptLog(ctx context.Context, b *bus.Bus, log *slog.Logger, m *dlvMetrics) (*attemptLog, error) {
	if _, err := b.Stream(ctx, AttemptsStreamConfig()); err != nil {
		return nil, err
	}
	js, err := jetstream.New(b.NC,
		jetstream.WithPublishAsyncMaxPending(8192),
		jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, _ *nats.Msg, err error) {
			m.attemptLogErrors.Inc()
			log.Debug("attempt record not stored", "err", err)
		}))
	if err != nil {
		return nil, fmt.Errorf("bridge: attempts: %w", err)
	}
	a := &attemptLog{js: js, log: log, m: m, pending: map[string]*attemptBatch{},
		quit: make(chan struct{}), done: make(chan struct{})}
	go a.run()
	return a, nil
}

func (a *attemptLog) publish(r AttemptRecord) {
	line, err := json.Marshal(r)
	if err != nil {
		return
	}
	a.mu.Lock()
	bt := a.pending[r.EndpointID]
	if bt == nil {
		bt = &attemptBatch{data: make([]byte, 0, 1<<10)} // a record is ~300 bytes
		a.pending[r.EndpointID] = bt
	}
	if bt.n > 0 {
		bt.data = append(bt.data, '\n')
	}
	bt.data = append(bt.data, line...)
	bt.n++
	var full []byte
	if bt.n >= attemptBatchMax {
		full = bt.data
		delete(a.pending, r.EndpointID)
	}
	a.mu.Unlock()
	if full != nil {
		a.send(r.EndpointID, full)
	}
}

func (a *attemptLog) send(endpointID string, data []byte) {
	if _, err := a.js.PublishMsgAsync(&nats.Msg{Subject: AttemptsSubject(endpointID), Data: data},
		jetstream.WithStallWait(50*time.Millisecond)); err != nil {
		a.m.attemptLogErrors.Inc()
		a.log.Debug("attempt records dropped", "endpoint_id", endpointID, "err", err)
	}
}

// sendPending publishes every gathered batch.
func (a *attemptLog) sendPending() {
	a.mu.Lock()
	p := a.pending
	if len(p) == 0 {
		a.mu.Unlock()
		return
	}
	a.pending = make(map[string]*attemptBatch, len(p))
	a.mu.Unlock()
	for id, bt := range p {
		a.send(id, bt.data)
	}
}

func (a *attemptLog) run() {
	defer close(a.done)
	t := time.NewTicker(attemptFlushEvery)
	defer t.Stop()
	for {
		select {
		case <-a.quit:
			return
		case <-t.C:
			a.sendPending()
		}
	}
}

// flush stops the periodic publishing, publishes what is gathered and
// waits (bounded by ctx) for outstanding records. Records given after it
// wait for the next flush.
func (a *attemptLog) flush(ctx context.Context) {
	a.once.Do(func() { close(a.quit) })
	<-a.done
	a.sendPending()
	select {
	case <-a.js.PublishAsyncComplete():
	case <-ctx.Done():
	}
}
