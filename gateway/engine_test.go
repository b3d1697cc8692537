package gateway

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fiorix/go-smpp/smpp/pdu"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/smsgw/smsgw/bus"
	"github.com/smsgw/smsgw/config"
	"github.com/smsgw/smsgw/events"
	"github.com/smsgw/smsgw/smpp"
)

// engFake is a hand-written SMSC: Submit runs a scripted function and
// Deliver plays deliver_sm into the engine's handler, as the session would.
type engFake struct {
	name    string
	handler smpp.Handler
	bound   atomic.Bool
	submit  func(n int, m smpp.Message) (smpp.Result, error)
	mu      sync.Mutex
	calls   []smpp.Message
	closed  atomic.Int32
}

func (f *engFake) Name() string                { return f.name }
func (f *engFake) Start(context.Context) error { return nil }
func (f *engFake) Bound() bool                 { return f.bound.Load() }
func (f *engFake) Close(context.Context) error { f.closed.Add(1); return nil }
func (f *engFake) deliver(in smpp.Inbound) pdu.Status {
	return f.handler.HandleDeliver(context.Background(), in)
}

func (f *engFake) Binds() []smpp.BindState {
	st := "connecting"
	if f.bound.Load() {
		st = "bound"
	}
	return []smpp.BindState{{ID: f.name + "/1", Mode: "transceiver", State: st, LastError: "dial refused"}}
}

func (f *engFake) Submit(_ context.Context, m smpp.Message) (smpp.Result, error) {
	f.mu.Lock()
	f.calls = append(f.calls, m)
	n := len(f.calls)
	f.mu.Unlock()
	if f.submit != nil {
		return f.submit(n, m)
	}
	return smpp.Result{Encoding: smpp.EncodingGSM7, Parts: []smpp.PartResult{{MessageID: fmt.Sprintf("%x", 0xabc000+n)}}}, nil
}

func (f *engFake) submits() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

var _ EngineSMSC = (*engFake)(nil)

// engTestEnv runs an engine over fakes on a real embedded JetStream.
type engTestEnv struct {
	t     *testing.T
	ctx   context.Context
	b     *bus.Bus
	store *Store
	eng   *Engine
	fakes map[string]*engFake
	ev    *e2eEvents
}

func engStart(t *testing.T, fakes []*engFake, conf func(*config.Config), ecfg func(*EngineConfig)) *engTestEnv {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	b, err := bus.Open(ctx, bus.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	env := &engTestEnv{t: t, ctx: ctx, b: b, fakes: map[string]*engFake{}}
	cfg := config.Default()
	cfg.Accounts = []config.Account{{ID: e2eAccount, APIKeys: []string{e2eKey}, Sender: "ACME", Numbers: []string{e2eNumber}}}
	var names []string
	for _, f := range fakes {
		sc := config.SMSCDefaults()
		sc.Name, sc.Addr, sc.SystemID = f.name, "127.0.0.1:1", "x"
		cfg.SMSCs = append(cfg.SMSCs, sc)
		env.fakes[f.name] = f
		names = append(names, f.name)
	}
	cfg.Routes = []config.Route{{Prefix: "+", SMSCs: names}}
	cfg.Messages.SubmitAttempts = 3
	if conf != nil {
		conf(&cfg)
	}
	if env.store, err = OpenStore(ctx, StoreConfig{Bus: b}); err != nil {
		t.Fatal(err)
	}
	ec := EngineConfig{
		Bus: b, Config: cfg, Registry: prometheus.NewRegistry(),
		AckWait: 2 * time.Second, SubmitRetryMin: 20 * time.Millisecond, SubmitRetryMax: 100 * time.Millisecond,
		ReceiptRetryMin: 10 * time.Millisecond, ReceiptRetryMax: 50 * time.Millisecond, FetchWait: 100 * time.Millisecond,
		SMSCFactory: func(c smpp.Config) (EngineSMSC, error) {
			f := env.fakes[c.Name]
			if f == nil {
				return nil, fmt.Errorf("no fake %s", c.Name)
			}
			f.handler = c.Handler
			return f, nil
		},
	}
	if ecfg != nil {
		ecfg(&ec)
	}
	if env.eng, err = NewEngine(ec); err != nil {
		t.Fatal(err)
	}
	if err := env.eng.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.eng.Close(context.Background()) })
	env.ev = e2eWatch(t, ctx, b)
	return env
}

// accept stores and queues a message as the HTTP API does.
func (env *engTestEnv) accept(to, route string) string {
	env.t.Helper()
	m := &Message{
		ID: events.NewMessageID(), Account: e2eAccount, To: to, From: "ACME", Text: "hi",
		Encoding: "gsm7", Parts: 1, Route: route, Status: StatusAccepted, CreatedAt: time.Now(),
		Metadata: map[string]string{"k": "v"},
	}
	if err := env.store.Accept(env.ctx, []*Message{m})[0]; err != nil {
		env.t.Fatal(err)
	}
	return m.ID
}

