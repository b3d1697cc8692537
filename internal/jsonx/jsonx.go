// Package jsonx holds the pieces of the hand-written JSON codecs of smsgw's
// hot types (message records, event envelopes, queue entries).
//
// The encoders write exactly the bytes encoding/json's Marshal writes for
// the same value (HTML-safe string escaping, RFC 3339 times, sorted map
// keys), so nothing reading them can tell the difference.
//
// The Decoder is a strict fast path, not a general JSON parser: it reads
// the common shape of those types and gives up (Failed) on anything else —
// an unknown or differently-cased key, null, a number that is not a plain
// integer, invalid UTF-8, unexpected whitespace is fine but any other
// surprise is not. A caller that sees Failed decodes the same bytes with
// encoding/json, which then gives the result (or the error) it always
// gave. So for every input the fast path accepts, its result is the one
// encoding/json would produce; the fuzz tests of the callers check that.
package jsonx

import (
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// safe[b] is true for the ASCII bytes encoding/json writes as they are
// (with HTML escaping: not <, >, &, nor control characters, '"', '\\').
var safe = func() (t [utf8.RuneSelf]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[b] = b != '"' && b != '\\' && b != '<' && b != '>' && b != '&'
	}
	return t
}()

// AppendString appends s as a JSON string exactly as encoding/json.Marshal
// writes it (invalid UTF-8 becomes \ufffd; <, >, &, U+2028 and U+2029 are
// escaped).
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if safe[b] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// TimeOK reports whether t can be encoded by AppendTime: encoding/json
// refuses years outside 0..9999 (callers fall back to it for the error).
func TimeOK(t time.Time) bool {
	y := t.Year()
	return y >= 0 && y <= 9999
}

// AppendTime appends t as time.Time.MarshalJSON writes it (RFC 3339 with
// nanoseconds, in t's own zone). Check TimeOK first.
func AppendTime(dst []byte, t time.Time) []byte {
	dst = append(dst, '"')
	if t.Location() == time.UTC {
		dst = appendUTC(dst, t, -1)
	} else {
		dst = t.AppendFormat(dst, time.RFC3339Nano)
	}
	return append(dst, '"')
}

// AppendUTCMillis appends t in UTC as t.UTC().AppendFormat(dst,
// "2006-01-02T15:04:05.000Z07:00") does, for years 0 to 9999.
func AppendUTCMillis(dst []byte, t time.Time) []byte {
	if !TimeOK(t.UTC()) {
		return t.UTC().AppendFormat(dst, "2006-01-02T15:04:05.000Z07:00")
	}
	return appendUTC(dst, t.UTC(), 3)
}

// appendUTC writes a UTC time of years 0-9999 as RFC 3339 ending in Z, with
// frac fraction digits, or (frac < 0) with nanoseconds whose trailing zeros
// are trimmed (none at all for a whole second), as time.RFC3339Nano does.
func appendUTC(dst []byte, t time.Time, frac int) []byte {
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	dst = append(dst,
		byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-',
		byte('0'+mo/10), byte('0'+mo%10), '-', byte('0'+d/10), byte('0'+d%10), 'T',
		byte('0'+h/10), byte('0'+h%10), ':', byte('0'+mi/10), byte('0'+mi%10), ':',
		byte('0'+s/10), byte('0'+s%10))
	ns := t.Nanosecond()
	var buf [9]byte
	for i := 8; i >= 0; i-- {
		buf[i] = byte('0' + ns%10)
		ns /= 10
	}
	n := frac
	if frac < 0 {
		n = 9
		for n > 0 && buf[n-1] == '0' {
			n--
		}
	}
	if n > 0 {
		dst = append(dst, '.')
		dst = append(dst, buf[:n]...)
	}
	return append(dst, 'Z')
}

// AppendInt appends v in decimal.
func AppendInt(dst []byte, v int64) []byte { return strconv.AppendInt(dst, v, 10) }

// Decoder reads one JSON document from a byte slice. Its methods never
// panic; after the first surprise Failed is true and every further call
// returns zero values.
type Decoder struct {
	b      []byte
	s      string // a copy of b: strings without escapes are slices of it
	i      int
	failed bool
}

// NewDecoder starts reading b. It copies b once, so the strings it returns
// share one allocation and do not alias b.
func NewDecoder(b []byte) *Decoder { return &Decoder{b: b, s: string(b)} }

// Failed reports whether the fast path gave up (decode with encoding/json).
func (d *Decoder) Failed() bool { return d.failed }

