package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
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
		Description:       "smsgw webhook delivery attempts, newest 100 per endpoint",
		Subjects:          []string{AttemptsSubjectPrefix + ">"},
		Retention:         jetstream.LimitsPolicy,
		MaxMsgsPerSubject: AttemptsPerEndpoint,
		MaxAge:            AttemptsMaxAge,
		Discard:           jetstream.DiscardOld,
	}
}

// RecentAttempts returns up to limit (at most AttemptsPerEndpoint) of
// endpointID's attempts, newest first.
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
		var r AttemptRecord
		if err := json.Unmarshal(m.Data(), &r); err == nil {
			out = append(out, r)
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

// attemptLog publishes attempt records without waiting for JetStream: a
// lost record is a gap in a log, not a lost delivery, and deliveries must not
// wait on it.
type attemptLog struct {
	js  jetstream.JetStream
	log *slog.Logger
	m   *dlvMetrics
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
	return &attemptLog{js: js, log: log, m: m}, nil
}

func (a *attemptLog) publish(r AttemptRecord) {
	b, err := json.Marshal(r)
	if err != nil {
		return
	}
	if _, err := a.js.PublishMsgAsync(&nats.Msg{Subject: AttemptsSubject(r.EndpointID), Data: b},
		jetstream.WithStallWait(50*time.Millisecond)); err != nil {
		a.m.attemptLogErrors.Inc()
		a.log.Debug("attempt record dropped", "endpoint_id", r.EndpointID, "event_id", r.EventID, "err", err)
	}
}

// flush waits (bounded by ctx) for outstanding records.
func (a *attemptLog) flush(ctx context.Context) {
	select {
	case <-a.js.PublishAsyncComplete():
	case <-ctx.Done():
	}
}
