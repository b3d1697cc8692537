package simulator

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/fiorix/go-smpp/smpp/pdu"
)

// benchClient is a minimal pipelined SMPP client: one goroutine writes
// submit_sm with up to window outstanding, another reads, answers every
// deliver_sm at once and counts receipts. fiorix's client waits for each
// answer, which would measure the client instead of the simulator.
type benchClient struct {
	conn   net.Conn
	br     *bufio.Reader
	wmu    sync.Mutex
	bw     *bufio.Writer
	window chan struct{}
	tmpl   []byte // submit_sm PDU; the sequence is patched per message
}

func newBenchClient(b *testing.B, addr string, window int) *benchClient {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	c := &benchClient{conn: conn, br: bufio.NewReaderSize(conn, 64<<10), bw: bufio.NewWriterSize(conn, 64<<10), window: make(chan struct{}, window)}
	c.bw.Write(rawPDU(uint32(pdu.BindTransceiverID), 1, []byte("smsgw\x00secret\x00\x00\x34\x00\x00\x00")))
	c.bw.Flush()
	buf := make([]byte, maxPDU)
	h, _, err := readPDU(c.br, buf)
	if err != nil || h.status != 0 {
		b.Fatalf("bind: %v %#x", err, uint32(h.status))
	}
	c.tmpl = rawPDU(uint32(pdu.SubmitSMID), 0, []byte("\x00\x05\x00ACME\x00\x01\x01447700900123\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x19Your code is 123456. Bye."))
	return c
}

// send submits n messages, keeping at most the window outstanding.
func (c *benchClient) send(n int, stop <-chan struct{}) {
	msg := make([]byte, len(c.tmpl))
	copy(msg, c.tmpl)
	for i := range n {
		select {
		case c.window <- struct{}{}:
		default:
			// The window is full: push out what is buffered, then wait.
			c.wmu.Lock()
			c.bw.Flush()
			c.wmu.Unlock()
			select {
			case c.window <- struct{}{}:
			case <-stop:
				return
			}
		}
		binary.BigEndian.PutUint32(msg[12:], uint32(i+2))
		c.wmu.Lock()
		c.bw.Write(msg)
		c.wmu.Unlock()
	}
	c.wmu.Lock()
	c.bw.Flush()
	c.wmu.Unlock()
}

// read answers deliver_sm and frees the window on submit_sm_resp until
// the connection is closed. Receipts arrive on any bind of the system_id,
// so they are counted across clients in receipts.
func (c *benchClient) read(receipts *atomic.Int64, total int64, done chan<- struct{}, errc chan<- error) {
	buf := make([]byte, maxPDU)
	resp := make([]byte, 17)
	for {
		if !c.nextBuffered() {
			// About to block on the network: answers go out first.
			c.wmu.Lock()
			c.bw.Flush()
			c.wmu.Unlock()
		}
		h, _, err := readPDU(c.br, buf)
		if err != nil {
			return // closed at the end of the run
		}
		switch h.id {
		case pdu.SubmitSMRespID:
			if h.status != 0 {
				errc <- fmt.Errorf("submit_sm_resp status %#x", uint32(h.status))
				return
			}
			<-c.window
		case pdu.DeliverSMID:
			resp = appendWithID(resp[:0], pdu.DeliverSMRespID, statusOK, h.seq, "")
			c.wmu.Lock()
			c.bw.Write(resp)
			c.wmu.Unlock()
			if receipts.Add(1) == total {
				close(done)
			}
		}
	}
}

// nextBuffered reports whether the next PDU is already whole in the read
// buffer, so reading it will not block.
func (c *benchClient) nextBuffered() bool {
	n := c.br.Buffered()
	if n < 16 {
		return false
	}
	h, _ := c.br.Peek(4)
	return int(binary.BigEndian.Uint32(h)) <= n
}

// BenchmarkSimulatorThroughput measures submit_sm -> submit_sm_resp ->
// receipt deliver_sm -> deliver_sm_resp over loopback with 4 transceiver
// binds and receipt delay 0. One op is one message.
func BenchmarkSimulatorThroughput(b *testing.B) {
	s := startSim(b, Config{Window: 1024})
	const binds = 4
	clients := make([]*benchClient, binds)
	for i := range clients {
		clients[i] = newBenchClient(b, s.Addr(), 512)
	}
	var receipts atomic.Int64
	done := make(chan struct{})
	errc := make(chan error, binds)
	var readers sync.WaitGroup
	for _, c := range clients {
		readers.Add(1)
		go func() {
			defer readers.Done()
			c.read(&receipts, int64(b.N), done, errc)
		}()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i, c := range clients {
		n := b.N / binds
		if i < b.N%binds {
			n++
		}
		go c.send(n, done)
	}
	select {
	case <-done:
	case err := <-errc:
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	// Every answer was flushed before the last receipt was counted; wait
	// for the simulator to read them before hanging up, so none is retried.
	st, err := s.WaitStats(ctxT(b), func(st Stats) bool { return st.ReceiptsAcked == int64(b.N) })
	for _, c := range clients {
		c.conn.Close()
	}
	readers.Wait()
	if err != nil || st.ReceiptsSent != int64(b.N) || st.SubmitAccepted != int64(b.N) || st.ReceiptsRetried != 0 {
		b.Fatalf("%v: stats %+v after %d messages", err, st, b.N)
	}
}
