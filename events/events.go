package events

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/smsgw/smsgw/internal/jsonx"
)

// Event types of contract section 3. Type strings are part of the external
// contract: webhook filters, NATS subjects and payloads all use them.
const (
	MessageSent        = "message.sent"
	MessageDelivered   = "message.delivered"
	MessageUndelivered = "message.undelivered"
	MessageFailed      = "message.failed"
	MessageInbound     = "message.inbound"
	ContactOptedOut    = "contact.opted_out"
	ContactOptedIn     = "contact.opted_in"
	WebhookTest        = "webhook.test"
	EndpointDisabled   = "endpoint.disabled"
)

// Types lists every event type an endpoint may subscribe to.
var Types = []string{
	MessageSent, MessageDelivered, MessageUndelivered, MessageFailed,
	MessageInbound, ContactOptedOut, ContactOptedIn, WebhookTest, EndpointDisabled,
}

// NATS names. Subjects are contract section 4; stream names are listed in
// docs/NATS.md.
const (
	// SubjectPrefix is followed by "<account>.<type>".
	SubjectPrefix = "sms.events."
	// StreamName is the JetStream stream holding every event.
	StreamName = "SMS_EVENTS"
	// StreamSubjects is what StreamName captures.
	StreamSubjects = "sms.events.>"
	// DirectPrefix is followed by "<endpoint id>.<type>": an event meant for
	// one webhook endpoint only (replays). It lives in StreamName too.
	DirectPrefix = "sms.direct."
	// DirectStreamSubjects is the second subject filter of StreamName.
	DirectStreamSubjects = "sms.direct.>"
	// CallbackStream holds a copy of every event of a message that has a
	// callback_url, so the bridge's callback worker reads only those
	// instead of every event of StreamName.
	CallbackStream = "SMS_CALLBACKS"
	// CallbackPrefix is followed by "<account>.<type>".
	CallbackPrefix = "sms.callback."
	// CallbackStreamSubjects is what CallbackStream captures.
	CallbackStreamSubjects = "sms.callback.>"
	// UnassignedAccount is the account segment of inbound messages that no
	// account claims; the bridge sends them to no webhook.
	UnassignedAccount = "_unassigned"

	// HeaderCallbackURL carries a message's callback_url alongside its
	// events, so the JSON stays exactly the contract's envelope.
	HeaderCallbackURL = "Smsgw-Callback-Url"
	// HeaderEndpointID names the one endpoint an event is meant for
	// (webhook.test, replays); absent means "every matching endpoint".
	HeaderEndpointID = "Smsgw-Endpoint-Id"
)

// Subject is the NATS subject of an event of type typ for account.
func Subject(account, typ string) string {
	return SubjectPrefix + account + "." + typ
}

// CallbackSubject is the subject of the callback_url copy of an event of
// type typ for account (see CallbackStream).
func CallbackSubject(account, typ string) string {
	return CallbackPrefix + account + "." + typ
}

// ParseCallbackSubject splits a CallbackSubject into account and type.
func ParseCallbackSubject(subject string) (account, typ string, err error) {
	rest, ok := strings.CutPrefix(subject, CallbackPrefix)
	if !ok {
		return "", "", fmt.Errorf("events: %q is not a callback subject", subject)
	}
	return ParseSubject(SubjectPrefix + rest)
}

// DirectSubject is the subject of an event for one endpoint only.
func DirectSubject(endpointID, typ string) string {
	return DirectPrefix + endpointID + "." + typ
}

// ParseSubject splits an event subject into account and type.
func ParseSubject(subject string) (account, typ string, err error) {
	rest, ok := strings.CutPrefix(subject, SubjectPrefix)
	if !ok {
		return "", "", fmt.Errorf("events: subject %q: not under %s", subject, SubjectPrefix)
	}
	account, typ, ok = strings.Cut(rest, ".")
	if !ok || account == "" || typ == "" {
		return "", "", fmt.Errorf("events: subject %q: want %s<account>.<type>", subject, SubjectPrefix)
	}
	return account, typ, nil
}

// Time marshals as RFC 3339 in UTC with milliseconds, as the contract's
// examples show ("2026-11-22T10:00:04.123Z").
type Time struct{ time.Time }

// TimeLayout is the wire layout of Time.
const TimeLayout = "2006-01-02T15:04:05.000Z07:00"

// At wraps t.
func At(t time.Time) *Time { return &Time{t} }

// MarshalJSON implements json.Marshaler.
func (t Time) MarshalJSON() ([]byte, error) {
	return []byte(`"` + t.UTC().Format(TimeLayout) + `"`), nil
}

