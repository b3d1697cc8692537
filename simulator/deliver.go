package simulator

import (
	"container/heap"
	"slices"
	"time"

	"github.com/fiorix/go-smpp/smpp/pdu"
)

// The delivery engine sends deliver_sm (receipts and MO messages) the way
// a real SMSC does: to a receiver or transceiver bind of the right
// system_id, at most Window unanswered per bind, and again after
// ReceiptRetry when the answer is an error, does not come within
// ResponseTimeout, or the connection is lost. Nothing is dropped: with no
// receiver bound, deliveries wait in a queue. One scheduler goroutine
// drives all timed work from a heap, so there is no timer per message.

type deliveryKind uint8

const (
	kindReceipt deliveryKind = iota
	kindMO
)

// delivery is one deliver_sm to get acknowledged.
type delivery struct {
	kind     deliveryKind
	systemID string // receipts: binds of this system_id only; MO: ""
	body     []byte // deliver_sm body; the header is added per attempt

	// Guarded by Server.mu.
	sess     *session // where the current attempt is outstanding
	deadline time.Time
}

// fifo is a queue of deliveries.
type fifo struct {
	items []*delivery
	head  int
}

func (q *fifo) len() int { return len(q.items) - q.head }

func (q *fifo) push(d *delivery) { q.items = append(q.items, d) }

func (q *fifo) pop() *delivery {
	if q.head == len(q.items) {
		return nil
	}
	d := q.items[q.head]
	q.items[q.head] = nil
	q.head++
	if q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
	} else if q.head > 1024 && q.head*2 > len(q.items) {
		n := copy(q.items, q.items[q.head:])
		q.items, q.head = q.items[:n], 0
	}
	return d
}

type evKind uint8

const (
	evDeliver evKind = iota // a delivery becomes due (receipt delay, retry)
	evCheck                 // look for unanswered deliver_sm on sess
	evWrite                 // a delayed response
)

type event struct {
	at    time.Time
	n     uint64 // insertion order; keeps equal times first-in first-out
	kind  evKind
	d     *delivery
	sess  *session
	frame []byte
	after func() // evWrite: run with mu held after the frame is queued
}

type eventHeap []*event

func (h eventHeap) Len() int { return len(h) }
func (h eventHeap) Less(i, j int) bool {
	if h[i].at.Equal(h[j].at) {
		return h[i].n < h[j].n
	}
	return h[i].at.Before(h[j].at)
}
func (h eventHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)   { *h = append(*h, x.(*event)) }
func (h *eventHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return e
}

