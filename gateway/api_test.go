package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/smsgw/smsgw/bus"
	"github.com/smsgw/smsgw/config"
	"github.com/smsgw/smsgw/httpapi"
)

const (
	apiTestKeyAcme = "key-acme-0001"
	apiTestKeyBeta = "key-beta-0001"
)

type apiTestEnv struct {
	t     testing.TB
	bus   *bus.Bus
	store *Store
	api   *API
	srv   *httptest.Server
}

func apiTestAccounts() []config.Account {
	return []config.Account{
		{ID: "acme", APIKeys: []string{apiTestKeyAcme}, Sender: "ACME"},
		{ID: "beta", APIKeys: []string{apiTestKeyBeta}},
	}
}

// newAPITestEnv starts a real embedded JetStream in a temp dir, the store,
// the API and an httptest server in front of it.
func newAPITestEnv(t testing.TB, mutate ...func(*APIConfig)) *apiTestEnv {
	t.Helper()
	ctx := context.Background()
	b, err := bus.Open(ctx, bus.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return newAPITestEnvOn(t, b, mutate...)
}

func newAPITestEnvOn(t testing.TB, b *bus.Bus, mutate ...func(*APIConfig)) *apiTestEnv {
	t.Helper()
	store, err := OpenStore(context.Background(), StoreConfig{Bus: b, AckTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	cfg := APIConfig{
		Store: store, Bus: b, Accounts: apiTestAccounts(), SMSCs: []string{"carrier-a"},
		MaxParts: 3, MaxBodyBytes: 64 << 10, CheckTimeout: 500 * time.Millisecond,
	}
	for _, f := range mutate {
		f(&cfg)
	}
	api, err := NewAPI(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api.Handler())
	t.Cleanup(srv.Close)
	return &apiTestEnv{t: t, bus: b, store: store, api: api, srv: srv}
}

type apiResp struct {
	code   int
	header http.Header
	body   []byte
}

func (r apiResp) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %q: %v", r.body, err)
	}
}

func (e *apiTestEnv) do(method, path, key, body string, hdr ...string) apiResp {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return apiResp{code: res.StatusCode, header: res.Header, body: b}
}

// problem checks r is a problem+json answer with status and returns it.
func (r apiResp) problem(t testing.TB, status int) httpapi.Problem {
	t.Helper()
	if r.code != status {
		t.Fatalf("status %d, want %d: %s", r.code, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != httpapi.ContentTypeProblem {
		t.Fatalf("content-type %q, want problem+json (%s)", ct, r.body)
	}
	var p httpapi.Problem
	r.json(t, &p)
	if p.Status != status || p.Title != http.StatusText(status) || p.Type == "" {
		t.Fatalf("problem fields %+v", p)
	}
	if bytes.Contains(r.body, []byte("goroutine")) || bytes.Contains(r.body, []byte(".go:")) {
		t.Fatalf("stack trace leaked: %s", r.body)
	}
	return p
}

func TestAPIBadInput(t *testing.T) {
	e := newAPITestEnv(t)
	long := strings.Repeat("a", 160*3+1) // > 3 parts in GSM 7
	bigMeta := `{"k":"` + strings.Repeat("x", 4200) + `"}`
	tests := []struct {
		name          string
		method, path  string
		body          string
		hdr           []string
		status        int
		field         string
		problemTypeIs string
	}{
		{"empty body", "POST", "/v1/messages", ``, nil, 400, "", httpapi.TypeValidation},
		{"not json", "POST", "/v1/messages", `hello`, nil, 400, "", ""},
		{"truncated json", "POST", "/v1/messages", `{"to":"+447700900123"`, nil, 400, "", ""},
		{"array body", "POST", "/v1/messages", `[]`, nil, 400, "", ""},
		{"trailing data", "POST", "/v1/messages", `{"to":"+447700900123","text":"a"} {}`, nil, 400, "", ""},
		{"unknown field", "POST", "/v1/messages", `{"to":"+447700900123","text":"hi","bogus":1}`, nil, 400, "bogus", ""},
		{"to missing", "POST", "/v1/messages", `{"text":"hi"}`, nil, 400, "to", ""},
		{"to national", "POST", "/v1/messages", `{"to":"07700900123","text":"hi"}`, nil, 400, "to", ""},
		{"to digits without plus", "POST", "/v1/messages", `{"to":"447700900123","text":"hi"}`, nil, 400, "to", ""},
		{"to letters", "POST", "/v1/messages", `{"to":"+44abc","text":"hi"}`, nil, 400, "to", ""},
		{"to unknown country", "POST", "/v1/messages", `{"to":"+999123456","text":"hi"}`, nil, 400, "to", ""},
		{"to too short", "POST", "/v1/messages", `{"to":"+4412","text":"hi"}`, nil, 400, "to", ""},
		{"to wrong type", "POST", "/v1/messages", `{"to":447700900123,"text":"hi"}`, nil, 400, "to", ""},
		{"text missing", "POST", "/v1/messages", `{"to":"+447700900123"}`, nil, 400, "text", ""},
		{"text too long", "POST", "/v1/messages", `{"to":"+447700900123","text":"` + long + `"}`, nil, 400, "text", ""},
		{"invalid utf8", "POST", "/v1/messages", "{\"to\":\"+447700900123\",\"text\":\"\xff\xfe\"}", nil, 400, "", ""},
		{"gsm7 with emoji", "POST", "/v1/messages", `{"to":"+447700900123","text":"hi 😀","encoding":"gsm7"}`, nil, 400, "text", ""},
		{"bad encoding", "POST", "/v1/messages", `{"to":"+447700900123","text":"hi","encoding":"latin1"}`, nil, 400, "encoding", ""},
		{"from too long", "POST", "/v1/messages", `{"to":"+447700900123","text":"hi","from":"ABCDEFGHIJKL"}`, nil, 400, "from", ""},
		{"from bad chars", "POST", "/v1/messages", `{"to":"+447700900123","text":"hi","from":"AC<ME>"}`, nil, 400, "from", ""},
		{"from short code too short", "POST", "/v1/messages", `{"to":"+447700900123","text":"hi","from":"12"}`, nil, 400, "from", ""},
		{"from missing no default", "POST", "/v1/messages", `{"to":"+447700900123","text":"hi"}`, []string{"Authorization", "Bearer " + apiTestKeyBeta}, 400, "from", ""},
		{"validity not a duration", "POST", "/v1/messages", `{"to":"+447700900123","text":"hi","validity":"tomorrow"}`, nil, 400, "validity", ""},
		{"validity too short", "POST", "/v1/messages", `{"to":"+447700900123","text":"hi","validity":"30s"}`, nil, 400, "validity", ""},
		{"validity too long", "POST", "/v1/messages", `{"to":"+447700900123","text":"hi","validity":"169h"}`, nil, 400, "validity", ""},
		{"metadata not strings", "POST", "/v1/messages", `{"to":"+447700900123","text":"hi","metadata":{"a":1}}`, nil, 400, "metadata", ""},
		{"metadata not object", "POST", "/v1/messages", `{"to":"+447700900123","text":"hi","metadata":"x"}`, nil, 400, "metadata", ""},
		{"metadata too big", "POST", "/v1/messages", `{"to":"+447700900123","text":"hi","metadata":` + bigMeta + `}`, nil, 400, "metadata", ""},
		{"callback relative", "POST", "/v1/messages", `{"to":"+447700900123","text":"hi","callback_url":"/hooks"}`, nil, 400, "callback_url", ""},
		{"callback ftp", "POST", "/v1/messages", `{"to":"+447700900123","text":"hi","callback_url":"ftp://x.example/a"}`, nil, 400, "callback_url", ""},
		{"unknown route", "POST", "/v1/messages", `{"to":"+447700900123","text":"hi","route":"carrier-z"}`, nil, 400, "route", ""},
		{"idempotency key too long", "POST", "/v1/messages", `{"to":"+447700900123","text":"hi"}`, []string{"Idempotency-Key", strings.Repeat("k", 300)}, 400, "Idempotency-Key", ""},
		{"body too large", "POST", "/v1/messages", `{"to":"+447700900123","text":"` + strings.Repeat("a", 70<<10) + `"}`, nil, 413, "", httpapi.TypeTooLarge},
		{"batch empty", "POST", "/v1/messages/batch", `{"messages":[]}`, nil, 400, "messages", ""},
		{"batch missing", "POST", "/v1/messages/batch", `{}`, nil, 400, "messages", ""},
		{"batch not array", "POST", "/v1/messages/batch", `{"messages":{}}`, nil, 400, "messages", ""},
		{"batch too many", "POST", "/v1/messages/batch", `{"messages":[` + strings.TrimSuffix(strings.Repeat(`{},`, 1001), ",") + `]}`, nil, 400, "messages", ""},
		{"batch unknown top field", "POST", "/v1/messages/batch", `{"messages":[{}],"x":1}`, nil, 400, "x", ""},
		{"get unknown id", "GET", "/v1/messages/msg_nope", ``, nil, 404, "", httpapi.TypeNotFound},
		{"get id with dots", "GET", "/v1/messages/a.b", ``, nil, 404, "", ""},
		{"optout bad number", "POST", "/v1/optouts", `{"number":"0770"}`, nil, 400, "number", ""},
		{"optout unknown field", "POST", "/v1/optouts", `{"number":"+447700900123","x":true}`, nil, 400, "x", ""},
		{"optout delete absent", "DELETE", "/v1/optouts/+447700900999", ``, nil, 404, "", ""},
		{"optout delete garbage", "DELETE", "/v1/optouts/abc", ``, nil, 404, "", ""},
		{"unknown route path", "GET", "/v1/nothing", ``, nil, 404, "", httpapi.TypeNotFound},
		{"wrong method", "PUT", "/v1/messages", `{}`, nil, 405, "", ""},
		{"wrong method health", "POST", "/healthz", ``, nil, 405, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			hdr := tc.hdr
			key := apiTestKeyAcme
			if len(hdr) == 2 && hdr[0] == "Authorization" {
				key = strings.TrimPrefix(hdr[1], "Bearer ")
				hdr = nil
			}
			p := e.do(tc.method, tc.path, key, tc.body, hdr...).problem(t, tc.status)
			if tc.problemTypeIs != "" && p.Type != tc.problemTypeIs {
				t.Fatalf("type %q, want %q", p.Type, tc.problemTypeIs)
			}
			if tc.field != "" {
				found := false
				for _, fe := range p.Errors {
					found = found || fe.Field == tc.field && fe.Message != ""
				}
				if !found {
					t.Fatalf("errors %+v lack field %q", p.Errors, tc.field)
				}
			}
		})
	}
}

func TestAPIAuth(t *testing.T) {
	e := newAPITestEnv(t)
	routes := [][2]string{
		{"POST", "/v1/messages"}, {"POST", "/v1/messages/batch"}, {"GET", "/v1/messages/msg_x"},
		{"GET", "/v1/optouts"}, {"POST", "/v1/optouts"}, {"DELETE", "/v1/optouts/+447700900123"},
		{"GET", "/v1/unknown"},
	}
	for _, rt := range routes {
		for _, key := range []string{"", "wrong-key-123"} {
			p := e.do(rt[0], rt[1], key, `{}`).problem(t, 401)
			if p.Type != httpapi.TypeUnauthorized {
				t.Fatalf("%v: type %s", rt, p.Type)
			}
		}
	}
	// Health, readiness and metrics need no key.
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		if r := e.do("GET", path, "", ""); r.code != 200 {
			t.Fatalf("%s: %d %s", path, r.code, r.body)
		}
	}
}

func TestAPISubmitAndGet(t *testing.T) {
	e := newAPITestEnv(t)
	body := `{"to":"+44 7700 900123","text":"Your appointment is tomorrow at 10:00. Reply YES or NO",
	  "callback_url":"https://client.example/hooks/sms","metadata":{"param1":"test 1"},
	  "encoding":"auto","validity":"24h","route":"carrier-a"}`
	r := e.do("POST", "/v1/messages", apiTestKeyAcme, body)
	if r.code != 202 || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("%d %s", r.code, r.body)
	}
	var got map[string]any
	r.json(t, &got)
	id, _ := got["id"].(string)
	if !strings.HasPrefix(id, "msg_") || got["status"] != "accepted" || got["to"] != "+447700900123" ||
		got["from"] != "ACME" || got["parts"] != 1.0 || got["encoding"] != "gsm7" ||
		got["metadata"].(map[string]any)["param1"] != "test 1" || got["created_at"] == nil {
		t.Fatalf("resource %v", got)
	}
	if _, ok := got["events"]; ok {
		t.Fatal("submit answer has events")
	}
	if r.header.Get("Location") != "/v1/messages/"+id {
		t.Fatalf("location %q", r.header.Get("Location"))
	}

	// The record is durable (queued with the submission) with everything
	// the engine needs.
	m, err := e.store.QueuedMessage(t.Context(), "acme", id)
	if err != nil {
		t.Fatal(err)
	}
	if m.Account != "acme" || m.Validity != 24*time.Hour || m.Route != "carrier-a" ||
		m.CallbackURL != "https://client.example/hooks/sms" || m.Text == "" || m.Status != StatusAccepted {
		t.Fatalf("record %+v", m)
	}
	// And the submission is queued for the engine.
	s, err := e.bus.JS.Stream(t.Context(), SubmitStream)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := s.GetLastMsgForSubject(t.Context(), SubmitEntrySubject("acme", id))
	if err != nil {
		t.Fatal(err)
	}
	var sr SubmitRequest
	if err := json.Unmarshal(raw.Data, &sr); err != nil || sr.ID != id || sr.Account != "acme" {
		t.Fatalf("queued %s (%v)", raw.Data, err)
	}
	if raw.Header.Get(jetstream.MsgIDHeader) != id {
		t.Fatalf("msg id header %q", raw.Header.Get(jetstream.MsgIDHeader))
	}

	// GET shows the resource with an (empty) events array.
	g := e.do("GET", "/v1/messages/"+id, apiTestKeyAcme, "")
	var withEv map[string]any
	g.json(t, &withEv)
	if g.code != 200 || withEv["id"] != id || withEv["events"] == nil {
		t.Fatalf("get %d %s", g.code, g.body)
	}

	// Events the engine appends show up in order.
	if _, err := e.store.UpdateMessage(t.Context(), "acme", id, func(m *Message) error {
		m.Status = StatusSent
		m.Sequence = 1
		m.Events = append(m.Events, apiTestEvent("message.sent", id, 1))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	g = e.do("GET", "/v1/messages/"+id, apiTestKeyAcme, "")
	var full MessageWithEvents
	g.json(t, &full)
	if full.Status != StatusSent || len(full.Events) != 1 || full.Events[0].Type != "message.sent" || full.Events[0].ID == "" {
		t.Fatalf("after update %s", g.body)
	}

	// UCS-2 resolution and part counting.
	r = e.do("POST", "/v1/messages", apiTestKeyAcme, `{"to":"+447700900123","text":"Привет 😀"}`)
	r.json(t, &got)
	if r.code != 202 || got["encoding"] != "ucs2" || got["parts"] != 1.0 {
		t.Fatalf("ucs2 %d %s", r.code, r.body)
	}
	r = e.do("POST", "/v1/messages", apiTestKeyAcme, `{"to":"+447700900123","text":"`+strings.Repeat("b", 161)+`","from":"12345"}`)
	r.json(t, &got)
	if r.code != 202 || got["parts"] != 2.0 || got["from"] != "12345" {
		t.Fatalf("2 parts %d %s", r.code, r.body)
	}
}

func TestAPIAccountIsolation(t *testing.T) {
	e := newAPITestEnv(t)
	r := e.do("POST", "/v1/messages", apiTestKeyAcme, `{"to":"+447700900123","text":"hi"}`)
	var m MessageResource
	r.json(t, &m)
	if r.code != 202 {
		t.Fatalf("%d %s", r.code, r.body)
	}
	if g := e.do("GET", "/v1/messages/"+m.ID, apiTestKeyAcme, ""); g.code != 200 {
		t.Fatalf("own: %d", g.code)
	}
	p := e.do("GET", "/v1/messages/"+m.ID, apiTestKeyBeta, "").problem(t, 404)
	if strings.Contains(p.Detail, "acme") {
		t.Fatalf("detail leaks: %q", p.Detail)
	}
	// Opt-outs are per account too.
	e.do("POST", "/v1/optouts", apiTestKeyAcme, `{"number":"+447700900555"}`)
	var l OptOutList
	e.do("GET", "/v1/optouts", apiTestKeyBeta, "").json(t, &l)
	if len(l.OptOuts) != 0 {
		t.Fatalf("beta sees acme's opt-outs: %+v", l)
	}
	e.do("DELETE", "/v1/optouts/+447700900555", apiTestKeyBeta, "").problem(t, 404)
	if r := e.do("POST", "/v1/messages", apiTestKeyBeta, `{"to":"+447700900555","text":"hi","from":"BETA"}`); r.code != 202 {
		t.Fatalf("beta blocked by acme's opt-out: %d %s", r.code, r.body)
	}
}

func TestAPIIdempotency(t *testing.T) {
	e := newAPITestEnv(t)
	body := `{"to":"+447700900123","text":"once"}`
	first := e.do("POST", "/v1/messages", apiTestKeyAcme, body, "Idempotency-Key", "order-42")
	second := e.do("POST", "/v1/messages", apiTestKeyAcme, body, "Idempotency-Key", "order-42")
	var a, b MessageResource
	first.json(t, &a)
	second.json(t, &b)
	if first.code != 202 || second.code != 202 || a.ID != b.ID || second.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("first %d %s / second %d %s", first.code, first.body, second.code, second.body)
	}
	// A different body with the same key returns the first answer (documented).
	third := e.do("POST", "/v1/messages", apiTestKeyAcme, `{"to":"+447700900124","text":"other"}`, "Idempotency-Key", "order-42")
	var c MessageResource
	third.json(t, &c)
	if c.ID != a.ID {
		t.Fatalf("different body, same key: %s", third.body)
	}
	// Another key, or another account with the same key, is a new message.
	other := e.do("POST", "/v1/messages", apiTestKeyAcme, body, "Idempotency-Key", "order-43")
	beta := e.do("POST", "/v1/messages", apiTestKeyBeta, `{"to":"+447700900123","text":"once","from":"BETA"}`, "Idempotency-Key", "order-42")
	var d, f MessageResource
	other.json(t, &d)
	beta.json(t, &f)
	if d.ID == a.ID || f.ID == a.ID || d.ID == "" || f.ID == "" {
		t.Fatalf("ids %s %s %s", a.ID, d.ID, f.ID)
	}
	// A refused submit is not remembered: the corrected retry goes through.
	bad := e.do("POST", "/v1/messages", apiTestKeyAcme, `{"to":"+447700900123"}`, "Idempotency-Key", "order-44")
	bad.problem(t, 400)
	good := e.do("POST", "/v1/messages", apiTestKeyAcme, body, "Idempotency-Key", "order-44")
	if good.code != 202 {
		t.Fatalf("corrected retry %d %s", good.code, good.body)
	}
	// Only one record per idempotent submit was queued: 4 accepted in all.
	s, _ := e.bus.JS.Stream(t.Context(), SubmitStream)
	info, _ := s.Info(t.Context())
	if info.State.Msgs != 4 {
		t.Fatalf("queued %d, want 4", info.State.Msgs)
	}
	// Batch keys are separate from single-submit keys.
	br := e.do("POST", "/v1/messages/batch", apiTestKeyAcme, `{"messages":[`+body+`]}`, "Idempotency-Key", "order-42")
	br2 := e.do("POST", "/v1/messages/batch", apiTestKeyAcme, `{"messages":[`+body+`]}`, "Idempotency-Key", "order-42")
	if br.code != 207 || !bytes.Equal(br.body, br2.body) || br2.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("batch idempotency %d %s / %s", br.code, br.body, br2.body)
	}
}

