package smpp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fiorix/go-smpp/smpp/pdu"
	"golang.org/x/time/rate"
)

// BindMode is how an SMSC's binds are made.
type BindMode string

// Bind modes.
const (
	// BindTransceiver makes each bind one bind_transceiver session.
	BindTransceiver BindMode = "transceiver"
	// BindTransmitterReceiver makes each bind a bind_transmitter session
	// plus a bind_receiver session.
	BindTransmitterReceiver BindMode = "transmitter_receiver"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultWindow          = 64
	DefaultEnquireLink     = 30 * time.Second
	DefaultResponseTimeout = 10 * time.Second
	DefaultReconnectMin    = time.Second
	DefaultReconnectMax    = 60 * time.Second
	DefaultThrottlePause   = time.Second
	DefaultHandlerWorkers  = 16
	DefaultHandlerQueue    = 256
)

// Config configures one SMSC: its binds, limits and how messages to it are
// encoded. Zero values take the documented defaults.
type Config struct {
	// Name identifies the SMSC in logs, BindState ids and errors.
	Name string
	// Addr is host:port of the SMSC. Required.
	Addr string
	// SystemID (at most 15 characters), Password (at most 8) and
	// SystemType (at most 12) are sent in the bind request.
	SystemID, Password, SystemType string
	// Bind is the bind mode; default BindTransceiver.
	Bind BindMode
	// Binds is the number of transceiver sessions, or of transmitter +
	// receiver pairs; default 1, at most 64.
	Binds int
	// TPS limits message parts per second across all binds of this SMSC;
	// 0 means unlimited.
	TPS int
	// Window is the number of outstanding submit_sm per bind; default 64,
	// at most 10000.
	Window int
	// EnquireLink is the interval between enquire_link requests; default
	// 30s. An enquire_link unanswered within ResponseTimeout drops the
	// connection, and the bind reconnects.
	EnquireLink time.Duration
	// ResponseTimeout bounds the wait for any response (submit_sm_resp,
	// bind_resp, enquire_link_resp) and a dial; default 10s.
	ResponseTimeout time.Duration
	// ReconnectMin and ReconnectMax bound the exponential backoff (with
	// jitter) between reconnect attempts; defaults 1s and 60s.
	ReconnectMin, ReconnectMax time.Duration
	// ThrottlePause is how long a bind stops submitting after the SMSC
	// answers ESME_RTHROTTLED or ESME_RMSGQFUL; default 1s.
	ThrottlePause time.Duration
	// TLS, when set, wraps each connection in TLS (ServerName defaults to
	// Addr's host). nil: plain TCP.
	TLS *tls.Config
	// SourceTON, SourceNPI, DestTON, DestNPI force the numbering plan of
	// the addresses; nil guesses it from the address (see docs/SMPP.md:
	// "+digits" or 9+ digits → 1/1 without "+", up to 8 digits → 3/0,
	// alphanumeric sender → 5/0).
	SourceTON, SourceNPI, DestTON, DestNPI *uint8
	// Encoding is the default encoding of messages that do not set one;
	// default EncodingAuto.
	Encoding Encoding
	// Concat is how long messages are split; default ConcatUDH.
	Concat ConcatMode
	// ReceiptIDFormat is how the SMSC writes message ids in receipts;
	// default IDAuto. The session does not use it: it is carried for the
	// gateway's IDKey / ReceiptIDKeys.
	ReceiptIDFormat IDFormat
	// ErrorMap overrides StatusTemporary for this SMSC: true makes a
	// command_status temporary, false permanent.
	ErrorMap map[pdu.Status]bool
	// Handler receives every deliver_sm (receipts and MO). Required.
	Handler Handler
	// HandlerWorkers is the number of deliver_sm handled at once per bind
	// (default 16); HandlerQueue is how many more may wait (default 256):
	// beyond that deliver_sm is answered ESME_RX_T_APPN so the SMSC retries.
	HandlerWorkers, HandlerQueue int
	// Logger receives bind changes and problems; nil discards.
	Logger *slog.Logger
}

