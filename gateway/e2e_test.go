package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/smsgw/smsgw/bus"
	"github.com/smsgw/smsgw/config"
	"github.com/smsgw/smsgw/events"
	"github.com/smsgw/smsgw/simulator"
)

const (
	e2eKey     = "test-key-acme-1"
	e2eAccount = "acme"
	e2eNumber  = "+447700900000"
)

// e2eEnv is a whole gateway in the test process: embedded NATS with
// JetStream in a temp dir, the simulator on 127.0.0.1:0, the HTTP API on an
// httptest server and the engine.
type e2eEnv struct {
	t     testing.TB
	ctx   context.Context
	b     *bus.Bus
	sim   *simulator.Server
	store *Store
	api   *API
	http  *httptest.Server
	eng   *Engine
	cfg   config.Config
	ecfg  EngineConfig
	ev    *e2eEvents
}

type e2eOpts struct {
	sim    simulator.Config
	engine func(*EngineConfig)
	bus    *bus.Bus // use this bus (the caller closes it)
	conf   func(*config.Config)
}

func e2eStart(t testing.TB, o e2eOpts) *e2eEnv {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	env := &e2eEnv{t: t, ctx: ctx}
	var err error
	if o.bus != nil {
		env.b = o.bus
	} else {
		env.b, err = bus.Open(ctx, bus.Config{DataDir: t.TempDir()})
		if err != nil {
			t.Fatalf("bus: %v", err)
		}
		t.Cleanup(func() { env.b.Close() })
	}
	if o.sim.ReceiptRetry == 0 {
		o.sim.ReceiptRetry = 300 * time.Millisecond
	}
	env.sim, err = simulator.Start(ctx, o.sim)
	if err != nil {
		t.Fatalf("simulator: %v", err)
	}
	t.Cleanup(func() { env.sim.Close() })

	cfg := config.Default()
	cfg.Accounts = []config.Account{{ID: e2eAccount, APIKeys: []string{e2eKey}, Sender: "ACME", Numbers: []string{e2eNumber}}}
	sc := config.SMSCDefaults()
	sc.Name, sc.Addr, sc.SystemID, sc.Password = "sim", env.sim.Addr(), "smsgw", "secret"
	sc.ReconnectMin, sc.ReconnectMax = 20*time.Millisecond, 200*time.Millisecond
	sc.ResponseTimeout = 2 * time.Second
	cfg.SMSCs = []config.SMSC{sc}
	cfg.Routes = []config.Route{{Prefix: "+", SMSCs: []string{"sim"}}}
	cfg.Messages.SubmitAttempts = 3
	if o.conf != nil {
		o.conf(&cfg)
	}
	env.cfg = cfg

	env.store, err = OpenStore(ctx, StoreConfig{Bus: env.b})
	if err != nil {
		t.Fatalf("store: %v", err)
	}
	smscs := make([]string, 0, len(cfg.SMSCs))
	for _, s := range cfg.SMSCs {
		smscs = append(smscs, s.Name)
	}
	env.api, err = NewAPI(APIConfig{Store: env.store, Bus: env.b, Accounts: cfg.Accounts, SMSCs: smscs, MaxParts: cfg.Messages.MaxParts})
	if err != nil {
		t.Fatalf("api: %v", err)
	}
	env.http = httptest.NewServer(env.api.Handler())
	t.Cleanup(env.http.Close)

	env.ecfg = EngineConfig{
		Bus: env.b, Config: cfg, Registry: prometheus.NewRegistry(),
		AckWait: 2 * time.Second, SubmitRetryMin: 50 * time.Millisecond, SubmitRetryMax: 500 * time.Millisecond,
		ReceiptRetryMin: 20 * time.Millisecond, ReceiptRetryMax: 200 * time.Millisecond,
		FetchWait: 200 * time.Millisecond,
	}
	if o.engine != nil {
		o.engine(&env.ecfg)
	}
	env.eng = env.startEngine()
	env.ev = e2eWatch(t, ctx, env.b)
	return env
}

