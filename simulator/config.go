package simulator

import (
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Config configures a Server. The zero value is usable: it listens on
// 127.0.0.1:0, accepts system_id "smsgw" with password "secret" and
// answers with hex message ids.
type Config struct {
	// Addr is the SMPP listen address; "" means "127.0.0.1:0".
	Addr string
	// HTTPAddr is the control API listen address; "" means no HTTP
	// control API (the Go methods still work).
	HTTPAddr string
	// Credentials are the accepted binds; empty means one:
	// {SystemID: "smsgw", Password: "secret"}.
	Credentials []Credential
	// IDFormat is "hex" (default) or "dec": the format of message ids in
	// submit_sm_resp and (unless Faults.SwapIDFormat) in receipts.
	IDFormat string
	// ReceiptDelay is the fixed delay before a receipt is sent; 0 means as
	// soon as the submit_sm_resp has been queued.
	ReceiptDelay time.Duration
	// ReceiptDelayMax, if greater than ReceiptDelay, makes the delay
	// uniform in [ReceiptDelay, ReceiptDelayMax].
	ReceiptDelayMax time.Duration
	// ReceiptRetry is the wait before re-sending a deliver_sm (receipt or
	// MO) that was refused or not answered; default 5s.
	ReceiptRetry time.Duration
	// ResponseTimeout is how long a deliver_sm may stay unanswered before
	// it counts as failed and is retried; default 10s.
	ResponseTimeout time.Duration
	// Rules are outcome rules checked in order before the contract's
	// default table (see DefaultRules).
	Rules []Rule
	// TPS is the number of submit_sm per second accepted per system_id
	// (summed over its binds); above it the answer is ESME_RTHROTTLED.
	// 0 means unlimited.
	TPS int
	// Window is the number of outstanding (unanswered) deliver_sm per
	// bind; default 64. Further receipts wait in the queue.
	Window int
	// BindLimit is the maximum number of concurrent binds per system_id;
	// past it a bind is answered ESME_RALYBND. 0 means unlimited.
	BindLimit int
	// MaxMessages bounds the log that Messages returns: 0 keeps every
	// accepted submit_sm, N > 0 keeps the latest N, a negative value keeps
	// none (long-running demos and benchmarks).
	MaxMessages int
	// Faults are the misbehaviours switched on at start; SetFaults changes
	// them at run time.
	Faults Faults
	// Logger receives one line per bind change and per fault that fires;
	// nil discards.
	Logger *slog.Logger
}

// Credential is one accepted system_id and its password.
type Credential struct{ SystemID, Password string }

// Rule chooses the receipt for destinations ending in Suffix.
type Rule struct {
	// Suffix is matched against the end of destination_addr ("" = any).
	Suffix string
	// Stat is DELIVRD, UNDELIV, REJECTD, EXPIRED, UNKNOWN, DELETED or
	// ACCEPTD; it may be "" only with NoReceipt.
	Stat string
	// Err is the receipt's err field, up to 3 digits (e.g. "000"); ""
	// means the usual code for Stat (see docs/SIMULATOR.md).
	Err string
	// NoReceipt sends no receipt at all.
	NoReceipt bool
	// Probability is the chance this rule applies when it matches; 0 or 1
	// means always.
	Probability float64
}

// Faults are switchable misbehaviours of real SMSCs.
type Faults struct {
	ReceiptBeforeResp bool          // send the receipt before the submit_sm_resp
	DuplicateReceipts bool          // send every receipt twice
	UnsolicitedEvery  int           // every Nth submit also produces a receipt for an unknown id (0 = off)
	SwapIDFormat      bool          // receipt ids in the other format than submit_sm_resp
	DropAfterPDUs     int           // close a connection after it has received N PDUs (0 = off)
	DropProbability   float64       // chance per received PDU to drop the connection
	ResponseDelay     time.Duration // delay every response
	NeverAnswerSubmit bool          // read submit_sm but never answer (window fills)
	RefuseBindsUntil  time.Time     // binds answered ESME_RBINDFAIL until then
	GenericNack       bool          // answer every submit_sm with generic_nack
}

// DefaultRules is the outcome table of the contract (section 7), used
// after Config.Rules.
func DefaultRules() []Rule {
	return []Rule{
		{Suffix: "1400", Stat: "UNDELIV", Err: "001"},
		{Suffix: "1404", Stat: "UNDELIV", Err: "027"},
		{Suffix: "1408", Stat: "REJECTD", Err: "000"},
		{Suffix: "1409", Stat: "UNKNOWN", Err: "000"},
		{Suffix: "1410", Stat: "EXPIRED", Err: "027"},
		{Suffix: "1499", NoReceipt: true},
		{Suffix: "", Stat: "DELIVRD", Err: "000"},
	}
}

// message_state TLV values (SMPP 3.4 section 5.2.28), by receipt stat.
var messageStates = map[string]byte{
	"ENROUTE": 1,
	"DELIVRD": 2,
	"EXPIRED": 3,
	"DELETED": 4,
	"UNDELIV": 5,
	"ACCEPTD": 6,
	"UNKNOWN": 7,
	"REJECTD": 8,
}

// defaultErr is the err field used when a Rule leaves Err empty.
var defaultErr = map[string]string{
	"DELIVRD": "000",
	"UNDELIV": "001",
	"REJECTD": "000",
	"EXPIRED": "027",
	"UNKNOWN": "000",
	"DELETED": "000",
	"ACCEPTD": "000",
}

const (
	defaultSystemID        = "smsgw"
	defaultPassword        = "secret"
	defaultReceiptRetry    = 5 * time.Second
	defaultResponseTimeout = 10 * time.Second
	defaultWindow          = 64
)

// validate returns every problem of c, joined.
func (c *Config) validate() []error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &ConfigError{Field: field, Problem: fmt.Sprintf(format, args...)})
	}
	switch c.IDFormat {
	case "", "hex", "dec":
	default:
		bad("IDFormat", "must be \"hex\" or \"dec\", not %q", c.IDFormat)
	}
	seen := map[string]bool{}
	for i, cr := range c.Credentials {
		if cr.SystemID == "" {
			bad(fmt.Sprintf("Credentials[%d].SystemID", i), "is empty")
		}
		if seen[cr.SystemID] {
			bad(fmt.Sprintf("Credentials[%d].SystemID", i), "%q is listed twice", cr.SystemID)
		}
		seen[cr.SystemID] = true
	}
	durs := []struct {
		name string
		d    time.Duration
	}{
		{"ReceiptDelay", c.ReceiptDelay},
		{"ReceiptDelayMax", c.ReceiptDelayMax},
		{"ReceiptRetry", c.ReceiptRetry},
		{"ResponseTimeout", c.ResponseTimeout},
	}
	for _, d := range durs {
		if d.d < 0 {
			bad(d.name, "must not be negative (%s)", d.d)
		}
	}
	if c.TPS < 0 {
		bad("TPS", "must not be negative (%d)", c.TPS)
	}
	if c.Window < 0 {
		bad("Window", "must not be negative (%d)", c.Window)
	}
	if c.BindLimit < 0 {
		bad("BindLimit", "must not be negative (%d)", c.BindLimit)
	}
	for i, r := range c.Rules {
		errs = append(errs, r.validate(fmt.Sprintf("Rules[%d]", i))...)
	}
	errs = append(errs, c.Faults.validate("Faults")...)
	return errs
}

