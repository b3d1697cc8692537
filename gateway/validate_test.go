package gateway

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

func TestNormalizeE164(t *testing.T) {
	tests := []struct {
		in, want string
		errHas   string
	}{
		{"+447700900123", "+447700900123", ""},
		{"+44 7700 900123", "+447700900123", ""},
		{"+44 (0)7700-900.123", "+447700900123", ""},
		{"+1 (202) 555-0123", "+12025550123", ""},
		{" +4915112345678 ", "+4915112345678", ""},
		{"", "", "required"},
		{"07700900123", "", "international"},
		{"447700900123", "", "international"},
		{"0044 7700 900123", "", "international"},
		{"+999123456", "", "country"},
		{"+4412", "", "short"},
		{"+4477009001234567", "", "long"},
		{"+44abc", "", "digits"},
		{"+", "", "not a phone number"},
		{"+" + strings.Repeat("1", 80), "", "not a phone number"},
	}
	for _, tc := range tests {
		got, err := NormalizeE164(tc.in)
		if tc.errHas == "" {
			if err != nil || got != tc.want {
				t.Errorf("%q: %q %v, want %q", tc.in, got, err, tc.want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.errHas) {
			t.Errorf("%q: err %v, want containing %q", tc.in, err, tc.errHas)
		}
	}
}

func TestNormalizeSender(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"ACME", "ACME", true},
		{"Acme Co", "Acme Co", true},
		{"A1-B2_C3.&", "A1-B2_C3.&", true},
		{"ABCDEFGHIJK", "ABCDEFGHIJK", true},
		{"ABCDEFGHIJKL", "", false},
		{"123", "123", true},
		{"12345678", "12345678", true},
		{"12", "", false},
		{"123456789", "", false},
		{"+447700900123", "+447700900123", true},
		{"+44 7700 900123", "+447700900123", true},
		{"+12", "", false},
		{"12-34", "", false},
		{" ACME", "", false},
		{"ACMÉ", "", false},
		{"AC<ME", "", false},
		{"", "", false},
	}
	for _, tc := range tests {
		got, err := normalizeSender(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("%q: %q %v, want %q ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestCheckCallbackURL(t *testing.T) {
	for in, ok := range map[string]bool{
		"https://client.example/hooks/sms": true,
		"http://127.0.0.1:9000/x?y=1":      true,
		"https://user:pw@client.example/":  true,
		"/hooks":                           false,
		"client.example/hooks":             false,
		"ftp://client.example/":            false,
		"https://":                         false,
		"https://:80/":                     false,
		"http://[::1":                      false,
		"https://x.example/" + strings.Repeat("a", MaxCallbackURLBytes): false,
	} {
		if err := checkCallbackURL(in); (err == nil) != ok {
			t.Errorf("%q: %v, want ok=%v", in, err, ok)
		}
	}
}

func TestValidateDefaults(t *testing.T) {
	v := validator{maxParts: 10, smscs: map[string]bool{"a": true}}
	m, p := v.validate(&SubmitBody{To: "+447700900123", Text: "hi", Metadata: map[string]string{}}, "acme", "ACME", "")
	if p != nil {
		t.Fatal(p)
	}
	if m.From != "ACME" || m.Encoding != "gsm7" || m.Parts != 1 || m.Status != StatusAccepted || m.Metadata != nil || m.Validity != 0 {
		t.Fatalf("%+v", m)
	}
	// Every invalid field is reported at once.
	_, p = v.validate(&SubmitBody{To: "x", From: "!!", Encoding: "x", Validity: "1s", Route: "b", CallbackURL: "x"}, "acme", "", "")
	fields := map[string]bool{}
	for _, fe := range p.Errors {
		fields[fe.Field] = true
	}
	for _, f := range []string{"to", "from", "encoding", "text", "validity", "route", "callback_url"} {
		if !fields[f] {
			t.Errorf("missing %s in %+v", f, p.Errors)
		}
	}
}

// The cache answers exactly what the library does, twice in a row, and
// stays bounded.
func TestNormalizeE164Cache(t *testing.T) {
	for _, in := range []string{"+447700900123", " +44 7700 900123 ", "+4407700900123", "+12025550123", "+999", "07700900123"} {
		want, werr := normalizeE164(strings.TrimSpace(in))
		for range 2 {
			got, err := NormalizeE164(in)
			if got != want || (err == nil) != (werr == nil) || (err != nil && err.Error() != werr.Error()) {
				t.Fatalf("%q: %q %v, want %q %v", in, got, err, want, werr)
			}
		}
	}
	c := newGenCache(2)
	for i, k := range []string{"a", "b", "c", "d", "e"} {
		c.put(k, strconv.Itoa(i))
	}
	if len(c.cur)+len(c.prev) > 4 {
		t.Fatalf("%d entries, want at most 4", len(c.cur)+len(c.prev))
	}
	if v, ok := c.get("e"); !ok || v != "4" {
		t.Fatal(v, ok)
	}
	if _, ok := c.get("a"); ok {
		t.Fatal("oldest entry kept")
	}
}

// e164Fast must give exactly the number phonenumbers.Parse gives whenever
// it answers: every country code, every length it takes, leading digits
// that do and do not look like a national prefix.
func TestE164FastMatchesLibrary(t *testing.T) {
	check := func(s string) bool {
		t.Helper()
		fast, ok := e164Fast(s)
		if !ok {
			return false
		}
		lib, err := phonenumbers.Parse(s, "")
		if err != nil {
			t.Fatalf("%s: fast path answered, library refuses: %v", s, err)
		}
		if fast.GetCountryCode() != lib.GetCountryCode() || fast.GetNationalNumber() != lib.GetNationalNumber() ||
			fast.ItalianLeadingZero != nil || lib.ItalianLeadingZero != nil || lib.NumberOfLeadingZeros != nil ||
			lib.Extension != nil || lib.RawInput != nil {
			t.Fatalf("%s: fast %v, library %v", s, fast, lib)
		}
		if phonenumbers.Format(fast, phonenumbers.E164) != phonenumbers.Format(lib, phonenumbers.E164) ||
			phonenumbers.IsPossibleNumberWithReason(fast) != phonenumbers.IsPossibleNumberWithReason(lib) {
			t.Fatalf("%s: formats or possibility differ", s)
		}
		return true
	}
	rng := rand.New(rand.NewPCG(1, 2))
	taken := 0
	for cc := range phonenumbers.GetSupportedCallingCodes() {
		for total := 7; total <= 15; total++ {
			for range 12 {
				digits := strconv.Itoa(cc)
				for len(digits) < total {
					digits += strconv.Itoa(rng.IntN(10))
				}
				if len(digits) > total {
					continue
				}
				if check("+" + digits) {
					taken++
				}
			}
			// National-prefix look-alikes right after the code.
			for _, p := range []string{"0", "1", "8", "9", "00", "15", "06"} {
				d := strconv.Itoa(cc) + p
				for len(d) < total {
					d += "5"
				}
				if len(d) == total {
					check("+" + d)
				}
			}
		}
	}
	if taken < 1000 {
		t.Fatalf("fast path took only %d numbers", taken)
	}
	for _, s := range []string{"+447700900123", "+14155550123", "+33612345678", "+4915123456789", "+8613800138000"} {
		if !check(s) {
			t.Errorf("%s: not taken by the fast path", s)
		}
	}
	for _, s := range []string{"+4407700900123", "+390612345678", "+44 7700 900123", "+0447700900123", "+4477", "+1234567890123456"} {
		if _, ok := e164Fast(s); ok {
			t.Errorf("%s: taken by the fast path", s)
		}
	}
}

func FuzzE164Fast(f *testing.F) {
	f.Add("+447700900123")
	f.Add("+5491112345678")
	f.Fuzz(func(t *testing.T, s string) {
		fast, ok := e164Fast(s)
		if !ok {
			return
		}
		lib, err := phonenumbers.Parse(s, "")
		if err != nil || fast.GetCountryCode() != lib.GetCountryCode() || fast.GetNationalNumber() != lib.GetNationalNumber() ||
			lib.ItalianLeadingZero != nil || lib.Extension != nil {
			t.Fatalf("%q: fast %v, library %v %v", s, fast, lib, err)
		}
	})
}
