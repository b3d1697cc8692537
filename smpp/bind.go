package smpp

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/fiorix/go-smpp/smpp/pdu"
	"github.com/fiorix/go-smpp/smpp/pdu/pdufield"
)

// Bind states reported by BindState.State.
const (
	StateConnecting = "connecting" // dialling, binding, or waiting to retry
	StateBound      = "bound"
	StateClosed     = "closed"
)

// Bind modes of one connection, as reported by BindState.Mode.
const (
	modeTransceiver = "transceiver"
	modeTransmitter = "transmitter"
	modeReceiver    = "receiver"
)

// sessOptions is what a bind needs from the SMSC's Config, defaults applied.
type sessOptions struct {
	name                        string
	addr                        string
	systemID, password, sysType string
	tls                         *tls.Config
	window                      int
	enquireLink, timeout        time.Duration
	reconnectMin, reconnectMax  time.Duration
	throttle                    time.Duration
	workers, queue              int
	log                         *slog.Logger
	deliver                     sessDeliverFunc
	onChange                    func()     // a bind went up or down
	dial                        dialerFunc // tests may replace it
}

type dialerFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// sessBind is one logical bind slot: it connects, binds, keeps the
// connection and reconnects with backoff until stopped.
type sessBind struct {
	id     string
	mode   string
	bindID pdu.ID
	opt    *sessOptions
	log    *slog.Logger

	mu    sync.Mutex
	state BindState
	conn  *sessConn
}

func newSessBind(id, mode string, opt *sessOptions) *sessBind {
	b := &sessBind{id: id, mode: mode, opt: opt, log: opt.log.With("bind", id, "mode", mode)}
	switch mode {
	case modeTransmitter:
		b.bindID = pdu.BindTransmitterID
	case modeReceiver:
		b.bindID = pdu.BindReceiverID
	default:
		b.bindID = pdu.BindTransceiverID
	}
	b.state = BindState{ID: id, Mode: mode, State: StateConnecting, Since: time.Now()}
	return b
}

func (b *sessBind) canTX() bool { return b.mode != modeReceiver }

func (b *sessBind) snapshot() BindState {
	b.mu.Lock()
	defer b.mu.Unlock()
	st := b.state
	if b.canTX() {
		st.Window = b.opt.window
	}
	if b.conn != nil {
		st.InFlight = int(b.conn.inflight.Load())
	}
	return st
}

// live returns the bound connection, or nil.
func (b *sessBind) live() *sessConn {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.conn
}

func (b *sessBind) set(state string, c *sessConn, lastErr error) {
	b.mu.Lock()
	changed := b.state.State != state
	if changed {
		b.state.Since = time.Now()
	}
	b.state.State = state
	if lastErr != nil {
		b.state.LastError = lastErr.Error()
	}
	b.conn = c
	b.mu.Unlock()
	if b.opt.onChange != nil {
		b.opt.onChange()
	}
}

// run keeps the bind up until stop is done. When stop ends a live
// connection, it is unbound with the context closeCtx returns (Close's).
// force cancels everything, handlers included.
func (b *sessBind) run(stop, force context.Context, closeCtx func() context.Context) {
	attempt := 0
	for {
		if stop.Err() != nil {
			b.set(StateClosed, nil, nil)
			return
		}
		b.set(StateConnecting, nil, nil)
		c, err := b.connect(stop, force)
		if err != nil {
			if stop.Err() != nil {
				continue
			}
			b.log.Warn("smpp bind failed", "err", err, "attempt", attempt+1)
			b.set(StateConnecting, nil, err)
			if !sleepCtx(stop, bindBackoff(attempt, b.opt.reconnectMin, b.opt.reconnectMax, rand.Float64())) {
				continue
			}
			attempt++
			continue
		}
		attempt = 0
		b.log.Info("smpp bind up", "addr", b.opt.addr)
		b.set(StateBound, c, nil)
		select {
		case <-c.dead:
			err := c.err()
			b.log.Warn("smpp bind down", "err", err)
			b.set(StateConnecting, nil, err)
			c.wg.Wait()
			// A connection that dropped is retried after the shortest backoff,
			// with jitter, so N binds do not reconnect in lock-step.
			sleepCtx(stop, bindBackoff(0, b.opt.reconnectMin, b.opt.reconnectMax, rand.Float64()))
		case <-stop.Done():
			b.set(StateConnecting, nil, nil) // no new submits on it
			ctx := closeCtx()
			c.unbind(ctx)
			b.log.Info("smpp bind closed")
			b.set(StateClosed, nil, nil)
			return
		}
	}
}