// startEngine starts an engine on env's bus and waits for its bind.
func (env *e2eEnv) startEngine() *Engine {
	env.t.Helper()
	cfg := env.ecfg
	cfg.Registry = prometheus.NewRegistry()
	eng, err := NewEngine(cfg)
	if err != nil {
		env.t.Fatalf("engine: %v", err)
	}
	if err := eng.Start(env.ctx); err != nil {
		env.t.Fatalf("engine start: %v", err)
	}
	env.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = eng.Close(ctx)
	})
	e2eEventually(env.t, 5*time.Second, "a bind is up", func() bool { return eng.Ready() == nil })
	return eng
}

func e2eEventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// submit POSTs one message through the HTTP API and returns its id.
func (env *e2eEnv) submit(body map[string]any) string {
	env.t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, env.http.URL+"/v1/messages", bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+e2eKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := env.http.Client().Do(req)
	if err != nil {
		env.t.Fatalf("submit: %v", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted {
		env.t.Fatalf("submit: status %d: %s", resp.StatusCode, raw)
	}
	var m struct{ ID string }
	if err := json.Unmarshal(raw, &m); err != nil || m.ID == "" {
		env.t.Fatalf("submit: answer %s: %v", raw, err)
	}
	return m.ID
}

// submitBatch POSTs up to 1,000 messages in one request and returns their ids.
func (env *e2eEnv) submitBatch(msgs []map[string]any) []string {
	env.t.Helper()
	b, _ := json.Marshal(map[string]any{"messages": msgs})
	req, _ := http.NewRequest(http.MethodPost, env.http.URL+"/v1/messages/batch", bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+e2eKey)
	resp, err := env.http.Client().Do(req)
	if err != nil {
		env.t.Fatalf("batch: %v", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var ans struct {
		Results []struct {
			Status  int
			Message struct{ ID string }
		}
	}
	if err := json.Unmarshal(raw, &ans); err != nil {
		env.t.Fatalf("batch: status %d: %s", resp.StatusCode, raw)
	}
	ids := make([]string, 0, len(ans.Results))
	for i, r := range ans.Results {
		if r.Status != http.StatusAccepted {
			env.t.Fatalf("batch item %d: status %d: %s", i, r.Status, raw)
		}
		ids = append(ids, r.Message.ID)
	}
	return ids
}

// getMessage GETs a message resource with its events.
func (env *e2eEnv) getMessage(id string) MessageWithEvents {
	env.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, env.http.URL+"/v1/messages/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+e2eKey)
	resp, err := env.http.Client().Do(req)
	if err != nil {
		env.t.Fatalf("get: %v", err)
	}
	defer resp.Body.Close()
	var m MessageWithEvents
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		env.t.Fatalf("get %s: %v", id, err)
	}
	return m
}

// waitMessage GETs a message until its history has n events (events are
// stored in JetStream before the record is updated).
func (env *e2eEnv) waitMessage(id string, n int) MessageWithEvents {
	env.t.Helper()
	var m MessageWithEvents
	e2eEventually(env.t, 5*time.Second, "history of "+id, func() bool {
		m = env.getMessage(id)
		return len(m.Events) >= n
	})
	return m
}

// e2eEvents collects every event stored in SMS_EVENTS, read back from
// JetStream with an ordered consumer, as another program would.
type e2eEvents struct {
	mu      sync.Mutex
	all     []e2eEvent
	ids     map[string]int
	changed chan struct{}
}

type e2eEvent struct {
	events.Event
	Subject  string
	Callback string
}

func e2eWatch(t testing.TB, ctx context.Context, b *bus.Bus) *e2eEvents {
	t.Helper()
	w := &e2eEvents{ids: map[string]int{}, changed: make(chan struct{}, 1)}
	cons, err := b.JS.OrderedConsumer(ctx, events.StreamName, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatalf("events consumer: %v", err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		e, err := events.Unmarshal(m.Data())
		if err != nil {
			t.Errorf("event %s: %v", m.Data(), err)
			return
		}
		w.mu.Lock()
		w.ids[e.ID]++
		w.all = append(w.all, e2eEvent{Event: e, Subject: m.Subject(), Callback: m.Headers().Get(events.HeaderCallbackURL)})
		w.mu.Unlock()
		select {
		case w.changed <- struct{}{}:
		default:
		}
	})
	if err != nil {
		t.Fatalf("events consume: %v", err)
	}
	t.Cleanup(cc.Stop)
	return w
}

// snapshot returns the events seen so far.
func (w *e2eEvents) snapshot() []e2eEvent {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]e2eEvent(nil), w.all...)
}

// wait waits until cond holds over the events seen so far.
func (w *e2eEvents) wait(t testing.TB, d time.Duration, what string, cond func([]e2eEvent) bool) []e2eEvent {
	t.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		all := w.snapshot()
		if cond(all) {
			return all
		}
		select {
		case <-w.changed:
		case <-time.After(50 * time.Millisecond):
		case <-deadline.C:
			t.Fatalf("timed out after %v waiting for %s; have %d events", d, what, len(all))
		}
	}
}

