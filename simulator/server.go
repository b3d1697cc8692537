package simulator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Server is a running simulator. Create it with Start; stop it with Close
// or by cancelling the context given to Start.
type Server struct {
	cfg      Config
	log      *slog.Logger
	rules    []rule
	creds    map[string]string
	limiters map[string]*rate.Limiter // per system_id, nil map when TPS is 0
	faults   atomic.Pointer[Faults]

	ln      net.Listener
	httpLn  net.Listener
	httpSrv *http.Server

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	nextID      atomic.Uint64 // message ids handed out
	nextUnknown atomic.Uint64 // ids used only in unsolicited receipts
	moRef       atomic.Uint32 // 8-bit concatenation references of MO messages

	st counters

	msgMu sync.Mutex
	msgs  []Submitted

	// mu guards the delivery engine: bound sessions, queues, outstanding
	// deliver_sm and the event heap. Lock order: mu before a session's wmu.
	mu           sync.Mutex
	closed       bool
	conns        map[*session]struct{}
	bound        map[string]int        // binds per system_id
	receivers    map[string][]*session // receiver-capable binds per system_id
	allReceivers []*session            // the same, all system_ids (MO routing)
	rr           map[string]int        // round-robin positions per system_id
	rrAll        int
	queues       map[string]*fifo // receipts waiting for a receiver with free window
	moQueue      fifo             // MO messages waiting likewise
	events       eventHeap
	evSeq        uint64
	wake         chan struct{}
}

// Start validates cfg, listens and serves until ctx is done or Close is
// called. Every problem in cfg is returned at once.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if errs := cfg.validate(); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	cfg = cfg.withDefaults()
	s := &Server{
		cfg:       cfg,
		log:       cfg.Logger,
		rules:     compileRules(append(append([]Rule{}, cfg.Rules...), DefaultRules()...)),
		creds:     make(map[string]string, len(cfg.Credentials)),
		conns:     map[*session]struct{}{},
		bound:     map[string]int{},
		receivers: map[string][]*session{},
		rr:        map[string]int{},
		queues:    map[string]*fifo{},
		wake:      make(chan struct{}, 1),
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s.log = s.log.With("component", "simulator")
	for _, c := range cfg.Credentials {
		s.creds[c.SystemID] = c.Password
		if cfg.TPS > 0 {
			if s.limiters == nil {
				s.limiters = map[string]*rate.Limiter{}
			}
			s.limiters[c.SystemID] = rate.NewLimiter(rate.Limit(cfg.TPS), cfg.TPS)
		}
	}
	f := cfg.Faults
	s.faults.Store(&f)
	// Ids start at a random 32-bit value so hex and decimal forms differ
	// and two simulators in one test do not hand out the same ids.
	s.nextID.Store(0x10000000 + rand.Uint64N(0x60000000))
	s.nextUnknown.Store(1 << 40)

	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("simulator: listen %s: %w", cfg.Addr, err)
	}
	s.ln = ln
	if cfg.HTTPAddr != "" {
		hl, err := lc.Listen(ctx, "tcp", cfg.HTTPAddr)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("simulator: listen control API %s: %w", cfg.HTTPAddr, err)
		}
		s.httpLn = hl
		s.httpSrv = &http.Server{
			Handler:           s.Handler(),
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       10 * time.Second,
			WriteTimeout:      10 * time.Second,
			IdleTimeout:       60 * time.Second,
			ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		}
	}
	s.ctx, s.cancel = context.WithCancel(ctx)

	s.wg.Add(3)
	go s.acceptLoop()
	go s.scheduleLoop()
	go s.closer()
	if s.httpSrv != nil {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := s.httpSrv.Serve(s.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("control API stopped", "err", err)
			}
		}()
	}
	s.log.Info("simulator listening", "addr", s.Addr(), "http_addr", s.HTTPAddr())
	return s, nil
}

// Addr is the SMPP host:port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// HTTPAddr is the control API host:port, "" when it is off.
func (s *Server) HTTPAddr() string {
	if s.httpLn == nil {
		return ""
	}
	return s.httpLn.Addr().String()
}

// Close closes the listeners and every connection and waits for all
// goroutines. It is safe to call more than once.
func (s *Server) Close() error {
	s.cancel()
	s.wg.Wait()
	return nil
}

// closer tears everything down once the context ends.
func (s *Server) closer() {
	defer s.wg.Done()
	<-s.ctx.Done()
	s.ln.Close()
	if s.httpSrv != nil {
		s.httpSrv.Close()
	}
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		c.conn.Close()
	}
	s.mu.Unlock()
}

