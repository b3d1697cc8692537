package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smsgw/smsgw/simulator"
)

// TestReadyzBridgeStall is issue 7's readiness acceptance: a webhook
// receiver that stops answering stalls its delivery queue (events waiting,
// none finishing); serve's /readyz turns 503 naming the bridge, the stall
// and the endpoint within bridge.stall_timeout, and turns ready again once
// the receiver answers. Then a dead SMSC makes it unready with the bind's
// reason.
func TestReadyzBridgeStall(t *testing.T) {
	sim, err := simulator.Start(t.Context(), simulator.Config{
		Credentials:  []simulator.Credential{{SystemID: "smsgw", Password: opsSMSCPass}},
		ReceiptDelay: 10 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()

	release := make(chan struct{})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	defer unblock()
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hung.Close()

	st := startOpsStack(t, sim.Addr(), fmt.Sprintf(`webhooks:
  - {account: acme, url: %q, events: ["*"], secret: %q, description: hangs}
bridge:
  allow_private_targets: true
  timeout: 60s
  max_in_flight_per_endpoint: 1
  stall_timeout: 300ms
`, hung.URL, opsSecret))
	_, list := st.get(t, "/v1/webhooks")
	if !strings.Contains(list, `"id":"`) {
		t.Fatalf("no endpoint listed: %s", list)
	}
	epID := list[strings.Index(list, `"id":"`)+6:]
	epID = epID[:strings.IndexByte(epID, '"')]

	for i := range 3 {
		st.submit(t, fmt.Sprintf("+4477009003%02d", i))
	}
	body := st.waitReady(t, false, "stalled", 20*time.Second)
	for _, want := range []string{"bridge", "endpoint " + epID, "pending", "no progress for"} {
		if !strings.Contains(body, want) {
			t.Errorf("readyz body lacks %q: %s", want, body)
		}
	}
	if strings.Contains(body, "smsc:") || strings.Contains(body, "nats:") {
		t.Errorf("only the bridge should fail: %s", body)
	}

	unblock()
	st.waitReady(t, true, "", 20*time.Second)
	_, ready := st.get(t, "/readyz")
	for _, want := range []string{`"nats":"ok"`, `"smsc":"ok"`, `"bridge":"ok"`} {
		if !strings.Contains(ready, want) {
			t.Errorf("ready body lacks %s: %s", want, ready)
		}
	}

	// No bind up: unready, saying which bind and why.
	sim.Close()
	body = st.waitReady(t, false, "smsc:", 20*time.Second)
	if !strings.Contains(body, "carrier-a/1") {
		t.Errorf("readyz body does not name the bind: %s", body)
	}
}
