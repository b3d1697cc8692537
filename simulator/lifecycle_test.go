package simulator

import (
	"context"
	"errors"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/fiorix/go-smpp/smpp/pdu"
)

func TestConfigValidation(t *testing.T) {
	cases := []struct {
		name   string
		cfg    Config
		fields []string
	}{
		{"id format", Config{IDFormat: "base64"}, []string{"IDFormat"}},
		{"credentials", Config{Credentials: []Credential{{"", "x"}, {"a", "b"}, {"a", "c"}}}, []string{"Credentials[0].SystemID", "Credentials[2].SystemID"}},
		{"negative numbers", Config{TPS: -1, Window: -1, BindLimit: -1, ReceiptDelay: -time.Second}, []string{"TPS", "Window", "BindLimit", "ReceiptDelay"}},
		{"rules", Config{Rules: []Rule{{Stat: "LOST"}, {NoReceipt: true, Stat: "DELIVRD"}, {Stat: "DELIVRD", Err: "1234"}, {Stat: "DELIVRD", Probability: 2}}},
			[]string{"Rules[0].Stat", "Rules[1].Stat", "Rules[2].Err", "Rules[3].Probability"}},
		{"faults", Config{Faults: Faults{UnsolicitedEvery: -1, DropAfterPDUs: -2, DropProbability: 1.5, ResponseDelay: -1}},
			[]string{"Faults.UnsolicitedEvery", "Faults.DropAfterPDUs", "Faults.DropProbability", "Faults.ResponseDelay"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Start(context.Background(), tc.cfg)
			if err == nil {
				t.Fatal("no error")
			}
			for _, f := range tc.fields {
				if !strings.Contains(err.Error(), "config "+f+":") {
					t.Errorf("error does not name %s: %v", f, err)
				}
			}
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Errorf("not a *ConfigError: %T", err)
			}
		})
	}
}

func TestListenError(t *testing.T) {
	s := startSim(t, Config{})
	if _, err := Start(context.Background(), Config{Addr: s.Addr()}); err == nil {
		t.Fatal("second listener on the same port started")
	}
	if _, err := Start(context.Background(), Config{HTTPAddr: s.Addr()}); err == nil {
		t.Fatal("control API on a used port started")
	}
}

func TestCloseWaitsAndIsIdempotent(t *testing.T) {
	before := runtime.NumGoroutine()
	s, err := Start(context.Background(), Config{HTTPAddr: "127.0.0.1:0", ReceiptDelay: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	c := dialRaw(t, s)
	c.mustBind(t, pdu.NewBindTransceiver())
	c.submitOK(t, "+447700900123") // a receipt is scheduled for later
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	c.closed(t)
	if _, err := net.Dial("tcp", s.Addr()); err == nil {
		t.Fatal("listener still open")
	}
	if err := s.InjectMO(context.Background(), MO{"+447700900123", "ACME", "x"}); !errors.Is(err, ErrClosed) {
		t.Fatalf("InjectMO after Close: %v", err)
	}
	// The test's own client reader may still be finishing; the server's
	// goroutines are all gone.
	deadline := time.Now().Add(testTimeout)
	for runtime.NumGoroutine() > before+2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before+2 {
		t.Fatalf("%d goroutines, %d before Start", n, before)
	}
}

func TestContextCancelStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	s, err := Start(ctx, Config{})
	if err != nil {
		t.Fatal(err)
	}
	c := dialRaw(t, s)
	c.mustBind(t, pdu.NewBindTransceiver())
	cancel()
	c.closed(t)
	s.Close() // waits; returns although the context ended it
}

func TestMaxMessages(t *testing.T) {
	for _, tc := range []struct{ max, want int }{{0, 25}, {10, 10}, {-1, 0}} {
		s := startSim(t, Config{MaxMessages: tc.max})
		c := dialRaw(t, s)
		c.mustBind(t, pdu.NewBindTransmitter())
		var last string
		for range 25 {
			last = c.submitOK(t, "+447700900123")
		}
		msgs := s.Messages()
		if len(msgs) != tc.want {
			t.Fatalf("MaxMessages %d: %d messages, want %d", tc.max, len(msgs), tc.want)
		}
		if tc.want > 0 {
			if msgs[len(msgs)-1].ID != last {
				t.Fatalf("MaxMessages %d: newest is %s, want %s", tc.max, msgs[len(msgs)-1].ID, last)
			}
			if m, ok := s.Message(last); !ok || m.ID != last {
				t.Fatalf("Message(%s) = %+v, %v", last, m, ok)
			}
		}
	}
}
