package simulator

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/fiorix/go-smpp/smpp/pdu"
	"github.com/fiorix/go-smpp/smpp/pdu/pdufield"
	"github.com/fiorix/go-smpp/smpp/pdu/pdutlv"
)

// errMalformed marks a PDU whose body does not decode; it is answered
// generic_nack.
var errMalformed = errors.New("malformed PDU")

// decodePDU decodes a whole PDU with fiorix's codec. fiorix has panicked on
// hostile input before, so a panic is turned into errMalformed: the
// simulator must never crash on what a client sends.
func decodePDU(raw []byte) (body pdu.Body, err error) {
	defer func() {
		if r := recover(); r != nil {
			body, err = nil, fmt.Errorf("%w: decoder panic: %v", errMalformed, r)
		}
	}()
	body, err = pdu.Decode(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errMalformed, err)
	}
	return body, nil
}

// submit is a decoded submit_sm.
type submit struct {
	src, dst           addr
	esmClass           byte
	registeredDelivery byte
	dataCoding         byte
	ud                 []byte // user data without the UDH
	part               concat // zero when not concatenated
	text               string // decoded ud
}

// parseSubmit reads a submit_sm decoded by fiorix. A non-OK status is the
// command_status of the submit_sm_resp that refuses it; errMalformed means
// the body is truncated and gets a generic_nack.
func parseSubmit(b pdu.Body) (submit, pdu.Status, error) {
	f := b.Fields()
	var s submit
	// fiorix stops at the end of the body and leaves later fields out, so
	// a missing short_message means a truncated PDU.
	if f[pdufield.ShortMessage] == nil {
		return s, statusOK, fmt.Errorf("%w: submit_sm without all mandatory fields", errMalformed)
	}
	s.src = addr{ton: fixed(f, pdufield.SourceAddrTON), npi: fixed(f, pdufield.SourceAddrNPI), digits: str(f, pdufield.SourceAddr)}
	s.dst = addr{ton: fixed(f, pdufield.DestAddrTON), npi: fixed(f, pdufield.DestAddrNPI), digits: str(f, pdufield.DestinationAddr)}
	s.esmClass = fixed(f, pdufield.ESMClass)
	s.registeredDelivery = fixed(f, pdufield.RegisteredDelivery)
	s.dataCoding = fixed(f, pdufield.DataCoding)
	if s.dst.digits == "" {
		return s, statusInvDstAdr, nil
	}
	data := f[pdufield.ShortMessage].Bytes()
	t := b.TLVFields()
	if p := t[pdutlv.TagMessagePayload]; p != nil {
		if len(data) > 0 {
			// SMPP 3.4 5.3.2.32: short_message and message_payload
			// must not both carry data.
			return s, statusOptParNAllwd, nil
		}
		data = p.Bytes()
	}
	s.ud = data
	if s.esmClass&0x40 != 0 {
		ud, c, ok := splitUDH(data)
		if !ok {
			return s, statusInvEsmClass, nil
		}
		s.ud, s.part = ud, c
	}
	if s.part.total == 0 {
		ref, total, seq := t[pdutlv.TagSarMsgRefNum], t[pdutlv.TagSarTotalSegments], t[pdutlv.TagSarSegmentSeqnum]
		if ref != nil && total != nil && seq != nil && len(ref.Bytes()) == 2 && len(total.Bytes()) == 1 && len(seq.Bytes()) == 1 {
			r := ref.Bytes()
			s.part = concat{ref: int(r[0])<<8 | int(r[1]), total: int(total.Bytes()[0]), seq: int(seq.Bytes()[0])}
		}
	}
	s.text = decodeText(s.dataCoding, s.ud)
	return s, statusOK, nil
}

func fixed(f pdufield.Map, n pdufield.Name) byte {
	if v, ok := f[n].(*pdufield.Fixed); ok {
		return v.Data
	}
	return 0
}

func str(f pdufield.Map, n pdufield.Name) string {
	if v := f[n]; v != nil {
		return v.String()
	}
	return ""
}
