package smpp

import (
	"math/big"
	"strconv"
	"strings"
)

// IDFormat is how an SMSC writes message ids (the SMSC setting
// "receipt id format").
type IDFormat string

// ID formats.
//
// IDHex and IDDec say the SMSC uses that base: ids are matched under one
// key after normalising case and leading zeros, so no false match is
// possible. Under IDDec an id with hex letters (in submit_sm_resp or in a
// receipt) can only be the hex form of the number and is converted to
// decimal on both sides, so IDDec also serves SMSCs that answer submit_sm
// in hex and write receipts in decimal.
//
// IDAuto (the default, also "") suits every SMSC, including those that
// answer submit_sm with a hex id and print it in decimal in the receipt (or
// the reverse): a receipt id is looked up as it is and converted between
// bases.
const (
	IDAuto IDFormat = "auto"
	IDHex  IDFormat = "hex"
	IDDec  IDFormat = "dec"
)

// IDKey is the canonical key under which the gateway files an SMSC message
// id taken from a submit_sm_resp: trimmed, lower-case, without leading
// zeros, and under IDDec a hex id converted to decimal.
func IDKey(id string, f IDFormat) string {
	k := idNormalise(id)
	if f == IDDec {
		return idDecimal(k)
	}
	return k
}

// idDecimal converts a normalised id with hex letters to decimal.
func idDecimal(k string) string {
	if !idAllDigits(k) && idAllHex(k) {
		if d, ok := idConvert(k, 16, 10); ok {
			return d
		}
	}
	return k
}

// ReceiptIDKeys are the keys to look a receipt's id up under, most likely
// first: one for IDHex/IDDec; for IDAuto the normalised id and, when it
// reads as a number, its other-base forms (decimal digits as a decimal
// number written in hex, hex digits as a hex number written in decimal),
// so a dec receipt id finds a hex submit id and vice versa. Nil for an
// empty id.
func ReceiptIDKeys(id string, f IDFormat) []string {
	k := idNormalise(id)
	if k == "" {
		return nil
	}
	switch f {
	case IDHex:
		return []string{k}
	case IDDec:
		return []string{idDecimal(k)}
	}
	keys := make([]string, 1, 3)
	keys[0] = k
	if idAllDigits(k) {
		if h, ok := idConvert(k, 10, 16); ok && h != k {
			keys = append(keys, h)
		}
	}
	if idAllHex(k) {
		if d, ok := idConvert(k, 16, 10); ok && d != k && (len(keys) < 2 || d != keys[1]) {
			keys = append(keys, d)
		}
	}
	return keys
}

// idNormalise trims spaces and NULs, lower-cases, and strips leading zeros
// (keeping one zero for an all-zero id).
func idNormalise(id string) string {
	id = strings.Trim(id, " \t\r\n\x00")
	if id == "" {
		return ""
	}
	if t := strings.TrimLeft(id, "0"); t != "" {
		id = t
	} else {
		id = "0"
	}
	return strings.ToLower(id)
}

func idAllDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func idAllHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9') && !(c >= 'a' && c <= 'f') {
			return false
		}
	}
	return s != ""
}

// idConvert rewrites a number from one base to another, beyond 64 bits too.
func idConvert(s string, from, to int) (string, bool) {
	if u, err := strconv.ParseUint(s, from, 64); err == nil {
		return strconv.FormatUint(u, to), true
	}
	n, ok := new(big.Int).SetString(s, from)
	if !ok {
		return "", false
	}
	return n.Text(to), true
}
