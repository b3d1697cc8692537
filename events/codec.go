package events

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/smsgw/smsgw/internal/jsonx"
)

// The hand-written codec of the envelope: every event is encoded once when
// stored, once as a webhook body per delivery, and decoded by the bridge,
// so encoding/json's reflection was a visible share of the CPU per
// message. The encoder writes exactly what json.Marshal writes for the
// same value; the decoder is a fast path that hands anything unusual to
// encoding/json (see internal/jsonx), so results and errors are unchanged.

// AppendJSON appends the envelope as stored in JetStream (json.Marshal's
// bytes).
func (e *Event) AppendJSON(dst []byte) []byte {
	dst = append(dst, '{')
	if e.ID != "" {
		dst = append(dst, `"id":`...)
		dst = jsonx.AppendString(dst, e.ID)
		dst = append(dst, ',')
	}
	return e.appendBody(dst)
}

// appendBody appends "type", "timestamp" and "data" and the closing brace.
func (e *Event) appendBody(dst []byte) []byte {
	dst = append(dst, `"type":`...)
	dst = jsonx.AppendString(dst, e.Type)
	dst = append(dst, `,"timestamp":`...)
	dst = e.Timestamp.appendJSON(dst)
	dst = append(dst, `,"data":`...)
	dst = e.Data.AppendJSON(dst)
	return append(dst, '}')
}

// appendJSON appends t as MarshalJSON writes it.
func (t Time) appendJSON(dst []byte) []byte {
	dst = append(dst, '"')
	dst = jsonx.AppendUTCMillis(dst, t.Time)
	return append(dst, '"')
}

// AppendJSON appends d as json.Marshal writes it.
func (d *Data) AppendJSON(dst []byte) []byte {
	dst = append(dst, '{')
	str := func(name, v string) {
		if v != "" {
			dst = append(dst, name...)
			dst = jsonx.AppendString(dst, v)
			dst = append(dst, ',')
		}
	}
	tm := func(name string, v *Time) {
		if v != nil {
			dst = append(dst, name...)
			dst = v.appendJSON(dst)
			dst = append(dst, ',')
		}
	}
	str(`"message_id":`, d.MessageID)
	str(`"to":`, d.To)
	str(`"from":`, d.From)
	str(`"status":`, d.Status)
	if d.PartCount != 0 {
		dst = append(dst, `"part_count":`...)
		dst = jsonx.AppendInt(dst, int64(d.PartCount))
		dst = append(dst, ',')
	}
	str(`"text":`, d.Text)
	if len(d.Metadata) > 0 {
		dst = append(dst, `"metadata":`...)
		dst = AppendStringMap(dst, d.Metadata)
		dst = append(dst, ',')
	}
	str(`"smsc":`, d.SMSC)
	tm(`"submitted_at":`, d.SubmittedAt)
	tm(`"done_at":`, d.DoneAt)
	tm(`"received_at":`, d.ReceivedAt)
	str(`"in_reply_to":`, d.InReplyTo)
	if d.Reason != nil {
		dst = append(dst, `"reason":`...)
		dst = d.Reason.appendJSON(dst)
		dst = append(dst, ',')
	}
	str(`"number":`, d.Number)
	str(`"keyword":`, d.Keyword)
	str(`"endpoint_id":`, d.EndpointID)
	str(`"url":`, d.URL)
	dst = append(dst, `"sequence":`...)
	dst = jsonx.AppendInt(dst, int64(d.Sequence))
	return append(dst, '}')
}

func (r *Reason) appendJSON(dst []byte) []byte {
	dst = append(dst, '{')
	n := len(dst)
	str := func(name, v string) {
		if v != "" {
			dst = append(dst, name...)
			dst = jsonx.AppendString(dst, v)
			dst = append(dst, ',')
		}
	}
	str(`"category":`, r.Category)
	if r.Code != 0 {
		dst = append(dst, `"code":`...)
		dst = jsonx.AppendInt(dst, int64(r.Code))
		dst = append(dst, ',')
	}
	str(`"message":`, r.Message)
	str(`"smpp_stat":`, r.SMPPStat)
	str(`"smpp_err":`, r.SMPPErr)
	if r.SMPPStatus != nil {
		dst = append(dst, `"smpp_status":`...)
		dst = jsonx.AppendInt(dst, int64(*r.SMPPStatus))
		dst = append(dst, ',')
	}
	if len(dst) > n {
		dst = dst[:len(dst)-1] // the last comma
	}
	return append(dst, '}')
}

// AppendStringMap appends m as json.Marshal writes a map[string]string
// (keys sorted).
func AppendStringMap(dst []byte, m map[string]string) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = jsonx.AppendString(dst, k)
		dst = append(dst, ':')
		dst = jsonx.AppendString(dst, m[k])
	}
	return append(dst, '}')
}

