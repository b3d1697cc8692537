package gateway

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/smsgw/smsgw/events"
	"github.com/smsgw/smsgw/internal/jsonx"
)

// The hand-written codec of message records and submit queue entries. A
// record is encoded three times per message (accepted, sent, final) and
// decoded at least once; with encoding/json that was about a tenth of the
// CPU per message. The encoder writes exactly the bytes json.Marshal
// writes; the decoder reads the usual shape and hands anything else to
// encoding/json (see internal/jsonx), so the stored format, the results
// and the errors are what they were.

// appendRecord appends m as json.Marshal writes it; ok is false when
// encoding/json would refuse it (a time outside years 0-9999).
func (m *Message) appendRecord(dst []byte) ([]byte, bool) {
	if !jsonx.TimeOK(m.CreatedAt) || (m.SubmittedAt != nil && !jsonx.TimeOK(*m.SubmittedAt)) ||
		(m.DoneAt != nil && !jsonx.TimeOK(*m.DoneAt)) {
		return dst, false
	}
	for i := range m.PartStates {
		if d := m.PartStates[i].DoneAt; d != nil && !jsonx.TimeOK(*d) {
			return dst, false
		}
	}
	str := func(name, v string) {
		dst = append(dst, name...)
		dst = jsonx.AppendString(dst, v)
	}
	opt := func(name, v string) {
		if v != "" {
			str(name, v)
		}
	}
	num := func(name string, v int64) {
		dst = append(dst, name...)
		dst = jsonx.AppendInt(dst, v)
	}
	tm := func(name string, t *time.Time) {
		if t != nil {
			dst = append(dst, name...)
			dst = jsonx.AppendTime(dst, *t)
		}
	}
	str(`{"id":`, m.ID)
	str(`,"account":`, m.Account)
	str(`,"to":`, m.To)
	str(`,"from":`, m.From)
	str(`,"text":`, m.Text)
	str(`,"encoding":`, m.Encoding)
	num(`,"parts":`, int64(m.Parts))
	if len(m.Metadata) > 0 {
		dst = append(dst, `,"metadata":`...)
		dst = events.AppendStringMap(dst, m.Metadata)
	}
	opt(`,"callback_url":`, m.CallbackURL)
	if m.Validity != 0 {
		num(`,"validity":`, int64(m.Validity))
	}
	opt(`,"route":`, m.Route)
	str(`,"status":`, m.Status)
	tm(`,"created_at":`, &m.CreatedAt)
	opt(`,"smsc":`, m.SMSC)
	tm(`,"submitted_at":`, m.SubmittedAt)
	tm(`,"done_at":`, m.DoneAt)
	if len(m.PartIDs) > 0 {
		dst = append(dst, `,"part_ids":[`...)
		for i, id := range m.PartIDs {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = jsonx.AppendString(dst, id)
		}
		dst = append(dst, ']')
	}
	if len(m.PartStates) > 0 {
		dst = append(dst, `,"part_states":[`...)
		for i := range m.PartStates {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = m.PartStates[i].appendJSON(dst)
		}
		dst = append(dst, ']')
	}
	if m.Sequence != 0 {
		num(`,"sequence":`, int64(m.Sequence))
	}
	if len(m.Events) > 0 {
		dst = append(dst, `,"events":[`...)
		for i := range m.Events {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = m.Events[i].AppendJSON(dst)
		}
		dst = append(dst, ']')
	}
	if m.SubmitAttempts != 0 {
		num(`,"submit_attempts":`, int64(m.SubmitAttempts))
	}
	return append(dst, '}'), true
}

func (p *PartState) appendJSON(dst []byte) []byte {
	dst = append(dst, '{')
	n := len(dst)
	if p.Final {
		dst = append(dst, `"final":true,`...)
	}
	if p.Delivered {
		dst = append(dst, `"delivered":true,`...)
	}
	if p.Stat != "" {
		dst = append(dst, `"stat":`...)
		dst = jsonx.AppendString(dst, p.Stat)
		dst = append(dst, ',')
	}
	if p.Err != "" {
		dst = append(dst, `"err":`...)
		dst = jsonx.AppendString(dst, p.Err)
		dst = append(dst, ',')
	}
	if p.DoneAt != nil {
		dst = append(dst, `"done_at":`...)
		dst = jsonx.AppendTime(dst, *p.DoneAt)
		dst = append(dst, ',')
	}
	if len(dst) > n {
		dst = dst[:len(dst)-1]
	}
	return append(dst, '}')
}

