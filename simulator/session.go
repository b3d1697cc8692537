package simulator

import (
	"bufio"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/fiorix/go-smpp/smpp/pdu"
	"github.com/fiorix/go-smpp/smpp/pdu/pdufield"
)

const (
	// maxPending is how many unwritten octets a session may hold before
	// its reader stops reading: a client that sends without reading
	// cannot grow the simulator's memory.
	maxPending = 1 << 20
	// writeTimeout bounds one write to a client that stopped reading.
	writeTimeout = 10 * time.Second
	// smscSystemID is the system_id in bind responses.
	smscSystemID = "SMSCSIM"
)

type bindMode uint8

const (
	modeNone bindMode = iota
	modeTx
	modeRx
	modeTrx
)

func (m bindMode) String() string {
	return [...]string{"none", "transmitter", "receiver", "transceiver"}[m]
}

func (m bindMode) receives() bool  { return m == modeRx || m == modeTrx }
func (m bindMode) transmits() bool { return m == modeTx || m == modeTrx }

// session is one SMPP connection: one reader goroutine (serve) that
// handles PDUs in order, and one writer goroutine that flushes a shared
// buffer, so responses and deliver_sm from other goroutines never block
// the reader on the network and many PDUs go out in one write.
type session struct {
	s    *Server
	conn net.Conn
	log  *slog.Logger

	// Owned by the reader goroutine.
	mode     bindMode
	systemID string
	received int
	scratch  []byte

	// Writer state, guarded by wmu.
	wmu      sync.Mutex
	wcond    sync.Cond // signalled when the buffer was taken or the writer died
	wbuf     []byte
	wclose   bool // close the connection once wbuf is written
	wdead    bool
	wake     chan struct{}
	stop     chan struct{}
	stopOnce sync.Once
	wdone    chan struct{}

	// Guarded by s.mu.
	out       map[uint32]*delivery // deliver_sm awaiting their response, by sequence
	seq       uint32
	armed     bool // a timeout check for out is scheduled
	receiving bool // listed in s.receivers
	bound     bool // counted in s.bound
	gone      bool
}

func newSession(s *Server, conn net.Conn) *session {
	c := &session{
		s:     s,
		conn:  conn,
		log:   s.log.With("remote", conn.RemoteAddr().String()),
		wake:  make(chan struct{}, 1),
		stop:  make(chan struct{}),
		wdone: make(chan struct{}),
		out:   map[uint32]*delivery{},
		// Our sequence numbers start far from 1: clients that share one
		// sequence space between their requests and ours (fiorix's
		// Transmitter does) would otherwise mistake a deliver_sm for the
		// answer to their own request.
		seq: 0x10000000 + rand.Uint32N(0x10000000),
	}
	c.wcond.L = &c.wmu
	return c
}

// serve is the reader goroutine; it owns the session and cleans it up.
func (c *session) serve() {
	s := c.s
	defer s.wg.Done()
	go c.writeLoop()
	graceful := c.readLoop()
	if !graceful {
		c.conn.Close()
	}
	// After an unbind the writer closes the connection itself once the
	// unbind_resp is out.
	if !graceful {
		c.stopWriter()
	}
	<-c.wdone
	c.conn.Close()
	s.mu.Lock()
	s.unregisterLocked(c)
	delete(s.conns, c)
	s.mu.Unlock()
}

func (c *session) stopWriter() { c.stopOnce.Do(func() { close(c.stop) }) }

// readLoop reads and handles PDUs until the connection ends; it reports
// whether it ended with an unbind.
func (c *session) readLoop() (graceful bool) {
	s := c.s
	br := bufio.NewReaderSize(c.conn, 64<<10)
	buf := make([]byte, maxPDU)
	for {
		h, raw, err := readPDU(br, buf)
		if err != nil {
			var le *lengthError
			if errors.As(err, &le) {
				// The stream cannot be resynchronised: say why and hang up.
				c.log.Warn("invalid command_length, closing", "command_length", le.hdr.length)
				c.writeFrame(appendSimple(c.scratch[:0], pdu.GenericNACKID, statusInvCmdLen, le.hdr.seq))
				c.closeAfterFlush()
				return true
			}
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				c.log.Debug("read failed", "err", err)
			}
			return false
		}
		s.st.rx[pduSlot(h.id)].Add(1)
		f := s.faults.Load()
		c.received++
		if f.DropAfterPDUs > 0 && c.received >= f.DropAfterPDUs {
			c.log.Info("fault: dropping connection", "fault", "drop_after_pdus", "pdus", c.received)
			return false
		}
		if f.DropProbability > 0 && rand.Float64() < f.DropProbability {
			c.log.Info("fault: dropping connection", "fault", "drop_probability")
			return false
		}
		if done := c.handle(h, raw, f); done {
			return true
		}
		c.waitDrain()
	}
}