// Handler decides the answer to a deliver_sm. The session sends
// deliver_sm_resp with the returned status only after HandleDeliver
// returns, so a handler answers ESME_ROK (StatusOK) once it has stored the
// event and ESME_RX_T_APPN (StatusRxTAppn) when it could not, and the SMSC
// delivers it again. Calls run concurrently (Config.HandlerWorkers per bind)
// and a receipt may arrive before the Submit that caused it returns.
type Handler interface {
	HandleDeliver(ctx context.Context, in Inbound) pdu.Status
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, in Inbound) pdu.Status

// HandleDeliver calls f.
func (f HandlerFunc) HandleDeliver(ctx context.Context, in Inbound) pdu.Status { return f(ctx, in) }

var _ Handler = HandlerFunc(nil)

// Message is one message to submit.
type Message struct {
	// To is the destination: E.164 with "+" or digits.
	To string
	// From is the sender: alphanumeric (at most 11), a short code, or E.164.
	From string
	Text string
	// Encoding overrides Config.Encoding; "" uses it.
	Encoding Encoding
	// Validity is how long the SMSC should try; 0 is the SMSC's default.
	Validity time.Duration
	// Ref is the concatenation reference (8-bit for UDH); 0 lets the SMSC
	// pick one.
	Ref uint16
}

// PartResult is the outcome of one part: its SMSC message id, or its error
// (a *SubmitError).
type PartResult struct {
	MessageID string
	Err       error
}

// Result is the outcome of a Submit: the resolved encoding and every part's
// outcome, in order.
type Result struct {
	Encoding Encoding
	Parts    []PartResult
}

// BindState is a snapshot of one connection of an SMSC.
type BindState struct {
	ID        string    // "<smsc>/<n>" or "<smsc>/<n>/tx", "<smsc>/<n>/rx"
	Mode      string    // transceiver, transmitter or receiver
	State     string    // connecting, bound, closed
	LastError string    // the last bind or connection error, "" if none yet
	Since     time.Time // when State last changed
	// InFlight is the number of submit_sm sent on the live connection and
	// not yet answered: the window in use (0 when not bound). Window is
	// the bind's window size.
	InFlight, Window int
}

// SMSC is a client of one SMSC: its binds, the shared TPS limit and submit.
// Its methods are safe for concurrent use.
type SMSC struct {
	cfg     Config
	opt     sessOptions
	log     *slog.Logger
	binds   []*sessBind
	limiter *rate.Limiter // nil: unlimited

	mu       sync.Mutex
	txConns  atomic.Pointer[[]*sessConn] // bound, transmit-capable, for the hot path
	closeCtx context.Context
	started  bool

	rr      atomic.Uint32
	ref     atomic.Uint32
	closing atomic.Bool

	stopCancel  context.CancelFunc
	forceCancel context.CancelFunc
	wg          sync.WaitGroup
	closeOnce   sync.Once
}