// decode reads a record (the fast path of UnmarshalMessage); the caller
// checks dec.Failed.
func (m *Message) decode(dec *jsonx.Decoder) {
	mem := dec.Members()
	for {
		k, ok := mem.Next()
		if !ok {
			return
		}
		switch string(k) {
		case "id":
			m.ID = dec.String()
		case "account":
			m.Account = dec.String()
		case "to":
			m.To = dec.String()
		case "from":
			m.From = dec.String()
		case "text":
			m.Text = dec.String()
		case "encoding":
			m.Encoding = dec.String()
		case "parts":
			m.Parts = int(dec.Int(strconv.IntSize))
		case "metadata":
			n := dec.StringMap()
			if m.Metadata == nil {
				m.Metadata = n
			} else {
				for k, v := range n { // a repeated key merges, as in encoding/json
					m.Metadata[k] = v
				}
			}
		case "callback_url":
			m.CallbackURL = dec.String()
		case "validity":
			m.Validity = time.Duration(dec.Int(64))
		case "route":
			m.Route = dec.String()
		case "status":
			m.Status = dec.String()
		case "created_at":
			m.CreatedAt = dec.Time()
		case "smsc":
			m.SMSC = dec.String()
		case "submitted_at":
			t := dec.Time()
			m.SubmittedAt = &t
		case "done_at":
			t := dec.Time()
			m.DoneAt = &t
		case "part_ids":
			if m.PartIDs != nil {
				dec.Fail() // encoding/json decodes a repeated array into the first
				return
			}
			m.PartIDs = make([]string, 0, 1)
			el := dec.Elements()
			for el.Next() {
				m.PartIDs = append(m.PartIDs, dec.String())
			}
		case "part_states":
			if m.PartStates != nil {
				dec.Fail()
				return
			}
			m.PartStates = make([]PartState, 0, 1)
			el := dec.Elements()
			for el.Next() {
				var p PartState
				p.decode(dec)
				m.PartStates = append(m.PartStates, p)
			}
		case "sequence":
			m.Sequence = int(dec.Int(strconv.IntSize))
		case "events":
			if m.Events != nil {
				dec.Fail()
				return
			}
			m.Events = make([]events.Event, 0, 2)
			el := dec.Elements()
			for el.Next() {
				var e events.Event
				e.Decode(dec)
				m.Events = append(m.Events, e)
			}
		case "submit_attempts":
			m.SubmitAttempts = int(dec.Int(strconv.IntSize))
		default:
			dec.Fail()
			return
		}
		if dec.Failed() {
			return
		}
	}
}

func (p *PartState) decode(dec *jsonx.Decoder) {
	mem := dec.Members()
	for {
		k, ok := mem.Next()
		if !ok {
			return
		}
		switch string(k) {
		case "final":
			p.Final = dec.Bool()
		case "delivered":
			p.Delivered = dec.Bool()
		case "stat":
			p.Stat = dec.String()
		case "err":
			p.Err = dec.String()
		case "done_at":
			t := dec.Time()
			p.DoneAt = &t
		default:
			dec.Fail()
			return
		}
	}
}

// unmarshalMessageSlow is the encoding/json decode of a record.
func unmarshalMessageSlow(b []byte) (*Message, error) {
	var m Message
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("gateway: decode message record: %w", err)
	}
	return &m, nil
}

// appendSubmitRequest appends the queue entry of m (json.Marshal's bytes
// for SubmitRequest{ID, Account, Record: record, Revision: rev}; record is
// m's compact JSON).
func appendSubmitRequest(dst []byte, id, account string, record []byte, rev uint64) []byte {
	dst = append(dst, `{"id":`...)
	dst = jsonx.AppendString(dst, id)
	dst = append(dst, `,"account":`...)
	dst = jsonx.AppendString(dst, account)
	if len(record) > 0 {
		dst = append(dst, `,"record":`...)
		dst = append(dst, record...)
	}
	if rev != 0 {
		dst = append(dst, `,"revision":`...)
		dst = strconv.AppendUint(dst, rev, 10)
	}
	return append(dst, '}')
}

// submitEntry is a queue entry with its record decoded in the same pass.
type submitEntry struct {
	ID       string   `json:"id"`
	Account  string   `json:"account"`
	Record   *Message `json:"record,omitempty"`
	Revision uint64   `json:"revision,omitempty"`
}

// decodeSubmitEntry reads a queue entry as json.Unmarshal into
// submitEntry does.
func decodeSubmitEntry(b []byte) (submitEntry, error) {
	var e submitEntry
	dec := jsonx.NewDecoder(b)
	mem := dec.Members()
	for {
		k, ok := mem.Next()
		if !ok {
			break
		}
		switch string(k) {
		case "id":
			e.ID = dec.String()
		case "account":
			e.Account = dec.String()
		case "record":
			if e.Record != nil {
				dec.Fail() // a repeated object merges in encoding/json
				break
			}
			e.Record = &Message{}
			e.Record.decode(dec)
		case "revision":
			e.Revision = dec.Uint(64)
		default:
			dec.Fail()
		}
		if dec.Failed() {
			break
		}
	}
	if dec.Finish() {
		return e, nil
	}
	e = submitEntry{}
	err := json.Unmarshal(b, &e)
	return e, err
}
