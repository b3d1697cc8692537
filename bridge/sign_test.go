package bridge

import (
	"net/http"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// Secrets used across the tests (24 random-looking bytes each).
const (
	testSecretA = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	testSecretB = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
)

func TestSignerVerifiesWithStandardWebhooks(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	body := []byte(`{"type":"message.sent","timestamp":"2026-11-22T10:00:04.123Z","data":{"sequence":1}}`)
	tests := []struct {
		name    string
		secrets []string
		verify  []string // each must accept
		reject  []string
		sigs    int
	}{
		{"one secret", []string{testSecretA}, []string{testSecretA}, []string{testSecretB}, 1},
		{"rotation: both sign, new first", []string{testSecretB, testSecretA}, []string{testSecretA, testSecretB}, nil, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewSigner(tt.secrets...)
			if err != nil {
				t.Fatal(err)
			}
			h := http.Header{}
			s.Sign(h, "evt_01JTEST", now, body)
			if got := h.Get("webhook-id"); got != "evt_01JTEST" {
				t.Errorf("webhook-id %q", got)
			}
			if got := h.Get("webhook-timestamp"); got != "1700000000" {
				t.Errorf("webhook-timestamp %q", got)
			}
			sig := h.Get("webhook-signature")
			parts := strings.Split(sig, " ")
			if len(parts) != tt.sigs {
				t.Fatalf("signature %q: %d parts, want %d", sig, len(parts), tt.sigs)
			}
			for i, sec := range tt.secrets {
				wh, _ := standardwebhooks.NewWebhook(sec)
				want, _ := wh.Sign("evt_01JTEST", now, body)
				if parts[i] != want {
					t.Errorf("signature %d = %q, want %q (order: new first)", i, parts[i], want)
				}
			}
			for _, sec := range tt.verify {
				wh, err := standardwebhooks.NewWebhook(sec)
				if err != nil {
					t.Fatal(err)
				}
				if err := wh.VerifyIgnoringTimestamp(body, h); err != nil {
					t.Errorf("verify with %s…: %v", sec[:10], err)
				}
				if err := wh.VerifyIgnoringTimestamp(append([]byte(nil), append(body, ' ')...), h); err == nil {
					t.Error("a changed body verified")
				}
			}
			for _, sec := range tt.reject {
				wh, _ := standardwebhooks.NewWebhook(sec)
				if err := wh.VerifyIgnoringTimestamp(body, h); err == nil {
					t.Errorf("verified with the wrong secret")
				}
			}
		})
	}
}

func TestNewSignerErrors(t *testing.T) {
	for _, bad := range []string{"nope", "whsec_!!!", "whsec_c2hvcnQ="} {
		if _, err := NewSigner(bad); err == nil {
			t.Errorf("NewSigner(%q): no error", bad)
		}
	}
	s, err := NewSigner("", "")
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	s.Sign(h, "evt_x", time.Now(), nil)
	if h.Get("webhook-signature") != "" || h.Get("webhook-id") != "evt_x" {
		t.Errorf("unsigned headers: %v", h)
	}
}

func BenchmarkSign(b *testing.B) {
	s, _ := NewSigner(testSecretA)
	body := make([]byte, 400)
	h := http.Header{}
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		s.Sign(h, "evt_01JTEST", now, body)
	}
}
