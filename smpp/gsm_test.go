package smpp

import (
	"bytes"
	"testing"
	"unicode/utf8"

	fiorixenc "github.com/fiorix/go-smpp/smpp/encoding"
)

// Our tables must agree with fiorix's independent GSM 03.38 tables for
// every character of the alphabet, and both must refuse the same runes.
func TestGSMTablesMatchFiorix(t *testing.T) {
	enc := fiorixenc.GSM7(false).NewEncoder()
	count := 0
	for r := rune(0); r < 0x2200; r++ {
		if r == gsmEscape {
			continue
		}
		s := string(r)
		_, _, ours := gsmLookup(r)
		theirs := len(fiorixenc.ValidateGSM7String(s)) == 0
		if ours != theirs {
			t.Errorf("%U %q: ours in alphabet %v, fiorix %v", r, r, ours, theirs)
			continue
		}
		if !ours {
			continue
		}
		count++
		want, err := enc.Bytes([]byte(s))
		if err != nil {
			t.Fatalf("fiorix encode %q: %v", s, err)
		}
		if got := gsmAppend(nil, r); !bytes.Equal(got, want) {
			t.Errorf("%q: ours % x, fiorix % x", r, got, want)
		}
	}
	if count != 127+10 { // 128 basic minus the escape, plus 10 extension characters
		t.Errorf("%d characters in the alphabet, want 137", count)
	}
}

// Every septet (and every escaped septet) decodes to a character that
// encodes back to it.
func TestGSMDecodeEncodeAllSeptets(t *testing.T) {
	for c := 0; c < 128; c++ {
		if c == gsmEscape {
			continue
		}
		s, err := gsmDecode([]byte{byte(c)})
		if err != nil {
			t.Fatal(err)
		}
		r, _ := utf8.DecodeRuneInString(s)
		if got := gsmAppend(nil, r); !bytes.Equal(got, []byte{byte(c)}) {
			t.Errorf("septet %#x -> %q -> % x", c, s, got)
		}
		if gsmExtension[c] != 0 {
			s, _ := gsmDecode([]byte{gsmEscape, byte(c)})
			r, _ := utf8.DecodeRuneInString(s)
			if got := gsmAppend(nil, r); !bytes.Equal(got, []byte{gsmEscape, byte(c)}) {
				t.Errorf("escaped %#x -> %q -> % x", c, s, got)
			}
		}
	}
}

func TestGSMCount(t *testing.T) {
	tests := []struct {
		text           string
		septets, parts int
		ok             bool
	}{
		{"abc", 3, 1, true},
		{"a€b", 4, 1, true},
		{"aж", 0, 0, false},
		{"", 0, 1, true},
	}
	for _, tt := range tests {
		septets, parts, _, _, ok := gsmCount(tt.text, GSM7PartMax)
		if septets != tt.septets || parts != tt.parts || ok != tt.ok {
			t.Errorf("gsmCount(%q) = %d, %d, %v", tt.text, septets, parts, ok)
		}
	}
	_, _, bad, at, _ := gsmCount("ab\u00e7", GSM7PartMax)
	if bad != 'ç' || at != 2 {
		t.Errorf("bad rune %q at %d", bad, at)
	}
}