// forMessage returns the events of message id, in arrival order.
func e2eFor(all []e2eEvent, id string) []e2eEvent {
	var out []e2eEvent
	for _, e := range all {
		if e.Data.MessageID == id {
			out = append(out, e)
		}
	}
	return out
}

func e2eIsFinal(typ string) bool {
	return typ == events.MessageDelivered || typ == events.MessageUndelivered || typ == events.MessageFailed
}

// e2eFinals counts final events per message id.
func e2eFinals(all []e2eEvent) map[string]int {
	out := map[string]int{}
	for _, e := range all {
		if e2eIsFinal(e.Type) {
			out[e.Data.MessageID]++
		}
	}
	return out
}

func TestE2EOutcomes(t *testing.T) {
	env := e2eStart(t, e2eOpts{})
	type row struct {
		to       string
		typ      string // final event type; "" = none
		category string
		code     int
		stat     string
		err      string
	}
	rows := []row{
		{to: "+447700901400", typ: events.MessageUndelivered, category: events.HardBounce, code: 1400, stat: "UNDELIV", err: "001"},
		{to: "+447700901404", typ: events.MessageUndelivered, category: events.SoftBounce, code: 1404, stat: "UNDELIV", err: "027"},
		{to: "+447700901408", typ: events.MessageUndelivered, category: events.CarrierViolation, code: 1408, stat: "REJECTD", err: "000"},
		{to: "+447700901409", typ: events.MessageUndelivered, category: events.UnknownBounce, code: 1409, stat: "UNKNOWN", err: "000"},
		{to: "+447700901410", typ: events.MessageUndelivered, category: events.SoftBounce, code: 1404, stat: "EXPIRED", err: "027"},
		{to: "+447700901499"},
		{to: "+447700900123", typ: events.MessageDelivered},
	}
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = env.submit(map[string]any{
			"to": r.to, "text": "hello " + r.to, "metadata": map[string]string{"row": r.to},
			"callback_url": "https://client.example/hooks/" + fmt.Sprint(i),
		})
	}
	all := env.ev.wait(t, 10*time.Second, "final events and sent events", func(all []e2eEvent) bool {
		f := e2eFinals(all)
		for i, r := range rows {
			if r.typ != "" && f[ids[i]] == 0 {
				return false
			}
			if len(e2eFor(all, ids[i])) == 0 {
				return false
			}
		}
		return true
	})
	// Give a straggling duplicate a moment to show up, then check exactly.
	time.Sleep(300 * time.Millisecond)
	all = env.ev.snapshot()
	for i, r := range rows {
		t.Run(r.to, func(t *testing.T) {
			evs := e2eFor(all, ids[i])
			if len(evs) == 0 || evs[0].Type != events.MessageSent {
				t.Fatalf("first event: %+v, want message.sent", evs)
			}
			sent := evs[0]
			if sent.Data.Sequence != 1 || sent.Data.PartCount != 1 || sent.Data.SMSC != "sim" || sent.Data.SubmittedAt == nil ||
				sent.Data.Metadata["row"] != r.to || sent.Data.To != r.to || sent.Data.From != "ACME" || sent.Data.Status != StatusSent {
				t.Errorf("sent event data: %+v", sent.Data)
			}
			if sent.Subject != "sms.events.acme.message.sent" {
				t.Errorf("subject %q", sent.Subject)
			}
			if sent.Callback != "https://client.example/hooks/"+fmt.Sprint(i) {
				t.Errorf("callback header %q", sent.Callback)
			}
			if r.typ == "" {
				if len(evs) != 1 {
					t.Fatalf("events %+v, want only message.sent", evs)
				}
				if got := env.waitMessage(ids[i], 1); got.Status != StatusSent || len(got.Events) != 1 {
					t.Errorf("resource: %+v", got)
				}
				return
			}
			if len(evs) != 2 {
				t.Fatalf("got %d events, want sent + one final: %+v", len(evs), evs)
			}
			fin := evs[1]
			if fin.Type != r.typ || fin.Data.Sequence != 2 || fin.Data.PartCount != 1 || fin.Data.SMSC != "sim" ||
				fin.Data.SubmittedAt == nil || fin.Data.DoneAt == nil || fin.Data.Metadata["row"] != r.to || fin.Data.To != r.to || fin.Data.From != "ACME" {
				t.Errorf("final event: %s %+v", fin.Type, fin.Data)
			}
			if r.typ == events.MessageDelivered {
				if fin.Data.Status != StatusDelivered || fin.Data.Reason != nil {
					t.Errorf("delivered: %+v", fin.Data)
				}
			} else {
				want := events.Reason{Category: r.category, Code: r.code, Message: events.BounceMessage[r.category], SMPPStat: r.stat, SMPPErr: r.err}
				if fin.Data.Status != StatusUndelivered || fin.Data.Reason == nil || *fin.Data.Reason != want {
					t.Errorf("reason %+v, want %+v", fin.Data.Reason, want)
				}
			}
			got := env.waitMessage(ids[i], 2)
			if got.Status != fin.Data.Status || len(got.Events) != 2 || got.Events[1].ID != fin.ID {
				t.Errorf("resource: %+v", got)
			}
		})
	}
	// Every event of these callback_url messages has its copy, with the
	// same id and header, in SMS_CALLBACKS (what the bridge's callback
	// worker reads).
	want := map[string]string{}
	for _, ev := range all {
		if ev.Callback != "" {
			want[ev.ID] = ev.Callback
		}
	}
	cons, err := env.b.JS.OrderedConsumer(env.ctx, events.CallbackStream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for len(got) < len(want) {
		m, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			t.Fatalf("callback copies: %d of %d: %v", len(got), len(want), err)
		}
		e, err := events.Unmarshal(m.Data())
		if err != nil {
			t.Fatal(err)
		}
		if acct, typ, err := events.ParseCallbackSubject(m.Subject()); err != nil || acct != "acme" || typ != e.Type {
			t.Errorf("callback copy subject %q: %s %s %v", m.Subject(), acct, typ, err)
		}
		got[e.ID] = m.Headers().Get(events.HeaderCallbackURL)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("callback copies %v, want %v", got, want)
	}
}

