package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/smsgw/smsgw/bus"
	"github.com/smsgw/smsgw/config"
	"github.com/smsgw/smsgw/events"
	"github.com/smsgw/smsgw/httpapi"
)

const (
	apiKeyAcme   = "acme-key-0001"
	apiKeyGlobex = "globex-key-0001"
)

type apiEnv struct {
	srv   *httptest.Server
	store *EndpointStore
	bus   *bus.Bus
	api   *API
}

func newAPIEnv(t testing.TB, cfg APIConfig) *apiEnv {
	t.Helper()
	store, b := epTestStore(t)
	cfg.Store, cfg.Bus = store, b
	api, err := NewAPI(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	api.Register(mux)
	h := httpapi.MaxBytes(1<<20, httpapi.Auth(httpapi.Keys{apiKeyAcme: "acme", apiKeyGlobex: "globex"}, mux))
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &apiEnv{srv: srv, store: store, bus: b, api: api}
}

// do sends a request and returns the status and the body.
func (e *apiEnv) do(t testing.TB, key, method, path, body string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, e.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode >= 400 && resp.Header.Get("Content-Type") != httpapi.ContentTypeProblem {
		t.Fatalf("%s %s: %d with Content-Type %q, want problem+json", method, path, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return resp.StatusCode, b
}

func (e *apiEnv) create(t testing.TB, key, body string) EndpointResource {
	t.Helper()
	st, b := e.do(t, key, "POST", "/v1/webhooks", body)
	if st != http.StatusCreated {
		t.Fatalf("create: %d %s", st, b)
	}
	var r EndpointResource
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func apiProblem(t *testing.T, b []byte) httpapi.Problem {
	t.Helper()
	var p httpapi.Problem
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatalf("not a problem: %s", b)
	}
	return p
}

func TestAPICRUD(t *testing.T) {
	env := newAPIEnv(t, APIConfig{})
	ep := env.create(t, apiKeyAcme, `{"url":"https://client.example/hooks","events":["message.*","contact.opted_out"],"description":"prod","rate_limit":5}`)
	if !epValidKey(ep.ID) || !ep.Enabled || ValidateSecret(ep.Secret) != nil || ep.CreatedAt.IsZero() ||
		ep.URL != "https://client.example/hooks" || ep.Description != "prod" || ep.RateLimit != 5 ||
		!slices.Equal(ep.Events, []string{"message.*", "contact.opted_out"}) {
		t.Fatalf("created = %+v", ep)
	}

	// The secret never shows again.
	st, b := env.do(t, apiKeyAcme, "GET", "/v1/webhooks/"+ep.ID, "")
	if st != 200 || bytes.Contains(b, []byte("whsec_")) || bytes.Contains(b, []byte(`"secret"`)) {
		t.Fatalf("get: %d %s", st, b)
	}
	env.create(t, apiKeyAcme, `{"url":"https://client.example/second"}`)
	st, b = env.do(t, apiKeyAcme, "GET", "/v1/webhooks", "")
	if st != 200 || bytes.Contains(b, []byte("whsec_")) {
		t.Fatalf("list: %d %s", st, b)
	}
	var list struct{ Webhooks []EndpointResource }
	if err := json.Unmarshal(b, &list); err != nil || len(list.Webhooks) != 2 || list.Webhooks[0].ID != ep.ID ||
		!slices.Equal(list.Webhooks[1].Events, []string{"*"}) {
		t.Fatalf("list = %s (%v)", b, err)
	}

	st, b = env.do(t, apiKeyAcme, "PATCH", "/v1/webhooks/"+ep.ID, `{"events":["message.delivered"],"description":"changed","enabled":false}`)
	var got EndpointResource
	_ = json.Unmarshal(b, &got)
	if st != 200 || got.Enabled || got.Description != "changed" || !slices.Equal(got.Events, []string{"message.delivered"}) ||
		got.URL != ep.URL || got.RateLimit != 5 || got.DisabledReason == "" || got.Secret != "" {
		t.Fatalf("patch: %d %s", st, b)
	}
	st, b = env.do(t, apiKeyAcme, "PATCH", "/v1/webhooks/"+ep.ID, `{"enabled":true,"url":"https://client.example/v2","rate_limit":0}`)
	got = EndpointResource{}
	_ = json.Unmarshal(b, &got)
	if st != 200 || !got.Enabled || got.DisabledReason != "" || got.URL != "https://client.example/v2" || got.RateLimit != 0 {
		t.Fatalf("re-enable: %d %s", st, b)
	}
	stored, _ := env.store.Get(t.Context(), ep.ID)
	if stored.Secrets[0] != ep.Secret {
		t.Fatal("patch changed the secret")
	}

	if st, b = env.do(t, apiKeyAcme, "DELETE", "/v1/webhooks/"+ep.ID, ""); st != http.StatusNoContent || len(b) != 0 {
		t.Fatalf("delete: %d %s", st, b)
	}
	for _, m := range []string{"GET", "DELETE"} {
		if st, _ := env.do(t, apiKeyAcme, m, "/v1/webhooks/"+ep.ID, ""); st != 404 {
			t.Fatalf("%s after delete: %d", m, st)
		}
	}
}

func TestAPIValidation(t *testing.T) {
	env := newAPIEnv(t, APIConfig{})
	ep := env.create(t, apiKeyAcme, `{"url":"https://client.example/hooks","events":["*"]}`)
	tests := []struct {
		name, method, path, body string
		status                   int
		fields                   []string
	}{
		{"relative url", "POST", "/v1/webhooks", `{"url":"/hooks","events":["*"]}`, 400, []string{"url"}},
		{"ftp url", "POST", "/v1/webhooks", `{"url":"ftp://client.example/x","events":["*"]}`, 400, []string{"url"}},
		{"missing url", "POST", "/v1/webhooks", `{"events":["*"]}`, 400, []string{"url"}},
		{"unknown event", "POST", "/v1/webhooks", `{"url":"https://c.example/","events":["message.sent","sms.bounced"]}`, 400, []string{"events[1]"}},
		{"empty events", "POST", "/v1/webhooks", `{"url":"https://c.example/","events":[]}`, 400, []string{"events"}},
		{"url and event", "POST", "/v1/webhooks", `{"url":"x","events":["y"]}`, 400, []string{"url", "events[0]"}},
		{"bad secret", "POST", "/v1/webhooks", `{"url":"https://c.example/","secret":"hunter2"}`, 400, []string{"secret"}},
		{"short secret", "POST", "/v1/webhooks", `{"url":"https://c.example/","secret":"whsec_c2hvcnQ="}`, 400, []string{"secret"}},
		{"negative rate", "POST", "/v1/webhooks", `{"url":"https://c.example/","rate_limit":-1}`, 400, []string{"rate_limit"}},
		{"localhost", "POST", "/v1/webhooks", `{"url":"http://localhost:8080/"}`, 400, []string{"url"}},
		{"loopback ip", "POST", "/v1/webhooks", `{"url":"http://127.0.0.1:8080/"}`, 400, []string{"url"}},
		{"metadata ip", "POST", "/v1/webhooks", `{"url":"http://169.254.169.254/latest"}`, 400, []string{"url"}},
		{"private v6", "POST", "/v1/webhooks", `{"url":"http://[fd00::1]/"}`, 400, []string{"url"}},
		{"unknown field", "POST", "/v1/webhooks", `{"url":"https://c.example/","evnets":["*"]}`, 400, []string{"evnets"}},
		{"wrong type", "POST", "/v1/webhooks", `{"url":"https://c.example/","events":"message.*"}`, 400, []string{"events"}},
		{"malformed", "POST", "/v1/webhooks", `{"url":`, 400, nil},
		{"empty body", "POST", "/v1/webhooks", ``, 400, nil},
		{"too large", "POST", "/v1/webhooks", `{"description":"` + strings.Repeat("x", 1<<20) + `"}`, 413, nil},
		{"patch bad event", "PATCH", "/v1/webhooks/" + ep.ID, `{"events":["message.*","nope"]}`, 400, []string{"events[1]"}},
		{"patch bad url", "PATCH", "/v1/webhooks/" + ep.ID, `{"url":"mailto:x@y.z"}`, 400, []string{"url"}},
		{"patch unknown field", "PATCH", "/v1/webhooks/" + ep.ID, `{"secret":"whsec_x"}`, 400, []string{"secret"}},
		{"patch missing", "PATCH", "/v1/webhooks/" + NewEndpointID(), `{"description":"x"}`, 404, nil},
		{"garbage id", "GET", "/v1/webhooks/..%2F..%2Fetc", ``, 404, nil},
		{"wildcard id", "GET", "/v1/webhooks/ep_*", ``, 404, nil},
		{"rotate with body", "POST", "/v1/webhooks/" + ep.ID + "/rotate-secret", `{"secret":"x"}`, 400, []string{"secret"}},
		{"attempts bad limit", "GET", "/v1/webhooks/" + ep.ID + "/attempts?limit=0", ``, 400, []string{"limit"}},
		{"replay no from", "POST", "/v1/webhooks/" + ep.ID + "/replay", `{}`, 400, []string{"from"}},
		{"replay bad from", "POST", "/v1/webhooks/" + ep.ID + "/replay", `{"from":"yesterday"}`, 400, []string{"from"}},
		{"replay reversed", "POST", "/v1/webhooks/" + ep.ID + "/replay", `{"from":"2026-01-02T00:00:00Z","to":"2026-01-01T00:00:00Z"}`, 400, []string{"to"}},
		{"replay both", "POST", "/v1/webhooks/" + ep.ID + "/replay", `{"dead_letter":true,"from":"2026-01-01T00:00:00Z"}`, 400, []string{"dead_letter"}},
		{"test without deliverer", "POST", "/v1/webhooks/" + ep.ID + "/test", ``, 503, nil},
		{"no key", "GET", "/v1/webhooks", ``, 401, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := apiKeyAcme
			if tt.name == "no key" {
				key = ""
			}
			st, b := env.do(t, key, tt.method, tt.path, tt.body)
			if st != tt.status {
				t.Fatalf("status %d, want %d: %s", st, tt.status, b)
			}
			p := apiProblem(t, b)
			if p.Status != tt.status || p.Title == "" || p.Type == "" {
				t.Fatalf("problem = %+v", p)
			}
			var fields []string
			for _, f := range p.Errors {
				fields = append(fields, f.Field)
			}
			if !slices.Equal(fields, tt.fields) {
				t.Fatalf("fields %v, want %v (%s)", fields, tt.fields, b)
			}
		})
	}
	// Nothing invalid was stored.
	if list, _ := env.store.List(t.Context(), "acme"); len(list) != 1 {
		t.Fatalf("%d endpoints stored, want 1", len(list))
	}
}

func TestAPIPrivateTargetsAllowed(t *testing.T) {
	env := newAPIEnv(t, APIConfig{AllowPrivateTargets: true})
	env.create(t, apiKeyAcme, `{"url":"http://127.0.0.1:9/hook"}`)
	env.create(t, apiKeyAcme, `{"url":"http://localhost:9/hook"}`)
}

func TestAPIAccountIsolation(t *testing.T) {
	env := newAPIEnv(t, APIConfig{Deliverer: NewDeliverer(DelivererConfig{AllowPrivateTargets: true})})
	ep := env.create(t, apiKeyAcme, `{"url":"https://client.example/hooks"}`)
	routes := []struct{ method, path, body string }{
		{"GET", "", ""},
		{"PATCH", "", `{"description":"mine now"}`},
		{"DELETE", "", ""},
		{"POST", "/rotate-secret", ""},
		{"POST", "/test", ""},
		{"GET", "/attempts", ""},
		{"POST", "/replay", `{"dead_letter":true}`},
	}
	for _, r := range routes {
		st, b := env.do(t, apiKeyGlobex, r.method, "/v1/webhooks/"+ep.ID+r.path, r.body)
		if st != 404 || bytes.Contains(b, []byte(ep.ID)) {
			t.Errorf("globex %s %s: %d %s, want a plain 404", r.method, r.path, st, b)
		}
	}
	st, b := env.do(t, apiKeyGlobex, "GET", "/v1/webhooks", "")
	if st != 200 || string(bytes.TrimSpace(b)) != `{"webhooks":[]}` {
		t.Fatalf("globex list: %d %s", st, b)
	}
	got, err := env.store.Get(t.Context(), ep.ID)
	if err != nil || got.Description != "" || len(got.Secrets) != 1 {
		t.Fatalf("acme's endpoint was touched: %+v %v", got, err)
	}
}

// apiReceiver is a webhook receiver that verifies every request with the
// Standard Webhooks reference library, once per secret it trusts.
type apiReceiver struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []apiReceived
}

type apiReceived struct {
	header http.Header
	body   []byte
}

func newAPIReceiver(t *testing.T, status int) *apiReceiver {
	rc := &apiReceiver{}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got = append(rc.got, apiReceived{r.Header.Clone(), b})
		rc.mu.Unlock()
		w.WriteHeader(status)
		_, _ = fmt.Fprintf(w, "status %d from receiver", status)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *apiReceiver) received() []apiReceived {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.got)
}

