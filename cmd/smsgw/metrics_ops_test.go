package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/smsgw/smsgw/simulator"
)

// Secrets the ops tests put in the config; none may ever appear in a log.
const (
	opsAPIKey      = "key-ops-7f3a9c"
	opsSMSCPass    = "pw9x7qZ"
	opsSecretBytes = "ops-test-signing-secret-0123456789"
)

var opsSecret = "whsec_" + base64.StdEncoding.EncodeToString([]byte(opsSecretBytes))

// opsStack is `smsgw serve --config …` running in this process against a
// simulator of the test's own, with JSON logs captured.
type opsStack struct {
	base string // http://127.0.0.1:port
	logs *syncBuffer
	stop func() // cancels serve and waits for it to return
}

// startOpsStack writes a config (extra is appended verbatim: webhooks,
// bridge settings), starts serve and waits until /readyz answers 200.
func startOpsStack(t *testing.T, simAddr, extra string) *opsStack {
	t.Helper()
	dir := t.TempDir()
	cfg := fmt.Sprintf(`data_dir: %s
log: {level: debug, format: json}
http: {addr: "127.0.0.1:0"}
nats: {listen: "127.0.0.1:0"}
accounts:
  - id: acme
    api_keys: [%q]
    sender: ACME
    numbers: ["+447700900000"]
smscs:
  - name: carrier-a
    addr: %s
    system_id: smsgw
    password: %q
    window: 8
routes:
  - prefix: "+"
    smscs: [carrier-a]
%s`, filepath.Join(dir, "data"), opsAPIKey, simAddr, opsSMSCPass, extra)
	path := filepath.Join(dir, "smsgw.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	logs := &syncBuffer{}
	cmd := newRootCmd()
	cmd.SetArgs([]string{"serve", "--config", path})
	cmd.SetOut(io.Discard)
	cmd.SetErr(logs)
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	var stopped atomic.Bool
	s := &opsStack{logs: logs, stop: func() {
		if stopped.Swap(true) {
			return
		}
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("serve did not stop")
		}
	}}
	t.Cleanup(s.stop)

	addrRe := regexp.MustCompile(`"msg":"gateway running"[^\n]*"http_addr":"([0-9.:]+)"`)
	deadline := time.Now().Add(20 * time.Second)
	for s.base == "" {
		if m := addrRe.FindStringSubmatch(logs.String()); m != nil {
			s.base = "http://" + m[1]
			break
		}
		select {
		case err := <-done:
			t.Fatalf("serve exited: %v\n%s", err, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.waitReady(t, true, "", 20*time.Second)
	return s
}

// get answers status and body of GET path (authenticated).
func (s *opsStack) get(t *testing.T, path string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", s.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+opsAPIKey)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// submit posts one message and returns its id.
func (s *opsStack) submit(t *testing.T, to string) string {
	t.Helper()
	req, _ := http.NewRequest("POST", s.base+"/v1/messages",
		strings.NewReader(fmt.Sprintf(`{"to": %q, "text": "ops test"}`, to)))
	req.Header.Set("Authorization", "Bearer "+opsAPIKey)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m struct{ ID string }
	if err := json.NewDecoder(res.Body).Decode(&m); err != nil || res.StatusCode != http.StatusAccepted {
		t.Fatalf("submit %s: %d %v", to, res.StatusCode, err)
	}
	return m.ID
}

// waitReady polls /readyz until it answers 200 (ready) or 503 with a body
// containing want, and returns that body.
func (s *opsStack) waitReady(t *testing.T, ready bool, want string, within time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(within)
	var code int
	var body string
	for {
		code, body = s.get(t, "/readyz")
		if ready && code == http.StatusOK || !ready && code == http.StatusServiceUnavailable && strings.Contains(body, want) {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz: want ready=%v (%q), last %d %s", ready, want, code, body)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// opsWaitFor polls cond every 25ms until it holds or the deadline passes.
func opsWaitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// scrape parses GET /metrics.
func (s *opsStack) scrape(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	res, err := http.Get(s.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mf, err := p.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return mf
}

// metricValue is the value (counter, gauge; histogram: sample count) of
// the series of family name whose labels include want; found is false
// when there is none.
func metricValue(mf map[string]*dto.MetricFamily, name string, want map[string]string) (v float64, sum float64, found bool) {
	f := mf[name]
	if f == nil {
		return 0, 0, false
	}
next:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, lp := range m.Label {
			have[lp.GetName()] = lp.GetValue()
		}
		for k, wv := range want {
			if have[k] != wv {
				continue next
			}
		}
		found = true
		switch {
		case m.Counter != nil:
			v += m.Counter.GetValue()
		case m.Gauge != nil:
			v += m.Gauge.GetValue()
		case m.Histogram != nil:
			v += float64(m.Histogram.GetSampleCount())
			sum += m.Histogram.GetSampleSum()
		}
	}
	return v, sum, found
}

// TestMetricsAfterEndToEnd is issue 7's metrics acceptance: a real serve
// (embedded NATS, engine, bridge) against the simulator throttling above 5
// submit_sm/s, three webhook endpoints (fine; failing → retried, dead
// letter; 410 → disabled), delivered and bounced messages and one reply; then every
// metric the issue names must be on /metrics with plausible values, and
// the logs must carry the ids and no secret.
func TestMetricsAfterEndToEnd(t *testing.T) {
	sim, err := simulator.Start(t.Context(), simulator.Config{
		Credentials:  []simulator.Credential{{SystemID: "smsgw", Password: opsSMSCPass}},
		ReceiptDelay: 20 * time.Millisecond,
		TPS:          5,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()

	var okHits, failHits, goneHits atomic.Int64
	okSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		okHits.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	defer okSrv.Close()
	failSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		failHits.Add(1)
		http.Error(w, "down for maintenance", http.StatusInternalServerError)
	}))
	defer failSrv.Close()
	goneSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		goneHits.Add(1)
		w.WriteHeader(http.StatusGone)
	}))
	defer goneSrv.Close()

	st := startOpsStack(t, sim.Addr(), fmt.Sprintf(`webhooks:
  - {account: acme, url: %q, events: ["*"], secret: %q, description: fine}
  - {account: acme, url: %q, events: ["message.inbound"], secret: %q, description: failing}
  - {account: acme, url: %q, events: ["message.undelivered"], secret: %q, description: gone}
bridge:
  allow_private_targets: true
  retry_schedule: [100ms]
  jitter: 0.1
`, okSrv.URL, opsSecret, failSrv.URL, opsSecret, goneSrv.URL, opsSecret))

	// 10 delivered, 2 hard bounces; 12 at once against a 5/s SMSC makes
	// some submits throttled (retried after a pause).
	var ids []string
	for i := range 10 {
		ids = append(ids, st.submit(t, fmt.Sprintf("+4477009002%02d", i)))
	}
	ids = append(ids, st.submit(t, "+447700901400"), st.submit(t, "+447700911400"))
	opsWaitFor(t, 5*time.Second, "a bound receiver for the MO", func() bool {
		return sim.InjectMO(t.Context(), simulator.MO{From: "+447700900123", To: "ACME", Text: "YES"}) == nil
	})
	for _, id := range ids {
		opsWaitFor(t, 60*time.Second, "message "+id+" final", func() bool {
			_, body := st.get(t, "/v1/messages/"+id)
			return strings.Contains(body, `"status":"delivered"`) || strings.Contains(body, `"status":"undelivered"`)
		})
	}
	// fine gets sent + final of 12 messages and the inbound message.
	opsWaitFor(t, 30*time.Second, "webhooks", func() bool {
		mf := st.scrape(t)
		dead, _, _ := metricValue(mf, "smsgw_webhook_deliveries_total", map[string]string{"outcome": "dead_letter"})
		dis, _, _ := metricValue(mf, "smsgw_webhook_endpoints_disabled_total", nil)
		return okHits.Load() >= 25 && failHits.Load() >= 2 && dead >= 1 && dis >= 1
	})

	mf := st.scrape(t)
	type check struct {
		name   string
		labels map[string]string
		min    float64 // value (histograms: sample count) at least
		max    float64 // 0: no upper bound
	}
	smsc := map[string]string{"smsc": "carrier-a"}
	checks := []check{
		// SMPP, per SMSC and bind.
		{"smsgw_smpp_bind_state", map[string]string{"smsc": "carrier-a", "bind": "carrier-a/1", "state": "bound"}, 1, 1},
		{"smsgw_smpp_bind_state", map[string]string{"smsc": "carrier-a", "bind": "carrier-a/1", "state": "connecting"}, 0, 0.5},
		{"smsgw_smpp_binds_up", smsc, 1, 1},
		{"smsgw_smpp_submits_total", map[string]string{"smsc": "carrier-a", "result": "ok"}, 12, 12},
		{"smsgw_smpp_submits_total", map[string]string{"smsc": "carrier-a", "result": "throttled"}, 1, 0},
		{"smsgw_smpp_submits_total", map[string]string{"smsc": "carrier-a", "result": "temporary"}, 0, 0},
		{"smsgw_smpp_submits_total", map[string]string{"smsc": "carrier-a", "result": "permanent"}, 0, 0.5},
		{"smsgw_smpp_window_in_use", map[string]string{"smsc": "carrier-a", "bind": "carrier-a/1"}, 0, 8},
		{"smsgw_smpp_window_size", map[string]string{"smsc": "carrier-a", "bind": "carrier-a/1"}, 8, 8},
		{"smsgw_smpp_submit_seconds", smsc, 13, 0},
		{"smsgw_receipts_total", map[string]string{"smsc": "carrier-a", "stat": "DELIVRD"}, 10, 10},
		{"smsgw_receipts_total", map[string]string{"smsc": "carrier-a", "stat": "UNDELIV"}, 2, 2},
		{"smsgw_receipt_latency_seconds", smsc, 12, 12},
		{"smsgw_inbound_messages_total", map[string]string{"smsc": "carrier-a", "kind": "message"}, 1, 1},
		// Gateway.
		{"smsgw_http_requests_total", map[string]string{"route": "POST /v1/messages", "code": "202"}, 12, 12},
		{"smsgw_http_request_duration_seconds", map[string]string{"route": "POST /v1/messages"}, 12, 12},
		{"smsgw_api_messages_accepted_total", nil, 12, 12},
		{"smsgw_jetstream_publish_seconds", map[string]string{"kind": "event"}, 24, 0},
		// The MO, and receipts not recorded at once (checked together below).
		{"smsgw_jetstream_publish_seconds", map[string]string{"kind": "inbound"}, 1, 0},
		{"smsgw_receipts_at_once_total", nil, 0, 12},
		// Bridge.
		{"smsgw_webhook_deliveries_total", map[string]string{"outcome": "delivered"}, 25, 0},
		{"smsgw_webhook_deliveries_total", map[string]string{"outcome": "retry"}, 1, 0},
		{"smsgw_webhook_deliveries_total", map[string]string{"outcome": "dead_letter"}, 1, 1},
		{"smsgw_webhook_deliveries_total", map[string]string{"outcome": "disabled"}, 1, 2},
		{"smsgw_webhook_attempt_seconds", nil, 28, 0},
		{"smsgw_webhook_retry_queue_depth", nil, 0, 100},
		{"smsgw_webhook_dead_letter_total", nil, 2, 0},
		{"smsgw_webhook_endpoints_disabled_total", nil, 1, 1},
	}
	for _, c := range checks {
		v, _, found := metricValue(mf, c.name, c.labels)
		if !found {
			t.Errorf("%s%v: missing from /metrics", c.name, c.labels)
			continue
		}
		if v < c.min || c.max > 0 && v > c.max || c.max == 0 && c.min == 0 && v != 0 {
			t.Errorf("%s%v = %v, want %v..%v", c.name, c.labels, v, c.min, c.max)
		}
	}
	// Every receipt was recorded at once or stored in SMS_INBOUND first.
	inb, _, _ := metricValue(mf, "smsgw_jetstream_publish_seconds", map[string]string{"kind": "inbound"})
	now, _, _ := metricValue(mf, "smsgw_receipts_at_once_total", nil)
	if inb+now < 13 {
		t.Errorf("%v deliver_sm stored in SMS_INBOUND + %v receipts recorded at once, want at least 13 (12 receipts, 1 MO)", inb, now)
	}
	// Latencies: positive, and nothing in this test takes a minute.
	for _, h := range []string{"smsgw_smpp_submit_seconds", "smsgw_receipt_latency_seconds", "smsgw_jetstream_publish_seconds", "smsgw_webhook_attempt_seconds"} {
		n, sum, _ := metricValue(mf, h, nil)
		if n == 0 || sum <= 0 || sum/n > 60 {
			t.Errorf("%s: %v samples, mean %v s", h, n, sum/n)
		}
	}
	// The failing endpoint: its first attempt (with the deliverer's quick
	// retries) and the scheduled one; the gone one: at most its 2 events.
	if failHits.Load() < 2 || goneHits.Load() < 1 || goneHits.Load() > 2 {
		t.Errorf("failing endpoint hit %d times (want ≥2), gone endpoint %d (want 1 or 2)", failHits.Load(), goneHits.Load())
	}

	checkOpsDocs(t, mf)
	st.stop()
	checkOpsLogs(t, st.logs.String())
}

// checkOpsDocs wants every smsgw_ metric served documented in
// docs/OPERATIONS.md, and every metric the Grafana dashboard queries
// served.
func checkOpsDocs(t *testing.T, mf map[string]*dto.MetricFamily) {
	t.Helper()
	ops, err := os.ReadFile("../../docs/OPERATIONS.md")
	if err != nil {
		t.Fatal(err)
	}
	for name := range mf {
		if strings.HasPrefix(name, "smsgw_") && !strings.Contains(string(ops), "`"+name+"`") {
			t.Errorf("metric %s is not documented in docs/OPERATIONS.md", name)
		}
	}
	dash, err := os.ReadFile("../../docs/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(dash, &d); err != nil {
		t.Fatalf("grafana-dashboard.json: %v", err)
	}
	nameRe := regexp.MustCompile(`smsgw_[a-z_]+`)
	queried := 0
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			for _, n := range nameRe.FindAllString(tg.Expr, -1) {
				queried++
				base := n
				for _, suf := range []string{"_bucket", "_sum", "_count"} {
					if b, ok := strings.CutSuffix(n, suf); ok && mf[b] != nil {
						base = b
					}
				}
				if mf[base] == nil {
					t.Errorf("dashboard panel %q queries %s, which /metrics does not serve", p.Title, n)
				}
			}
		}
	}
	if queried < 20 {
		t.Errorf("dashboard queries only %d metrics", queried)
	}
}

// checkOpsLogs wants one JSON object per line, the lines the issue asks for
// with their ids, and no secret anywhere.
func checkOpsLogs(t *testing.T, logs string) {
	t.Helper()
	for _, secret := range []string{opsAPIKey, opsSMSCPass, opsSecret, strings.TrimPrefix(opsSecret, "whsec_")} {
		if strings.Contains(logs, secret) {
			t.Errorf("a secret (%.8s…) is in the logs", secret)
		}
	}
	seen := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l map[string]any
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Errorf("log line is not JSON: %q", sc.Text())
			continue
		}
		has := func(keys ...string) bool {
			for _, k := range keys {
				if s, _ := l[k].(string); s == "" {
					return false
				}
			}
			return true
		}
		switch msg, _ := l["msg"].(string); {
		case msg == "smpp bind up" && has("smsc", "bind"):
			seen["bind change"] = true
		case msg == "gateway submit will be retried" && has("smsc", "message_id", "err"):
			seen["submit error"] = true
		case msg == "webhook attempt" && has("endpoint_id", "message_id", "outcome"):
			seen["delivery attempt "+l["outcome"].(string)] = true
			if has("smsc") {
				seen["delivery attempt with smsc"] = true
			}
		}
	}
	for _, want := range []string{"bind change", "submit error", "delivery attempt delivered", "delivery attempt retry", "delivery attempt dead_letter", "delivery attempt disabled", "delivery attempt with smsc"} {
		if !seen[want] {
			t.Errorf("no %s line with its ids in the logs", want)
		}
	}
}
