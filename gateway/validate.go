package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"

	"github.com/smsgw/smsgw/httpapi"
	"github.com/smsgw/smsgw/smpp"
)

// Limits of a submit body (contract section 2).
const (
	// MinValidity and MaxValidity bound the validity duration.
	MinValidity = time.Minute
	MaxValidity = 7 * 24 * time.Hour
	// MaxMetadataBytes caps the JSON encoding of metadata.
	MaxMetadataBytes = 4 << 10
	// MaxCallbackURLBytes caps callback_url (a URL longer than this is not
	// one a client means).
	MaxCallbackURLBytes = 2048
	// MaxBatch is the most messages in one batch request.
	MaxBatch = 1000
)

// SubmitBody is the JSON body of POST /v1/messages (and one batch item).
type SubmitBody struct {
	To          string            `json:"to"`
	From        string            `json:"from"`
	Text        string            `json:"text"`
	CallbackURL string            `json:"callback_url"`
	Metadata    map[string]string `json:"metadata"`
	Encoding    string            `json:"encoding"`
	Validity    string            `json:"validity"`
	Route       string            `json:"route"`
}

// validator checks submit bodies against the account and config.
type validator struct {
	maxParts int
	smscs    map[string]bool // configured SMSC names, for route
}

// validate checks b and builds the record to store for account (sender is
// the account's default from). prefix is prepended to field names
// ("messages[3]." in a batch). The returned problem lists every invalid
// field, not only the first.
func (v *validator) validate(b *SubmitBody, account, sender, prefix string) (*Message, *httpapi.Problem) {
	var errs []httpapi.FieldError
	bad := func(field, msg string) { errs = append(errs, httpapi.FieldError{Field: prefix + field, Message: msg}) }
	m := &Message{Account: account, Metadata: b.Metadata, Status: StatusAccepted}

	to, err := NormalizeE164(b.To)
	if err != nil {
		bad("to", err.Error())
	}
	m.To = to

	m.From = b.From
	if m.From == "" {
		m.From = sender
	}
	switch f, err := normalizeSender(m.From); {
	case m.From == "":
		bad("from", "is required: the account has no default sender")
	case err != nil:
		bad("from", err.Error())
	default:
		m.From = f
	}

	enc := smpp.Encoding(strings.ToLower(b.Encoding))
	switch enc {
	case "":
		enc = smpp.EncodingAuto
	case smpp.EncodingAuto, smpp.EncodingGSM7, smpp.EncodingUCS2:
	default:
		bad("encoding", "must be auto, gsm7 or ucs2")
		enc = ""
	}
	switch {
	case b.Text == "":
		bad("text", "is required")
	case !utf8.ValidString(b.Text):
		bad("text", "must be valid UTF-8")
	case enc != "":
		parts, resolved, err := smpp.CountParts(b.Text, enc)
		switch {
		case errors.Is(err, smpp.ErrNotGSM):
			bad("text", "has a character outside GSM 03.38 while encoding is gsm7: "+strings.TrimPrefix(err.Error(), "smpp: "))
		case errors.Is(err, smpp.ErrTooManyParts):
			bad("text", fmt.Sprintf("is too long: more than %d parts", v.maxParts))
		case err != nil:
			bad("text", strings.TrimPrefix(err.Error(), "smpp: "))
		case parts > v.maxParts:
			bad("text", fmt.Sprintf("is too long: %d parts (%s) once encoded, at most %d allowed", parts, resolved, v.maxParts))
		default:
			m.Parts, m.Encoding, m.Text = parts, string(resolved), b.Text
		}
	}

	if b.Validity != "" {
		d, err := time.ParseDuration(b.Validity)
		switch {
		case err != nil:
			bad("validity", "must be a Go duration such as 90m or 24h")
		case d < MinValidity || d > MaxValidity:
			bad("validity", "must be between 1m and 168h")
		default:
			m.Validity = d
		}
	}

	if b.Metadata != nil {
		enc, _ := json.Marshal(b.Metadata)
		if len(enc) > MaxMetadataBytes {
			bad("metadata", fmt.Sprintf("is %d bytes encoded, at most %d allowed", len(enc), MaxMetadataBytes))
		}
		for k, val := range b.Metadata {
			if !utf8.ValidString(k) || !utf8.ValidString(val) {
				bad("metadata", "keys and values must be valid UTF-8")
				break
			}
		}
		if len(b.Metadata) == 0 {
			m.Metadata = nil
		}
	}

	if b.CallbackURL != "" {
		if err := checkCallbackURL(b.CallbackURL); err != nil {
			bad("callback_url", err.Error())
		}
		m.CallbackURL = b.CallbackURL
	}

	if b.Route != "" {
		if !v.smscs[b.Route] {
			bad("route", fmt.Sprintf("no SMSC named %q is configured", b.Route))
		}
		m.Route = b.Route
	}

	if len(errs) > 0 {
		return nil, httpapi.NewProblem(400, "the message is invalid", errs...)
	}
	return m, nil
}

