package bridge

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"hash"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Standard Webhooks header names (contract section 3).
const (
	HeaderWebhookID        = "webhook-id"
	HeaderWebhookTimestamp = "webhook-timestamp"
	HeaderWebhookSignature = "webhook-signature"
)

// Signer signs webhook bodies per Standard Webhooks with one or more keys:
// during a rotation both the new and the previous secret sign, the new one
// first, so a receiver verifying with either accepts the request.
type Signer struct {
	keys [][]byte
	macs []sync.Pool // per key: keyed HMAC states, Reset before reuse
	bufs sync.Pool   // *[]byte: the signature being built
}

func (s *Signer) init() {
	s.macs = make([]sync.Pool, len(s.keys))
	for i, k := range s.keys {
		s.macs[i].New = func() any { return hmac.New(sha256.New, k) }
	}
	s.bufs.New = func() any { b := make([]byte, 0, 64+len(s.keys)*48); return &b }
}

// NewSigner decodes secrets ("whsec_…", newest first). Empty strings are
// skipped; no secret at all gives a Signer that adds no signature.
func NewSigner(secrets ...string) (*Signer, error) {
	s := &Signer{}
	for i, sec := range secrets {
		if sec == "" {
			continue
		}
		k, err := SecretKey(sec)
		if err != nil {
			return nil, fmt.Errorf("bridge: signing secret %d: %w", i, err)
		}
		s.keys = append(s.keys, k)
	}
	s.init()
	return s, nil
}

// Signature is the webhook-signature header value for id, ts and body:
// "v1,<base64 HMAC-SHA256 of "{id}.{ts}.{body}">" per key, space-separated.
func (s *Signer) Signature(id string, ts int64, body []byte) string {
	if s == nil || len(s.keys) == 0 {
		return ""
	}
	bp := s.bufs.Get().(*[]byte)
	defer s.bufs.Put(bp)
	prefix := append((*bp)[:0], id...)
	prefix = append(prefix, '.')
	prefix = strconv.AppendInt(prefix, ts, 10)
	prefix = append(prefix, '.')
	n := len(prefix)
	out := prefix
	var sum [sha256.Size]byte
	for i := range s.keys {
		m := s.macs[i].Get().(hash.Hash)
		m.Reset()
		m.Write(prefix[:n])
		m.Write(body)
		if i > 0 {
			out = append(out, ' ')
		}
		out = append(out, "v1,"...)
		out = base64.StdEncoding.AppendEncode(out, m.Sum(sum[:0]))
		s.macs[i].Put(m)
	}
	*bp = out
	return string(out[n:])
}

// Sign sets the Standard Webhooks headers on h for a delivery of body made
// at now. The body must be the exact bytes sent.
func (s *Signer) Sign(h http.Header, id string, now time.Time, body []byte) {
	ts := now.Unix()
	h.Set(HeaderWebhookID, id)
	h.Set(HeaderWebhookTimestamp, strconv.FormatInt(ts, 10))
	if sig := s.Signature(id, ts, body); sig != "" {
		h.Set(HeaderWebhookSignature, sig)
	} else {
		h.Del(HeaderWebhookSignature)
	}
}