// handle acts on one PDU; it returns true after an unbind.
func (c *session) handle(h header, raw []byte, f *Faults) bool {
	switch h.id {
	case pdu.BindTransmitterID, pdu.BindReceiverID, pdu.BindTransceiverID:
		c.handleBind(h, raw, f)
	case pdu.SubmitSMID:
		c.handleSubmit(h, raw, f)
	case pdu.DeliverSMRespID:
		c.handleDeliverResp(h.seq, h.status)
	case pdu.GenericNACKID:
		// A generic_nack answering one of our deliver_sm is a refusal.
		st := h.status
		if st == statusOK {
			st = statusSysErr
		}
		c.handleDeliverResp(h.seq, st)
	case pdu.EnquireLinkID:
		c.respond(appendSimple(c.scratch[:0], pdu.EnquireLinkRespID, statusOK, h.seq), f)
	case pdu.UnbindID:
		c.s.mu.Lock()
		c.s.unregisterLocked(c)
		c.s.mu.Unlock()
		c.log.Info("unbound", "system_id", c.systemID)
		c.writeFrame(appendSimple(c.scratch[:0], pdu.UnbindRespID, statusOK, h.seq))
		c.closeAfterFlush()
		return true
	case pdu.EnquireLinkRespID, pdu.UnbindRespID:
		// Answers to requests we never send; nothing to do.
	default:
		if knownCommand(h.id) && h.id&0x80000000 != 0 {
			return false // an unexpected response is dropped, not nacked
		}
		c.log.Debug("unsupported command, generic_nack", "command_id", uint32(h.id))
		c.respond(appendSimple(c.scratch[:0], pdu.GenericNACKID, statusInvCmdID, h.seq), f)
	}
	return false
}

func (c *session) nack(h header, status pdu.Status, err error, f *Faults) {
	c.log.Debug("malformed PDU, generic_nack", "command_id", uint32(h.id), "err", err)
	c.respond(appendSimple(c.scratch[:0], pdu.GenericNACKID, status, h.seq), f)
}

func (c *session) handleBind(h header, raw []byte, f *Faults) {
	s := c.s
	respID := h.id | 0x80000000
	mode := map[pdu.ID]bindMode{pdu.BindTransmitterID: modeTx, pdu.BindReceiverID: modeRx, pdu.BindTransceiverID: modeTrx}[h.id]
	body, err := decodePDU(raw)
	if err != nil {
		c.nack(h, statusInvCmdLen, err, f)
		return
	}
	sys := str(body.Fields(), pdufield.SystemID)
	pw := str(body.Fields(), pdufield.Password)
	refuse := func(st pdu.Status, reason string) {
		c.log.Info("bind refused", "system_id", sys, "bind_mode", mode.String(), "reason", reason, "command_status", uint32(st))
		c.respond(appendWithID(c.scratch[:0], respID, st, h.seq, smscSystemID), f)
	}
	if c.mode != modeNone {
		refuse(statusAlyBnd, "already bound")
		return
	}
	if until := f.RefuseBindsUntil; !until.IsZero() && time.Now().Before(until) {
		refuse(statusBindFail, "fault: refuse_binds_until")
		return
	}
	want, ok := s.creds[sys]
	if !ok {
		refuse(statusInvSysID, "unknown system_id")
		return
	}
	if subtle.ConstantTimeCompare([]byte(pw), []byte(want)) != 1 {
		refuse(statusInvPaswd, "wrong password")
		return
	}
	resp := appendHeader(c.scratch[:0], respID, statusOK, h.seq)
	resp = appendCString(resp, smscSystemID)
	resp = appendTLV(resp, tagScInterfaceVersion, []byte{0x34})
	resp = endPDU(resp, 0)
	c.scratch = resp

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cfg.BindLimit > 0 && s.bound[sys] >= s.cfg.BindLimit {
		c.log.Info("bind refused", "system_id", sys, "bind_mode", mode.String(), "reason", "bind limit", "command_status", uint32(statusAlyBnd))
		c.respondLocked(appendWithID(make([]byte, 0, 32), respID, statusAlyBnd, h.seq, smscSystemID), f, nil)
		return
	}
	c.mode, c.systemID = mode, sys
	c.log = c.log.With("system_id", sys)
	s.bound[sys]++
	c.bound = true
	s.st.binds.Add(1)
	s.st.bindsTotal.Add(1)
	c.log.Info("bound", "bind_mode", mode.String(), "binds", s.bound[sys])
	// The bind_resp is written while s.mu is held and before the session
	// joins the receivers, so no queued deliver_sm can overtake it.
	var join func()
	if mode.receives() {
		join = func() { s.joinLocked(c) }
	}
	c.respondLocked(resp, f, join)
}