func apiVerify(t *testing.T, secret string, r apiReceived) error {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	return wh.Verify(r.body, r.header)
}

func TestAPITestRouteAndRotation(t *testing.T) {
	env := newAPIEnv(t, APIConfig{AllowPrivateTargets: true, Deliverer: NewDeliverer(DelivererConfig{AllowPrivateTargets: true})})
	ctx := t.Context()
	if _, err := env.bus.Stream(ctx, AttemptsStreamConfig()); err != nil {
		t.Fatal(err)
	}
	rc := newAPIReceiver(t, 200)
	first := NewSecret()
	ep := env.create(t, apiKeyAcme, `{"url":"`+rc.srv.URL+`/hook","events":["message.*"],"secret":"`+first+`"}`)
	if ep.Secret != first {
		t.Fatalf("given secret not used: %q", ep.Secret)
	}

	st, b := env.do(t, apiKeyAcme, "POST", "/v1/webhooks/"+ep.ID+"/test", "")
	var res TestResult
	if err := json.Unmarshal(b, &res); err != nil || st != 200 || res.Status != 200 || res.Error != "" ||
		res.ResponseExcerpt != "status 200 from receiver" || res.LatencyMS <= 0 || !strings.HasPrefix(res.EventID, "evt_") {
		t.Fatalf("test route: %d %s", st, b)
	}
	got := rc.received()
	if len(got) != 1 {
		t.Fatalf("receiver got %d requests", len(got))
	}
	if err := apiVerify(t, first, got[0]); err != nil {
		t.Fatalf("signature does not verify: %v", err)
	}
	var body map[string]any
	_ = json.Unmarshal(got[0].body, &body)
	if body["type"] != events.WebhookTest || body["id"] != nil || got[0].header.Get("webhook-id") != res.EventID {
		t.Fatalf("test delivery: headers %v body %s", got[0].header, got[0].body)
	}
	if d, _ := body["data"].(map[string]any); d["endpoint_id"] != ep.ID || d["sequence"] != float64(1) {
		t.Fatalf("test data: %s", got[0].body)
	}

	// Rotation: the new secret is answered once; both sign for the grace period.
	st, b = env.do(t, apiKeyAcme, "POST", "/v1/webhooks/"+ep.ID+"/rotate-secret", "")
	var rot EndpointResource
	if err := json.Unmarshal(b, &rot); err != nil || st != 200 || rot.Secret == "" || rot.Secret == first || rot.PreviousSecretExpiresAt == nil {
		t.Fatalf("rotate: %d %s", st, b)
	}
	if st, b = env.do(t, apiKeyAcme, "GET", "/v1/webhooks/"+ep.ID, ""); bytes.Contains(b, []byte(rot.Secret)) {
		t.Fatalf("rotated secret shown by get: %s", b)
	}
	if st, b = env.do(t, apiKeyAcme, "POST", "/v1/webhooks/"+ep.ID+"/test", "{}"); st != 200 {
		t.Fatalf("second test: %d %s", st, b)
	}
	got = rc.received()
	if len(got) != 2 {
		t.Fatalf("receiver got %d requests", len(got))
	}
	sigs := strings.Fields(got[1].header.Get("webhook-signature"))
	if len(sigs) != 2 {
		t.Fatalf("want two signatures during rotation, got %q", got[1].header.Get("webhook-signature"))
	}
	for _, s := range []string{rot.Secret, first} {
		if err := apiVerify(t, s, got[1]); err != nil {
			t.Fatalf("a receiver with one of the secrets rejects it: %v", err)
		}
	}
	if err := apiVerify(t, NewSecret(), got[1]); err == nil {
		t.Fatal("an unrelated secret verifies")
	}
	// New signature first: it verifies alone.
	only := got[1]
	only.header = only.header.Clone()
	only.header.Set("webhook-signature", sigs[0])
	if err := apiVerify(t, rot.Secret, only); err != nil {
		t.Fatalf("first signature is not the new secret's: %v", err)
	}

	// Both tests are in the attempts log, newest first.
	deadline := time.Now().Add(5 * time.Second)
	var page AttemptsPage
	for {
		st, b = env.do(t, apiKeyAcme, "GET", "/v1/webhooks/"+ep.ID+"/attempts", "")
		page = AttemptsPage{}
		if err := json.Unmarshal(b, &page); err != nil || st != 200 {
			t.Fatalf("attempts: %d %s", st, b)
		}
		if len(page.Attempts) == 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(page.Attempts) != 2 || page.Attempts[0].EventID != got[1].header.Get("webhook-id") ||
		page.Attempts[1].EventID != res.EventID || page.Attempts[0].Outcome != OutcomeTest || page.Attempts[0].Status != 200 {
		t.Fatalf("attempts = %+v", page.Attempts)
	}
	if st, b = env.do(t, apiKeyAcme, "GET", "/v1/webhooks/"+ep.ID+"/attempts?limit=1", ""); st != 200 || bytes.Count(b, []byte("event_id")) != 1 {
		t.Fatalf("attempts limit=1: %d %s", st, b)
	}
}

func TestAPITestRouteFailure(t *testing.T) {
	env := newAPIEnv(t, APIConfig{AllowPrivateTargets: true, Deliverer: NewDeliverer(DelivererConfig{AllowPrivateTargets: true})})
	rc := newAPIReceiver(t, 503)
	ep := env.create(t, apiKeyAcme, `{"url":"`+rc.srv.URL+`"}`)
	st, b := env.do(t, apiKeyAcme, "POST", "/v1/webhooks/"+ep.ID+"/test", "")
	var res TestResult
	if err := json.Unmarshal(b, &res); err != nil || st != 200 || res.Status != 503 || !strings.Contains(res.ResponseExcerpt, "503") {
		t.Fatalf("test of a failing endpoint: %d %s", st, b)
	}
	if n := len(rc.received()); n != 1 {
		t.Fatalf("test route retried: %d requests", n)
	}

	// Nobody listening: the error says so, the route still answers 200.
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	ep2 := env.create(t, apiKeyAcme, `{"url":"`+deadURL+`"}`)
	st, b = env.do(t, apiKeyAcme, "POST", "/v1/webhooks/"+ep2.ID+"/test", "")
	res = TestResult{}
	if err := json.Unmarshal(b, &res); err != nil || st != 200 || res.Status != 0 || res.Error == "" {
		t.Fatalf("test of a dead endpoint: %d %s", st, b)
	}
}

func TestAPIAttemptsEmpty(t *testing.T) {
	env := newAPIEnv(t, APIConfig{})
	ep := env.create(t, apiKeyAcme, `{"url":"https://client.example/"}`)
	st, b := env.do(t, apiKeyAcme, "GET", "/v1/webhooks/"+ep.ID+"/attempts", "")
	if st != 200 || string(bytes.TrimSpace(b)) != `{"attempts":[]}` {
		t.Fatalf("attempts without a stream: %d %s", st, b)
	}
}

// apiDirect reads every event stored for one endpoint only.
func apiDirect(t *testing.T, b *bus.Bus, endpointID string) []events.Event {
	t.Helper()
	ctx := t.Context()
	c, err := b.JS.OrderedConsumer(ctx, events.StreamName, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{events.DirectPrefix + endpointID + ".>"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var out []events.Event
	err = apiScan(c, func(m jetstream.Msg, _ *jetstream.MsgMetadata) (bool, error) {
		if m.Headers().Get(events.HeaderEndpointID) != endpointID {
			t.Errorf("replayed event without its endpoint header: %v", m.Headers())
		}
		e, err := events.Unmarshal(m.Data())
		out = append(out, e)
		return false, err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestAPIReplayTimeRange(t *testing.T) {
	env := newAPIEnv(t, APIConfig{})
	ctx := t.Context()
	ep := env.create(t, apiKeyAcme, `{"url":"https://client.example/","events":["message.*"]}`)
	publish := func(account, typ string) events.Event {
		e := events.New(typ, events.Data{MessageID: events.NewMessageID(), Sequence: 1})
		if _, err := env.bus.PublishEvent(ctx, account, e, nil); err != nil {
			t.Fatal(err)
		}
		return e
	}
	// Stored times are what the range compares; a few ms apart is enough.
	tick := func() time.Time {
		time.Sleep(5 * time.Millisecond)
		t0 := time.Now()
		time.Sleep(5 * time.Millisecond)
		return t0
	}
	publish("acme", events.MessageSent) // before the range
	from := tick()
	in1 := publish("acme", events.MessageSent)
	publish("acme", events.ContactOptedOut) // not subscribed
	publish("globex", events.MessageSent)   // another account
	in2 := publish("acme", events.MessageDelivered)
	to := tick()
	publish("acme", events.MessageDelivered) // after the range

	body := fmt.Sprintf(`{"from":%q,"to":%q}`, from.Format(time.RFC3339Nano), to.Format(time.RFC3339Nano))
	st, b := env.do(t, apiKeyAcme, "POST", "/v1/webhooks/"+ep.ID+"/replay", body)
	if st != http.StatusAccepted || string(bytes.TrimSpace(b)) != `{"replayed":2}` {
		t.Fatalf("replay: %d %s", st, b)
	}
	got := apiDirect(t, env.bus, ep.ID)
	if len(got) != 2 || got[0].ID != in1.ID || got[1].ID != in2.ID || got[1].Type != events.MessageDelivered {
		t.Fatalf("replayed events = %+v", got)
	}
	// Replaying the same range again stores the events again (a replay is
	// an explicit request), with the same ids.
	if st, b = env.do(t, apiKeyAcme, "POST", "/v1/webhooks/"+ep.ID+"/replay", body); st != 202 || !bytes.Contains(b, []byte(`"replayed":2`)) {
		t.Fatalf("second replay: %d %s", st, b)
	}
	if got = apiDirect(t, env.bus, ep.ID); len(got) != 4 || got[2].ID != in1.ID {
		t.Fatalf("after second replay: %d events", len(got))
	}
	// An empty range, and to defaulting to now.
	if st, b = env.do(t, apiKeyAcme, "POST", "/v1/webhooks/"+ep.ID+"/replay", fmt.Sprintf(`{"from":%q}`, time.Now().Add(time.Hour).Format(time.RFC3339))); st != 400 {
		t.Fatalf("future from: %d %s", st, b)
	}
	if st, b = env.do(t, apiKeyAcme, "POST", "/v1/webhooks/"+ep.ID+"/replay", fmt.Sprintf(`{"from":%q}`, to.Format(time.RFC3339Nano))); st != 202 || !bytes.Contains(b, []byte(`"replayed":1`)) {
		t.Fatalf("open-ended replay: %d %s", st, b)
	}

	// A disabled endpoint is not replayed to.
	if _, err := env.store.Disable(ctx, ep.ID, "410 Gone"); err != nil {
		t.Fatal(err)
	}
	if st, b = env.do(t, apiKeyAcme, "POST", "/v1/webhooks/"+ep.ID+"/replay", body); st != http.StatusConflict {
		t.Fatalf("replay to disabled: %d %s", st, b)
	}
}

func TestAPIReplayDeadLetters(t *testing.T) {
	env := newAPIEnv(t, APIConfig{})
	ctx := t.Context()
	ep := env.create(t, apiKeyAcme, `{"url":"https://client.example/"}`)
	other := env.create(t, apiKeyAcme, `{"url":"https://client.example/other"}`)

	// No dead-letter stream yet: nothing to replay.
	st, b := env.do(t, apiKeyAcme, "POST", "/v1/webhooks/"+ep.ID+"/replay", `{"dead_letter":true}`)
	if st != 202 || string(bytes.TrimSpace(b)) != `{"replayed":0}` {
		t.Fatalf("replay without stream: %d %s", st, b)
	}
	if _, err := env.bus.Stream(ctx, DeadLetterStreamConfig()); err != nil {
		t.Fatal(err)
	}
	deadLetter := func(endpointID string) events.Event {
		e := events.New(events.MessageDelivered, events.Data{MessageID: events.NewMessageID(), Sequence: 2})
		data, _ := e.Marshal()
		h := nats.Header{}
		h.Set(events.HeaderEndpointID, endpointID)
		h.Set(HeaderLastStatus, "500")
		h.Set(HeaderAttempts, "10")
		if _, err := env.bus.JS.PublishMsg(ctx, &nats.Msg{Subject: DeadLetterSubject(endpointID), Header: h, Data: data}); err != nil {
			t.Fatal(err)
		}
		return e
	}
	d1, d2 := deadLetter(ep.ID), deadLetter(ep.ID)
	deadLetter(other.ID)
	// Garbage in the store is skipped (and removed), not fatal.
	if _, err := env.bus.JS.Publish(ctx, DeadLetterSubject(ep.ID), []byte("not json")); err != nil {
		t.Fatal(err)
	}

	st, b = env.do(t, apiKeyAcme, "POST", "/v1/webhooks/"+ep.ID+"/replay", `{"dead_letter":true}`)
	if st != 202 || string(bytes.TrimSpace(b)) != `{"replayed":2}` {
		t.Fatalf("dead-letter replay: %d %s", st, b)
	}
	got := apiDirect(t, env.bus, ep.ID)
	if len(got) != 2 || got[0].ID != d1.ID || got[1].ID != d2.ID {
		t.Fatalf("replayed = %+v", got)
	}
	// Replayed dead letters are gone; the other endpoint's stay.
	s, _ := env.bus.JS.Stream(ctx, DeadLetterStream)
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(DeadLetterSubjectPrefix+">"))
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Subjects[DeadLetterSubject(ep.ID)] != 0 || info.State.Subjects[DeadLetterSubject(other.ID)] != 1 {
		t.Fatalf("dead letters left: %v", info.State.Subjects)
	}
	if st, b = env.do(t, apiKeyAcme, "POST", "/v1/webhooks/"+ep.ID+"/replay", `{"dead_letter":true}`); st != 202 || !bytes.Contains(b, []byte(`"replayed":0`)) {
		t.Fatalf("second dead-letter replay: %d %s", st, b)
	}
}

func TestAPIStaticEndpoint(t *testing.T) {
	env := newAPIEnv(t, APIConfig{})
	ctx := t.Context()
	if err := env.store.SyncStatic(ctx, []config.Webhook{{Account: "acme", URL: "https://client.example/static", Secret: NewSecret()}}); err != nil {
		t.Fatal(err)
	}
	id := StaticEndpointID("acme", "https://client.example/static")
	st, b := env.do(t, apiKeyAcme, "GET", "/v1/webhooks/"+id, "")
	if st != 200 || !bytes.Contains(b, []byte(`"static":true`)) || bytes.Contains(b, []byte("whsec_")) {
		t.Fatalf("get static: %d %s", st, b)
	}
	for _, r := range []struct{ method, path, body string }{
		{"PATCH", "", `{"url":"https://client.example/elsewhere"}`},
		{"DELETE", "", ""},
		{"POST", "/rotate-secret", ""},
	} {
		if st, b := env.do(t, apiKeyAcme, r.method, "/v1/webhooks/"+id+r.path, r.body); st != http.StatusConflict {
			t.Errorf("%s %s on static: %d %s", r.method, r.path, st, b)
		}
	}
	if st, b = env.do(t, apiKeyAcme, "PATCH", "/v1/webhooks/"+id, `{"enabled":false}`); st != 200 || !bytes.Contains(b, []byte(`"enabled":false`)) {
		t.Fatalf("disable static: %d %s", st, b)
	}
}

func TestAPIStoreUnavailable(t *testing.T) {
	env := newAPIEnv(t, APIConfig{})
	ep := env.create(t, apiKeyAcme, `{"url":"https://client.example/"}`)
	env.bus.Server().Shutdown()
	env.bus.Server().WaitForShutdown()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", env.srv.URL+"/v1/webhooks/"+ep.ID, nil)
	req.Header.Set("Authorization", "Bearer "+apiKeyAcme)
	resp, err := env.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusServiceUnavailable || bytes.Contains(b, []byte("nats")) {
		t.Fatalf("with NATS down: %d %s", resp.StatusCode, b)
	}
}
