package gateway

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/smsgw/smsgw/bus"
)

// testNATS runs a standalone JetStream server that can be stopped and
// started again on the same port and store (bus's embedded server cannot be
// restarted once shut down).
type testNATS struct {
	t    testing.TB
	opts server.Options
	srv  *server.Server
}

func startTestNATS(t testing.TB) *testNATS {
	n := &testNATS{t: t, opts: server.Options{
		Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true,
		StoreDir: t.TempDir(), NoSigs: true, NoLog: true,
	}}
	n.start()
	n.opts.Port = n.srv.Addr().(*net.TCPAddr).Port
	t.Cleanup(n.stop)
	return n
}

func (n *testNATS) start() {
	n.t.Helper()
	opts := n.opts
	srv, err := server.NewServer(&opts)
	if err != nil {
		n.t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		n.t.Fatal("nats did not start")
	}
	n.srv = srv
}

func (n *testNATS) stop() {
	if n.srv != nil {
		n.srv.Shutdown()
		n.srv.WaitForShutdown()
		n.srv = nil
	}
}

func (n *testNATS) url() string { return n.srv.ClientURL() }

func TestAPINATSUnavailable(t *testing.T) {
	n := startTestNATS(t)
	b, err := bus.Open(t.Context(), bus.Config{URL: n.url()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	e := newAPITestEnvOn(t, b)
	body := `{"to":"+447700900123","text":"hi"}`
	if r := e.do("POST", "/v1/messages", apiTestKeyAcme, body); r.code != 202 {
		t.Fatalf("before: %d %s", r.code, r.body)
	}

	n.stop()
	start := time.Now()
	r := e.do("POST", "/v1/messages", apiTestKeyAcme, body)
	p := r.problem(t, 503)
	if r.header.Get("Retry-After") == "" || strings.Contains(p.Detail, "nats://") {
		t.Fatalf("503 %v %+v", r.header, p)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Fatalf("503 took %v", el)
	}
	e.do("POST", "/v1/messages/batch", apiTestKeyAcme, `{"messages":[`+body+`]}`).problem(t, 503)
	e.do("GET", "/v1/messages/msg_x", apiTestKeyAcme, "").problem(t, 503)
	e.do("GET", "/v1/optouts", apiTestKeyAcme, "").problem(t, 503)
	if p := e.do("GET", "/readyz", "", "").problem(t, 503); !strings.Contains(p.Detail, "nats") {
		t.Fatalf("readyz %q", p.Detail)
	}
	// Liveness does not depend on NATS.
	if r := e.do("GET", "/healthz", "", ""); r.code != 200 {
		t.Fatalf("healthz %d", r.code)
	}

	n.start()
	deadline := time.Now().Add(15 * time.Second)
	for {
		r := e.do("POST", "/v1/messages", apiTestKeyAcme, body)
		if r.code == 202 {
			var m MessageResource
			r.json(t, &m)
			if g := e.do("GET", "/v1/messages/"+m.ID, apiTestKeyAcme, ""); g.code != 200 {
				t.Fatalf("get after recovery %d", g.code)
			}
			break
		}
		if r.code != 503 || time.Now().After(deadline) {
			t.Fatalf("recovery: %d %s", r.code, r.body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if r := e.do("GET", "/readyz", "", ""); r.code != 200 {
		t.Fatalf("readyz after recovery %d %s", r.code, r.body)
	}
}