func (c *session) handleSubmit(h header, raw []byte, f *Faults) {
	s := c.s
	s.st.submitSM.Add(1)
	if !c.mode.transmits() {
		c.respond(appendWithID(c.scratch[:0], pdu.SubmitSMRespID, statusInvBndSts, h.seq, ""), f)
		return
	}
	if f.GenericNack {
		c.log.Debug("fault: generic_nack for submit_sm", "fault", "generic_nack")
		c.respond(appendSimple(c.scratch[:0], pdu.GenericNACKID, statusSysErr, h.seq), f)
		return
	}
	body, err := decodePDU(raw)
	if err != nil {
		c.nack(h, statusInvCmdLen, err, f)
		return
	}
	sub, st, err := parseSubmit(body)
	if err != nil {
		c.nack(h, statusInvCmdLen, err, f)
		return
	}
	if st != statusOK {
		c.respond(appendWithID(c.scratch[:0], pdu.SubmitSMRespID, st, h.seq, ""), f)
		return
	}
	if lim := s.limiters[c.systemID]; lim != nil && !lim.Allow() {
		s.st.throttled.Add(1)
		c.respond(appendWithID(c.scratch[:0], pdu.SubmitSMRespID, statusThrottled, h.seq, ""), f)
		return
	}
	now := time.Now()
	m := Submitted{
		SystemID:   c.systemID,
		From:       sub.src.digits,
		To:         sub.dst.digits,
		DataCoding: sub.dataCoding,
		Text:       sub.text,
		PartRef:    sub.part.ref,
		PartTotal:  sub.part.total,
		PartSeq:    sub.part.seq,
		At:         now,
	}
	if f.NeverAnswerSubmit {
		s.st.submitAccepted.Add(1)
		s.record(m)
		return
	}
	n := s.nextID.Add(1)
	m.ID = formatID(n, s.cfg.IDFormat)
	accepted := s.st.submitAccepted.Add(1)
	s.record(m)

	var receipts []*delivery
	o := s.outcomeFor(sub.dst.digits)
	delay := s.receiptDelay()
	if !o.none && wantsReceipt(sub.registeredDelivery, o) {
		rid := m.ID
		if f.SwapIDFormat {
			rid = formatID(n, otherFormat(s.cfg.IDFormat))
		}
		body := receiptBody(&sub, rid, o, now, now.Add(delay))
		receipts = append(receipts, &delivery{kind: kindReceipt, systemID: c.systemID, body: body})
		if f.DuplicateReceipts {
			receipts = append(receipts, &delivery{kind: kindReceipt, systemID: c.systemID, body: body})
		}
	}
	if f.UnsolicitedEvery > 0 && accepted%int64(f.UnsolicitedEvery) == 0 {
		un := s.nextUnknown.Add(1)
		rid := formatID(un, s.cfg.IDFormat)
		if f.SwapIDFormat {
			rid = formatID(un, otherFormat(s.cfg.IDFormat))
		}
		delivered := outcome{stat: "DELIVRD", err: "000", state: messageStates["DELIVRD"]}
		receipts = append(receipts, &delivery{kind: kindReceipt, systemID: c.systemID, body: receiptBody(&sub, rid, delivered, now, now.Add(delay))})
	}
	resp := appendWithID(c.scratch[:0], pdu.SubmitSMRespID, statusOK, h.seq, m.ID)
	if f.ReceiptBeforeResp && len(receipts) > 0 {
		s.dispatch(receipts, 0)
		c.respond(resp, f)
		return
	}
	c.respond(resp, f)
	if len(receipts) > 0 {
		// A receipt never overtakes a delayed submit_sm_resp unless that
		// fault is asked for.
		s.dispatch(receipts, delay+f.ResponseDelay)
	}
}

