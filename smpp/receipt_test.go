package smpp

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func utc(y int, mo time.Month, d, h, mi, s int) time.Time {
	return time.Date(y, mo, d, h, mi, s, 0, time.UTC)
}

// Real-world receipt texts, as SMSCs and aggregators send them.
var receiptCases = []struct {
	name string
	text string
	want Receipt
	err  error
}{
	{
		name: "appendix b",
		text: "id:0123456789 sub:001 dlvrd:001 submit date:2401151230 done date:2401151231 stat:DELIVRD err:000 text:Hello world",
		want: Receipt{ID: "0123456789", Sub: "001", Dlvrd: "001", SubmitDate: utc(2024, 1, 15, 12, 30, 0), DoneDate: utc(2024, 1, 15, 12, 31, 0),
			Stat: "DELIVRD", Err: "000", Text: "Hello world", MessageState: 2, Final: true, Delivered: true},
	},
	{
		name: "capitalised Text key (Kannel style)",
		text: "id:7f3a2b sub:001 dlvrd:001 submit date:2401151230 done date:2401151231 stat:DELIVRD err:000 Text:Hi there",
		want: Receipt{ID: "7f3a2b", Sub: "001", Dlvrd: "001", SubmitDate: utc(2024, 1, 15, 12, 30, 0), DoneDate: utc(2024, 1, 15, 12, 31, 0),
			Stat: "DELIVRD", Err: "000", Text: "Hi there", MessageState: 2, Final: true, Delivered: true},
	},
	{
		name: "all upper-case keys",
		text: "ID:12345 SUB:001 DLVRD:000 SUBMIT DATE:2312312359 DONE DATE:2401010001 STAT:UNDELIV ERR:001 TEXT:",
		want: Receipt{ID: "12345", Sub: "001", Dlvrd: "000", SubmitDate: utc(2023, 12, 31, 23, 59, 0), DoneDate: utc(2024, 1, 1, 0, 1, 0),
			Stat: "UNDELIV", Err: "001", MessageState: 5, Final: true},
	},
	{
		name: "12-digit dates with seconds",
		text: "id:42 sub:001 dlvrd:001 submit date:240115123005 done date:240115123107 stat:DELIVRD err:000 text:x",
		want: Receipt{ID: "42", Sub: "001", Dlvrd: "001", SubmitDate: utc(2024, 1, 15, 12, 30, 5), DoneDate: utc(2024, 1, 15, 12, 31, 7),
			Stat: "DELIVRD", Err: "000", Text: "x", MessageState: 2, Final: true, Delivered: true},
	},
	{
		name: "14-digit dates",
		text: "id:42 sub:001 dlvrd:001 submit date:20240115123005 done date:20240115123107 stat:DELIVRD err:000 text:x",
		want: Receipt{ID: "42", Sub: "001", Dlvrd: "001", SubmitDate: utc(2024, 1, 15, 12, 30, 5), DoneDate: utc(2024, 1, 15, 12, 31, 7),
			Stat: "DELIVRD", Err: "000", Text: "x", MessageState: 2, Final: true, Delivered: true},
	},
	{
		name: "no text field",
		text: "id:98765 sub:001 dlvrd:000 submit date:2401151230 done date:2401151330 stat:EXPIRED err:027",
		want: Receipt{ID: "98765", Sub: "001", Dlvrd: "000", SubmitDate: utc(2024, 1, 15, 12, 30, 0), DoneDate: utc(2024, 1, 15, 13, 30, 0),
			Stat: "EXPIRED", Err: "027", MessageState: 3, Final: true},
	},
	{
		name: "long error code",
		text: "id:abc-1 sub:001 dlvrd:000 submit date:2401151230 done date:2401151330 stat:UNDELIV err:10204 text:",
		want: Receipt{ID: "abc-1", Sub: "001", Dlvrd: "000", SubmitDate: utc(2024, 1, 15, 12, 30, 0), DoneDate: utc(2024, 1, 15, 13, 30, 0),
			Stat: "UNDELIV", Err: "10204", MessageState: 5, Final: true},
	},
	{
		name: "ACKED intermediate",
		text: "id:5 sub:001 dlvrd:000 submit date:2401151230 done date:2401151230 stat:ACKED err:000 text:",
		want: Receipt{ID: "5", Sub: "001", Dlvrd: "000", SubmitDate: utc(2024, 1, 15, 12, 30, 0), DoneDate: utc(2024, 1, 15, 12, 30, 0),
			Stat: "ACKED", Err: "000", MessageState: 1},
	},
	{
		name: "BUFFERD misspelling",
		text: "id:5 sub:001 dlvrd:000 submit date:2401151230 done date:2401151230 stat:BUFFERD err:000 text:",
		want: Receipt{ID: "5", Sub: "001", Dlvrd: "000", SubmitDate: utc(2024, 1, 15, 12, 30, 0), DoneDate: utc(2024, 1, 15, 12, 30, 0),
			Stat: "BUFFRED", Err: "000", MessageState: 1},
	},
	{
		name: "ENROUTE lower-case stat",
		text: "id:5 sub:001 dlvrd:000 submit date:2401151230 done date:2401151230 stat:enroute err:000",
		want: Receipt{ID: "5", Sub: "001", Dlvrd: "000", SubmitDate: utc(2024, 1, 15, 12, 30, 0), DoneDate: utc(2024, 1, 15, 12, 30, 0),
			Stat: "ENROUTE", Err: "000", MessageState: 1},
	},
	{
		name: "FAILED",
		text: "id:5 sub:001 dlvrd:000 submit date:2401151230 done date:2401151231 stat:FAILED err:069 text:",
		want: Receipt{ID: "5", Sub: "001", Dlvrd: "000", SubmitDate: utc(2024, 1, 15, 12, 30, 0), DoneDate: utc(2024, 1, 15, 12, 31, 0),
			Stat: "FAILED", Err: "069", MessageState: 5, Final: true},
	},
	{
		name: "REJECTD with carrier",
		text: "id:1a2b3c4d sub:001 dlvrd:000 submit date:2401151230 done date:2401151230 stat:REJECTD err:000 text:Your code is 1234",
		want: Receipt{ID: "1a2b3c4d", Sub: "001", Dlvrd: "000", SubmitDate: utc(2024, 1, 15, 12, 30, 0), DoneDate: utc(2024, 1, 15, 12, 30, 0),
			Stat: "REJECTD", Err: "000", Text: "Your code is 1234", MessageState: 8, Final: true},
	},
	{
		name: "extra spaces everywhere",
		text: "  id: 000777   sub:001  dlvrd:001   submit date: 2401151230  done date:2401151231 stat: DELIVRD   err:000  text:  spaced  ",
		want: Receipt{ID: "000777", Sub: "001", Dlvrd: "001", SubmitDate: utc(2024, 1, 15, 12, 30, 0), DoneDate: utc(2024, 1, 15, 12, 31, 0),
			Stat: "DELIVRD", Err: "000", Text: "spaced", MessageState: 2, Final: true, Delivered: true},
	},
	{
		name: "underscore date keys, any order",
		text: "stat:DELIVRD id:55 err:0 submit_date:2401151230 done_date:2401151231 sub:1 dlvrd:1",
		want: Receipt{ID: "55", Sub: "1", Dlvrd: "1", SubmitDate: utc(2024, 1, 15, 12, 30, 0), DoneDate: utc(2024, 1, 15, 12, 31, 0),
			Stat: "DELIVRD", Err: "0", MessageState: 2, Final: true, Delivered: true},
	},
	{
		name: "camel-case keys without space",
		text: "id:55 sub:001 dlvrd:001 SubmitDate:2401151230 DoneDate:2401151231 Stat:DELIVERED Err:000 Text:ok",
		want: Receipt{ID: "55", Sub: "001", Dlvrd: "001", SubmitDate: utc(2024, 1, 15, 12, 30, 0), DoneDate: utc(2024, 1, 15, 12, 31, 0),
			Stat: "DELIVRD", Err: "000", Text: "ok", MessageState: 2, Final: true, Delivered: true},
	},
	{
		name: "empty err value and unknown extra keys",
		text: "id:9 sub:001 dlvrd:001 submit date:2401151230 done date:2401151231 stat:DELIVRD err: mcc:234 mnc:15 text:hi",
		want: Receipt{ID: "9", Sub: "001", Dlvrd: "001", SubmitDate: utc(2024, 1, 15, 12, 30, 0), DoneDate: utc(2024, 1, 15, 12, 31, 0),
			Stat: "DELIVRD", Err: "", Text: "hi", MessageState: 2, Final: true, Delivered: true},
	},
	{
		name: "empty values before known keys",
		text: "id:9 sub: dlvrd: submit date: done date: stat:DELETED err: text:",
		want: Receipt{ID: "9", Stat: "DELETED", MessageState: 4, Final: true},
	},
	{
		name: "id with colons",
		text: "id:smsc1:000042 stat:DELIVRD err:000",
		want: Receipt{ID: "smsc1:000042", Stat: "DELIVRD", Err: "000", MessageState: 2, Final: true, Delivered: true},
	},
	{
		name: "text containing keys and colons",
		text: "id:9 sub:001 dlvrd:001 submit date:2401151230 done date:2401151231 stat:DELIVRD err:000 text:id:1 stat:UNDELIV at 12:30",
		want: Receipt{ID: "9", Sub: "001", Dlvrd: "001", SubmitDate: utc(2024, 1, 15, 12, 30, 0), DoneDate: utc(2024, 1, 15, 12, 31, 0),
			Stat: "DELIVRD", Err: "000", Text: "id:1 stat:UNDELIV at 12:30", MessageState: 2, Final: true, Delivered: true},
	},
	{
		name: "unparseable dates are zero",
		text: "id:9 sub:001 dlvrd:001 submit date:2413151230 done date:24011512 stat:ACCEPTD err:000",
		want: Receipt{ID: "9", Sub: "001", Dlvrd: "001", Stat: "ACCEPTD", Err: "000", MessageState: 6},
	},
	{
		name: "31 February is not a date",
		text: "id:9 submit date:2402311230 done date:2402291230 stat:UNKNOWN err:000",
		want: Receipt{ID: "9", DoneDate: utc(2024, 2, 29, 12, 30, 0), Stat: "UNKNOWN", Err: "000", MessageState: 7, Final: true},
	},
	{
		name: "trailing NULs and CRLF",
		text: "id:77 sub:001 dlvrd:001 submit date:2401151230 done date:2401151231 stat:DELIVRD err:000\r\n\x00\x00",
		want: Receipt{ID: "77", Sub: "001", Dlvrd: "001", SubmitDate: utc(2024, 1, 15, 12, 30, 0), DoneDate: utc(2024, 1, 15, 12, 31, 0),
			Stat: "DELIVRD", Err: "000", MessageState: 2, Final: true, Delivered: true},
	},
	{
		name: "unrecognised stat kept, final unknown",
		text: "id:77 stat:SENT err:000",
		want: Receipt{ID: "77", Stat: "SENT", Err: "000", MessageState: 7, Final: true},
	},
	{name: "plain MO text", text: "Hello, see you at 5", err: ErrNotReceipt},
	{name: "no stat", text: "id:1 sub:001 dlvrd:001 err:000", err: ErrNotReceipt},
	{name: "empty id", text: "id: stat:DELIVRD", err: ErrNotReceipt},
	{name: "empty", text: "", err: ErrNotReceipt},
	{name: "keys inside words are not keys", text: "valid:1 status_x:DELIVRD", err: ErrNotReceipt},
}