// bindBackoff is the wait before reconnect attempt n+1 (n failed attempts
// so far): exponential from min, capped at max, with "equal jitter" (half
// fixed, half random, rnd in [0,1)) so binds spread out but never retry at
// once.
func bindBackoff(n int, minD, maxD time.Duration, rnd float64) time.Duration {
	d := minD
	for i := 0; i < n && d < maxD; i++ {
		d *= 2
	}
	d = min(d, maxD)
	return d/2 + time.Duration(rnd*float64(d/2))
}

// sleepCtx sleeps d or until ctx is done; it reports whether d elapsed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// connect dials, binds and starts a session. Dial and bind are bounded by
// the response timeout.
func (b *sessBind) connect(stop, force context.Context) (*sessConn, error) {
	ctx, cancel := context.WithTimeout(stop, b.opt.timeout)
	defer cancel()
	nc, err := b.opt.dial(ctx, "tcp", b.opt.addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", b.opt.addr, err)
	}
	if b.opt.tls != nil {
		cfg := b.opt.tls.Clone()
		if cfg.ServerName == "" {
			if host, _, err := net.SplitHostPort(b.opt.addr); err == nil {
				cfg.ServerName = host
			}
		}
		tc := tls.Client(nc, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = nc.Close()
			return nil, fmt.Errorf("tls handshake with %s: %w", b.opt.addr, err)
		}
		nc = tc
	}
	// Closing the socket is how a stuck bind is abandoned when ctx ends.
	stopWatch := context.AfterFunc(ctx, func() { _ = nc.Close() })
	br := bufio.NewReaderSize(nc, 64<<10)
	err = b.bind(nc, br)
	if !stopWatch() || err != nil {
		_ = nc.Close()
		if err == nil || ctx.Err() != nil {
			err = fmt.Errorf("bind %s: %w", b.opt.addr, errors.Join(context.Cause(ctx), err))
		}
		return nil, err
	}
	return newSessConn(nc, br, 2, sessConnConfig{
		canTX:       b.canTX(),
		canRX:       b.mode != modeTransmitter,
		window:      b.opt.window,
		timeout:     b.opt.timeout,
		enquireLink: b.opt.enquireLink,
		throttle:    b.opt.throttle,
		workers:     b.opt.workers,
		queue:       b.opt.queue,
		deliver:     b.opt.deliver,
		hctx:        force,
		log:         b.log,
	}), nil
}

// bind sends the bind request (sequence 1) and reads until its response,
// answering enquire_link that some SMSCs send first.
func (b *sessBind) bind(nc net.Conn, br *bufio.Reader) error {
	var req pdu.Body
	switch b.bindID {
	case pdu.BindTransmitterID:
		req = pdu.NewBindTransmitter()
	case pdu.BindReceiverID:
		req = pdu.NewBindReceiver()
	default:
		req = pdu.NewBindTransceiver()
	}
	req.Header().Seq = 1
	f := req.Fields()
	_ = f.Set(pdufield.SystemID, b.opt.systemID)
	_ = f.Set(pdufield.Password, b.opt.password)
	_ = f.Set(pdufield.SystemType, b.opt.sysType)
	_ = f.Set(pdufield.InterfaceVersion, uint8(0x34))
	bw := bufio.NewWriter(nc)
	if err := req.SerializeTo(bw); err != nil {
		return fmt.Errorf("write bind: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write bind: %w", err)
	}
	var hdr [sessHeaderLen]byte
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return fmt.Errorf("read bind_resp: %w", err)
		}
		n := binary.BigEndian.Uint32(hdr[0:4])
		id := pdu.ID(binary.BigEndian.Uint32(hdr[4:8]))
		st := pdu.Status(binary.BigEndian.Uint32(hdr[8:12]))
		seq := binary.BigEndian.Uint32(hdr[12:16])
		if n < sessHeaderLen || n > sessMaxPDU {
			return fmt.Errorf("read bind_resp: protocol error: command_length %d", n)
		}
		if _, err := br.Discard(int(n - sessHeaderLen)); err != nil {
			return fmt.Errorf("read bind_resp: %w", err)
		}
		switch {
		case id == b.bindID|0x80000000 || id == pdu.GenericNACKID:
			if st != StatusOK {
				return &BindError{Status: st}
			}
			if id == pdu.GenericNACKID {
				return &BindError{Status: StatusInvCmdID}
			}
			return nil
		case id == pdu.EnquireLinkID:
			out := appendEmptyPDU(nil, pdu.EnquireLinkRespID, StatusOK, seq)
			if _, err := nc.Write(out); err != nil {
				return fmt.Errorf("write enquire_link_resp: %w", err)
			}
		}
		// Anything else before the bind_resp is ignored.
	}
}
