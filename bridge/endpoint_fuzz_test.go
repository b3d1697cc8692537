package bridge

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

// FuzzEndpointValidate feeds arbitrary URLs, event lists and secrets to the
// validation behind POST/PATCH /v1/webhooks: it must never panic, and what
// it accepts must be what delivery can use.
func FuzzEndpointValidate(f *testing.F) {
	f.Add("https://client.example/hooks", "message.*,contact.*", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 0.0)
	f.Add("http://[::1]:80/x?y#z", "*", "whsec_", 1.5)
	f.Add("HTTPS://A.EXAMPLE", "message.sent,,", "whsec_====", -1.0)
	f.Fuzz(func(t *testing.T, rawURL, evs, secret string, rate float64) {
		ep := Endpoint{Account: "acme", URL: rawURL, Events: strings.Split(evs, ","), Secrets: []string{secret}, RateLimit: rate}
		err := ep.Validate()
		if err == nil {
			u, perr := url.Parse(rawURL)
			if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
				t.Fatalf("accepted unusable url %q", rawURL)
			}
			for _, e := range ep.Events {
				if !ValidEventFilter(e) {
					t.Fatalf("accepted unknown event filter %q", e)
				}
			}
			if _, kerr := SecretKey(secret); kerr != nil {
				t.Fatalf("accepted secret that does not decode: %v", kerr)
			}
			return
		}
		var ve *EndpointValidationError
		if !errors.As(err, &ve) || len(ve.Fields) == 0 {
			t.Fatalf("error without fields: %v", err)
		}
		if secret != "" && len(secret) > 8 && strings.Contains(err.Error(), secret) {
			t.Fatalf("error leaks the secret: %v", err)
		}
	})
}
