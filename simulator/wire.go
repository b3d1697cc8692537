package simulator

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/fiorix/go-smpp/smpp/pdu"
)

// Incoming PDUs are decoded with fiorix's pdu package. Outgoing PDUs are
// appended to byte slices here instead of going through fiorix's
// map-based encoder: it allocates per field, and it writes a stray
// udh-length octet into every deliver_sm whose esm_class has no UDHI bit,
// which would corrupt receipts.

// SMPP 3.4 command_status values the simulator answers with.
const (
	statusOK           pdu.Status = 0x00000000
	statusInvCmdLen    pdu.Status = 0x00000002 // ESME_RINVCMDLEN
	statusInvCmdID     pdu.Status = 0x00000003 // ESME_RINVCMDID
	statusInvBndSts    pdu.Status = 0x00000004 // ESME_RINVBNDSTS
	statusAlyBnd       pdu.Status = 0x00000005 // ESME_RALYBND
	statusSysErr       pdu.Status = 0x00000008 // ESME_RSYSERR
	statusInvDstAdr    pdu.Status = 0x0000000B // ESME_RINVDSTADR
	statusBindFail     pdu.Status = 0x0000000D // ESME_RBINDFAIL
	statusInvPaswd     pdu.Status = 0x0000000E // ESME_RINVPASWD
	statusInvSysID     pdu.Status = 0x0000000F // ESME_RINVSYSID
	statusInvEsmClass  pdu.Status = 0x00000043 // ESME_RINVESMCLASS
	statusThrottled    pdu.Status = 0x00000058 // ESME_RTHROTTLED
	statusOptParNAllwd pdu.Status = 0x000000C1 // ESME_ROPTPARNALLWD
)

// TLV tags the simulator reads or writes.
const (
	tagReceiptedMessageID = 0x001E
	tagSarMsgRefNum       = 0x020C
	tagSarTotalSegments   = 0x020E
	tagSarSegmentSeqnum   = 0x020F
	tagScInterfaceVersion = 0x0210
	tagNetworkErrorCode   = 0x0423
	tagMessagePayload     = 0x0424
	tagMessageState       = 0x0427
)

// maxPDU is the largest PDU accepted, fiorix's limit.
const maxPDU = pdu.MaxSize

// header is the fixed 16-octet PDU header.
type header struct {
	length uint32
	id     pdu.ID
	status pdu.Status
	seq    uint32
}

func parseHeader(b []byte) header {
	return header{
		length: binary.BigEndian.Uint32(b[0:4]),
		id:     pdu.ID(binary.BigEndian.Uint32(b[4:8])),
		status: pdu.Status(binary.BigEndian.Uint32(b[8:12])),
		seq:    binary.BigEndian.Uint32(b[12:16]),
	}
}

// lengthError reports a command_length the stream cannot be resynchronised
// after; the connection is answered generic_nack and closed.
type lengthError struct {
	hdr header
}

func (e *lengthError) Error() string {
	return fmt.Sprintf("simulator: command_length %d outside [16, %d]", e.hdr.length, maxPDU)
}

// readPDU reads one PDU into buf (at least maxPDU long) and returns its
// header and its full bytes.
func readPDU(r *bufio.Reader, buf []byte) (header, []byte, error) {
	if _, err := io.ReadFull(r, buf[:pdu.HeaderLen]); err != nil {
		return header{}, nil, err
	}
	h := parseHeader(buf)
	if h.length < pdu.HeaderLen || h.length > maxPDU {
		return h, nil, &lengthError{hdr: h}
	}
	if _, err := io.ReadFull(r, buf[pdu.HeaderLen:h.length]); err != nil {
		return h, nil, err
	}
	return h, buf[:h.length], nil
}

// appendHeader starts a PDU; endPDU patches its length afterwards.
func appendHeader(b []byte, id pdu.ID, status pdu.Status, seq uint32) []byte {
	b = binary.BigEndian.AppendUint32(b, 0)
	b = binary.BigEndian.AppendUint32(b, uint32(id))
	b = binary.BigEndian.AppendUint32(b, uint32(status))
	return binary.BigEndian.AppendUint32(b, seq)
}

// endPDU writes the length of the PDU that starts at b[start:].
func endPDU(b []byte, start int) []byte {
	binary.BigEndian.PutUint32(b[start:], uint32(len(b)-start))
	return b
}

func appendCString(b []byte, s string) []byte {
	b = append(b, s...)
	return append(b, 0)
}

func appendTLV(b []byte, tag uint16, v []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, tag)
	b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
	return append(b, v...)
}

// appendSimple appends a PDU without a body (e.g. enquire_link_resp,
// generic_nack, unbind_resp).
func appendSimple(b []byte, id pdu.ID, status pdu.Status, seq uint32) []byte {
	start := len(b)
	b = appendHeader(b, id, status, seq)
	return endPDU(b, start)
}

