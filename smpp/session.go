package smpp

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fiorix/go-smpp/smpp/pdu"
)

// sessConn is one bound SMPP connection: a reader goroutine, one writer
// goroutine with a buffered writer that flushes when its queue is empty, a
// seq→pending map swept for timeouts by one ticker, a window semaphore and a
// bounded worker pool for deliver_sm. No goroutine or timer is started per
// PDU.
type sessConn struct {
	nc       net.Conn
	br       *bufio.Reader
	log      *slog.Logger
	canRX    bool
	timeout  time.Duration
	deliver  sessDeliverFunc
	hctx     context.Context // handlers' context: lives until the SMSC is stopped
	throttle time.Duration

	seq    atomic.Uint32
	window chan struct{} // one token per outstanding request (submit_sm only)
	out    chan *sessBuf // frames for the writer
	dq     chan []byte   // deliver_sm/data_sm frames for the workers

	mu      sync.Mutex
	pending map[uint32]*sessPending
	deadErr error
	dead    chan struct{} // closed by fail
	once    sync.Once

	// pausedUntil (unix nanos) is set when the SMSC answers throttled or
	// queue full: submits on this bind wait until then.
	pausedUntil atomic.Int64
	inflight    atomic.Int32 // submits registered and not yet resolved
	busy        atomic.Int32 // deliver_sm queued or in a handler

	wg sync.WaitGroup // reader, writer, sweeper, workers
}

// sessBuf is a pooled frame buffer; done, when set, is closed once the frame
// has been flushed to the connection (used before closing after unbind_resp).
type sessBuf struct {
	b    []byte
	done chan struct{}
}

var sessBufPool = sync.Pool{New: func() any { return &sessBuf{b: make([]byte, 0, 256)} }}

func getBuf() *sessBuf { return sessBufPool.Get().(*sessBuf) }

func putBuf(b *sessBuf) {
	if cap(b.b) > 4096 {
		return
	}
	b.b = b.b[:0]
	b.done = nil
	sessBufPool.Put(b)
}

// sessDeliverFunc turns a decoded deliver_sm/data_sm into the status of its
// response (the SMSC glues ParseDeliverSM and the Handler into one).
type sessDeliverFunc func(ctx context.Context, body pdu.Body) pdu.Status

// sessPending is one request awaiting its response.
type sessPending struct {
	id       pdu.ID // command_id of the request
	deadline int64  // unix nanos
	window   bool   // holds a window token
	done     chan sessResp
}

type sessResp struct {
	status    pdu.Status
	messageID string
	err       error // local failure: timeout, connection loss
}

var sessPendingPool = sync.Pool{New: func() any { return &sessPending{done: make(chan sessResp, 1)} }}

type sessConnConfig struct {
	canTX, canRX bool
	window       int
	timeout      time.Duration
	enquireLink  time.Duration
	throttle     time.Duration
	workers      int
	queue        int
	deliver      sessDeliverFunc
	hctx         context.Context
	log          *slog.Logger
}

// newSessConn starts the goroutines of a freshly bound connection. br holds
// whatever was read past the bind_resp; firstSeq is the next free sequence.
func newSessConn(nc net.Conn, br *bufio.Reader, firstSeq uint32, cfg sessConnConfig) *sessConn {
	c := &sessConn{
		nc:       nc,
		br:       br,
		log:      cfg.log,
		canRX:    cfg.canRX,
		timeout:  cfg.timeout,
		deliver:  cfg.deliver,
		hctx:     cfg.hctx,
		throttle: cfg.throttle,
		window:   make(chan struct{}, cfg.window),
		out:      make(chan *sessBuf, cfg.window+cfg.queue+16),
		dq:       make(chan []byte, cfg.queue),
		pending:  make(map[uint32]*sessPending, cfg.window),
		dead:     make(chan struct{}),
	}
	c.seq.Store(firstSeq - 1)
	c.wg.Add(3 + cfg.workers)
	go c.readLoop()
	go c.writeLoop()
	go c.tickLoop(cfg.enquireLink)
	for range cfg.workers {
		go c.deliverWorker()
	}
	return c
}

func (c *sessConn) nextSeq() uint32 {
	for {
		s := c.seq.Add(1) & 0x7FFFFFFF // SMPP 3.4: sequence numbers 0x00000001–0x7FFFFFFF
		if s != 0 {
			return s
		}
	}
}

