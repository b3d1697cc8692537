package smpp

import (
	"encoding/binary"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

// Encoding is the alphabet a message is sent in.
type Encoding string

// Encodings. EncodingAuto (or "") picks GSM 03.38 when every character is in
// it and UCS-2 otherwise; characters are never transliterated.
const (
	EncodingAuto Encoding = "auto"
	EncodingGSM7 Encoding = "gsm7"
	EncodingUCS2 Encoding = "ucs2"
)

// ConcatMode is how the parts of a long message are tied together.
type ConcatMode string

// Concatenation modes. ConcatUDH (or "") puts a 6-octet user data header
// with an 8-bit reference in front of each part; ConcatSAR leaves the
// short_message bare and sets the SAR TLVs instead.
const (
	ConcatUDH ConcatMode = "udh"
	ConcatSAR ConcatMode = "sar"
)

// Data codings this package sends.
const (
	DataCodingGSM7 uint8 = 0x00 // SMSC default alphabet: GSM 03.38 unpacked septets
	DataCodingUCS2 uint8 = 0x08 // UCS-2 / UTF-16 big-endian
)

// ESMClassUDHI is the esm_class bit telling that short_message starts with a
// user data header.
const ESMClassUDHI uint8 = 0x40

// Limits of one short message (140 octets of user data).
const (
	GSM7SingleMax = 160 // septets in a single-part GSM message
	GSM7PartMax   = 153 // septets per part of a concatenated GSM message
	UCS2SingleMax = 70  // UTF-16 code units in a single-part UCS-2 message
	UCS2PartMax   = 67  // UTF-16 code units per part of a concatenated UCS-2 message
	MaxParts      = 255 // the concatenation header counts parts in one octet
)

// udhConcatLen is the length of the 8-bit-reference concatenation UDH:
// UDHL 05, IEI 00, IEDL 03, ref, total, seq.
const udhConcatLen = 6

// Part is one submit_sm worth of a message.
type Part struct {
	DataCoding   uint8  // 0x00 GSM 03.38 (unpacked septets, one per octet, 0x1B escapes), 0x08 UCS-2 BE
	ESMClass     uint8  // 0x40 when ShortMessage starts with a UDH
	ShortMessage []byte // UDH (if any) + encoded payload, ready for submit_sm short_message
	SAR          *SAR   // set in ConcatSAR mode for multi-part messages
}

// SAR is the value of the TLVs sar_msg_ref_num, sar_total_segments and
// sar_segment_seqnum of one part.
type SAR struct {
	Ref   uint16
	Total uint8
	Seq   uint8
}

// Encoded is a message ready to submit.
type Encoded struct {
	Encoding Encoding // resolved: EncodingGSM7 or EncodingUCS2
	Parts    []Part
}

// textPlan is what a first, allocation-free pass learns about a text.
type textPlan struct {
	enc   Encoding
	units int // septets (GSM) or UTF-16 code units (UCS-2)
	parts int
}

func planText(text string, enc Encoding) (textPlan, error) {
	if text == "" {
		return textPlan{}, ErrEmptyText
	}
	if !utf8.ValidString(text) {
		return textPlan{}, ErrInvalidUTF8
	}
	switch enc {
	case EncodingAuto, "", EncodingGSM7:
		septets, parts, bad, badAt, ok := gsmCount(text, GSM7PartMax)
		if ok {
			if septets <= GSM7SingleMax {
				parts = 1
			}
			return checkParts(textPlan{enc: EncodingGSM7, units: septets, parts: parts})
		}
		if enc == EncodingGSM7 {
			return textPlan{}, fmt.Errorf("smpp: character %q at byte %d: %w", bad, badAt, ErrNotGSM)
		}
	case EncodingUCS2:
	default:
		return textPlan{}, fmt.Errorf("smpp: encoding %q: %w", enc, ErrUnknownEncoding)
	}
	units, parts := ucs2Count(text, UCS2PartMax)
	if units <= UCS2SingleMax {
		parts = 1
	}
	return checkParts(textPlan{enc: EncodingUCS2, units: units, parts: parts})
}

func checkParts(p textPlan) (textPlan, error) {
	if p.parts > MaxParts {
		return textPlan{}, fmt.Errorf("smpp: %d parts: %w", p.parts, ErrTooManyParts)
	}
	return p, nil
}

// ucs2Count returns the UTF-16 code units of text and how many parts of at
// most partMax units it splits into without cutting a surrogate pair.
func ucs2Count(text string, partMax int) (units, parts int) {
	cur := 0
	parts = 1
	for _, r := range text {
		n := utf16.RuneLen(r)
		if cur+n > partMax {
			parts++
			cur = 0
		}
		cur += n
		units += n
	}
	return units, parts
}

// CountParts says how many parts text needs in enc and which encoding auto
// resolves to, without building them: cheap enough for API validation.
func CountParts(text string, enc Encoding) (parts int, resolved Encoding, err error) {
	p, err := planText(text, enc)
	if err != nil {
		return 0, "", err
	}
	return p.parts, p.enc, nil
}

// Encode splits text into submit_sm parts: GSM 03.38 as unpacked septets
// (160 septets single, 153 per part, an extension character counts two and
// its escape is never split from it) or UCS-2 (70 / 67 code units, a
// surrogate pair never split). ref is the concatenation reference: its low
// 8 bits in the UDH (mode ConcatUDH or ""), all 16 in the SAR TLVs.
//
// All parts share one backing array; each ShortMessage has its capacity
// capped so appending to one cannot overwrite the next.
func Encode(text string, enc Encoding, mode ConcatMode, ref uint16) (Encoded, error) {
	switch mode {
	case ConcatUDH, "", ConcatSAR:
	default:
		return Encoded{}, fmt.Errorf("smpp: concat mode %q: %w", mode, ErrUnknownEncoding)
	}
	p, err := planText(text, enc)
	if err != nil {
		return Encoded{}, err
	}
	multi := p.parts > 1
	udh := multi && mode != ConcatSAR
	size := p.units // septets: one octet each, escapes included
	dc := DataCodingGSM7
	partMax := GSM7PartMax
	if p.enc == EncodingUCS2 {
		size = 2 * p.units
		dc = DataCodingUCS2
		partMax = UCS2PartMax
	}
	if udh {
		size += udhConcatLen * p.parts
	}
	buf := make([]byte, 0, size)
	parts := make([]Part, p.parts)
	var sars []SAR
	if multi && !udh {
		sars = make([]SAR, p.parts)
	}
	var esm uint8
	if udh {
		esm = ESMClassUDHI
	}

	seq := 0
	start := 0
	cur := 0
	open := func() {
		start = len(buf)
		cur = 0
		if udh {
			buf = append(buf, 0x05, 0x00, 0x03, byte(ref), byte(p.parts), byte(seq+1))
		}
	}
	closePart := func() {
		parts[seq] = Part{DataCoding: dc, ESMClass: esm, ShortMessage: buf[start:len(buf):len(buf)]}
		if sars != nil {
			sars[seq] = SAR{Ref: ref, Total: uint8(p.parts), Seq: uint8(seq + 1)}
			parts[seq].SAR = &sars[seq]
		}
		seq++
	}
	open()
	if p.enc == EncodingGSM7 {
		for _, r := range text {
			code, ext, _ := gsmLookup(r) // planText checked every rune
			if multi && (cur+1 > partMax || ext && cur+2 > partMax) {
				closePart()
				open()
			}
			if ext {
				buf = append(buf, gsmEscape, code)
				cur += 2
			} else {
				buf = append(buf, code)
				cur++
			}
		}
	} else {
		for _, r := range text {
			n := utf16.RuneLen(r)
			if multi && cur+n > partMax {
				closePart()
				open()
			}
			cur += n
			if n == 2 {
				r1, r2 := utf16.EncodeRune(r)
				buf = binary.BigEndian.AppendUint16(buf, uint16(r1))
				buf = binary.BigEndian.AppendUint16(buf, uint16(r2))
			} else {
				buf = binary.BigEndian.AppendUint16(buf, uint16(r))
			}
		}
	}
	closePart()
	return Encoded{Encoding: p.enc, Parts: parts}, nil
}

// DecodeText decodes a short_message payload (without UDH) by its SMPP
// data_coding: 0 GSM 03.38 unpacked septets, 1 IA5/ASCII, 3 Latin-1,
// 6 ISO-8859-5, 7 ISO-8859-8, 8 UCS-2 big-endian (surrogate pairs read as
// UTF-16). GSM data coding schemes passed through by some SMSCs
// (0x10–0x1F, 0xC0–0xEF, 0xF0–0xFF) are read by their alphabet bits.
// Binary data (2, 4, 8-bit schemes) gives ErrBinary.
func DecodeText(dataCoding uint8, b []byte) (string, error) {
	switch textAlphabet(dataCoding) {
	case alphaGSM:
		return gsmDecode(b)
	case alphaIA5:
		// IA5 is 7-bit; octets above 0x7F are read as Latin-1 rather than
		// refused, as SMSCs use data_coding 1 loosely.
		return latin1Decode(b), nil
	case alphaLatin1:
		return latin1Decode(b), nil
	case alphaCyrillic:
		return charmapDecode(charmap.ISO8859_5, b)
	case alphaHebrew:
		return charmapDecode(charmap.ISO8859_8, b)
	case alphaUCS2:
		return ucs2Decode(b)
	case alphaBinary:
		return "", fmt.Errorf("smpp: data_coding %#02x: %w", dataCoding, ErrBinary)
	default:
		return "", fmt.Errorf("smpp: data_coding %#02x: %w", dataCoding, ErrUnsupportedDataCoding)
	}
}

type textAlpha uint8

const (
	alphaUnsupported textAlpha = iota
	alphaGSM
	alphaIA5
	alphaLatin1
	alphaCyrillic
	alphaHebrew
	alphaUCS2
	alphaBinary
)

// textAlphabet classifies an SMPP data_coding (SMPP 3.4 5.2.19); values
// outside the SMPP range are read as GSM TS 23.038 data coding schemes.
func textAlphabet(dc uint8) textAlpha {
	switch dc {
	case 0x00:
		return alphaGSM
	case 0x01:
		return alphaIA5
	case 0x02, 0x04:
		return alphaBinary
	case 0x03:
		return alphaLatin1
	case 0x06:
		return alphaCyrillic
	case 0x07:
		return alphaHebrew
	case 0x08:
		return alphaUCS2
	}
	switch {
	case dc >= 0x10 && dc <= 0x1F: // general group, uncompressed, with message class
		switch (dc >> 2) & 0x03 {
		case 0:
			return alphaGSM
		case 1:
			return alphaBinary
		case 2:
			return alphaUCS2
		}
	case dc >= 0xC0 && dc <= 0xDF: // message waiting indication, GSM alphabet
		return alphaGSM
	case dc >= 0xE0 && dc <= 0xEF: // message waiting indication, UCS-2
		return alphaUCS2
	case dc >= 0xF0: // data coding / message class
		if dc&0x04 != 0 {
			return alphaBinary
		}
		return alphaGSM
	}
	return alphaUnsupported
}

func latin1Decode(b []byte) string {
	ascii := true
	for _, c := range b {
		if c >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return string(b)
	}
	var sb strings.Builder
	sb.Grow(2 * len(b))
	for _, c := range b {
		sb.WriteRune(rune(c))
	}
	return sb.String()
}

func charmapDecode(cm *charmap.Charmap, b []byte) (string, error) {
	out, err := cm.NewDecoder().Bytes(b)
	if err != nil {
		return "", fmt.Errorf("smpp: %s: %w", cm, ErrBadText)
	}
	return string(out), nil
}

// ucs2Decode reads UTF-16BE; an unpaired surrogate becomes U+FFFD rather
// than failing the whole message.
func ucs2Decode(b []byte) (string, error) {
	if len(b)%2 != 0 {
		return "", fmt.Errorf("smpp: ucs-2 text of %d octets: %w", len(b), ErrBadText)
	}
	var sb strings.Builder
	sb.Grow(len(b) + len(b)/2)
	for i := 0; i < len(b); i += 2 {
		u := rune(binary.BigEndian.Uint16(b[i:]))
		if utf16.IsSurrogate(u) {
			if u < 0xDC00 && i+3 < len(b) {
				u2 := rune(binary.BigEndian.Uint16(b[i+2:]))
				if r := utf16.DecodeRune(u, u2); r != utf8.RuneError {
					sb.WriteRune(r)
					i += 2
					continue
				}
			}
			u = utf8.RuneError
		}
		sb.WriteRune(u)
	}
	return sb.String(), nil
}