// New validates cfg, applies defaults and returns an SMSC that is not yet
// connected (see Start). Every problem is reported, wrapped in
// ErrInvalidConfig.
func New(cfg Config) (*SMSC, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	log = log.With("smsc", cfg.Name)
	s := &SMSC{cfg: cfg, log: log}
	if cfg.TPS > 0 {
		// A burst of a tenth of a second keeps the pace smooth enough for SMSCs
		// that count per second, without a timer per part at high rates.
		s.limiter = rate.NewLimiter(rate.Limit(cfg.TPS), max(1, cfg.TPS/10))
	}
	s.ref.Store(uint32(time.Now().UnixNano()))
	var d net.Dialer
	s.opt = sessOptions{
		name:         cfg.Name,
		addr:         cfg.Addr,
		systemID:     cfg.SystemID,
		password:     cfg.Password,
		sysType:      cfg.SystemType,
		tls:          cfg.TLS,
		window:       cfg.Window,
		enquireLink:  cfg.EnquireLink,
		timeout:      cfg.ResponseTimeout,
		reconnectMin: cfg.ReconnectMin,
		reconnectMax: cfg.ReconnectMax,
		throttle:     cfg.ThrottlePause,
		workers:      cfg.HandlerWorkers,
		queue:        cfg.HandlerQueue,
		log:          log,
		deliver:      s.deliver,
		onChange:     s.bindsChanged,
		dial:         d.DialContext,
	}
	for i := 1; i <= cfg.Binds; i++ {
		id := cfg.Name + "/" + strconv.Itoa(i)
		if cfg.Bind == BindTransmitterReceiver {
			s.binds = append(s.binds,
				newSessBind(id+"/tx", modeTransmitter, &s.opt),
				newSessBind(id+"/rx", modeReceiver, &s.opt))
		} else {
			s.binds = append(s.binds, newSessBind(id, modeTransceiver, &s.opt))
		}
	}
	s.txConns.Store(new([]*sessConn))
	return s, nil
}

func (c *Config) defaults() error {
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, a...)...))
	}
	if c.Name == "" {
		c.Name = c.Addr
	}
	if c.Addr == "" {
		bad("addr is required")
	} else if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		bad("addr %q: %v", c.Addr, err)
	}
	if c.SystemID == "" {
		bad("system_id is required")
	}
	if len(c.SystemID) > 15 {
		bad("system_id is longer than 15 characters")
	}
	if len(c.Password) > 8 {
		bad("password is longer than 8 characters (SMPP 3.4 limit)")
	}
	if len(c.SystemType) > 12 {
		bad("system_type is longer than 12 characters")
	}
	switch c.Bind {
	case "":
		c.Bind = BindTransceiver
	case BindTransceiver, BindTransmitterReceiver:
	default:
		bad("bind %q: want %q or %q", c.Bind, BindTransceiver, BindTransmitterReceiver)
	}
	setInt := func(p *int, def, maxV int, name string) {
		switch {
		case *p == 0:
			*p = def
		case *p < 0 || *p > maxV:
			bad("%s %d: want 1..%d", name, *p, maxV)
		}
	}
	setInt(&c.Binds, 1, 64, "binds")
	setInt(&c.Window, DefaultWindow, 10000, "window")
	setInt(&c.HandlerWorkers, DefaultHandlerWorkers, 1024, "handler_workers")
	setInt(&c.HandlerQueue, DefaultHandlerQueue, 100000, "handler_queue")
	if c.TPS < 0 {
		bad("tps %d: want 0 (unlimited) or more", c.TPS)
	}
	setDur := func(p *time.Duration, def time.Duration, name string) {
		switch {
		case *p == 0:
			*p = def
		case *p < 0:
			bad("%s %v: must be positive", name, *p)
		}
	}
	setDur(&c.EnquireLink, DefaultEnquireLink, "enquire_link")
	setDur(&c.ResponseTimeout, DefaultResponseTimeout, "response_timeout")
	setDur(&c.ReconnectMin, DefaultReconnectMin, "reconnect_min")
	setDur(&c.ReconnectMax, DefaultReconnectMax, "reconnect_max")
	setDur(&c.ThrottlePause, DefaultThrottlePause, "throttle_pause")
	if c.ReconnectMax < c.ReconnectMin {
		bad("reconnect_max %v is below reconnect_min %v", c.ReconnectMax, c.ReconnectMin)
	}
	if c.Encoding == "" {
		c.Encoding = EncodingAuto
	}
	switch c.Encoding {
	case EncodingAuto, EncodingGSM7, EncodingUCS2:
	default:
		bad("encoding %q: want auto, gsm7 or ucs2", c.Encoding)
	}
	if c.Concat == "" {
		c.Concat = ConcatUDH
	}
	switch c.Concat {
	case ConcatUDH, ConcatSAR:
	default:
		bad("concat %q: want udh or sar", c.Concat)
	}
	if c.ReceiptIDFormat == "" {
		c.ReceiptIDFormat = IDAuto
	}
	switch c.ReceiptIDFormat {
	case IDAuto, IDHex, IDDec:
	default:
		bad("receipt_id_format %q: want auto, hex or dec", c.ReceiptIDFormat)
	}
	if c.Handler == nil {
		bad("handler is required (every deliver_sm must be answered by it)")
	}
	return errors.Join(errs...)
}

