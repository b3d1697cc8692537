package smpp

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/fiorix/go-smpp/smpp/pdu"
	"github.com/fiorix/go-smpp/smpp/pdu/pdufield"
	"github.com/fiorix/go-smpp/smpp/pdu/pdutlv"
)

// ConcatInfo places one part of a concatenated message, from a UDH (IEI
// 0x00 with an 8-bit reference or 0x08 with a 16-bit one) or the SAR TLVs.
type ConcatInfo struct {
	Ref   uint16
	Total uint8
	Seq   uint8 // 1-based
}

// Inbound is a deliver_sm (or data_sm) as the gateway needs it.
type Inbound struct {
	IsReceipt bool
	Receipt   Receipt // when IsReceipt

	From, To                       string // source_addr / destination_addr as received (digits, no '+')
	FromTON, FromNPI, ToTON, ToNPI uint8
	DataCoding                     uint8
	ESMClass                       uint8
	Text                           string      // decoded text of this part (UDH stripped)
	Concat                         *ConcatInfo // nil when single-part
}

// esm_class message types (bits 5-2) that carry a receipt: SMSC delivery
// receipt, SME delivery acknowledgement, intermediate delivery notification.
const (
	esmTypeMask            = 0x3C
	esmTypeReceipt         = 0x04
	esmTypeDeliveryAck     = 0x08
	esmTypeIntermediateNtf = 0x20
)

// inboundTagMessageState is the message_state TLV (SMPP 3.4 5.3.2.35);
// fiorix names the tag TagMessageStateOption.
const inboundTagMessageState = pdutlv.TagMessageStateOption

// UDH information element identifiers for concatenation.
const (
	udhIEIConcat8  = 0x00
	udhIEIConcat16 = 0x08
)

// ParseDeliverSM reads a deliver_sm or data_sm decoded by fiorix's pdu
// package (or built with its constructors). It is a receipt when esm_class
// says so (0x04 receipt, 0x08 delivery ack, 0x20 intermediate notification)
// or the receipted_message_id TLV is present; receipts take the id,
// state and network_error_code from TLVs when present and the rest from the
// Appendix B text. A mobile-originated part gets its text decoded and its
// concatenation info from the UDH (esm_class 0x40) or the SAR TLVs.
//
// On error the returned Inbound carries what could be read (addresses,
// data_coding); the error wraps ErrBadPDU, ErrNotReceipt, ErrBinary,
// ErrBadText or ErrUnsupportedDataCoding.
func ParseDeliverSM(p pdu.Body) (Inbound, error) {
	var in Inbound
	if p == nil || p.Header() == nil {
		return in, fmt.Errorf("smpp: nil pdu: %w", ErrBadPDU)
	}
	if id := p.Header().ID; id != pdu.DeliverSMID && id != pdu.DataSMID {
		return in, fmt.Errorf("smpp: %s is not deliver_sm or data_sm: %w", id, ErrBadPDU)
	}
	f := p.Fields()
	t := p.TLVFields()
	in.From = inboundString(f[pdufield.SourceAddr])
	in.To = inboundString(f[pdufield.DestinationAddr])
	in.FromTON = inboundByte(f[pdufield.SourceAddrTON])
	in.FromNPI = inboundByte(f[pdufield.SourceAddrNPI])
	in.ToTON = inboundByte(f[pdufield.DestAddrTON])
	in.ToNPI = inboundByte(f[pdufield.DestAddrNPI])
	in.DataCoding = inboundByte(f[pdufield.DataCoding])
	in.ESMClass = inboundByte(f[pdufield.ESMClass])

	sm := inboundBytes(f[pdufield.ShortMessage])
	payloadTLV := false
	if len(sm) == 0 {
		if v := inboundTLV(t, pdutlv.TagMessagePayload); v != nil {
			sm, payloadTLV = v, true
		}
	}

	// fiorix's decoder already splits a UDH off short_message into
	// gsm_sms_ud.udh; a PDU built by hand (or a payload TLV) still has it.
	var ies []udhIE
	if in.ESMClass&ESMClassUDHI != 0 {
		if list, ok := f[pdufield.GSMUserData].(*pdufield.UDHList); ok && !payloadTLV {
			if _, ok := f[pdufield.ShortMessage]; !ok {
				return in, fmt.Errorf("smpp: deliver_sm: user data header overruns short_message: %w", ErrBadPDU)
			}
			n := 0
			for _, u := range list.Data {
				ies = append(ies, udhIE{iei: u.IEI.Data, data: u.IEData.Data})
				n += 2 + len(u.IEData.Data)
			}
			// fiorix does not check that the elements fill the header
			// exactly; when they do not, the text is read off by some octets.
			if n != int(inboundByte(f[pdufield.UDHLength])) {
				return in, fmt.Errorf("smpp: deliver_sm: user data header of %d octets holds %d: %w",
					inboundByte(f[pdufield.UDHLength]), n, ErrBadPDU)
			}
		} else {
			var err error
			ies, sm, err = udhSplit(sm)
			if err != nil {
				return in, err
			}
		}
	}

	rid := inboundTLV(t, pdutlv.TagReceiptedMessageID)
	typ := in.ESMClass & esmTypeMask
	in.IsReceipt = rid != nil || typ == esmTypeReceipt || typ == esmTypeDeliveryAck || typ == esmTypeIntermediateNtf
	if in.IsReceipt {
		return in, inboundReceipt(&in, sm, t, rid)
	}

	text, err := DecodeText(in.DataCoding, sm)
	if err != nil {
		return in, fmt.Errorf("smpp: deliver_sm from %q: %w", in.From, err)
	}
	in.Text = text
	concat, err := inboundConcat(ies, t)
	if err != nil {
		return in, err
	}
	in.Concat = concat
	return in, nil
}