func TestAPIBatchMixed(t *testing.T) {
	e := newAPITestEnv(t)
	e.do("POST", "/v1/optouts", apiTestKeyAcme, `{"number":"+447700900666"}`)
	body := `{"messages":[
		{"to":"+447700900001","text":"one"},
		{"to":"07700900002","text":"national"},
		{"to":"+447700900003","text":"three","bogus":true},
		{"to":"+447700900666","text":"opted out"},
		"not an object",
		{"to":"+447700900006","text":"six","metadata":{"n":"6"}}
	]}`
	r := e.do("POST", "/v1/messages/batch", apiTestKeyAcme, body)
	if r.code != 207 {
		t.Fatalf("%d %s", r.code, r.body)
	}
	var ans BatchAnswer
	r.json(t, &ans)
	want := []int{202, 400, 400, 422, 400, 202}
	if len(ans.Results) != len(want) {
		t.Fatalf("results %s", r.body)
	}
	for i, w := range want {
		res := ans.Results[i]
		if res.Status != w {
			t.Fatalf("item %d: %d want %d (%s)", i, res.Status, w, r.body)
		}
		if w == 202 && (res.Message == nil || res.Error != nil) || w != 202 && (res.Error == nil || res.Message != nil || res.Error.Status != w) {
			t.Fatalf("item %d shape: %+v", i, res)
		}
	}
	if ans.Results[0].Message.To != "+447700900001" || ans.Results[5].Message.Metadata["n"] != "6" {
		t.Fatalf("order: %s", r.body)
	}
	if ans.Results[1].Error.Errors[0].Field != "to" || ans.Results[2].Error.Errors[0].Field != "bogus" {
		t.Fatalf("item errors: %s", r.body)
	}
	// Both accepted items are gettable.
	for _, i := range []int{0, 5} {
		if g := e.do("GET", "/v1/messages/"+ans.Results[i].Message.ID, apiTestKeyAcme, ""); g.code != 200 {
			t.Fatalf("get item %d: %d", i, g.code)
		}
	}

	// A full batch of 1000 is accepted.
	var sb strings.Builder
	sb.WriteString(`{"messages":[`)
	for i := range MaxBatch {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(`{"to":"+447700900123","text":"bulk"}`)
	}
	sb.WriteString(`]}`)
	r = e.do("POST", "/v1/messages/batch", apiTestKeyAcme, sb.String())
	r.json(t, &ans)
	if r.code != 207 || len(ans.Results) != MaxBatch {
		t.Fatalf("1000: %d", r.code)
	}
	for i, res := range ans.Results {
		if res.Status != 202 {
			t.Fatalf("1000: item %d: %+v", i, res)
		}
	}
}