func (env *engTestEnv) final(id string) e2eEvent {
	env.t.Helper()
	var fin e2eEvent
	env.ev.wait(env.t, 10*time.Second, "final event of "+id, func(all []e2eEvent) bool {
		for _, e := range e2eFor(all, id) {
			if e2eIsFinal(e.Type) {
				fin = e
				return true
			}
		}
		return false
	})
	return fin
}

func (env *engTestEnv) sent(id string) e2eEvent {
	env.t.Helper()
	var ev e2eEvent
	env.ev.wait(env.t, 10*time.Second, "message.sent of "+id, func(all []e2eEvent) bool {
		for _, e := range e2eFor(all, id) {
			if e.Type == events.MessageSent {
				ev = e
				return true
			}
		}
		return false
	})
	return ev
}

// record waits until the stored record of id satisfies cond.
func (env *engTestEnv) record(id string, cond func(*Message) bool) *Message {
	env.t.Helper()
	var rec *Message
	e2eEventually(env.t, 5*time.Second, "record of "+id, func() bool {
		m, _, err := env.store.findMessage(env.ctx, e2eAccount, id) // still queued: the entry's record
		if err != nil {
			env.t.Fatal(err)
		}
		rec = m
		return cond(m)
	})
	return rec
}

func engTemp(st pdu.Status) error {
	return &smpp.SubmitError{Status: st, Temporary: true, Part: 1, Err: st}
}

func TestEngineSubmitErrors(t *testing.T) {
	cases := []struct {
		name       string
		submit     func(n int, m smpp.Message) (smpp.Result, error)
		to, route  string
		wantType   string
		wantStatus *int
		wantReason string
		wantCalls  int
	}{
		{
			name:     "temporary then ok",
			submit:   func(n int, _ smpp.Message) (smpp.Result, error) { return engOKAfter(n, 2) },
			to:       "+447700900123",
			wantType: events.MessageSent, wantCalls: 3,
		},
		{
			name: "temporary until attempts run out",
			submit: func(int, smpp.Message) (smpp.Result, error) {
				return smpp.Result{}, engTemp(smpp.StatusThrottled)
			},
			to:       "+447700900123",
			wantType: events.MessageFailed, wantStatus: ptrInt(0x58), wantReason: "retries exhausted after 3 attempts", wantCalls: 3,
		},
		{
			name: "permanent",
			submit: func(int, smpp.Message) (smpp.Result, error) {
				return smpp.Result{}, &smpp.SubmitError{Status: smpp.StatusInvDstAdr, Part: 1, Err: smpp.StatusInvDstAdr}
			},
			to:       "+447700900123",
			wantType: events.MessageFailed, wantStatus: ptrInt(0x0B), wantCalls: 1,
		},
		{
			name:     "no route",
			to:       "+33600000000",
			wantType: events.MessageFailed, wantReason: "no route to +33600000000", wantCalls: 0,
		},
		{
			name:     "unknown requested route",
			to:       "+447700900123",
			route:    "nowhere",
			wantType: events.MessageFailed, wantReason: "no route to +447700900123 via nowhere", wantCalls: 0,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := &engFake{name: "a", submit: c.submit}
			f.bound.Store(true)
			env := engStart(t, []*engFake{f}, func(cfg *config.Config) {
				cfg.Routes = []config.Route{{Prefix: "+44", SMSCs: []string{"a"}}}
			}, nil)
			id := env.accept(c.to, c.route)
			var got e2eEvent
			if c.wantType == events.MessageSent {
				got = env.sent(id)
			} else {
				got = env.final(id)
			}
			if got.Type != c.wantType || got.Data.Sequence != 1 || got.Data.MessageID != id || got.Data.Metadata["k"] != "v" {
				t.Fatalf("event %s %+v", got.Type, got.Data)
			}
			if c.wantType == events.MessageFailed {
				r := got.Data.Reason
				if r == nil || (c.wantStatus == nil) != (r.SMPPStatus == nil) ||
					(c.wantStatus != nil && *r.SMPPStatus != *c.wantStatus) || !strings.Contains(r.Message, c.wantReason) {
					t.Errorf("reason %+v, want status %v and %q", r, c.wantStatus, c.wantReason)
				}
				if got.Data.Status != StatusFailed {
					t.Errorf("status %q", got.Data.Status)
				}
			}
			if n := f.submits(); n != c.wantCalls {
				t.Errorf("%d submits, want %d", n, c.wantCalls)
			}
			// The event is stored before the record is updated.
			rec := env.record(id, func(m *Message) bool { return len(m.Events) > 0 })
			if rec.Status != got.Data.Status || len(rec.Events) != 1 || rec.Events[0].ID != got.ID || rec.Sequence != 1 {
				t.Errorf("record %+v", rec)
			}
		})
	}
}

