package gateway

import (
	"encoding/base64"
	"encoding/json"
	"strconv"

	"github.com/smsgw/smsgw/internal/jsonx"
	"github.com/smsgw/smsgw/smpp"
)

// The hand-written codec of SMS_INBOUND items (one per receipt and MO
// part): the bytes json.Marshal writes, and a decode fast path that hands
// anything unusual to encoding/json (see internal/jsonx).

// marshalInboundItem encodes it as json.Marshal does.
func marshalInboundItem(it *inboundItem) ([]byte, error) {
	r := &it.Inbound.Receipt
	if !jsonx.TimeOK(it.ReceivedAt) || !jsonx.TimeOK(r.SubmitDate) || !jsonx.TimeOK(r.DoneDate) {
		return json.Marshal(it)
	}
	in := &it.Inbound
	dst := make([]byte, 0, 512+len(in.Text)+len(r.Text))
	str := func(name, v string) {
		dst = append(dst, name...)
		dst = jsonx.AppendString(dst, v)
	}
	num := func(name string, v uint64) {
		dst = append(dst, name...)
		dst = strconv.AppendUint(dst, v, 10)
	}
	boolean := func(name string, v bool) {
		dst = append(dst, name...)
		dst = strconv.AppendBool(dst, v)
	}
	str(`{"smsc":`, it.SMSC)
	dst = append(dst, `,"received_at":`...)
	dst = jsonx.AppendTime(dst, it.ReceivedAt)
	boolean(`,"inbound":{"IsReceipt":`, in.IsReceipt)
	str(`,"Receipt":{"ID":`, r.ID)
	str(`,"Sub":`, r.Sub)
	str(`,"Dlvrd":`, r.Dlvrd)
	dst = append(dst, `,"SubmitDate":`...)
	dst = jsonx.AppendTime(dst, r.SubmitDate)
	dst = append(dst, `,"DoneDate":`...)
	dst = jsonx.AppendTime(dst, r.DoneDate)
	str(`,"Stat":`, r.Stat)
	str(`,"Err":`, r.Err)
	str(`,"Text":`, r.Text)
	num(`,"MessageState":`, uint64(r.MessageState))
	dst = append(dst, `,"NetworkErrorCode":`...)
	if r.NetworkErrorCode == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, r.NetworkErrorCode)
		dst = append(dst, '"')
	}
	boolean(`,"Final":`, r.Final)
	boolean(`,"Delivered":`, r.Delivered)
	str(`},"From":`, in.From)
	str(`,"To":`, in.To)
	num(`,"FromTON":`, uint64(in.FromTON))
	num(`,"FromNPI":`, uint64(in.FromNPI))
	num(`,"ToTON":`, uint64(in.ToTON))
	num(`,"ToNPI":`, uint64(in.ToNPI))
	num(`,"DataCoding":`, uint64(in.DataCoding))
	num(`,"ESMClass":`, uint64(in.ESMClass))
	str(`,"Text":`, in.Text)
	dst = append(dst, `,"Concat":`...)
	if c := in.Concat; c == nil {
		dst = append(dst, "null"...)
	} else {
		num(`{"Ref":`, uint64(c.Ref))
		num(`,"Total":`, uint64(c.Total))
		num(`,"Seq":`, uint64(c.Seq))
		dst = append(dst, '}')
	}
	return append(dst, "}}"...), nil
}

// unmarshalInboundItem decodes an item as json.Unmarshal does.
func unmarshalInboundItem(b []byte, it *inboundItem) error {
	dec := jsonx.NewDecoder(b)
	mem := dec.Members()
	for !dec.Failed() {
		k, ok := mem.Next()
		if !ok {
			break
		}
		switch string(k) {
		case "smsc":
			it.SMSC = dec.String()
		case "received_at":
			it.ReceivedAt = dec.Time()
		case "inbound":
			decodeInbound(dec, &it.Inbound)
		default:
			dec.Fail()
		}
	}
	if dec.Finish() {
		return nil
	}
	*it = inboundItem{}
	return json.Unmarshal(b, it)
}

func decodeInbound(dec *jsonx.Decoder, in *smpp.Inbound) {
	mem := dec.Members()
	for !dec.Failed() {
		k, ok := mem.Next()
		if !ok {
			return
		}
		switch string(k) {
		case "IsReceipt":
			in.IsReceipt = dec.Bool()
		case "Receipt":
			decodeReceipt(dec, &in.Receipt)
		case "From":
			in.From = dec.String()
		case "To":
			in.To = dec.String()
		case "FromTON":
			in.FromTON = uint8(dec.Uint(8))
		case "FromNPI":
			in.FromNPI = uint8(dec.Uint(8))
		case "ToTON":
			in.ToTON = uint8(dec.Uint(8))
		case "ToNPI":
			in.ToNPI = uint8(dec.Uint(8))
		case "DataCoding":
			in.DataCoding = uint8(dec.Uint(8))
		case "ESMClass":
			in.ESMClass = uint8(dec.Uint(8))
		case "Text":
			in.Text = dec.String()
		case "Concat":
			if dec.Null() {
				in.Concat = nil
				continue
			}
			if in.Concat != nil {
				dec.Fail() // a repeated object merges in encoding/json
				return
			}
			in.Concat = &smpp.ConcatInfo{}
			cm := dec.Members()
			for !dec.Failed() {
				ck, ok := cm.Next()
				if !ok {
					break
				}
				switch string(ck) {
				case "Ref":
					in.Concat.Ref = uint16(dec.Uint(16))
				case "Total":
					in.Concat.Total = uint8(dec.Uint(8))
				case "Seq":
					in.Concat.Seq = uint8(dec.Uint(8))
				default:
					dec.Fail()
				}
			}
		default:
			dec.Fail()
		}
	}
}

func decodeReceipt(dec *jsonx.Decoder, r *smpp.Receipt) {
	mem := dec.Members()
	for !dec.Failed() {
		k, ok := mem.Next()
		if !ok {
			return
		}
		switch string(k) {
		case "ID":
			r.ID = dec.String()
		case "Sub":
			r.Sub = dec.String()
		case "Dlvrd":
			r.Dlvrd = dec.String()
		case "SubmitDate":
			r.SubmitDate = dec.Time()
		case "DoneDate":
			r.DoneDate = dec.Time()
		case "Stat":
			r.Stat = dec.String()
		case "Err":
			r.Err = dec.String()
		case "Text":
			r.Text = dec.String()
		case "MessageState":
			r.MessageState = uint8(dec.Uint(8))
		case "NetworkErrorCode":
			if dec.Null() {
				r.NetworkErrorCode = nil
				continue
			}
			s := dec.String()
			if dec.Failed() {
				return
			}
			v, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				dec.Fail()
				return
			}
			r.NetworkErrorCode = v
		case "Final":
			r.Final = dec.Bool()
		case "Delivered":
			r.Delivered = dec.Bool()
		default:
			dec.Fail()
		}
	}
}
