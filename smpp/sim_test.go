package smpp_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fiorix/go-smpp/smpp/pdu"

	"github.com/smsgw/smsgw/simulator"
	"github.com/smsgw/smsgw/smpp"
)

// Acceptance tests against the project's SMSC simulator over TCP.

func startSim(t testing.TB, cfg simulator.Config) *simulator.Server {
	t.Helper()
	sim, err := simulator.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	return sim
}

func simSMSCConfig(addr string, h smpp.Handler) smpp.Config {
	return smpp.Config{
		Name: "sim", Addr: addr, SystemID: "smsgw", Password: "secret",
		ResponseTimeout: 2 * time.Second,
		ReconnectMin:    10 * time.Millisecond,
		ReconnectMax:    100 * time.Millisecond,
		ThrottlePause:   50 * time.Millisecond,
		Handler:         h,
	}
}

func startClient(t testing.TB, cfg smpp.Config) *smpp.SMSC {
	t.Helper()
	s, err := smpp.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// receipts collects receipts by message id key.
type receipts struct {
	mu  sync.Mutex
	got map[string]smpp.Receipt
	mo  []smpp.Inbound
}

func (r *receipts) HandleDeliver(_ context.Context, in smpp.Inbound) pdu.Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	if in.IsReceipt {
		for _, k := range smpp.ReceiptIDKeys(in.Receipt.ID, smpp.IDAuto) {
			r.got[k] = in.Receipt
		}
	} else {
		r.mo = append(r.mo, in)
	}
	return smpp.StatusOK
}

func (r *receipts) lookup(id string) (smpp.Receipt, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rc, ok := r.got[smpp.IDKey(id, smpp.IDAuto)]
	return rc, ok
}

func TestSimBindModesSubmitAndReceipts(t *testing.T) {
	tests := []struct {
		mode  smpp.BindMode
		binds int
		conns int64
	}{
		{smpp.BindTransceiver, 1, 1},
		{smpp.BindTransceiver, 2, 2},
		{smpp.BindTransmitterReceiver, 1, 2},
	}
	for _, tt := range tests {
		t.Run(string(tt.mode), func(t *testing.T) {
			sim := startSim(t, simulator.Config{})
			h := &receipts{got: map[string]smpp.Receipt{}}
			cfg := simSMSCConfig(sim.Addr(), h)
			cfg.Bind, cfg.Binds = tt.mode, tt.binds
			s := startClient(t, cfg)
			if _, err := sim.WaitStats(ctxT(t), func(st simulator.Stats) bool { return st.Binds == tt.conns }); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "bound", s.Bound)
			dests := map[string]string{"+447700901400": "UNDELIV", "+447700900123": "DELIVRD", "+447700901408": "REJECTD"}
			ids := map[string]string{}
			for to := range dests {
				res, err := s.Submit(ctxT(t), smpp.Message{From: "ACME", To: to, Text: "hello " + to})
				if err != nil {
					t.Fatal(err)
				}
				ids[to] = res.Parts[0].MessageID
			}
			for to, stat := range dests {
				waitFor(t, "receipt for "+to, func() bool { _, ok := h.lookup(ids[to]); return ok })
				if rc, _ := h.lookup(ids[to]); rc.Stat != stat {
					t.Errorf("%s: receipt stat %q, want %q", to, rc.Stat, stat)
				}
			}
			if err := sim.InjectMO(ctxT(t), simulator.MO{From: "+447700900999", To: "ACME", Text: "YES"}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "MO", func() bool { h.mu.Lock(); defer h.mu.Unlock(); return len(h.mo) == 1 })
			if mo := h.mo[0]; mo.Text != "YES" || mo.From != "447700900999" {
				t.Fatalf("MO %+v", mo)
			}
		})
	}
}

func TestSimWrongPassword(t *testing.T) {
	sim := startSim(t, simulator.Config{})
	cfg := simSMSCConfig(sim.Addr(), &receipts{got: map[string]smpp.Receipt{}})
	cfg.Password = "nope"
	s := startClient(t, cfg)
	waitFor(t, "bind refused", func() bool { return s.Binds()[0].LastError != "" })
	if b := s.Binds()[0]; !strings.Contains(b.LastError, "invalid password") || b.State != smpp.StateConnecting {
		t.Fatalf("bind %+v", b)
	}
	_, err := s.Submit(ctxT(t), smpp.Message{From: "ACME", To: "+447700900123", Text: "x"})
	if !errors.Is(err, smpp.ErrNotBound) {
		t.Fatalf("submit: %v", err)
	}
}