// NormalizeE164 parses a destination number and returns it as +E.164. It
// must start with '+' (a national number has no country: refused); spaces,
// dashes, dots and parentheses are ignored. The number must have a known
// country code and a length possible for that country. It is not required
// to be in an allocated range: test ranges such as +447700900xxx are
// accepted, as the contract's own examples use them.
func NormalizeE164(s string) (string, error) {
	s = strings.TrimSpace(s)
	if n, ok := e164Cache.get(s); ok {
		return n, nil
	}
	n, err := normalizeE164(s)
	if err == nil {
		e164Cache.put(s, n)
	}
	return n, err
}

// e164Cache remembers recently normalised numbers: libphonenumber's parse
// (regular expressions) was ~2 % of the CPU per submitted message, and
// clients send to the same numbers again and again. Only numbers that
// passed are kept, so refused input cannot fill it.
var e164Cache = newGenCache(4096)

// genCache is a bounded map of two generations: a hit in the old one is
// copied to the new one; when the new one is full it becomes the old one.
// At most 2 × size entries, no per-entry bookkeeping.
type genCache struct {
	mu        sync.Mutex
	size      int
	cur, prev map[string]string
}

func newGenCache(size int) *genCache {
	return &genCache{size: size, cur: make(map[string]string, size)}
}

func (c *genCache) get(k string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.cur[k]; ok {
		return v, true
	}
	v, ok := c.prev[k]
	if ok {
		c.putLocked(k, v)
	}
	return v, ok
}

func (c *genCache) put(k, v string) {
	c.mu.Lock()
	c.putLocked(k, v)
	c.mu.Unlock()
}

func (c *genCache) putLocked(k, v string) {
	if len(c.cur) >= c.size {
		c.prev, c.cur = c.cur, make(map[string]string, c.size)
	}
	c.cur[k] = v
}

// normalizeE164 is NormalizeE164 without the cache.
func normalizeE164(s string) (string, error) {
	if s == "" {
		return "", errors.New("is required")
	}
	if len(s) > 64 {
		return "", errors.New("is not a phone number")
	}
	if !strings.HasPrefix(s, "+") {
		return "", errors.New("must be in international E.164 form starting with + and the country code")
	}
	for _, r := range s[1:] {
		if !(r >= '0' && r <= '9' || r == ' ' || r == '-' || r == '.' || r == '(' || r == ')') {
			return "", errors.New("must contain only digits after the +")
		}
	}
	n, ok := e164Fast(s)
	var err error
	if !ok {
		n, err = phonenumbers.Parse(s, "")
	}
	if err != nil {
		if errors.Is(err, phonenumbers.ErrInvalidCountryCode) {
			return "", errors.New("has an unknown country code")
		}
		return "", errors.New("is not a phone number")
	}
	switch phonenumbers.IsPossibleNumberWithReason(n) {
	case phonenumbers.IS_POSSIBLE:
	case phonenumbers.TOO_SHORT:
		return "", errors.New("is too short for its country")
	case phonenumbers.TOO_LONG:
		return "", errors.New("is too long for its country")
	default:
		return "", errors.New("is not a possible number for its country")
	}
	return phonenumbers.Format(n, phonenumbers.E164), nil
}

// normalizeSender checks a from address: alphanumeric of at most 11
// characters (letters, digits, space and . - _ &, at least one letter), a
// short code of 3 to 8 digits, or an E.164 number.
func normalizeSender(s string) (string, error) {
	if s == "" {
		return "", errors.New("is required")
	}
	if strings.HasPrefix(s, "+") {
		n, err := NormalizeE164(s)
		if err != nil {
			return "", fmt.Errorf("as an E.164 number %s", err)
		}
		return n, nil
	}
	digits, letters, other := 0, 0, false
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z':
			letters++
		case r == ' ' || r == '.' || r == '-' || r == '_' || r == '&':
		default:
			other = true
		}
	}
	switch {
	case other:
		return "", errors.New("must be an alphanumeric sender (A-Z, 0-9, space . - _ &), a short code or an E.164 number")
	case letters == 0 && digits == len(s):
		if len(s) < 3 || len(s) > 8 {
			return "", errors.New("a short code must have 3 to 8 digits (use +E.164 for a long number)")
		}
		return s, nil
	case letters == 0:
		return "", errors.New("an alphanumeric sender needs at least one letter")
	case len(s) > 11:
		return "", errors.New("an alphanumeric sender has at most 11 characters")
	case strings.TrimSpace(s) != s:
		return "", errors.New("must not start or end with a space")
	}
	return s, nil
}