// fail kills the connection once: closes the socket and resolves every
// outstanding request with ErrConnectionLost, so no caller ever hangs on a
// dead bind.
func (c *sessConn) fail(err error) {
	c.once.Do(func() {
		c.mu.Lock()
		c.deadErr = err
		close(c.dead)
		ps := c.pending
		c.pending = nil
		c.mu.Unlock()
		_ = c.nc.Close()
		lost := fmt.Errorf("%w: %w", ErrConnectionLost, err)
		for _, p := range ps {
			c.resolve(p, sessResp{err: lost})
		}
	})
}

func (c *sessConn) isDead() bool {
	select {
	case <-c.dead:
		return true
	default:
		return false
	}
}

// err returns why the connection died (nil while alive).
func (c *sessConn) err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.deadErr
}

func (c *sessConn) resolve(p *sessPending, r sessResp) {
	if p.window {
		<-c.window
		c.inflight.Add(-1)
	}
	p.done <- r // cap 1, exactly one resolver
}

// register adds a pending request; it fails if the connection is dead.
func (c *sessConn) register(seq uint32, id pdu.ID, window bool) (*sessPending, error) {
	p := sessPendingPool.Get().(*sessPending)
	p.id, p.window = id, window
	p.deadline = time.Now().Add(c.timeout).UnixNano()
	c.mu.Lock()
	if c.pending == nil {
		err := c.deadErr
		c.mu.Unlock()
		sessPendingPool.Put(p)
		return nil, fmt.Errorf("%w: %w", ErrConnectionLost, err)
	}
	c.pending[seq] = p
	if window {
		c.inflight.Add(1)
	}
	c.mu.Unlock()
	return p, nil
}

func (c *sessConn) take(seq uint32) *sessPending {
	c.mu.Lock()
	p := c.pending[seq]
	if p != nil {
		delete(c.pending, seq)
	}
	c.mu.Unlock()
	return p
}

// send queues a frame for the writer; it gives up when the connection dies.
func (c *sessConn) send(b *sessBuf) error {
	select {
	case c.out <- b:
		return nil
	case <-c.dead:
		putBuf(b)
		return fmt.Errorf("%w: %w", ErrConnectionLost, c.err())
	}
}

// request sends a header-only request (enquire_link, unbind) and returns its
// pending entry.
func (c *sessConn) request(id pdu.ID) (*sessPending, error) {
	seq := c.nextSeq()
	p, err := c.register(seq, id, false)
	if err != nil {
		return nil, err
	}
	b := getBuf()
	b.b = appendEmptyPDU(b.b, id, 0, seq)
	if err := c.send(b); err != nil {
		return p, nil // fail already resolved p
	}
	return p, nil
}

// acquire takes a window slot, waiting with ctx. A full window makes the
// caller wait; it does not fail.
func (c *sessConn) acquire(ctx context.Context) error {
	select {
	case c.window <- struct{}{}:
		return nil
	default:
	}
	select {
	case c.window <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-c.dead:
		return fmt.Errorf("%w: %w", ErrConnectionLost, c.err())
	}
}

// waitPause waits while the bind is slowed down after ESME_RTHROTTLED or
// ESME_RMSGQFUL.
func (c *sessConn) waitPause(ctx context.Context) error {
	until := c.pausedUntil.Load()
	if until == 0 {
		return nil
	}
	d := time.Until(time.Unix(0, until))
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-c.dead:
		return fmt.Errorf("%w: %w", ErrConnectionLost, c.err())
	}
}

func (c *sessConn) paused() bool {
	u := c.pausedUntil.Load()
	return u != 0 && time.Now().UnixNano() < u
}

// submitPart writes one submit_sm on this connection, holding a window slot
// the caller already acquired, and returns its pending entry. The slot is
// given back when the request is resolved.
func (c *sessConn) submitPart(s *sessSubmit) (*sessPending, error) {
	seq := c.nextSeq()
	p, err := c.register(seq, pdu.SubmitSMID, true)
	if err != nil {
		<-c.window
		return nil, err
	}
	b := getBuf()
	b.b = appendSubmitSM(b.b, seq, s)
	_ = c.send(b) // on failure fail() resolved p with ErrConnectionLost
	return p, nil
}