// Fail gives up (for a key or value the caller does not handle).
func (d *Decoder) Fail() { d.failed = true }

func (d *Decoder) skipSpace() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// peek returns the next non-space byte (0 at the end).
func (d *Decoder) peek() byte {
	d.skipSpace()
	if d.i >= len(d.b) {
		return 0
	}
	return d.b[d.i]
}

func (d *Decoder) expect(c byte) bool {
	if d.failed {
		return false
	}
	if d.peek() != c {
		d.failed = true
		return false
	}
	d.i++
	return true
}

// Finish checks that nothing but whitespace follows the document; it
// reports whether the whole decode succeeded.
func (d *Decoder) Finish() bool {
	if d.failed {
		return false
	}
	d.skipSpace()
	if d.i != len(d.b) {
		d.failed = true
	}
	return !d.failed
}

// More reports whether the current object or array has another member,
// consuming the ',' before it; false at its end (consuming the closing
// bracket) or on failure. first is true before the first member.
func (d *Decoder) more(first *bool, closer byte) bool {
	if d.failed {
		return false
	}
	c := d.peek()
	if c == closer {
		d.i++
		return false
	}
	if *first {
		*first = false
		if c == 0 {
			d.failed = true
			return false
		}
		return true
	}
	if c != ',' {
		d.failed = true
		return false
	}
	d.i++
	return true
}

// Members iterates an object's members: next reports whether there is
// another and, when there is, Key reads its name.
type Members struct {
	d     *Decoder
	first bool
}

// Members starts reading an object ('{' must follow).
func (d *Decoder) Members() Members {
	d.expect('{')
	return Members{d: d, first: true}
}

// Next reports whether another member follows and returns its key
// (unescaped; valid until the Decoder's input changes).
func (m *Members) Next() ([]byte, bool) {
	d := m.d
	if !d.more(&m.first, '}') {
		return nil, false
	}
	start, end, esc := d.stringSpan()
	raw := d.b[start:end]
	if esc && !d.failed {
		var ok bool
		if raw, ok = unescape(raw); !ok {
			d.failed = true
		}
	}
	if d.failed || !d.expect(':') {
		return nil, false
	}
	return raw, true
}

// NextString is Next with the key as a string (for map keys).
func (m *Members) NextString() (string, bool) {
	d := m.d
	if !d.more(&m.first, '}') {
		return "", false
	}
	k := d.String()
	if d.failed || !d.expect(':') {
		return "", false
	}
	return k, true
}

// Elements iterates an array's elements.
type Elements struct {
	d     *Decoder
	first bool
}

// Elements starts reading an array ('[' must follow).
func (d *Decoder) Elements() Elements {
	d.expect('[')
	return Elements{d: d, first: true}
}

// Next reports whether another element follows.
func (e *Elements) Next() bool { return e.d.more(&e.first, ']') }

// IsArray reports whether an array follows (without consuming it).
func (d *Decoder) IsArray() bool { return !d.failed && d.peek() == '[' }

// stringSpan reads a string and returns where its raw content (between
// the quotes) is in the input and whether it contains escapes. Control
// characters and invalid UTF-8 fail the decode.
func (d *Decoder) stringSpan() (start, end int, esc bool) {
	if !d.expect('"') {
		return 0, 0, false
	}
	start = d.i
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			end = d.i
			d.i++
			return start, end, esc
		case c == '\\':
			esc = true
			d.i += 2 // the escaped byte is checked when unescaping
		case c < 0x20:
			d.failed = true
			return 0, 0, false
		case c < utf8.RuneSelf:
			d.i++
		default:
			r, size := utf8.DecodeRune(d.b[d.i:])
			if r == utf8.RuneError && size == 1 {
				d.failed = true
				return 0, 0, false
			}
			d.i += size
		}
	}
	d.failed = true
	return 0, 0, false
}

// String reads a JSON string.
func (d *Decoder) String() string {
	start, end, esc := d.stringSpan()
	if d.failed {
		return ""
	}
	if !esc {
		return d.s[start:end]
	}
	out, ok := unescape(d.b[start:end])
	if !ok {
		d.failed = true
		return ""
	}
	return string(out)
}

// RawString reads a JSON string without escapes and returns its bytes
// (escapes fail the decode: for times, whose JSON decoding does not
// unescape either).
func (d *Decoder) RawString() []byte {
	start, end, esc := d.stringSpan()
	if esc {
		d.failed = true
	}
	if d.failed {
		return nil
	}
	return d.b[start:end]
}