// Name returns the SMSC's name.
func (s *SMSC) Name() string { return s.cfg.Name }

// Config returns the SMSC's configuration with defaults applied.
func (s *SMSC) Config() Config { return s.cfg }

// Start starts the binds in the background and returns at once; the binds
// keep reconnecting until Close or until ctx is cancelled. Calling Start
// again, or after Close, is an error.
func (s *SMSC) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		return ErrClosed
	}
	if s.started {
		return fmt.Errorf("smpp: smsc %s: already started", s.cfg.Name)
	}
	s.started = true
	stop, stopCancel := context.WithCancel(ctx)
	force, forceCancel := context.WithCancel(context.WithoutCancel(ctx))
	context.AfterFunc(ctx, forceCancel) // a cancelled Start ctx also aborts handlers
	s.stopCancel, s.forceCancel = stopCancel, forceCancel
	for _, b := range s.binds {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			b.run(stop, force, s.unbindCtx)
		}()
	}
	return nil
}

// unbindCtx is the context a bind unbinds with when stopped: Close's, or a
// response timeout when the Start context was cancelled.
func (s *SMSC) unbindCtx() context.Context {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closeCtx != nil {
		return s.closeCtx
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ResponseTimeout)
	context.AfterFunc(ctx, cancel)
	return ctx
}

// Close stops new submits, lets outstanding ones finish, unbinds every
// connection (waiting for unbind_resp and for handlers in progress), and
// waits for every goroutine. When ctx ends first, connections are closed
// at once and handlers' contexts cancelled; Close still waits and returns
// ctx's error. It is safe to call more than once.
func (s *SMSC) Close(ctx context.Context) error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closing.Store(true)
		s.closeCtx = ctx
		stop := s.stopCancel
		s.mu.Unlock()
		if stop != nil {
			stop()
		} else {
			for _, b := range s.binds { // never started
				b.set(StateClosed, nil, nil)
			}
		}
	})
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	s.mu.Lock()
	force := s.forceCancel
	s.mu.Unlock()
	if force != nil {
		force()
	}
	for _, b := range s.binds {
		if c := b.live(); c != nil {
			c.fail(ErrClosed)
		}
	}
	<-done
	return fmt.Errorf("smpp: close %s: %w", s.cfg.Name, ctx.Err())
}

// Bound reports whether at least one transmit-capable bind is up.
func (s *SMSC) Bound() bool { return len(*s.txConns.Load()) > 0 }

// Binds returns a snapshot of every connection's state.
func (s *SMSC) Binds() []BindState {
	out := make([]BindState, len(s.binds))
	for i, b := range s.binds {
		out[i] = b.snapshot()
	}
	return out
}

// bindsChanged republishes the bound transmit-capable connections.
func (s *SMSC) bindsChanged() {
	s.mu.Lock()
	defer s.mu.Unlock()
	var l []*sessConn
	for _, b := range s.binds {
		if c := b.live(); c != nil && b.canTX() {
			l = append(l, c)
		}
	}
	s.txConns.Store(&l)
}

// deliver is the glue between a connection and the Handler.
func (s *SMSC) deliver(ctx context.Context, body pdu.Body) pdu.Status {
	in, err := ParseDeliverSM(body)
	if err != nil {
		// Not a message this gateway can ever read: a temporary answer would
		// make the SMSC redeliver it forever.
		s.log.Warn("smpp deliver_sm unreadable, answering ESME_RX_P_APPN", "err", err)
		return StatusRxPAppn
	}
	return s.cfg.Handler.HandleDeliver(ctx, in)
}