func TestE2ELongMessages(t *testing.T) {
	env := e2eStart(t, e2eOpts{})
	gsm := strings.Repeat("Long GSM text with extension chars {} [] ~ € and more. ", 8) // > 3 parts
	ucs := strings.Repeat("Ünïcödé テキスト 📨 ", 12)                                        // UCS-2, surrogate pairs
	cases := []struct {
		name, text, enc string
	}{
		{"gsm7", gsm, "gsm7"},
		{"ucs2", ucs, "ucs2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n0 := len(env.sim.Messages())
			id := env.submit(map[string]any{"to": "+447700900123", "text": c.text})
			all := env.ev.wait(t, 10*time.Second, "final", func(all []e2eEvent) bool { return e2eFinals(all)[id] > 0 })
			time.Sleep(200 * time.Millisecond)
			all = env.ev.snapshot()
			evs := e2eFor(all, id)
			if len(evs) != 2 || evs[0].Type != events.MessageSent || evs[1].Type != events.MessageDelivered {
				t.Fatalf("events: %+v", evs)
			}
			parts := evs[0].Data.PartCount
			if parts < 2 || evs[1].Data.PartCount != parts {
				t.Fatalf("part_count %d / %d", parts, evs[1].Data.PartCount)
			}
			var texts []string
			for _, m := range env.sim.Messages()[n0:] {
				if m.PartTotal != parts {
					t.Errorf("simulator part %+v, want total %d", m, parts)
				}
				texts = append(texts, m.Text)
			}
			if len(texts) != parts || strings.Join(texts, "") != c.text {
				t.Errorf("simulator got %d parts reassembling to %q", len(texts), strings.Join(texts, ""))
			}
			got := env.waitMessage(id, 2)
			if got.Encoding != c.enc || got.Parts != parts || got.Status != StatusDelivered {
				t.Errorf("resource %+v", got.MessageResource)
			}
		})
	}
}

