package smpp

import (
	"strings"
	"time"
)

// Receipt is a delivery receipt, read from a deliver_sm's TLVs and/or its
// SMPP 3.4 Appendix B text.
type Receipt struct {
	ID         string    // SMSC message id as received (see ReceiptIDKeys to look it up)
	Sub, Dlvrd string    // as received, "" if absent
	SubmitDate time.Time // UTC; zero if absent or unparseable
	DoneDate   time.Time // UTC; zero if absent or unparseable

	// Stat is upper-case and normalised: DELIVRD, EXPIRED, DELETED, UNDELIV,
	// ACCEPTD, UNKNOWN, REJECTD, ENROUTE, plus the tolerated ACKED, BUFFRED
	// (also for BUFFERD) and FAILED. Long forms (DELIVERED, REJECTED, …)
	// are mapped to the short ones; anything else is kept upper-cased.
	Stat string
	Err  string // as received (digits, any length), "" if absent
	Text string // what follows text:, "" if absent

	MessageState     uint8  // from the TLV message_state, or derived from Stat
	NetworkErrorCode []byte // TLV network_error_code (0x0423) raw, usually 3 octets, if present

	// Final is true for DELIVRD, EXPIRED, DELETED, UNDELIV, REJECTD,
	// UNKNOWN, FAILED and unrecognised states; false for the intermediate
	// ENROUTE, ACCEPTD, ACKED, BUFFRED.
	Final     bool
	Delivered bool // Stat == DELIVRD
}

// SMPP 3.4 message_state values (5.2.28).
const (
	MessageStateEnroute       uint8 = 1
	MessageStateDelivered     uint8 = 2
	MessageStateExpired       uint8 = 3
	MessageStateDeleted       uint8 = 4
	MessageStateUndeliverable uint8 = 5
	MessageStateAccepted      uint8 = 6
	MessageStateUnknown       uint8 = 7
	MessageStateRejected      uint8 = 8
)

// Normalised receipt stats.
const (
	StatDelivered     = "DELIVRD"
	StatExpired       = "EXPIRED"
	StatDeleted       = "DELETED"
	StatUndeliverable = "UNDELIV"
	StatAccepted      = "ACCEPTD"
	StatUnknown       = "UNKNOWN"
	StatRejected      = "REJECTD"
	StatEnroute       = "ENROUTE"
	StatAcked         = "ACKED"
	StatBuffered      = "BUFFRED"
	StatFailed        = "FAILED"
)

// receiptKey identifies an Appendix B field.
type receiptKey uint8

const (
	receiptKeyNone receiptKey = iota
	receiptKeyID
	receiptKeySub
	receiptKeyDlvrd
	receiptKeySubmitDate
	receiptKeyDoneDate
	receiptKeyStat
	receiptKeyErr
	receiptKeyText
	receiptKeyOther // a key we do not know (e.g. mcc:, imsi:), skipped
	receiptKeyCount
)

// ParseReceiptText reads an SMPP 3.4 Appendix B receipt text
//
//	id:IIIIIIIIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DDDDDDD err:E text:…
//
// and the variants SMSCs send: keys in any case and in any order, with
// underscores or no space (submit_date, submitdate), spaces around values,
// 10-, 12- or 14-digit dates, error codes of any length, missing text:,
// unknown extra keys. It needs at least id and stat, else ErrNotReceipt.
// It does not allocate: the strings of the Receipt are substrings of s.
func ParseReceiptText(s string) (Receipt, error) {
	s = strings.TrimRight(s, "\x00")
	var vals [receiptKeyCount]string
	var seen [receiptKeyCount]bool
	cur := receiptKeyNone
	haveVal := false // the current key already has its value token
	i, n := 0, len(s)
	for {
		for i < n && receiptSpace(s[i]) {
			i++
		}
		if i >= n {
			break
		}
		if k, end := receiptKeyAt(s, i); k != receiptKeyNone {
			cur, haveVal = k, false
			seen[k] = true
			i = end
			if k == receiptKeyText {
				vals[k] = strings.TrimSpace(s[i:])
				break
			}
			continue
		}
		j := i
		for j < n && !receiptSpace(s[j]) {
			j++
		}
		tok := s[i:j]
		switch {
		case !haveVal && cur != receiptKeyNone && (cur == receiptKeyID || !receiptOtherKey(tok)):
			// The first token after a key is its value; an id keeps it
			// even when it looks like "x:y", as ids may contain colons.
			vals[cur] = tok
			haveVal = true
		case receiptOtherKey(tok):
			// An unknown key: its inline value (if any) is skipped.
			cur, haveVal = receiptKeyOther, strings.IndexByte(tok, ':') < len(tok)-1
		}
		// Any further token is noise (e.g. free text without text:).
		i = j
	}
	if !seen[receiptKeyID] || vals[receiptKeyID] == "" || !seen[receiptKeyStat] || vals[receiptKeyStat] == "" {
		return Receipt{}, ErrNotReceipt
	}
	r := Receipt{
		ID:         vals[receiptKeyID],
		Sub:        vals[receiptKeySub],
		Dlvrd:      vals[receiptKeyDlvrd],
		SubmitDate: receiptDate(vals[receiptKeySubmitDate]),
		DoneDate:   receiptDate(vals[receiptKeyDoneDate]),
		Err:        vals[receiptKeyErr],
		Text:       vals[receiptKeyText],
	}
	r.setStat(receiptNormStat(vals[receiptKeyStat]))
	return r, nil
}

