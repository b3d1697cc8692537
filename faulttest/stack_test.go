package faulttest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smsgw/smsgw/loadtest"
	"github.com/smsgw/smsgw/simulator"
)

const (
	account = "acme"
	apiKey  = "faulttest-key-0001"
	sender  = "ACME"
)

// settings are the knobs a scenario may change.
type settings struct {
	gateways, bridges int
	// binds per gateway; the simulator limits binds per system_id to
	// gateways×binds, as a carrier's bind limit would.
	binds int
	// retrySchedule of the bridge (contract default is minutes apart;
	// the tests compress it).
	retrySchedule string
	// responseTimeout of the SMPP binds.
	responseTimeout string
	// bridgeTimeout per webhook attempt.
	bridgeTimeout string
	// receiverDelay is how long the webhook receiver takes per delivery.
	receiverDelay time.Duration
}

func defaultSettings() settings {
	return settings{
		gateways: 2, bridges: 2, binds: 2,
		retrySchedule:   "[1s, 2s, 3s, 5s, 5s, 10s, 10s, 20s, 30s, 60s, 60s, 60s]",
		responseTimeout: "2s",
		bridgeTimeout:   "2s",
		receiverDelay:   20 * time.Millisecond,
	}
}

// stack is a whole smsgw fleet on loopback.
type stack struct {
	t        testing.TB
	nats     *cluster
	sim      *simulator.Server
	recv     *receiver
	gateways []*process
	bridges  []*process
	gwURLs   []string
}

func startStack(t testing.TB, s settings) *stack {
	t.Helper()
	buildBinaries(t)
	st := &stack{t: t}
	st.nats = startCluster(t)

	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	sim, err := simulator.Start(ctx, simulator.Config{
		ReceiptDelay: 50 * time.Millisecond, ReceiptDelayMax: 300 * time.Millisecond,
		ReceiptRetry: time.Second, ResponseTimeout: 3 * time.Second,
		BindLimit: s.gateways * s.binds,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	st.sim = sim

	secret, err := loadtest.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	st.recv = newReceiver(t, secret)
	st.recv.delay.Store(int64(s.receiverDelay))

	dir := t.TempDir()
	ports := freePorts(t, s.gateways+s.bridges)
	for i := range s.gateways {
		name := fmt.Sprintf("gateway-%d", i+1)
		addr := fmt.Sprintf("127.0.0.1:%d", ports[i])
		conf := st.writeConfig(dir, name, addr, s, secret)
		url := "http://" + addr
		st.gwURLs = append(st.gwURLs, url)
		st.gateways = append(st.gateways, newProcess(t, name, bins.smsgw,
			[]string{"gateway", "--config", conf}, httpReady(url+"/readyz")))
	}
	for i := range s.bridges {
		name := fmt.Sprintf("bridge-%d", i+1)
		addr := fmt.Sprintf("127.0.0.1:%d", ports[s.gateways+i])
		conf := st.writeConfig(dir, name, addr, s, secret)
		st.bridges = append(st.bridges, newProcess(t, name, bins.smsgw,
			[]string{"bridge", "--config", conf}, httpReady("http://"+addr+"/readyz")))
	}
	// The first gateway creates the streams and buckets; the rest start
	// side by side.
	st.gateways[0].start()
	for _, p := range append(append([]*process{}, st.gateways[1:]...), st.bridges...) {
		p.start()
	}
	return st
}

// writeConfig writes one instance's config file (the shape docs/CLUSTER.md
// shows operators).
func (st *stack) writeConfig(dir, name, httpAddr string, s settings, secret string) string {
	body := fmt.Sprintf(`data_dir: %q
log: {level: info, format: text}
http: {addr: %q}
nats:
  url: %q
  replicas: 3
accounts:
  - id: %s
    api_keys: [%q]
    sender: %s
smscs:
  - name: carrier-a
    addr: %q
    system_id: smsgw
    password: secret
    binds: %d
    window: 64
    response_timeout: %s
    enquire_link: 5s
    reconnect_min: 200ms
    reconnect_max: 1s
routes:
  - prefix: "+"
    smscs: [carrier-a]
messages:
  submit_attempts: 30
webhooks:
  - account: %s
    url: %q
    events: ["message.*"]
    secret: %q
bridge:
  allow_private_targets: true
  timeout: %s
  retry_schedule: %s
  stall_timeout: 10m
`, filepath.Join(dir, name+"-data"), httpAddr, st.nats.URL(), account, apiKey, sender,
		st.sim.Addr(), s.binds, s.responseTimeout, account, st.recv.URL(), secret,
		s.bridgeTimeout, s.retrySchedule)
	path := filepath.Join(dir, name+".yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		st.t.Fatal(err)
	}
	return path
}

// logCount sums the occurrences of s over the logs of procs.
func logCount(procs []*process, s string) int {
	n := 0
	for _, p := range procs {
		n += p.logCount(s)
	}
	return n
}

func (st *stack) all() []*process {
	return append(append(append([]*process{}, st.nats.nodes...), st.gateways...), st.bridges...)
}

// warnings returns the count of a few log lines worth quoting in a report.
func (st *stack) warnings() string {
	var parts []string
	for _, s := range []string{"fetch failed", "no heartbeat", "slow consumer", "not stored", "record sent failed"} {
		if n := logCount(st.all(), s); n > 0 {
			parts = append(parts, fmt.Sprintf("%q×%d", s, n))
		}
	}
	return strings.Join(parts, " ")
}
