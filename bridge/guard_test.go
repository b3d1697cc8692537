package bridge

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync/atomic"
	"testing"

	"github.com/smsgw/smsgw/events"
)

func TestBlockedAddr(t *testing.T) {
	tests := []struct {
		addr    string
		blocked bool
	}{
		{"127.0.0.1", true},         // loopback
		{"127.255.0.9", true},       // loopback
		{"::1", true},               // loopback
		{"10.1.2.3", true},          // RFC 1918
		{"172.16.0.1", true},        // RFC 1918
		{"172.31.255.255", true},    // RFC 1918
		{"192.168.1.1", true},       // RFC 1918
		{"fc00::1", true},           // unique local
		{"fd12:3456::1", true},      // unique local
		{"169.254.1.1", true},       // link-local
		{"fe80::1", true},           // link-local
		{"100.64.0.1", true},        // CGNAT
		{"100.127.255.254", true},   // CGNAT
		{"0.0.0.0", true},           // unspecified
		{"::", true},                // unspecified
		{"224.0.0.1", true},         // multicast
		{"ff02::1", true},           // multicast
		{"169.254.169.254", true},   // cloud metadata
		{"fd00:ec2::254", true},     // AWS IPv6 metadata
		{"::ffff:127.0.0.1", true},  // IPv4-mapped loopback
		{"::ffff:10.0.0.1", true},   // IPv4-mapped private
		{"255.255.255.255", true},   // broadcast
		{"93.184.216.34", false},    // public
		{"8.8.8.8", false},          // public
		{"172.32.0.1", false},       // just outside 172.16/12
		{"100.128.0.1", false},      // just outside CGNAT
		{"2606:4700::1111", false},  // public IPv6
		{"::ffff:8.8.8.8", false},   // IPv4-mapped public
		{"2001:db8::1", false},      // documentation, but not a local network
		{"192.0.2.1", false},        // TEST-NET-1, not local either
		{"203.0.113.5", false},      // TEST-NET-3
		{"198.51.100.7", false},     // TEST-NET-2
		{"64:ff9b::808:808", false}, // well-known NAT64 of a public address
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			if got := BlockedAddr(netip.MustParseAddr(tt.addr)); got != tt.blocked {
				t.Errorf("BlockedAddr(%s) = %v, want %v", tt.addr, got, tt.blocked)
			}
		})
	}
	if !BlockedAddr(netip.Addr{}) {
		t.Error("the zero Addr is not blocked")
	}
}

func TestGuardControl(t *testing.T) {
	for _, a := range []string{"127.0.0.1:80", "[::1]:443", "10.0.0.1:8080", "garbage"} {
		if err := guardControl("tcp", a, nil); !errors.Is(err, ErrPrivateTarget) {
			t.Errorf("guardControl(%q) = %v, want ErrPrivateTarget", a, err)
		}
	}
	if err := guardControl("tcp4", "93.184.216.34:443", nil); err != nil {
		t.Errorf("public address refused: %v", err)
	}
}

// The guard sits in the dialer, so it judges the address actually dialled;
// a loopback receiver is refused with the setting off and reached with it
// on.
func TestGuardLoopbackReceiver(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	ep := Endpoint{ID: "ep_guard", URL: srv.URL + "/hook", Secrets: []string{testSecretA}}
	e := events.New(events.WebhookTest, events.Data{Sequence: 1})

	off := NewDeliverer(DelivererConfig{AllowPrivateTargets: false, QuickRetries: -1})
	defer off.Close()
	r := off.Attempt(context.Background(), ep, e)
	if r.Status != 0 || r.Verdict != Retry || r.Err == "" {
		t.Fatalf("guard off: %+v, want a refused attempt", r)
	}
	if hits.Load() != 0 {
		t.Fatalf("receiver was reached %d times with the guard on", hits.Load())
	}

	on := NewDeliverer(DelivererConfig{AllowPrivateTargets: true, QuickRetries: -1})
	defer on.Close()
	if r := on.Attempt(context.Background(), ep, e); r.Status != 200 || r.Verdict != Done {
		t.Fatalf("guard allowed: %+v", r)
	}
	if hits.Load() != 1 {
		t.Fatalf("receiver hits = %d, want 1", hits.Load())
	}
}