func TestAPIOptOuts(t *testing.T) {
	e := newAPITestEnv(t)
	r := e.do("POST", "/v1/optouts", apiTestKeyAcme, `{"number":"+44 7700 900777"}`)
	var o OptOut
	r.json(t, &o)
	if r.code != 201 || o.Number != "+447700900777" {
		t.Fatalf("add %d %s", r.code, r.body)
	}
	if r := e.do("POST", "/v1/optouts", apiTestKeyAcme, `{"number":"+447700900777"}`); r.code != 200 {
		t.Fatalf("add again %d", r.code)
	}
	// The engine's STOP path uses the same store.
	if err := e.store.Add(t.Context(), "acme", "447700900778", "STOP"); err != nil {
		t.Fatal(err)
	}
	var l OptOutList
	e.do("GET", "/v1/optouts", apiTestKeyAcme, "").json(t, &l)
	if len(l.OptOuts) != 2 || l.OptOuts[0].Number != "+447700900777" || l.OptOuts[1].Keyword != "STOP" {
		t.Fatalf("list %+v", l)
	}
	p := e.do("POST", "/v1/messages", apiTestKeyAcme, `{"to":"+447700900777","text":"hi"}`).problem(t, 422)
	if p.Type != httpapi.TypeOptedOut || len(p.Errors) != 1 || p.Errors[0].Field != "to" {
		t.Fatalf("422 %+v", p)
	}
	e.do("POST", "/v1/messages", apiTestKeyAcme, `{"to":"+447700900778","text":"hi"}`).problem(t, 422)

	// DELETE accepts an encoded '+', a raw '+' or bare digits.
	for _, path := range []string{"/v1/optouts/%2B447700900777", "/v1/optouts/447700900778"} {
		if r := e.do("DELETE", path, apiTestKeyAcme, ""); r.code != 204 {
			t.Fatalf("delete %s: %d %s", path, r.code, r.body)
		}
	}
	e.do("DELETE", "/v1/optouts/+447700900777", apiTestKeyAcme, "").problem(t, 404)
	if r := e.do("POST", "/v1/messages", apiTestKeyAcme, `{"to":"+447700900777","text":"hi"}`); r.code != 202 {
		t.Fatalf("after opt-in %d %s", r.code, r.body)
	}
	if has, err := e.store.Has(t.Context(), "acme", "+447700900778"); err != nil || has {
		t.Fatalf("has %v %v", has, err)
	}
	if err := e.store.Remove(t.Context(), "acme", "+447700900778"); err != ErrNotFound {
		t.Fatalf("remove absent: %v", err)
	}
	if err := e.store.Add(t.Context(), "acme", "not-a-number", ""); err == nil {
		t.Fatal("add garbage: no error")
	}
}