func TestE2EInboundReplies(t *testing.T) {
	env := e2eStart(t, e2eOpts{})
	const handset = "+447700900555"
	sentID := env.submit(map[string]any{"to": handset, "text": "Reply YES or NO"})
	env.ev.wait(t, 10*time.Second, "delivered", func(all []e2eEvent) bool { return e2eFinals(all)[sentID] > 0 })

	long := strings.Repeat("This is a long reply that the handset splits into parts. ", 6)
	cases := []struct {
		name, from, to, text, account, replyTo string
	}{
		{"single to number", handset, e2eNumber, "YES", e2eAccount, sentID},
		{"multi-part to sender", handset, "ACME", long, e2eAccount, sentID},
		{"unicode multi-part", handset, "447700900000", strings.Repeat("Ответ 👍 ", 30), e2eAccount, sentID},
		{"no earlier message", "+447700900999", e2eNumber, "hello?", e2eAccount, ""},
		{"unknown destination", handset, "99999", "who is this", events.UnassignedAccount, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := env.sim.InjectMO(env.ctx, simulator.MO{From: c.from, To: c.to, Text: c.text}); err != nil {
				t.Fatal(err)
			}
			var got e2eEvent
			env.ev.wait(t, 10*time.Second, "message.inbound", func(all []e2eEvent) bool {
				for _, e := range all {
					if e.Type == events.MessageInbound && e.Data.Text == c.text && e.Data.From == c.from {
						got = e
						return true
					}
				}
				return false
			})
			wantTo := c.to
			if c.to == "447700900000" {
				wantTo = e2eNumber // international digits come back as +E.164
			}
			if got.Subject != "sms.events."+c.account+".message.inbound" || got.Data.InReplyTo != c.replyTo ||
				got.Data.To != wantTo || got.Data.Sequence != 1 || got.Data.ReceivedAt == nil ||
				!strings.HasPrefix(got.Data.MessageID, "msg_") || got.Data.MessageID == sentID {
				t.Errorf("inbound event %s: %+v", got.Subject, got.Data)
			}
		})
	}
	// Every inbound message was published exactly once.
	time.Sleep(300 * time.Millisecond)
	n := 0
	for _, e := range env.ev.snapshot() {
		if e.Type == events.MessageInbound {
			n++
		}
	}
	if n != len(cases) {
		t.Errorf("%d message.inbound events, want %d", n, len(cases))
	}
}

