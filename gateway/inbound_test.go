package gateway

import (
	"regexp"
	"strings"
	"testing"

	"github.com/smsgw/smsgw/config"
	"github.com/smsgw/smsgw/events"
)

func TestMONumber(t *testing.T) {
	cases := []struct {
		addr string
		ton  uint8
		want string
	}{
		{"447700900123", 1, "+447700900123"},
		{"447700900123", 0, "447700900123"}, // unknown TON: kept as received
		{"07700900123", 2, "07700900123"},   // national
		{"ACME", 5, "ACME"},
		{"12345", 3, "12345"},
		{"+447700900123", 1, "+447700900123"},
		{" 447700900123 ", 1, "+447700900123"},
	}
	for _, c := range cases {
		if got := moNumber(c.addr, c.ton); got != c.want {
			t.Errorf("moNumber(%q, %d) = %q, want %q", c.addr, c.ton, got, c.want)
		}
	}
}

func TestMOAccount(t *testing.T) {
	mk := func(def string) *Engine {
		e := &Engine{accounts: map[string]string{}}
		e.cfg.Config.Inbound.DefaultAccount = def
		for _, a := range []config.Account{
			{ID: "acme", Sender: "ACME", Numbers: []string{"+447700900000", "12345"}},
			{ID: "beta", Sender: "+447700900111"},
		} {
			e.accounts[moAddrKey(a.Sender)] = a.ID
			for _, n := range a.Numbers {
				e.accounts[moAddrKey(n)] = a.ID
			}
		}
		return e
	}
	cases := []struct {
		def, to, want string
	}{
		{"", "447700900000", "acme"},
		{"", "+447700900000", "acme"},
		{"", "acme", "acme"},
		{"", "12345", "acme"},
		{"", "447700900111", "beta"},
		{"", "447700900999", events.UnassignedAccount},
		{"beta", "447700900999", "beta"},
	}
	for _, c := range cases {
		if got := mk(c.def).moAccount(c.to); got != c.want {
			t.Errorf("default %q, to %q: %q, want %q", c.def, c.to, got, c.want)
		}
	}
}

var engKeyRE = regexp.MustCompile(`^[-/_=.a-zA-Z0-9]+$`)

func TestEngKeyPart(t *testing.T) {
	for in, want := range map[string]string{
		"abc123":      "abc123",
		"carrier-a_1": "carrier-a_1",
		"a.b":         "=YS5i",
		"":            "=",
		"id with sp":  "=aWQgd2l0aCBzcA",
	} {
		if got := engKeyPart(in); got != want {
			t.Errorf("engKeyPart(%q) = %q, want %q", in, got, want)
		}
	}
	if k := engLastSentKey("acme", "+447700900123"); k != "acme.447700900123" {
		t.Errorf("last sent key %q", k)
	}
}

// FuzzEngKeyPart: whatever an SMSC sends as an id or address, the KV key
// built from it is valid and distinct inputs never share a key.
func FuzzEngKeyPart(f *testing.F) {
	for _, s := range []string{"abc", "1A2B3C", "a.b", "", "id with spaces", "ÿ\x00", "=YS5i", "*>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k := engKeyPart(s)
		if !engKeyRE.MatchString(k) || strings.Contains(k, ".") {
			t.Fatalf("engKeyPart(%q) = %q: not one valid key token", s, k)
		}
		if k2 := engKeyPart(s + "x"); k2 == k {
			t.Fatalf("%q and %q share key %q", s, s+"x", k)
		}
		if id := engIDKey("smsc", s); !engKeyRE.MatchString(id) {
			t.Fatalf("engIDKey: %q", id)
		}
	})
}
