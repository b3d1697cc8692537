package gateway

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/smsgw/smsgw/events"
	"github.com/smsgw/smsgw/httpapi"
	"github.com/smsgw/smsgw/internal/jsonx"
)

// Hand-written codecs of the submit routes' bodies: the request decode is
// a fast path for the usual shape that hands anything else (unknown or
// differently-cased fields, nulls, numbers, bad JSON) to the
// encoding/json decode it replaces, so every refusal is worded as before;
// the answers are the bytes json.Marshal writes.

// decodeSubmitBody reads one submit body (the fast path of
// httpapi.DecodeBytes into SubmitBody); the caller checks dec.Failed.
func decodeSubmitBody(dec *jsonx.Decoder, b *SubmitBody) {
	mem := dec.Members()
	for !dec.Failed() {
		k, ok := mem.Next()
		if !ok {
			return
		}
		switch string(k) {
		case "to":
			b.To = dec.String()
		case "from":
			b.From = dec.String()
		case "text":
			b.Text = dec.String()
		case "callback_url":
			b.CallbackURL = dec.String()
		case "metadata":
			n := dec.StringMap()
			if b.Metadata == nil {
				b.Metadata = n
			} else {
				for k, v := range n { // a repeated key merges, as in encoding/json
					b.Metadata[k] = v
				}
			}
		case "encoding":
			b.Encoding = dec.String()
		case "validity":
			b.Validity = dec.String()
		case "route":
			b.Route = dec.String()
		default:
			dec.Fail()
		}
	}
}

// apiDecodeSubmit decodes a submit body as httpapi.DecodeBytes does.
func apiDecodeSubmit(body []byte, sb *SubmitBody) *httpapi.Problem {
	dec := jsonx.NewDecoder(body)
	decodeSubmitBody(dec, sb)
	if dec.Finish() {
		return nil
	}
	*sb = SubmitBody{}
	return httpapi.DecodeBytes(body, sb)
}

// apiDecodeBatchFast reads a batch body whose items are all plain submit
// bodies; ok is false for anything else (the caller then decodes it with
// encoding/json, item by item, as before).
func apiDecodeBatchFast(body []byte) ([]SubmitBody, bool) {
	dec := jsonx.NewDecoder(body)
	var items []SubmitBody
	seen := false
	mem := dec.Members()
	for !dec.Failed() {
		k, ok := mem.Next()
		if !ok {
			break
		}
		if string(k) != "messages" || seen || !dec.IsArray() {
			dec.Fail()
			break
		}
		seen = true
		items = make([]SubmitBody, 0, 64)
		el := dec.Elements()
		for el.Next() {
			var sb SubmitBody
			decodeSubmitBody(dec, &sb)
			items = append(items, sb)
		}
	}
	if !dec.Finish() || !seen {
		return nil, false
	}
	return items, true
}

// appendMessageResource appends r as json.Marshal writes it.
func appendMessageResource(dst []byte, r *MessageResource) []byte {
	dst = append(dst, `{"id":`...)
	dst = jsonx.AppendString(dst, r.ID)
	dst = append(dst, `,"status":`...)
	dst = jsonx.AppendString(dst, r.Status)
	dst = append(dst, `,"to":`...)
	dst = jsonx.AppendString(dst, r.To)
	dst = append(dst, `,"from":`...)
	dst = jsonx.AppendString(dst, r.From)
	dst = append(dst, `,"parts":`...)
	dst = strconv.AppendInt(dst, int64(r.Parts), 10)
	dst = append(dst, `,"encoding":`...)
	dst = jsonx.AppendString(dst, r.Encoding)
	dst = append(dst, `,"metadata":`...)
	if r.Metadata == nil {
		dst = append(dst, "null"...)
	} else {
		dst = events.AppendStringMap(dst, r.Metadata)
	}
	dst = append(dst, `,"created_at":"`...)
	dst = jsonx.AppendUTCMillis(dst, r.CreatedAt.Time)
	return append(dst, `"}`...)
}

// apiMarshal encodes a submit route's answer as json.Marshal does, by
// hand for message resources and batch answers.
func apiMarshal(v any) ([]byte, error) {
	switch b := v.(type) {
	case MessageResource:
		return appendMessageResource(make([]byte, 0, 256), &b), nil
	case BatchAnswer:
		dst := make([]byte, 0, 64+len(b.Results)*240)
		dst = append(dst, `{"results":`...)
		if b.Results == nil {
			dst = append(dst, "null"...)
		} else {
			dst = append(dst, '[')
			for i := range b.Results {
				if i > 0 {
					dst = append(dst, ',')
				}
				r := &b.Results[i]
				dst = append(dst, `{"status":`...)
				dst = strconv.AppendInt(dst, int64(r.Status), 10)
				if r.Message != nil {
					dst = append(dst, `,"message":`...)
					dst = appendMessageResource(dst, r.Message)
				}
				if r.Error != nil {
					p, err := json.Marshal(r.Error)
					if err != nil {
						return nil, err
					}
					dst = append(dst, `,"error":`...)
					dst = append(dst, p...)
				}
				dst = append(dst, '}')
			}
			dst = append(dst, ']')
		}
		return append(dst, '}'), nil
	}
	return json.Marshal(v)
}

// apiWriteJSON is httpapi.WriteJSON with apiMarshal's encoding.
func apiWriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := apiMarshal(v)
	if err != nil {
		httpapi.WriteJSON(w, status, v) // answers the encoding problem
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