// checkCallbackURL accepts an absolute http(s) URL with a host.
func checkCallbackURL(s string) error {
	if len(s) > MaxCallbackURLBytes {
		return fmt.Errorf("is longer than %d bytes", MaxCallbackURLBytes)
	}
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("is not a valid URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return errors.New("must be an absolute http or https URL")
	}
	if u.Host == "" || u.Hostname() == "" {
		return errors.New("must have a host")
	}
	return nil
}

// e164Fast is phonenumbers.Parse(s, "") for the usual input, "+" and 7 to
// 15 digits, without the library's regular expressions (its extension
// search alone was half the cost of a parse). For such input Parse only
// splits off the country code, strips a national prefix when the
// region's prefix pattern matches the rest, and records a leading zero of
// the rest; ok is false whenever either of those would apply (or anything
// else is unusual), and the caller asks the library. Otherwise the number
// is exactly the one Parse returns (country code and national number, no
// other field set), which TestE164FastMatchesLibrary checks for every
// country code.
func e164Fast(s string) (*phonenumbers.PhoneNumber, bool) {
	if len(s) < 8 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return nil, false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return nil, false
		}
	}
	digits := s[1:]
	for i := 1; i <= 3; i++ { // the library's extractCountryCode
		cc, _ := strconv.Atoi(digits[:i])
		meta, known := e164Meta().byCode(cc)
		if !known {
			continue
		}
		nsn := digits[i:]
		if meta == nil || len(nsn) < 2 || nsn[0] == '0' || meta.nppMatches(nsn) {
			return nil, false
		}
		nn, err := strconv.ParseUint(nsn, 10, 64)
		if err != nil {
			return nil, false
		}
		c := int32(cc)
		return &phonenumbers.PhoneNumber{CountryCode: &c, NationalNumber: &nn}, true
	}
	return nil, false
}

// e164Metadata is what e164Fast needs of the library's metadata: per
// country code, the national prefix pattern of the region Parse would use.
type e164Metadata struct {
	codes map[int]*e164Region // nil value: known code without metadata
}

type e164Region struct {
	npp *regexp.Regexp // "^(?:" + national_prefix_for_parsing + ")", as the library builds it; nil: none
}

func (m *e164Metadata) byCode(cc int) (*e164Region, bool) {
	r, ok := m.codes[cc]
	return r, ok
}

func (r *e164Region) nppMatches(nsn string) bool { return r.npp != nil && r.npp.MatchString(nsn) }

var e164MetaOnce = sync.OnceValue(func() *e164Metadata {
	m := &e164Metadata{codes: map[int]*e164Region{}}
	coll, err := phonenumbers.MetadataCollection()
	if err != nil {
		return m // every lookup falls back to the library
	}
	byRegion := map[string]*phonenumbers.PhoneMetadata{}
	nonGeo := map[int32]*phonenumbers.PhoneMetadata{}
	for _, md := range coll.GetMetadata() {
		if md.GetId() == "001" {
			nonGeo[md.GetCountryCode()] = md
		} else {
			byRegion[md.GetId()] = md
		}
	}
	for cc := range phonenumbers.GetSupportedCallingCodes() {
		// The region Parse takes the metadata of (getMetadataForRegionOrCallingCode).
		region := phonenumbers.GetRegionCodeForCountryCode(cc)
		var md *phonenumbers.PhoneMetadata
		if region == "001" {
			md = nonGeo[int32(cc)]
		} else {
			md = byRegion[region]
		}
		if md == nil {
			m.codes[cc] = nil
			continue
		}
		r := &e164Region{}
		if p := md.GetNationalPrefixForParsing(); p != "" {
			re, err := regexp.Compile("^(?:" + p + ")")
			if err != nil {
				m.codes[cc] = nil
				continue
			}
			r.npp = re
		}
		m.codes[cc] = r
	}
	return m
})

func e164Meta() *e164Metadata { return e164MetaOnce() }
