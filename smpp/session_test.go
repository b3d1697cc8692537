package smpp

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fiorix/go-smpp/smpp/pdu"
	"github.com/fiorix/go-smpp/smpp/pdu/pdufield"
)

var okHandler = HandlerFunc(func(context.Context, Inbound) pdu.Status { return StatusOK })

// testConfig is a Config with short timings for tests.
func testConfig(addr string) Config {
	return Config{
		Name: "test", Addr: addr, SystemID: "smsgw", Password: "secret",
		EnquireLink:     time.Second,
		ResponseTimeout: 2 * time.Second,
		ReconnectMin:    10 * time.Millisecond,
		ReconnectMax:    50 * time.Millisecond,
		ThrottlePause:   200 * time.Millisecond,
		Handler:         okHandler,
	}
}

// startSMSC starts an SMSC and closes it when the test ends.
func startSMSC(t *testing.T, cfg Config) *SMSC {
	t.Helper()
	s, err := New(cfg)
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

// eventually polls cond until it holds or 5s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func waitBound(t *testing.T, s *SMSC) {
	t.Helper()
	eventually(t, "bind", s.Bound)
}

func TestSubmitTransceiver(t *testing.T) {
	f := newFakeSMSC(t, nil)
	s := startSMSC(t, testConfig(f.Addr()))
	waitBound(t, s)
	res, err := s.Submit(context.Background(), Message{From: "ACME", To: "+447700900123", Text: "hello", Validity: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Parts) != 1 || res.Parts[0].MessageID != "1" || res.Encoding != EncodingGSM7 {
		t.Fatalf("result %+v", res)
	}
	p := f.submitted()[0]
	fl := p.Fields()
	checks := map[pdufield.Name]string{
		pdufield.SourceAddr:         "ACME",
		pdufield.SourceAddrTON:      "5",
		pdufield.SourceAddrNPI:      "0",
		pdufield.DestinationAddr:    "447700900123",
		pdufield.DestAddrTON:        "1",
		pdufield.DestAddrNPI:        "1",
		pdufield.RegisteredDelivery: "1",
		pdufield.DataCoding:         "0",
		pdufield.ValidityPeriod:     "000000010000000R",
		pdufield.ShortMessage:       "hello",
	}
	for k, want := range checks {
		if got := fl[k].String(); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	st := s.Binds()
	if len(st) != 1 || st[0].State != StateBound || st[0].Mode != "transceiver" || st[0].ID != "test/1" {
		t.Fatalf("binds %+v", st)
	}
}

func TestBindModes(t *testing.T) {
	tests := []struct {
		mode      BindMode
		binds     int
		wantBinds []pdu.ID
		wantModes []string
	}{
		{BindTransceiver, 2, []pdu.ID{pdu.BindTransceiverID, pdu.BindTransceiverID}, []string{"transceiver", "transceiver"}},
		{BindTransmitterReceiver, 1, []pdu.ID{pdu.BindTransmitterID, pdu.BindReceiverID}, []string{"transmitter", "receiver"}},
	}
	for _, tt := range tests {
		t.Run(string(tt.mode), func(t *testing.T) {
			f := newFakeSMSC(t, nil)
			got := make(chan Inbound, 1)
			cfg := testConfig(f.Addr())
			cfg.Bind, cfg.Binds = tt.mode, tt.binds
			cfg.Handler = HandlerFunc(func(_ context.Context, in Inbound) pdu.Status {
				got <- in
				return StatusOK
			})
			s := startSMSC(t, cfg)
			eventually(t, "all binds up", func() bool {
				for _, b := range s.Binds() {
					if b.State != StateBound {
						return false
					}
				}
				return true
			})
			var modes []string
			for _, b := range s.Binds() {
				modes = append(modes, b.Mode)
			}
			if strings.Join(modes, ",") != strings.Join(tt.wantModes, ",") {
				t.Fatalf("modes %v, want %v", modes, tt.wantModes)
			}
			f.mu.Lock()
			seen := map[pdu.ID]int{}
			for _, id := range f.binds {
				seen[id]++
			}
			f.mu.Unlock()
			for _, id := range tt.wantBinds {
				if seen[id] == 0 {
					t.Fatalf("SMSC saw binds %v, want %v", seen, tt.wantBinds)
				}
			}
			if _, err := s.Submit(context.Background(), Message{From: "12345", To: "447700900123", Text: "x"}); err != nil {
				t.Fatal(err)
			}
			f.Deliver("447700900123", "12345", "YES")
			select {
			case in := <-got:
				if in.Text != "YES" || in.From != "447700900123" || in.IsReceipt {
					t.Fatalf("inbound %+v", in)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("handler not called")
			}
			if r := <-f.delivResp; r.Header().Status != StatusOK {
				t.Fatalf("deliver_sm_resp status %v", r.Header().Status)
			}
		})
	}
}

func TestWrongPassword(t *testing.T) {
	f := newFakeSMSC(t, nil)
	cfg := testConfig(f.Addr())
	cfg.Password = "wrong"
	s := startSMSC(t, cfg)
	eventually(t, "bind error recorded", func() bool { return s.Binds()[0].LastError != "" })
	b := s.Binds()[0]
	if b.State != StateConnecting || !strings.Contains(b.LastError, "invalid password") {
		t.Fatalf("bind state %+v", b)
	}
	if s.Bound() {
		t.Fatal("Bound() with a refused bind")
	}
	_, err := s.Submit(context.Background(), Message{From: "ACME", To: "+447700900123", Text: "x"})
	if !errors.Is(err, ErrNotBound) || !IsTemporary(err) {
		t.Fatalf("submit err %v, want temporary ErrNotBound", err)
	}
	// It keeps retrying with backoff, and binds once the password is right.
	f.mu.Lock()
	f.password = "wrong"
	f.mu.Unlock()
	waitBound(t, s)
}

func TestReconnectAfterDrop(t *testing.T) {
	f := newFakeSMSC(t, nil)
	s := startSMSC(t, testConfig(f.Addr()))
	waitBound(t, s)
	for i := range 3 {
		f.DropAll()
		eventually(t, "rebind", func() bool {
			n, _, _, _ := f.counts()
			return n >= i+2 && s.Bound()
		})
		if _, err := s.Submit(context.Background(), Message{From: "ACME", To: "+447700900123", Text: "again"}); err != nil {
			t.Fatalf("submit after reconnect %d: %v", i, err)
		}
	}
	if le := s.Binds()[0].LastError; !strings.Contains(le, "read") {
		t.Fatalf("last error %q does not say the connection dropped", le)
	}
}

func TestWindowFullWaitsAndDropFailsOutstanding(t *testing.T) {
	f := newFakeSMSC(t, nil)
	f.setSubmit(func(int, pdu.Body) (pdu.Status, string, bool) { return 0, "", false })
	cfg := testConfig(f.Addr())
	cfg.Window = 2
	cfg.ResponseTimeout = time.Minute // only the drop may end the outstanding ones
	cfg.EnquireLink = time.Minute
	s := startSMSC(t, cfg)
	waitBound(t, s)

	errs := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := s.Submit(context.Background(), Message{From: "ACME", To: "+447700900123", Text: "x"})
			errs <- err
		}()
	}
	eventually(t, "window full", func() bool { _, n, _, _ := f.counts(); return n == 2 })

	// A third submit waits for a slot until its context ends.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := s.Submit(ctx, Message{From: "ACME", To: "+447700900123", Text: "x"})
	if !errors.Is(err, context.DeadlineExceeded) || !IsTemporary(err) {
		t.Fatalf("third submit: %v, want a temporary deadline error", err)
	}
	if waited := time.Since(start); waited < 90*time.Millisecond {
		t.Fatalf("third submit returned after %v, before its deadline", waited)
	}

	f.DropAll()
	for range 2 {
		select {
		case err := <-errs:
			if !errors.Is(err, ErrConnectionLost) || !IsTemporary(err) {
				t.Fatalf("outstanding submit: %v, want temporary ErrConnectionLost", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("outstanding submit hangs after the connection dropped")
		}
	}
}

func TestResponseTimeout(t *testing.T) {
	f := newFakeSMSC(t, nil)
	f.setSubmit(func(n int, _ pdu.Body) (pdu.Status, string, bool) { return 0, "id", n > 1 })
	cfg := testConfig(f.Addr())
	cfg.ResponseTimeout = 100 * time.Millisecond
	s := startSMSC(t, cfg)
	waitBound(t, s)
	_, err := s.Submit(context.Background(), Message{From: "ACME", To: "+447700900123", Text: "x"})
	var se *SubmitError
	if !errors.Is(err, ErrTimeout) || !errors.As(err, &se) || !se.Temporary || se.Part != 1 {
		t.Fatalf("err %v, want temporary ErrTimeout on part 1", err)
	}
	// The bind survives a lost response.
	if _, err := s.Submit(context.Background(), Message{From: "ACME", To: "+447700900123", Text: "x"}); err != nil {
		t.Fatal(err)
	}
}

func TestSubmitStatuses(t *testing.T) {
	tests := []struct {
		name      string
		st        pdu.Status
		errorMap  map[pdu.Status]bool
		temporary bool
		pauses    bool
	}{
		{"throttled", StatusThrottled, nil, true, true},
		{"queue full", StatusMsgQFul, nil, true, true},
		{"system error", StatusSysErr, nil, true, false},
		{"invalid destination", StatusInvDstAdr, nil, false, false},
		{"vendor code mapped temporary", 0x401, map[pdu.Status]bool{0x401: true}, true, false},
		{"system error mapped permanent", StatusSysErr, map[pdu.Status]bool{StatusSysErr: false}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeSMSC(t, nil)
			f.setSubmit(func(n int, _ pdu.Body) (pdu.Status, string, bool) {
				if n == 1 {
					return tt.st, "", true
				}
				return StatusOK, "ok", true
			})
			cfg := testConfig(f.Addr())
			cfg.ErrorMap = tt.errorMap
			s := startSMSC(t, cfg)
			waitBound(t, s)
			res, err := s.Submit(context.Background(), Message{From: "ACME", To: "+447700900123", Text: "x"})
			var se *SubmitError
			if !errors.As(err, &se) || se.Status != tt.st || se.Temporary != tt.temporary || IsTemporary(err) != tt.temporary {
				t.Fatalf("err %#v, want status %v temporary %v", err, tt.st, tt.temporary)
			}
			if !errors.Is(err, tt.st) || res.Parts[0].Err == nil {
				t.Fatalf("err %v does not wrap the status / result %+v", err, res)
			}
			start := time.Now()
			if _, err := s.Submit(context.Background(), Message{From: "ACME", To: "+447700900123", Text: "x"}); err != nil {
				t.Fatal(err)
			}
			paused := time.Since(start) >= 150*time.Millisecond
			if paused != tt.pauses {
				t.Fatalf("next submit took %v; want pause %v", time.Since(start), tt.pauses)
			}
		})
	}
}

func TestGenericNack(t *testing.T) {
	f := newFakeSMSC(t, nil)
	s := startSMSC(t, testConfig(f.Addr()))
	waitBound(t, s)
	// An unknown request from the SMSC is answered generic_nack; the
	// session's own nack handling is exercised by a nacked submit.
	f.setSubmit(func(int, pdu.Body) (pdu.Status, string, bool) { return 0, "", false })
	c := s.pick()
	p, err := c.register(4242, pdu.SubmitSMID, false)
	if err != nil {
		t.Fatal(err)
	}
	fc := f.receiverConn()
	_ = fc.write(appendEmptyPDU(nil, pdu.GenericNACKID, StatusInvCmdLen, 4242))
	if r := c.wait(p); r.status != StatusInvCmdLen {
		t.Fatalf("nack resolved with %+v", r)
	}
}

func TestTPSLimit(t *testing.T) {
	f := newFakeSMSC(t, nil)
	cfg := testConfig(f.Addr())
	cfg.TPS = 200 // burst 20
	s := startSMSC(t, cfg)
	waitBound(t, s)
	start := time.Now()
	var wg sync.WaitGroup
	for range 60 {
		wg.Go(func() {
			if _, err := s.Submit(context.Background(), Message{From: "ACME", To: "+447700900123", Text: "x"}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	// 60 parts at 200/s with a burst of 20 need at least 200ms.
	if d := time.Since(start); d < 180*time.Millisecond {
		t.Fatalf("60 parts at 200 TPS took %v", d)
	}
}

func TestLongMessageParts(t *testing.T) {
	tests := []struct {
		name   string
		text   string
		concat ConcatMode
		parts  int
		dc     string
	}{
		{"gsm udh", strings.Repeat("abcdefghij", 40), ConcatUDH, 3, "0"},
		{"ucs2 udh", strings.Repeat("привет мир ", 20), ConcatUDH, 4, "8"},
		{"gsm sar", strings.Repeat("abcdefghij", 20), ConcatSAR, 2, "0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeSMSC(t, nil)
			cfg := testConfig(f.Addr())
			cfg.Concat = tt.concat
			s := startSMSC(t, cfg)
			waitBound(t, s)
			res, err := s.Submit(context.Background(), Message{From: "ACME", To: "+447700900123", Text: tt.text, Ref: 7})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Parts) != tt.parts {
				t.Fatalf("%d parts, want %d", len(res.Parts), tt.parts)
			}
			ids := map[string]bool{}
			for _, p := range res.Parts {
				ids[p.MessageID] = true
			}
			if len(ids) != tt.parts {
				t.Fatalf("part ids %+v not distinct", res.Parts)
			}
			subs := f.submitted()
			if len(subs) != tt.parts {
				t.Fatalf("SMSC got %d submit_sm", len(subs))
			}
			for i, p := range subs {
				if dc := p.Fields()[pdufield.DataCoding].String(); dc != tt.dc {
					t.Errorf("part %d data_coding %s", i, dc)
				}
				if tt.concat == ConcatSAR {
					if p.TLVFields()[0x020F] == nil {
						t.Errorf("part %d has no sar_segment_seqnum", i)
					}
				} else if p.Fields()[pdufield.ESMClass].String() != "64" {
					t.Errorf("part %d esm_class %s, want 0x40", i, p.Fields()[pdufield.ESMClass])
				}
			}
		})
	}
}

func TestHandlerStatusSentAfterReturn(t *testing.T) {
	tests := []struct {
		name string
		st   pdu.Status
	}{
		{"stored", StatusOK},
		{"store failed", StatusRxTAppn},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeSMSC(t, nil)
			release := make(chan struct{})
			entered := make(chan struct{}, 1)
			cfg := testConfig(f.Addr())
			cfg.Handler = HandlerFunc(func(ctx context.Context, in Inbound) pdu.Status {
				entered <- struct{}{}
				<-release
				return tt.st
			})
			s := startSMSC(t, cfg)
			waitBound(t, s)
			seq := f.Deliver("447700900123", "ACME", "hi")
			<-entered
			// While the handler holds the deliver_sm: no answer yet, and a
			// submit still gets its response.
			if _, err := s.Submit(context.Background(), Message{From: "ACME", To: "+447700900123", Text: "x"}); err != nil {
				t.Fatal(err)
			}
			select {
			case r := <-f.delivResp:
				t.Fatalf("deliver_sm_resp %+v sent before the handler returned", r.Header())
			case <-time.After(50 * time.Millisecond):
			}
			close(release)
			select {
			case r := <-f.delivResp:
				if r.Header().Status != tt.st || r.Header().Seq != seq {
					t.Fatalf("deliver_sm_resp %+v, want status %v seq %d", r.Header(), tt.st, seq)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("no deliver_sm_resp")
			}
		})
	}
}

func TestHandlerPanicAnswersTemporary(t *testing.T) {
	f := newFakeSMSC(t, nil)
	cfg := testConfig(f.Addr())
	cfg.Handler = HandlerFunc(func(context.Context, Inbound) pdu.Status { panic("boom") })
	s := startSMSC(t, cfg)
	waitBound(t, s)
	f.Deliver("447700900123", "ACME", "hi")
	if r := <-f.delivResp; r.Header().Status != StatusRxTAppn {
		t.Fatalf("status %v", r.Header().Status)
	}
}

func TestDeliverQueueFullAnswersTemporary(t *testing.T) {
	f := newFakeSMSC(t, nil)
	release := make(chan struct{})
	cfg := testConfig(f.Addr())
	cfg.HandlerWorkers, cfg.HandlerQueue = 1, 1
	cfg.Handler = HandlerFunc(func(context.Context, Inbound) pdu.Status { <-release; return StatusOK })
	s := startSMSC(t, cfg)
	waitBound(t, s)
	for range 3 { // one in the handler, one queued, one refused
		f.Deliver("447700900123", "ACME", "hi")
	}
	r := <-f.delivResp
	if r.Header().Status != StatusRxTAppn {
		t.Fatalf("first answer %v, want ESME_RX_T_APPN for the overflow", r.Header().Status)
	}
	close(release)
	for range 2 {
		if r := <-f.delivResp; r.Header().Status != StatusOK {
			t.Fatalf("status %v", r.Header().Status)
		}
	}
}

func TestEnquireLink(t *testing.T) {
	f := newFakeSMSC(t, nil)
	cfg := testConfig(f.Addr())
	cfg.EnquireLink = 20 * time.Millisecond
	cfg.ResponseTimeout = 100 * time.Millisecond
	s := startSMSC(t, cfg)
	waitBound(t, s)
	eventually(t, "enquire_link sent", func() bool { _, _, _, n := f.counts(); return n >= 3 })

	// An SMSC that stops answering is detected and the bind reconnects.
	f.answerEnquire.Store(false)
	eventually(t, "dead link detected", func() bool {
		return strings.Contains(s.Binds()[0].LastError, "enquire_link")
	})
	f.answerEnquire.Store(true)
	eventually(t, "rebind", func() bool { n, _, _, _ := f.counts(); return n >= 2 && s.Bound() })
}

func TestSMSCUnbinds(t *testing.T) {
	f := newFakeSMSC(t, nil)
	s := startSMSC(t, testConfig(f.Addr()))
	waitBound(t, s)
	f.SendUnbind()
	eventually(t, "rebind after unbind", func() bool { n, _, _, _ := f.counts(); return n >= 2 && s.Bound() })
	if le := s.Binds()[0].LastError; !strings.Contains(le, "unbound by the SMSC") {
		t.Fatalf("last error %q", le)
	}
}

func TestCloseUnbindsAndWaits(t *testing.T) {
	f := newFakeSMSC(t, nil)
	cfg := testConfig(f.Addr())
	cfg.Binds = 2
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "both bound", func() bool { return len(*s.txConns.Load()) == 2 })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, unbinds, _ := f.counts(); unbinds != 2 {
		t.Fatalf("SMSC saw %d unbinds, want 2", unbinds)
	}
	for _, b := range s.Binds() {
		if b.State != StateClosed {
			t.Fatalf("bind %+v after Close", b)
		}
	}
	if err := s.Close(ctx); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	_, err = s.Submit(context.Background(), Message{From: "ACME", To: "+447700900123", Text: "x"})
	if !errors.Is(err, ErrClosed) {
		t.Fatalf("submit after close: %v", err)
	}
	if err := s.Start(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("start after close: %v", err)
	}
}

func TestCloseForcedWhenContextEnds(t *testing.T) {
	f := newFakeSMSC(t, nil)
	var handlerCtxDone atomic.Bool
	cfg := testConfig(f.Addr())
	cfg.Handler = HandlerFunc(func(ctx context.Context, in Inbound) pdu.Status {
		<-ctx.Done() // a handler stuck until cancelled
		handlerCtxDone.Store(true)
		return StatusRxTAppn
	})
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitBound(t, s)
	f.Deliver("447700900123", "ACME", "hi")
	eventually(t, "handler running", func() bool { return s.pick().busy.Load() == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := s.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("close: %v, want deadline exceeded", err)
	}
	if !handlerCtxDone.Load() {
		t.Fatal("Close returned before the handler's context was cancelled and the handler returned")
	}
}

func TestStartContextCancelStops(t *testing.T) {
	f := newFakeSMSC(t, nil)
	s, err := New(testConfig(f.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	waitBound(t, s)
	cancel()
	eventually(t, "closed", func() bool { return s.Binds()[0].State == StateClosed })
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, _, unbinds, _ := f.counts(); unbinds != 1 {
		t.Fatalf("unbinds %d", unbinds)
	}
}

func TestTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	f := newFakeSMSC(t, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	cfg := testConfig(f.Addr())
	cfg.TLS = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	s := startSMSC(t, cfg)
	waitBound(t, s)
	if _, err := s.Submit(context.Background(), Message{From: "ACME", To: "+447700900123", Text: "over tls"}); err != nil {
		t.Fatal(err)
	}

	// A client that does not trust the certificate never binds.
	cfg.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	s2 := startSMSC(t, cfg)
	eventually(t, "tls error", func() bool { return strings.Contains(s2.Binds()[0].LastError, "tls") })
	if s2.Bound() {
		t.Fatal("bound without trusting the certificate")
	}
}

func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "fake smsc"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

func TestSubmitBadInput(t *testing.T) {
	f := newFakeSMSC(t, nil)
	s := startSMSC(t, testConfig(f.Addr()))
	waitBound(t, s)
	tests := []struct {
		name string
		m    Message
		is   error
	}{
		{"no destination", Message{From: "ACME", Text: "x"}, ErrInvalidAddress},
		{"alphanumeric destination", Message{From: "ACME", To: "BOB", Text: "x"}, ErrInvalidAddress},
		{"long sender", Message{From: "ACMEACMEACME", To: "+447700900123", Text: "x"}, ErrInvalidAddress},
		{"empty text", Message{From: "ACME", To: "+447700900123"}, ErrEmptyText},
		{"not gsm", Message{From: "ACME", To: "+447700900123", Text: "π≠", Encoding: EncodingGSM7}, ErrNotGSM},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Submit(context.Background(), tt.m)
			if !errors.Is(err, tt.is) || IsTemporary(err) {
				t.Fatalf("err %v, want permanent %v", err, tt.is)
			}
		})
	}
	if _, _, _, _ = f.counts(); len(f.submitted()) != 0 {
		t.Fatal("bad input reached the SMSC")
	}
}

func TestNewValidates(t *testing.T) {
	good := testConfig("127.0.0.1:2775")
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string // substring; "" means valid
	}{
		{"valid", func(*Config) {}, ""},
		{"no addr", func(c *Config) { c.Addr = "" }, "addr is required"},
		{"bad addr", func(c *Config) { c.Addr = "nohostport" }, "addr"},
		{"no system id", func(c *Config) { c.SystemID = "" }, "system_id is required"},
		{"long password", func(c *Config) { c.Password = "123456789" }, "password"},
		{"bad bind", func(c *Config) { c.Bind = "both" }, "bind"},
		{"negative binds", func(c *Config) { c.Binds = -1 }, "binds"},
		{"negative tps", func(c *Config) { c.TPS = -5 }, "tps"},
		{"huge window", func(c *Config) { c.Window = 1 << 20 }, "window"},
		{"negative timeout", func(c *Config) { c.ResponseTimeout = -1 }, "response_timeout"},
		{"backoff inverted", func(c *Config) { c.ReconnectMin, c.ReconnectMax = time.Minute, time.Second }, "reconnect_max"},
		{"bad encoding", func(c *Config) { c.Encoding = "latin1" }, "encoding"},
		{"bad concat", func(c *Config) { c.Concat = "x" }, "concat"},
		{"bad id format", func(c *Config) { c.ReceiptIDFormat = "oct" }, "receipt_id_format"},
		{"no handler", func(c *Config) { c.Handler = nil }, "handler"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			tt.mutate(&c)
			s, err := New(c)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				got := s.Config()
				if got.Window != DefaultWindow || got.Binds != 1 || got.Bind != BindTransceiver || got.Encoding != EncodingAuto {
					t.Fatalf("defaults not applied: %+v", got)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want ErrInvalidConfig mentioning %q", err, tt.want)
			}
		})
	}
	// Every problem is reported at once.
	_, err := New(Config{Window: -1, TPS: -1})
	for _, w := range []string{"addr", "system_id", "window", "tps", "handler"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("joined error %v lacks %q", err, w)
		}
	}
}
