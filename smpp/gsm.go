package smpp

import (
	"fmt"
	"strings"
)

// GSM 03.38 (3GPP TS 23.038) default alphabet and extension table, sent as
// unpacked septets: one septet per octet, extension characters as the escape
// 0x1B followed by their code. Our own tables rather than fiorix's
// smpp/encoding: that one works through maps and transform.Transformer,
// which is slow, allocates, and cannot tell where a part may be cut.

const gsmEscape = 0x1B

// gsmBasic maps a septet to its character; index 0x1B is the escape.
var gsmBasic = [128]rune{
	'@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å',
	'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', 0x1B, 'Æ', 'æ', 'ß', 'É',
	' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/',
	'0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?',
	'¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O',
	'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§',
	'¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o',
	'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à',
}

// gsmExtension maps the septet after an escape to its character (0: none).
var gsmExtension = [128]rune{
	0x0A: '\f', 0x14: '^', 0x28: '{', 0x29: '}', 0x2F: '\\',
	0x3C: '[', 0x3D: '~', 0x3E: ']', 0x40: '|', 0x65: '€',
}

// gsmLow is the reverse table for runes below 0x100: 0 means not in the
// alphabet, gsmLowBasic|code a basic septet, gsmLowExt|code an escaped one.
var gsmLow [0x100]uint16

// gsmHigh covers the few characters above U+00FF (Greek capitals, €).
var gsmHigh = map[rune]uint16{}

const (
	gsmLowBasic = 0x100
	gsmLowExt   = 0x200
)

func init() {
	for code, r := range gsmBasic {
		if code == gsmEscape {
			continue
		}
		gsmSet(r, gsmLowBasic|uint16(code))
	}
	for code, r := range gsmExtension {
		if r != 0 {
			gsmSet(r, gsmLowExt|uint16(code))
		}
	}
}

func gsmSet(r rune, v uint16) {
	if r < 0x100 {
		gsmLow[r] = v
		return
	}
	gsmHigh[r] = v
}

// gsmLookup returns the septet for r, whether it needs the escape, and
// whether r is in the alphabet at all.
func gsmLookup(r rune) (code byte, ext bool, ok bool) {
	var v uint16
	if uint32(r) < 0x100 {
		v = gsmLow[r]
	} else {
		v = gsmHigh[r]
	}
	if v == 0 {
		return 0, false, false
	}
	return byte(v), v&gsmLowExt != 0, true
}

// gsmCount returns the septets text needs and how many parts of at most
// partMax septets it splits into without cutting an escape sequence.
// ok is false (with the rune and its byte offset) at the first character
// outside the alphabet.
func gsmCount(text string, partMax int) (septets, parts int, bad rune, badAt int, ok bool) {
	cur := 0
	parts = 1
	for i, r := range text {
		_, ext, in := gsmLookup(r)
		if !in {
			return 0, 0, r, i, false
		}
		n := 1
		if ext {
			n = 2
		}
		if cur+n > partMax {
			parts++
			cur = 0
		}
		cur += n
		septets += n
	}
	return septets, parts, 0, 0, true
}

// gsmIsText reports whether every character of text is in the alphabet.
func gsmIsText(text string) bool {
	for _, r := range text {
		if _, _, ok := gsmLookup(r); !ok {
			return false
		}
	}
	return true
}

// gsmDecode decodes unpacked septets. Per TS 23.038 an escape followed by a
// code without an extension character shows the basic character of that
// code; a trailing lone escape is dropped. Octets above 0x7F are not
// septets and make the text malformed.
func gsmDecode(b []byte) (string, error) {
	var sb strings.Builder
	sb.Grow(len(b) + len(b)/4)
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c > 0x7F {
			return "", fmt.Errorf("smpp: gsm 03.38 octet %#02x at offset %d: %w", c, i, ErrBadText)
		}
		if c != gsmEscape {
			sb.WriteRune(gsmBasic[c])
			continue
		}
		if i+1 >= len(b) {
			break
		}
		i++
		e := b[i]
		if e > 0x7F {
			return "", fmt.Errorf("smpp: gsm 03.38 octet %#02x at offset %d: %w", e, i, ErrBadText)
		}
		switch {
		case gsmExtension[e] != 0:
			sb.WriteRune(gsmExtension[e])
		case e == gsmEscape:
			sb.WriteByte(' ') // escape to a further extension table we do not know
		default:
			sb.WriteRune(gsmBasic[e])
		}
	}
	return sb.String(), nil
}

// gsmAppend appends the septets of r (known to be in the alphabet).
func gsmAppend(dst []byte, r rune) []byte {
	code, ext, _ := gsmLookup(r)
	if ext {
		return append(dst, gsmEscape, code)
	}
	return append(dst, code)
}