func engOKAfter(n, fails int) (smpp.Result, error) {
	if n <= fails {
		return smpp.Result{}, engTemp(smpp.StatusMsgQFul)
	}
	return smpp.Result{Parts: []smpp.PartResult{{MessageID: "ff01"}}}, nil
}

func ptrInt(v int) *int { return &v }

func TestEngineFailoverAndRoute(t *testing.T) {
	a, b := &engFake{name: "a"}, &engFake{name: "b"}
	b.bound.Store(true) // a has no bound session
	env := engStart(t, []*engFake{a, b}, nil, nil)
	if err := env.eng.Ready(); err != nil {
		t.Fatalf("ready with b bound: %v", err)
	}
	id := env.accept("+447700900123", "")
	if ev := env.sent(id); ev.Data.SMSC != "b" {
		t.Errorf("sent via %q, want failover to b", ev.Data.SMSC)
	}
	a.bound.Store(true)
	id = env.accept("+447700900123", "b")
	if ev := env.sent(id); ev.Data.SMSC != "b" {
		t.Errorf("sent via %q, want the requested route b", ev.Data.SMSC)
	}
	id = env.accept("+447700900123", "")
	if ev := env.sent(id); ev.Data.SMSC != "a" {
		t.Errorf("sent via %q, want a (first in the route)", ev.Data.SMSC)
	}
	binds := env.eng.Binds()
	if len(binds) != 2 || binds["a"][0].State != "bound" {
		t.Errorf("binds %+v", binds)
	}
}

func TestEngineReadyAndClose(t *testing.T) {
	a := &engFake{name: "a"}
	env := engStart(t, []*engFake{a}, nil, nil)
	err := env.eng.Ready()
	if !errors.Is(err, ErrEngineNotReady) || !strings.Contains(err.Error(), "a/1 connecting (dial refused)") {
		t.Errorf("Ready = %v", err)
	}
	// Nothing is pulled while no SMSC is bound: the message waits, no
	// attempt is spent.
	id := env.accept("+447700900123", "")
	time.Sleep(300 * time.Millisecond)
	if a.submits() != 0 {
		t.Fatalf("%d submits with no bind up", a.submits())
	}
	a.bound.Store(true)
	env.sent(id)
	if err := env.eng.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := env.eng.Close(context.Background()); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if a.closed.Load() != 1 {
		t.Errorf("smsc closed %d times", a.closed.Load())
	}
	if !errors.Is(env.eng.Ready(), ErrEngineNotReady) {
		t.Error("ready after close")
	}
	if err := env.eng.Start(env.ctx); !errors.Is(err, ErrEngineClosed) {
		t.Errorf("Start after Close = %v", err)
	}
}

// TestEngineMultipartReceipts plays the receipts of a three-part message
// concurrently, with duplicates and an intermediate state: one final event,
// with the first failing part's reason.
func TestEngineMultipartReceipts(t *testing.T) {
	cases := []struct {
		name     string
		stats    [3]string
		errs     [3]string
		wantType string
		reason   *events.Reason
	}{
		{"all delivered", [3]string{"DELIVRD", "DELIVRD", "DELIVRD"}, [3]string{"000", "000", "000"}, events.MessageDelivered, nil},
		{"mixed", [3]string{"DELIVRD", "UNDELIV", "EXPIRED"}, [3]string{"000", "0001", "027"}, events.MessageUndelivered,
			events.NewReason(events.HardBounce, "UNDELIV", "0001")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := &engFake{name: "a", submit: func(n int, _ smpp.Message) (smpp.Result, error) {
				return smpp.Result{Encoding: smpp.EncodingGSM7, Parts: []smpp.PartResult{
					{MessageID: fmt.Sprintf("%X", 0x100+n*3)}, {MessageID: fmt.Sprintf("%X", 0x101+n*3)}, {MessageID: fmt.Sprintf("%X", 0x102+n*3)},
				}}, nil
			}}
			f.bound.Store(true)
			env := engStart(t, []*engFake{f}, nil, nil)
			id := env.accept("+447700900123", "")
			sent := env.sent(id)
			if sent.Data.PartCount != 3 {
				t.Fatalf("part_count %d", sent.Data.PartCount)
			}
			var wg sync.WaitGroup
			for rep := 0; rep < 2; rep++ { // every receipt twice
				for p := 0; p < 3; p++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						// Ids in decimal: the engine must match them to hex submit ids.
						rid := fmt.Sprint(0x100 + 3 + p)
						if st := f.deliver(smpp.Inbound{IsReceipt: true, Receipt: smpp.Receipt{ID: rid, Stat: "ENROUTE"}}); st != smpp.StatusOK {
							t.Errorf("deliver status %v", st)
						}
						f.deliver(smpp.Inbound{IsReceipt: true, Receipt: smpp.Receipt{
							ID: rid, Stat: c.stats[p], Err: c.errs[p], Final: true, Delivered: c.stats[p] == "DELIVRD",
						}})
					}()
				}
			}
			wg.Wait()
			fin := env.final(id)
			time.Sleep(300 * time.Millisecond)
			if n := e2eFinals(env.ev.snapshot())[id]; n != 1 {
				t.Fatalf("%d final events", n)
			}
			if fin.Type != c.wantType || fin.Data.Sequence != 2 || fin.Data.PartCount != 3 {
				t.Errorf("final %s %+v", fin.Type, fin.Data)
			}
			if (c.reason == nil) != (fin.Data.Reason == nil) || (c.reason != nil && *c.reason != *fin.Data.Reason) {
				t.Errorf("reason %+v, want %+v", fin.Data.Reason, c.reason)
			}
			rec := env.record(id, func(m *Message) bool { return m.Final() })
			for i, ps := range rec.PartStates {
				if !ps.Final || ps.Stat != c.stats[i] || ps.DoneAt == nil {
					t.Errorf("part %d state %+v", i, ps)
				}
			}
		})
	}
}