func (r Rule) validate(path string) []error {
	var errs []error
	if r.NoReceipt {
		if r.Stat != "" {
			errs = append(errs, &ConfigError{Field: path + ".Stat", Problem: "must be empty with NoReceipt"})
		}
	} else if _, ok := defaultErr[r.Stat]; !ok {
		errs = append(errs, &ConfigError{Field: path + ".Stat", Problem: fmt.Sprintf("%q is not one of DELIVRD, UNDELIV, REJECTD, EXPIRED, UNKNOWN, DELETED, ACCEPTD", r.Stat)})
	}
	if len(r.Err) > 3 || strings.Trim(r.Err, "0123456789") != "" {
		errs = append(errs, &ConfigError{Field: path + ".Err", Problem: fmt.Sprintf("%q is not up to 3 digits", r.Err)})
	}
	if r.Probability < 0 || r.Probability > 1 {
		errs = append(errs, &ConfigError{Field: path + ".Probability", Problem: fmt.Sprintf("%v is not within [0, 1]", r.Probability)})
	}
	return errs
}

func (f Faults) validate(path string) []error {
	var errs []error
	if f.UnsolicitedEvery < 0 {
		errs = append(errs, &ConfigError{Field: path + ".UnsolicitedEvery", Problem: "must not be negative"})
	}
	if f.DropAfterPDUs < 0 {
		errs = append(errs, &ConfigError{Field: path + ".DropAfterPDUs", Problem: "must not be negative"})
	}
	if f.DropProbability < 0 || f.DropProbability > 1 {
		errs = append(errs, &ConfigError{Field: path + ".DropProbability", Problem: fmt.Sprintf("%v is not within [0, 1]", f.DropProbability)})
	}
	if f.ResponseDelay < 0 {
		errs = append(errs, &ConfigError{Field: path + ".ResponseDelay", Problem: "must not be negative"})
	}
	return errs
}

// withDefaults fills the documented defaults.
func (c Config) withDefaults() Config {
	if c.Addr == "" {
		c.Addr = "127.0.0.1:0"
	}
	if len(c.Credentials) == 0 {
		c.Credentials = []Credential{{SystemID: defaultSystemID, Password: defaultPassword}}
	}
	if c.IDFormat == "" {
		c.IDFormat = "hex"
	}
	if c.ReceiptDelayMax < c.ReceiptDelay {
		c.ReceiptDelayMax = c.ReceiptDelay
	}
	if c.ReceiptRetry == 0 {
		c.ReceiptRetry = defaultReceiptRetry
	}
	if c.ResponseTimeout == 0 {
		c.ResponseTimeout = defaultResponseTimeout
	}
	if c.Window == 0 {
		c.Window = defaultWindow
	}
	return c
}

// rule is a Rule resolved for fast matching.
type rule struct {
	suffix string
	stat   string
	err    string
	state  byte
	none   bool
	prob   float64 // 0 = always
}

func compileRules(rs []Rule) []rule {
	out := make([]rule, 0, len(rs))
	for _, r := range rs {
		cr := rule{suffix: r.Suffix, none: r.NoReceipt}
		if r.Probability > 0 && r.Probability < 1 {
			cr.prob = r.Probability
		}
		if !r.NoReceipt {
			cr.stat = r.Stat
			cr.err = r.Err
			if cr.err == "" {
				cr.err = defaultErr[r.Stat]
			}
			for len(cr.err) < 3 {
				cr.err = "0" + cr.err
			}
			cr.state = messageStates[r.Stat]
		}
		out = append(out, cr)
	}
	return out
}