// setStat sets Stat and what follows from it: MessageState, Final, Delivered.
func (r *Receipt) setStat(stat string) {
	r.Stat = stat
	r.MessageState, r.Final = receiptStatState(stat)
	r.Delivered = stat == StatDelivered
}

// setState applies a message_state TLV: it wins over the text's stat, whose
// finer name (ACKED, BUFFRED…) is kept only when it means the same state.
func (r *Receipt) setState(state uint8) {
	if r.Stat != "" {
		if st, _ := receiptStatState(r.Stat); st == state {
			return
		}
	}
	r.setStat(receiptStateStat(state))
	r.MessageState = state
}

func receiptSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == 0
}

func receiptLower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

func receiptLetter(c byte) bool {
	c = receiptLower(c)
	return c >= 'a' && c <= 'z'
}

// receiptWordIs compares an ASCII word case-insensitively with a lower-case one.
func receiptWordIs(w, lower string) bool {
	if len(w) != len(lower) {
		return false
	}
	for i := 0; i < len(w); i++ {
		if receiptLower(w[i]) != lower[i] {
			return false
		}
	}
	return true
}

// receiptKeyAt recognises a known key starting at s[i] ("stat:", "Submit
// Date :", "done_date:") and returns it with the index after its colon.
func receiptKeyAt(s string, i int) (receiptKey, int) {
	n := len(s)
	j := i
	for j < n && receiptLetter(s[j]) {
		j++
	}
	w := s[i:j]
	var k receiptKey
	switch {
	case receiptWordIs(w, "id"):
		k = receiptKeyID
	case receiptWordIs(w, "sub"):
		k = receiptKeySub
	case receiptWordIs(w, "dlvrd"), receiptWordIs(w, "dlvr"):
		k = receiptKeyDlvrd
	case receiptWordIs(w, "submitdate"):
		k = receiptKeySubmitDate
	case receiptWordIs(w, "donedate"):
		k = receiptKeyDoneDate
	case receiptWordIs(w, "stat"), receiptWordIs(w, "status"):
		k = receiptKeyStat
	case receiptWordIs(w, "err"), receiptWordIs(w, "error"):
		k = receiptKeyErr
	case receiptWordIs(w, "text"):
		k = receiptKeyText
	case receiptWordIs(w, "submit"), receiptWordIs(w, "done"):
		// "submit date", "submit_date", "submit-date", "submit  date"
		for j < n && (s[j] == ' ' || s[j] == '_' || s[j] == '-') {
			j++
		}
		if j+4 > n || !receiptWordIs(s[j:j+4], "date") {
			return receiptKeyNone, i
		}
		j += 4
		if j < n && receiptLetter(s[j]) {
			return receiptKeyNone, i
		}
		k = receiptKeySubmitDate
		if receiptWordIs(w, "done") {
			k = receiptKeyDoneDate
		}
	default:
		return receiptKeyNone, i
	}
	for j < n && (s[j] == ' ' || s[j] == '\t') {
		j++
	}
	if j >= n || s[j] != ':' {
		return receiptKeyNone, i
	}
	return k, j + 1
}

