package smpp_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/fiorix/go-smpp/smpp/pdu"

	"github.com/smsgw/smsgw/simulator"
	"github.com/smsgw/smsgw/smpp"
)

// TestBindsReportWindowInUse checks the BindState fields the gateway's
// smsgw_smpp_window_in_use / _window_size metrics read: submits the SMSC
// never answers hold window slots until their response timeout.
func TestBindsReportWindowInUse(t *testing.T) {
	sim := startSim(t, simulator.Config{Faults: simulator.Faults{NeverAnswerSubmit: true}})
	cfg := simSMSCConfig(sim.Addr(), smpp.HandlerFunc(func(context.Context, smpp.Inbound) pdu.Status { return smpp.StatusOK }))
	cfg.Window = 8
	cfg.ResponseTimeout = 500 * time.Millisecond
	s := startClient(t, cfg)
	waitFor(t, "bound", s.Bound)
	if b := s.Binds()[0]; b.InFlight != 0 || b.Window != 8 {
		t.Fatalf("idle bind: in flight %d, window %d; want 0, 8", b.InFlight, b.Window)
	}
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			_, err := s.Submit(ctxT(t), smpp.Message{To: "+447700900123", From: "ACME", Text: "x"})
			if err == nil {
				t.Error("unanswered submit succeeded")
			}
		})
	}
	waitFor(t, "3 in flight", func() bool { return s.Binds()[0].InFlight == 3 })
	wg.Wait() // each times out after ResponseTimeout and frees its slot
	if b := s.Binds()[0]; b.InFlight != 0 {
		t.Fatalf("after the timeouts: in flight %d, want 0", b.InFlight)
	}
}

// TestBindsWindowOnlyForTransmitters: a receiver bind has no window.
func TestBindsWindowOnlyForTransmitters(t *testing.T) {
	sim := startSim(t, simulator.Config{})
	cfg := simSMSCConfig(sim.Addr(), smpp.HandlerFunc(func(context.Context, smpp.Inbound) pdu.Status { return smpp.StatusOK }))
	cfg.Bind = smpp.BindTransmitterReceiver
	s := startClient(t, cfg)
	waitFor(t, "bound", func() bool {
		for _, b := range s.Binds() {
			if b.State != smpp.StateBound {
				return false
			}
		}
		return true
	})
	for _, b := range s.Binds() {
		want := smpp.DefaultWindow
		if b.Mode == "receiver" {
			want = 0
		}
		if b.Window != want || b.InFlight != 0 {
			t.Errorf("%s: window %d in flight %d, want %d, 0", b.ID, b.Window, b.InFlight, want)
		}
	}
}
