package bridge

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/smsgw/smsgw/events"
)

// NATS names of the dead-letter store.
const (
	// DeadLetterStream keeps events whose retries ran out.
	DeadLetterStream = "SMS_DEADLETTER"
	// DeadLetterSubjectPrefix is followed by the endpoint id (or
	// CallbackTarget).
	DeadLetterSubjectPrefix = "sms.deadletter."
	// DeadLetterMaxAge is how long a dead letter is kept for replay.
	DeadLetterMaxAge = 30 * 24 * time.Hour
)

// Headers of a dead letter; its data is the event envelope as stored in
// SMS_EVENTS (events.Unmarshal reads it), its subject names the endpoint.
const (
	HeaderLastStatus = "Smsgw-Last-Status"
	HeaderLastError  = "Smsgw-Last-Error"
	HeaderAttempts   = "Smsgw-Attempts"
	HeaderSubject    = "Smsgw-Original-Subject"
)

// DeadLetterSubject is the subject of endpointID's dead letters.
func DeadLetterSubject(endpointID string) string { return DeadLetterSubjectPrefix + endpointID }

// DeadLetterStreamConfig is the dead-letter store's stream.
func DeadLetterStreamConfig() jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        DeadLetterStream,
		Description: "smsgw webhook events whose retries ran out, per endpoint, for replay",
		Subjects:    []string{DeadLetterSubjectPrefix + ">"},
		Retention:   jetstream.LimitsPolicy,
		MaxAge:      DeadLetterMaxAge,
		Duplicates:  10 * time.Minute,
	}
}

// DeadLetter is one event that could not be delivered to an endpoint.
type DeadLetter struct {
	Event      events.Event
	EndpointID string
	// CallbackURL is set for callback_url deliveries.
	CallbackURL string
	LastStatus  int
	LastError   string
	Attempts    int
	At          time.Time
	// Seq is the dead letter's sequence in DeadLetterStream.
	Seq uint64
}

// DecodeDeadLetter reads a dead letter from its stream message.
func DecodeDeadLetter(subject string, h nats.Header, data []byte, seq uint64, at time.Time) (DeadLetter, error) {
	ev, err := events.Unmarshal(data)
	if err != nil {
		return DeadLetter{}, fmt.Errorf("bridge: dead letter %d: %w", seq, err)
	}
	id := h.Get(events.HeaderEndpointID)
	if id == "" && len(subject) > len(DeadLetterSubjectPrefix) {
		id = subject[len(DeadLetterSubjectPrefix):]
	}
	st, _ := strconv.Atoi(h.Get(HeaderLastStatus))
	n, _ := strconv.Atoi(h.Get(HeaderAttempts))
	return DeadLetter{
		Event: ev, EndpointID: id, CallbackURL: h.Get(events.HeaderCallbackURL),
		LastStatus: st, LastError: h.Get(HeaderLastError), Attempts: n, At: at, Seq: seq,
	}, nil
}

// dlvDeadLetter stores the event of msg as a dead letter of target. The
// Nats-Msg-Id makes a repeat (a crash between this and the Term) a no-op.
func (b *Bridge) dlvDeadLetter(ctx context.Context, target string, msg jetstream.Msg, ev events.Event, attempt int, try dlvTry) error {
	h := nats.Header{}
	h.Set(events.HeaderEndpointID, target)
	h.Set(HeaderSubject, msg.Subject())
	h.Set(HeaderLastStatus, strconv.Itoa(try.status))
	if try.err != nil {
		e := dlvRedactErr(try.err).Error()
		if len(e) > 512 {
			e = e[:512]
		}
		h.Set(HeaderLastError, e)
	}
	h.Set(HeaderAttempts, strconv.Itoa(attempt))
	if u := msg.Headers().Get(events.HeaderCallbackURL); u != "" {
		h.Set(events.HeaderCallbackURL, u)
	}
	md, err := msg.Metadata()
	if err != nil {
		return fmt.Errorf("bridge: dead letter: %w", err)
	}
	h.Set(jetstream.MsgIDHeader, fmt.Sprintf("%s-%s-%d", ev.ID, target, md.Sequence.Stream))
	if _, err := b.js.PublishMsg(ctx, &nats.Msg{Subject: DeadLetterSubject(target), Header: h, Data: msg.Data()}); err != nil {
		return fmt.Errorf("bridge: dead letter %s for %s: %w", ev.ID, target, err)
	}
	return nil
}

// errDlvUnchanged aborts an endpoint update that has nothing to write.
var errDlvUnchanged = errors.New("bridge: unchanged")