// UnmarshalJSON implements json.Unmarshaler; it accepts any RFC 3339 time.
func (t *Time) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return err
	}
	t.Time = v
	return nil
}

// Event is the envelope stored in JetStream. The webhook body is the same
// without ID (see WebhookBody).
type Event struct {
	ID        string `json:"id,omitempty"`
	Type      string `json:"type"`
	Timestamp Time   `json:"timestamp"`
	Data      Data   `json:"data"`
}

// Reason explains message.undelivered and message.failed.
type Reason struct {
	Category   string `json:"category,omitempty"`
	Code       int    `json:"code,omitempty"`
	Message    string `json:"message,omitempty"`
	SMPPStat   string `json:"smpp_stat,omitempty"`
	SMPPErr    string `json:"smpp_err,omitempty"`
	SMPPStatus *int   `json:"smpp_status,omitempty"`
}

// Bounce categories and their codes (contract section 3).
const (
	HardBounce       = "hard_bounce"
	SoftBounce       = "soft_bounce"
	CarrierViolation = "carrier_violation"
	UnknownBounce    = "unknown"
)

// BounceCode is the numeric code paired with each category.
var BounceCode = map[string]int{HardBounce: 1400, SoftBounce: 1404, CarrierViolation: 1408, UnknownBounce: 1409}

// BounceMessage is the human text paired with each category.
var BounceMessage = map[string]string{HardBounce: "Hard Bounce", SoftBounce: "Soft Bounce", CarrierViolation: "Carrier Violation", UnknownBounce: "Unknown"}

// NewReason builds the contract's reason object for a category.
func NewReason(category, stat, errCode string) *Reason {
	return &Reason{Category: category, Code: BounceCode[category], Message: BounceMessage[category], SMPPStat: stat, SMPPErr: errCode}
}

// Data is the union of every event type's fields; each type fills its own
// (contract section 3) and the rest are omitted.
type Data struct {
	MessageID   string            `json:"message_id,omitempty"`
	To          string            `json:"to,omitempty"`
	From        string            `json:"from,omitempty"`
	Status      string            `json:"status,omitempty"`
	PartCount   int               `json:"part_count,omitempty"`
	Text        string            `json:"text,omitempty"`
	Metadata    map[string]string `json:"metadata,omitempty"`
	SMSC        string            `json:"smsc,omitempty"`
	SubmittedAt *Time             `json:"submitted_at,omitempty"`
	DoneAt      *Time             `json:"done_at,omitempty"`
	ReceivedAt  *Time             `json:"received_at,omitempty"`
	InReplyTo   string            `json:"in_reply_to,omitempty"`
	Reason      *Reason           `json:"reason,omitempty"`
	Number      string            `json:"number,omitempty"`
	Keyword     string            `json:"keyword,omitempty"`
	EndpointID  string            `json:"endpoint_id,omitempty"`
	URL         string            `json:"url,omitempty"`
	Sequence    int               `json:"sequence"`
}

// NewID returns a fresh, time-ordered event id ("evt_01J…"); it has no '.'
// so it is safe as a webhook-id and inside NATS subjects.
func NewID() string { return "evt_" + newULID() }

// NewMessageID returns a fresh message id ("msg_01J…").
func NewMessageID() string { return "msg_" + newULID() }

func newULID() string {
	return ulid.MustNew(ulid.Timestamp(time.Now()), rand.Reader).String()
}

// New returns an event of type typ stamped now with a fresh id.
func New(typ string, data Data) Event {
	return Event{ID: NewID(), Type: typ, Timestamp: Time{time.Now()}, Data: data}
}

// webhookBody is Event without its id: the exact JSON POSTed to endpoints.
type webhookBody struct {
	Type      string `json:"type"`
	Timestamp Time   `json:"timestamp"`
	Data      Data   `json:"data"`
}

// WebhookBody is the JSON body delivered to a webhook endpoint: the bytes
// json.Marshal writes for webhookBody (hand-written, see codec.go).
func (e Event) WebhookBody() ([]byte, error) {
	return e.appendBody(append(make([]byte, 0, 384), '{')), nil
}

// Marshal encodes the envelope as stored in JetStream: the bytes
// json.Marshal writes for e (hand-written, see codec.go).
func (e Event) Marshal() ([]byte, error) { return e.AppendJSON(make([]byte, 0, 384)), nil }

// Unmarshal decodes a stored envelope. The result and the error are those
// of json.Unmarshal (a fast path reads the usual shape, see codec.go).
func Unmarshal(b []byte) (Event, error) {
	var e Event
	dec := jsonx.NewDecoder(b)
	e.Decode(dec)
	if dec.Finish() {
		return e, nil
	}
	return unmarshalSlow(b)
}