// TestEngineUnmatchedReceipt: a receipt for an id nobody submitted is
// retried for ReceiptMatchTimeout, then kept in SMS_UNMATCHED.
func TestEngineUnmatchedReceipt(t *testing.T) {
	f := &engFake{name: "a"}
	f.bound.Store(true)
	env := engStart(t, []*engFake{f}, nil, func(c *EngineConfig) { c.ReceiptMatchTimeout = 300 * time.Millisecond })
	if st := f.deliver(smpp.Inbound{IsReceipt: true, Receipt: smpp.Receipt{ID: "deadbeef", Stat: "DELIVRD", Final: true, Delivered: true}}); st != smpp.StatusOK {
		t.Fatalf("deliver status %v", st)
	}
	s, err := env.b.JS.Stream(env.ctx, UnmatchedStream)
	if err != nil {
		t.Fatal(err)
	}
	e2eEventually(t, 5*time.Second, "the receipt in "+UnmatchedStream, func() bool {
		info, err := s.Info(env.ctx)
		return err == nil && info.State.Msgs == 1
	})
	m, err := s.GetLastMsgForSubject(env.ctx, UnmatchedSubject("a"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(m.Data), "deadbeef") || m.Header.Get(rcptReasonHeader) == "" {
		t.Errorf("unmatched item %s %v", m.Data, m.Header)
	}
	// And the work queue is empty: acknowledged, not lost.
	in, _ := env.b.JS.Stream(env.ctx, InboundStream)
	e2eEventually(t, 5*time.Second, "inbound queue empty", func() bool {
		info, err := in.Info(env.ctx)
		return err == nil && info.State.Msgs == 0
	})
}

// TestEngineDeliverWhileNATSDown: with NATS unreachable the handler answers
// ESME_RX_T_APPN at once, never ESME_ROK.
func TestEngineDeliverWhileNATSDown(t *testing.T) {
	f := &engFake{name: "a"}
	f.bound.Store(true)
	env := engStart(t, []*engFake{f}, nil, nil)
	env.b.Server().Shutdown()
	env.b.Server().WaitForShutdown()
	e2eEventually(t, 5*time.Second, "disconnect", func() bool { return !env.b.NC.IsConnected() })
	start := time.Now()
	st := f.deliver(smpp.Inbound{From: "447700900123", To: "ACME", Text: "hello"})
	if st != smpp.StatusRxTAppn {
		t.Errorf("status %v, want ESME_RX_T_APPN", st)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("answer took %v", d)
	}
}

func TestEngineConfigErrors(t *testing.T) {
	cfg := config.Default()
	sc := config.SMSCDefaults()
	sc.Name = "a"
	cfg.SMSCs = []config.SMSC{sc, sc}
	cfg.Routes = []config.Route{{Prefix: "+", SMSCs: []string{"b"}}}
	_, err := NewEngine(EngineConfig{Config: cfg})
	for _, want := range []string{"bus is required", `name "a" used twice`, `unknown smsc "b"`} {
		if !errors.Is(err, ErrBadEngineConfig) || !strings.Contains(fmt.Sprint(err), want) {
			t.Errorf("error %v: want %q", err, want)
		}
	}
	b, err := bus.Open(context.Background(), bus.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cfg.SMSCs = []config.SMSC{sc}
	cfg.Routes = nil
	ton := 300
	cfg.SMSCs[0].SourceTON = &ton
	if _, err := NewEngine(EngineConfig{Bus: b, Config: cfg}); !errors.Is(err, ErrBadEngineConfig) {
		t.Errorf("source_ton 300: %v", err)
	}
}
