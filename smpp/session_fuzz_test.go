package smpp

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/fiorix/go-smpp/smpp/pdu"
)

// FuzzSessionRead feeds arbitrary bytes from the "SMSC" into a bound
// session: it must never panic, and every outstanding request must be
// resolved once the connection ends.
func FuzzSessionRead(f *testing.F) {
	resp := appendHeader(nil, pdu.SubmitSMRespID, 0, 2)
	resp = finishPDU(appendCString(resp, "abc123"), 0)
	f.Add(resp)
	f.Add(appendEmptyPDU(nil, pdu.EnquireLinkID, 0, 7))
	f.Add(appendEmptyPDU(nil, pdu.UnbindID, 0, 7))
	f.Add(appendEmptyPDU(nil, pdu.GenericNACKID, StatusInvCmdLen, 2))
	f.Add(appendEmptyPDU(nil, 0x00000999, 0, 3))
	f.Add([]byte{0, 0, 0, 3, 1, 2})
	f.Fuzz(func(t *testing.T, data []byte) {
		client, server := net.Pipe()
		defer server.Close()
		go func() { _, _ = io.Copy(io.Discard, server) }()
		c := newSessConn(client, bufio.NewReader(client), 2, sessConnConfig{
			canTX: true, canRX: true, window: 4, timeout: time.Second, enquireLink: time.Hour,
			throttle: time.Millisecond, workers: 2, queue: 4,
			deliver: func(context.Context, pdu.Body) pdu.Status { return StatusOK },
			hctx:    context.Background(),
			log:     slog.New(slog.DiscardHandler),
		})
		if err := c.acquire(context.Background()); err != nil {
			t.Fatal(err)
		}
		p, err := c.submitPart(&sessSubmit{src: "A", dst: "1", sm: []byte("x")})
		if err != nil {
			t.Fatal(err)
		}
		_, _ = server.Write(data)
		_ = server.Close()
		done := make(chan sessResp, 1)
		go func() { done <- c.wait(p) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("outstanding request not resolved")
		}
		c.fail(io.EOF)
		c.wg.Wait()
	})
}