func TestAPIHealthMetrics(t *testing.T) {
	var fail atomic.Bool
	fail.Store(true)
	e := newAPITestEnv(t, func(c *APIConfig) {
		c.Checks = []Check{{Name: "smsc", Fn: func(context.Context) error {
			if fail.Load() {
				return ErrUnavailable
			}
			return nil
		}}}
	})
	p := e.do("GET", "/readyz", "", "").problem(t, 503)
	if !strings.Contains(p.Detail, "smsc") || strings.Contains(p.Detail, "nats:") {
		t.Fatalf("readyz detail %q", p.Detail)
	}
	fail.Store(false)
	e.api.AddCheck(Check{Name: "slow", Fn: func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }})
	p = e.do("GET", "/readyz", "", "").problem(t, 503)
	if !strings.Contains(p.Detail, "slow") {
		t.Fatalf("slow check: %q", p.Detail)
	}
	e2 := newAPITestEnv(t)
	r := e2.do("GET", "/readyz", "", "")
	var hr healthResult
	r.json(t, &hr)
	if r.code != 200 || hr.Checks["nats"] != "ok" {
		t.Fatalf("readyz %d %s", r.code, r.body)
	}
	e2.do("POST", "/v1/messages", apiTestKeyAcme, `{"to":"+447700900123","text":"hi"}`)
	m := e2.do("GET", "/metrics", "", "")
	for _, want := range []string{
		`smsgw_http_requests_total{code="202",route="POST /v1/messages"} 1`,
		`smsgw_api_messages_accepted_total 1`,
		`smsgw_http_request_duration_seconds_bucket{route="GET /readyz"`,
	} {
		if !strings.Contains(string(m.body), want) {
			t.Fatalf("metrics lack %q:\n%s", want, m.body)
		}
	}
}

func TestNewAPIConfigErrors(t *testing.T) {
	if _, err := NewAPI(APIConfig{}); err == nil {
		t.Fatal("no store: no error")
	}
	e := newAPITestEnv(t)
	_, err := NewAPI(APIConfig{Store: e.store, Accounts: []config.Account{
		{ID: "a", APIKeys: []string{"same-key-1"}}, {ID: "b", APIKeys: []string{"same-key-1"}},
	}})
	if err == nil {
		t.Fatal("shared key: no error")
	}
}
