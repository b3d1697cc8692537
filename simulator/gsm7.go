package simulator

// GSM 03.38 default alphabet with its extension table, unpacked: one septet
// per octet, extension characters as 0x1B followed by their code. fiorix's
// pdutext GSM7 codec is not used because the contract fixes this exact
// encoding (0x1B escapes, no packing) and the simulator needs a septet
// count for splitting that never cuts an escape pair in two.

const gsmEscape = 0x1B

// gsmBasic maps a septet to its character. 0x1B (escape) decodes to a
// space when it is not followed by an extension code.
var gsmBasic = [128]rune{
	'@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å',
	'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', ' ', 'Æ', 'æ', 'ß', 'É',
	' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/',
	'0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?',
	'¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O',
	'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§',
	'¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o',
	'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à',
}

// gsmExt maps the septet after an escape to its character.
var gsmExt = map[byte]rune{
	0x0A: '\f', 0x14: '^', 0x28: '{', 0x29: '}', 0x2F: '\\',
	0x3C: '[', 0x3D: '~', 0x3E: ']', 0x40: '|', 0x65: '€',
}

var (
	gsmBasicRev = map[rune]byte{}
	gsmExtRev   = map[rune]byte{}
)

func init() {
	for i, r := range gsmBasic {
		if i == gsmEscape {
			continue
		}
		gsmBasicRev[r] = byte(i)
	}
	for b, r := range gsmExt {
		gsmExtRev[r] = b
	}
}

// gsmSeptets returns how many septets s takes in GSM 03.38, and false if
// some character is not in the alphabet.
func gsmSeptets(s string) (int, bool) {
	n := 0
	for _, r := range s {
		if _, ok := gsmBasicRev[r]; ok {
			n++
			continue
		}
		if _, ok := gsmExtRev[r]; ok {
			n += 2
			continue
		}
		return 0, false
	}
	return n, true
}

// appendGSM appends s encoded as unpacked GSM 03.38 septets. Characters
// outside the alphabet become '?'; callers check gsmSeptets first.
func appendGSM(b []byte, s string) []byte {
	for _, r := range s {
		if c, ok := gsmBasicRev[r]; ok {
			b = append(b, c)
		} else if c, ok := gsmExtRev[r]; ok {
			b = append(b, gsmEscape, c)
		} else {
			b = append(b, '?')
		}
	}
	return b
}

// decodeGSM decodes unpacked GSM 03.38 septets. An octet above 0x7F is not
// a septet and decodes to '?'; an escape before an unknown code decodes to
// the basic character of that code, as 03.38 asks of receivers.
func decodeGSM(b []byte) string {
	out := make([]rune, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c > 0x7F {
			out = append(out, '?')
			continue
		}
		if c == gsmEscape && i+1 < len(b) {
			i++
			n := b[i]
			if r, ok := gsmExt[n]; ok {
				out = append(out, r)
			} else if n > 0x7F {
				out = append(out, '?')
			} else {
				out = append(out, gsmBasic[n])
			}
			continue
		}
		out = append(out, gsmBasic[c])
	}
	return string(out)
}