func TestE2EStopStart(t *testing.T) {
	env := e2eStart(t, e2eOpts{})
	const handset = "+447700900777"
	optedOut := func() bool {
		ok, err := env.store.Has(env.ctx, e2eAccount, handset)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	steps := []struct {
		text, typ, keyword string
		out                bool
	}{
		{"  stop ", events.ContactOptedOut, "STOP", true},
		{"Start", events.ContactOptedIn, "START", false},
		{"UNSUBSCRIBE", events.ContactOptedOut, "UNSUBSCRIBE", true},
		{"stop please", "", "", true}, // not a keyword on its own: just a message
		{"unstop", events.ContactOptedIn, "UNSTOP", false},
	}
	for i, s := range steps {
		if err := env.sim.InjectMO(env.ctx, simulator.MO{From: handset, To: e2eNumber, Text: s.text}); err != nil {
			t.Fatal(err)
		}
		all := env.ev.wait(t, 10*time.Second, "inbound "+s.text, func(all []e2eEvent) bool {
			for _, e := range all {
				if e.Type == events.MessageInbound && e.Data.Text == s.text {
					return true
				}
			}
			return false
		})
		var contact []e2eEvent
		inboundAt := -1
		for j, e := range all {
			if e.Type == events.MessageInbound && e.Data.Text == s.text {
				inboundAt = j
			}
			if strings.HasPrefix(e.Type, "contact.") {
				contact = append(contact, e)
			}
		}
		wantContacts := 0
		for _, p := range steps[:i+1] {
			if p.typ != "" {
				wantContacts++
			}
		}
		if len(contact) != wantContacts {
			t.Fatalf("step %q: %d contact events, want %d", s.text, len(contact), wantContacts)
		}
		if s.typ != "" {
			c := contact[len(contact)-1]
			if c.Type != s.typ || c.Data.Number != handset || c.Data.Keyword != s.keyword || c.Data.Sequence != 1 ||
				c.Data.ReceivedAt == nil || c.Subject != "sms.events.acme."+s.typ {
				t.Errorf("step %q: contact event %s %+v", s.text, c.Subject, c.Data)
			}
			// contact.* comes before the message.inbound of the same text.
			for j, e := range all {
				if e.ID == c.ID && j > inboundAt {
					t.Errorf("step %q: contact event after message.inbound", s.text)
				}
			}
		}
		if got := optedOut(); got != s.out {
			t.Errorf("step %q: opted out = %v, want %v", s.text, got, s.out)
		}
	}
}

// TestE2EReceiptBeforeResp: the SMSC sends the receipt before the
// submit_sm_resp; the engine must still correlate every one.
func TestE2EReceiptBeforeResp(t *testing.T) {
	env := e2eStart(t, e2eOpts{sim: simulator.Config{Faults: simulator.Faults{ReceiptBeforeResp: true, DuplicateReceipts: true}}})
	var ids []string
	msgs := make([]map[string]any, 50)
	for i := range msgs {
		to := fmt.Sprintf("+4477009%05d", i)
		if i%5 == 0 {
			to = "+447700901400"
		}
		msgs[i] = map[string]any{"to": to, "text": fmt.Sprintf("message %d", i)}
	}
	ids = env.submitBatch(msgs)
	env.ev.wait(t, 15*time.Second, "every final event", func(all []e2eEvent) bool {
		return len(e2eFinals(all)) == len(ids)
	})
	time.Sleep(300 * time.Millisecond)
	f := e2eFinals(env.ev.snapshot())
	for i, id := range ids {
		if f[id] != 1 {
			t.Errorf("message %d: %d final events", i, f[id])
		}
	}
}

// TestE2EDropConnections: the SMSC drops every connection several times
// during a few hundred messages; every accepted message still ends with
// exactly one final event.
func TestE2EDropConnections(t *testing.T) {
	env := e2eStart(t, e2eOpts{
		sim: simulator.Config{ReceiptDelay: 5 * time.Millisecond, ReceiptDelayMax: 50 * time.Millisecond},
		// Enough attempts to ride out the drops (100ms+200ms+400ms+800ms).
		conf:   func(c *config.Config) { c.Messages.SubmitAttempts = 5 },
		engine: func(c *EngineConfig) { c.SubmitRetryMin, c.SubmitRetryMax = 100*time.Millisecond, time.Second },
	})
	const n = 400
	var ids []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 6; i++ {
			time.Sleep(150 * time.Millisecond)
			env.sim.DropConnections()
		}
	}()
	for b := 0; b < n/100; b++ {
		msgs := make([]map[string]any, 100)
		for i := range msgs {
			msgs[i] = map[string]any{"to": fmt.Sprintf("+4477008%05d", b*100+i), "text": fmt.Sprintf("load %d", b*100+i)}
		}
		ids = append(ids, env.submitBatch(msgs)...)
		time.Sleep(100 * time.Millisecond)
	}
	<-done
	env.ev.wait(t, 18*time.Second, "every final event", func(all []e2eEvent) bool {
		return len(e2eFinals(all)) == len(ids)
	})
	time.Sleep(300 * time.Millisecond)
	e2eExactlyOneFinal(t, env.ev.snapshot(), ids)
	if st := env.sim.Stats(); st.BindsTotal < 4 {
		t.Errorf("simulator saw %d binds: the connections were not dropped under load", st.BindsTotal)
	} else {
		t.Logf("binds %d, submit_sm %d, receipts sent %d / retried %d", st.BindsTotal, st.SubmitSM, st.ReceiptsSent, st.ReceiptsRetried)
	}
}