// inboundReceipt fills in.Receipt: TLVs first, the text for the rest.
func inboundReceipt(in *Inbound, sm []byte, t pdutlv.Map, rid []byte) error {
	// Receipt texts are ASCII whatever data_coding claims; reading them as
	// GSM would turn '_' (submit_date) and '@' into other characters.
	var text string
	if textAlphabet(in.DataCoding) == alphaUCS2 {
		s, err := ucs2Decode(sm)
		if err == nil {
			text = s
		}
	} else {
		text = latin1Decode(sm)
	}
	in.Text = text
	r, textErr := ParseReceiptText(text)
	state := inboundTLV(t, inboundTagMessageState)
	if textErr != nil {
		if rid == nil || len(state) != 1 {
			return fmt.Errorf("smpp: deliver_sm receipt from %q: %w", in.From, textErr)
		}
		// A TLV-only receipt: the text may be empty or free-form, but
		// its dates and error may still be there.
		r = receiptPartial(text)
	}
	if rid != nil {
		if id := strings.TrimSpace(strings.TrimRight(string(rid), "\x00")); id != "" {
			r.ID = id
		}
	}
	if len(state) == 1 {
		r.setState(state[0])
	}
	if nec := inboundTLV(t, pdutlv.TagNetworkErrorCode); nec != nil {
		r.NetworkErrorCode = append([]byte(nil), nec...)
	}
	if r.ID == "" {
		return fmt.Errorf("smpp: deliver_sm receipt from %q without message id: %w", in.From, ErrNotReceipt)
	}
	in.Receipt = r
	return nil
}

// receiptPartial reads what an incomplete receipt text offers (no id or
// no stat), for TLV receipts whose text is not a full Appendix B text.
func receiptPartial(text string) Receipt {
	// Give the parser the missing mandatory keys so it reads the rest.
	r, err := ParseReceiptText("id:- stat:- " + text)
	if err != nil {
		return Receipt{}
	}
	if r.ID == "-" {
		r.ID = ""
	}
	r.Stat, r.MessageState, r.Final, r.Delivered = "", 0, false, false
	return r
}

// udhIE is one information element of a user data header.
type udhIE struct {
	iei  byte
	data []byte
}