func (c *session) handleDeliverResp(seq uint32, status pdu.Status) {
	s := c.s
	s.mu.Lock()
	ok := s.ackLocked(c, seq, status)
	s.mu.Unlock()
	if !ok {
		c.log.Debug("response to no outstanding deliver_sm", "sequence", seq)
	}
}

// respond writes a response now, or after Faults.ResponseDelay.
func (c *session) respond(frame []byte, f *Faults) {
	c.scratch = frame
	if f.ResponseDelay <= 0 {
		c.writeFrame(frame)
		return
	}
	c.s.mu.Lock()
	c.respondLocked(frame, f, nil)
	c.s.mu.Unlock()
}

// respondLocked is respond with s.mu held; then, if given, runs after
// (also with s.mu held) once the frame is in the write buffer.
func (c *session) respondLocked(frame []byte, f *Faults, after func()) {
	if f.ResponseDelay <= 0 {
		c.writeFrame(frame)
		if after != nil {
			after()
		}
		return
	}
	c.s.pushLocked(&event{
		at:    time.Now().Add(f.ResponseDelay),
		kind:  evWrite,
		sess:  c,
		frame: append([]byte(nil), frame...),
		after: after,
	})
}

// writeFrame queues whole PDUs for the writer.
func (c *session) writeFrame(frame []byte) {
	c.wmu.Lock()
	if !c.wdead {
		c.wbuf = append(c.wbuf, frame...)
	}
	c.wmu.Unlock()
	c.s.st.tx[pduSlot(pdu.ID(binary.BigEndian.Uint32(frame[4:8])))].Add(1)
	c.signal()
}

// writeDeliver queues a deliver_sm with the given sequence and body.
func (c *session) writeDeliver(seq uint32, body []byte) {
	c.wmu.Lock()
	if !c.wdead {
		start := len(c.wbuf)
		c.wbuf = appendHeader(c.wbuf, pdu.DeliverSMID, statusOK, seq)
		c.wbuf = append(c.wbuf, body...)
		c.wbuf = endPDU(c.wbuf, start)
	}
	c.wmu.Unlock()
	c.s.st.tx[pduSlot(pdu.DeliverSMID)].Add(1)
	c.signal()
}

func (c *session) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *session) closeAfterFlush() {
	c.wmu.Lock()
	c.wclose = true
	c.wmu.Unlock()
	c.signal()
}

// waitDrain blocks the reader while too much output is pending.
func (c *session) waitDrain() {
	c.wmu.Lock()
	for len(c.wbuf) > maxPending && !c.wdead {
		c.wcond.Wait()
	}
	c.wmu.Unlock()
}

func (c *session) writeLoop() {
	defer close(c.wdone)
	var spare []byte
	for {
		select {
		case <-c.wake:
		case <-c.stop:
			c.markDead()
			return
		}
		c.wmu.Lock()
		buf := c.wbuf
		c.wbuf = spare[:0]
		closeAfter := c.wclose
		c.wcond.Broadcast()
		c.wmu.Unlock()
		if len(buf) > 0 {
			c.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
			if _, err := c.conn.Write(buf); err != nil {
				c.conn.Close()
				c.markDead()
				return
			}
		}
		spare = buf
		if closeAfter {
			c.conn.Close()
			c.markDead()
			return
		}
	}
}

func (c *session) markDead() {
	c.wmu.Lock()
	c.wdead = true
	c.wbuf = nil
	c.wcond.Broadcast()
	c.wmu.Unlock()
}

// nextSeqLocked returns the next sequence number for a deliver_sm,
// within 1..0x7FFFFFFF as SMPP 3.4 requires.
func (c *session) nextSeqLocked() uint32 {
	c.seq++
	if c.seq > 0x7FFFFFFF {
		c.seq = 1
	}
	return c.seq
}