// Decode reads an envelope from dec (the fast path of Unmarshal); the
// caller checks dec.Failed.
func (e *Event) Decode(dec *jsonx.Decoder) {
	mem := dec.Members()
	for {
		k, ok := mem.Next()
		if !ok {
			return
		}
		switch string(k) {
		case "id":
			e.ID = dec.String()
		case "type":
			e.Type = dec.String()
		case "timestamp":
			e.Timestamp = decodeTime(dec)
		case "data":
			e.Data.decode(dec)
		default:
			dec.Fail()
			return
		}
	}
}

// decodeTime reads a Time as its UnmarshalJSON does.
func decodeTime(dec *jsonx.Decoder) Time {
	s := dec.String()
	if dec.Failed() {
		return Time{}
	}
	if v, ok := parseUTC(s); ok {
		return Time{v}
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		dec.Fail()
		return Time{}
	}
	return Time{v}
}

// parseUTC reads "YYYY-MM-DDTHH:MM:SS[.fraction]Z" (what Time writes) as
// time.Parse(time.RFC3339Nano, s) does; ok is false for anything else,
// out-of-range fields included (time.Parse then gives the answer).
func parseUTC(s string) (time.Time, bool) {
	if len(s) < 20 || s[len(s)-1] != 'Z' || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return time.Time{}, false
	}
	num := func(a, b int) (int, bool) {
		n := 0
		for i := a; i < b; i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	y, ok1 := num(0, 4)
	mo, ok2 := num(5, 7)
	d, ok3 := num(8, 10)
	h, ok4 := num(11, 13)
	mi, ok5 := num(14, 16)
	sec, ok6 := num(17, 19)
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 59 {
		return time.Time{}, false
	}
	if d > 28 && time.Date(y, time.Month(mo), d, 0, 0, 0, 0, time.UTC).Day() != d {
		return time.Time{}, false // no such day in that month
	}
	ns := 0
	switch frac := s[19 : len(s)-1]; {
	case frac == "":
	case len(frac) >= 2 && len(frac) <= 10 && frac[0] == '.':
		v, ok := num(20, len(s)-1)
		if !ok {
			return time.Time{}, false
		}
		for range 10 - len(frac) {
			v *= 10
		}
		ns = v
	default:
		return time.Time{}, false
	}
	return time.Date(y, time.Month(mo), d, h, mi, sec, ns, time.UTC), true
}

func decodeTimePtr(dec *jsonx.Decoder) *Time {
	t := decodeTime(dec)
	return &t
}

func (d *Data) decode(dec *jsonx.Decoder) {
	mem := dec.Members()
	for {
		k, ok := mem.Next()
		if !ok {
			return
		}
		switch string(k) {
		case "message_id":
			d.MessageID = dec.String()
		case "to":
			d.To = dec.String()
		case "from":
			d.From = dec.String()
		case "status":
			d.Status = dec.String()
		case "part_count":
			d.PartCount = int(dec.Int(strconv.IntSize))
		case "text":
			d.Text = dec.String()
		case "metadata":
			d.Metadata = decodeIntoMap(dec, d.Metadata)
		case "smsc":
			d.SMSC = dec.String()
		case "submitted_at":
			d.SubmittedAt = decodeTimePtr(dec)
		case "done_at":
			d.DoneAt = decodeTimePtr(dec)
		case "received_at":
			d.ReceivedAt = decodeTimePtr(dec)
		case "in_reply_to":
			d.InReplyTo = dec.String()
		case "reason":
			if d.Reason != nil {
				dec.Fail() // a repeated object merges in encoding/json
				return
			}
			d.Reason = &Reason{}
			d.Reason.decode(dec)
		case "number":
			d.Number = dec.String()
		case "keyword":
			d.Keyword = dec.String()
		case "endpoint_id":
			d.EndpointID = dec.String()
		case "url":
			d.URL = dec.String()
		case "sequence":
			d.Sequence = int(dec.Int(strconv.IntSize))
		default:
			dec.Fail()
			return
		}
	}
}

// decodeIntoMap reads an object of strings into m as encoding/json does:
// a repeated key merges into the map it already made.
func decodeIntoMap(dec *jsonx.Decoder, m map[string]string) map[string]string {
	n := dec.StringMap()
	if m == nil || n == nil {
		return n
	}
	for k, v := range n {
		m[k] = v
	}
	return m
}

func (r *Reason) decode(dec *jsonx.Decoder) {
	mem := dec.Members()
	for {
		k, ok := mem.Next()
		if !ok {
			return
		}
		switch string(k) {
		case "category":
			r.Category = dec.String()
		case "code":
			r.Code = int(dec.Int(strconv.IntSize))
		case "message":
			r.Message = dec.String()
		case "smpp_stat":
			r.SMPPStat = dec.String()
		case "smpp_err":
			r.SMPPErr = dec.String()
		case "smpp_status":
			v := int(dec.Int(strconv.IntSize))
			r.SMPPStatus = &v
		default:
			dec.Fail()
			return
		}
	}
}

// unmarshalSlow is the encoding/json decode of an envelope.
func unmarshalSlow(b []byte) (Event, error) {
	var e Event
	if err := json.Unmarshal(b, &e); err != nil {
		return Event{}, fmt.Errorf("events: decode: %w", err)
	}
	return e, nil
}
