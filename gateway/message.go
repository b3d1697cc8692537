package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/smsgw/smsgw/events"
	"github.com/smsgw/smsgw/internal/jsonx"
)

// Message statuses (contract section 2). A message starts accepted and only
// moves forward: accepted → sent → delivered | undelivered, or → failed.
const (
	StatusAccepted    = "accepted"
	StatusSent        = "sent"
	StatusDelivered   = "delivered"
	StatusUndelivered = "undelivered"
	StatusFailed      = "failed"
)

// NATS names owned by the gateway (listed in docs/API.md and docs/NATS.md).
const (
	// BucketMessages holds one Message per message id (JSON), created by
	// the engine when it first takes the message from SubmitStream and
	// updated with optimistic concurrency (kv.Update with the read
	// revision).
	BucketMessages = "sms_messages"
	// BucketIdempotency maps "<account>.<hashed Idempotency-Key>" to the
	// first answer of a submit; entries expire after IdempotencyTTL.
	BucketIdempotency = "sms_idempotency"
	// BucketOptOuts holds "<account>.<number digits>" → OptOut.
	BucketOptOuts = "sms_optouts"

	// SubmitStream is the work queue of accepted messages; every gateway
	// instance pulls from the one durable consumer SubmitConsumer.
	SubmitStream = "SMS_SUBMIT"
	// SubmitSubjects is what SubmitStream captures.
	SubmitSubjects = "sms.submit.>"
	// SubmitSubjectPrefix is followed by the account id.
	SubmitSubjectPrefix = "sms.submit."
	// SubmitConsumer is the durable pull consumer shared by all instances.
	SubmitConsumer = "gateway-submit"
)

// IdempotencyTTL is how long an Idempotency-Key is remembered.
const IdempotencyTTL = 24 * time.Hour

// SubmitSubject is the subject prefix of account's queued messages
// (entries are queued on SubmitEntrySubject).
func SubmitSubject(account string) string { return SubmitSubjectPrefix + account }

// SubmitEntrySubject is the subject message id of account is queued on:
// one per message, so GET /v1/messages/{id} finds a message that is still
// queued (its record is not in BucketMessages yet).
func SubmitEntrySubject(account, id string) string { return SubmitSubjectPrefix + account + "." + id }

// SubmitRequest is the payload queued on SubmitStream (Nats-Msg-Id = ID).
// Record is the accepted message's record: the queue entry is its only
// durable copy until the engine first takes the message and creates the
// record in BucketMessages (with expected revision 0, so only once).
// Revision is 0 then; entries queued by older versions, which stored the
// record in BucketMessages first, carry its KV revision (or no record at
// all: the engine reads it from KV).
type SubmitRequest struct {
	ID       string          `json:"id"`
	Account  string          `json:"account"`
	Record   json.RawMessage `json:"record,omitempty"`
	Revision uint64          `json:"revision,omitempty"`
}

// PartState is what the receipts said about one part of a message.
type PartState struct {
	Final     bool       `json:"final,omitempty"`
	Delivered bool       `json:"delivered,omitempty"`
	Stat      string     `json:"stat,omitempty"`
	Err       string     `json:"err,omitempty"`
	DoneAt    *time.Time `json:"done_at,omitempty"`
}

// Message is the record of one submitted message, stored as JSON in
// BucketMessages under its ID. The API side makes it (status accepted) and
// queues it with the submission; the engine stores it in BucketMessages as
// it is submitted and receipted.
type Message struct {
	ID          string            `json:"id"`
	Account     string            `json:"account"`
	To          string            `json:"to"`   // +E.164
	From        string            `json:"from"` // resolved sender
	Text        string            `json:"text"`
	Encoding    string            `json:"encoding"` // resolved: gsm7 | ucs2
	Parts       int               `json:"parts"`
	Metadata    map[string]string `json:"metadata,omitempty"`
	CallbackURL string            `json:"callback_url,omitempty"`
	Validity    time.Duration     `json:"validity,omitempty"` // 0: SMSC default
	Route       string            `json:"route,omitempty"`    // requested SMSC name or ""
	Status      string            `json:"status"`
	CreatedAt   time.Time         `json:"created_at"`

	SMSC           string         `json:"smsc,omitempty"`
	SubmittedAt    *time.Time     `json:"submitted_at,omitempty"`
	DoneAt         *time.Time     `json:"done_at,omitempty"`
	PartIDs        []string       `json:"part_ids,omitempty"`    // SMSC message id per part
	PartStates     []PartState    `json:"part_states,omitempty"` // per part, same order as PartIDs
	Sequence       int            `json:"sequence,omitempty"`    // last data.sequence used
	Events         []events.Event `json:"events,omitempty"`      // history, oldest first
	SubmitAttempts int            `json:"submit_attempts,omitempty"`
}

// MarshalRecord encodes m as stored in BucketMessages: the bytes
// json.Marshal writes (hand-written, see message_codec.go).
func (m *Message) MarshalRecord() ([]byte, error) {
	// Encoded into a pooled buffer, returned as an exact-size copy: a
	// guessed capacity was either too small (grown twice) or wasted.
	bp := recordBufs.Get().(*[]byte)
	b, ok := m.appendRecord((*bp)[:0])
	if ok {
		out := bytes.Clone(b)
		if cap(b) <= 64<<10 {
			*bp = b
			recordBufs.Put(bp)
		}
		return out, nil
	}
	recordBufs.Put(bp)
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("gateway: encode message %s: %w", m.ID, err)
	}
	return b, nil
}

// recordBufs are MarshalRecord's scratch buffers.
var recordBufs = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// UnmarshalMessage decodes a record from BucketMessages; the result and the
// error are json.Unmarshal's (a fast path reads the usual shape, see
// message_codec.go).
func UnmarshalMessage(b []byte) (*Message, error) {
	m := &Message{}
	dec := jsonx.NewDecoder(b)
	m.decode(dec)
	if dec.Finish() {
		return m, nil
	}
	return unmarshalMessageSlow(b)
}

// Final reports whether the message has reached a final status.
func (m *Message) Final() bool {
	switch m.Status {
	case StatusDelivered, StatusUndelivered, StatusFailed:
		return true
	}
	return false
}

// MessageResource is the message as the HTTP API shows it (contract
// section 2) in submit answers.
type MessageResource struct {
	ID        string            `json:"id"`
	Status    string            `json:"status"`
	To        string            `json:"to"`
	From      string            `json:"from"`
	Parts     int               `json:"parts"`
	Encoding  string            `json:"encoding"`
	Metadata  map[string]string `json:"metadata"`
	CreatedAt events.Time       `json:"created_at"`
}

// MessageWithEvents is the answer of GET /v1/messages/{id}: the resource
// plus its event history, oldest first (always an array).
type MessageWithEvents struct {
	MessageResource
	Events []events.Event `json:"events"`
}

// Resource is m's API view.
func (m *Message) Resource() MessageResource {
	r := MessageResource{
		ID: m.ID, Status: m.Status, To: m.To, From: m.From, Parts: m.Parts,
		Encoding: m.Encoding, Metadata: m.Metadata, CreatedAt: events.Time{Time: m.CreatedAt},
	}
	if r.Metadata == nil {
		r.Metadata = map[string]string{}
	}
	return r
}

// ResourceWithEvents is m's API view with its event history.
func (m *Message) ResourceWithEvents() MessageWithEvents {
	ev := m.Events
	if ev == nil {
		ev = []events.Event{}
	}
	return MessageWithEvents{MessageResource: m.Resource(), Events: ev}
}