func e2eExactlyOneFinal(t *testing.T, all []e2eEvent, ids []string) {
	t.Helper()
	f := e2eFinals(all)
	types := map[string]int{}
	for _, e := range all {
		types[e.Type]++
	}
	t.Logf("events by type: %v", types)
	if types[events.MessageFailed] > 0 {
		t.Errorf("%d messages failed; every destination here is deliverable", types[events.MessageFailed])
		for _, e := range all {
			if e.Type == events.MessageFailed {
				t.Logf("failed: %+v", *e.Data.Reason)
				break
			}
		}
	}
	bad := 0
	for _, id := range ids {
		if f[id] != 1 {
			bad++
			if bad < 5 {
				t.Errorf("message %s: %d final events: %+v", id, f[id], e2eFor(all, id))
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d messages without exactly one final event", bad, len(ids))
	}
}

// TestE2EEngineRestart: the engine is stopped mid-load — killed (Close with
// an expired context: work in progress abandoned, nothing acknowledged) or
// gracefully (Close drains) — and a fresh engine takes over on the same
// NATS; nothing accepted is lost and no message gets two final events.
func TestE2EEngineRestart(t *testing.T) {
	for _, graceful := range []bool{false, true} {
		name := map[bool]string{false: "kill", true: "graceful"}[graceful]
		t.Run(name, func(t *testing.T) {
			env := e2eStart(t, e2eOpts{sim: simulator.Config{ReceiptDelay: 20 * time.Millisecond, ReceiptDelayMax: 200 * time.Millisecond}})
			var ids []string
			for b := 0; b < 3; b++ {
				msgs := make([]map[string]any, 100)
				for i := range msgs {
					msgs[i] = map[string]any{"to": fmt.Sprintf("+4477007%05d", b*100+i), "text": fmt.Sprintf("restart %d", b*100+i)}
				}
				ids = append(ids, env.submitBatch(msgs)...)
			}
			time.Sleep(50 * time.Millisecond)
			stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if !graceful {
				cancel()
			}
			start := time.Now()
			_ = env.eng.Close(stopCtx)
			cancel()
			if graceful {
				if d := time.Since(start); d > 3*time.Second {
					t.Errorf("graceful Close took %v", d)
				}
				// Drained: no submission taken and left unacknowledged.
				// (Receipts may be: one that waits, with a delay, for its
				// submit to be recorded stays pending for the next engine.)
				ci, err := env.b.JS.Consumer(env.ctx, SubmitStream, SubmitConsumer)
				if err != nil {
					t.Fatal(err)
				}
				info, err := ci.Info(env.ctx)
				if err != nil {
					t.Fatal(err)
				}
				if info.NumAckPending != 0 {
					t.Errorf("%d submissions unacknowledged after a graceful Close", info.NumAckPending)
				}
			}
			before := len(e2eFinals(env.ev.snapshot()))
			if before == len(ids) {
				t.Fatalf("every message was final before the stop: the test proves nothing")
			}
			t.Logf("%d of %d messages final when the engine was stopped", before, len(ids))
			// More work arrives while no engine runs.
			msgs := make([]map[string]any, 100)
			for i := range msgs {
				msgs[i] = map[string]any{"to": fmt.Sprintf("+4477006%05d", i), "text": fmt.Sprintf("while down %d", i)}
			}
			ids = append(ids, env.submitBatch(msgs)...)
			env.eng = env.startEngine()
			env.ev.wait(t, 18*time.Second, "every final event", func(all []e2eEvent) bool {
				return len(e2eFinals(all)) == len(ids)
			})
			time.Sleep(300 * time.Millisecond)
			e2eExactlyOneFinal(t, env.ev.snapshot(), ids)
		})
	}
}

// TestE2ENATSUnavailable: while NATS is down, deliver_sm is answered
// ESME_RX_T_APPN (the simulator counts retries) and nothing is lost: once
// NATS is back every receipt and reply is processed.
func TestE2ENATSUnavailable(t *testing.T) {
	ns := startTestNATS(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b, err := bus.Open(ctx, bus.Config{URL: ns.url()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	env := e2eStart(t, e2eOpts{bus: b, sim: simulator.Config{ReceiptDelay: 800 * time.Millisecond, ReceiptRetry: 200 * time.Millisecond}})
	msgs := make([]map[string]any, 20)
	for i := range msgs {
		msgs[i] = map[string]any{"to": fmt.Sprintf("+4477005%05d", i), "text": fmt.Sprintf("outage %d", i)}
	}
	ids := env.submitBatch(msgs)
	env.ev.wait(t, 10*time.Second, "every message.sent", func(all []e2eEvent) bool {
		n := 0
		for _, e := range all {
			if e.Type == events.MessageSent {
				n++
			}
		}
		return n == len(ids)
	})
	ns.stop()
	if err := env.sim.InjectMO(env.ctx, simulator.MO{From: "+447700900321", To: e2eNumber, Text: "sent during the outage"}); err != nil {
		t.Fatal(err)
	}
	st, err := env.sim.WaitStats(e2eTimeout(t, 10*time.Second), func(s simulator.Stats) bool {
		return s.ReceiptsRetried >= int64(len(ids)) && s.MORetried >= 1
	})
	if err != nil {
		t.Fatalf("receipts were not refused while NATS was down: %+v: %v", st, err)
	}
	if st.ReceiptsAcked != 0 {
		t.Errorf("%d receipts acknowledged while NATS was down", st.ReceiptsAcked)
	}
	if env.eng.Ready() != nil {
		t.Errorf("engine not ready: %v", env.eng.Ready())
	}
	ns.start()
	all := env.ev.wait(t, 15*time.Second, "every final event and the reply", func(all []e2eEvent) bool {
		for _, e := range all {
			if e.Type == events.MessageInbound {
				return len(e2eFinals(all)) == len(ids)
			}
		}
		return false
	})
	time.Sleep(300 * time.Millisecond)
	e2eExactlyOneFinal(t, env.ev.snapshot(), ids)
	t.Logf("receipts retried %d while NATS was down; %d events", st.ReceiptsRetried, len(all))
}

func e2eTimeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
