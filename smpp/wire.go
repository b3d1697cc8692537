package smpp

import (
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	"github.com/fiorix/go-smpp/smpp/pdu"
)

// The session writes submit_sm and the small fixed PDUs (enquire_link,
// responses, unbind) by hand: fiorix's encoder builds a map per PDU and
// allocates several times per field, which dominated a submit's cost.
// wire_test.go proves the bytes equal fiorix's for the same fields.
// Everything else (bind, deliver_sm decoding) goes through fiorix's pdu.

const (
	sessHeaderLen = 16
	// sessMaxPDU bounds an incoming command_length. fiorix refuses more than
	// 4096 when decoding; submit_sm_resp and the like are read without it.
	sessMaxPDU = 64 << 10

	tlvSarMsgRefNum     = 0x020C
	tlvSarTotalSegments = 0x020E
	tlvSarSegmentSeqnum = 0x020F
)

// sessSubmit is one submit_sm's fields, already resolved and encoded.
type sessSubmit struct {
	srcTON, srcNPI uint8
	src            string
	dstTON, dstNPI uint8
	dst            string
	esmClass       uint8
	dataCoding     uint8
	validity       string // "" (SMSC default) or SMPP relative time
	sm             []byte
	sar            bool // add sar_* TLVs
	sarRef         uint16
	sarTotal       uint8
	sarSeq         uint8
}

func appendHeader(b []byte, id pdu.ID, st pdu.Status, seq uint32) []byte {
	b = binary.BigEndian.AppendUint32(b, sessHeaderLen) // patched by finishPDU
	b = binary.BigEndian.AppendUint32(b, uint32(id))
	b = binary.BigEndian.AppendUint32(b, uint32(st))
	return binary.BigEndian.AppendUint32(b, seq)
}

// finishPDU writes command_length of the PDU starting at start.
func finishPDU(b []byte, start int) []byte {
	binary.BigEndian.PutUint32(b[start:], uint32(len(b)-start))
	return b
}

func appendCString(b []byte, s string) []byte {
	b = append(b, s...)
	return append(b, 0)
}

// appendSubmitSM appends a complete submit_sm PDU with registered_delivery=1.
func appendSubmitSM(b []byte, seq uint32, s *sessSubmit) []byte {
	start := len(b)
	b = appendHeader(b, pdu.SubmitSMID, 0, seq)
	b = append(b, 0) // service_type ""
	b = append(b, s.srcTON, s.srcNPI)
	b = appendCString(b, s.src)
	b = append(b, s.dstTON, s.dstNPI)
	b = appendCString(b, s.dst)
	b = append(b, s.esmClass, 0, 0) // esm_class, protocol_id, priority_flag
	b = append(b, 0)                // schedule_delivery_time ""
	b = appendCString(b, s.validity)
	b = append(b, 1, 0, s.dataCoding, 0) // registered_delivery, replace_if_present, data_coding, sm_default_msg_id
	b = append(b, byte(len(s.sm)))
	b = append(b, s.sm...)
	if s.sar {
		b = binary.BigEndian.AppendUint16(b, tlvSarMsgRefNum)
		b = binary.BigEndian.AppendUint16(b, 2)
		b = binary.BigEndian.AppendUint16(b, s.sarRef)
		b = binary.BigEndian.AppendUint16(b, tlvSarTotalSegments)
		b = binary.BigEndian.AppendUint16(b, 1)
		b = append(b, s.sarTotal)
		b = binary.BigEndian.AppendUint16(b, tlvSarSegmentSeqnum)
		b = binary.BigEndian.AppendUint16(b, 1)
		b = append(b, s.sarSeq)
	}
	return finishPDU(b, start)
}

// appendEmptyPDU appends a header-only PDU (enquire_link, unbind, their
// responses, generic_nack).
func appendEmptyPDU(b []byte, id pdu.ID, st pdu.Status, seq uint32) []byte {
	return appendHeader(b, id, st, seq)
}

// appendDeliverSMResp appends a deliver_sm_resp (message_id unused: "").
func appendDeliverSMResp(b []byte, id pdu.ID, st pdu.Status, seq uint32) []byte {
	start := len(b)
	b = appendHeader(b, id, st, seq)
	b = append(b, 0)
	return finishPDU(b, start)
}

// parseCString returns the C-octet string at the start of b (up to NUL or
// the end of b, tolerating a missing terminator).
func parseCString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// sessAddress resolves an address and its TON/NPI. With ton/npi nil the
// numbering plan is guessed the way carriers expect:
//
//   - "+" followed by digits: international, TON 1 / NPI 1, sent without "+";
//   - digits only, 9 or more: international (E.164 without "+"), 1 / 1;
//   - digits only, up to 8: a short code, TON 3 (network specific) / NPI 0;
//   - anything else: alphanumeric sender, TON 5 / NPI 0, at most 11 characters
//     (the GSM limit for an alphanumeric originator).
//
// A configured TON/NPI is used as given; a leading "+" is still stripped.
func sessAddress(addr string, ton, npi *uint8, alnumOK bool) (string, uint8, uint8, error) {
	if addr == "" {
		return "", 0, 0, fmt.Errorf("%w: empty", ErrInvalidAddress)
	}
	digits := strings.TrimPrefix(addr, "+")
	isNum := digits != "" && strings.IndexFunc(digits, func(r rune) bool { return r < '0' || r > '9' }) < 0
	var t, n uint8
	switch {
	case isNum && (len(digits) != len(addr) || len(digits) >= 9):
		addr, t, n = digits, 1, 1
	case isNum:
		t, n = 3, 0
	default:
		if !alnumOK {
			return "", 0, 0, fmt.Errorf("%w: %q is not a number", ErrInvalidAddress, addr)
		}
		if len(addr) > 11 {
			return "", 0, 0, fmt.Errorf("%w: alphanumeric sender %q is longer than 11 characters", ErrInvalidAddress, addr)
		}
		t, n = 5, 0
	}
	if len(addr) > 20 { // SMPP 3.4: source_addr/destination_addr are C-Octet Strings of at most 21 octets
		return "", 0, 0, fmt.Errorf("%w: %q is longer than 20 digits", ErrInvalidAddress, addr)
	}
	if ton != nil {
		t = *ton
	}
	if npi != nil {
		n = *npi
	}
	return addr, t, n, nil
}

// sessValidity formats a validity period as an SMPP 3.4 relative time
// (YYMMDDhhmmss000R, section 7.1.1). 0 means the SMSC default (""); the
// largest representable period is 99 years' worth of days, far beyond any
// SMSC's maximum, so it is capped at 99 days (which SMSCs clamp anyway).
func sessValidity(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	if d < time.Second {
		d = time.Second
	}
	if d > 99*24*time.Hour {
		d = 99 * 24 * time.Hour
	}
	s := int64(d / time.Second)
	days, s := s/86400, s%86400
	h, s := s/3600, s%3600
	m, s := s/60, s%60
	return fmt.Sprintf("0000%02d%02d%02d%02d000R", days, h, m, s)
}