func TestSimReconnect(t *testing.T) {
	sim := startSim(t, simulator.Config{})
	s := startClient(t, simSMSCConfig(sim.Addr(), &receipts{got: map[string]smpp.Receipt{}}))
	waitFor(t, "bound", s.Bound)

	t.Run("after drop", func(t *testing.T) {
		before := sim.Stats().BindsTotal
		sim.DropConnections()
		if _, err := sim.WaitStats(ctxT(t), func(st simulator.Stats) bool { return st.BindsTotal > before && st.Binds == 1 }); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "bound", s.Bound)
		if _, err := s.Submit(ctxT(t), smpp.Message{From: "ACME", To: "+447700900123", Text: "after drop"}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("after refused binds", func(t *testing.T) {
		before := sim.Stats().BindsTotal
		sim.SetFaults(simulator.Faults{RefuseBindsUntil: time.Now().Add(300 * time.Millisecond)})
		sim.DropConnections()
		waitFor(t, "bind refused", func() bool { return strings.Contains(s.Binds()[0].LastError, "bind") && !s.Bound() })
		if _, err := sim.WaitStats(ctxT(t), func(st simulator.Stats) bool { return st.BindsTotal > before }); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "bound", s.Bound)
		if _, err := s.Submit(ctxT(t), smpp.Message{From: "ACME", To: "+447700900123", Text: "after refusal"}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestSimWindowFull(t *testing.T) {
	sim := startSim(t, simulator.Config{Faults: simulator.Faults{NeverAnswerSubmit: true}})
	cfg := simSMSCConfig(sim.Addr(), &receipts{got: map[string]smpp.Receipt{}})
	cfg.Window = 4
	cfg.ResponseTimeout = time.Minute
	s := startClient(t, cfg)
	waitFor(t, "bound", s.Bound)

	errs := make(chan error, cfg.Window)
	for range cfg.Window {
		go func() {
			_, err := s.Submit(context.Background(), smpp.Message{From: "ACME", To: "+447700900123", Text: "x"})
			errs <- err
		}()
	}
	if _, err := sim.WaitStats(ctxT(t), func(st simulator.Stats) bool { return st.SubmitSM == int64(cfg.Window) }); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := s.Submit(ctx, smpp.Message{From: "ACME", To: "+447700900123", Text: "x"})
	if !errors.Is(err, context.DeadlineExceeded) || !smpp.IsTemporary(err) || time.Since(start) < 140*time.Millisecond {
		t.Fatalf("submit on a full window: %v after %v", err, time.Since(start))
	}
	if n := sim.Stats().SubmitSM; n != int64(cfg.Window) {
		t.Fatalf("%d submit_sm on the wire, window is %d", n, cfg.Window)
	}
	sim.DropConnections()
	for range cfg.Window {
		select {
		case err := <-errs:
			if !errors.Is(err, smpp.ErrConnectionLost) || !smpp.IsTemporary(err) {
				t.Fatalf("outstanding: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("outstanding submit hangs after the drop")
		}
	}
}

func TestSimThrottling(t *testing.T) {
	sim := startSim(t, simulator.Config{TPS: 50})
	cfg := simSMSCConfig(sim.Addr(), &receipts{got: map[string]smpp.Receipt{}})
	s := startClient(t, cfg)
	waitFor(t, "bound", s.Bound)
	var throttled, ok atomic.Int64
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			_, err := s.Submit(ctxT(t), smpp.Message{From: "ACME", To: "+447700900123", Text: "x"})
			var se *smpp.SubmitError
			switch {
			case err == nil:
				ok.Add(1)
			case errors.As(err, &se) && se.Status == smpp.StatusThrottled && se.Temporary:
				throttled.Add(1)
			default:
				t.Errorf("unexpected: %v", err)
			}
		})
	}
	wg.Wait()
	if throttled.Load() == 0 || sim.Stats().Throttled == 0 {
		t.Fatalf("nothing throttled (ok %d)", ok.Load())
	}

	// With the SMSC's rate configured as our TPS, nothing is throttled.
	sim2 := startSim(t, simulator.Config{TPS: 100})
	cfg2 := simSMSCConfig(sim2.Addr(), &receipts{got: map[string]smpp.Receipt{}})
	cfg2.TPS = 80
	s2 := startClient(t, cfg2)
	waitFor(t, "bound", s2.Bound)
	for range 100 {
		wg.Go(func() {
			if _, err := s2.Submit(ctxT(t), smpp.Message{From: "ACME", To: "+447700900123", Text: "x"}); err != nil {
				t.Errorf("submit under our own TPS limit: %v", err)
			}
		})
	}
	wg.Wait()
	if n := sim2.Stats().Throttled; n != 0 {
		t.Fatalf("%d throttled under the TPS limit", n)
	}
}

func TestSimResponseTimeout(t *testing.T) {
	sim := startSim(t, simulator.Config{})
	cfg := simSMSCConfig(sim.Addr(), &receipts{got: map[string]smpp.Receipt{}})
	cfg.ResponseTimeout = 100 * time.Millisecond
	cfg.EnquireLink = time.Hour
	s := startClient(t, cfg)
	waitFor(t, "bound", s.Bound)
	sim.SetFaults(simulator.Faults{ResponseDelay: 500 * time.Millisecond})
	_, err := s.Submit(ctxT(t), smpp.Message{From: "ACME", To: "+447700900123", Text: "x"})
	if !errors.Is(err, smpp.ErrTimeout) || !smpp.IsTemporary(err) {
		t.Fatalf("err %v", err)
	}
}

func TestSimLongMessages(t *testing.T) {
	tests := []struct {
		name   string
		text   string
		concat smpp.ConcatMode
		parts  int
		dc     byte
	}{
		{"gsm udh with extension chars", strings.Repeat("Hello {world} ", 30), smpp.ConcatUDH, 4, 0}, // 480 septets
		{"ucs2 udh", strings.Repeat("Привет, мир! 👋 ", 10), smpp.ConcatUDH, 3, 8},
		{"gsm sar", strings.Repeat("0123456789", 35), smpp.ConcatSAR, 3, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim := startSim(t, simulator.Config{})
			cfg := simSMSCConfig(sim.Addr(), &receipts{got: map[string]smpp.Receipt{}})
			cfg.Concat = tt.concat
			s := startClient(t, cfg)
			waitFor(t, "bound", s.Bound)
			res, err := s.Submit(ctxT(t), smpp.Message{From: "ACME", To: "+447700900123", Text: tt.text})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Parts) != tt.parts {
				t.Fatalf("%d parts, want %d", len(res.Parts), tt.parts)
			}
			msgs := sim.Messages()
			if len(msgs) != tt.parts {
				t.Fatalf("simulator got %d parts", len(msgs))
			}
			for i, m := range msgs {
				if m.DataCoding != tt.dc || m.PartTotal != tt.parts || m.ID != res.Parts[m.PartSeq-1].MessageID {
					t.Errorf("part %d: %+v", i, m)
				}
			}
			if got := sim.Reassembled(); len(got) != 1 || got[0] != tt.text {
				t.Fatalf("reassembled %q\nwant %q", got, tt.text)
			}
		})
	}
}

func TestSimHandlerStatusReachesSMSC(t *testing.T) {
	sim := startSim(t, simulator.Config{ReceiptRetry: 20 * time.Millisecond})
	var fail atomic.Bool
	fail.Store(true)
	var calls atomic.Int64
	h := smpp.HandlerFunc(func(ctx context.Context, in smpp.Inbound) pdu.Status {
		calls.Add(1)
		if fail.Load() {
			return smpp.StatusRxTAppn // e.g. storing the event failed
		}
		return smpp.StatusOK
	})
	s := startClient(t, simSMSCConfig(sim.Addr(), h))
	waitFor(t, "bound", s.Bound)
	if _, err := s.Submit(ctxT(t), smpp.Message{From: "ACME", To: "+447700900123", Text: "x"}); err != nil {
		t.Fatal(err)
	}
	if _, err := sim.WaitStats(ctxT(t), func(st simulator.Stats) bool { return st.ReceiptsRetried >= 2 }); err != nil {
		t.Fatal(err)
	}
	if st := sim.Stats(); st.ReceiptsAcked != 0 {
		t.Fatalf("receipt acked while the handler refuses: %+v", st)
	}
	fail.Store(false)
	if _, err := sim.WaitStats(ctxT(t), func(st simulator.Stats) bool { return st.ReceiptsAcked == 1 }); err != nil {
		t.Fatal(err)
	}
	if calls.Load() < 3 {
		t.Fatalf("handler called %d times", calls.Load())
	}
}