// receiptOtherKey reports whether tok looks like an unknown "key:" or
// "key:value" (letters, digits, '_' or '-', starting with a letter).
func receiptOtherKey(tok string) bool {
	c := strings.IndexByte(tok, ':')
	if c <= 0 || !receiptLetter(tok[0]) {
		return false
	}
	for k := 1; k < c; k++ {
		ch := tok[k]
		if !receiptLetter(ch) && !(ch >= '0' && ch <= '9') && ch != '_' && ch != '-' {
			return false
		}
	}
	return true
}

// receiptDate parses YYMMDDhhmm, YYMMDDhhmmss or YYYYMMDDhhmmss as UTC
// (Appendix B says nothing of zones); anything else, or an impossible
// date, gives the zero time.
func receiptDate(v string) time.Time {
	for k := 0; k < len(v); k++ {
		if v[k] < '0' || v[k] > '9' {
			return time.Time{}
		}
	}
	num := func(a, b int) int {
		x := 0
		for k := a; k < b; k++ {
			x = x*10 + int(v[k]-'0')
		}
		return x
	}
	var year, rest int
	switch len(v) {
	case 10, 12:
		year, rest = 2000+num(0, 2), 2
	case 14:
		year, rest = num(0, 4), 4
	default:
		return time.Time{}
	}
	mon, day, hh, mm := num(rest, rest+2), num(rest+2, rest+4), num(rest+4, rest+6), num(rest+6, rest+8)
	ss := 0
	if len(v) > rest+8 {
		ss = num(rest+8, rest+10)
	}
	if mon < 1 || mon > 12 || day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 59 {
		return time.Time{}
	}
	t := time.Date(year, time.Month(mon), day, hh, mm, ss, 0, time.UTC)
	if t.Day() != day { // 31 April and the like
		return time.Time{}
	}
	return t
}

// receiptStatAliases maps the stats SMSCs send, long and misspelt forms
// included, to the 7-letter SMPP names.
var receiptStatAliases = [...]struct{ alias, stat string }{
	{StatDelivered, StatDelivered}, {"DELIVERED", StatDelivered}, {"DELIVER", StatDelivered},
	{StatExpired, StatExpired},
	{StatDeleted, StatDeleted},
	{StatUndeliverable, StatUndeliverable}, {"UNDELIVERABLE", StatUndeliverable},
	{"UNDELIVERED", StatUndeliverable}, {"UNDELIVR", StatUndeliverable},
	{StatAccepted, StatAccepted}, {"ACCEPTED", StatAccepted},
	{StatUnknown, StatUnknown},
	{StatRejected, StatRejected}, {"REJECTED", StatRejected}, {"REJECT", StatRejected},
	{StatEnroute, StatEnroute}, {"EN_ROUTE", StatEnroute},
	{StatAcked, StatAcked}, {"ACK", StatAcked},
	{StatBuffered, StatBuffered}, {"BUFFERD", StatBuffered}, {"BUFFERED", StatBuffered},
	{StatFailed, StatFailed}, {"FAIL", StatFailed},
}

// receiptNormStat normalises a stat case-insensitively without allocating;
// one it does not know is kept upper-cased.
func receiptNormStat(v string) string {
	for _, a := range receiptStatAliases {
		if strings.EqualFold(v, a.alias) {
			return a.stat
		}
	}
	return strings.ToUpper(v)
}

// receiptStatState gives the message_state of a normalised stat and
// whether it is final.
func receiptStatState(stat string) (state uint8, final bool) {
	switch stat {
	case StatDelivered:
		return MessageStateDelivered, true
	case StatExpired:
		return MessageStateExpired, true
	case StatDeleted:
		return MessageStateDeleted, true
	case StatUndeliverable, StatFailed:
		return MessageStateUndeliverable, true
	case StatAccepted:
		return MessageStateAccepted, false
	case StatRejected:
		return MessageStateRejected, true
	case StatEnroute, StatAcked, StatBuffered:
		return MessageStateEnroute, false
	}
	return MessageStateUnknown, true // UNKNOWN and anything we do not recognise
}

// receiptStateStat names a message_state.
func receiptStateStat(state uint8) string {
	switch state {
	case MessageStateEnroute:
		return StatEnroute
	case MessageStateDelivered:
		return StatDelivered
	case MessageStateExpired:
		return StatExpired
	case MessageStateDeleted:
		return StatDeleted
	case MessageStateUndeliverable:
		return StatUndeliverable
	case MessageStateAccepted:
		return StatAccepted
	case MessageStateRejected:
		return StatRejected
	}
	return StatUnknown
}