func (s *Server) acceptLoop() {
	defer s.wg.Done()
	var backoff time.Duration
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			if s.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: wait and go on, as
			// net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log.Warn("accept failed", "err", err, "retry_in", backoff)
			select {
			case <-time.After(backoff):
			case <-s.ctx.Done():
				return
			}
			continue
		}
		backoff = 0
		c := newSession(s, conn)
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			conn.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go c.serve()
	}
}

// SetFaults replaces the faults at run time; connections see the change
// with their next PDU.
func (s *Server) SetFaults(f Faults) {
	s.faults.Store(&f)
}

// Faults returns the faults in effect.
func (s *Server) Faults() Faults { return *s.faults.Load() }

// DropConnections closes every current connection now, without unbind.
// Clients may reconnect; unanswered deliver_sm are retried.
func (s *Server) DropConnections() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.conn.Close()
	}
}

// record appends an accepted submit_sm to the message log.
func (s *Server) record(m Submitted) {
	if s.cfg.MaxMessages < 0 {
		return
	}
	s.msgMu.Lock()
	s.msgs = append(s.msgs, m)
	if max := s.cfg.MaxMessages; max > 0 && len(s.msgs) >= 2*max {
		n := copy(s.msgs, s.msgs[len(s.msgs)-max:])
		clear(s.msgs[n:])
		s.msgs = s.msgs[:n]
	}
	s.msgMu.Unlock()
}

// Messages returns every submit_sm the simulator accepted (answered
// ESME_ROK, or kept unanswered under NeverAnswerSubmit), in order of
// arrival, one entry per part. Throttled, refused and malformed submit_sm
// are not in it. Config.MaxMessages bounds it.
func (s *Server) Messages() []Submitted {
	s.msgMu.Lock()
	defer s.msgMu.Unlock()
	m := s.msgs
	if max := s.cfg.MaxMessages; max > 0 && len(m) > max {
		m = m[len(m)-max:]
	}
	return append([]Submitted(nil), m...)
}

// Message returns the accepted submit_sm whose message id is id.
func (s *Server) Message(id string) (Submitted, bool) {
	s.msgMu.Lock()
	defer s.msgMu.Unlock()
	for i := len(s.msgs) - 1; i >= 0; i-- {
		if s.msgs[i].ID == id {
			return s.msgs[i], true
		}
	}
	return Submitted{}, false
}

// Reassembled returns the text of every complete message, its
// concatenated parts joined in part order, in order of each message's
// first part. Incomplete concatenated messages are left out.
func (s *Server) Reassembled() []string {
	type key struct {
		sys, from, to string
		ref, total    int
	}
	type entry struct {
		parts []string
		got   []bool
		have  int
	}
	var order []*entry
	open := map[key]*entry{}
	for _, m := range s.Messages() {
		if m.PartTotal <= 1 {
			order = append(order, &entry{parts: []string{m.Text}, got: []bool{true}, have: 1})
			continue
		}
		k := key{m.SystemID, m.From, m.To, m.PartRef, m.PartTotal}
		e := open[k]
		if e == nil {
			e = &entry{parts: make([]string, m.PartTotal), got: make([]bool, m.PartTotal)}
			open[k] = e
			order = append(order, e)
		}
		if i := m.PartSeq - 1; i >= 0 && i < m.PartTotal && !e.got[i] {
			e.parts[i], e.got[i] = m.Text, true
			e.have++
		}
		if e.have == m.PartTotal {
			delete(open, k) // the reference may be reused by a later message
		}
	}
	var out []string
	for _, e := range order {
		if e.have == len(e.parts) {
			out = append(out, strings.Join(e.parts, ""))
		}
	}
	return out
}

// WaitMessages waits until at least n submit_sm have been accepted and
// returns them, or returns ctx's error.
func (s *Server) WaitMessages(ctx context.Context, n int) ([]Submitted, error) {
	var msgs []Submitted
	err := s.waitFor(ctx, func() bool {
		msgs = s.Messages()
		return len(msgs) >= n
	})
	return msgs, err
}

// WaitStats waits until cond holds for the current Stats, or returns ctx's
// error. Tests use it instead of sleeping.
func (s *Server) WaitStats(ctx context.Context, cond func(Stats) bool) (Stats, error) {
	var st Stats
	err := s.waitFor(ctx, func() bool {
		st = s.Stats()
		return cond(st)
	})
	return st, err
}

func (s *Server) waitFor(ctx context.Context, cond func() bool) error {
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("simulator: wait: %w", ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// receiptDelay draws the delay of one receipt.
func (s *Server) receiptDelay() time.Duration {
	d := s.cfg.ReceiptDelay
	if span := s.cfg.ReceiptDelayMax - d; span > 0 {
		d += rand.N(span + 1)
	}
	return d
}
