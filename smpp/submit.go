package smpp

import (
	"context"
	"errors"
	"fmt"

	"github.com/fiorix/go-smpp/smpp/pdu"
)

// Submit encodes m and submits every part on one bind, with
// registered_delivery=1, and returns every part's SMSC message id.
//
// It waits with ctx for a bind's window slot and for the TPS limit; a full
// window makes it wait, not fail. Once a part is written, Submit waits for
// its response (at most ResponseTimeout, or until the connection drops)
// even if ctx ends meanwhile: the SMSC may accept that part, and its
// message id is what matches the receipt later.
//
// The error is nil when every part got ESME_ROK; otherwise it is the first
// failing part's *SubmitError (see IsTemporary), and Result.Parts still
// holds every part's outcome. Parts after a failure to send are not sent.
func (s *SMSC) Submit(ctx context.Context, m Message) (Result, error) {
	if s.closing.Load() {
		return Result{}, &SubmitError{Temporary: true, Part: 1, Err: ErrClosed}
	}
	src, srcTON, srcNPI, err := sessAddress(m.From, s.cfg.SourceTON, s.cfg.SourceNPI, true)
	if err != nil {
		return Result{}, &SubmitError{Status: StatusInvSrcAdr, Part: 1, Err: fmt.Errorf("from: %w", err)}
	}
	dst, dstTON, dstNPI, err := sessAddress(m.To, s.cfg.DestTON, s.cfg.DestNPI, false)
	if err != nil {
		return Result{}, &SubmitError{Status: StatusInvDstAdr, Part: 1, Err: fmt.Errorf("to: %w", err)}
	}
	enc := m.Encoding
	if enc == "" {
		enc = s.cfg.Encoding
	}
	ref := m.Ref
	if ref == 0 {
		ref = s.nextRef()
	}
	e, err := Encode(m.Text, enc, s.cfg.Concat, ref)
	if err != nil {
		return Result{}, &SubmitError{Part: 1, Err: fmt.Errorf("encode: %w", err)}
	}
	validity := sessValidity(m.Validity)
	var small [4]sessSubmit // most messages have few parts: no allocation for them
	parts := small[:0]
	if len(e.Parts) > len(small) {
		parts = make([]sessSubmit, 0, len(e.Parts))
	}
	parts = parts[:len(e.Parts)]
	for i, p := range e.Parts {
		parts[i] = sessSubmit{
			srcTON: srcTON, srcNPI: srcNPI, src: src,
			dstTON: dstTON, dstNPI: dstNPI, dst: dst,
			esmClass: p.ESMClass, dataCoding: p.DataCoding,
			validity: validity, sm: p.ShortMessage,
		}
		if p.SAR != nil {
			parts[i].sar, parts[i].sarRef, parts[i].sarTotal, parts[i].sarSeq = true, p.SAR.Ref, p.SAR.Total, p.SAR.Seq
		}
	}
	res := Result{Encoding: e.Encoding, Parts: make([]PartResult, len(parts))}
	return res, s.submitParts(ctx, parts, res.Parts)
}

// nextRef picks a concatenation reference: 1..255, which suits both the
// 8-bit UDH and the 16-bit SAR reference.
func (s *SMSC) nextRef() uint16 {
	return uint16(s.ref.Add(1)%255) + 1
}

// submitParts sends parts on one connection, pipelined within its window,
// and fills out with each part's outcome.
func (s *SMSC) submitParts(ctx context.Context, parts []sessSubmit, out []PartResult) error {
	var pend [4]*sessPending
	ps := pend[:0]
	var first error
	c, err := s.admitFirst(ctx)
	for i := range parts {
		if i > 0 {
			err = s.admit(ctx, c)
		}
		var p *sessPending
		if err == nil {
			p, err = c.submitPart(&parts[i])
		}
		if err != nil {
			se := &SubmitError{Temporary: true, Part: i + 1, Err: err}
			for j := i; j < len(parts); j++ {
				out[j].Err = se
			}
			first = se
			break
		}
		ps = append(ps, p)
	}
	for i, p := range ps {
		r := c.wait(p)
		switch {
		case r.err != nil:
			out[i].Err = &SubmitError{Temporary: true, Part: i + 1, Err: r.err}
		case r.status != StatusOK:
			out[i].Err = &SubmitError{Status: r.status, Temporary: s.temporary(r.status), Part: i + 1, Err: r.status}
		default:
			out[i].MessageID = r.messageID
		}
	}
	for i := range out {
		if out[i].Err != nil {
			return out[i].Err
		}
	}
	return first
}

// admitFirst picks a connection and admits the first part on it. When the
// picked connection dies before anything was sent on it, another bind is
// tried, so a drop on one bind does not fail messages another could take.
func (s *SMSC) admitFirst(ctx context.Context) (*sessConn, error) {
	for tries := 0; ; tries++ {
		c := s.pick()
		if c == nil {
			return nil, ErrNotBound
		}
		err := s.admit(ctx, c)
		if err == nil || !errors.Is(err, ErrConnectionLost) || tries >= len(s.binds) {
			return c, err
		}
	}
}

// admit waits for the TPS limit, the bind's throttle pause and a window
// slot, in that order.
func (s *SMSC) admit(ctx context.Context, c *sessConn) error {
	if s.limiter != nil {
		if err := s.limiter.Wait(ctx); err != nil {
			return fmt.Errorf("waiting for tps limit: %w", err)
		}
	}
	if err := c.waitPause(ctx); err != nil {
		return fmt.Errorf("waiting out throttling: %w", err)
	}
	if err := c.acquire(ctx); err != nil {
		return fmt.Errorf("waiting for window: %w", err)
	}
	return nil
}

// pick chooses a bound transmit-capable connection: round robin, preferring
// one that is neither throttled nor with a full window.
func (s *SMSC) pick() *sessConn {
	l := *s.txConns.Load()
	switch len(l) {
	case 0:
		return nil
	case 1:
		return l[0]
	}
	start := int(s.rr.Add(1))
	for i := range l {
		c := l[(start+i)%len(l)]
		if !c.paused() && len(c.window) < cap(c.window) && !c.isDead() {
			return c
		}
	}
	return l[start%len(l)]
}

func (s *SMSC) temporary(st pdu.Status) bool {
	if t, ok := s.cfg.ErrorMap[st]; ok {
		return t
	}
	return StatusTemporary(st)
}