func (s *Server) pushLocked(e *event) {
	s.evSeq++
	e.n = s.evSeq
	heap.Push(&s.events, e)
	if s.events[0] == e {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// scheduleLoop fires due events until the server stops.
func (s *Server) scheduleLoop() {
	defer s.wg.Done()
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		s.mu.Lock()
		now := time.Now()
		for len(s.events) > 0 && !s.events[0].at.After(now) {
			s.fireLocked(heap.Pop(&s.events).(*event))
		}
		wait := time.Duration(-1)
		if len(s.events) > 0 {
			wait = s.events[0].at.Sub(now)
		}
		s.mu.Unlock()
		if wait >= 0 {
			t.Reset(wait)
		} else {
			t.Stop()
		}
		select {
		case <-t.C:
		case <-s.wake:
		case <-s.ctx.Done():
			return
		}
	}
}

func (s *Server) fireLocked(e *event) {
	switch e.kind {
	case evDeliver:
		s.readyLocked(e.d)
	case evCheck:
		s.checkLocked(e.sess)
	case evWrite:
		if e.sess.gone {
			return
		}
		e.sess.writeFrame(e.frame)
		if e.after != nil {
			e.after()
		}
	}
}

// dispatch hands deliveries to the engine after delay.
func (s *Server) dispatch(ds []*delivery, delay time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if delay <= 0 {
		for _, d := range ds {
			s.readyLocked(d)
		}
		return
	}
	at := time.Now().Add(delay)
	for _, d := range ds {
		s.pushLocked(&event{at: at, kind: evDeliver, d: d})
	}
}

// readyLocked sends d now if a bind has room, else queues it.
func (s *Server) readyLocked(d *delivery) {
	q := s.queueLocked(d)
	if q.len() == 0 && s.assignLocked(d) {
		return
	}
	q.push(d)
	s.st.queued.Add(1)
}

func (s *Server) queueLocked(d *delivery) *fifo {
	if d.kind == kindMO {
		return &s.moQueue
	}
	q := s.queues[d.systemID]
	if q == nil {
		q = &fifo{}
		s.queues[d.systemID] = q
	}
	return q
}

// assignLocked sends d on the next bind, round-robin, that has room in
// its window.
func (s *Server) assignLocked(d *delivery) bool {
	var binds []*session
	var pos *int
	if d.kind == kindMO {
		binds, pos = s.allReceivers, &s.rrAll
	} else {
		binds = s.receivers[d.systemID]
		p := s.rr[d.systemID]
		pos = &p
		defer func() { s.rr[d.systemID] = p }()
	}
	for i := range binds {
		c := binds[(*pos+i)%len(binds)]
		if len(c.out) < s.cfg.Window {
			*pos = (*pos + i + 1) % len(binds)
			s.sendLocked(c, d)
			return true
		}
	}
	return false
}

func (s *Server) sendLocked(c *session, d *delivery) {
	seq := c.nextSeqLocked()
	d.sess = c
	d.deadline = time.Now().Add(s.cfg.ResponseTimeout)
	c.out[seq] = d
	c.writeDeliver(seq, d.body)
	s.st.deliverSM.Add(1)
	if d.kind == kindReceipt {
		s.st.receiptsSent.Add(1)
	} else {
		s.st.moSent.Add(1)
	}
	if !c.armed {
		c.armed = true
		s.pushLocked(&event{at: d.deadline, kind: evCheck, sess: c})
	}
}

// ackLocked handles the answer to deliver_sm seq on c.
func (s *Server) ackLocked(c *session, seq uint32, status pdu.Status) bool {
	d := c.out[seq]
	if d == nil {
		return false
	}
	delete(c.out, seq)
	d.sess = nil
	if status == statusOK {
		if d.kind == kindReceipt {
			s.st.receiptsAcked.Add(1)
		} else {
			s.st.moAcked.Add(1)
		}
	} else {
		c.log.Debug("deliver_sm refused, will retry", "command_status", uint32(status), "retry_in", s.cfg.ReceiptRetry)
		s.retryLocked(d)
	}
	s.drainLocked(c)
	return true
}

// retryLocked schedules another attempt of d.
func (s *Server) retryLocked(d *delivery) {
	d.sess = nil
	if d.kind == kindReceipt {
		s.st.receiptsRe.Add(1)
	} else {
		s.st.moRe.Add(1)
	}
	if s.closed {
		return
	}
	s.pushLocked(&event{at: time.Now().Add(s.cfg.ReceiptRetry), kind: evDeliver, d: d})
}

// checkLocked retries the deliver_sm on c that are past their deadline
// and schedules the next check.
func (s *Server) checkLocked(c *session) {
	c.armed = false
	if c.gone {
		return
	}
	now := time.Now()
	var next time.Time
	expired := 0
	for seq, d := range c.out {
		if !d.deadline.After(now) {
			delete(c.out, seq)
			s.retryLocked(d)
			expired++
			continue
		}
		if next.IsZero() || d.deadline.Before(next) {
			next = d.deadline
		}
	}
	if expired > 0 {
		c.log.Info("deliver_sm unanswered, will retry", "count", expired, "response_timeout", s.cfg.ResponseTimeout)
	}
	if !next.IsZero() {
		c.armed = true
		s.pushLocked(&event{at: next, kind: evCheck, sess: c})
	}
	s.drainLocked(c)
}

// joinLocked makes a bound receiver or transceiver eligible for
// deliver_sm and hands it what was waiting.
func (s *Server) joinLocked(c *session) {
	if c.gone || c.receiving {
		return
	}
	c.receiving = true
	s.receivers[c.systemID] = append(s.receivers[c.systemID], c)
	s.allReceivers = append(s.allReceivers, c)
	s.drainLocked(c)
}

// drainLocked fills c's window from the queues: receipts of its
// system_id first, then MO messages.
func (s *Server) drainLocked(c *session) {
	if !c.receiving || c.gone {
		return
	}
	q := s.queues[c.systemID]
	for len(c.out) < s.cfg.Window {
		var d *delivery
		if q != nil {
			d = q.pop()
		}
		if d == nil {
			d = s.moQueue.pop()
		}
		if d == nil {
			return
		}
		s.st.queued.Add(-1)
		s.sendLocked(c, d)
	}
}

// unregisterLocked removes c from the engine; its unanswered deliver_sm
// are retried later, on whatever bind is there then.
func (s *Server) unregisterLocked(c *session) {
	if c.gone {
		return
	}
	c.gone = true
	if c.receiving {
		c.receiving = false
		s.receivers[c.systemID] = slices.DeleteFunc(s.receivers[c.systemID], func(x *session) bool { return x == c })
		s.allReceivers = slices.DeleteFunc(s.allReceivers, func(x *session) bool { return x == c })
	}
	if c.bound {
		c.bound = false
		s.bound[c.systemID]--
		s.st.binds.Add(-1)
		c.log.Info("bind closed", "binds", s.bound[c.systemID], "unanswered", len(c.out))
	}
	for seq, d := range c.out {
		delete(c.out, seq)
		s.retryLocked(d)
	}
}
