package simulator

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// outcome is the receipt chosen for one submit_sm.
type outcome struct {
	stat  string
	err   string
	state byte
	none  bool
}

// outcomeFor walks the configured rules, then the contract's table.
func (s *Server) outcomeFor(dst string) outcome {
	for i := range s.rules {
		r := &s.rules[i]
		if !strings.HasSuffix(dst, r.suffix) {
			continue
		}
		if r.prob > 0 && rand.Float64() >= r.prob {
			continue
		}
		return outcome{stat: r.stat, err: r.err, state: r.state, none: r.none}
	}
	// DefaultRules ends with a catch-all, so this is not reached.
	return outcome{stat: "DELIVRD", err: "000", state: messageStates["DELIVRD"]}
}

// wantsReceipt applies registered_delivery (SMPP 3.4 5.2.17): bits 0-1 are
// 1 for any final outcome, 2 for failures only.
func wantsReceipt(registeredDelivery byte, o outcome) bool {
	switch registeredDelivery & 0x03 {
	case 1:
		return true
	case 2:
		return o.stat != "DELIVRD"
	}
	return false
}

// formatID writes message id n in the given format ("hex" or "dec").
func formatID(n uint64, format string) string {
	if format == "dec" {
		return strconv.FormatUint(n, 10)
	}
	return strconv.FormatUint(n, 16)
}

func otherFormat(format string) string {
	if format == "dec" {
		return "hex"
	}
	return "dec"
}

// appendSMPPDate appends t as YYMMDDhhmm (UTC).
func appendSMPPDate(b []byte, t time.Time) []byte {
	t = t.UTC()
	two := func(b []byte, v int) []byte { return append(b, byte('0'+v/10), byte('0'+v%10)) }
	b = two(b, t.Year()%100)
	b = two(b, int(t.Month()))
	b = two(b, t.Day())
	b = two(b, t.Hour())
	return two(b, t.Minute())
}

// receiptText appends the SMPP 3.4 Appendix B receipt text.
func appendReceiptText(b []byte, id string, o outcome, submitted, done time.Time, text string) []byte {
	b = append(b, "id:"...)
	b = append(b, id...)
	b = append(b, " sub:001 dlvrd:"...)
	if o.stat == "DELIVRD" {
		b = append(b, "001"...)
	} else {
		b = append(b, "000"...)
	}
	b = append(b, " submit date:"...)
	b = appendSMPPDate(b, submitted)
	b = append(b, " done date:"...)
	b = appendSMPPDate(b, done)
	b = append(b, " stat:"...)
	b = append(b, o.stat...)
	b = append(b, " err:"...)
	b = append(b, o.err...)
	b = append(b, " text:"...)
	return appendReceiptExcerpt(b, text)
}

// appendReceiptExcerpt appends the first 20 characters of the message.
// Receipts go out with data_coding 0, so only characters that are the same
// octet in ASCII and GSM 03.38 are kept; others become '.'.
func appendReceiptExcerpt(b []byte, text string) []byte {
	n := 0
	for _, r := range text {
		if n == 20 {
			break
		}
		n++
		if gsmSameAsASCII(r) {
			b = append(b, byte(r))
		} else {
			b = append(b, '.')
		}
	}
	return b
}

func gsmSameAsASCII(r rune) bool {
	switch {
	case r < 0x20 || r > 0x7A:
		return false
	case r == '$' || r == '@':
		return false
	case r >= 0x5B && r <= 0x60:
		return false
	}
	return true
}

// receiptBody builds the deliver_sm body of a receipt for a submit_sm
// whose message id is id.
func receiptBody(sub *submit, id string, o outcome, submitted, done time.Time) []byte {
	text := appendReceiptText(make([]byte, 0, 128), id, o, submitted, done, sub.text)
	tlvs := make([]byte, 0, 32)
	tlvs = appendTLV(tlvs, tagReceiptedMessageID, append([]byte(id), 0))
	tlvs = appendTLV(tlvs, tagMessageState, []byte{o.state})
	if o.err != "000" {
		// network_error_code: type 3 (GSM) and the err as a number, as
		// many SMSCs add for failed deliveries.
		code, _ := strconv.Atoi(o.err)
		tlvs = appendTLV(tlvs, tagNetworkErrorCode, []byte{3, byte(code >> 8), byte(code)})
	}
	d := deliverSM{
		src:      sub.dst, // the receipt comes from the handset
		dst:      sub.src,
		esmClass: 0x04,
		sm:       text,
		tlvs:     tlvs,
	}
	return appendDeliverSMBody(make([]byte, 0, 64+len(text)+len(tlvs)+len(sub.src.digits)+len(sub.dst.digits)), &d)
}
