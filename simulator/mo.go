package simulator

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf16"
)

// InjectMO sends a mobile-originated message to a bound receiver or
// transceiver, as POST /mo does. It returns once every part is sent or
// queued; a refused or unanswered deliver_sm is retried like a receipt.
// With no receiver bind connected it returns ErrNoReceiver.
func (s *Server) InjectMO(ctx context.Context, mo MO) error {
	_, err := s.injectMO(ctx, mo)
	return err
}

func (s *Server) injectMO(ctx context.Context, mo MO) (parts int, err error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("simulator: inject MO: %w", err)
	}
	src, err := parseMOAddr("from", mo.From)
	if err != nil {
		return 0, err
	}
	dst, err := parseMOAddr("to", mo.To)
	if err != nil {
		return 0, err
	}
	if mo.Text == "" {
		return 0, fmt.Errorf("%w: text is empty", ErrInvalidMO)
	}
	ref := byte(s.moRef.Add(1))
	sms, dc, err := splitMO(mo.Text, ref)
	if err != nil {
		return 0, err
	}
	ds := make([]*delivery, len(sms))
	for i, sm := range sms {
		d := deliverSM{src: src, dst: dst, dataCoding: dc, sm: sm}
		if len(sms) > 1 {
			d.esmClass = 0x40 // UDHI
		}
		ds[i] = &delivery{kind: kindMO, body: appendDeliverSMBody(nil, &d)}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, ErrClosed
	}
	if len(s.allReceivers) == 0 {
		return 0, ErrNoReceiver
	}
	for _, d := range ds {
		s.readyLocked(d)
	}
	return len(ds), nil
}

// parseMOAddr turns a number or sender into an SMPP address: "+" and
// digits, or 7 or more digits, are international (TON 1, NPI 1, digits
// without '+'); shorter digit strings are short codes (TON 3 network
// specific, NPI 0); anything else is alphanumeric (TON 5, NPI 0).
func parseMOAddr(field, v string) (addr, error) {
	if v == "" {
		return addr{}, fmt.Errorf("%w: %s is empty", ErrInvalidMO, field)
	}
	digits, plus := strings.CutPrefix(v, "+")
	if digits != "" && strings.Trim(digits, "0123456789") == "" {
		if len(digits) > 20 {
			return addr{}, fmt.Errorf("%w: %s has more than 20 digits", ErrInvalidMO, field)
		}
		if plus || len(digits) >= 7 {
			return addr{ton: 1, npi: 1, digits: digits}, nil
		}
		return addr{ton: 3, npi: 0, digits: digits}, nil
	}
	if len(v) > 20 {
		return addr{}, fmt.Errorf("%w: %s is longer than 20 characters", ErrInvalidMO, field)
	}
	for _, r := range v {
		if r < 0x20 || r > 0x7E {
			return addr{}, fmt.Errorf("%w: %s has a character other than printable ASCII", ErrInvalidMO, field)
		}
	}
	return addr{ton: 5, npi: 0, digits: v}, nil
}

const (
	gsmSingle  = 160 // septets in one part
	gsmPart    = 153 // septets per part after a 6-octet UDH
	ucs2Single = 70  // UTF-16 units in one part
	ucs2Part   = 67
)

// splitMO encodes text as the contract fixes: GSM 03.38 unpacked
// (data_coding 0) when every character fits, else UCS-2 (data_coding 8);
// too long for one part, it is cut into parts that each start with an
// 8-bit-reference concatenation UDH (05 00 03 ref total seq). A cut never
// separates an escape from its character or a surrogate pair.
func splitMO(text string, ref byte) (sms [][]byte, dataCoding byte, err error) {
	var chunks [][]byte
	if n, ok := gsmSeptets(text); ok {
		if n <= gsmSingle {
			return [][]byte{appendGSM(nil, text)}, 0, nil
		}
		var cur []byte
		for _, r := range text {
			enc := appendGSM(nil, string(r))
			if len(cur)+len(enc) > gsmPart {
				chunks = append(chunks, cur)
				cur = nil
			}
			cur = append(cur, enc...)
		}
		chunks = append(chunks, cur)
	} else {
		dataCoding = 8
		units := utf16.Encode([]rune(text))
		if len(units) <= ucs2Single {
			return [][]byte{appendUCS2(nil, text)}, 8, nil
		}
		var cur []byte
		curUnits := 0
		for _, r := range text {
			w := 1
			if r > 0xFFFF {
				w = 2
			}
			if curUnits+w > ucs2Part {
				chunks = append(chunks, cur)
				cur, curUnits = nil, 0
			}
			cur = appendUCS2(cur, string(r))
			curUnits += w
		}
		chunks = append(chunks, cur)
	}
	if len(chunks) > 255 {
		return nil, 0, fmt.Errorf("%w: %d parts", ErrMOTooLong, len(chunks))
	}
	for i, ch := range chunks {
		sm := make([]byte, 0, 6+len(ch))
		sm = append(sm, 0x05, 0x00, 0x03, ref, byte(len(chunks)), byte(i+1))
		sms = append(sms, append(sm, ch...))
	}
	return sms, dataCoding, nil
}