// udhSplit splits a user data header off b.
func udhSplit(b []byte) ([]udhIE, []byte, error) {
	if len(b) == 0 {
		return nil, b, fmt.Errorf("smpp: esm_class has UDHI but short_message is empty: %w", ErrBadPDU)
	}
	l := int(b[0])
	if 1+l > len(b) {
		return nil, b, fmt.Errorf("smpp: user data header of %d octets in %d: %w", l, len(b)-1, ErrBadPDU)
	}
	h := b[1 : 1+l]
	var ies []udhIE
	for len(h) > 0 {
		if len(h) < 2 || 2+int(h[1]) > len(h) {
			return nil, b, fmt.Errorf("smpp: truncated user data header element: %w", ErrBadPDU)
		}
		ies = append(ies, udhIE{iei: h[0], data: h[2 : 2+int(h[1])]})
		h = h[2+int(h[1]):]
	}
	return ies, b[1+l:], nil
}

// inboundConcat reads the concatenation info from UDH elements or SAR
// TLVs; a message announced as one part is single-part.
func inboundConcat(ies []udhIE, t pdutlv.Map) (*ConcatInfo, error) {
	var c *ConcatInfo
	for _, ie := range ies {
		switch {
		case ie.iei == udhIEIConcat8 && len(ie.data) == 3:
			c = &ConcatInfo{Ref: uint16(ie.data[0]), Total: ie.data[1], Seq: ie.data[2]}
		case ie.iei == udhIEIConcat16 && len(ie.data) == 4:
			c = &ConcatInfo{Ref: binary.BigEndian.Uint16(ie.data), Total: ie.data[2], Seq: ie.data[3]}
		case ie.iei == udhIEIConcat8 || ie.iei == udhIEIConcat16:
			return nil, fmt.Errorf("smpp: concatenation element %#02x of %d octets: %w", ie.iei, len(ie.data), ErrBadPDU)
		}
	}
	if c == nil {
		ref := inboundTLV(t, pdutlv.TagSarMsgRefNum)
		total := inboundTLV(t, pdutlv.TagSarTotalSegments)
		seq := inboundTLV(t, pdutlv.TagSarSegmentSeqnum)
		switch {
		case ref == nil && total == nil && seq == nil:
			return nil, nil
		case len(ref) != 2 || len(total) != 1 || len(seq) != 1:
			return nil, fmt.Errorf("smpp: incomplete SAR TLVs: %w", ErrBadPDU)
		}
		c = &ConcatInfo{Ref: binary.BigEndian.Uint16(ref), Total: total[0], Seq: seq[0]}
	}
	if c.Total <= 1 && c.Seq <= 1 {
		return nil, nil
	}
	if c.Seq == 0 || c.Seq > c.Total {
		return nil, fmt.Errorf("smpp: concatenation part %d of %d: %w", c.Seq, c.Total, ErrBadPDU)
	}
	return c, nil
}

func inboundString(b pdufield.Body) string {
	if b == nil {
		return ""
	}
	return strings.TrimRight(string(inboundBytes(b)), "\x00")
}

// inboundBytes returns a field's data without the NUL that
// pdufield.Variable.Bytes appends.
func inboundBytes(b pdufield.Body) []byte {
	switch v := b.(type) {
	case nil:
		return nil
	case *pdufield.SM:
		return v.Data
	case *pdufield.Variable:
		return v.Data
	case *pdufield.Fixed:
		return []byte{v.Data}
	}
	return b.Bytes()
}

func inboundByte(b pdufield.Body) uint8 {
	if f, ok := b.(*pdufield.Fixed); ok {
		return f.Data
	}
	if b == nil {
		return 0
	}
	if d := b.Bytes(); len(d) > 0 {
		return d[0]
	}
	return 0
}

// inboundTLV returns a TLV's value, nil when absent.
func inboundTLV(t pdutlv.Map, tag pdutlv.Tag) []byte {
	v, ok := t[tag]
	if !ok || v == nil {
		return nil
	}
	if f, ok := v.(*pdutlv.Field); ok {
		if f.Data == nil {
			return []byte{}
		}
		return f.Data
	}
	d := v.Bytes()
	if d == nil {
		return []byte{}
	}
	return d
}
