package smpp

import (
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// partPayload strips the concatenation UDH Encode puts in front of a part.
func partPayload(t testing.TB, p Part) []byte {
	t.Helper()
	if p.ESMClass&ESMClassUDHI == 0 {
		return p.ShortMessage
	}
	if len(p.ShortMessage) < udhConcatLen || p.ShortMessage[0] != 5 {
		t.Fatalf("part has UDHI but no concat UDH: % x", p.ShortMessage)
	}
	return p.ShortMessage[udhConcatLen:]
}

// decodeParts decodes every part on its own and joins the texts: parts
// must stand alone (no escape or surrogate pair cut).
func decodeParts(t testing.TB, e Encoded) string {
	t.Helper()
	var sb strings.Builder
	for i, p := range e.Parts {
		s, err := DecodeText(p.DataCoding, partPayload(t, p))
		if err != nil {
			t.Fatalf("part %d: DecodeText: %v", i+1, err)
		}
		sb.WriteString(s)
	}
	return sb.String()
}

func TestEncode(t *testing.T) {
	ext := "€"   // extension character: two septets
	emoji := "😀" // outside the BMP: a surrogate pair
	tests := []struct {
		name     string
		text     string
		enc      Encoding
		mode     ConcatMode
		wantEnc  Encoding
		wantDC   uint8
		partLens []int // payload octets per part (UDH excluded)
		err      error
	}{
		{name: "hello", text: "Hello", wantEnc: EncodingGSM7, wantDC: 0, partLens: []int{5}},
		{name: "160 gsm single", text: strings.Repeat("a", 160), wantEnc: EncodingGSM7, partLens: []int{160}},
		{name: "161 gsm two parts", text: strings.Repeat("a", 161), wantEnc: EncodingGSM7, partLens: []int{153, 8}},
		{name: "306 gsm two full parts", text: strings.Repeat("a", 306), wantEnc: EncodingGSM7, partLens: []int{153, 153}},
		{name: "307 gsm three parts", text: strings.Repeat("a", 307), wantEnc: EncodingGSM7, partLens: []int{153, 153, 1}},
		{name: "80 euro single (160 septets)", text: strings.Repeat(ext, 80), wantEnc: EncodingGSM7, partLens: []int{160}},
		{name: "159 plus euro splits", text: strings.Repeat("a", 159) + ext, wantEnc: EncodingGSM7, partLens: []int{153, 8}},
		{name: "escape not split at 153", text: strings.Repeat("a", 152) + ext + "b" + strings.Repeat("c", 10), wantEnc: EncodingGSM7, partLens: []int{152, 13}},
		{name: "escape fits at 152-153", text: strings.Repeat("a", 151) + ext + strings.Repeat("c", 10), wantEnc: EncodingGSM7, partLens: []int{153, 10}},
		{name: "all extension chars", text: "^{}\\[~]|€\f", wantEnc: EncodingGSM7, partLens: []int{20}},
		{name: "greek and accents", text: "ΔΦΓΛΩΠΨΣΘΞ@£$¥èéùìòÇØøÅåÆæßÉÄÖÑÜ§¿äöñüà¡¤", wantEnc: EncodingGSM7, partLens: []int{41}},
		{name: "c cedilla small is not gsm", text: "ça", wantEnc: EncodingUCS2, wantDC: 8, partLens: []int{4}},
		{name: "70 ucs2 single", text: strings.Repeat("ж", 70), wantEnc: EncodingUCS2, wantDC: 8, partLens: []int{140}},
		{name: "71 ucs2 two parts", text: strings.Repeat("ж", 71), wantEnc: EncodingUCS2, wantDC: 8, partLens: []int{134, 8}},
		{name: "35 emoji single", text: strings.Repeat(emoji, 35), wantEnc: EncodingUCS2, wantDC: 8, partLens: []int{140}},
		{name: "emoji not split at 67", text: strings.Repeat("ж", 66) + emoji + "zzzzz", wantEnc: EncodingUCS2, wantDC: 8, partLens: []int{132, 14}},
		{name: "emoji fits at 66-67", text: strings.Repeat("ж", 65) + emoji + strings.Repeat("z", 5), wantEnc: EncodingUCS2, wantDC: 8, partLens: []int{134, 10}},
		{name: "forced ucs2", text: "Hello", enc: EncodingUCS2, wantEnc: EncodingUCS2, wantDC: 8, partLens: []int{10}},
		{name: "forced gsm7", text: "Hello", enc: EncodingGSM7, wantEnc: EncodingGSM7, partLens: []int{5}},
		{name: "sar two parts", text: strings.Repeat("a", 200), mode: ConcatSAR, wantEnc: EncodingGSM7, partLens: []int{153, 47}},
		{name: "gsm7 refuses cyrillic", text: "Привет", enc: EncodingGSM7, err: ErrNotGSM},
		{name: "empty", text: "", err: ErrEmptyText},
		{name: "invalid utf8", text: "a\xffb", err: ErrInvalidUTF8},
		{name: "unknown encoding", text: "a", enc: "latin9", err: ErrUnknownEncoding},
		{name: "unknown mode", text: "a", mode: "both", err: ErrUnknownEncoding},
		{name: "255 parts ok", text: strings.Repeat("a", 153*255), wantEnc: EncodingGSM7, partLens: nil},
		{name: "256 parts too many", text: strings.Repeat("a", 153*255+1), err: ErrTooManyParts},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Encode(tt.text, tt.enc, tt.mode, 0x1234)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				if _, _, cerr := CountParts(tt.text, tt.enc); tt.mode == "" && !errors.Is(cerr, tt.err) {
					t.Fatalf("CountParts err = %v, want %v", cerr, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if e.Encoding != tt.wantEnc {
				t.Errorf("encoding = %s, want %s", e.Encoding, tt.wantEnc)
			}
			n, resolved, err := CountParts(tt.text, tt.enc)
			if err != nil || n != len(e.Parts) || resolved != e.Encoding {
				t.Errorf("CountParts = %d, %s, %v; Encode gave %d parts %s", n, resolved, err, len(e.Parts), e.Encoding)
			}
			if tt.partLens != nil {
				var got []int
				for _, p := range e.Parts {
					got = append(got, len(partPayload(t, p)))
				}
				if !equalInts(got, tt.partLens) {
					t.Errorf("payload lengths = %v, want %v", got, tt.partLens)
				}
			}
			multi := len(e.Parts) > 1
			for i, p := range e.Parts {
				if p.DataCoding != tt.wantDC {
					t.Errorf("part %d data_coding = %#x, want %#x", i+1, p.DataCoding, tt.wantDC)
				}
				if len(p.ShortMessage) > 140 && p.DataCoding == DataCodingUCS2 || len(p.ShortMessage) > 160+udhConcatLen {
					t.Errorf("part %d is %d octets", i+1, len(p.ShortMessage))
				}
				switch {
				case multi && tt.mode == ConcatSAR:
					if p.ESMClass != 0 || p.SAR == nil || *p.SAR != (SAR{Ref: 0x1234, Total: uint8(len(e.Parts)), Seq: uint8(i + 1)}) {
						t.Errorf("part %d: esm %#x SAR %+v", i+1, p.ESMClass, p.SAR)
					}
				case multi:
					want := []byte{5, 0, 3, 0x34, byte(len(e.Parts)), byte(i + 1)}
					if p.ESMClass != ESMClassUDHI || p.SAR != nil || !bytes.Equal(p.ShortMessage[:6], want) {
						t.Errorf("part %d: esm %#x UDH % x, want % x", i+1, p.ESMClass, p.ShortMessage[:6], want)
					}
				default:
					if p.ESMClass != 0 || p.SAR != nil {
						t.Errorf("single part: esm %#x SAR %+v", p.ESMClass, p.SAR)
					}
				}
			}
			if got := decodeParts(t, e); got != tt.text {
				t.Errorf("decoded parts = %q, want %q", got, tt.text)
			}
		})
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Exact octets of known vectors.
func TestEncodeBytes(t *testing.T) {
	tests := []struct {
		text string
		enc  Encoding
		want []string // hex per part
	}{
		{"@£$", "", []string{"000102"}},
		{"a{€}", "", []string{"611b281b651b29"}},
		{"Hi 😀", "", []string{"004800690020d83dde00"}},
		{strings.Repeat("x", 152) + "€yyyyyyyy", "", []string{
			"0500035602" + "01" + strings.Repeat("78", 152),
			"0500035602" + "02" + "1b65" + strings.Repeat("79", 8),
		}},
	}
	for _, tt := range tests {
		e, err := Encode(tt.text, tt.enc, ConcatUDH, 0xAB56)
		if err != nil {
			t.Fatalf("%q: %v", tt.text, err)
		}
		if len(e.Parts) != len(tt.want) {
			t.Fatalf("%q: %d parts, want %d", tt.text, len(e.Parts), len(tt.want))
		}
		for i, p := range e.Parts {
			if got := hex.EncodeToString(p.ShortMessage); got != tt.want[i] {
				t.Errorf("%q part %d = %s, want %s", tt.text, i+1, got, tt.want[i])
			}
		}
	}
}

// Appending to one part must not overwrite the next (shared backing array).
func TestEncodePartsIndependent(t *testing.T) {
	e, err := Encode(strings.Repeat("a", 200), "", "", 1)
	if err != nil {
		t.Fatal(err)
	}
	before := append([]byte(nil), e.Parts[1].ShortMessage...)
	_ = append(e.Parts[0].ShortMessage, 'Z', 'Z', 'Z')
	if !bytes.Equal(before, e.Parts[1].ShortMessage) {
		t.Fatal("appending to part 1 changed part 2")
	}
}

func TestDecodeText(t *testing.T) {
	tests := []struct {
		name string
		dc   uint8
		in   []byte
		want string
		err  error
	}{
		{name: "gsm basic", dc: 0, in: []byte{0x48, 0x69, 0x00, 0x11, 0x10}, want: "Hi@_Δ"},
		{name: "gsm escapes", dc: 0, in: []byte{0x1b, 0x65, 0x1b, 0x3c, 0x1b, 0x0a}, want: "€[\f"},
		{name: "gsm unknown escape shows basic", dc: 0, in: []byte{0x1b, 0x41}, want: "A"},
		{name: "gsm double escape is space", dc: 0, in: []byte{0x1b, 0x1b, 0x41}, want: " A"},
		{name: "gsm trailing escape dropped", dc: 0, in: []byte{0x41, 0x1b}, want: "A"},
		{name: "gsm high octet", dc: 0, in: []byte{0x41, 0x80}, err: ErrBadText},
		{name: "gsm high after escape", dc: 0, in: []byte{0x1b, 0xc1}, err: ErrBadText},
		{name: "gsm empty", dc: 0, in: nil, want: ""},
		{name: "ia5", dc: 1, in: []byte("id:1 @_"), want: "id:1 @_"},
		{name: "ia5 high octet as latin1", dc: 1, in: []byte{'a', 0xe9}, want: "aé"},
		{name: "latin1", dc: 3, in: []byte{0x63, 0x61, 0x66, 0xe9, 0xa3}, want: "café£"},
		{name: "cyrillic iso-8859-5", dc: 6, in: []byte{0xbf, 0xe0, 0xd8}, want: "При"},
		{name: "hebrew iso-8859-8", dc: 7, in: []byte{0xf9, 0xec, 0xe5, 0xed}, want: "שלום"},
		{name: "ucs2", dc: 8, in: []byte{0x04, 0x1f, 0x00, 0x21}, want: "П!"},
		{name: "ucs2 surrogate pair", dc: 8, in: []byte{0xd8, 0x3d, 0xde, 0x00}, want: "😀"},
		{name: "ucs2 lone high surrogate", dc: 8, in: []byte{0xd8, 0x3d, 0x00, 0x41}, want: "\uFFFDA"},
		{name: "ucs2 lone low surrogate", dc: 8, in: []byte{0xde, 0x00}, want: "\uFFFD"},
		{name: "ucs2 odd length", dc: 8, in: []byte{0x00, 0x41, 0x00}, err: ErrBadText},
		{name: "binary 2", dc: 2, in: []byte{1, 2}, err: ErrBinary},
		{name: "binary 4", dc: 4, in: []byte{1, 2}, err: ErrBinary},
		{name: "dcs 0x10 flash gsm", dc: 0x10, in: []byte{0x41}, want: "A"},
		{name: "dcs 0x18 flash ucs2", dc: 0x18, in: []byte{0x00, 0x41}, want: "A"},
		{name: "dcs 0x14 8-bit", dc: 0x14, in: []byte{0x41}, err: ErrBinary},
		{name: "dcs 0xf0 gsm", dc: 0xf0, in: []byte{0x41}, want: "A"},
		{name: "dcs 0xf4 8-bit", dc: 0xf4, in: []byte{0x41}, err: ErrBinary},
		{name: "jis unsupported", dc: 5, in: []byte{0x41}, err: ErrUnsupportedDataCoding},
		{name: "compressed unsupported", dc: 0x20, in: []byte{0x41}, err: ErrUnsupportedDataCoding},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeText(tt.dc, tt.in)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("= %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// FuzzGSMRoundTrip: any valid text encodes (auto, both concat modes) into
// parts within the limits that each decode on their own back to the text;
// GSM-only text stays GSM; CountParts agrees with Encode.
func FuzzGSMRoundTrip(f *testing.F) {
	for _, s := range []string{"Hello", "€uro {x} [y] ~z~ ^|\\", strings.Repeat("a", 152) + "€", "Привет 😀", "ΔΦΓΛ@£$¥", "\f\r\n"} {
		f.Add(s, uint16(7), false)
	}
	f.Fuzz(func(t *testing.T, text string, ref uint16, sar bool) {
		if text == "" || !utf8.ValidString(text) {
			return
		}
		mode := ConcatUDH
		if sar {
			mode = ConcatSAR
		}
		e, err := Encode(text, EncodingAuto, mode, ref)
		if errors.Is(err, ErrTooManyParts) {
			return
		}
		if err != nil {
			t.Fatalf("Encode(%q): %v", text, err)
		}
		if gsmIsText(text) != (e.Encoding == EncodingGSM7) {
			t.Fatalf("encoding %s for %q", e.Encoding, text)
		}
		n, _, err := CountParts(text, EncodingAuto)
		if err != nil || n != len(e.Parts) {
			t.Fatalf("CountParts = %d, %v; Encode made %d", n, err, len(e.Parts))
		}
		for i, p := range e.Parts {
			pl := partPayload(t, p)
			units := len(pl)
			single, part := GSM7SingleMax, GSM7PartMax
			if p.DataCoding == DataCodingUCS2 {
				units /= 2
				single, part = UCS2SingleMax, UCS2PartMax
			}
			if len(e.Parts) == 1 && units > single || len(e.Parts) > 1 && units > part {
				t.Fatalf("part %d has %d units", i+1, units)
			}
		}
		if got := decodeParts(t, e); got != text {
			t.Fatalf("round trip %q -> %q", text, got)
		}
	})
}

// FuzzDecodeText: no data_coding and no octets make DecodeText panic, and
// what it returns is valid UTF-8.
func FuzzDecodeText(f *testing.F) {
	f.Add(uint8(0), []byte{0x1b, 0x65, 0x41})
	f.Add(uint8(8), []byte{0xd8, 0x3d, 0xde, 0x00})
	f.Add(uint8(3), []byte{0xe9})
	f.Add(uint8(0xf0), []byte{0x1b})
	f.Fuzz(func(t *testing.T, dc uint8, b []byte) {
		s, err := DecodeText(dc, b)
		if err != nil {
			if s != "" {
				t.Fatalf("error %v with text %q", err, s)
			}
			return
		}
		if !utf8.ValidString(s) {
			t.Fatalf("invalid UTF-8 from dc %#x % x", dc, b)
		}
	})
}

var codecWriteSeeds = flag.Bool("codec-write-seeds", false, "rewrite the codec fuzz seed corpora under testdata/fuzz")

// TestCodecFuzzSeeds writes the seed corpora of the codec fuzz targets
// (go test -run TestCodecFuzzSeeds -codec-write-seeds) and otherwise checks
// they are there, so `go test -fuzz` starts from real-world inputs.
func TestCodecFuzzSeeds(t *testing.T) {
	corpora := map[string][]string{}
	for _, c := range receiptCases {
		corpora["FuzzParseReceiptText"] = append(corpora["FuzzParseReceiptText"], fmt.Sprintf("string(%q)", c.text))
	}
	for _, s := range []string{"Hello", "€uro {x} [y] ~z~ ^|\\", strings.Repeat("a", 152) + "€" + strings.Repeat("b", 20), "Привет 😀", strings.Repeat("ж", 66) + "😀zz", "ΔΦΓΛ@£$¥\f\r\n"} {
		corpora["FuzzGSMRoundTrip"] = append(corpora["FuzzGSMRoundTrip"], fmt.Sprintf("string(%q)\nuint16(300)\nbool(false)", s),
			fmt.Sprintf("string(%q)\nuint16(65535)\nbool(true)", s))
	}
	for _, c := range []struct {
		dc uint8
		b  []byte
	}{{0, []byte{0x1b, 0x65, 0x41, 0x1b}}, {8, []byte{0xd8, 0x3d, 0xde, 0x00, 0xdc, 0x00}}, {3, []byte{0xe9, 0xff}},
		{1, []byte("id:1 stat:DELIVRD")}, {0x18, []byte{0, 0x41}}, {0xf4, []byte{1}}, {6, []byte{0xbf, 0xe0}}} {
		corpora["FuzzDecodeText"] = append(corpora["FuzzDecodeText"], fmt.Sprintf("byte(%q)\n[]byte(%q)", rune(c.dc), c.b))
	}
	for _, d := range []testDeliver{
		{esm: 0x04, sm: []byte(simReceipt), tlvs: []testTLV{{0x001E, []byte("0A1B2C\x00")}, {0x0427, []byte{2}}}},
		{esm: 0x04, tlvs: []testTLV{{0x001E, []byte("ff01\x00")}, {0x0427, []byte{5}}, {0x0423, []byte{3, 0, 1}}}},
		{esm: 0x40, sm: []byte{5, 0, 3, 1, 2, 1, 0x41}},
		{esm: 0x40, sm: []byte{6, 8, 4, 0, 1, 2, 2, 0x41}},
		{esm: 0x43, sm: []byte{11, 5, 4, 0x0b, 0x84, 0x23, 0xf0, 0, 3, 9, 2, 2, 0x41}},
		{dc: 8, sm: []byte{0xd8, 0x3d, 0xde, 0x00}},
		{sm: []byte("x"), tlvs: []testTLV{{0x020C, []byte{0, 1}}, {0x020E, []byte{2}}, {0x020F, []byte{1}}}},
	} {
		corpora["FuzzParseDeliverSM"] = append(corpora["FuzzParseDeliverSM"], fmt.Sprintf("[]byte(%q)", d.wire()[16:]))
	}
	for target, entries := range corpora {
		dir := filepath.Join("testdata", "fuzz", target)
		for i, e := range entries {
			path := filepath.Join(dir, fmt.Sprintf("seed-%02d", i))
			want := "go test fuzz v1\n" + e + "\n"
			if *codecWriteSeeds {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			got, err := os.ReadFile(path)
			if err != nil || string(got) != want {
				t.Errorf("%s is stale or missing (run with -codec-write-seeds): %v", path, err)
			}
		}
	}
}

func BenchmarkEncode(b *testing.B) {
	cases := []struct {
		name string
		text string
		mode ConcatMode
	}{
		{"gsm_single", "Your verification code is 123456. It expires in 10 minutes. {ref}", ConcatUDH},
		{"gsm_3parts_udh", strings.Repeat("Long message with € and [brackets] ", 12), ConcatUDH},
		{"gsm_3parts_sar", strings.Repeat("Long message with € and [brackets] ", 12), ConcatSAR},
		{"ucs2_single", "Ваш код подтверждения 123456 😀", ConcatUDH},
		{"ucs2_3parts", strings.Repeat("Длинное сообщение 😀 ", 9), ConcatUDH},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.text)))
			for b.Loop() {
				if _, err := Encode(c.text, EncodingAuto, c.mode, 42); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkCountParts(b *testing.B) {
	text := strings.Repeat("Long message with € and [brackets] ", 12)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := CountParts(text, EncodingAuto); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeText(b *testing.B) {
	e, err := Encode(strings.Repeat("Hello € world ", 10), EncodingGSM7, ConcatUDH, 0)
	if err != nil {
		b.Fatal(err)
	}
	sm := e.Parts[0].ShortMessage
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeText(0, sm); err != nil {
			b.Fatal(err)
		}
	}
}

func ExampleEncode() {
	e, err := Encode(strings.Repeat("Long text with € ", 10), EncodingAuto, ConcatUDH, 0x2A)
	if err != nil {
		panic(err)
	}
	for _, p := range e.Parts {
		fmt.Printf("%s dc=%d esm=%#x udh=% x len=%d\n", e.Encoding, p.DataCoding, p.ESMClass, p.ShortMessage[:6], len(p.ShortMessage))
	}
	// Output:
	// gsm7 dc=0 esm=0x40 udh=05 00 03 2a 02 01 len=159
	// gsm7 dc=0 esm=0x40 udh=05 00 03 2a 02 02 len=33
}

func ExampleCountParts() {
	n, enc, _ := CountParts("Привет! 😀", EncodingAuto)
	fmt.Println(n, enc)
	// Output: 1 ucs2
}