func TestParseReceiptText(t *testing.T) {
	for _, tt := range receiptCases {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseReceiptText(tt.text)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !receiptEqual(got, tt.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func receiptEqual(a, b Receipt) bool {
	return a.ID == b.ID && a.Sub == b.Sub && a.Dlvrd == b.Dlvrd && a.SubmitDate.Equal(b.SubmitDate) &&
		a.DoneDate.Equal(b.DoneDate) && a.Stat == b.Stat && a.Err == b.Err && a.Text == b.Text &&
		a.MessageState == b.MessageState && string(a.NetworkErrorCode) == string(b.NetworkErrorCode) &&
		a.Final == b.Final && a.Delivered == b.Delivered
}

// The simulator's receipts (contract section 7) for each outcome.
func TestParseReceiptTextContractOutcomes(t *testing.T) {
	tests := []struct {
		stat, err string
		final     bool
		delivered bool
		state     uint8
	}{
		{"DELIVRD", "000", true, true, 2},
		{"UNDELIV", "001", true, false, 5},
		{"UNDELIV", "027", true, false, 5},
		{"REJECTD", "000", true, false, 8},
		{"UNKNOWN", "000", true, false, 7},
		{"EXPIRED", "027", true, false, 3},
	}
	for _, tt := range tests {
		text := "id:0a1b2c sub:001 dlvrd:000 submit date:2401151230 done date:2401151231 stat:" + tt.stat + " err:" + tt.err + " text:Hello"
		r, err := ParseReceiptText(text)
		if err != nil {
			t.Fatal(err)
		}
		if r.Stat != tt.stat || r.Err != tt.err || r.Final != tt.final || r.Delivered != tt.delivered || r.MessageState != tt.state {
			t.Errorf("%s: %+v", tt.stat, r)
		}
	}
}

func TestReceiptSetState(t *testing.T) {
	tests := []struct {
		textStat string
		state    uint8
		want     string
		final    bool
	}{
		{"ACKED", 1, "ACKED", false},      // same state: the finer name stays
		{"BUFFRED", 2, "DELIVRD", true},   // the TLV wins
		{"", 5, "UNDELIV", true},          // no text stat
		{"DELIVRD", 9, "UNKNOWN", true},   // state outside 3.4
		{"FAILED", 5, "FAILED", true},     // FAILED means undeliverable
		{"ENROUTE", 6, "ACCEPTD", false},  // accepted is not final
		{"UNKNOWN", 7, "UNKNOWN", true},   // unknown is final
		{"REJECTD", 8, "REJECTD", true},   // rejected
		{"DELETED", 3, "EXPIRED", true},   // TLV wins
		{"EXPIRED", 4, "DELETED", true},   // TLV wins
		{"DELIVRD", 1, "ENROUTE", false},  // TLV wins, intermediate
		{"SENT", 7, "SENT", true},         // unrecognised maps to unknown: same state
		{"ACCEPTD", 2, "DELIVRD", true},   // TLV wins
		{"UNDELIV", 5, "UNDELIV", true},   // agree
		{"DELIVRD", 2, "DELIVRD", true},   // agree
		{"BUFFRED", 1, "BUFFRED", false},  // agree
		{"ENROUTE", 1, "ENROUTE", false},  // agree
		{"", 1, "ENROUTE", false},         // no text
		{"", 2, "DELIVRD", true},          // no text
		{"", 0, "UNKNOWN", true},          // 0 (SCHEDULED in v5) is not 3.4
		{"ACKED", 5, "UNDELIV", true},     // TLV wins
		{"ACKED", 3, "EXPIRED", true},     // TLV wins
		{"ACKED", 8, "REJECTD", true},     // TLV wins
		{"ACKED", 4, "DELETED", true},     // TLV wins
		{"ACKED", 6, "ACCEPTD", false},    // TLV wins
		{"ACKED", 7, "UNKNOWN", true},     // TLV wins
		{"ACKED", 2, "DELIVRD", true},     // TLV wins
		{"ACKED", 255, "UNKNOWN", true},   // TLV wins
		{"DELIVRD", 255, "UNKNOWN", true}, // TLV wins
	}
	for _, tt := range tests {
		var r Receipt
		if tt.textStat != "" {
			r.setStat(tt.textStat)
		}
		r.setState(tt.state)
		if r.Stat != tt.want || r.Final != tt.final || r.Delivered != (tt.want == "DELIVRD") || r.MessageState != tt.state {
			t.Errorf("text %q + state %d: %+v", tt.textStat, tt.state, r)
		}
	}
}

// FuzzParseReceiptText: never panics; a parsed receipt has an id and a
// normalised stat consistent with its flags; the strings are substrings.
func FuzzParseReceiptText(f *testing.F) {
	for _, c := range receiptCases {
		f.Add(c.text)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseReceiptText(s)
		if err != nil {
			if !errors.Is(err, ErrNotReceipt) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if r.ID == "" || r.Stat == "" {
			t.Fatalf("receipt without id or stat: %+v", r)
		}
		state, final := receiptStatState(r.Stat)
		if r.MessageState != state || r.Final != final || r.Delivered != (r.Stat == StatDelivered) {
			t.Fatalf("inconsistent receipt %+v", r)
		}
		if !r.SubmitDate.IsZero() && r.SubmitDate.Location() != time.UTC {
			t.Fatalf("date not UTC")
		}
	})
}

func BenchmarkParseReceiptText(b *testing.B) {
	cases := []struct{ name, text string }{
		{"appendix_b", "id:0123456789 sub:001 dlvrd:001 submit date:2401151230 done date:2401151231 stat:DELIVRD err:000 text:Hello world"},
		{"variant", "ID: 000777  Sub:001 Dlvrd:001 submit_date:20240115123005 done_date:20240115123107 Stat:delivered Err:10204 mcc:234 Text:x"},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ParseReceiptText(c.text); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func ExampleParseReceiptText() {
	r, err := ParseReceiptText("id:0A1B2C sub:001 dlvrd:000 submit date:2401151230 done date:2401151231 stat:UNDELIV err:001 Text:Hello")
	if err != nil {
		panic(err)
	}
	fmt.Println(r.ID, r.Stat, r.Err, r.Final, r.Delivered, r.DoneDate.Format(time.RFC3339))
	// Output: 0A1B2C UNDELIV 001 true false 2024-01-15T12:31:00Z
}