// wait returns the response of p and recycles it. Every registered request
// is resolved exactly once (response, timeout sweep or fail), so this never
// hangs longer than the response timeout.
func (c *sessConn) wait(p *sessPending) sessResp {
	r := <-p.done
	sessPendingPool.Put(p)
	return r
}

func (c *sessConn) readLoop() {
	defer c.wg.Done()
	defer close(c.dq)
	var hdr [sessHeaderLen]byte
	body := make([]byte, 0, 1024)
	for {
		if _, err := io.ReadFull(c.br, hdr[:]); err != nil {
			c.fail(fmt.Errorf("read: %w", err))
			return
		}
		n := binary.BigEndian.Uint32(hdr[0:4])
		id := pdu.ID(binary.BigEndian.Uint32(hdr[4:8]))
		st := pdu.Status(binary.BigEndian.Uint32(hdr[8:12]))
		seq := binary.BigEndian.Uint32(hdr[12:16])
		if n < sessHeaderLen || n > sessMaxPDU {
			c.fail(fmt.Errorf("protocol error: command_length %d", n))
			return
		}
		if cap(body) < int(n-sessHeaderLen) {
			body = make([]byte, n-sessHeaderLen)
		}
		body = body[:n-sessHeaderLen]
		if _, err := io.ReadFull(c.br, body); err != nil {
			c.fail(fmt.Errorf("read: %w", err))
			return
		}
		switch id {
		case pdu.SubmitSMRespID, pdu.DataSMRespID:
			if p := c.take(seq); p != nil {
				r := sessResp{status: st}
				if st == StatusOK {
					r.messageID = parseCString(body)
				} else if statusSlowsBind(st) && c.throttle > 0 {
					c.pausedUntil.Store(time.Now().Add(c.throttle).UnixNano())
				}
				c.resolve(p, r)
			}
		case pdu.EnquireLinkRespID, pdu.UnbindRespID, pdu.GenericNACKID, pdu.QuerySMRespID,
			pdu.CancelSMRespID, pdu.ReplaceSMRespID, pdu.SubmitMultiRespID:
			if p := c.take(seq); p != nil {
				if id == pdu.GenericNACKID && st == StatusOK {
					st = StatusInvCmdID // a nack always rejects; never read it as success
				}
				c.resolve(p, sessResp{status: st})
			}
		case pdu.EnquireLinkID:
			c.reply(appendEmptyPDU, pdu.EnquireLinkRespID, StatusOK, seq)
		case pdu.UnbindID:
			b := getBuf()
			b.b = appendEmptyPDU(b.b, pdu.UnbindRespID, StatusOK, seq)
			done := make(chan struct{})
			b.done = done
			if c.send(b) == nil {
				select {
				case <-done:
				case <-c.dead:
				case <-time.After(c.timeout):
				}
			}
			c.fail(errors.New("unbound by the SMSC"))
			return
		case pdu.DeliverSMID, pdu.DataSMID:
			respID := pdu.DeliverSMRespID
			if id == pdu.DataSMID {
				respID = pdu.DataSMRespID
			}
			if !c.canRX {
				c.reply(appendDeliverSMResp, respID, StatusInvBndSts, seq)
				continue
			}
			frame := make([]byte, n)
			copy(frame, hdr[:])
			copy(frame[sessHeaderLen:], body)
			c.busy.Add(1)
			select {
			case c.dq <- frame:
			default:
				c.busy.Add(-1)
				// Every worker is busy and the queue is full: ask the SMSC to
				// retry rather than stall the reader (and with it every
				// submit_sm_resp behind this PDU).
				c.log.Warn("smpp deliver queue full, answering ESME_RX_T_APPN", "seq", seq)
				c.reply(appendDeliverSMResp, respID, StatusRxTAppn, seq)
			}
		case pdu.AlertNotificationID:
			// No response is defined for alert_notification.
		default:
			if uint32(id)&0x80000000 == 0 {
				c.reply(appendEmptyPDU, pdu.GenericNACKID, StatusInvCmdID, seq)
			} else if p := c.take(seq); p != nil {
				c.resolve(p, sessResp{status: StatusInvCmdID})
			}
		}
	}
}

func (c *sessConn) reply(enc func([]byte, pdu.ID, pdu.Status, uint32) []byte, id pdu.ID, st pdu.Status, seq uint32) {
	b := getBuf()
	b.b = enc(b.b, id, st, seq)
	_ = c.send(b)
}

