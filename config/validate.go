package config

import (
	"encoding/base64"
	"fmt"
	"math"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/smsgw/smsgw/events"
)

var (
	// idRe is the account id / SMSC name charset: it is used as a NATS
	// subject token and a metric label, so no '.', '*', '>' or spaces.
	idRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	// e164Re is "+" and 2 to 15 digits, no leading zero.
	e164Re = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)
	// shortCodeRe is a short code or a national/long number in digits.
	shortCodeRe = regexp.MustCompile(`^[0-9]{3,15}$`)
	// alnumRe is an alphanumeric sender id: at most 11 characters of
	// letters, digits and spaces (what GSM 03.38 sender ids carry safely).
	alnumRe    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9 ]{0,10}$`)
	hasLetter  = regexp.MustCompile(`[A-Za-z]`)
	prefixRe   = regexp.MustCompile(`^\+[0-9]{0,15}$`)
	errDigitRe = regexp.MustCompile(`^[0-9]{1,10}$`)
)

// Enumerations accepted by Validate.
var (
	logLevels        = []string{"debug", "info", "warn", "error"}
	logFormats       = []string{"text", "json"}
	bindModes        = []string{BindTransceiver, BindTransmitterReceiver}
	encodings        = []string{"auto", "gsm7", "ucs2"}
	concats          = []string{"udh", "sar"}
	receiptIDFormats = []string{"auto", "hex", "dec"}
	simIDFormats     = []string{"hex", "dec"}
	receiptStats     = []string{"DELIVRD", "UNDELIV", "EXPIRED", "REJECTD", "DELETED", "UNKNOWN", "ACCEPTD", "ENROUTE"}
	categories       = []string{events.HardBounce, events.SoftBounce, events.CarrierViolation, events.UnknownBounce}
	natsSchemes      = []string{"nats", "tls", "ws", "wss"}
)

// Validate checks every value and returns *Problems listing every problem
// with its key path, or nil.
func (c Config) Validate() error {
	var ps Problems
	c.validate(&ps)
	if len(ps) == 0 {
		return nil
	}
	return &ps
}

func (c Config) validate(ps *Problems) {
	if strings.TrimSpace(c.DataDir) == "" {
		ps.add("data_dir", "must not be empty")
	}
	oneOf(ps, "log.level", c.Log.Level, logLevels)
	oneOf(ps, "log.format", c.Log.Format, logFormats)

	hostPort(ps, "http.addr", c.HTTP.Addr, true)
	intRange(ps, "http.max_body_bytes", c.HTTP.MaxBodyBytes, 1, 1<<30)
	positive(ps, "http.read_timeout", c.HTTP.ReadTimeout)
	positive(ps, "http.write_timeout", c.HTTP.WriteTimeout)
	positive(ps, "http.idle_timeout", c.HTTP.IdleTimeout)

	c.NATS.validate(ps)

	accounts := c.validateAccounts(ps)
	smscs := c.validateSMSCs(ps)
	c.validateRoutes(ps, smscs)

	intRange(ps, "messages.max_parts", c.Messages.MaxParts, 1, 255)
	intRange(ps, "messages.submit_attempts", c.Messages.SubmitAttempts, 1, 100)
	intRange(ps, "messages.submit_workers", c.Messages.SubmitWorkers, 1, 4096)
	durRange(ps, "messages.id_ttl", c.Messages.IDTTL, time.Minute, 0)
	durRange(ps, "messages.final_record_ttl", c.Messages.FinalRecordTTL, time.Second, 720*time.Hour)

	if a := c.Inbound.DefaultAccount; a != "" && !accounts[a] {
		ps.add("inbound.default_account", "unknown account %q", a)
	}
	positive(ps, "inbound.reply_window", c.Inbound.ReplyWindow)
	positive(ps, "inbound.reassembly_timeout", c.Inbound.ReassemblyTimeout)
	stops := keywords(ps, "inbound.stop_keywords", c.Inbound.StopKeywords)
	keywords(ps, "inbound.start_keywords", c.Inbound.StartKeywords)
	for i, k := range c.Inbound.StartKeywords {
		if stops[strings.ToUpper(strings.TrimSpace(k))] {
			ps.add(fmt.Sprintf("inbound.start_keywords[%d]", i), "%q is also a stop keyword", k)
		}
	}

	c.validateWebhooks(ps, accounts)

	b := c.Bridge
	durRange(ps, "bridge.timeout", b.Timeout, time.Second, 5*time.Minute)
	if n := len(b.RetrySchedule); n < 1 || n > 50 {
		ps.add("bridge.retry_schedule", "must have 1 to 50 steps, has %d", n)
	}
	for i, d := range b.RetrySchedule {
		if d <= 0 {
			ps.add(fmt.Sprintf("bridge.retry_schedule[%d]", i), "must be > 0, is %s", d)
		}
	}
	floatRange(ps, "bridge.jitter", b.Jitter, 0, 1)
	intRange(ps, "bridge.max_in_flight_per_endpoint", b.MaxInFlightPerEndpoint, 1, 1024)
	if b.DisableAfter < 0 {
		ps.add("bridge.disable_after", "must be >= 0 (0 never disables), is %s", b.DisableAfter)
	}
	positive(ps, "bridge.stall_timeout", b.StallTimeout)

	s := c.Simulator
	hostPort(ps, "simulator.listen", s.Listen, true)
	hostPort(ps, "simulator.http", s.HTTP, false)
	strLen(ps, "simulator.system_id", s.SystemID, 1, 15)
	strLen(ps, "simulator.password", s.Password, 0, 8)
	oneOf(ps, "simulator.id_format", s.IDFormat, simIDFormats)
	durRange(ps, "simulator.receipt_delay", s.ReceiptDelay, 0, 24*time.Hour)
	intRange(ps, "simulator.tps", s.TPS, 0, 1_000_000)
}

func (n NATS) validate(ps *Problems) {
	if strings.TrimSpace(n.URL) == "" {
		hostPort(ps, "nats.listen", n.Listen, false)
		if n.Replicas != 1 {
			ps.add("nats.replicas", "must be 1 with the embedded server (nats.url empty), is %d", n.Replicas)
		}
	} else {
		for _, raw := range strings.Split(n.URL, ",") {
			raw = strings.TrimSpace(raw)
			u, err := url.Parse(raw)
			switch {
			case err != nil:
				ps.add("nats.url", "%q is not a URL", redactURL(raw))
			case !slices.Contains(natsSchemes, u.Scheme):
				ps.add("nats.url", "%q: scheme must be one of %s", redactURL(raw), strings.Join(natsSchemes, ", "))
			case u.Host == "":
				ps.add("nats.url", "%q has no host", redactURL(raw))
			}
		}
		intRange(ps, "nats.replicas", n.Replicas, 1, 5)
	}
	if n.CredsFile != "" && n.NKeyFile != "" {
		ps.add("nats.nkey_file", "set creds_file or nkey_file, not both")
	}
	if n.Token != "" && n.User != "" {
		ps.add("nats.token", "set token or user/password, not both")
	}
	if n.Password != "" && n.User == "" {
		ps.add("nats.user", "required when nats.password is set")
	}
	certPair(ps, "nats.tls", n.TLS)
}

func (c Config) validateAccounts(ps *Problems) map[string]bool {
	ids := make(map[string]bool)
	keys := make(map[string]string)    // api key → path of first use
	numbers := make(map[string]string) // number → account
	for i, a := range c.Accounts {
		p := fmt.Sprintf("accounts[%d]", i)
		switch {
		case a.ID == "":
			ps.add(p+".id", "required")
		case !idRe.MatchString(a.ID):
			ps.add(p+".id", "%q must match %s (it is a NATS subject token)", a.ID, idRe)
		case ids[a.ID]:
			ps.add(p+".id", "duplicate account id %q", a.ID)
		}
		ids[a.ID] = true
		if len(a.APIKeys) == 0 {
			ps.add(p+".api_keys", "at least one API key is required")
		}
		for j, k := range a.APIKeys {
			kp := fmt.Sprintf("%s.api_keys[%d]", p, j)
			if msg := apiKeyProblem(k); msg != "" {
				ps.add(kp, "%s", msg)
				continue
			}
			if first, dup := keys[k]; dup {
				ps.add(kp, "duplicate API key (also %s)", first)
				continue
			}
			keys[k] = kp
		}
		if a.Sender != "" {
			if msg := senderProblem(a.Sender); msg != "" {
				ps.add(p+".sender", "%s", msg)
			}
		}
		for j, n := range a.Numbers {
			np := fmt.Sprintf("%s.numbers[%d]", p, j)
			if !e164Re.MatchString(n) && !shortCodeRe.MatchString(n) {
				ps.add(np, "%q must be an E.164 number (+447700900000) or 3 to 15 digits", n)
				continue
			}
			if owner, dup := numbers[n]; dup {
				ps.add(np, "%q is already a number of account %q", n, owner)
				continue
			}
			numbers[n] = a.ID
		}
	}
	return ids
}

func apiKeyProblem(k string) string {
	if len(k) < 8 || len(k) > 256 {
		return fmt.Sprintf("must be 8 to 256 characters, is %d", len(k))
	}
	for _, r := range k {
		if r <= ' ' || r > '~' {
			return "must be printable ASCII without spaces"
		}
	}
	return ""
}

func senderProblem(s string) string {
	switch {
	case e164Re.MatchString(s), shortCodeRe.MatchString(s):
		return ""
	case alnumRe.MatchString(s) && hasLetter.MatchString(s):
		return ""
	}
	return fmt.Sprintf("%q must be alphanumeric (at most 11 letters, digits, spaces), a short code or an E.164 number", s)
}

func (c Config) validateSMSCs(ps *Problems) map[string]bool {
	names := make(map[string]bool)
	for i, s := range c.SMSCs {
		p := fmt.Sprintf("smscs[%d]", i)
		switch {
		case s.Name == "":
			ps.add(p+".name", "required")
		case !idRe.MatchString(s.Name):
			ps.add(p+".name", "%q must match %s", s.Name, idRe)
		case names[s.Name]:
			ps.add(p+".name", "duplicate SMSC name %q", s.Name)
		}
		names[s.Name] = true
		hostPort(ps, p+".addr", s.Addr, true)
		strLen(ps, p+".system_id", s.SystemID, 1, 15)
		strLen(ps, p+".password", s.Password, 0, 8)
		strLen(ps, p+".system_type", s.SystemType, 0, 12)
		oneOf(ps, p+".bind", s.Bind, bindModes)
		intRange(ps, p+".binds", s.Binds, 1, 64)
		intRange(ps, p+".tps", s.TPS, 0, 100_000)
		intRange(ps, p+".window", s.Window, 1, 1024)
		durRange(ps, p+".enquire_link", s.EnquireLink, time.Second, time.Hour)
		durRange(ps, p+".response_timeout", s.ResponseTimeout, 100*time.Millisecond, 5*time.Minute)
		positive(ps, p+".reconnect_min", s.ReconnectMin)
		if s.ReconnectMax < s.ReconnectMin {
			ps.add(p+".reconnect_max", "must be >= reconnect_min (%s), is %s", s.ReconnectMin, s.ReconnectMax)
		}
		certPair(ps, p+".tls", s.TLS.TLSFiles)
		optRange(ps, p+".source_ton", s.SourceTON, 0, 6)
		optRange(ps, p+".source_npi", s.SourceNPI, 0, 18)
		optRange(ps, p+".dest_ton", s.DestTON, 0, 6)
		optRange(ps, p+".dest_npi", s.DestNPI, 0, 18)
		oneOf(ps, p+".encoding", s.Encoding, encodings)
		oneOf(ps, p+".concat", s.Concat, concats)
		oneOf(ps, p+".receipt_id_format", s.ReceiptIDFormat, receiptIDFormats)
		for j, r := range s.ErrorMap {
			rp := fmt.Sprintf("%s.error_map[%d]", p, j)
			if !slices.Contains(receiptStats, strings.ToUpper(r.Stat)) {
				ps.add(rp+".stat", "%q must be one of %s", r.Stat, strings.Join(receiptStats, ", "))
			}
			if r.Err != "" && !errDigitRe.MatchString(r.Err) {
				ps.add(rp+".err", "%q must be digits (as in the receipt) or empty for any", r.Err)
			}
			oneOf(ps, rp+".category", r.Category, categories)
		}
	}
	return names
}

func (c Config) validateRoutes(ps *Problems, smscs map[string]bool) {
	prefixes := make(map[string]bool)
	for i, r := range c.Routes {
		p := fmt.Sprintf("routes[%d]", i)
		switch {
		case !prefixRe.MatchString(r.Prefix):
			ps.add(p+".prefix", "%q must be \"+\" followed by up to 15 digits", r.Prefix)
		case prefixes[r.Prefix]:
			ps.add(p+".prefix", "duplicate route prefix %q", r.Prefix)
		}
		prefixes[r.Prefix] = true
		if len(r.SMSCs) == 0 {
			ps.add(p+".smscs", "at least one SMSC is required")
		}
		seen := make(map[string]bool)
		for j, n := range r.SMSCs {
			sp := fmt.Sprintf("%s.smscs[%d]", p, j)
			switch {
			case !smscs[n]:
				ps.add(sp, "unknown SMSC %q", n)
			case seen[n]:
				ps.add(sp, "SMSC %q listed twice", n)
			}
			seen[n] = true
		}
	}
}

func (c Config) validateWebhooks(ps *Problems, accounts map[string]bool) {
	for i, w := range c.Webhooks {
		p := fmt.Sprintf("webhooks[%d]", i)
		if !accounts[w.Account] {
			if w.Account == "" {
				ps.add(p+".account", "required")
			} else {
				ps.add(p+".account", "unknown account %q", w.Account)
			}
		}
		if msg := webhookURLProblem(w.URL, c.Bridge.AllowPrivateTargets); msg != "" {
			ps.add(p+".url", "%s", msg)
		}
		if len(w.Events) == 0 {
			ps.add(p+".events", "at least one event type is required (\"*\" for all)")
		}
		for j, e := range w.Events {
			if !ValidEventFilter(e) {
				ps.add(fmt.Sprintf("%s.events[%d]", p, j), "%q is not an event type, \"message.*\", \"contact.*\" or \"*\"", e)
			}
		}
		if msg := SecretProblem(w.Secret); msg != "" {
			ps.add(p+".secret", "%s", msg)
		}
		if math.IsNaN(w.RateLimit) || math.IsInf(w.RateLimit, 0) || w.RateLimit < 0 {
			ps.add(p+".rate_limit", "must be >= 0 (0 is unlimited)")
		}
		durRange(ps, p+".timeout", w.Timeout, 0, 5*time.Minute)
	}
}

// ValidEventFilter reports whether s may appear in a webhook's events list:
// an event type of contract section 3, "message.*", "contact.*" or "*".
func ValidEventFilter(s string) bool {
	switch s {
	case "*", "message.*", "contact.*":
		return true
	}
	return slices.Contains(events.Types, s)
}

// SecretProblem says what is wrong with a webhook signing secret, or "" if
// nothing: it must be "whsec_" then standard base64 of 24 to 64 bytes (the
// Standard Webhooks recommendation).
func SecretProblem(s string) string {
	if s == "" {
		return "required (whsec_ followed by base64)"
	}
	b64, ok := strings.CutPrefix(s, "whsec_")
	if !ok {
		return "must start with whsec_"
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return "must be whsec_ followed by standard base64"
	}
	if len(key) < 24 || len(key) > 64 {
		return fmt.Sprintf("must decode to 24 to 64 bytes, decodes to %d", len(key))
	}
	return ""
}

func webhookURLProblem(raw string, allowPrivate bool) string {
	if raw == "" {
		return "required"
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return "must be an absolute http(s) URL"
	}
	if u.User != nil {
		return "must not contain credentials"
	}
	if !allowPrivate {
		host := u.Hostname()
		if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
			return fmt.Sprintf("%s is a private target; set bridge.allow_private_targets to allow it", host)
		}
		if ip, err := netip.ParseAddr(host); err == nil && privateAddr(ip) {
			return fmt.Sprintf("%s is a private address; set bridge.allow_private_targets to allow it", host)
		}
	}
	return ""
}

// privateAddr reports addresses a webhook must not reach unless allowed:
// loopback, RFC 1918/4193 private, link-local, unspecified.
func privateAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	return ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() ||
		ip.IsLinkLocalMulticast() || ip.IsUnspecified() || ip.IsInterfaceLocalMulticast()
}

func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	return u.Redacted()
}

func keywords(ps *Problems, path string, kws []string) map[string]bool {
	seen := make(map[string]bool)
	for i, k := range kws {
		norm := strings.ToUpper(strings.TrimSpace(k))
		kp := fmt.Sprintf("%s[%d]", path, i)
		switch {
		case norm == "":
			ps.add(kp, "must not be empty")
		case seen[norm]:
			ps.add(kp, "duplicate keyword %q", k)
		}
		seen[norm] = true
	}
	return seen
}

// hostPort checks a host:port listen or dial address; port 0 is allowed
// (tests pick a free port). Empty is a problem only when required.
func hostPort(ps *Problems, path, addr string, required bool) {
	if addr == "" {
		if required {
			ps.add(path, "required (host:port)")
		}
		return
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		ps.add(path, "%q is not host:port", addr)
		return
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		ps.add(path, "%q: port must be 0 to 65535", addr)
		return
	}
	if strings.ContainsAny(host, " /") {
		ps.add(path, "%q: invalid host", addr)
	}
}

func certPair(ps *Problems, path string, t TLSFiles) {
	if (t.CertFile == "") != (t.KeyFile == "") {
		ps.add(path+".cert_file", "cert_file and key_file must be set together")
	}
}

func oneOf(ps *Problems, path, v string, allowed []string) {
	if !slices.Contains(allowed, v) {
		ps.add(path, "%q must be one of %s", v, strings.Join(allowed, ", "))
	}
}

func intRange[T int | int64](ps *Problems, path string, v, lo, hi T) {
	if v < lo || v > hi {
		ps.add(path, "must be %d to %d, is %d", lo, hi, v)
	}
}

func optRange(ps *Problems, path string, v *int, lo, hi int) {
	if v != nil {
		intRange(ps, path, *v, lo, hi)
	}
}

func floatRange(ps *Problems, path string, v, lo, hi float64) {
	if math.IsNaN(v) || v < lo || v > hi {
		ps.add(path, "must be %g to %g, is %g", lo, hi, v)
	}
}

func positive(ps *Problems, path string, d time.Duration) {
	if d <= 0 {
		ps.add(path, "must be > 0, is %s", d)
	}
}

// durRange checks lo <= d <= hi; hi 0 means no upper limit.
func durRange(ps *Problems, path string, d, lo, hi time.Duration) {
	switch {
	case d < lo:
		ps.add(path, "must be >= %s, is %s", lo, d)
	case hi > 0 && d > hi:
		ps.add(path, "must be <= %s, is %s", hi, d)
	}
}

func strLen(ps *Problems, path, s string, lo, hi int) {
	if n := len(s); n < lo || n > hi {
		if lo > 0 && n == 0 {
			ps.add(path, "required (at most %d characters)", hi)
			return
		}
		ps.add(path, "must be %d to %d characters, is %d", lo, hi, n)
	}
}