// appendWithID appends a response whose body is one C-octet string
// (submit_sm_resp's message_id, bind_resp's system_id).
func appendWithID(b []byte, id pdu.ID, status pdu.Status, seq uint32, s string) []byte {
	start := len(b)
	b = appendHeader(b, id, status, seq)
	b = appendCString(b, s)
	return endPDU(b, start)
}

// addr is an SMPP address with its type of number and numbering plan.
type addr struct {
	ton, npi byte
	digits   string
}

// deliverSM is the content of an outgoing deliver_sm.
type deliverSM struct {
	src, dst   addr
	esmClass   byte
	dataCoding byte
	sm         []byte // short_message, with the UDH when esmClass has 0x40
	tlvs       []byte // encoded TLVs
}

// appendDeliverSMBody appends the deliver_sm body (everything after the
// header). The header is added per attempt, each with its own sequence.
func appendDeliverSMBody(b []byte, d *deliverSM) []byte {
	b = append(b, 0) // service_type ""
	b = append(b, d.src.ton, d.src.npi)
	b = appendCString(b, d.src.digits)
	b = append(b, d.dst.ton, d.dst.npi)
	b = appendCString(b, d.dst.digits)
	b = append(b, d.esmClass,
		0, // protocol_id
		0, // priority_flag
		0, // schedule_delivery_time ""
		0, // validity_period ""
		0, // registered_delivery
		0, // replace_if_present_flag
		d.dataCoding,
		0, // sm_default_msg_id
		byte(len(d.sm)))
	b = append(b, d.sm...)
	return append(b, d.tlvs...)
}

// decodeText turns user data into text by data_coding: 0 GSM 03.38
// (unpacked), 1 ASCII, 3 Latin-1, 8 UCS-2 (UTF-16BE, surrogate pairs
// allowed), 0xF0-0xFF message-class codings (GSM or 8-bit); 8-bit binary
// (2, 4) comes back as hex, and any other coding is read as Latin-1.
func decodeText(dc byte, ud []byte) string {
	switch {
	case dc == 0x00:
		return decodeGSM(ud)
	case dc == 0x01:
		return decodeASCII(ud)
	case dc == 0x08:
		return decodeUCS2(ud)
	case dc == 0x02 || dc == 0x04:
		return hex.EncodeToString(ud)
	case dc&0xF0 == 0xF0:
		if dc&0x04 != 0 {
			return hex.EncodeToString(ud)
		}
		return decodeGSM(ud)
	default:
		return decodeLatin1(ud)
	}
}

func decodeASCII(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b))
	for _, c := range b {
		if c > 0x7F {
			sb.WriteByte('?')
		} else {
			sb.WriteByte(c)
		}
	}
	return sb.String()
}

func decodeLatin1(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b))
	for _, c := range b {
		sb.WriteRune(rune(c))
	}
	return sb.String()
}

// decodeUCS2 decodes UTF-16BE; an odd trailing octet is dropped and an
// unpaired surrogate becomes U+FFFD.
func decodeUCS2(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.BigEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u))
}

// encodeUCS2 appends s as UTF-16BE.
func appendUCS2(b []byte, s string) []byte {
	for _, r := range s {
		if r1, r2 := utf16.EncodeRune(r); r1 != utf8.RuneError {
			b = binary.BigEndian.AppendUint16(b, uint16(r1))
			b = binary.BigEndian.AppendUint16(b, uint16(r2))
			continue
		}
		b = binary.BigEndian.AppendUint16(b, uint16(r))
	}
	return b
}

// concat is a concatenation header: reference, total parts, this part.
type concat struct {
	ref, total, seq int
}

// splitUDH splits user data that starts with a UDH (esm_class 0x40) and
// reads a concatenation element (IEI 0x00, 8-bit reference, or 0x08,
// 16-bit reference) from it. ok is false when the UDH does not fit.
func splitUDH(data []byte) (ud []byte, c concat, ok bool) {
	if len(data) == 0 {
		return nil, c, false
	}
	udhl := int(data[0])
	if 1+udhl > len(data) {
		return nil, c, false
	}
	ies := data[1 : 1+udhl]
	for len(ies) >= 2 {
		iei, l := ies[0], int(ies[1])
		if 2+l > len(ies) {
			return nil, c, false
		}
		v := ies[2 : 2+l]
		switch {
		case iei == 0x00 && l == 3:
			c = concat{ref: int(v[0]), total: int(v[1]), seq: int(v[2])}
		case iei == 0x08 && l == 4:
			c = concat{ref: int(binary.BigEndian.Uint16(v)), total: int(v[2]), seq: int(v[3])}
		}
		ies = ies[2+l:]
	}
	if len(ies) != 0 {
		return nil, c, false
	}
	return data[1+udhl:], c, true
}