// Time reads a time as time.Time.UnmarshalJSON does (strict RFC 3339).
func (d *Decoder) Time() time.Time {
	raw := d.RawString()
	if d.failed {
		return time.Time{}
	}
	var t time.Time
	if err := t.UnmarshalText(raw); err != nil {
		d.failed = true
		return time.Time{}
	}
	return t
}

// integer reads -?(0|[1-9][0-9]*) and returns its text; a fraction or an
// exponent fails the decode (encoding/json refuses them for integers).
func (d *Decoder) integer() []byte {
	if d.failed {
		return nil
	}
	d.skipSpace()
	start := d.i
	if d.i < len(d.b) && d.b[d.i] == '-' {
		d.i++
	}
	digits := d.i
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		d.i++
	}
	n := d.i - digits
	if n == 0 || (n > 1 && d.b[digits] == '0') {
		d.failed = true
		return nil
	}
	if d.i < len(d.b) {
		switch d.b[d.i] {
		case '.', 'e', 'E':
			d.failed = true
			return nil
		}
	}
	return d.b[start:d.i]
}

// Int reads an integer that fits in bits bits.
func (d *Decoder) Int(bits int) int64 {
	s := d.integer()
	if d.failed {
		return 0
	}
	v, err := strconv.ParseInt(string(s), 10, bits)
	if err != nil {
		d.failed = true
		return 0
	}
	return v
}

// Uint reads a non-negative integer that fits in bits bits.
func (d *Decoder) Uint(bits int) uint64 {
	s := d.integer()
	if d.failed {
		return 0
	}
	v, err := strconv.ParseUint(string(s), 10, bits)
	if err != nil {
		d.failed = true
		return 0
	}
	return v
}

// Null consumes a null and reports whether there was one.
func (d *Decoder) Null() bool {
	if d.failed || d.peek() != 'n' {
		return false
	}
	if len(d.b)-d.i >= 4 && string(d.b[d.i:d.i+4]) == "null" {
		d.i += 4
		return true
	}
	d.failed = true
	return false
}

// Bool reads true or false.
func (d *Decoder) Bool() bool {
	if d.failed {
		return false
	}
	switch c := d.peek(); {
	case c == 't' && len(d.b)-d.i >= 4 && string(d.b[d.i:d.i+4]) == "true":
		d.i += 4
		return true
	case c == 'f' && len(d.b)-d.i >= 5 && string(d.b[d.i:d.i+5]) == "false":
		d.i += 5
		return false
	}
	d.failed = true
	return false
}

// StringMap reads an object of strings into a new map (an empty object
// gives an empty, non-nil map, as encoding/json does).
func (d *Decoder) StringMap() map[string]string {
	m := map[string]string{}
	mem := d.Members()
	for {
		k, ok := mem.NextString()
		if !ok {
			break
		}
		m[k] = d.String()
	}
	if d.failed {
		return nil
	}
	return m
}

// unescape decodes the escapes of a JSON string's content as
// encoding/json does (a lone surrogate becomes U+FFFD); ok is false for an
// escape JSON does not have.
func unescape(s []byte) ([]byte, bool) {
	b := make([]byte, 0, len(s))
	for r := 0; r < len(s); {
		c := s[r]
		if c != '\\' {
			b = append(b, c)
			r++
			continue
		}
		r++
		if r >= len(s) {
			return nil, false
		}
		switch s[r] {
		case '"', '\\', '/':
			b = append(b, s[r])
			r++
		case 'b':
			b = append(b, '\b')
			r++
		case 'f':
			b = append(b, '\f')
			r++
		case 'n':
			b = append(b, '\n')
			r++
		case 'r':
			b = append(b, '\r')
			r++
		case 't':
			b = append(b, '\t')
			r++
		case 'u':
			rr := getu4(s[r-1:])
			if rr < 0 {
				return nil, false
			}
			r += 5
			if utf16.IsSurrogate(rr) {
				rr1 := getu4(s[r:])
				if dec := utf16.DecodeRune(rr, rr1); dec != utf8.RuneError {
					r += 6
					b = utf8.AppendRune(b, dec)
					break
				}
				rr = utf8.RuneError
			}
			b = utf8.AppendRune(b, rr)
		default:
			return nil, false
		}
	}
	return b, true
}

// getu4 decodes \uXXXX at the start of s, or returns -1.
func getu4(s []byte) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range s[2:6] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}