func (c *sessConn) writeLoop() {
	defer c.wg.Done()
	bw := bufio.NewWriterSize(c.nc, 32<<10)
	var flushed []chan struct{}
	for {
		var b *sessBuf
		select {
		case b = <-c.out:
		case <-c.dead:
			return
		}
		_, err := bw.Write(b.b)
		if b.done != nil {
			flushed = append(flushed, b.done)
		}
		putBuf(b)
		if err == nil && len(c.out) == 0 {
			err = bw.Flush()
			for _, d := range flushed {
				close(d)
			}
			flushed = flushed[:0]
		}
		if err != nil {
			c.fail(fmt.Errorf("write: %w", err))
			return
		}
	}
}

// tickLoop sweeps timed-out requests and sends enquire_link. An unanswered
// enquire_link kills the connection, so the bind reconnects.
func (c *sessConn) tickLoop(enquire time.Duration) {
	defer c.wg.Done()
	step := min(c.timeout/4, enquire/2)
	step = max(step, time.Millisecond)
	t := time.NewTicker(step)
	defer t.Stop()
	lastEnquire := time.Now()
	var expired []*sessPending
	for {
		select {
		case <-c.dead:
			return
		case now := <-t.C:
			nowN := now.UnixNano()
			expired = expired[:0]
			c.mu.Lock()
			for seq, p := range c.pending {
				if p.deadline <= nowN {
					delete(c.pending, seq)
					expired = append(expired, p)
				}
			}
			c.mu.Unlock()
			for _, p := range expired {
				if p.id == pdu.EnquireLinkID {
					c.resolve(p, sessResp{err: ErrTimeout})
					c.fail(fmt.Errorf("enquire_link unanswered: %w", ErrTimeout))
					return
				}
				c.resolve(p, sessResp{err: ErrTimeout})
			}
			if now.Sub(lastEnquire) >= enquire {
				lastEnquire = now
				p, err := c.request(pdu.EnquireLinkID)
				if err != nil {
					return
				}
				// Nobody waits for the answer: the sweep above fails the
				// connection if it does not come. Recycle nothing.
				_ = p
			}
		}
	}
}

// deliverWorker runs the handler for one deliver_sm at a time and answers
// with the handler's status only after it returns, so the gateway acks only
// what it has stored.
func (c *sessConn) deliverWorker() {
	defer c.wg.Done()
	for frame := range c.dq {
		if c.isDead() {
			c.busy.Add(-1)
			continue // the SMSC never got an answer and will deliver it again
		}
		seq := binary.BigEndian.Uint32(frame[12:16])
		id := pdu.ID(binary.BigEndian.Uint32(frame[4:8]))
		respID := pdu.DeliverSMRespID
		if id == pdu.DataSMID {
			respID = pdu.DataSMRespID
		}
		st := c.handle(frame)
		c.reply(appendDeliverSMResp, respID, st, seq)
		c.busy.Add(-1)
	}
}

func (c *sessConn) handle(frame []byte) (st pdu.Status) {
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("smpp deliver handler panicked", "panic", fmt.Sprint(r))
			st = StatusRxTAppn
		}
	}()
	body, err := pdu.Decode(bytes.NewReader(frame))
	if err != nil {
		c.log.Warn("smpp deliver_sm undecodable, rejecting", "err", err)
		return StatusRxPAppn
	}
	return c.deliver(c.hctx, body)
}

// drain waits until cond is false, ctx is done or the connection dies.
func (c *sessConn) drain(ctx context.Context, cond func() bool) {
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for cond() {
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		case <-c.dead:
			return
		}
	}
}

// unbind closes the connection gracefully: it lets outstanding submits get
// their responses, sends unbind and waits for unbind_resp, lets the handlers
// answer the deliver_sm they hold (all bounded by ctx and the connection's
// life), then closes the connection and waits for its goroutines.
func (c *sessConn) unbind(ctx context.Context) {
	c.drain(ctx, func() bool { return c.inflight.Load() > 0 })
	if p, err := c.request(pdu.UnbindID); err == nil {
		select {
		case <-p.done:
		case <-ctx.Done():
		case <-c.dead:
		}
	}
	c.drain(ctx, func() bool { return c.busy.Load() > 0 })
	c.fail(ErrClosed)
	c.wg.Wait()
}
